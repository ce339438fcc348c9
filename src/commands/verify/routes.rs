//! The routing controls: every zone's SageMaker and NAT subnets route
//! through their own NAT gateway and firewall endpoint, the internet
//! gateway's edge routes return through them, and the stack's tables hold
//! only the routes the graph declares.

use super::data::no_extra;
use crate::error::aws;
use crate::kinds::route::RouteTarget;
use crate::kinds::route_table::RouteTable as StackTable;
use crate::kinds::vpc_endpoint::{Flavor, VpcEndpoint};
use crate::kinds::{Ctx, ec2_filter};
use crate::step_id::StepId;
use anyhow::{Context, Result};
use aws_sdk_ec2::types::{Route, RouteTable};

/// The routing controls, from one read of the VPC's route tables and the
/// firewall's endpoints: each zone's SageMaker and NAT subnet default
/// routes, the internet gateway's edge routes, and (`routes.no_extra`) that
/// the stack's tables hold no other route.
pub(super) async fn routes(ctx: &Ctx) -> Result<[(bool, String); 4]> {
    let vpc = ctx.state.id(&StepId::VPC)?;
    let out = route_tables(ctx, &vpc).await?;
    let tables = out.route_tables();
    let igw = ctx.state.id(&StepId::IGW)?;
    let edge_table = tables.iter().find(|t| t.associations().iter().any(|a| a.gateway_id() == Some(igw.as_str())));
    // The routes the graph declares, read as AWS names their targets now.
    let expected = declared(ctx).await?;
    let declared_to = |table: &StepId, dest: &str| -> Result<String> {
        expected
            .iter()
            .filter(|t| t.table == *table)
            .flat_map(|t| &t.routes)
            .find(|(d, _)| d == dest)
            .map(|(_, target)| target.clone())
            .with_context(|| format!("the stack declares no route to {dest} in {table}"))
    };
    // Every zone: its own NAT gateway and its own zone's firewall endpoint.
    let (mut sm, mut natr, mut edge) = (Vec::new(), Vec::new(), Vec::new());
    for (i, z) in ctx.s.zones.iter().enumerate() {
        let step = |base: &StepId| base.in_zone(i, &z.az);
        let id = |base: &StepId| ctx.state.id(&step(base));
        let nat = declared_to(&step(&StepId::RTB_SAGEMAKER), "0.0.0.0/0")?;
        let endpoint = declared_to(&step(&StepId::RTB_NAT), "0.0.0.0/0")?;
        sm.push(default_route_is(tables, &id(&StepId::SUBNET_SAGEMAKER)?, &nat, "the NAT gateway"));
        natr.push(default_route_is(tables, &id(&StepId::SUBNET_NAT)?, &endpoint, "the firewall endpoint"));
        let cidr = z.nat.to_string();
        let endpoint = declared_to(&StepId::RTB_IGW, &cidr)?;
        edge.push(match edge_table {
            None => (false, format!("no route table is edge-associated with {igw}")),
            Some(t) => {
                let tid = t.route_table_id().unwrap_or_default();
                match t.routes().iter().find(|r| r.destination_cidr_block() == Some(cidr.as_str())) {
                    Some(r) if target(r) == endpoint => {
                        (true, format!("{tid} (edge of {igw}): {cidr} -> firewall endpoint {endpoint} ({})", z.az))
                    }
                    Some(r) => (
                        false,
                        format!(
                            "{tid} (edge of {igw}): {cidr} -> {}, expected the firewall endpoint {endpoint} of {}",
                            target(r),
                            z.az
                        ),
                    ),
                    None => (false, format!("{tid} (edge of {igw}): no route for {cidr}")),
                }
            }
        });
    }
    let all = |v: Vec<(bool, String)>| {
        let pass = v.iter().all(|(p, _)| *p);
        let evidence: Vec<String> = v.into_iter().filter(|(p, _)| pass || !*p).map(|(_, e)| e).collect();
        (pass, evidence.join("; "))
    };
    let no_extra_routes = extra_routes(ctx, tables, &expected)?;
    Ok([all(sm), all(natr), all(edge), no_extra_routes])
}

/// DescribeRouteTables of the VPC, once per `verify` (`Reads::read`: the
/// routing controls and the paths read the same answer).
pub(super) async fn route_tables(
    ctx: &Ctx,
    vpc: &str,
) -> Result<std::sync::Arc<aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput>> {
    let load =
        || async { ctx.aws.ec2.describe_route_tables().filters(ec2_filter("vpc-id", vpc)).send().await.map_err(aws) };
    ctx.reads
        .read(&format!("ec2:DescribeRouteTables {vpc}"), load)
        .await
        .with_context(|| format!("reading the route tables of {vpc}"))
}

/// The routes a table of the stack holds besides the VPC's local route, as
/// the graph declares them: (destination, target) pairs.
struct TableRoutes {
    table: StepId,
    /// The control an extra route in this table weakens.
    weakens: &'static str,
    routes: Vec<(String, String)>,
}

/// Stands for the S3 endpoint's prefix list among expected destinations: a
/// gateway endpoint's route can only be for its own service's prefix list.
const S3_PREFIX_LIST: &str = "the S3 prefix list";

/// The control an extra route in `table` weakens.
fn weakens(table: &StepId) -> &'static str {
    if table.is_zone_of(&StepId::RTB_FIREWALL) {
        "firewall.allow_list"
    } else if table.is_zone_of(&StepId::RTB_NAT) {
        "route.nat_default"
    } else if table.is_zone_of(&StepId::RTB_SAGEMAKER) {
        "route.sagemaker_default"
    } else {
        "route.igw_edge"
    }
}

/// The routes the graph declares for the stack's settings (its `route.*`
/// steps and the S3 gateway endpoint's), per table, with their targets as
/// AWS names them now: the firewall's endpoints read live, the rest from
/// the state. Every table of the graph is listed, with or without routes.
async fn declared(ctx: &Ctx) -> Result<Vec<TableRoutes>> {
    let graph = crate::graph::build(&ctx.s);
    let mut out: Vec<TableRoutes> = graph
        .steps
        .iter()
        .filter(|s| s.kind_as::<StackTable>().is_some() || s.id == StepId::RTB_IGW)
        .map(|s| TableRoutes { table: s.id.clone(), weakens: weakens(&s.id), routes: Vec::new() })
        .collect();
    let mut add = |table: &StepId, route: (String, String)| match out.iter_mut().find(|t| t.table == *table) {
        Some(t) => t.routes.push(route),
        None => out.push(TableRoutes { table: table.clone(), weakens: weakens(table), routes: vec![route] }),
    };
    for step in &graph.steps {
        if let Some(r) = step.kind_as::<crate::kinds::route::Route>() {
            let target = match &r.target {
                RouteTarget::FirewallEndpoint { az, .. } => firewall_endpoint(ctx, az).await?,
                RouteTarget::InternetGateway { igw, .. } => ctx.state.id(igw)?,
                RouteTarget::NatGateway { nat } => ctx.state.id(nat)?,
            };
            add(&r.table, (r.destination.clone(), target));
        } else if let Some(VpcEndpoint { flavor: Flavor::Gateway { route_tables }, .. }) = step.kind_as() {
            let endpoint = ctx.state.id(&step.id)?;
            for table in route_tables {
                add(table, (S3_PREFIX_LIST.to_string(), endpoint.clone()));
            }
        }
    }
    Ok(out)
}

/// Every route of the stack's tables is the VPC's local route or an
/// expected one; each other is an extra, named with the control it weakens.
fn extra_routes(ctx: &Ctx, tables: &[RouteTable], expected: &[TableRoutes]) -> Result<(bool, String)> {
    let local = (ctx.s.vpc_cidr.to_string(), "local".to_string());
    let (mut extras, mut checked) = (Vec::new(), 0);
    for TableRoutes { table: step, weakens, routes: want } in expected {
        let id = ctx.state.id(step)?;
        let Some(t) = tables.iter().find(|t| t.route_table_id() == Some(id.as_str())) else {
            extras.push(format!("{step} ({id}): not found in the VPC"));
            continue;
        };
        checked += 1;
        for r in t.routes() {
            let dest =
                match (r.destination_cidr_block(), r.destination_ipv6_cidr_block(), r.destination_prefix_list_id()) {
                    (Some(c), _, _) | (None, Some(c), _) => c.to_string(),
                    (None, None, Some(_)) => S3_PREFIX_LIST.to_string(),
                    _ => "no destination".to_string(),
                };
            let found = (dest, target(r));
            if found == local || want.contains(&found) {
                continue;
            }
            let shown = r.destination_prefix_list_id().map(str::to_string).unwrap_or(found.0);
            extras.push(format!("{step} ({id}): extra route {shown} -> {} (weakens {weakens})", found.1));
        }
    }
    let found = vec![format!(
        "{checked} route tables in {} zone(s): the local route and the stack's routes only (each SageMaker table: \
         and the S3 endpoint's)",
        ctx.s.zones.len()
    )];
    Ok(no_extra(found, extras))
}

/// The subnet's route table has exactly one default route, to `want`.
fn default_route_is(tables: &[RouteTable], subnet: &str, want: &str, what: &str) -> (bool, String) {
    let explicit = tables.iter().find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet)));
    let Some(t) = explicit else {
        return (false, format!("{subnet} has no route table of its own (it uses the VPC's main table)"));
    };
    let id = t.route_table_id().unwrap_or_default();
    let defaults: Vec<String> = t
        .routes()
        .iter()
        .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0") || r.destination_ipv6_cidr_block() == Some("::/0"))
        .map(|r| {
            format!(
                "{} -> {}",
                r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).unwrap_or_default(),
                target(r)
            )
        })
        .collect();
    let good = defaults == [format!("0.0.0.0/0 -> {want}")];
    if good {
        (true, format!("{subnet} via {id}: 0.0.0.0/0 -> {what} {want}"))
    } else {
        (
            false,
            format!(
                "{subnet} via {id}: default routes [{}], expected only 0.0.0.0/0 -> {what} {want}",
                defaults.join(", ")
            ),
        )
    }
}

/// What a route points at (AWS reports firewall endpoints as GatewayId).
fn target(r: &Route) -> String {
    r.gateway_id()
        .or(r.nat_gateway_id())
        .or(r.network_interface_id())
        .or(r.transit_gateway_id())
        .or(r.vpc_peering_connection_id())
        .or(r.instance_id())
        .or(r.egress_only_internet_gateway_id())
        .or(r.carrier_gateway_id())
        .or(r.local_gateway_id())
        .or(r.core_network_arn())
        .unwrap_or("nothing")
        .to_string()
}

/// The firewall's endpoint in availability zone `az`, as AWS reports it now.
async fn firewall_endpoint(ctx: &Ctx, az: &str) -> Result<String> {
    let arn = ctx.state.id(&StepId::FIREWALL)?;
    let out = crate::kinds::firewall::described(ctx, &arn).await.with_context(|| format!("reading firewall {arn}"))?;
    out.firewall_status
        .clone()
        .and_then(|s| s.sync_states)
        .and_then(|s| s.get(az).and_then(|s| s.attachment.clone()))
        .and_then(|a| a.endpoint_id)
        .with_context(|| format!("firewall {arn} has no endpoint in {az}"))
}
