//! The Network Firewall stateful rule group (`nfw.rule_group`): an
//! ALLOWLIST of `allowed_domains` for HTTP_HOST and TLS_SNI, HOME_NET the
//! VPC CIDR, in STRICT_ORDER (the policy's order: "The settings for your
//! rule groups must match the settings for the firewall policy that they
//! belong to", Network Firewall developer guide, "Rule evaluation order").
//! A group of the previous version (default action order) is replaced by
//! the policy's restore (`firewall_policy`): AWS cannot change a group's
//! rule order in place. Id = ARN (name-based, so a replacement keeps it). The allow-list is `provision firewall`'s to edit
//! (`edit_allow_list`) and `status`'s to report; `up` does not restore it.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_networkfirewall::types::{
    GeneratedRulesType, IpSet, RuleGroup as RuleGroupBody, RuleGroupType, RuleOrder, RuleVariables, RulesSource,
    RulesSourceList, StatefulRuleOptions, TargetType,
};

use super::firewall::{REFERENCE_BOUND, adopt_nfw, in_use, nfw_tags};
use super::{Change, Ctx, Health, Kind, NameUse, PropChange, Property, accepted};
use crate::config::Settings;
use crate::error::{aws, found, has_code, is_not_found};
use crate::latency::delete_s;
use crate::step_id::StepId;
use crate::wait::{Poll, retry_attempts, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "nfw.rule_group";

/// DescribeRuleGroup of `arn`, once per read-only pass (`Reads::read`).
pub(crate) async fn described(
    ctx: &Ctx,
    arn: &str,
) -> Result<std::sync::Arc<aws_sdk_networkfirewall::operation::describe_rule_group::DescribeRuleGroupOutput>> {
    let load = || async { ctx.aws.nfw.describe_rule_group().rule_group_arn(arn).send().await.map_err(aws) };
    ctx.reads.read(&format!("network-firewall:DescribeRuleGroup {arn}"), load).await
}

#[derive(Debug)]
pub struct RuleGroup;

pub fn rule_group_name(ctx: &Ctx) -> String {
    format!("domain-allow-{}", ctx.s.project)
}

/// The rule order of a group as AWS reports it: unset is
/// DEFAULT_ACTION_ORDER (botocore's network-firewall model,
/// StatefulRuleOptions.RuleOrder).
pub fn group_order(g: &RuleGroupBody) -> RuleOrder {
    g.stateful_rule_options().and_then(|o| o.rule_order()).cloned().unwrap_or(RuleOrder::DefaultActionOrder)
}

fn body(ctx: &Ctx, targets: Vec<String>) -> Result<RuleGroupBody> {
    let home = IpSet::builder().definition(ctx.s.vpc_cidr.to_string()).build()?;
    let list = RulesSourceList::builder()
        .set_targets(Some(targets))
        .target_types(TargetType::HttpHost)
        .target_types(TargetType::TlsSni)
        .generated_rules_type(GeneratedRulesType::Allowlist)
        .build()?;
    Ok(RuleGroupBody::builder()
        .rule_variables(
            RuleVariables::builder().set_ip_sets(Some(HashMap::from([("HOME_NET".to_string(), home)]))).build(),
        )
        .rules_source(RulesSource::builder().rules_source_list(list).build())
        .stateful_rule_options(StatefulRuleOptions::builder().rule_order(RuleOrder::StrictOrder).build())
        .build())
}

/// CreateRuleGroup of the stack's group (tagged as step `me`) with the
/// domain list `targets`: the first create, and the replacement of a
/// group of the previous rule order, which keeps the live list.
pub async fn create_group(ctx: &Ctx, me: &StepId, targets: Vec<String>) -> Result<String> {
    let out = ctx
        .aws
        .nfw
        .create_rule_group()
        .rule_group_name(rule_group_name(ctx))
        .r#type(RuleGroupType::Stateful)
        .capacity(100)
        .rule_group(body(ctx, targets)?)
        .set_tags(Some(nfw_tags(ctx, me)))
        .send()
        .await
        .map_err(aws)?;
    Ok(out.rule_group_response.context("CreateRuleGroup returned no RuleGroupResponse")?.rule_group_arn)
}

/// The domains of the rule group's allow-list, its whole body and the
/// token its next update must carry.
pub async fn read_allow_list(ctx: &Ctx, arn: &str) -> Result<(Vec<String>, RuleGroupBody, String)> {
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

fn stale_token(e: &anyhow::Error) -> bool {
    has_code(e, &["InvalidTokenException"])
}

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
    edit: impl Fn(&[String]) -> Result<Vec<String>>,
) -> Result<(Vec<String>, Vec<String>)> {
    retry_attempts(TOKEN_ATTEMPTS, stale_token, |attempt| {
        let edit = &edit;
        async move {
            if attempt > 1 {
                crate::progress::note(&format!(
                    "rule group {arn} changed since it was read (stale UpdateToken); reading it again (attempt {attempt} of {TOKEN_ATTEMPTS})"
                ));
            }
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
                Ok(_) => Ok((before, after)),
                Err(e) if stale_token(&e) => Err(e),
                Err(e) => {
                    Err(e).with_context(|| format!("updating the allow-list of rule group {arn} (attempt {attempt})"))
                }
            }
        }
    })
    .await
}

#[async_trait]
impl Kind for RuleGroup {
    fn name(&self) -> &'static str {
        "Network Firewall rule group"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    /// By unique name (names are unique per account and region); adopted
    /// only when its tags say it is this stack's.
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let r = ctx
            .aws
            .nfw
            .describe_rule_group()
            .rule_group_name(rule_group_name(ctx))
            .r#type(RuleGroupType::Stateful)
            .send()
            .await
            .map_err(aws);
        let Some(r) = found(r)? else { return Ok(None) };
        let r = r.rule_group_response.context("DescribeRuleGroup returned no RuleGroupResponse")?;
        adopt_nfw(ctx, me, self.name(), r.rule_group_arn, r.tags)
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        let r = ctx
            .aws
            .nfw
            .describe_rule_group()
            .rule_group_name(rule_group_name(ctx))
            .r#type(RuleGroupType::Stateful)
            .send()
            .await;
        match r.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(NameUse::Free),
            Err(e) => Err(e),
            Ok(out) => {
                let r = out.rule_group_response.context("no description in the answer")?;
                let tags = r.tags.unwrap_or_default();
                let tags = tags.iter().map(|t| (t.key.as_str(), t.value.as_str()));
                Ok(NameUse::of_tags(ctx, format!("rule group {}", r.rule_group_arn), "--project", tags))
            }
        }
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        create_group(ctx, me, ctx.s.allowed_domains.clone()).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(described(ctx, id).await, |_| true)
    }

    /// A deleted rule group is DELETING for a while and keeps its name: the
    /// delete is done when DescribeRuleGroup no longer finds it, so an `up`
    /// right after `down` can create it again (the emulator models the
    /// DELETING window: `nfw.py`, delete_s of `nfw.rule_group`).
    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        let r = retry_while(REFERENCE_BOUND, in_use, || async {
            ctx.aws.nfw.delete_rule_group().rule_group_arn(arn).send().await.map_err(aws)
        })
        .await;
        if !accepted(r)? {
            return Ok(());
        }
        until("rule group deleted", Poll::expect(delete_s(PROFILE), 10 * 60), || async {
            let r = ctx.aws.nfw.describe_rule_group().rule_group_arn(arn).send().await.map_err(aws);
            Ok((!accepted(r)?).then_some(()))
        })
        .await
    }

    fn drift_owner(&self) -> Option<&'static str> {
        Some("`provision firewall allow|remove` edits the allow-list (`up` leaves it as it is)")
    }

    /// The allow-list: UpdateRuleGroup changes a rule group's rules in place
    /// (Network Firewall API reference, UpdateRuleGroup; its capacity is fixed).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        vec![Property::new("allow-list", "allowed_domains", super::property::list(&s.allowed_domains), Change::InPlace)]
    }

    /// A changed `allowed_domains`: the allow-list becomes exactly it (what
    /// an edit out of band added goes too: the parameter is the intent).
    async fn update(&self, ctx: &Ctx, _me: &StepId, id: &str, _changes: &[PropChange]) -> Result<()> {
        let want = ctx.s.allowed_domains.clone();
        edit_allow_list(ctx, id, move |_| Ok(want.clone())).await.map(|_| ())
    }

    /// The allow-list against `allowed_domains` (reported, not restored).
    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let rg = described(ctx, id).await?;
        let targets: BTreeSet<String> = rg
            .rule_group()
            .and_then(|g| g.rules_source())
            .and_then(|s| s.rules_source_list())
            .map(|l| l.targets().iter().cloned().collect())
            .unwrap_or_default();
        let want: BTreeSet<String> = ctx.s.allowed_domains.iter().cloned().collect();
        if targets == want {
            return Ok(Vec::new());
        }
        let added: Vec<&String> = targets.difference(&want).collect();
        let removed: Vec<&String> = want.difference(&targets).collect();
        Ok(vec![format!("allow-list differs from allowed_domains: added {added:?}, removed {removed:?}")])
    }
}
