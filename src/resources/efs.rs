//! What SageMaker creates on its own for a domain, removed by
//! `down --purge-efs`: the home-directory EFS (`efs.file_system`), its mount
//! targets and their ENIs (`efs.mount_target`, id = the file system id), and
//! the two NFS security groups (`sg.nfs`, id = the domain id), whose rules
//! reference each other and are revoked first. Leftover ENIs in the VPC are
//! swept once the mount targets are gone.

use anyhow::Result;
use aws_sdk_ec2::types::{IpPermission, NetworkInterfaceStatus};

use super::{Ctx, ec2_filter};
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::wait::{Poll, retry_while, until};

pub const SAGEMAKER_TAG: &str = "ManagedByAmazonSageMakerResource";

fn domain_id(ctx: &Ctx) -> Option<String> {
    ctx.state
        .record("sm.domain")
        .and_then(|r| r.id)
        .or_else(|| ctx.state.record("sg.nfs").and_then(|r| r.id))
        .or_else(|| ctx.state.attr("efs.file_system", "domain").ok())
}

/// The domain's EFS: recorded, or found by SageMaker's tag on it.
pub async fn find(ctx: &Ctx) -> Result<Option<String>> {
    if let Some(id) = ctx.state.attr("sm.domain", "home_efs").ok().filter(|s| !s.is_empty()) {
        return Ok(Some(id));
    }
    let Some(arn) = ctx.state.attr("sm.domain", "arn").ok() else {
        return Ok(None);
    };
    let out = ctx.aws.efs.describe_file_systems().send().await.map_err(aws)?;
    Ok(out
        .file_systems()
        .iter()
        .find(|f| f.tags().iter().any(|t| t.key() == SAGEMAKER_TAG && t.value() == arn))
        .map(|f| f.file_system_id().to_string()))
}

pub async fn find_nfs_groups(ctx: &Ctx) -> Result<Option<String>> {
    let Some(domain) = domain_id(ctx) else {
        return Ok(None);
    };
    Ok((!nfs_groups(ctx, &domain).await?.is_empty()).then_some(domain))
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

pub async fn delete_mount_targets(ctx: &Ctx, fs: &str) -> Result<()> {
    for (mt, state) in mount_targets(ctx, fs).await? {
        if state == "deleting" || state == "deleted" {
            continue;
        }
        match ctx.aws.efs.delete_mount_target().mount_target_id(&mt).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => {}
            r => {
                r?;
            }
        }
    }
    until("EFS mount targets deleted", Poll::expect(75, 15 * 60), || async {
        Ok(mount_targets(ctx, fs).await?.is_empty().then_some(()))
    })
    .await?;
    sweep_enis(ctx).await
}

/// ENIs left `available` in the stack's VPC (SageMaker apps, EFS) block the
/// subnet and VPC deletion.
async fn sweep_enis(ctx: &Ctx) -> Result<()> {
    let Ok(vpc) = ctx.state.id("vpc") else {
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
    for eni in out.network_interfaces() {
        if eni.status() != Some(&NetworkInterfaceStatus::Available) {
            continue;
        }
        let Some(id) = eni.network_interface_id() else {
            continue;
        };
        tracing::info!(eni = id, "deleting leftover network interface");
        match ctx.aws.ec2.delete_network_interface().network_interface_id(id).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => {}
            r => {
                r?;
            }
        }
    }
    Ok(())
}

pub async fn delete_file_system(ctx: &Ctx, fs: &str) -> Result<()> {
    let r = retry_while(
        super::DRAIN_BOUND,
        |e| has_code(e, &["FileSystemInUse"]),
        || async { ctx.aws.efs.delete_file_system().file_system_id(fs).send().await.map_err(aws) },
    )
    .await;
    match r {
        Err(e) if is_not_found(&e) => return Ok(()),
        r => {
            r?;
        }
    }
    until("EFS file system deleted", Poll::expect(10, 10 * 60), || async {
        match ctx.aws.efs.describe_file_systems().file_system_id(fs).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(Some(())),
            Err(e) => Err(e),
            Ok(o) => Ok(o.file_systems().is_empty().then_some(())),
        }
    })
    .await
}

pub fn nfs_group_names(domain: &str) -> [String; 2] {
    [format!("security-group-for-inbound-nfs-{domain}"), format!("security-group-for-outbound-nfs-{domain}")]
}

/// (group id, ingress rules, egress rules) of the domain's NFS groups.
async fn nfs_groups(ctx: &Ctx, domain: &str) -> Result<Vec<(String, Vec<IpPermission>, Vec<IpPermission>)>> {
    let [inbound, outbound] = nfs_group_names(domain);
    let mut call = ctx
        .aws
        .ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values(inbound).values(outbound).build());
    if let Ok(vpc) = ctx.state.id("vpc") {
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

/// Revokes the rules that reference another group, then deletes both groups.
pub async fn delete_nfs_groups(ctx: &Ctx, domain: &str) -> Result<()> {
    let groups = nfs_groups(ctx, domain).await?;
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
        super::security_group::delete_group(ctx, id).await?;
    }
    Ok(())
}
