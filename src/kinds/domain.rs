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
use aws_sdk_sagemaker::types::{
    AppInstanceType, AppLifecycleManagement, AppNetworkAccessType, AppStatus, AuthMode, DefaultEbsStorageSettings,
    DefaultSpaceSettings, DefaultSpaceStorageSettings, DomainStatus, IdleSettings, JupyterLabAppSettings,
    LifecycleManagement, ResourceSpec, RetentionPolicy, RetentionType, StudioWebPortal, Tag, UserSettings,
};

use super::{
    Change, Ctx, DRAIN_BOUND, Health, Kind, NameUse, Property, TAG_STACK, accepted, members_drift, missing_members,
    storage_kept,
};
use crate::config::{AppImage, Settings};
use crate::error::{aws, has_code, is_not_found};
use crate::latency::{create_s, delete_s};
use crate::retry::{CONSISTENCY_BOUND, IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::state::Status;
use crate::step_id::StepId;
use crate::wait::{Poll, Unseen, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
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

/// The execution role and security group every profile runs with.
pub(super) fn user_settings(ctx: &Ctx, role: &StepId, sg: &StepId) -> Result<UserSettings> {
    Ok(UserSettings::builder().execution_role(ctx.state.id(role)?).security_groups(ctx.state.id(sg)?).build())
}

/// Where today's Studio lands: the web portal's home (`DefaultLandingUri`
/// `studio::`; `app:JupyterServer:` would be Studio Classic). SageMaker API
/// reference, UserSettings.
pub const LANDING_URI: &str = "studio::";

/// The largest space volume the domain allows when the stack's own size is
/// smaller (the API's `MaximumEbsVolumeSizeInGb`; Studio's console default).
const MAX_SPACE_GIB: i32 = 100;

/// The domain's defaults for today's Studio (SageMaker API reference,
/// CreateDomain `DefaultUserSettings`: `StudioWebPortal` ENABLED,
/// `DefaultLandingUri`, `JupyterLabAppSettings.AppLifecycleManagement.IdleSettings`
/// {LifecycleManagement ENABLED, IdleTimeoutInMinutes 60..525600},
/// `SpaceStorageSettings.DefaultEbsStorageSettings`; aws-sdk-sagemaker
/// `types::UserSettings`): the profile settings plus these.
pub(super) fn default_user_settings(ctx: &Ctx, role: &StepId, sg: &StepId) -> Result<UserSettings> {
    let idle = IdleSettings::builder()
        .lifecycle_management(LifecycleManagement::Enabled)
        .idle_timeout_in_minutes(ctx.s.idle_timeout_minutes)
        .build();
    let gib = ctx.s.space_storage_gib;
    let storage = DefaultSpaceStorageSettings::builder()
        .default_ebs_storage_settings(
            DefaultEbsStorageSettings::builder()
                .default_ebs_volume_size_in_gb(gib)
                .maximum_ebs_volume_size_in_gb(gib.max(MAX_SPACE_GIB))
                .build(),
        )
        .build();
    Ok(UserSettings::builder()
        .execution_role(ctx.state.id(role)?)
        .security_groups(ctx.state.id(sg)?)
        .studio_web_portal(StudioWebPortal::Enabled)
        .default_landing_uri(LANDING_URI)
        .jupyter_lab_app_settings(
            JupyterLabAppSettings::builder()
                .default_resource_spec(jupyter_spec(ctx)?)
                .app_lifecycle_management(AppLifecycleManagement::builder().idle_settings(idle).build())
                .build(),
        )
        .space_storage_settings(storage)
        .build())
}

/// The JupyterLab `ResourceSpec` of the stack's apps: the stack's image
/// (`SageMakerImageArn`, and `SageMakerImageVersionArn` when `app_image`
/// pins a version: "When both ... are passed, SageMakerImageVersionArn is
/// used", API reference, ResourceSpec) on `app_instance_type`. The same spec
/// is the space's and the domain's JupyterLab `DefaultResourceSpec`, where
/// Studio's UI puts it, so an app a user starts in Studio runs it too.
pub fn jupyter_spec(ctx: &Ctx) -> Result<ResourceSpec> {
    let image = ctx.s.jupyter_image().map_err(anyhow::Error::msg)?;
    Ok(ResourceSpec::builder()
        .sage_maker_image_arn(image.image)
        .set_sage_maker_image_version_arn(image.version)
        .instance_type(AppInstanceType::from(ctx.s.app_instance_type.as_str()))
        .build())
}

/// The spaces' defaults (CreateDomain `DefaultSpaceSettings`, which
/// SageMaker applies to shared spaces, botocore's DefaultSpaceSettings): the
/// same execution role and security group, and the JupyterLab image.
fn default_space_settings(ctx: &Ctx, role: &StepId, sg: &StepId) -> Result<DefaultSpaceSettings> {
    Ok(DefaultSpaceSettings::builder()
        .execution_role(ctx.state.id(role)?)
        .security_groups(ctx.state.id(sg)?)
        .jupyter_lab_app_settings(JupyterLabAppSettings::builder().default_resource_spec(jupyter_spec(ctx)?).build())
        .build())
}

/// The SubnetIds an UpdateDomain sends to bring the domain's `current`
/// subnets to `wanted` (None: nothing to change). UpdateDomain's `SubnetIds`
/// is the whole list ("The VPC subnets that Studio uses for
/// communication"), and it can remove subnets: "If removing subnets, ensure
/// there are no apps in the InService, Pending, or Deleting state"
/// (SageMaker API reference, UpdateDomain). `remove`: the subnets not in
/// `wanted` are dropped (a zone removed from the stack); else they stay
/// (`up` only adds a zone's subnet and never removes one).
pub fn subnet_update(current: &[String], wanted: &[String], remove: bool) -> Option<Vec<String>> {
    let mut out: Vec<String> = current.iter().filter(|s| !remove || wanted.contains(s)).cloned().collect();
    for w in wanted {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    (out != current).then_some(out)
}

/// The app states in which SageMaker refuses to remove a domain's subnets
/// (UpdateDomain API reference, `SubnetIds`).
const BLOCKS_SUBNET_REMOVAL: [AppStatus; 3] = [AppStatus::InService, AppStatus::Pending, AppStatus::Deleting];

/// Why removing `removed` from the domain `id` must wait (None: it need not):
/// the apps of the domain (`owner/type/name (status)`) that SageMaker counts.
pub fn removal_refusal(id: &str, removed: &[String], apps: &[String]) -> Option<String> {
    (!removed.is_empty() && !apps.is_empty()).then(|| {
        format!(
            "cannot remove subnet(s) {} from domain {id}: SageMaker removes a domain's subnets only while none of its apps is InService, Pending or Deleting (UpdateDomain API reference), and {} {}: {}; stop them first (`provision stop --user U` for the stack's own, DeleteApp for others)",
            removed.join(", "),
            apps.len(),
            if apps.len() == 1 { "is" } else { "are" },
            apps.join(", ")
        )
    })
}

/// The domain's apps that block removing a subnet, `owner/type/name
/// (status)`: every app ListApps shows InService, Pending or Deleting
/// (paginated; an app deleted and made again is listed twice, its Deleted
/// record blocks nothing).
pub async fn apps_blocking_subnet_removal(ctx: &Ctx, id: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = ctx.aws.sagemaker.list_apps().domain_id_equals(id).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for a in page.map_err(aws)?.apps() {
            let Some(status) = a.status().filter(|s| BLOCKS_SUBNET_REMOVAL.contains(s)) else { continue };
            out.push(format!(
                "{}/{}/{} ({})",
                a.space_name().or(a.user_profile_name()).unwrap_or_default(),
                a.app_type().map(|t| t.as_str()).unwrap_or_default(),
                a.app_name().unwrap_or_default(),
                status.as_str()
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Sets the subnets of the domain `id` to exactly `wanted` with UpdateDomain,
/// then waits until it is InService again; Ok(false) when they are already
/// those. Removing a subnet is refused here, before the call, while any app
/// of the domain runs (`removal_refusal`, naming them): SageMaker would
/// refuse it too (API reference), and a refusal that names the apps says
/// what to do. For the day a zone is removed from a live stack; `up` only
/// adds (`Domain::restore`).
pub async fn set_subnets(ctx: &Ctx, id: &str, wanted: &[String]) -> Result<bool> {
    let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
    let Some(list) = subnet_update(d.subnet_ids(), wanted, true) else { return Ok(false) };
    let removed: Vec<String> = d.subnet_ids().iter().filter(|s| !list.contains(s)).cloned().collect();
    if !removed.is_empty()
        && let Some(why) = removal_refusal(id, &removed, &apps_blocking_subnet_removal(ctx, id).await?)
    {
        bail!(why);
    }
    ctx.aws
        .sagemaker
        .update_domain()
        .domain_id(id)
        .set_subnet_ids(Some(list))
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("updating the subnets of domain {id}"))?;
    until("domain InService", Poll::expect(10, 30 * 60), || async {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        match d.status() {
            Some(DomainStatus::InService) => Ok(Some(())),
            Some(s @ (DomainStatus::Failed | DomainStatus::UpdateFailed)) => {
                bail!("domain {id} is {}: {}", s.as_str(), d.failure_reason().unwrap_or("no reason given"))
            }
            _ => Ok(None),
        }
    })
    .await?;
    Ok(true)
}

async fn wait_in_service(ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
    // terraform-provider-aws WaitDomainInService: not found is a pending
    // state right after CreateDomain (eventual consistency).
    let unseen = Unseen::new(CONSISTENCY_BOUND);
    let d = until("domain InService", Poll::expect(create_s(PROFILE), 30 * 60), || async {
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
    .await?;
    let arn = d.domain_arn().unwrap_or_default().to_string();
    let efs = d.home_efs_file_system_id().unwrap_or_default().to_string();
    ctx.state.ready(me, &[("arn", arn), ("home_efs", efs.clone())])?;
    record_leftovers(ctx, id, &efs)
}

/// Records SageMaker's own resources (so teardown knows them).
fn record_leftovers(ctx: &Ctx, domain_id: &str, efs: &str) -> Result<()> {
    let note = Some("created by SageMaker for the domain".to_string());
    if !efs.is_empty() {
        for step in [StepId::EFS_FILE_SYSTEM, StepId::EFS_MOUNT_TARGET] {
            if ctx.state.record(&step).and_then(|r| r.id).is_none() {
                ctx.state.set(&step, Status::Created, Some(efs), &[("domain", domain_id.to_string())])?;
                ctx.state.note(&step, note.clone())?;
            }
        }
    }
    if ctx.state.record(&StepId::SG_NFS).and_then(|r| r.id).is_none() {
        ctx.state.set(&StepId::SG_NFS, Status::Created, Some(domain_id), &[])?;
        ctx.state.note(&StepId::SG_NFS, note)?;
    }
    Ok(())
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

    async fn settle(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        wait_in_service(ctx, me, id).await?;
        enable_home_backups(ctx, me).await
    }

    /// Its ARN and home EFS, and SageMaker's leftovers (what `settle` records).
    async fn record_found(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        let arn = d.domain_arn().unwrap_or_default().to_string();
        let efs = d.home_efs_file_system_id().unwrap_or_default().to_string();
        ctx.state.ready(me, &[("arn", arn), ("home_efs", efs.clone())])?;
        record_leftovers(ctx, id, &efs)
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
        match sm.describe_domain().domain_id(id).send().await.map_err(aws) {
            // Not found may be a domain created moments ago that reads do not
            // show yet (eventual consistency, as `wait_in_service`): DeleteDomain
            // decides, its ResourceNotFound meaning gone (what SageMaker made for
            // it is found by teardown on its own: `Kind::discovered`).
            Err(e) if is_not_found(&e) => {}
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
        if !home_backups_drift(ctx, me).await?.is_empty() {
            enable_home_backups(ctx, me).await?;
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
        wait_in_service(ctx, me, id).await
    }
}

/// The home EFS's backup policy status (`None`: it never had one;
/// DescribeBackupPolicy answers PolicyNotFound, EFS API reference).
pub async fn backup_status(ctx: &Ctx, efs: &str) -> Result<Option<String>> {
    match ctx.aws.efs.describe_backup_policy().file_system_id(efs).send().await.map_err(aws) {
        Err(e) if has_code(&e, &["PolicyNotFound"]) => Ok(None),
        Err(e) => Err(e),
        Ok(o) => Ok(o.backup_policy().map(|p| p.status().as_str().to_string())),
    }
}

/// The home EFS SageMaker made for the domain (its `HomeEfsFileSystemId`,
/// recorded by `wait_in_service`), or found by SageMaker's tag on it.
async fn home_efs_id(ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
    super::efs_file_system::home_efs(ctx, me).await
}

/// Why the home EFS is not backed up (empty: it is, or there is no EFS yet).
async fn home_backups_drift(ctx: &Ctx, me: &StepId) -> Result<Vec<String>> {
    let Some(efs) = home_efs_id(ctx, me).await? else { return Ok(Vec::new()) };
    Ok(match backup_status(ctx, &efs).await? {
        Some(s) if s == "ENABLED" || s == "ENABLING" => Vec::new(),
        s => vec![format!("home EFS {efs}: automatic backups {}, not ENABLED", s.as_deref().unwrap_or("never set"))],
    })
}

/// Turns on automatic backups of the home EFS: PutBackupPolicy ENABLED,
/// which puts it in AWS Backup's default daily plan, kept 35 days (EFS
/// user guide, "Automatic backups"; EFS API reference, PutBackupPolicy;
/// terraform-provider-aws `aws_efs_backup_policy`). SageMaker creates the
/// EFS without one; it holds the Studio Classic home directories and what
/// SageMaker keeps there. While the file system is not yet `available`
/// EFS answers IncorrectFileSystemLifeCycleState (409): retried within the
/// consistency bound.
async fn enable_home_backups(ctx: &Ctx, me: &StepId) -> Result<()> {
    use aws_sdk_efs::types::{BackupPolicy, Status};
    let Some(efs) = home_efs_id(ctx, me).await? else { return Ok(()) };
    let policy = BackupPolicy::builder().status(Status::Enabled).build()?;
    retry_while(
        CONSISTENCY_BOUND,
        |e| has_code(e, &["IncorrectFileSystemLifeCycleState", "FileSystemNotFound"]),
        || async {
            ctx.aws.efs.put_backup_policy().file_system_id(&efs).backup_policy(policy.clone()).send().await.map_err(aws)
        },
    )
    .await
    .with_context(|| format!("turning on automatic backups of the home EFS {efs}"))?;
    Ok(())
}

/// Why the domain's home EFS is not under the stack's key (None: it is).
/// A domain's key is fixed when it is created, and the domain holds the
/// users' home directories, so `up` never replaces it for this: the
/// message says how to get there.
pub fn home_key_problem(ctx: &Ctx, actual: Option<&str>, key: &StepId) -> Result<Option<String>> {
    let want = ctx.state.id(key)?;
    let want_id = want.rsplit('/').next().unwrap_or(&want);
    Ok(match actual {
        Some(k) if k == want || k.rsplit('/').next() == Some(want_id) => None,
        other => Some(format!(
            "home EFS encrypted with {}, not the stack's key {key} ({want}); a domain's KmsKeyId is fixed at creation and `up` does not replace a domain (it holds the users' home directories): back up the home directories, then `provision down --purge-efs` and `provision up` to get a domain under the stack's key",
            other.map(|k| format!("key {k}")).unwrap_or_else(|| "an AWS managed key".to_string())
        )),
    })
}

/// The image a JupyterLab resource spec names when it is not `want`
/// (`unset` when it names none); None: it is `want`.
pub fn other_image(spec: Option<&ResourceSpec>, want: &AppImage) -> Option<String> {
    let image = spec.and_then(|s| s.sage_maker_image_arn());
    let version = spec.and_then(|s| s.sage_maker_image_version_arn());
    (!want.matches(image, version)).then(|| version.or(image).unwrap_or("unset").to_string())
}

/// How a JupyterLab `DefaultResourceSpec` differs from the stack's image
/// and instance type (`what` names it in the message).
fn default_spec_drift(what: &str, spec: Option<&ResourceSpec>, want: &AppImage, instance: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(other) = other_image(spec, want) {
        out.push(format!("{what} JupyterLab image is {other}, not {}", want.shown()));
    }
    let it = spec.and_then(|s| s.instance_type()).map(|t| t.as_str()).unwrap_or("unset");
    if it != instance {
        out.push(format!("{what} JupyterLab instance type is {it}, not {instance}"));
    }
    out
}

/// How the domain's defaults differ from today's Studio as the stack sets it.
fn studio_drift(
    ctx: &Ctx,
    d: &aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput,
    role: &StepId,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let u = d.default_user_settings();
    let portal = u.and_then(|u| u.studio_web_portal()).map(|p| p.as_str()).unwrap_or("unset");
    if portal != StudioWebPortal::Enabled.as_str() {
        out.push(format!("StudioWebPortal is {portal}, not ENABLED"));
    }
    let landing = u.and_then(|u| u.default_landing_uri()).unwrap_or("unset");
    if landing != LANDING_URI {
        out.push(format!("DefaultLandingUri is {landing}, not {LANDING_URI}"));
    }
    let idle = u
        .and_then(|u| u.jupyter_lab_app_settings())
        .and_then(|j| j.app_lifecycle_management())
        .and_then(|a| a.idle_settings());
    let on = idle.and_then(|i| i.lifecycle_management()) == Some(&LifecycleManagement::Enabled);
    let minutes = idle.and_then(|i| i.idle_timeout_in_minutes());
    if !on || minutes != Some(ctx.s.idle_timeout_minutes) {
        out.push(format!(
            "JupyterLab idle shutdown is {}, not on after {} minutes",
            if on { format!("on after {} minutes", minutes.unwrap_or_default()) } else { "off".to_string() },
            ctx.s.idle_timeout_minutes
        ));
    }
    let role = ctx.state.id(role).unwrap_or_default();
    if d.default_space_settings().and_then(|s| s.execution_role()) != Some(role.as_str()) {
        out.push("the default space settings lack the execution role".to_string());
    }
    let want = ctx.s.jupyter_image().map_err(anyhow::Error::msg)?;
    let instance = ctx.s.app_instance_type.as_str();
    let user_spec = u.and_then(|u| u.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    out.extend(default_spec_drift("the default user settings'", user_spec, &want, instance));
    let space_spec =
        d.default_space_settings().and_then(|s| s.jupyter_lab_app_settings()).and_then(|j| j.default_resource_spec());
    out.extend(default_spec_drift("the default space settings'", space_spec, &want, instance));
    Ok(out)
}
