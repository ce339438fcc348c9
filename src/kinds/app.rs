//! SageMaker apps (`sm.app`, `sm.app.{user}`): each user's JupyterServer
//! app `default` (id `{domain}/{profile}/JupyterServer/default`). It needs
//! its user profile and the network paths Studio uses (the SageMaker
//! subnet's default route and the Studio endpoints).

use anyhow::{Result, anyhow, bail};
use async_trait::async_trait;
use aws_sdk_sagemaker::types::{AppStatus, AppType};

use super::domain::sm_tags;
use super::{Ctx, Health, Kind, accepted};
use crate::error::{aws, is_not_found};
use crate::step_id::StepId;
use crate::wait::{Poll, until};

pub const APP_TYPE: AppType = AppType::JupyterServer;
pub const APP_NAME: &str = "default";

#[derive(Debug)]
pub struct App {
    pub user_step: StepId,
    /// The profile name.
    pub user: String,
    /// Reached through the user profile.
    pub domain: StepId,
    /// Ordering only: the route and endpoints Studio's traffic takes.
    pub network: Vec<StepId>,
}

fn split_app(id: &str) -> Result<(&str, &str)> {
    let mut parts = id.splitn(4, '/');
    match (parts.next(), parts.next()) {
        (Some(d), Some(u)) => Ok((d, u)),
        _ => Err(anyhow!("malformed app id '{id}' (want domain/profile/type/name)")),
    }
}

fn app_id(domain: &str, user: &str) -> String {
    format!("{domain}/{user}/{}/{APP_NAME}", APP_TYPE.as_str())
}

async fn app_status(ctx: &Ctx, domain: &str, user: &str) -> Result<Option<(AppStatus, String)>> {
    let r = ctx
        .aws
        .sagemaker
        .describe_app()
        .domain_id(domain)
        .user_profile_name(user)
        .app_type(APP_TYPE)
        .app_name(APP_NAME)
        .send()
        .await
        .map_err(aws);
    match r {
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(a) => Ok(a.status().map(|s| (s.clone(), a.failure_reason().unwrap_or_default().to_string()))),
    }
}

#[async_trait]
impl Kind for App {
    fn name(&self) -> &'static str {
        "SageMaker app"
    }

    fn needs(&self) -> Vec<StepId> {
        let mut n = vec![self.user_step.clone()];
        n.extend(self.network.iter().cloned());
        n
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.domain.clone()]
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let domain = ctx.state.id(&self.domain)?;
        Ok(match app_status(ctx, &domain, &self.user).await? {
            Some((AppStatus::Pending | AppStatus::InService, _)) => Some(app_id(&domain, &self.user)),
            _ => None,
        })
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let domain = ctx.state.id(&self.domain)?;
        let user = self.user.as_str();
        // An app of the same name still being deleted blocks the name until Deleted.
        until("previous app deleted", Poll::expect(90, 20 * 60), || async {
            Ok(match app_status(ctx, &domain, user).await? {
                Some((AppStatus::Deleting, _)) => None,
                _ => Some(()),
            })
        })
        .await?;
        ctx.aws
            .sagemaker
            .create_app()
            .domain_id(&domain)
            .user_profile_name(user)
            .app_type(APP_TYPE)
            .app_name(APP_NAME)
            .set_tags(Some(sm_tags(ctx, me, &[])))
            .send()
            .await
            .map_err(aws)?;
        Ok(app_id(&domain, user))
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let (domain, user) = split_app(id)?;
        until("app InService", Poll::expect(120, 20 * 60), || async {
            let st = app_status(ctx, domain, user).await?;
            crate::progress::observed(st.as_ref().map(|(s, _)| s.as_str()).unwrap_or("absent"));
            match st {
                Some((AppStatus::InService, _)) => Ok(Some(())),
                Some((AppStatus::Pending, _)) => Ok(None),
                Some((s, why)) => bail!("app {id} is {}: {why}", s.as_str()),
                None => bail!("app {id} no longer exists"),
            }
        })
        .await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        let (domain, user) = split_app(id)?;
        Ok(match app_status(ctx, domain, user).await? {
            None | Some((AppStatus::Deleted | AppStatus::Deleting, _)) => Health::Missing,
            Some((AppStatus::Failed, why)) => Health::Failed(why),
            Some(_) => Health::Present,
        })
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let (domain, user) = split_app(id)?;
        match app_status(ctx, domain, user).await? {
            None | Some((AppStatus::Deleted, _)) => return Ok(()),
            Some((AppStatus::Deleting, _)) => {}
            Some(_) => {
                let r = ctx
                    .aws
                    .sagemaker
                    .delete_app()
                    .domain_id(domain)
                    .user_profile_name(user)
                    .app_type(APP_TYPE)
                    .app_name(APP_NAME)
                    .send()
                    .await;
                if !accepted(r.map_err(aws))? {
                    return Ok(());
                }
            }
        }
        until("app deleted", Poll::expect(90, 20 * 60), || async {
            Ok(match app_status(ctx, domain, user).await? {
                None | Some((AppStatus::Deleted | AppStatus::Failed, _)) => Some(()),
                _ => None,
            })
        })
        .await
    }
}
