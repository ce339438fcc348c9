//! The internet gateway and its attachment to the VPC (two steps: `igw`,
//! `igw.attach`; the attachment's id is `{igw}|{vpc}`).

use anyhow::{Context, Result, anyhow};
use aws_sdk_ec2::types::ResourceType;

use super::{Ctx, DRAIN_BOUND, is_dependency_violation};
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::graph::Step;
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::retry_while;

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let out = ctx
        .aws
        .ec2
        .describe_internet_gateways()
        .set_filters(Some(ctx.ec2_tag_filters(&step.id)))
        .send()
        .await
        .map_err(aws)?;
    Ok(out.internet_gateways().iter().find_map(|g| g.internet_gateway_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let name = format!("igw-{}", ctx.s.project);
    let out = ctx
        .aws
        .ec2
        .create_internet_gateway()
        .tag_specifications(ctx.ec2_tags(ResourceType::InternetGateway, &step.id, Some(&name)))
        .send()
        .await
        .map_err(aws)?;
    out.internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .map(str::to_string)
        .context("CreateInternetGateway returned no InternetGatewayId")
}

/// The attachment exists if the gateway is attached to our VPC.
pub async fn find_attachment(ctx: &Ctx) -> Result<Option<String>> {
    let (igw, vpc) = (ctx.state.id("igw")?, ctx.state.id("vpc")?);
    let out = ctx.aws.ec2.describe_internet_gateways().internet_gateway_ids(&igw).send().await.map_err(aws)?;
    let attached =
        out.internet_gateways().iter().flat_map(|g| g.attachments()).any(|a| a.vpc_id() == Some(vpc.as_str()));
    Ok(attached.then(|| format!("{igw}|{vpc}")))
}

pub async fn attach(ctx: &Ctx) -> Result<String> {
    let (igw, vpc) = (ctx.state.id("igw")?, ctx.state.id("vpc")?);
    let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        ctx.aws.ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.map_err(aws)
    })
    .await;
    match r {
        Err(e) if has_code(&e, &["Resource.AlreadyAssociated"]) => {}
        r => {
            r?;
        }
    }
    Ok(format!("{igw}|{vpc}"))
}

fn split(id: &str) -> Result<(&str, &str)> {
    id.split_once('|').ok_or_else(|| anyhow!("malformed attachment id '{id}' (want igw|vpc)"))
}

/// Detaching fails with DependencyViolation while the VPC still has mapped
/// public addresses (the NAT gateway's EIP); it drains after NAT deletion.
pub async fn detach(ctx: &Ctx, id: &str) -> Result<()> {
    let (igw, vpc) = split(id)?;
    let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
        ctx.aws.ec2.detach_internet_gateway().internet_gateway_id(igw).vpc_id(vpc).send().await.map_err(aws)
    })
    .await;
    match r {
        Err(e) if is_not_found(&e) || has_code(&e, &["Gateway.NotAttached"]) => Ok(()),
        r => r.map(|_| ()),
    }
}

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
        ctx.aws.ec2.delete_internet_gateway().internet_gateway_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}
