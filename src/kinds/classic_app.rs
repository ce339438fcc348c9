//! Studio Classic apps (`sm.classic_app`, `sm.classic_app.{user}`; id
//! `{domain}/{profile}/JupyterServer/default`): what a stack recorded by an
//! earlier version of provision has. AWS no longer lets anyone create them
//! ("Studio Classic is still maintained for existing workloads but is no
//! longer available for onboarding. You can only stop or delete existing
//! Studio Classic applications and cannot create new ones", SageMaker
//! developer guide), so this kind is teardown-only: `up` keeps such an app
//! as it is (the state moves its record here: `state::upgrade`), `down`
//! deletes it before its user profile.

use anyhow::{Result, bail};
use async_trait::async_trait;

use super::app::{AppId, app_health, app_status, delete_app};
use super::{Ctx, Health, Kind};
use crate::step_id::StepId;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "sm.app";

#[derive(Debug)]
pub struct ClassicApp {
    /// Its user profile, which can only be deleted once the app is gone.
    pub user_step: StepId,
}

#[async_trait]
impl Kind for ClassicApp {
    fn name(&self) -> &'static str {
        "SageMaker Studio Classic app"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    /// Only a recorded one is ever acted on.
    async fn find(&self, _ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        Ok(None)
    }

    async fn create(&self, _ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        bail!("{me}: AWS no longer creates Studio Classic apps; provision builds a JupyterLab space instead")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(app_health(app_status(ctx, &AppId::parse(id)?).await?))
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        delete_app(ctx, id).await
    }

    /// Deleted before its user profile (DeleteUserProfile is refused while
    /// the profile has apps).
    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (Vec::new(), vec![self.user_step.clone()])
    }
}
