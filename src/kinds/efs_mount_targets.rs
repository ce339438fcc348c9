//! The mount targets (and their ENIs) of SageMaker's EFS
//! (`efs.mount_target`, teardown only; id = the file system id), one per
//! SageMaker subnet. Deleted after the domain and before those subnets;
//! then ENIs left `available` in the VPC are swept.

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_ec2::types::NetworkInterfaceStatus;

use super::efs_file_system::home_efs;
use super::{Ctx, Health, Kind, ec2_filter, made_by_aws};
use crate::error::{aws, gone_ok, is_not_found};
use crate::step_id::StepId;
use crate::wait::{Poll, until};

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
    /// ENIs left `available` in the stack's VPC (SageMaker apps, EFS) block
    /// the subnet and VPC deletion. Only real leftovers are touched: an ENI
    /// still `in-use`, or requester-managed (a NAT gateway's, an endpoint's,
    /// a mount target's: its service deletes it with its owner, and refuses
    /// DeleteNetworkInterface — EC2 API reference, "Requester-managed network
    /// interfaces"), is left to its owner. One leftover that cannot be
    /// deleted does not stop the others: every failure is reported with its
    /// ENI id once all have been tried.
    pub(super) async fn sweep_enis(&self, ctx: &Ctx) -> Result<()> {
        let Ok(vpc) = ctx.state.id(&self.vpc) else {
            return Ok(());
        };
        let out = ctx
            .aws
            .ec2
            .describe_network_interfaces()
            .filters(ec2_filter("vpc-id", &vpc))
            .filters(ec2_filter("status", "available"))
            .send()
            .await
            .map_err(aws)?;
        let mut failed = Vec::new();
        for eni in out.network_interfaces() {
            let Some(id) = eni.network_interface_id() else {
                continue;
            };
            if eni.status() != Some(&NetworkInterfaceStatus::Available) || eni.requester_managed() == Some(true) {
                tracing::debug!(eni = id, "not a leftover: in use or managed by its service");
                continue;
            }
            tracing::info!(eni = id, "deleting leftover network interface");
            if let Err(e) =
                gone_ok(ctx.aws.ec2.delete_network_interface().network_interface_id(id).send().await.map_err(aws))
            {
                failed.push(format!("{id}: {e:#}"));
            }
        }
        if !failed.is_empty() {
            anyhow::bail!(
                "{} leftover network interface(s) in {vpc} could not be deleted (they block the subnets and the VPC): {}",
                failed.len(),
                failed.join("; ")
            );
        }
        Ok(())
    }
}

#[async_trait]
impl Kind for EfsMountTargets {
    fn name(&self) -> &'static str {
        "EFS mount targets"
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
        until("EFS mount targets deleted", Poll::expect(75, 15 * 60), || async {
            Ok(mount_targets(ctx, fs).await?.is_empty().then_some(()))
        })
        .await?;
        self.sweep_enis(ctx).await
    }

    /// Kept with the EFS (`EfsFileSystem::keeps`): in their subnets, behind their NFS group.
    fn keeps(&self) -> Vec<StepId> {
        let mut k = self.subnets.clone();
        k.extend([self.groups.clone(), self.vpc.clone()]);
        k
    }
}
