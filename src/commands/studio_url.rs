//! `provision studio-url [--user U] [--space]`: a presigned URL that opens
//! today's Studio for a user profile (the web portal), or lands in the
//! user's JupyterLab space; printed, never stored.
//!
//! SageMaker API reference, CreatePresignedDomainUrl: `LandingUri`
//! `studio::` opens the Studio portal, `app:JupyterLab:` the JupyterLab app;
//! `SpaceName` names the space whose app the URL opens.

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::Settings;
use crate::error::{EXIT_FAILED, EXIT_INVALID, Exit};
use crate::kinds::Ctx;
use crate::step_id::StepId;

/// The index of `user` among the stack's users, or the error naming them.
pub(super) fn user_index(ctx: &Ctx, user: Option<&str>) -> Result<(usize, String)> {
    let user = user.unwrap_or(&ctx.s.user_profile_name);
    match ctx.s.users.iter().position(|u| u == user) {
        Some(i) => Ok((i, user.to_string())),
        None => Err(Exit(
            EXIT_INVALID,
            format!("--user: '{user}' is not a user of this stack (users: {})", ctx.s.users.join(", ")),
        )
        .into()),
    }
}

pub async fn studio_url(ctx: Arc<Ctx>, user: Option<String>, space: bool, expires: i32) -> Result<()> {
    let (i, user) = user_index(&ctx, user.as_deref())?;
    let domain = ctx
        .state
        .id(&StepId::DOMAIN)
        .map_err(|_| Exit(EXIT_FAILED, "the stack has no SageMaker domain yet: run `provision up` first".into()))?;
    let mut req = ctx
        .aws
        .sagemaker
        .create_presigned_domain_url()
        .domain_id(&domain)
        .user_profile_name(&user)
        .expires_in_seconds(expires);
    if space {
        ctx.state
            .id(&StepId::SPACE.for_user(i, &user))
            .map_err(|_| Exit(EXIT_FAILED, format!("user {user} has no space yet: run `provision up` first")))?;
        req = req.space_name(Settings::space_name(&user)).landing_uri("app:JupyterLab:");
    } else {
        req = req.landing_uri(crate::kinds::domain::LANDING_URI);
    }
    let out = req
        .send()
        .await
        .map_err(crate::error::aws)
        .with_context(|| format!("creating a presigned URL for user profile {user} in domain {domain}"))?;
    println!("{}", out.authorized_url().context("CreatePresignedDomainUrl returned no URL")?);
    Ok(())
}
