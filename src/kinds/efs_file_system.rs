//! SageMaker's home-directory EFS (`efs.file_system`, teardown only),
//! tagged by SageMaker with the domain's ARN; removed by
//! `down --purge-efs` once its mount targets are gone.

use anyhow::Result;
use async_trait::async_trait;

use super::{Ctx, DRAIN_BOUND, Health, Kind, accepted, made_by_aws, storage_kept};
use super::{Per, Store, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, has_code};
use crate::latency::delete_s;
use crate::step_id::StepId;
use crate::wait::{Poll, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "efs.file_system";

/// The tag SageMaker puts on the EFS it creates for a domain (value: the domain ARN).
pub const SAGEMAKER_TAG: &str = "ManagedByAmazonSageMakerResource";

#[derive(Debug)]
pub struct EfsFileSystem {
    pub domain: StepId,
    pub mount_targets: StepId,
    /// The key that encrypts it (the domain's `KmsKeyId`, `kms.ebs`).
    pub key: StepId,
}

/// The domain's EFS: recorded with the domain, or found by SageMaker's tag on it.
pub async fn home_efs(ctx: &Ctx, domain: &StepId) -> Result<Option<String>> {
    if let Some(id) = ctx.state.attr(domain, "home_efs").ok().filter(|s| !s.is_empty()) {
        return Ok(Some(id));
    }
    let Some(arn) = ctx.state.attr(domain, "arn").ok() else {
        return Ok(None);
    };
    let out = ctx.aws.efs.describe_file_systems().send().await.map_err(aws)?;
    Ok(out
        .file_systems()
        .iter()
        .find(|f| f.tags().iter().any(|t| t.key() == SAGEMAKER_TAG && t.value() == arn))
        .map(|f| f.file_system_id().to_string()))
}

#[async_trait]
impl Kind for EfsFileSystem {
    fn name(&self) -> &'static str {
        "EFS file system"
    }

    fn priced(&self, _s: &Settings) -> Vec<Use> {
        vec![Use::new("efs-gb-month", 1, Per::Stack, Usage::Stored(Store::HomeEfs))]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (vec![self.mount_targets.clone()], Vec::new())
    }

    fn discovered(&self) -> bool {
        true
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        home_efs(ctx, &self.domain).await
    }

    async fn create(&self, _ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        made_by_aws(me)
    }

    /// By its own recorded id: `down` keeps the EFS after the domain (and
    /// its record) is gone.
    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        let r = ctx.aws.efs.describe_file_systems().file_system_id(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.file_systems().is_empty())
    }

    async fn delete(&self, ctx: &Ctx, fs: &str) -> Result<()> {
        let r = retry_while(
            DRAIN_BOUND,
            |e| has_code(e, &["FileSystemInUse"]),
            || async { ctx.aws.efs.delete_file_system().file_system_id(fs).send().await.map_err(aws) },
        )
        .await;
        if !accepted(r)? {
            return Ok(());
        }
        until("EFS file system deleted", Poll::expect(delete_s(PROFILE), 10 * 60), || async {
            match ctx.aws.efs.describe_file_systems().file_system_id(fs).send().await.map_err(aws) {
                Err(e) if crate::error::is_not_found(&e) => Ok(Some(())),
                Err(e) => Err(e),
                Ok(o) => Ok(o.file_systems().is_empty().then_some(())),
            }
        })
        .await
    }

    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(storage_kept(ctx, "the domain's home EFS (Studio Classic's home directories)"))
    }

    /// Readable only through its mount targets, and only while its key
    /// exists: EFS file systems whose key is deleted "stop working" (EFS
    /// user guide, "Managing KMS keys for Amazon EFS").
    fn keeps(&self) -> Vec<StepId> {
        vec![self.mount_targets.clone(), self.key.clone()]
    }
}
