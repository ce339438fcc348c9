//! Subnets: CIDR, availability zone, Name.

use anyhow::{Context, Result, bail};
use aws_sdk_ec2::types::ResourceType;

use super::{Ctx, DRAIN_BOUND, is_dependency_violation};
use crate::error::{aws, gone_ok};
use crate::graph::{Spec, Step};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::retry_while;

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let out =
        ctx.aws.ec2.describe_subnets().set_filters(Some(ctx.ec2_tag_filters(&step.id))).send().await.map_err(aws)?;
    Ok(out.subnets().iter().find_map(|s| s.subnet_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let Spec::Subnet { cidr, name, az } = &step.spec else { bail!("{} is not a subnet", step.id) };
    let vpc = ctx.state.id("vpc")?;
    let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        ctx.aws
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr.to_string())
            .availability_zone(az)
            .tag_specifications(ctx.ec2_tags(ResourceType::Subnet, &step.id, Some(name)))
            .send()
            .await
            .map_err(aws)
    })
    .await?;
    out.subnet().and_then(|s| s.subnet_id()).map(str::to_string).context("CreateSubnet returned no SubnetId")
}

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
        ctx.aws.ec2.delete_subnet().subnet_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}
