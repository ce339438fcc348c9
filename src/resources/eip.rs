//! The NAT gateway's Elastic IP (domain vpc).

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::Ctx;
use crate::error::{aws, gone_ok};
use crate::graph::{Spec, Step};
use crate::wait::retry_while;

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let out =
        ctx.aws.ec2.describe_addresses().set_filters(Some(ctx.ec2_tag_filters(&step.id))).send().await.map_err(aws)?;
    Ok(out.addresses().iter().find_map(|a| a.allocation_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let Spec::Eip { name } = &step.spec else { anyhow::bail!("{} is not an Elastic IP", step.id) };
    let out = ctx
        .aws
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(ctx.ec2_tags(ResourceType::ElasticIp, &step.id, Some(name)))
        .send()
        .await
        .map_err(aws)?;
    out.allocation_id().map(str::to_string).context("AllocateAddress returned no AllocationId")
}

/// Released once the NAT gateway is deleted; the association can linger a
/// moment after the NAT gateway reports `deleted`.
pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let r = retry_while(super::DRAIN_BOUND, is_address_in_use, || async {
        ctx.aws.ec2.release_address().allocation_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}

fn is_address_in_use(e: &anyhow::Error) -> bool {
    crate::error::has_code(e, &["InvalidIPAddress.InUse"])
}
