//! Controls on the network: the domain is VpcOnly in the stack's subnets,
//! every zone routes through its own NAT gateway and firewall endpoint, the
//! firewall enforces the allow-list, the endpoints' group admits TLS from
//! Studio.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{Route, RouteTable};
use aws_sdk_networkfirewall::types::{GeneratedRulesType, TargetType};
use aws_sdk_sagemaker::types::AppNetworkAccessType;

use super::Verdict;
use crate::error::aws;
use crate::kinds::{Ctx, ec2_filter};
use crate::step_id::StepId;

/// VpcOnly, in the stack's VPC and every zone's SageMaker subnet, with the
/// stack's security group.
pub(super) async fn domain_vpc_only(ctx: &Ctx) -> Verdict {
    let id = ctx.state.id(&StepId::DOMAIN)?;
    let (vpc, sg) = (ctx.state.id(&StepId::VPC)?, ctx.state.id(&StepId::SG_SAGEMAKER)?);
    let mut want_subnets = ctx.ids(&crate::graph::per_zone(&ctx.s, &StepId::SUBNET_SAGEMAKER))?;
    want_subnets.sort();
    let subnet = want_subnets.join(", ");
    let d = ctx
        .aws
        .sagemaker
        .describe_domain()
        .domain_id(&id)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading domain {id}"))?;
    let access = d.app_network_access_type().map(|a| a.as_str()).unwrap_or("unset");
    let mut subnets = d.subnet_ids().to_vec();
    subnets.sort();
    let groups = d.default_user_settings().map(|s| s.security_groups().to_vec()).unwrap_or_default();
    let mut problems = Vec::new();
    if access != AppNetworkAccessType::VpcOnly.as_str() {
        problems.push(format!("network access {access}, expected VpcOnly"));
    }
    if d.vpc_id() != Some(vpc.as_str()) {
        problems.push(format!("VPC {}, expected {vpc}", d.vpc_id().unwrap_or("none")));
    }
    if subnets != want_subnets {
        problems.push(format!("subnets {subnets:?}, expected [{subnet}]"));
    }
    if groups != [sg.clone()] {
        problems.push(format!("security groups {groups:?}, expected [{sg}]"));
    }
    Ok(if problems.is_empty() {
        (true, format!("{id}: VpcOnly in {vpc}, subnet {subnet}, security group {sg}"))
    } else {
        (false, format!("{id}: {}", problems.join("; ")))
    })
}

/// The three routing controls, from one read of the VPC's route tables and
/// the firewall's endpoint.
pub(super) async fn routes(ctx: &Ctx) -> Result<((bool, String), (bool, String), (bool, String))> {
    let vpc = ctx.state.id(&StepId::VPC)?;
    let out = ctx
        .aws
        .ec2
        .describe_route_tables()
        .filters(ec2_filter("vpc-id", &vpc))
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading the route tables of {vpc}"))?;
    let tables = out.route_tables();
    let igw = ctx.state.id(&StepId::IGW)?;
    let edge_table = tables.iter().find(|t| t.associations().iter().any(|a| a.gateway_id() == Some(igw.as_str())));
    // Every zone: its own NAT gateway and its own zone's firewall endpoint.
    let (mut sm, mut natr, mut edge) = (Vec::new(), Vec::new(), Vec::new());
    for (i, z) in ctx.s.zones.iter().enumerate() {
        let id = |base: &StepId| ctx.state.id(&base.in_zone(i, &z.az));
        let endpoint = firewall_endpoint(ctx, &z.az).await?;
        let nat = id(&StepId::NAT)?;
        sm.push(default_route_is(tables, &id(&StepId::SUBNET_SAGEMAKER)?, &nat, "the NAT gateway"));
        natr.push(default_route_is(tables, &id(&StepId::SUBNET_NAT)?, &endpoint, "the firewall endpoint"));
        let cidr = z.nat.to_string();
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
    Ok((all(sm), all(natr), all(edge)))
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
        .unwrap_or("nothing")
        .to_string()
}

/// The firewall's endpoint in availability zone `az`, as AWS reports it now.
async fn firewall_endpoint(ctx: &Ctx, az: &str) -> Result<String> {
    let arn = ctx.state.id(&StepId::FIREWALL)?;
    let out = ctx
        .aws
        .nfw
        .describe_firewall()
        .firewall_arn(&arn)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall {arn}"))?;
    out.firewall_status
        .and_then(|s| s.sync_states)
        .and_then(|s| s.get(az).and_then(|s| s.attachment.clone()))
        .and_then(|a| a.endpoint_id)
        .with_context(|| format!("firewall {arn} has no endpoint in {az}"))
}

/// The firewall uses the stack's policy, whose only stateful group is the
/// stack's rule group: an ALLOWLIST (HTTP_HOST and TLS_SNI) of exactly the
/// configured domains.
pub(super) async fn firewall_allow_list(ctx: &Ctx) -> Verdict {
    let (fw, policy, group) =
        (ctx.state.id(&StepId::FIREWALL)?, ctx.state.id(&StepId::FIREWALL_POLICY)?, ctx.state.id(&StepId::RULE_GROUP)?);
    let nfw = &ctx.aws.nfw;
    let f = nfw
        .describe_firewall()
        .firewall_arn(&fw)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall {fw}"))?;
    let used = f.firewall.map(|f| f.firewall_policy_arn).unwrap_or_default();
    if used != policy {
        return Ok((false, format!("firewall uses policy {used}, expected {policy}")));
    }
    let p = nfw
        .describe_firewall_policy()
        .firewall_policy_arn(&policy)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall policy {policy}"))?;
    let refs: Vec<String> = p
        .firewall_policy()
        .map(|p| p.stateful_rule_group_references().iter().map(|r| r.resource_arn().to_string()).collect())
        .unwrap_or_default();
    if refs != [group.clone()] {
        return Ok((false, format!("policy's stateful rule groups are {refs:?}, expected [{group}]")));
    }
    let out = nfw
        .describe_rule_group()
        .rule_group_arn(&group)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading rule group {group}"))?;
    let Some(list) = out.rule_group().and_then(|g| g.rules_source()).and_then(|s| s.rules_source_list()) else {
        return Ok((false, format!("{group} is not a domain list")));
    };
    let mut problems = Vec::new();
    if list.generated_rules_type() != &GeneratedRulesType::Allowlist {
        problems.push(format!("type {}, expected ALLOWLIST", list.generated_rules_type().as_str()));
    }
    let types: BTreeSet<&str> = list.target_types().iter().map(|t| t.as_str()).collect();
    let want_types = BTreeSet::from([TargetType::HttpHost.as_str(), TargetType::TlsSni.as_str()]);
    if types != want_types {
        problems.push(format!("target types {types:?}, expected HTTP_HOST and TLS_SNI"));
    }
    let (extra, missing) = super::super::firewall::difference(list.targets(), &ctx.s.allowed_domains);
    if !extra.is_empty() {
        problems.push(format!("allows {} (not configured)", extra.join(", ")));
    }
    if !missing.is_empty() {
        problems.push(format!("lacks configured {}", missing.join(", ")));
    }
    Ok(if problems.is_empty() {
        (true, format!("policy {policy} -> allow-list of {}", list.targets().join(", ")))
    } else {
        (false, format!("{group}: {}", problems.join("; ")))
    })
}

/// The endpoint security group admits TCP 443 from the SageMaker group.
pub(super) async fn endpoint_sg(ctx: &Ctx) -> Verdict {
    let (id, sm) = (ctx.state.id(&StepId::SG_VPCE)?, ctx.state.id(&StepId::SG_SAGEMAKER)?);
    let out = ctx
        .aws
        .ec2
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading security group {id}"))?;
    let admits = out.security_groups().iter().flat_map(|g| g.ip_permissions()).any(|p| {
        let proto = p.ip_protocol().unwrap_or_default();
        let port = proto == "-1"
            || (proto == "tcp" && p.from_port().unwrap_or(i32::MAX) <= 443 && p.to_port().unwrap_or(i32::MIN) >= 443);
        port && p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(sm.as_str()))
    });
    Ok(if admits {
        (true, format!("{id} admits tcp 443 from {sm}"))
    } else {
        (false, format!("{id} has no ingress rule admitting tcp 443 from {sm}"))
    })
}
