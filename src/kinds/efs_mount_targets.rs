//! The mount targets (and their ENIs) of SageMaker's EFS
//! (`efs.mount_target`, teardown only; id = the file system id), one per
//! SageMaker subnet. Deleted after the domain and before those subnets;
//! then ENIs left `available` in the VPC are swept a first time
//! (`leftover_enis`; the subnets sweep again while one blocks them).

use anyhow::Result;
use async_trait::async_trait;

use super::efs_file_system::home_efs;
use super::leftover_enis::{Blocked, Sweep, sweep};
use super::{Ctx, Health, Kind, made_by_aws};
use crate::error::{aws, gone_ok, is_not_found};
use crate::latency::delete_s;
use crate::step_id::StepId;
use crate::wait::{Poll, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "efs.mount_target";

#[derive(Debug)]
pub struct EfsMountTargets {
    pub domain: StepId,
    /// Every zone's SageMaker subnet: each holds a mount target.
    pub subnets: Vec<StepId>,
    pub vpc: StepId,
    /// SageMaker's NFS security groups (the mount targets' inbound group).
    pub groups: StepId,
}

async fn mount_targets(ctx: &Ctx, fs: &str) -> Result<Vec<(String, String)>> {
    match ctx.aws.efs.describe_mount_targets().file_system_id(fs).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
        Ok(o) => Ok(o
            .mount_targets()
            .iter()
            .map(|m| (m.mount_target_id().to_string(), m.life_cycle_state().as_str().to_string()))
            .collect()),
    }
}

impl EfsMountTargets {
    /// The first sweep of the ENIs left `available` in the stack's VPC
    /// (SageMaker apps', EFS's), once the mount targets are gone. ENIs that
    /// turn `available` later are swept by the subnet, group and VPC
    /// deletions, which repeat while such an ENI blocks them and name each
    /// one they could not delete (`leftover_enis::delete_draining`); so a
    /// leftover that cannot be deleted now does not fail this step: it is
    /// said, and tried again there.
    pub(super) async fn sweep_enis(&self, ctx: &Ctx) -> Result<Sweep> {
        let Ok(vpc) = ctx.state.id(&self.vpc) else {
            return Ok(Sweep::default());
        };
        let s = sweep(ctx, &vpc, Blocked::Vpc).await?;
        if !s.failed.is_empty() {
            let ids: Vec<String> = s.failed.iter().map(|(id, e)| format!("{id}: {e}")).collect();
            tracing::warn!(
                "{} leftover network interface(s) in {vpc} could not be deleted yet (tried again with the subnets): {}",
                s.failed.len(),
                ids.join("; ")
            );
        }
        Ok(s)
    }
}

#[async_trait]
impl Kind for EfsMountTargets {
    fn name(&self) -> &'static str {
        "EFS mount targets"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (vec![self.domain.clone()], self.subnets.clone())
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

    /// By the recorded file system id: the domain's record is gone after `down`.
    async fn health(&self, ctx: &Ctx, _me: &StepId, fs: &str) -> Result<Health> {
        Ok(if mount_targets(ctx, fs).await?.is_empty() { Health::Missing } else { Health::Present })
    }

    async fn delete(&self, ctx: &Ctx, fs: &str) -> Result<()> {
        for (mt, state) in mount_targets(ctx, fs).await? {
            if state == "deleting" || state == "deleted" {
                continue;
            }
            gone_ok(ctx.aws.efs.delete_mount_target().mount_target_id(&mt).send().await.map_err(aws))?;
        }
        until("EFS mount targets deleted", Poll::expect(delete_s(PROFILE), 15 * 60), || async {
            Ok(mount_targets(ctx, fs).await?.is_empty().then_some(()))
        })
        .await?;
        self.sweep_enis(ctx).await.map(|_| ())
    }

    /// A removed zone's mount target of the home EFS: SageMaker leaves it
    /// when the subnet leaves the domain, and its interface blocks
    /// DeleteSubnet. Deleting it deletes no data (the file system stays,
    /// mounted in the other zones; EFS API reference, DeleteMountTarget:
    /// "does not delete the file system").
    async fn drop_members(&self, ctx: &Ctx, _me: &StepId, fs: &str, gone: &[String]) -> Result<bool> {
        let out = match ctx.aws.efs.describe_mount_targets().file_system_id(fs).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => return Ok(false),
            r => r?,
        };
        let drop: Vec<String> = out
            .mount_targets()
            .iter()
            .filter(|m| gone.iter().any(|g| g == m.subnet_id()))
            .map(|m| m.mount_target_id().to_string())
            .collect();
        if drop.is_empty() {
            return Ok(false);
        }
        for mt in &drop {
            gone_ok(ctx.aws.efs.delete_mount_target().mount_target_id(mt).send().await.map_err(aws))?;
        }
        until("EFS mount targets of the removed zones deleted", Poll::expect(delete_s(PROFILE), 15 * 60), || async {
            let left = mount_targets(ctx, fs).await?;
            Ok((!left.iter().any(|(id, _)| drop.contains(id))).then_some(()))
        })
        .await?;
        Ok(true)
    }

    /// Kept with the EFS (`EfsFileSystem::keeps`): in their subnets, behind their NFS group.
    fn keeps(&self) -> Vec<StepId> {
        let mut k = self.subnets.clone();
        k.extend([self.groups.clone(), self.vpc.clone()]);
        k
    }
}
