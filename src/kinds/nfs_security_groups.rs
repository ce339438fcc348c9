//! The two NFS security groups SageMaker creates for a domain (`sg.nfs`,
//! teardown only; id = the domain id), named after the domain id. Their
//! rules reference each other and are revoked first; then both go, before
//! the VPC.

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_ec2::types::IpPermission;

use super::security_group::delete_group;
use super::{Ctx, Health, Kind, ec2_filter, made_by_aws};
use crate::error::{aws, gone_ok};
use crate::step_id::StepId;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.security_group";

#[derive(Debug)]
pub struct NfsSecurityGroups {
    pub domain: StepId,
    pub mount_targets: StepId,
    pub file_system: StepId,
    pub vpc: StepId,
}

pub fn nfs_group_names(domain: &str) -> [String; 2] {
    [format!("security-group-for-inbound-nfs-{domain}"), format!("security-group-for-outbound-nfs-{domain}")]
}

impl NfsSecurityGroups {
    /// The domain the groups belong to: recorded with the domain, this step,
    /// or the EFS.
    fn domain_id(&self, ctx: &Ctx, me: &StepId) -> Option<String> {
        ctx.state
            .record(&self.domain)
            .and_then(|r| r.id)
            .or_else(|| ctx.state.record(me).and_then(|r| r.id))
            .or_else(|| ctx.state.attr(&self.file_system, "domain").ok())
    }

    /// (group id, ingress rules, egress rules) of the domain's NFS groups.
    async fn groups(&self, ctx: &Ctx, domain: &str) -> Result<Vec<(String, Vec<IpPermission>, Vec<IpPermission>)>> {
        let [inbound, outbound] = nfs_group_names(domain);
        let vpc = ctx.state.id(&self.vpc).ok();
        if let Some(all) = super::security_group::listed(ctx).await? {
            let ours = all.iter().filter(|g| {
                g.group_name().is_some_and(|n| n == inbound || n == outbound)
                    && (vpc.is_none() || g.vpc_id() == vpc.as_deref())
            });
            return Ok(ours
                .filter_map(|g| {
                    Some((g.group_id()?.to_string(), g.ip_permissions().to_vec(), g.ip_permissions_egress().to_vec()))
                })
                .collect());
        }
        let mut call =
            ctx.aws.ec2.describe_security_groups().filters(
                aws_sdk_ec2::types::Filter::builder().name("group-name").values(inbound).values(outbound).build(),
            );
        if let Some(vpc) = vpc {
            call = call.filters(ec2_filter("vpc-id", vpc));
        }
        let out = call.send().await.map_err(aws)?;
        Ok(out
            .security_groups()
            .iter()
            .filter_map(|g| {
                Some((g.group_id()?.to_string(), g.ip_permissions().to_vec(), g.ip_permissions_egress().to_vec()))
            })
            .collect())
    }
}

#[async_trait]
impl Kind for NfsSecurityGroups {
    fn name(&self) -> &'static str {
        "NFS security groups"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (vec![self.mount_targets.clone()], vec![self.vpc.clone()])
    }

    fn discovered(&self) -> bool {
        true
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let Some(domain) = self.domain_id(ctx, me) else {
            return Ok(None);
        };
        Ok((!self.groups(ctx, &domain).await?.is_empty()).then_some(domain))
    }

    async fn create(&self, _ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        made_by_aws(me)
    }

    /// By the recorded domain id the groups are named after.
    async fn health(&self, ctx: &Ctx, _me: &StepId, domain: &str) -> Result<Health> {
        Ok(if self.groups(ctx, domain).await?.is_empty() { Health::Missing } else { Health::Present })
    }

    /// Revokes the rules that reference another group, then deletes both groups.
    async fn delete(&self, ctx: &Ctx, domain: &str) -> Result<()> {
        let groups = self.groups(ctx, domain).await?;
        let refs = |perms: &[IpPermission]| -> Vec<IpPermission> {
            perms.iter().filter(|p| !p.user_id_group_pairs().is_empty()).cloned().collect()
        };
        for (id, ingress, egress) in &groups {
            let (ingress, egress) = (refs(ingress), refs(egress));
            let ec2 = &ctx.aws.ec2;
            if !ingress.is_empty() {
                let r = ec2.revoke_security_group_ingress().group_id(id).set_ip_permissions(Some(ingress));
                gone_ok(r.send().await.map_err(aws))?;
            }
            if !egress.is_empty() {
                let r = ec2.revoke_security_group_egress().group_id(id).set_ip_permissions(Some(egress));
                gone_ok(r.send().await.map_err(aws))?;
            }
        }
        for (id, _, _) in &groups {
            delete_group(ctx, &self.vpc, id).await?;
        }
        Ok(())
    }

    /// Kept with the mount targets that use them (`EfsMountTargets::keeps`).
    fn keeps(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }
}
