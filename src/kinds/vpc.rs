//! The VPC: CIDR, DNS support and hostnames on, Name `{project}-vpc`; its
//! default security group emptied (no ingress, no egress rule), so nothing
//! placed in the VPC without a group of its own can talk (AWS Foundational
//! Security Best Practices, control EC2.2: "VPC default security groups
//! should not allow inbound or outbound traffic"; VPC user guide, "Default
//! security groups for your VPCs": the default group allows all outbound
//! traffic and inbound from itself, and cannot be deleted, only emptied).

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SecurityGroup};

use super::leftover_enis::{Blocked, delete_draining};
use super::{Change, Ctx, Health, Kind, Property};
use crate::config::Settings;
use crate::error::{aws, gone_ok};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.vpc";

/// Every Vpc in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::Vpc>>>> {
    super::ec2_tagged::listed(ctx).await
}

#[derive(Debug)]
pub struct Vpc;

/// The VPC's default security group (group name `default`, which every VPC
/// has exactly one of: EC2 API reference, DescribeSecurityGroups).
/// From the pass's listing of security groups when there is one.
pub async fn default_group(ctx: &Ctx, vpc: &str) -> Result<SecurityGroup> {
    if let Some(all) = super::security_group::listed(ctx).await? {
        return all
            .iter()
            .find(|g| g.vpc_id() == Some(vpc) && g.group_name() == Some("default"))
            .cloned()
            .ok_or_else(|| NoDefaultGroup(vpc.to_string()).into());
    }
    let out = ctx
        .aws
        .ec2
        .describe_security_groups()
        .filters(super::ec2_filter("vpc-id", vpc))
        .filters(super::ec2_filter("group-name", "default"))
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading the default security group of {vpc}"))?;
    out.security_groups().first().cloned().ok_or_else(|| NoDefaultGroup(vpc.to_string()).into())
}

/// Revokes every rule of the VPC's default security group.
/// A VPC without its default security group in DescribeSecurityGroups: a
/// new VPC's, until it propagates (a filtered list leaves out what has not:
/// EC2 API reference, "Eventual consistency in the Amazon EC2 API").
#[derive(Debug)]
struct NoDefaultGroup(String);

impl std::fmt::Display for NoDefaultGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VPC {} has no default security group", self.0)
    }
}

impl std::error::Error for NoDefaultGroup {}

fn default_group_unseen(e: &anyhow::Error) -> bool {
    is_eventual_consistency(e) || e.downcast_ref::<NoDefaultGroup>().is_some()
}

async fn empty_default_group(ctx: &Ctx, vpc: &str) -> Result<()> {
    let g = retry_while(CONSISTENCY_BOUND, default_group_unseen, || default_group(ctx, vpc)).await?;
    let id = g.group_id().unwrap_or_default();
    if !g.ip_permissions().is_empty() {
        ctx.aws
            .ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(g.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("emptying the default security group {id} (ingress)"))?;
    }
    if !g.ip_permissions_egress().is_empty() {
        ctx.aws
            .ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(g.ip_permissions_egress().to_vec()))
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("emptying the default security group {id} (egress)"))?;
    }
    Ok(())
}

#[async_trait]
impl Kind for Vpc {
    fn name(&self) -> &'static str {
        "VPC"
    }

    /// A VPC's primary CIDR is fixed at CreateVpc (EC2 API reference: no
    /// call changes it; AssociateVpcCidrBlock only adds secondary ones).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        vec![Property::new("CIDR", "vpc_cidr", s.vpc_cidr, Change::Replace("a VPC's CIDR is fixed at CreateVpc"))]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::Vpc>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::Vpc>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let name = format!("{}-vpc", ctx.s.project);
        let out = ctx
            .aws
            .ec2
            .create_vpc()
            .cidr_block(ctx.s.vpc_cidr.to_string())
            .tag_specifications(ctx.ec2_tags(ResourceType::Vpc, me, Some(&name)))
            .send()
            .await
            .map_err(aws)?;
        out.vpc().and_then(|v| v.vpc_id()).map(str::to_string).context("CreateVpc returned no VpcId")
    }

    /// DNS support and hostnames, one attribute per call as EC2 requires,
    /// sent together. There is no wait for `available`: the VPC is on the
    /// critical path (vpc → subnet → firewall) and usable as soon as
    /// CreateVpc answers; dependents retry the brief eventual-consistency
    /// window. (New VPCs have DNS support on already, which hostnames require.)
    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let on = || AttributeBooleanValue::builder().value(true).build();
        let set = |support: bool| async move {
            retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
                let call = ctx.aws.ec2.modify_vpc_attribute().vpc_id(id);
                let call = if support { call.enable_dns_support(on()) } else { call.enable_dns_hostnames(on()) };
                call.send().await.map_err(aws)
            })
            .await
        };
        tokio::try_join!(set(true), set(false))?;
        empty_default_group(ctx, id).await
    }

    /// Rules in the default security group (AWS's, on a VPC of an earlier
    /// version, or added out of band): `up` revokes them.
    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let g = default_group(ctx, id).await?;
        let n = g.ip_permissions().len() + g.ip_permissions_egress().len();
        Ok(if n == 0 {
            Vec::new()
        } else {
            vec![format!(
                "default security group {} holds {n} rule(s); the stack's holds none",
                g.group_id().unwrap_or_default()
            )]
        })
    }

    fn restores_drift(&self) -> bool {
        true
    }

    async fn restore(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        empty_default_group(ctx, id).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.vpc_id(), id));
        }
        let r = ctx.aws.ec2.describe_vpcs().vpc_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.vpcs().is_empty())
    }

    /// DependencyViolation while ENIs and attachments drain is retried
    /// within the drain bound, sweeping the VPC's leftover ENIs each time.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let r = delete_draining(ctx, Some(id), Blocked::Vpc, || async {
            ctx.aws.ec2.delete_vpc().vpc_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::Vpc {
    const LISTING: &'static str = "ec2:DescribeVpcs";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_vpcs().into_paginator().items().send().try_collect().await.map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        Ok(ctx
            .aws
            .ec2
            .describe_vpcs()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(crate::error::aws)?
            .vpcs()
            .to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.vpc_id()
    }
}
