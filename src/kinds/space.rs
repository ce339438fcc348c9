//! SageMaker spaces (`sm.space`, `sm.space.{user}`; id `{domain}/{space}`):
//! each user's private JupyterLab space `{user}-space` of today's Studio,
//! owned by the user profile, with its EBS volume. The space is
//! infrastructure (its volume holds the user's work); the app running in
//! it is not (`app.rs`).
//!
//! SageMaker API reference, CreateSpace: `SpaceSharingSettings.SharingType`
//! Private requires `OwnershipSettings.OwnerUserProfileName`;
//! `SpaceSettings.AppType` JupyterLab; `SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb`;
//! `SpaceSettings.JupyterLabAppSettings.DefaultResourceSpec`: the stack's
//! image and instance type (`domain::jupyter_spec`), what an app the user
//! starts in the space runs. Statuses (DescribeSpace): Pending, InService,
//! Updating, Deleting, Failed, Update_Failed, Delete_Failed.
//!
//! UpdateSpace takes `SpaceSettings` and a display name only: the owner and
//! the sharing are fixed at creation (`lasting_drift`). The default image is
//! set at CreateSpace, where Studio's UI sets it, and then belongs to the
//! space's user: the UI changes it when the user picks another image or
//! instance type for the space. So it is not checked; the image an app
//! actually runs is (`app.rs`), and the domain's default, which a space
//! without one of its own (made by an earlier version) falls back to, is
//! kept by `up` (`domain.rs`).

use anyhow::{Result, anyhow, bail};
use async_trait::async_trait;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use aws_sdk_sagemaker::types::{
    AppType, EbsStorageSettings, OwnershipSettings, SharingType, SpaceJupyterLabAppSettings, SpaceSettings,
    SpaceSharingSettings, SpaceStatus, SpaceStorageSettings,
};

use super::domain::{jupyter_spec, sm_tags};
use super::{Change, Ctx, DRAIN_BOUND, Health, Kind, PropChange, Property, accepted, adopt_if_ours, storage_kept};
use super::{Per, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, found, has_code};
use crate::latency::{create_s, delete_s};
use crate::retry::CONSISTENCY_BOUND;
use crate::step_id::StepId;
use crate::wait::{Poll, Unseen, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "sm.space";

#[derive(Debug)]
pub struct Space {
    pub user_step: StepId,
    /// The owner's profile name.
    pub user: String,
    /// Reached through the user profile.
    pub domain: StepId,
}

pub fn split_space(id: &str) -> Result<(&str, &str)> {
    id.split_once('/').ok_or_else(|| anyhow!("malformed space id '{id}' (want domain/space)"))
}

/// DescribeSpace, once per read-only pass (`Reads::read`); `None`: not found.
async fn describe(ctx: &Ctx, domain: &str, name: &str) -> Result<Option<std::sync::Arc<DescribeSpaceOutput>>> {
    let load =
        || async { ctx.aws.sagemaker.describe_space().domain_id(domain).space_name(name).send().await.map_err(aws) };
    found(ctx.reads.read(&format!("sagemaker:DescribeSpace {domain}/{name}"), load).await)
}

/// Every space of `domain` and its status, from one ListSpaces listing
/// (paginated) shared by the waits of every user (`Polls`).
async fn domain_spaces(
    ctx: &Ctx,
    domain: &str,
) -> Result<std::sync::Arc<std::collections::HashMap<String, SpaceStatus>>> {
    let fresh = crate::wait::scaled(super::SHARED_FRESH);
    ctx.polls
        .get(&format!("sagemaker:ListSpaces {domain}"), fresh, || async {
            let mut out = std::collections::HashMap::new();
            let mut pages =
                ctx.aws.sagemaker.list_spaces().domain_id_equals(domain).max_results(100).into_paginator().send();
            while let Some(page) = pages.next().await {
                for s in page.map_err(aws)?.spaces() {
                    if let (Some(n), Some(st)) = (s.space_name(), s.status()) {
                        out.insert(n.to_string(), st.clone());
                    }
                }
            }
            Ok(out)
        })
        .await
}

impl Space {
    fn name(&self) -> String {
        Settings::space_name(&self.user)
    }
}

/// The space's JupyterLab settings: the stack's image as the default of
/// the apps started in it.
fn jupyter_lab_settings(ctx: &Ctx) -> Result<SpaceJupyterLabAppSettings> {
    Ok(SpaceJupyterLabAppSettings::builder().default_resource_spec(jupyter_spec(ctx)?).build())
}

#[async_trait]
impl Kind for Space {
    fn name(&self) -> &'static str {
        "SageMaker space"
    }

    /// Its EBS volume, whether or not its app runs.
    fn priced(&self, s: &Settings) -> Vec<Use> {
        vec![Use::new("studio-storage-gb-month", s.space_storage_gib.max(0) as usize, Per::User, Usage::Monthly)]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.user_step.clone()]
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.domain.clone()]
    }

    /// Today's Studio keeps a user's files on their space's EBS volume
    /// (`/home/sagemaker-user`): deleting the space deletes them.
    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(storage_kept(ctx, &format!("its EBS volume holds {}'s files (/home/sagemaker-user)", self.user)))
    }

    fn keeps(&self) -> Vec<StepId> {
        vec![self.user_step.clone(), self.domain.clone()]
    }

    /// The volume's size grows in place, never shrinks (`property`); the
    /// default spec of the app the user starts in it is UpdateSpace's too.
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
            Property::new("volume (GiB)", "space_storage_gib", s.space_storage_gib, Change::GrowOnly),
            Property::new("default instance type", "app_instance_type", &s.app_instance_type, Change::InPlace),
            Property::new("default image", "app_image", image, Change::InPlace),
        ]
    }

    /// UpdateSpace with the new volume size and JupyterLab default spec
    /// (applied to the volume at the app's next start), then InService.
    async fn update(&self, ctx: &Ctx, me: &StepId, id: &str, _changes: &[PropChange]) -> Result<()> {
        let (domain, name) = split_space(id)?;
        let settings = SpaceSettings::builder()
            .space_storage_settings(
                SpaceStorageSettings::builder()
                    .ebs_storage_settings(
                        EbsStorageSettings::builder().ebs_volume_size_in_gb(ctx.s.space_storage_gib).build(),
                    )
                    .build(),
            )
            .jupyter_lab_app_settings(jupyter_lab_settings(ctx)?)
            .build();
        ctx.aws
            .sagemaker
            .update_space()
            .domain_id(domain)
            .space_name(name)
            .space_settings(settings)
            .send()
            .await
            .map_err(aws)
            .map_err(|e| e.context(format!("updating space {id}")))?;
        self.settle(ctx, me, id).await
    }

    /// The space's tags name `me` (the first user left; this one's steps take the spec's ids).
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        let (domain, name) = split_space(id)?;
        let Some(s) = describe(ctx, domain, name).await? else { bail!("space {id} no longer exists") };
        super::domain::tag_as(ctx, me, s.space_arn().unwrap_or_default()).await
    }

    /// The user's space, if its tags prove it is this stack's.
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let domain = ctx.state.id(&self.domain)?;
        let Some(s) = describe(ctx, &domain, &self.name()).await? else { return Ok(None) };
        if matches!(s.status(), Some(SpaceStatus::Deleting)) {
            return Ok(None);
        }
        let arn = s.space_arn().unwrap_or_default();
        let tags = ctx.aws.sagemaker.list_tags().resource_arn(arn).send().await.map_err(aws)?;
        let tags = tags.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        adopt_if_ours(ctx, me, "SageMaker space", format!("{domain}/{}", self.name()), tags)
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let domain = ctx.state.id(&self.domain)?;
        let name = self.name();
        let settings = SpaceSettings::builder()
            .app_type(AppType::JupyterLab)
            .space_storage_settings(
                SpaceStorageSettings::builder()
                    .ebs_storage_settings(
                        EbsStorageSettings::builder().ebs_volume_size_in_gb(ctx.s.space_storage_gib).build(),
                    )
                    .build(),
            )
            .jupyter_lab_app_settings(jupyter_lab_settings(ctx)?)
            .build();
        ctx.aws
            .sagemaker
            .create_space()
            .domain_id(&domain)
            .space_name(&name)
            .ownership_settings(OwnershipSettings::builder().owner_user_profile_name(&self.user).build())
            .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
            .space_settings(settings)
            .set_tags(Some(sm_tags(ctx, me, &[])))
            .send()
            .await
            .map_err(aws)?;
        Ok(format!("{domain}/{name}"))
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let (domain, name) = split_space(id)?;
        let unseen = Unseen::new(CONSISTENCY_BOUND);
        until("space InService", Poll::expect(create_s(PROFILE), 15 * 60), || async {
            // From the shared listing; a state it lists other than these is read again, with its reason.
            match domain_spaces(ctx, domain).await?.get(name) {
                None => return unseen.absent(format!("space {name} does not exist")),
                Some(SpaceStatus::InService) => {
                    crate::progress::observed(SpaceStatus::InService.as_str());
                    return Ok(Some(()));
                }
                Some(st @ (SpaceStatus::Pending | SpaceStatus::Updating)) => {
                    crate::progress::observed(st.as_str());
                    return Ok(None);
                }
                Some(_) => {}
            }
            let Some(s) = describe(ctx, domain, name).await? else {
                return unseen.absent(format!("space {name} does not exist"));
            };
            crate::progress::observed(s.status().map(|s| s.as_str()).unwrap_or("unknown"));
            match s.status() {
                Some(SpaceStatus::InService) => Ok(Some(())),
                Some(
                    st @ (SpaceStatus::Failed
                    | SpaceStatus::Deleting
                    | SpaceStatus::DeleteFailed
                    | SpaceStatus::UpdateFailed),
                ) => bail!("space {name} is {}: {}", st.as_str(), s.failure_reason().unwrap_or("no reason given")),
                _ => Ok(None),
            }
        })
        .await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        let (domain, name) = split_space(id)?;
        Ok(match describe(ctx, domain, name).await? {
            None => Health::Missing,
            Some(s) => match s.status() {
                Some(SpaceStatus::Deleting) => Health::Missing,
                Some(SpaceStatus::Failed | SpaceStatus::DeleteFailed) => {
                    Health::Failed(s.failure_reason().unwrap_or("failed").to_string())
                }
                _ => Health::Present,
            },
        })
    }

    /// The sharing and the owner: fixed at creation (UpdateSpace cannot change them).
    async fn lasting_drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let (domain, name) = split_space(id)?;
        let Some(s) = describe(ctx, domain, name).await? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let sharing = s.space_sharing_settings().and_then(|x| x.sharing_type());
        if sharing != Some(&SharingType::Private) {
            out.push(format!("sharing is {}, not Private", sharing.map(|t| t.as_str()).unwrap_or("unset")));
        }
        let owner = s.ownership_settings().and_then(|o| o.owner_user_profile_name());
        if owner != Some(self.user.as_str()) {
            out.push(format!("owner is {}, not {}", owner.unwrap_or("unset"), self.user));
        }
        Ok(out)
    }

    fn drift_owner(&self) -> Option<&'static str> {
        Some("a space's sharing and owner are fixed at creation: nothing changes them")
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        delete_space(ctx, id).await
    }
}

/// Deletes the space `{domain}/{space}` and waits until it is gone.
/// DeleteSpace is refused (ResourceInUse) while its app is still being
/// deleted (SageMaker API reference, DeleteSpace): retried within the drain bound.
pub async fn delete_space(ctx: &Ctx, id: &str) -> Result<()> {
    let (domain, name) = split_space(id)?;
    let sm = &ctx.aws.sagemaker;
    let r = retry_while(
        DRAIN_BOUND,
        |e| has_code(e, &["ResourceInUse"]),
        || async { sm.delete_space().domain_id(domain).space_name(name).send().await.map_err(aws) },
    )
    .await;
    if !accepted(r)? {
        return Ok(());
    }
    until("space deleted", Poll::expect(delete_s(PROFILE), 15 * 60), || async {
        // From the shared listing; DeleteFailed (and anything else) is read again, with its reason.
        match domain_spaces(ctx, domain).await?.get(name) {
            None => return Ok(Some(())),
            Some(SpaceStatus::Deleting) => return Ok(None),
            Some(_) => {}
        }
        Ok(match describe(ctx, domain, name).await? {
            None => Some(()),
            Some(s) if s.status() == Some(&SpaceStatus::DeleteFailed) => {
                bail!("space {name} deletion failed: {}", s.failure_reason().unwrap_or("no reason given"))
            }
            Some(_) => None,
        })
    })
    .await
}
