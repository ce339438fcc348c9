//! SageMaker apps (`sm.app`, `sm.app.{user}`): the JupyterLab app
//! `default` in each user's private space (id
//! `{domain}/{space}/JupyterLab/default`), on `app_instance_type` and the
//! stack's image (`jupyter_spec`: the region's SageMaker Distribution image,
//! or `app_image`). It needs its space and the network paths Studio uses
//! (the SageMaker subnet's default route and the Studio endpoints).
//!
//! The image: AWS refuses a JupyterLab CreateApp without one
//! (terraform-provider-aws #36008, "I need to specify a
//! sagemaker-Image-arn"); Studio's UI creates JupyterLab apps on the
//! SageMaker Distribution image (`config/app_image.rs`). An app running
//! another image is reported by `status` and `verify`; it is not changed in
//! place (SageMaker has no call that changes a running app's image: the app
//! is deleted and created again), so `up` leaves the user's runtime alone and
//! `status` says how: `provision stop` and `provision start`.
//!
//! The app is runtime, not infrastructure: `up` creates it with the space,
//! and afterwards it is the user's to stop (`provision stop`, Studio's
//! "Stop", idle shutdown) and start (`provision start`). An app gone that
//! way is `Health::Stopped`: reported, never recreated by `up`. One that
//! failed is replaced.
//!
//! What Studio Classic apps share with it (the describe and delete calls,
//! with their AWS quirks) is here too, for `classic_app.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use async_trait::async_trait;
use aws_sdk_sagemaker::operation::describe_app::DescribeAppOutput;
use aws_sdk_sagemaker::types::{AppStatus, AppType};

use super::domain::{jupyter_spec, sm_tags};
use super::{Change, Ctx, Health, Kind, Property};
use super::{Per, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, code, found, is_not_found};
use crate::latency::{create_s, delete_s};
use crate::retry::{CONSISTENCY_BOUND, IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::step_id::StepId;
use crate::wait::{Poll, Unseen, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "sm.app";

pub const APP_TYPE: AppType = AppType::JupyterLab;
pub const APP_NAME: &str = "default";

#[derive(Debug)]
pub struct App {
    pub space_step: StepId,
    /// The owner's profile name (the space is `{user}-space`).
    pub user: String,
    /// Reached through the space.
    pub domain: StepId,
    /// Ordering only: the route and endpoints Studio's traffic takes.
    pub network: Vec<StepId>,
}

/// Whose app: a space's (today's Studio) or a user profile's (Studio Classic).
#[derive(Debug, Clone, Copy)]
pub(super) enum Owner<'a> {
    Space(&'a str),
    Profile(&'a str),
}

/// An app's id parts: domain, owner (space or profile), app type, app name.
pub(super) struct AppId<'a> {
    pub domain: &'a str,
    pub owner: &'a str,
    pub app_type: AppType,
    pub name: &'a str,
}

impl<'a> AppId<'a> {
    pub fn parse(id: &'a str) -> Result<AppId<'a>> {
        let parts: Vec<&str> = id.splitn(4, '/').collect();
        match parts[..] {
            [domain, owner, t, name] => Ok(AppId { domain, owner, app_type: AppType::from(t), name }),
            _ => Err(anyhow!("malformed app id '{id}' (want domain/owner/type/name)")),
        }
    }

    /// Studio Classic apps belong to a profile; today's to a space.
    pub fn owner(&self) -> Owner<'a> {
        match self.app_type {
            AppType::JupyterServer | AppType::KernelGateway => Owner::Profile(self.owner),
            _ => Owner::Space(self.owner),
        }
    }
}

pub(super) fn app_id(domain: &str, owner: &str, app_type: &AppType) -> String {
    format!("{domain}/{owner}/{}/{APP_NAME}", app_type.as_str())
}

/// DescribeApp of an app, once per read-only pass (`Reads::read`: `health`,
/// then `lasting_drift`); `None` when SageMaker does not know it.
async fn described_app(ctx: &Ctx, a: &AppId<'_>) -> Result<Option<Arc<DescribeAppOutput>>> {
    let key = format!("sagemaker:DescribeApp {}/{}/{}/{}", a.domain, a.owner, a.app_type.as_str(), a.name);
    let load = || async {
        let mut req =
            ctx.aws.sagemaker.describe_app().domain_id(a.domain).app_type(a.app_type.clone()).app_name(a.name);
        req = match a.owner() {
            Owner::Space(s) => req.space_name(s),
            Owner::Profile(p) => req.user_profile_name(p),
        };
        req.send().await.map_err(aws)
    };
    found(ctx.reads.read(&key, load).await)
}

/// Status and failure reason of an app; `None` when SageMaker does not know it.
pub(super) async fn app_status(ctx: &Ctx, a: &AppId<'_>) -> Result<Option<(AppStatus, String)>> {
    Ok(described_app(ctx, a)
        .await?
        .and_then(|r| r.status().map(|s| (s.clone(), r.failure_reason().unwrap_or_default().to_string()))))
}

/// How a running app's image differs from the stack's (None: the same, or
/// the app is not running).
pub async fn image_drift(ctx: &Ctx, id: &str, user: &str) -> Result<Option<String>> {
    let a = AppId::parse(id)?;
    let Some(d) = described_app(ctx, &a).await? else { return Ok(None) };
    if !matches!(d.status(), Some(AppStatus::InService | AppStatus::Pending)) {
        return Ok(None);
    }
    let want = ctx.s.jupyter_image().map_err(anyhow::Error::msg)?;
    let spec = d.resource_spec();
    let (image, version) =
        (spec.and_then(|s| s.sage_maker_image_arn()), spec.and_then(|s| s.sage_maker_image_version_arn()));
    if want.matches(image, version) {
        return Ok(None);
    }
    Ok(Some(format!(
        "runs image {}, not the stack's {}: a running app's image cannot be changed; `provision stop --user {user}` then `provision start --user {user}` create it again on the stack's image",
        version.or(image).unwrap_or("(none)"),
        want.shown()
    )))
}

/// The instance type a running app runs when it is not the stack's
/// `app_instance_type` (None: it is, or the app is not running): an app's
/// `ResourceSpec` is fixed at CreateApp, so a changed instance type applies
/// at its next start (from the space's default spec, `Space::update`).
pub async fn instance_drift(ctx: &Ctx, id: &str, user: &str) -> Result<Option<String>> {
    let a = AppId::parse(id)?;
    let Some(d) = described_app(ctx, &a).await? else { return Ok(None) };
    if !matches!(d.status(), Some(AppStatus::InService | AppStatus::Pending)) {
        return Ok(None);
    }
    let runs = d.resource_spec().and_then(|s| s.instance_type()).map(|t| t.as_str().to_string());
    if runs.as_deref().is_none_or(|t| t == ctx.s.app_instance_type) {
        return Ok(None);
    }
    Ok(Some(format!(
        "runs {}; the stack's {} applies from its next start (`provision stop --user {user}` then `provision start --user {user}`, or when idle shutdown stops it)",
        runs.unwrap_or_default(),
        ctx.s.app_instance_type
    )))
}

/// Every app of `domain` by (owner, type, name): the status of the latest
/// (an app deleted and made again is listed twice for a while), from one
/// ListApps listing (paginated) shared by every app's wait (`Polls`).
async fn domain_apps(ctx: &Ctx, domain: &str) -> Result<Arc<HashMap<(String, String, String), AppStatus>>> {
    let fresh = crate::wait::scaled(super::SHARED_FRESH);
    ctx.polls
        .get(&format!("sagemaker:ListApps {domain}"), fresh, || async {
            let mut latest: HashMap<(String, String, String), (Option<f64>, AppStatus)> = HashMap::new();
            let mut pages =
                ctx.aws.sagemaker.list_apps().domain_id_equals(domain).max_results(100).into_paginator().send();
            while let Some(page) = pages.next().await {
                for a in page.map_err(aws)?.apps() {
                    let owner = a.space_name().or(a.user_profile_name()).unwrap_or_default().to_string();
                    let key = (
                        owner,
                        a.app_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                        a.app_name().unwrap_or_default().to_string(),
                    );
                    let (Some(status), created) = (a.status(), a.creation_time().map(|t| t.as_secs_f64())) else {
                        continue;
                    };
                    if latest.get(&key).is_none_or(|(t, _)| created >= *t) {
                        latest.insert(key, (created, status.clone()));
                    }
                }
            }
            Ok(latest.into_iter().map(|(k, (_, s))| (k, s)).collect::<HashMap<_, _>>())
        })
        .await
}

/// `app_status` for a wait, from the domain's shared listing (`domain_apps`):
/// Pending, InService and Deleting as listed; Failed and Deleted confirmed
/// with DescribeApp (the listing may predate this app, and only DescribeApp
/// has the FailureReason); not listed is `None`.
pub(super) async fn polled_status(ctx: &Ctx, a: &AppId<'_>) -> Result<Option<(AppStatus, String)>> {
    let apps = domain_apps(ctx, a.domain).await?;
    let key = (a.owner.to_string(), a.app_type.as_str().to_string(), a.name.to_string());
    match apps.get(&key) {
        None => Ok(None),
        Some(s @ (AppStatus::Pending | AppStatus::InService | AppStatus::Deleting)) => {
            Ok(Some((s.clone(), String::new())))
        }
        Some(_) => app_status(ctx, a).await,
    }
}

/// DeleteApp of an app AWS already removed: SageMaker deletes a failed app
/// on its own and then answers ValidationException "... previously failed
/// and was automatically deleted" (terraform-provider-aws
/// internal/service/sagemaker/app.go treats it, and "has already been
/// deleted", as gone).
pub(super) fn is_already_deleted(e: &anyhow::Error) -> bool {
    code(e) == Some("ValidationException") && {
        let s = format!("{e:#}");
        s.contains("previously failed and was automatically deleted") || s.contains("has already been deleted")
    }
}

/// Deletes an app and waits until it is Deleted (or gone); already gone
/// (deleted, failed and removed by AWS) is success.
pub async fn delete_app(ctx: &Ctx, id: &str) -> Result<()> {
    let a = AppId::parse(id)?;
    match app_status(ctx, &a).await? {
        Some((AppStatus::Deleted, _)) => return Ok(()),
        Some((AppStatus::Deleting, _)) => {}
        // Not found may be an app created moments ago that reads do not show
        // yet (eventual consistency, as `settle`): DeleteApp decides, its
        // ResourceNotFound meaning gone.
        None | Some(_) => {
            let mut req =
                ctx.aws.sagemaker.delete_app().domain_id(a.domain).app_type(a.app_type.clone()).app_name(a.name);
            req = match a.owner() {
                Owner::Space(s) => req.space_name(s),
                Owner::Profile(p) => req.user_profile_name(p),
            };
            match req.send().await.map_err(aws) {
                Ok(_) => {}
                Err(e) if is_not_found(&e) || is_already_deleted(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
    until("app deleted", Poll::expect(delete_s(PROFILE), 20 * 60), || async {
        Ok(match polled_status(ctx, &a).await? {
            None | Some((AppStatus::Deleted | AppStatus::Failed, _)) => Some(()),
            _ => None,
        })
    })
    .await
}

/// What a recorded app's status means: running, stopped (gone by the
/// user's choice or idle shutdown), or failed (AWS keeps a failed app's
/// reason on the Deleted app it leaves).
pub(super) fn app_health(st: Option<(AppStatus, String)>) -> Health {
    match st {
        Some((AppStatus::Failed, why)) => Health::Failed(why),
        Some((AppStatus::Deleted, why)) if !why.is_empty() => Health::Failed(why),
        None | Some((AppStatus::Deleted | AppStatus::Deleting, _)) => {
            Health::Stopped("stopped (by its user or idle shutdown); `provision start` starts it".to_string())
        }
        Some(_) => Health::Present,
    }
}

impl App {
    fn space(&self) -> String {
        Settings::space_name(&self.user)
    }
}

#[async_trait]
impl Kind for App {
    fn name(&self) -> &'static str {
        "SageMaker app"
    }

    /// Its instance's hours while it runs (`Assumptions::app_hours_per_user`).
    fn priced(&self, s: &Settings) -> Vec<Use> {
        vec![Use::new(&format!("studio-app-hour:{}", s.app_instance_type), 1, Per::User, Usage::AppHours)]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    /// The app's tags name `me` (the first user left; this one's steps take
    /// the spec's ids). An app its user stopped has no tags left to change.
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        let a = AppId::parse(id)?;
        match described_app(ctx, &a).await? {
            Some(d) if d.status() != Some(&AppStatus::Deleted) => {
                super::domain::tag_as(ctx, me, d.app_arn().unwrap_or_default()).await
            }
            _ => Ok(()),
        }
    }

    fn needs(&self) -> Vec<StepId> {
        let mut n = vec![self.space_step.clone()];
        n.extend(self.network.iter().cloned());
        n
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.domain.clone()]
    }

    /// Its `ResourceSpec` is fixed at CreateApp (UpdateApp does not exist):
    /// a new instance type or image applies when the app next starts, from
    /// the space's default spec (`Space::update`).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        let image = s.jupyter_image().map(|i| i.shown().to_string()).unwrap_or_default();
        vec![
            Property::new(
                "user",
                "users",
                &self.user,
                Change::Replace(
                    "a user profile's name is fixed at CreateUserProfile; the first of users carries the spec's step ids (sm.user, sm.space, sm.app), so it cannot be removed or replaced while the others stay",
                ),
            ),
            Property::new("instance type", "app_instance_type", &s.app_instance_type, Change::NextStart),
            Property::new("image", "app_image", image, Change::NextStart),
        ]
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let domain = ctx.state.id(&self.domain)?;
        let id = app_id(&domain, &self.space(), &APP_TYPE);
        Ok(match app_status(ctx, &AppId::parse(&id)?).await? {
            Some((AppStatus::Pending | AppStatus::InService, _)) => Some(id),
            _ => None,
        })
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let domain = ctx.state.id(&self.domain)?;
        let space = self.space();
        let id = app_id(&domain, &space, &APP_TYPE);
        let a = AppId::parse(&id)?;
        // An app of the same name still being deleted blocks the name until Deleted.
        until("previous app deleted", Poll::expect(delete_s(PROFILE), 20 * 60), || async {
            Ok(match polled_status(ctx, &a).await? {
                Some((AppStatus::Deleting, _)) => None,
                _ => Some(()),
            })
        })
        .await?;
        let spec = jupyter_spec(ctx)?;
        // The space runs with the domain's default execution role, which
        // SageMaker may not be able to assume yet when it is new.
        retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
            ctx.aws
                .sagemaker
                .create_app()
                .domain_id(&domain)
                .space_name(&space)
                .app_type(APP_TYPE)
                .app_name(APP_NAME)
                .resource_spec(spec.clone())
                .set_tags(Some(sm_tags(ctx, me, &[])))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        Ok(id)
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let a = AppId::parse(id)?;
        let unseen = Unseen::new(CONSISTENCY_BOUND);
        until("app InService", Poll::expect(create_s(PROFILE), 20 * 60), || async {
            let st = polled_status(ctx, &a).await?;
            crate::progress::observed(st.as_ref().map(|(s, _)| s.as_str()).unwrap_or("absent"));
            match st {
                Some((AppStatus::InService, _)) => Ok(Some(())),
                Some((AppStatus::Pending, _)) => Ok(None),
                None => unseen.absent(format!("app {id} does not exist")),
                Some((s, why)) => {
                    bail!("app {id} is {}{}; `provision up` creates it again", s.as_str(), reason(&why))
                }
            }
        })
        .await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(app_health(app_status(ctx, &AppId::parse(id)?).await?))
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        delete_app(ctx, id).await
    }

    /// A running app on another image than the stack's: fixed for the app's
    /// life, so `up` leaves it (it is the user's runtime) and `status` names
    /// the commands that recreate it.
    async fn lasting_drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        Ok(image_drift(ctx, id, &self.user).await?.into_iter().collect())
    }

    fn drift_owner(&self) -> Option<&'static str> {
        Some("`provision stop --user U` then `provision start --user U` recreate the app on the stack's image")
    }

    async fn pending(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        Ok(instance_drift(ctx, id, &self.user).await?.into_iter().collect())
    }
}

fn reason(why: &str) -> String {
    if why.is_empty() { String::new() } else { format!(": {why}") }
}
