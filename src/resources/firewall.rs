//! Network Firewall: the stateful domain allow-list rule group
//! (`nfw.rule_group`), the policy (`nfw.policy`) and the firewall
//! (`nfw.firewall`). Ids are ARNs. The firewall's per-AZ endpoint ids are
//! recorded as attributes `endpoint.{az}` once READY.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use aws_sdk_networkfirewall::types::{
    FirewallPolicy, FirewallStatusValue, GeneratedRulesType, IpSet, RuleGroup, RuleGroupType, RuleVariables,
    RulesSource, RulesSourceList, StatefulRuleGroupReference, SubnetMapping, Tag, TargetType,
};

use super::check::Health;
use super::{Ctx, TAG_STACK, TAG_STEP};
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::graph::{Spec, Step};
use crate::wait::{Poll, retry_while, until};

pub fn rule_group_name(ctx: &Ctx) -> String {
    format!("domain-allow-{}", ctx.s.project)
}
pub fn policy_name(ctx: &Ctx) -> String {
    format!("network-firewall-policy-{}", ctx.s.project)
}
pub fn firewall_name(ctx: &Ctx) -> String {
    format!("network-firewall-{}", ctx.s.project)
}

fn tags(ctx: &Ctx, step: &Step) -> Vec<Tag> {
    ctx.tags(&step.id, None)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
        .collect()
}

/// By unique name (names are unique per account and region); the stack tag
/// must match, so another stack's resource of the same name is never adopted.
pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let nfw = &ctx.aws.nfw;
    let (arn, tags) = match step.spec {
        Spec::RuleGroup => {
            match nfw
                .describe_rule_group()
                .rule_group_name(rule_group_name(ctx))
                .r#type(RuleGroupType::Stateful)
                .send()
                .await
                .map_err(aws)
            {
                Err(e) if is_not_found(&e) => return Ok(None),
                r => {
                    let r = r?.rule_group_response;
                    let r = r.context("DescribeRuleGroup returned no RuleGroupResponse")?;
                    (r.rule_group_arn, r.tags.unwrap_or_default())
                }
            }
        }
        Spec::FirewallPolicy => {
            match nfw.describe_firewall_policy().firewall_policy_name(policy_name(ctx)).send().await.map_err(aws) {
                Err(e) if is_not_found(&e) => return Ok(None),
                r => {
                    let r = r?.firewall_policy_response.context("no FirewallPolicyResponse")?;
                    (r.firewall_policy_arn, r.tags.unwrap_or_default())
                }
            }
        }
        Spec::Firewall { .. } => {
            match nfw.describe_firewall().firewall_name(firewall_name(ctx)).send().await.map_err(aws) {
                Err(e) if is_not_found(&e) => return Ok(None),
                r => {
                    let f = r?.firewall.context("DescribeFirewall returned no Firewall")?;
                    (f.firewall_arn.unwrap_or_default(), f.tags.unwrap_or_default())
                }
            }
        }
        _ => bail!("{} is not a Network Firewall resource", step.id),
    };
    let ours = tags.iter().any(|t| t.key == TAG_STACK && t.value == ctx.stack())
        && tags.iter().any(|t| t.key == TAG_STEP && t.value == step.id);
    if !ours {
        bail!(
            "a {} named by this stack already exists ({arn}) but is not tagged as this stack's {}; refusing to adopt it",
            step.kind_name(),
            step.id
        );
    }
    Ok(Some(arn))
}

pub fn rule_group_body(ctx: &Ctx) -> Result<RuleGroup> {
    let home = IpSet::builder().definition(ctx.s.vpc_cidr.to_string()).build()?;
    let list = RulesSourceList::builder()
        .set_targets(Some(ctx.s.allowed_domains.clone()))
        .target_types(TargetType::HttpHost)
        .target_types(TargetType::TlsSni)
        .generated_rules_type(GeneratedRulesType::Allowlist)
        .build()?;
    Ok(RuleGroup::builder()
        .rule_variables(
            RuleVariables::builder().set_ip_sets(Some(HashMap::from([("HOME_NET".to_string(), home)]))).build(),
        )
        .rules_source(RulesSource::builder().rules_source_list(list).build())
        .build())
}

pub async fn create_rule_group(ctx: &Ctx, step: &Step) -> Result<String> {
    let out = ctx
        .aws
        .nfw
        .create_rule_group()
        .rule_group_name(rule_group_name(ctx))
        .r#type(RuleGroupType::Stateful)
        .capacity(100)
        .rule_group(rule_group_body(ctx)?)
        .set_tags(Some(tags(ctx, step)))
        .send()
        .await
        .map_err(aws)?;
    Ok(out.rule_group_response.context("CreateRuleGroup returned no RuleGroupResponse")?.rule_group_arn)
}

pub async fn create_policy(ctx: &Ctx, step: &Step) -> Result<String> {
    let group = ctx.state.id("nfw.rule_group")?;
    let policy = FirewallPolicy::builder()
        .stateless_default_actions("aws:forward_to_sfe")
        .stateless_fragment_default_actions("aws:pass")
        .stateful_rule_group_references(StatefulRuleGroupReference::builder().resource_arn(group).build()?)
        .build()?;
    let out = ctx
        .aws
        .nfw
        .create_firewall_policy()
        .firewall_policy_name(policy_name(ctx))
        .firewall_policy(policy)
        .set_tags(Some(tags(ctx, step)))
        .send()
        .await
        .map_err(aws)?;
    Ok(out.firewall_policy_response.context("CreateFirewallPolicy returned no response")?.firewall_policy_arn)
}

pub async fn create_firewall(ctx: &Ctx, step: &Step) -> Result<String> {
    let Spec::Firewall { subnets } = &step.spec else { bail!("{} is not a firewall", step.id) };
    let (policy, vpc) = (ctx.state.id("nfw.policy")?, ctx.state.id("vpc")?);
    let mappings = ctx
        .ids(subnets)?
        .into_iter()
        .map(|s| SubnetMapping::builder().subnet_id(s).build())
        .collect::<Result<Vec<_>, _>>()?;
    let out = ctx
        .aws
        .nfw
        .create_firewall()
        .firewall_name(firewall_name(ctx))
        .firewall_policy_arn(policy)
        .vpc_id(vpc)
        .set_subnet_mappings(Some(mappings))
        .delete_protection(false)
        .subnet_change_protection(false)
        .firewall_policy_change_protection(false)
        .set_tags(Some(tags(ctx, step)))
        .send()
        .await
        .map_err(aws)?;
    out.firewall.and_then(|f| f.firewall_arn).context("CreateFirewall returned no FirewallArn")
}

/// READY, and the endpoint of every zone's AZ READY; records each endpoint
/// id as `endpoint.{az}` (routes read them by zone, never "the first").
pub async fn wait_ready(ctx: &Ctx, step: &Step, arn: &str) -> Result<()> {
    let azs: Vec<String> = ctx.s.zones.iter().map(|z| z.az.clone()).collect();
    let endpoints = until("firewall READY with its endpoints", Poll::expect(330, 30 * 60), || async {
        let out = ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws)?;
        let Some(status) = out.firewall_status else {
            return Ok(None);
        };
        crate::progress::observed(status.status.as_str());
        if status.status == FirewallStatusValue::Deleting {
            bail!("firewall {arn} is being deleted (deleted out of band?)");
        }
        if status.status != FirewallStatusValue::Ready {
            return Ok(None);
        }
        let sync = status.sync_states.unwrap_or_default();
        let mut found = Vec::new();
        for az in &azs {
            let Some(att) = sync.get(az).and_then(|s| s.attachment.as_ref()) else { return Ok(None) };
            match (att.status.as_ref().map(|s| s.as_str()), &att.endpoint_id) {
                (Some("READY"), Some(e)) => found.push((format!("endpoint.{az}"), e.clone())),
                _ => return Ok(None),
            }
        }
        Ok(Some(found))
    })
    .await?;
    let attrs: Vec<(&str, String)> = endpoints.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    ctx.state.ready(&step.id, &attrs)
}

pub async fn health(ctx: &Ctx, arn: &str) -> Result<Health> {
    match ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(Health::Missing),
        Err(e) => Err(e),
        Ok(o) => Ok(match o.firewall_status.map(|s| s.status) {
            Some(FirewallStatusValue::Deleting) => Health::Missing,
            _ => Health::Present,
        }),
    }
}

pub async fn delete_firewall(ctx: &Ctx, arn: &str) -> Result<()> {
    match ctx.aws.nfw.delete_firewall().firewall_arn(arn).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        r => {
            r?;
        }
    }
    until("firewall deleted", Poll::expect(450, 30 * 60), || async {
        match ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(Some(())),
            Err(e) => Err(e),
            Ok(_) => Ok(None),
        }
    })
    .await
}

/// A policy or group still referenced (the firewall's deletion settling)
/// is refused with InvalidOperationException for a moment.
fn in_use(e: &anyhow::Error) -> bool {
    has_code(e, &["InvalidOperationException"])
}

/// How long a reference may take to clear after its holder is deleted.
const REFERENCE_BOUND: std::time::Duration = std::time::Duration::from_secs(5 * 60);

pub async fn delete_policy(ctx: &Ctx, arn: &str) -> Result<()> {
    let r = retry_while(REFERENCE_BOUND, in_use, || async {
        ctx.aws.nfw.delete_firewall_policy().firewall_policy_arn(arn).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}

pub async fn delete_rule_group(ctx: &Ctx, arn: &str) -> Result<()> {
    let r = retry_while(REFERENCE_BOUND, in_use, || async {
        ctx.aws.nfw.delete_rule_group().rule_group_arn(arn).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}

/// The domains of the rule group's allow-list, its whole body and the token
/// its next update must carry.
pub async fn read_allow_list(ctx: &Ctx, arn: &str) -> Result<(Vec<String>, RuleGroup, String)> {
    let out = ctx
        .aws
        .nfw
        .describe_rule_group()
        .rule_group_arn(arn)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading rule group {arn}"))?;
    let group = out.rule_group.with_context(|| format!("DescribeRuleGroup returned no RuleGroup for {arn}"))?;
    let domains = group
        .rules_source()
        .and_then(|s| s.rules_source_list())
        .map(|l| l.targets().to_vec())
        .with_context(|| format!("rule group {arn} has no domain list (RulesSourceList)"))?;
    Ok((domains, group, out.update_token))
}

/// How many times an allow-list edit reads the group again after another
/// writer made its UpdateToken stale.
const TOKEN_ATTEMPTS: u32 = 5;

/// Edits the allow-list: reads the group and its UpdateToken, applies `edit`
/// to the live list and writes the whole group back. Network Firewall
/// refuses an update whose token another update made stale
/// (InvalidTokenException): the group is then read again and `edit` applied
/// to the fresh list, so the other writer's change is kept, up to
/// `TOKEN_ATTEMPTS` times. Nothing is written when `edit` changes nothing.
/// Returns the list before and after the edit.
pub async fn edit_allow_list(
    ctx: &Ctx,
    arn: &str,
    mut edit: impl FnMut(&[String]) -> Result<Vec<String>>,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut attempt = 1;
    loop {
        let (before, mut group, token) = read_allow_list(ctx, arn).await?;
        let after = edit(&before)?;
        if after == before {
            return Ok((before, after));
        }
        if let Some(list) = group.rules_source.as_mut().and_then(|s| s.rules_source_list.as_mut()) {
            list.targets = after.clone();
        }
        let r = ctx
            .aws
            .nfw
            .update_rule_group()
            .rule_group_arn(arn)
            .update_token(token)
            .rule_group(group)
            .send()
            .await
            .map_err(aws);
        match r {
            Ok(_) => return Ok((before, after)),
            Err(e) if has_code(&e, &["InvalidTokenException"]) && attempt < TOKEN_ATTEMPTS => {
                eprintln!(
                    "rule group {arn} changed since it was read (stale UpdateToken); reading it again (attempt {} of {TOKEN_ATTEMPTS})",
                    attempt + 1
                );
                attempt += 1;
                crate::wait::sleep(std::time::Duration::from_millis(500 * attempt as u64)).await;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("updating the allow-list of rule group {arn} (attempt {attempt})"));
            }
        }
    }
}

/// Maps the firewall to subnets of zones added to a live stack, then waits
/// until every zone's endpoint is READY (recording the new endpoints).
pub async fn associate_subnets(ctx: &Ctx, step: &Step, arn: &str, subnets: Vec<String>) -> Result<()> {
    if !subnets.is_empty() {
        let mappings =
            subnets.iter().map(|s| SubnetMapping::builder().subnet_id(s).build()).collect::<Result<Vec<_>, _>>()?;
        ctx.aws
            .nfw
            .associate_subnets()
            .firewall_arn(arn)
            .set_subnet_mappings(Some(mappings))
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("mapping firewall {arn} to subnets {}", subnets.join(", ")))?;
    }
    wait_ready(ctx, step, arn).await
}
