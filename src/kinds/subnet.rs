//! Subnets: CIDR, availability zone, Name.

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use ipnet::Ipv4Net;

use super::leftover_enis::{Blocked, delete_draining};
use super::{Ctx, Health, Kind, efs_keeps};
use crate::error::{aws, gone_ok};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// Every Subnet in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::Subnet>>>> {
    ctx.reads
        .cached("ec2:DescribeSubnets", || async {
            ctx.aws.ec2.describe_subnets().into_paginator().items().send().try_collect().await.map_err(aws)
        })
        .await
}

#[derive(Debug)]
pub struct Subnet {
    pub vpc: StepId,
    pub cidr: Ipv4Net,
    pub name: String,
    pub az: String,
    /// A SageMaker subnet: it holds an EFS mount target, so `down` keeps it
    /// while the EFS is retained.
    pub holds_efs: bool,
}

#[async_trait]
impl Kind for Subnet {
    fn name(&self) -> &'static str {
        "subnet"
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        Ok(self.list_owned(ctx, me).await?.and_then(|ids| ids.into_iter().next()))
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        if let Some(all) = listed(ctx).await? {
            return Ok(Some(super::owned_in(ctx, me, all.iter(), |x| x.tags(), |x| x.subnet_id())));
        }
        let filters = ctx.ec2_tag_filters(me);
        let out = ctx.aws.ec2.describe_subnets().set_filters(Some(filters)).send().await.map_err(aws)?;
        // The tags are checked here too: a filter an endpoint ignores must not adopt another step's resource.
        let ours = out.subnets().iter().filter(|x| ctx.tagged_as(me, super::ec2_tag_pairs(x.tags())));
        Ok(Some(ours.filter_map(|x| x.subnet_id().map(str::to_string)).collect()))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let vpc = ctx.state.id(&self.vpc)?;
        let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(self.cidr.to_string())
                .availability_zone(&self.az)
                .tag_specifications(ctx.ec2_tags(ResourceType::Subnet, me, Some(&self.name)))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        out.subnet().and_then(|s| s.subnet_id()).map(str::to_string).context("CreateSubnet returned no SubnetId")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.subnet_id(), id));
        }
        let r = ctx.aws.ec2.describe_subnets().subnet_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.subnets().is_empty())
    }

    /// DependencyViolation while ENIs drain is retried within the drain
    /// bound, sweeping the subnet's leftover ENIs each time (`leftover_enis`).
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let vpc = ctx.state.id(&self.vpc).ok();
        let r = delete_draining(ctx, vpc.as_deref(), Blocked::Subnet(id), || async {
            ctx.aws.ec2.delete_subnet().subnet_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }

    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(if self.holds_efs { efs_keeps(ctx) } else { None })
    }
}
