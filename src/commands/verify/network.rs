//! Controls on the network: the domain is VpcOnly in the stack's subnets,
//! the firewall enforces the allow-list and drops the rest, the endpoints'
//! group admits TLS from Studio, the stack's security groups hold no rule
//! beyond the stack's, and each subnet tier's network ACL holds exactly its
//! flows. The routes are `routes`'.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use aws_sdk_ec2::types::SecurityGroup;
use aws_sdk_networkfirewall::types::{GeneratedRulesType, TargetType};
use aws_sdk_sagemaker::types::AppNetworkAccessType;

use super::Verdict;
use super::data::no_extra;
use crate::error::aws;
use crate::kinds::Ctx;
use crate::kinds::network_acl::Tier;
use crate::kinds::security_group::{SgRole, default_egress, egress_strings, ingress_rules, rule_strings};
use crate::step_id::StepId;

/// VpcOnly, in the stack's VPC and every zone's SageMaker subnet, with the
/// stack's security group.
pub(super) async fn domain_vpc_only(ctx: &Ctx) -> Verdict {
    let id = ctx.state.id(&StepId::DOMAIN)?;
    let (vpc, sg) = (ctx.state.id(&StepId::VPC)?, ctx.state.id(&StepId::SG_SAGEMAKER)?);
    let mut want_subnets = ctx.ids(&crate::graph::per_zone(&ctx.s, &StepId::SUBNET_SAGEMAKER))?;
    want_subnets.sort();
    let subnet = want_subnets.join(", ");
    let d = crate::kinds::domain::described(ctx, &id).await.with_context(|| format!("reading domain {id}"))?;
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

/// The firewall uses the stack's policy, whose only stateful group is the
/// stack's rule group: an ALLOWLIST (HTTP_HOST and TLS_SNI) of exactly the
/// configured domains.
pub(super) async fn firewall_allow_list(ctx: &Ctx) -> Verdict {
    let (fw, policy, group) =
        (ctx.state.id(&StepId::FIREWALL)?, ctx.state.id(&StepId::FIREWALL_POLICY)?, ctx.state.id(&StepId::RULE_GROUP)?);
    let nfw = &ctx.aws.nfw;
    let f = crate::kinds::firewall::described(ctx, &fw).await.with_context(|| format!("reading firewall {fw}"))?;
    let used = f.firewall.as_ref().map(|f| f.firewall_policy_arn.clone()).unwrap_or_default();
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
    // Configured or not, a suffix of all of AWS is a way out past the endpoints' policies.
    let wide: Vec<&String> =
        list.targets().iter().filter(|t| crate::config::AWS_WIDE_SUFFIXES.contains(&t.as_str())).collect();
    if !wide.is_empty() {
        problems.push(format!(
            "allows {}, which admits every AWS endpoint of every region (`provision firewall remove` it)",
            wide.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(if problems.is_empty() {
        (true, format!("policy {policy} -> allow-list of {}", list.targets().join(", ")))
    } else {
        (false, format!("{group}: {}", problems.join("; ")))
    })
}

/// From one read of the firewall's policy: `firewall.default_drop` (STRICT_ORDER,
/// and what the domain list does not pass dropped and alerted, on every
/// protocol) and `firewall.no_stateless_bypass` (every packet, fragments
/// too, forwarded to the stateful engine; no stateless rule group, whose
/// pass rule would let a protocol by the domain list). What each checks is
/// `kinds::firewall_policy::differences`, which `up` restores.
pub(super) async fn firewall_policy(ctx: &Ctx) -> Result<[(bool, String); 2]> {
    use crate::kinds::firewall_policy::{FORWARD, STATEFUL_DEFAULTS, differences};
    let (fw, group) = (ctx.state.id(&StepId::FIREWALL)?, ctx.state.id(&StepId::RULE_GROUP)?);
    let f = crate::kinds::firewall::described(ctx, &fw).await.with_context(|| format!("reading firewall {fw}"))?;
    let policy = f.firewall().map(|f| f.firewall_policy_arn().to_string()).unwrap_or_default();
    let out = ctx
        .aws
        .nfw
        .describe_firewall_policy()
        .firewall_policy_arn(&policy)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall policy {policy}"))?;
    let p = out.firewall_policy().with_context(|| format!("no FirewallPolicy in the answer for {policy}"))?;
    let found = differences(p, &group);
    let verdict = |control: &str, good: String| {
        let bad: Vec<&str> = found.iter().filter(|(c, _)| *c == control).map(|(_, d)| d.as_str()).collect();
        if bad.is_empty() {
            (true, format!("{policy}: {good}"))
        } else {
            (false, format!("{policy}: {} (weakens {control})", bad.join("; ")))
        }
    };
    Ok([
        verdict(
            "firewall.default_drop",
            format!("STRICT_ORDER; the domain list the only pass, then {}", STATEFUL_DEFAULTS.join(" + ")),
        ),
        verdict("firewall.no_stateless_bypass", format!("no stateless rule group; packets and fragments {FORWARD}")),
    ])
}

/// The VPC's default security group holds no rule (`kinds::vpc`): a
/// resource placed in the VPC without a group of its own reaches nothing.
pub(super) async fn default_group_empty(ctx: &Ctx) -> Verdict {
    let vpc = ctx.state.id(&StepId::VPC)?;
    let g = crate::kinds::vpc::default_group(ctx, &vpc).await?;
    let id = g.group_id().unwrap_or_default();
    let rules: Vec<String> = g
        .ip_permissions()
        .iter()
        .flat_map(rule_strings)
        .map(|r| format!("ingress {r}"))
        .chain(g.ip_permissions_egress().iter().flat_map(egress_strings).map(|r| format!("egress {r}")))
        .collect();
    Ok(if rules.is_empty() {
        (true, format!("{id} (default of {vpc}): no rule"))
    } else {
        (false, format!("{id} (default of {vpc}): {} (weakens vpc.default_sg_empty)", rules.join(", ")))
    })
}

/// From one read of the stack's two security groups: the endpoint group
/// admits TCP 443 from the SageMaker group (`sg.vpce_tls`), and neither
/// group has a rule beyond the stack's (`sg.vpce_rules`,
/// `sg.sagemaker_rules`): ingress as the spec lists it, egress AWS's
/// default (all traffic to 0.0.0.0/0), which the tool leaves as it is.
pub(super) async fn security_groups(ctx: &Ctx) -> Result<[(bool, String); 3]> {
    let (vpce, sm) = (ctx.state.id(&StepId::SG_VPCE)?, ctx.state.id(&StepId::SG_SAGEMAKER)?);
    // The pass's listing of every group (the default group's control reads it too).
    let all: Vec<SecurityGroup> = match crate::kinds::security_group::listed(ctx).await? {
        Some(all) => all.to_vec(),
        None => ctx
            .aws
            .ec2
            .describe_security_groups()
            .group_ids(&vpce)
            .group_ids(&sm)
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("reading security groups {vpce} and {sm}"))?
            .security_groups()
            .to_vec(),
    };
    let group = |id: &str| {
        all.iter().find(|g| g.group_id() == Some(id)).with_context(|| format!("security group {id} not found"))
    };
    let (vpce_group, sm_group) = (group(&vpce)?, group(&sm)?);
    let vpce_role = SgRole::Vpce { sagemaker: StepId::SG_SAGEMAKER };
    Ok([
        endpoint_sg(vpce_group, &vpce, &sm),
        group_rules(ctx, &StepId::SG_VPCE, vpce_group, &vpce_role, "sg.vpce_tls")?,
        group_rules(ctx, &StepId::SG_SAGEMAKER, sm_group, &SgRole::Sagemaker, "domain.vpc_only")?,
    ])
}

/// The endpoint security group admits TCP 443 from the SageMaker group.
fn endpoint_sg(g: &SecurityGroup, id: &str, sm: &str) -> (bool, String) {
    let admits = g.ip_permissions().iter().any(|p| {
        let proto = p.ip_protocol().unwrap_or_default();
        let port = proto == "-1"
            || (proto == "tcp" && p.from_port().unwrap_or(i32::MAX) <= 443 && p.to_port().unwrap_or(i32::MIN) >= 443);
        port && p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(sm))
    });
    if admits {
        (true, format!("{id} admits tcp 443 from {sm}"))
    } else {
        (false, format!("{id} has no ingress rule admitting tcp 443 from {sm}"))
    }
}

/// Every ingress rule of the group is one the stack specifies for `role`,
/// every egress rule AWS's default; each other rule is an extra.
fn group_rules(ctx: &Ctx, step: &StepId, g: &SecurityGroup, role: &SgRole, weakens: &str) -> Result<(bool, String)> {
    let id = g.group_id().unwrap_or_default();
    let want_in: BTreeSet<String> = ingress_rules(ctx, role, id)?.iter().flat_map(rule_strings).collect();
    let want_out: BTreeSet<String> = default_egress().iter().flat_map(egress_strings).collect();
    let live_in: BTreeSet<String> = g.ip_permissions().iter().flat_map(rule_strings).collect();
    let live_out: BTreeSet<String> = g.ip_permissions_egress().iter().flat_map(egress_strings).collect();
    let extras: Vec<String> = live_in
        .difference(&want_in)
        .map(|r| format!("{step}: extra ingress {r} (weakens {weakens})"))
        .chain(live_out.difference(&want_out).map(|r| format!("{step}: extra egress {r} (weakens {weakens})")))
        .collect();
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    let found = format!("{step} ({id}): ingress [{}], egress [{}] only", list(&live_in), list(&live_out));
    Ok(no_extra(vec![found], extras))
}

/// A subnet tier's network ACL control (`Tier::control`): every zone's
/// subnet of the tier is associated with the stack's ACL for it
/// (`nacl.sagemaker`, `nacl.nat`, `nacl.firewall`), not the VPC's default
/// one (which allows all traffic both ways), and its entries are exactly
/// the tier's flows (`kinds::network_acl`, `Tier::entries`): an entry
/// missing, changed or added, or a subnet on another ACL, fails it.
/// `vpc.nacl_restricted` is the SageMaker subnets', `vpc.nacl_nat` the NAT
/// subnets', `vpc.nacl_firewall` the firewall subnets'.
pub(super) async fn nacl_restricted(ctx: &Ctx, tier: Tier) -> Verdict {
    use crate::kinds::network_acl::{differences, wanted};
    let id = ctx.state.id(&tier.step())?;
    let subnets = ctx.ids(&crate::graph::per_zone(&ctx.s, &tier.subnet()))?;
    let problems = differences(ctx, tier, &id, &subnets).await.with_context(|| format!("reading network ACL {id}"))?;
    Ok(if problems.is_empty() {
        (
            true,
            format!(
                "{id} ({}) on {}: {} entries, {} only",
                tier.step(),
                subnets.join(", "),
                wanted(ctx, tier).len(),
                tier.flows()
            ),
        )
    } else {
        (false, format!("{id}: {} (weakens {})", problems.join("; "), tier.control()))
    })
}
