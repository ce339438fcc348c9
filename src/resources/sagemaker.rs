//! SageMaker Studio: the VpcOnly domain (`sm.domain`, id = domain id), the
//! user profile (`sm.user`, id = `{domain}/{profile}`) and the JupyterServer
//! app (`sm.app`, id = `{domain}/{profile}/JupyterServer/default`).
//!
//! When the domain is ready, what SageMaker made on its own (the EFS, its
//! mount targets, the NFS security groups) is recorded in the state too, so
//! teardown finds it even after the domain is gone.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_sagemaker::types::{
    AppNetworkAccessType, AppStatus, AppType, AuthMode, DomainStatus, RetentionPolicy, RetentionType, Tag,
    UserProfileStatus, UserSettings,
};

use super::check::Health;
use super::{Ctx, DRAIN_BOUND, TAG_STACK};
use crate::error::{aws, has_code, is_not_found};
use crate::graph::{Spec, Step};
use crate::retry::{IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::state::Status;
use crate::wait::{Poll, retry_while, until};

pub const APP_TYPE: AppType = AppType::JupyterServer;
pub const APP_NAME: &str = "default";

fn tags(ctx: &Ctx, step: &Step, extra: &[(&str, &str)]) -> Vec<Tag> {
    let mut t: Vec<Tag> =
        ctx.tags(&step.id, None).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    for (k, v) in extra {
        t.push(Tag::builder().key(*k).value(*v).build());
    }
    t
}

fn user_settings(ctx: &Ctx) -> Result<UserSettings> {
    Ok(UserSettings::builder()
        .execution_role(ctx.state.id("iam.role")?)
        .security_groups(ctx.state.id("sg.sagemaker")?)
        .build())
}

/// A live domain of this name that carries our stack tag.
pub async fn find_domain(ctx: &Ctx) -> Result<Option<String>> {
    let out = ctx.aws.sagemaker.list_domains().send().await.map_err(aws)?;
    for d in out.domains() {
        if d.domain_name() != Some(ctx.s.domain_name.as_str()) {
            continue;
        }
        if matches!(d.status(), Some(DomainStatus::Deleting) | Some(DomainStatus::DeleteFailed)) {
            continue;
        }
        let arn = d.domain_arn().unwrap_or_default();
        let tags = ctx.aws.sagemaker.list_tags().resource_arn(arn).send().await.map_err(aws)?;
        if tags.tags().iter().any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(ctx.stack())) {
            return Ok(d.domain_id().map(str::to_string));
        }
    }
    Ok(None)
}

pub async fn create_domain(ctx: &Ctx, step: &Step) -> Result<String> {
    let Spec::Domain { subnets } = &step.spec else { bail!("{} is not a SageMaker domain", step.id) };
    let (vpc, subnets) = (ctx.state.id("vpc")?, ctx.ids(subnets)?);
    let settings = user_settings(ctx)?;
    let project = ctx.s.project.clone();
    // A role created seconds ago may not yet be assumable by SageMaker.
    let out = retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
        ctx.aws
            .sagemaker
            .create_domain()
            .domain_name(&ctx.s.domain_name)
            .auth_mode(AuthMode::Iam)
            .app_network_access_type(AppNetworkAccessType::VpcOnly)
            .vpc_id(&vpc)
            .set_subnet_ids(Some(subnets.clone()))
            .default_user_settings(settings.clone())
            .set_tags(Some(tags(ctx, step, &[("ProjectName", &project)])))
            .send()
            .await
            .map_err(aws)
    })
    .await?;
    let arn = out.domain_arn().context("CreateDomain returned no DomainArn")?;
    arn.rsplit('/').next().map(str::to_string).context("malformed DomainArn")
}

pub async fn wait_domain(ctx: &Ctx, id: &str) -> Result<()> {
    let d = until("domain InService", Poll::expect(120, 30 * 60), || async {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        crate::progress::observed(d.status().map(|s| s.as_str()).unwrap_or("unknown"));
        match d.status() {
            Some(DomainStatus::InService) => Ok(Some(d)),
            Some(s @ (DomainStatus::Failed | DomainStatus::Deleting | DomainStatus::DeleteFailed)) => {
                bail!("domain {id} is {}: {}", s.as_str(), d.failure_reason().unwrap_or("no reason given"))
            }
            _ => Ok(None),
        }
    })
    .await?;
    let arn = d.domain_arn().unwrap_or_default().to_string();
    let efs = d.home_efs_file_system_id().unwrap_or_default().to_string();
    ctx.state.ready("sm.domain", &[("arn", arn.clone()), ("home_efs", efs.clone())])?;
    record_leftovers(ctx, id, &efs)
}

/// Records SageMaker's own resources (so teardown knows them).
fn record_leftovers(ctx: &Ctx, domain_id: &str, efs: &str) -> Result<()> {
    let note = Some("created by SageMaker for the domain".to_string());
    if !efs.is_empty() {
        for step in ["efs.file_system", "efs.mount_target"] {
            if ctx.state.record(step).and_then(|r| r.id).is_none() {
                ctx.state.set(step, Status::Created, Some(efs), &[("domain", domain_id.to_string())])?;
                ctx.state.note(step, note.clone())?;
            }
        }
    }
    if ctx.state.record("sg.nfs").and_then(|r| r.id).is_none() {
        ctx.state.set("sg.nfs", Status::Created, Some(domain_id), &[])?;
        ctx.state.note("sg.nfs", note)?;
    }
    Ok(())
}

pub async fn domain_health(ctx: &Ctx, id: &str) -> Result<Health> {
    match ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(Health::Missing),
        Err(e) => Err(e),
        Ok(d) => Ok(match d.status() {
            Some(DomainStatus::Deleting) => Health::Missing,
            Some(DomainStatus::Failed | DomainStatus::DeleteFailed) => {
                Health::Failed(d.failure_reason().unwrap_or("failed").to_string())
            }
            _ => Health::Present,
        }),
    }
}

pub async fn delete_domain(ctx: &Ctx, id: &str) -> Result<()> {
    let sm = &ctx.aws.sagemaker;
    match sm.describe_domain().domain_id(id).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(d) => record_leftovers(ctx, id, d.home_efs_file_system_id().unwrap_or_default())?,
    }
    // Profiles whose deletion is still settling make SageMaker answer ResourceInUse.
    let r = retry_while(
        DRAIN_BOUND,
        |e| has_code(e, &["ResourceInUse"]),
        || async {
            sm.delete_domain()
                .domain_id(id)
                .retention_policy(RetentionPolicy::builder().home_efs_file_system(RetentionType::Retain).build())
                .send()
                .await
                .map_err(aws)
        },
    )
    .await;
    match r {
        Err(e) if is_not_found(&e) => return Ok(()),
        r => {
            r?;
        }
    }
    until("domain deleted", Poll::expect(120, 30 * 60), || async {
        match sm.describe_domain().domain_id(id).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(Some(())),
            Err(e) => Err(e),
            Ok(d) if d.status() == Some(&DomainStatus::DeleteFailed) => {
                bail!("domain {id} deletion failed: {}", d.failure_reason().unwrap_or("no reason given"))
            }
            Ok(_) => Ok(None),
        }
    })
    .await
}

fn split_user(id: &str) -> Result<(&str, &str)> {
    id.split_once('/').ok_or_else(|| anyhow!("malformed user profile id '{id}' (want domain/profile)"))
}

pub async fn find_user(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    let domain = ctx.state.id("sm.domain")?;
    match ctx.aws.sagemaker.describe_user_profile().domain_id(&domain).user_profile_name(name).send().await.map_err(aws)
    {
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(u) if u.status() == Some(&UserProfileStatus::Deleting) => Ok(None),
        Ok(_) => Ok(Some(format!("{domain}/{name}"))),
    }
}

pub async fn create_user(ctx: &Ctx, step: &Step, name: &str) -> Result<String> {
    let domain = ctx.state.id("sm.domain")?;
    ctx.aws
        .sagemaker
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name(name)
        .user_settings(user_settings(ctx)?)
        .set_tags(Some(tags(ctx, step, &[])))
        .send()
        .await
        .map_err(aws)?;
    Ok(format!("{domain}/{name}"))
}

pub async fn wait_user(ctx: &Ctx, id: &str) -> Result<()> {
    let (domain, name) = split_user(id)?;
    until("user profile InService", Poll::expect(20, 15 * 60), || async {
        let u = ctx
            .aws
            .sagemaker
            .describe_user_profile()
            .domain_id(domain)
            .user_profile_name(name)
            .send()
            .await
            .map_err(aws)?;
        match u.status() {
            Some(UserProfileStatus::InService) => Ok(Some(())),
            Some(s @ (UserProfileStatus::Failed | UserProfileStatus::Deleting | UserProfileStatus::DeleteFailed)) => {
                bail!("user profile {name} is {}: {}", s.as_str(), u.failure_reason().unwrap_or("no reason given"))
            }
            _ => Ok(None),
        }
    })
    .await
}

pub async fn user_health(ctx: &Ctx, id: &str) -> Result<Health> {
    let (domain, name) = split_user(id)?;
    let r = ctx.aws.sagemaker.describe_user_profile().domain_id(domain).user_profile_name(name).send().await;
    match r.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(Health::Missing),
        Err(e) => Err(e),
        Ok(u) => Ok(match u.status() {
            Some(UserProfileStatus::Deleting) => Health::Missing,
            Some(UserProfileStatus::Failed | UserProfileStatus::DeleteFailed) => {
                Health::Failed(u.failure_reason().unwrap_or("failed").to_string())
            }
            _ => Health::Present,
        }),
    }
}

pub async fn delete_user(ctx: &Ctx, id: &str) -> Result<()> {
    let (domain, name) = split_user(id)?;
    let sm = &ctx.aws.sagemaker;
    let r = retry_while(
        DRAIN_BOUND,
        |e| has_code(e, &["ResourceInUse"]),
        || async { sm.delete_user_profile().domain_id(domain).user_profile_name(name).send().await.map_err(aws) },
    )
    .await;
    match r {
        Err(e) if is_not_found(&e) => return Ok(()),
        r => {
            r?;
        }
    }
    until("user profile deleted", Poll::expect(15, 15 * 60), || async {
        match sm.describe_user_profile().domain_id(domain).user_profile_name(name).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(Some(())),
            Err(e) => Err(e),
            Ok(_) => Ok(None),
        }
    })
    .await
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

pub async fn find_app(ctx: &Ctx, user: &str) -> Result<Option<String>> {
    let domain = ctx.state.id("sm.domain")?;
    Ok(match app_status(ctx, &domain, user).await? {
        Some((AppStatus::Pending | AppStatus::InService, _)) => Some(app_id(&domain, user)),
        _ => None,
    })
}

pub async fn create_app(ctx: &Ctx, step: &Step, user: &str) -> Result<String> {
    let domain = ctx.state.id("sm.domain")?;
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
        .set_tags(Some(tags(ctx, step, &[])))
        .send()
        .await
        .map_err(aws)?;
    Ok(app_id(&domain, user))
}

pub async fn wait_app(ctx: &Ctx, id: &str) -> Result<()> {
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

pub async fn app_health(ctx: &Ctx, id: &str) -> Result<Health> {
    let (domain, user) = split_app(id)?;
    Ok(match app_status(ctx, domain, user).await? {
        None | Some((AppStatus::Deleted | AppStatus::Deleting, _)) => Health::Missing,
        Some((AppStatus::Failed, why)) => Health::Failed(why),
        Some(_) => Health::Present,
    })
}

pub async fn delete_app(ctx: &Ctx, id: &str) -> Result<()> {
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
                .await
                .map_err(aws);
            match r {
                Err(e) if is_not_found(&e) => return Ok(()),
                r => {
                    r?;
                }
            }
        }
    }
    until("app deleted", Poll::expect(90, 20 * 60), || async {
        Ok(match app_status(ctx, domain, user).await? {
            None | Some((AppStatus::Deleted, _)) => Some(()),
            Some((AppStatus::Failed, _)) => Some(()),
            _ => None,
        })
    })
    .await
}

/// Adds the SageMaker subnets of zones added to a live stack to the domain
/// (UpdateDomain can add subnets; it cannot remove them), then waits.
pub async fn add_subnets(ctx: &Ctx, id: &str, subnets: Vec<String>) -> Result<()> {
    if subnets.is_empty() {
        return Ok(());
    }
    let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
    let mut all = d.subnet_ids().to_vec();
    all.extend(subnets);
    ctx.aws
        .sagemaker
        .update_domain()
        .domain_id(id)
        .set_subnet_ids(Some(all))
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("adding subnets to domain {id}"))?;
    wait_domain(ctx, id).await
}
