//! Routes (`route.*`): a destination in a table to the internet gateway, the
//! NAT gateway, or the firewall endpoint of an availability zone. A route's
//! id is `{table}|{destination}`.

use anyhow::{Result, anyhow, bail};

use super::Ctx;
use crate::error::{aws, has_code, is_not_found};
use crate::graph::{RouteTarget, Spec, Step};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::retry_while;

fn parts(step: &Step) -> Result<(&str, &str, &RouteTarget)> {
    match &step.spec {
        Spec::Route { table, destination, target } => Ok((table, destination, target)),
        _ => bail!("{} is not a route", step.id),
    }
}

/// The id of what the route must point at.
pub fn target_id(ctx: &Ctx, target: &RouteTarget) -> Result<String> {
    match target {
        RouteTarget::InternetGateway => ctx.state.id("igw"),
        RouteTarget::NatGateway { nat } => ctx.state.id(nat),
        RouteTarget::FirewallEndpoint { az } => ctx.state.attr("nfw.firewall", &format!("endpoint.{az}")),
    }
}

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let (table, dest, target) = parts(step)?;
    let (table_id, want) = (ctx.state.id(table)?, target_id(ctx, target)?);
    let out = ctx.aws.ec2.describe_route_tables().route_table_ids(&table_id).send().await.map_err(aws)?;
    let exists = out.route_tables().iter().flat_map(|t| t.routes()).any(|r| {
        r.destination_cidr_block() == Some(dest) && [r.gateway_id(), r.nat_gateway_id()].contains(&Some(want.as_str()))
    });
    Ok(exists.then(|| format!("{table_id}|{dest}")))
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let (table, dest, target) = parts(step)?;
    let (table_id, want) = (ctx.state.id(table)?, target_id(ctx, target)?);
    let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        let call = ctx.aws.ec2.create_route().route_table_id(&table_id).destination_cidr_block(dest);
        let call = match target {
            RouteTarget::InternetGateway => call.gateway_id(&want),
            RouteTarget::NatGateway { .. } => call.nat_gateway_id(&want),
            RouteTarget::FirewallEndpoint { .. } => call.vpc_endpoint_id(&want),
        };
        call.send().await.map_err(aws)
    })
    .await;
    match r {
        // A route to the same destination already exists: point it at ours.
        Err(e) if has_code(&e, &["RouteAlreadyExists"]) => {
            let call = ctx.aws.ec2.replace_route().route_table_id(&table_id).destination_cidr_block(dest);
            let call = match target {
                RouteTarget::InternetGateway => call.gateway_id(&want),
                RouteTarget::NatGateway { .. } => call.nat_gateway_id(&want),
                RouteTarget::FirewallEndpoint { .. } => call.vpc_endpoint_id(&want),
            };
            call.send().await.map_err(aws)?;
        }
        r => {
            r?;
        }
    }
    Ok(format!("{table_id}|{dest}"))
}

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let (table, dest) = id.split_once('|').ok_or_else(|| anyhow!("malformed route id '{id}'"))?;
    match ctx.aws.ec2.delete_route().route_table_id(table).destination_cidr_block(dest).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) || has_code(&e, &["InvalidRoute.NotFound"]) => Ok(()),
        r => r.map(|_| ()),
    }
}
