//! The VPC: CIDR, DNS support and hostnames on, Name `{project}-vpc`.

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::{Ctx, DRAIN_BOUND, is_dependency_violation};
use crate::error::{aws, gone_ok};
use crate::graph::Step;
use crate::wait::retry_while;

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let out = ctx.aws.ec2.describe_vpcs().set_filters(Some(ctx.ec2_tag_filters(&step.id))).send().await.map_err(aws)?;
    Ok(out.vpcs().iter().find_map(|v| v.vpc_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let name = format!("{}-vpc", ctx.s.project);
    let out = ctx
        .aws
        .ec2
        .create_vpc()
        .cidr_block(ctx.s.vpc_cidr.to_string())
        .tag_specifications(ctx.ec2_tags(ResourceType::Vpc, &step.id, Some(&name)))
        .send()
        .await
        .map_err(aws)?;
    out.vpc().and_then(|v| v.vpc_id()).map(str::to_string).context("CreateVpc returned no VpcId")
}

/// DNS attributes (one per call, as EC2 requires), then wait for `available`.
/// DNS support and hostnames, one attribute per call as EC2 requires, sent
/// together: the VPC is on the critical path (vpc → subnet → firewall), so
/// no round trip is spent on it that its dependents do not need. (New VPCs
/// have DNS support on already, which hostnames require; a VPC is usable
/// as soon as CreateVpc answers, and dependents retry the brief eventual
/// consistency window.)
pub async fn settle(ctx: &Ctx, id: &str) -> Result<()> {
    let on = || AttributeBooleanValue::builder().value(true).build();
    let set = |support: bool| async move {
        retry_while(crate::retry::CONSISTENCY_BOUND, crate::retry::is_eventual_consistency, || async {
            let call = ctx.aws.ec2.modify_vpc_attribute().vpc_id(id);
            let call = if support { call.enable_dns_support(on()) } else { call.enable_dns_hostnames(on()) };
            call.send().await.map_err(aws)
        })
        .await
    };
    tokio::try_join!(set(true), set(false))?;
    Ok(())
}

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
        ctx.aws.ec2.delete_vpc().vpc_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}
