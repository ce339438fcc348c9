//! The paths out of the SageMaker subnets, as `verify` prints them for an
//! auditor: each route of each zone's SageMaker route table (read live),
//! what the traffic goes through, and what allows it; then DNS. What is
//! judged is the controls' business; this says where traffic can go.

use anyhow::Result;

use crate::kinds::Ctx;
use crate::step_id::StepId;

/// One line per path, indented under its subnet.
pub(super) async fn paths(ctx: &Ctx) -> Result<Vec<String>> {
    let vpc = ctx.state.id(&StepId::VPC)?;
    let out = super::routes::route_tables(ctx, &vpc).await?;
    let group = ctx.state.id(&StepId::RULE_GROUP).unwrap_or_default();
    let policy = ctx.state.id(&StepId::FIREWALL_POLICY).unwrap_or_default();
    let firewall = ctx.state.id(&StepId::FIREWALL).unwrap_or_default();
    let igw = ctx.state.id(&StepId::IGW).unwrap_or_default();
    let vpce_s3 = ctx.state.id(&StepId::VPCE_S3).unwrap_or_default();
    let jumpstart = crate::kinds::vpc_endpoint::jumpstart_enabled(ctx);
    let interface: Vec<String> = crate::graph::INTERFACE_ENDPOINTS
        .iter()
        .filter_map(|(step, _, _, with_policy)| {
            let id = ctx.state.id(step).ok()?;
            Some(format!("{step} {id}{}", if *with_policy { "" } else { " (AWS's default policy)" }))
        })
        .collect();
    let mut lines = Vec::new();
    for (i, z) in ctx.s.zones.iter().enumerate() {
        let subnet = ctx.state.id(&StepId::SUBNET_SAGEMAKER.in_zone(i, &z.az))?;
        let table = out.route_tables().iter().find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(&subnet)));
        let Some(t) = table else {
            lines.push(format!("{subnet} ({}): no route table of its own (the VPC's main table)", z.az));
            continue;
        };
        lines.push(format!("{subnet} ({}) via {}:", z.az, t.route_table_id().unwrap_or_default()));
        let endpoint =
            ctx.state.attr(&StepId::FIREWALL, &crate::kinds::firewall::endpoint_attr(&z.az)).unwrap_or_default();
        for r in t.routes() {
            let dest = r
                .destination_cidr_block()
                .or(r.destination_ipv6_cidr_block())
                .or(r.destination_prefix_list_id())
                .unwrap_or("?");
            let target = r.gateway_id().or(r.nat_gateway_id()).or(r.network_interface_id()).unwrap_or("?");
            let line = if target == "local" {
                format!(
                    "  {dest} -> the VPC itself: the interface endpoints ({}), private DNS; allowed by sg.vpce \
                     (tcp 443 from sg.sagemaker) and each endpoint's policy (principals of account {} only)",
                    interface.join(", "),
                    ctx.account
                )
            } else if target.starts_with("nat-") {
                format!(
                    "  {dest} -> NAT gateway {target} -> firewall {firewall} endpoint {endpoint} -> internet gateway \
                     {igw}: allowed by rule group {group} (TLS SNI / HTTP Host) for {}; everything else dropped and \
                     alerted (policy {policy}: STRICT_ORDER, aws:drop_established)",
                    ctx.s.allowed_domains.join(", ")
                )
            } else if target == vpce_s3 {
                format!(
                    "  {dest} (S3) -> gateway endpoint {target}: allowed by its policy: the two buckets (principals \
                     of account {}), ECR's layer bucket read-only{}",
                    ctx.account,
                    if jumpstart { ", JumpStart objects tagged SageMaker=true" } else { "" }
                )
            } else {
                format!("  {dest} -> {target}: not a route of the stack (see routes.no_extra)")
            };
            lines.push(line);
        }
    }
    let resolver = ctx.s.vpc_cidr.hosts().nth(1).map(|a| a.to_string()).unwrap_or_else(|| "the VPC base + 2".into());
    lines.push(format!(
        "DNS -> the VPC resolver ({resolver}, Route 53 Resolver): answered inside AWS, not through the NAT gateway \
         or the firewall; a query to any other resolver goes the 0.0.0.0/0 path and is dropped"
    ));
    Ok(lines)
}
