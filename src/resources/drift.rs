//! Drift: differences between a resource's cheap-to-read properties and
//! what the stack specifies (route targets, bucket and endpoint policies,
//! security group rules, the firewall allow-list). `status` reports them;
//! `up` restores the ones it owns outright (routes, policies, rules).

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::Value;

use super::{Ctx, s3, vpc_endpoint};
use crate::error::aws;
use crate::graph::{RouteTarget, Spec, Step};

fn parse_policy(doc: &str) -> Option<Value> {
    serde_json::from_str(doc).ok()
}

/// Differences in the properties that are cheap to read.
pub async fn drift(ctx: &Ctx, step: &Step, id: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let missing = missing_members(ctx, step, id).await?;
    if !missing.is_empty() {
        out.push(format!("not yet in the zones' {}: {}", member_kind(step), missing.join(", ")));
    }
    match &step.spec {
        Spec::Route { table, destination, target } => {
            let want = super::route::target_id(ctx, target)?;
            let t =
                ctx.aws.ec2.describe_route_tables().route_table_ids(ctx.state.id(table)?).send().await.map_err(aws)?;
            let found = t
                .route_tables()
                .iter()
                .flat_map(|t| t.routes())
                .find(|r| r.destination_cidr_block() == Some(destination));
            if let Some(r) = found {
                let actual = r
                    .gateway_id()
                    .or(r.nat_gateway_id())
                    .or(r.network_interface_id())
                    .or(r.transit_gateway_id())
                    .unwrap_or("nothing");
                if actual != want {
                    let kind = match target {
                        RouteTarget::InternetGateway => "the internet gateway",
                        RouteTarget::NatGateway { .. } => "the NAT gateway",
                        RouteTarget::FirewallEndpoint { .. } => "the firewall endpoint",
                    };
                    out.push(format!("route {destination} goes to {actual}, expected {kind} {want}"));
                }
            }
        }
        Spec::Bucket { .. } => {
            let vpce = ctx.state.id("vpce.s3")?;
            let want = s3::bucket_policy(id, &vpce);
            match ctx.aws.s3.get_bucket_policy().bucket(id).send().await.map_err(aws) {
                Err(e) if crate::error::has_code(&e, &["NoSuchBucketPolicy"]) => {
                    out.push("bucket policy removed".into())
                }
                Err(e) => return Err(e),
                Ok(p) => {
                    if p.policy().and_then(parse_policy) != Some(want) {
                        out.push("bucket policy differs from the stack's deny-unless-endpoint policy".into());
                    }
                }
            }
        }
        Spec::VpceGateway { .. } => {
            let e = ctx.aws.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws)?;
            let actual = e.vpc_endpoints().first().and_then(|e| e.policy_document()).and_then(parse_policy);
            if actual != Some(vpc_endpoint::s3_policy(ctx)) {
                out.push("S3 endpoint policy differs from the stack's two-bucket policy".into());
            }
        }
        Spec::SecurityGroup(role) => {
            let g = ctx.aws.ec2.describe_security_groups().group_ids(id).send().await.map_err(aws)?;
            let Some(g) = g.security_groups().first() else {
                return Ok(out);
            };
            let actual: BTreeSet<String> = g.ip_permissions().iter().flat_map(rule_strings).collect();
            let want: BTreeSet<String> =
                super::security_group::rules(ctx, *role, id)?.iter().flat_map(rule_strings).collect();
            for extra in actual.difference(&want) {
                out.push(format!("ingress rule added: {extra}"));
            }
            for missing in want.difference(&actual) {
                out.push(format!("ingress rule removed: {missing}"));
            }
        }
        Spec::RuleGroup => {
            let rg = ctx.aws.nfw.describe_rule_group().rule_group_arn(id).send().await.map_err(aws)?;
            let targets: BTreeSet<String> = rg
                .rule_group()
                .and_then(|g| g.rules_source())
                .and_then(|s| s.rules_source_list())
                .map(|l| l.targets().iter().cloned().collect())
                .unwrap_or_default();
            let want: BTreeSet<String> = ctx.s.allowed_domains.iter().cloned().collect();
            if targets != want {
                let added: Vec<&String> = targets.difference(&want).collect();
                let removed: Vec<&String> = want.difference(&targets).collect();
                out.push(format!("allow-list differs from allowed_domains: added {added:?}, removed {removed:?}"));
            }
        }
        _ => {}
    }
    Ok(out)
}

/// "proto from-to from source" for each source of an ingress rule.
pub fn rule_strings(p: &aws_sdk_ec2::types::IpPermission) -> Vec<String> {
    let proto = p.ip_protocol().unwrap_or_default();
    let ports = match (p.from_port(), p.to_port()) {
        (Some(f), Some(t)) if proto != "-1" => format!(" {f}-{t}"),
        _ => String::new(),
    };
    let mut out = Vec::new();
    for g in p.user_id_group_pairs() {
        out.push(format!("{proto}{ports} from {}", g.group_id().unwrap_or_default()));
    }
    for r in p.ip_ranges() {
        out.push(format!("{proto}{ports} from {}", r.cidr_ip().unwrap_or_default()));
    }
    out
}

fn member_kind(step: &Step) -> &'static str {
    match step.spec {
        Spec::VpceGateway { .. } => "route tables",
        _ => "subnets",
    }
}

/// For resources spanning every zone (firewall mappings, endpoint subnets or
/// route tables, domain subnets): the recorded ids of the zones' members the
/// resource does not have yet — a zone added to a live stack.
pub async fn missing_members(ctx: &Ctx, step: &Step, id: &str) -> Result<Vec<String>> {
    let (wanted, actual): (&Vec<String>, Vec<String>) = match &step.spec {
        Spec::Firewall { subnets } => {
            let f = ctx.aws.nfw.describe_firewall().firewall_arn(id).send().await.map_err(aws)?;
            let have = f.firewall().map(|f| f.subnet_mappings().iter().map(|m| m.subnet_id().to_string()).collect());
            (subnets, have.unwrap_or_default())
        }
        Spec::VpceInterface { subnets, .. } | Spec::VpceGateway { route_tables: subnets } => {
            let e = ctx.aws.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws)?;
            let have = e.vpc_endpoints().first().map(|e| match step.spec {
                Spec::VpceGateway { .. } => e.route_table_ids().to_vec(),
                _ => e.subnet_ids().to_vec(),
            });
            (subnets, have.unwrap_or_default())
        }
        Spec::Domain { subnets } => {
            let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
            (subnets, d.subnet_ids().to_vec())
        }
        _ => return Ok(Vec::new()),
    };
    let mut missing = Vec::new();
    for member in wanted {
        // A member not recorded yet is being created in this run: not drift.
        if let Ok(mid) = ctx.state.id(member)
            && !actual.contains(&mid)
        {
            missing.push(mid);
        }
    }
    Ok(missing)
}
