//! Controls on Studio itself: every running JupyterLab app of the stack
//! runs the stack's image (the region's SageMaker Distribution image, or
//! `app_image`), and the domain's default user and space settings name it
//! as their JupyterLab `DefaultResourceSpec`. A space's own default is its
//! user's choice in Studio (`kinds/space.rs`): not checked.

use anyhow::Context;

use super::Verdict;
use crate::kinds::Ctx;
use crate::kinds::app::image_drift;
use crate::kinds::domain::{described, other_image};
use crate::step_id::StepId;

/// `studio.jupyterlab_image`: each running app and the domain's defaults.
/// A stopped app passes (`provision start` makes it on the stack's image).
pub(super) async fn jupyterlab_image(ctx: &Ctx) -> Verdict {
    let want = ctx.s.jupyter_image().map_err(anyhow::Error::msg)?;
    let domain = ctx.state.id(&StepId::DOMAIN)?;
    let d = described(ctx, &domain).await.with_context(|| format!("reading domain {domain}"))?;
    let mut problems = Vec::new();
    let user_spec =
        d.default_user_settings().and_then(|u| u.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    if let Some(other) = other_image(user_spec, &want) {
        problems.push(format!("domain {domain}'s default user settings: {other}"));
    }
    let space_spec =
        d.default_space_settings().and_then(|s| s.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    if let Some(other) = other_image(space_spec, &want) {
        problems.push(format!("domain {domain}'s default space settings: {other}"));
    }
    let mut apps = 0;
    for (i, user) in ctx.s.users.iter().enumerate() {
        if let Some(app) = ctx.state.record(&StepId::APP.for_user(i, user)).and_then(|r| r.id) {
            apps += 1;
            if let Some(why) = image_drift(ctx, &app, user).await.with_context(|| format!("reading app {app}"))? {
                problems.push(format!("app {app} {why}"));
            }
        }
    }
    Ok(if problems.is_empty() {
        (
            true,
            format!("{} (domain {domain}'s default user and space settings, {apps} app(s) when running)", want.shown()),
        )
    } else {
        (false, format!("expected {}: {}", want.shown(), problems.join("; ")))
    })
}
