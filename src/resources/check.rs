//! `check`: is a recorded resource still there and healthy? Used by `up`
//! on every recorded step, so a resource deleted out of band is created
//! again and one in a failed state is replaced, instead of being trusted.
//! Read-only: one describe call per step.

use anyhow::Result;

use super::{Ctx, efs, kms, route, route_table, s3, sagemaker};
use crate::error::{aws, is_not_found};
use crate::graph::{Spec, Step};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Present,
    /// Gone (deleted out of band, or being deleted).
    Missing,
    /// Exists in a failed state: delete and create again.
    Failed(String),
}

fn present_unless_not_found<T>(r: Result<T>, exists: impl FnOnce(T) -> bool) -> Result<Health> {
    match r {
        Err(e) if is_not_found(&e) => Ok(Health::Missing),
        Err(e) => Err(e),
        Ok(v) => Ok(if exists(v) { Health::Present } else { Health::Missing }),
    }
}

pub async fn check(ctx: &Ctx, step: &Step, id: &str) -> Result<Health> {
    let ec2 = &ctx.aws.ec2;
    match &step.spec {
        Spec::Vpc => present_unless_not_found(ec2.describe_vpcs().vpc_ids(id).send().await.map_err(aws), |o| {
            !o.vpcs().is_empty()
        }),
        Spec::Subnet { .. } => {
            present_unless_not_found(ec2.describe_subnets().subnet_ids(id).send().await.map_err(aws), |o| {
                !o.subnets().is_empty()
            })
        }
        Spec::SecurityGroup(_) => {
            present_unless_not_found(ec2.describe_security_groups().group_ids(id).send().await.map_err(aws), |o| {
                !o.security_groups().is_empty()
            })
        }
        Spec::Eip { .. } => {
            present_unless_not_found(ec2.describe_addresses().allocation_ids(id).send().await.map_err(aws), |o| {
                !o.addresses().is_empty()
            })
        }
        Spec::InternetGateway => present_unless_not_found(
            ec2.describe_internet_gateways().internet_gateway_ids(id).send().await.map_err(aws),
            |o| !o.internet_gateways().is_empty(),
        ),
        Spec::IgwAttach => Ok(found(super::igw::find_attachment(ctx).await?.as_deref(), id)),
        Spec::NatGateway { .. } => super::nat::health(ctx, id).await,
        Spec::RuleGroup => present_unless_not_found(
            ctx.aws.nfw.describe_rule_group().rule_group_arn(id).send().await.map_err(aws),
            |_| true,
        ),
        Spec::FirewallPolicy => present_unless_not_found(
            ctx.aws.nfw.describe_firewall_policy().firewall_policy_arn(id).send().await.map_err(aws),
            |_| true,
        ),
        Spec::Firewall { .. } => super::firewall::health(ctx, id).await,
        Spec::RouteTable { .. } => {
            present_unless_not_found(ec2.describe_route_tables().route_table_ids(id).send().await.map_err(aws), |o| {
                !o.route_tables().is_empty()
            })
        }
        Spec::RouteTableAssoc { .. } => Ok(found(route_table::find_assoc(ctx, step).await?.as_deref(), id)),
        Spec::Route { .. } => Ok(found(route::find(ctx, step).await?.as_deref(), id)),
        Spec::VpceGateway { .. } | Spec::VpceInterface { .. } => super::vpc_endpoint::health(ctx, id).await,
        Spec::KmsKey(_) => kms::health(ctx, id).await,
        Spec::KmsAlias { .. } => Ok(found(kms::find_alias(ctx, step).await?.as_deref(), id)),
        Spec::Bucket { .. } => Ok(if s3::owned(ctx, id).await?.is_some() { Health::Present } else { Health::Missing }),
        Spec::IamPolicy => {
            present_unless_not_found(ctx.aws.iam.get_policy().policy_arn(id).send().await.map_err(aws), |_| true)
        }
        Spec::IamRole => present_unless_not_found(
            ctx.aws.iam.get_role().role_name(id.rsplit('/').next().unwrap_or(id)).send().await.map_err(aws),
            |_| true,
        ),
        Spec::Domain { .. } => sagemaker::domain_health(ctx, id).await,
        Spec::UserProfile { .. } => sagemaker::user_health(ctx, id).await,
        Spec::App { .. } => sagemaker::app_health(ctx, id).await,
        Spec::EfsMountTargets | Spec::EfsFileSystem => Ok(found(efs::find(ctx).await?.as_deref(), id)),
        Spec::NfsSecurityGroups => Ok(found(efs::find_nfs_groups(ctx).await?.as_deref(), id)),
    }
}

fn found(actual: Option<&str>, recorded: &str) -> Health {
    if actual == Some(recorded) { Health::Present } else { Health::Missing }
}
