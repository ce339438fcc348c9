//! Route tables (`rtb.*`) and their associations (`rtb.*.assoc`): with a
//! subnet, or the edge association of `rtb.igw` with the internet gateway.
//! An association's id is the association id EC2 returns.

use anyhow::{Context, Result, bail};
use aws_sdk_ec2::types::ResourceType;

use super::Ctx;
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::graph::{AssocTarget, Spec, Step};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::retry_while;

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let out = ctx
        .aws
        .ec2
        .describe_route_tables()
        .set_filters(Some(ctx.ec2_tag_filters(&step.id)))
        .send()
        .await
        .map_err(aws)?;
    Ok(out.route_tables().iter().find_map(|t| t.route_table_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step, token: &str) -> Result<String> {
    let Spec::RouteTable { name } = &step.spec else { bail!("{} is not a route table", step.id) };
    let vpc = ctx.state.id("vpc")?;
    let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        ctx.aws
            .ec2
            .create_route_table()
            .vpc_id(&vpc)
            .client_token(token)
            .tag_specifications(ctx.ec2_tags(ResourceType::RouteTable, &step.id, Some(name)))
            .send()
            .await
            .map_err(aws)
    })
    .await?;
    out.route_table()
        .and_then(|t| t.route_table_id())
        .map(str::to_string)
        .context("CreateRouteTable returned no RouteTableId")
}

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let r = retry_while(super::DRAIN_BOUND, super::is_dependency_violation, || async {
        ctx.aws.ec2.delete_route_table().route_table_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}

fn assoc_parts(step: &Step) -> Result<(&str, &AssocTarget)> {
    match &step.spec {
        Spec::RouteTableAssoc { table, target } => Ok((table, target)),
        _ => bail!("{} is not a route table association", step.id),
    }
}

/// The association of our table with its target, if it exists.
pub async fn find_assoc(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let (table, target) = assoc_parts(step)?;
    let (table_id, target_id) = match target {
        AssocTarget::Subnet(s) | AssocTarget::Gateway(s) => (ctx.state.id(table)?, ctx.state.id(s)?),
    };
    let out = ctx.aws.ec2.describe_route_tables().route_table_ids(&table_id).send().await.map_err(aws)?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .find(|a| a.subnet_id() == Some(target_id.as_str()) || a.gateway_id() == Some(target_id.as_str()))
        .and_then(|a| a.route_table_association_id().map(str::to_string)))
}

pub async fn associate(ctx: &Ctx, step: &Step) -> Result<String> {
    let (table, target) = assoc_parts(step)?;
    let table_id = ctx.state.id(table)?;
    let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        let call = ctx.aws.ec2.associate_route_table().route_table_id(&table_id);
        let call = match target {
            AssocTarget::Subnet(s) => call.subnet_id(ctx.state.id(s)?),
            AssocTarget::Gateway(g) => call.gateway_id(ctx.state.id(g)?),
        };
        call.send().await.map_err(aws)
    })
    .await?;
    out.association_id().map(str::to_string).context("AssociateRouteTable returned no AssociationId")
}

pub async fn disassociate(ctx: &Ctx, id: &str) -> Result<()> {
    match ctx.aws.ec2.disassociate_route_table().association_id(id).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) || has_code(&e, &["InvalidAssociationID.NotFound"]) => Ok(()),
        r => r.map(|_| ()),
    }
}
