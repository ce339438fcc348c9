//! The SageMaker Studio domain (`sm.domain`, id = domain id): IAM auth,
//! VpcOnly in every zone's SageMaker subnet, default user settings for
//! today's Studio (the web portal, JupyterLab idle shutdown) with the
//! execution role and `sg.sagemaker`, and the same role and group as the
//! default space settings, and the JupyterLab image (`DefaultResourceSpec`,
//! as Studio's UI sets it) in both. When it is ready, what SageMaker made
//! on its own (the EFS, its mount targets, the NFS security groups) is
//! recorded in the state too, so teardown finds it after the domain is gone.
//! The home EFS gets automatic backups (`efs.backup`: PutBackupPolicy
//! ENABLED) once the domain is InService, and again from `up` when they
//! were turned off.

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_sagemaker::types::{AppNetworkAccessType, AuthMode, DomainStatus, RetentionPolicy, RetentionType, Tag};

use super::{
    Change, Ctx, DRAIN_BOUND, Health, Kind, Learnt, NameUse, Property, Revealed, TAG_STACK, accepted, members_drift,
    missing_members, storage_kept,
};
use crate::config::Settings;
use crate::error::{aws, has_code, is_not_found};
use crate::latency::{create_s, delete_s};
use crate::retry::{CONSISTENCY_BOUND, IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::step_id::StepId;
use crate::wait::{Poll, Unseen, retry_while, until};
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;

/// This kind's entry in the latency profile (`crate::latency`).
mod home_efs;
mod settings;
mod subnets;

pub use home_efs::*;
pub use settings::*;
pub use subnets::*;

const PROFILE: &str = "sm.domain";

#[derive(Debug)]
pub struct Domain {
    pub vpc: StepId,
    pub subnets: Vec<StepId>,
    pub role: StepId,
    pub sg: StepId,
    /// The key of the home EFS SageMaker creates (`kms.ebs`: CreateDomain
    /// `KmsKeyId`, "SageMaker uses Amazon Web Services KMS to encrypt EFS
    /// and EBS volumes attached to the domain with an Amazon Web Services
    /// managed key by default", SageMaker API reference). Fixed at creation.
    pub key: StepId,
}

/// The stack's tags (plus `extra`) as SageMaker tags.
pub(super) fn sm_tags(ctx: &Ctx, me: &StepId, extra: &[(&str, &str)]) -> Vec<Tag> {
    let mut t: Vec<Tag> = ctx.tags(me, None).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    for (k, v) in extra {
        t.push(Tag::builder().key(*k).value(*v).build());
    }
    t
}

/// Sets `me`'s tags on the SageMaker resource `arn` (AddTags overwrites a
/// key's value: SageMaker API reference, AddTags), for `Kind::retag`.
pub(super) async fn tag_as(ctx: &Ctx, me: &StepId, arn: &str) -> Result<()> {
    ctx.aws.sagemaker.add_tags().resource_arn(arn).set_tags(Some(sm_tags(ctx, me, &[]))).send().await.map_err(aws)?;
    Ok(())
}

async fn wait_in_service(ctx: &Ctx, id: &str) -> Result<DescribeDomainOutput> {
    // terraform-provider-aws WaitDomainInService: not found is a pending
    // state right after CreateDomain (eventual consistency).
    let unseen = Unseen::new(CONSISTENCY_BOUND);
    until("domain InService", Poll::expect(create_s(PROFILE), 30 * 60), || async {
        let d = match ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => return unseen.absent(format!("domain {id} does not exist")),
            r => r?,
        };
        crate::progress::observed(d.status().map(|s| s.as_str()).unwrap_or("unknown"));
        match d.status() {
            Some(DomainStatus::InService) => Ok(Some(d)),
            Some(s @ (DomainStatus::Failed | DomainStatus::Deleting | DomainStatus::DeleteFailed)) => {
                bail!("domain {id} is {}: {}", s.as_str(), d.failure_reason().unwrap_or("no reason given"))
            }
            _ => Ok(None),
        }
    })
    .await
}

/// Its ARN and home EFS, and what SageMaker made for it that other steps
/// stand for (so teardown knows them after the domain is gone).
fn learnt(d: &DescribeDomainOutput, domain_id: &str) -> Learnt {
    let efs = d.home_efs_file_system_id().unwrap_or_default().to_string();
    let note = "created by SageMaker for the domain".to_string();
    let mut others = Vec::new();
    if !efs.is_empty() {
        for step in [StepId::EFS_FILE_SYSTEM, StepId::EFS_MOUNT_TARGET] {
            let attrs = vec![("domain".to_string(), domain_id.to_string())];
            others.push(Revealed { step, id: efs.clone(), attrs, note: note.clone() });
        }
    }
    others.push(Revealed { step: StepId::SG_NFS, id: domain_id.to_string(), attrs: Vec::new(), note });
    let attrs =
        vec![("arn".to_string(), d.domain_arn().unwrap_or_default().to_string()), ("home_efs".to_string(), efs)];
    Learnt { attrs, others }
}

/// DescribeDomain of `id`, once per read-only pass (`Reads::read`).
pub(crate) async fn described(
    ctx: &Ctx,
    id: &str,
) -> Result<std::sync::Arc<aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput>> {
    let load = || async { ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws) };
    ctx.reads.read(&format!("sagemaker:DescribeDomain {id}"), load).await
}

#[async_trait]
impl Kind for Domain {
    fn name(&self) -> &'static str {
        "SageMaker domain"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        let mut n = vec![self.vpc.clone(), self.sg.clone(), self.role.clone(), self.key.clone()];
        n.extend(self.subnets.iter().cloned());
        n
    }

    fn members(&self) -> &[StepId] {
        &self.subnets
    }

    /// UpdateDomain takes no `DomainName`; it updates the subnets, the
    /// default user and space settings (idle shutdown, the JupyterLab
    /// default spec) in place (SageMaker API reference, UpdateDomain).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        let image = s.jupyter_image().map(|i| i.shown().to_string()).unwrap_or_default();
        vec![
            Property::new(
                "name",
                "domain_name",
                &s.domain_name,
                Change::Replace("UpdateDomain cannot rename a domain, and it holds the users' Studio storage"),
            ),
            Property::new("zones", "availability_zones", super::property::zones(s), Change::InPlace),
            Property::new("idle shutdown (minutes)", "idle_timeout_minutes", s.idle_timeout_minutes, Change::InPlace),
            Property::new("default instance type", "app_instance_type", &s.app_instance_type, Change::InPlace),
            Property::new("default image", "app_image", image, Change::InPlace),
        ]
    }

    /// A removed zone's subnet leaves the domain (UpdateDomain `SubnetIds`,
    /// refused while any app runs: the caller stops them first).
    async fn drop_members(&self, ctx: &Ctx, _me: &StepId, id: &str, gone: &[String]) -> Result<bool> {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        if !d.subnet_ids().iter().any(|s| gone.contains(s)) {
            return Ok(false);
        }
        let keep: Vec<String> = d.subnet_ids().iter().filter(|s| !gone.contains(s)).cloned().collect();
        set_subnets(ctx, id, &keep).await
    }

    /// A space cannot outlive its domain: plain `down` keeps the domain
    /// with every space (today's Studio keeps a user's files on their
    /// space's EBS volume) and the home EFS.
    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(storage_kept(ctx, "it holds the users' Studio storage (their spaces' volumes, the home EFS)"))
    }

    /// What a kept domain needs to exist and to be usable again: its VPC,
    /// subnets, security group, execution role and the key of its volumes.
    fn keeps(&self) -> Vec<StepId> {
        self.needs()
    }

    /// A live domain of this name that carries our stack tag.
    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
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

    /// The domain name: the default does not depend on the project, so a
    /// second stack in the same region clashes unless given `--domain-name`.
    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        let out = ctx.aws.sagemaker.list_domains().send().await.map_err(aws)?;
        for d in out.domains() {
            if d.domain_name() != Some(ctx.s.domain_name.as_str()) || matches!(d.status(), Some(DomainStatus::Deleting))
            {
                continue;
            }
            let arn = d.domain_arn().unwrap_or_default();
            let tags = ctx.aws.sagemaker.list_tags().resource_arn(arn).send().await.map_err(aws)?;
            let tags = tags.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            let holder = format!("SageMaker domain {} ({})", d.domain_id().unwrap_or_default(), ctx.s.domain_name);
            return Ok(NameUse::of_tags(ctx, holder, "--domain-name", tags));
        }
        Ok(NameUse::Free)
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let (vpc, subnets) = (ctx.state.id(&self.vpc)?, ctx.ids(&self.subnets)?);
        let settings = default_user_settings(ctx, &self.role, &self.sg)?;
        let space_settings = default_space_settings(ctx, &self.role, &self.sg)?;
        let project = ctx.s.project.clone();
        let key = ctx.state.id(&self.key)?;
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
                .default_space_settings(space_settings.clone())
                .kms_key_id(&key)
                .set_tags(Some(sm_tags(ctx, me, &[("ProjectName", &project)])))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        let arn = out.domain_arn().context("CreateDomain returned no DomainArn")?;
        arn.rsplit('/').next().map(str::to_string).context("malformed DomainArn")
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let d = wait_in_service(ctx, id).await?;
        match d.home_efs_file_system_id().filter(|e| !e.is_empty()) {
            Some(efs) => enable_home_backups(ctx, efs).await,
            None => Ok(()),
        }
    }

    async fn learn(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Learnt> {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        Ok(learnt(&d, id))
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        match described(ctx, id).await {
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

    /// Keeps the home EFS (RetentionPolicy Retain): `down --purge-efs`
    /// removes it as a step of its own.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let sm = &ctx.aws.sagemaker;
        // What SageMaker made for it was learnt before this call (the
        // lifecycle records `learn`'s others); a domain that reads do not show
        // yet (eventual consistency, as `wait_in_service`) is for DeleteDomain
        // to decide, its ResourceNotFound meaning gone.
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
        if !accepted(r)? {
            return Ok(());
        }
        until("domain deleted", Poll::expect(delete_s(PROFILE), 30 * 60), || async {
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

    async fn drift(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<Vec<String>> {
        let d = described(ctx, id).await?;
        let mut out = members_drift("subnets", &missing_members(ctx, &self.subnets, d.subnet_ids()));
        out.extend(studio_drift(ctx, &d, &self.role)?);
        out.extend(home_backups_drift(ctx, me).await?);
        Ok(out)
    }

    /// The home EFS's key (CreateDomain `KmsKeyId`; UpdateDomain cannot change it).
    async fn lasting_drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let d = described(ctx, id).await?;
        Ok(home_key_problem(ctx, d.kms_key_id(), &self.key)?.into_iter().collect())
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// Adds the SageMaker subnets of zones added to a live stack and puts
    /// back today's Studio defaults (a domain made by an earlier version, for
    /// Studio Classic, gets the web portal and the spaces' defaults; one made
    /// before the stack set the JupyterLab image gets it), then waits.
    /// A removed zone's subnet went before (`drop_members`); an extra
    /// subnet added by hand stays.
    async fn restore(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        let recorded: Vec<String> = self.subnets.iter().filter_map(|m| ctx.state.id(m).ok()).collect();
        let subnets = subnet_update(d.subnet_ids(), &recorded, false);
        let studio = studio_drift(ctx, &d, &self.role)?;
        if !home_backups_drift(ctx, me).await?.is_empty()
            && let Some(efs) = home_efs_id(ctx, me).await?
        {
            enable_home_backups(ctx, &efs).await?;
        }
        if subnets.is_none() && studio.is_empty() {
            return Ok(());
        }
        let mut update = ctx.aws.sagemaker.update_domain().domain_id(id).set_subnet_ids(subnets);
        if !studio.is_empty() {
            update = update
                .default_user_settings(default_user_settings(ctx, &self.role, &self.sg)?)
                .default_space_settings(default_space_settings(ctx, &self.role, &self.sg)?);
        }
        update.send().await.map_err(aws).with_context(|| format!("updating domain {id}"))?;
        wait_in_service(ctx, id).await.map(drop)
    }
}
