//! The Network Firewall policy (`nfw.policy`): every packet, fragments
//! included, to the stateful engine (stateless default and fragment default
//! actions `aws:forward_to_sfe`, no stateless rule group); the engine in
//! STRICT_ORDER runs the stack's domain list (priority `GROUP_PRIORITY`),
//! the only pass, and then the default actions `aws:drop_established` and
//! `aws:alert_established`: what the list does not pass is dropped (and
//! logged as an alert), on every protocol. The domain list alone judges HTTP
//! and TLS only ("For Allow, traffic of the specified protocol type that
//! doesn't match the domain specifications is denied", developer guide,
//! "Stateful domain list rule groups"); the default actions are "only valid
//! when using the strict rule order" (botocore, FirewallPolicy), and
//! "drop established" lets the TCP handshake through so the list can read
//! the SNI or Host of what follows (developer guide, "Action order"). Id = ARN.
//!
//! A policy of the previous version (default action order, fragments
//! passed) is drift `up` restores: the actions in place (UpdateFirewallPolicy),
//! the rule order by replacement, since AWS cannot change a policy's or a
//! group's order in an update (terraform-provider-aws forces a new
//! resource: networkfirewall/helpers.go forceNewIfNotRuleOrderDefault).

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_networkfirewall::types::{
    FirewallPolicy as PolicyBody, RuleOrder, StatefulEngineOptions, StatefulRuleGroupReference,
};

use super::firewall::{adopt_nfw, associate, delete_policy, firewall_name, interim_name, nfw_tags};
use super::rule_group::{RuleGroup, create_group, group_order, read_allow_list};
use super::{Ctx, Health, Kind, NameUse};
use crate::error::{aws, found, is_not_found};
use crate::state::Status;
use crate::step_id::StepId;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = super::firewall::POLICY_PROFILE;

#[derive(Debug)]
pub struct FirewallPolicy {
    pub rule_group: StepId,
}

pub use super::firewall::policy_name;

/// The priority of the domain list among the policy's stateful groups
/// (required, and unique, under STRICT_ORDER: botocore,
/// StatefulRuleGroupReference.Priority).
pub const GROUP_PRIORITY: i32 = 100;

/// Every packet to the stateful engine, fragments too.
pub const FORWARD: &str = "aws:forward_to_sfe";

/// What the stateful engine does with what no rule passed.
pub const STATEFUL_DEFAULTS: [&str; 2] = ["aws:drop_established", "aws:alert_established"];

fn body(group: Option<&str>) -> Result<PolicyBody> {
    let mut b = PolicyBody::builder()
        .stateless_default_actions(FORWARD)
        .stateless_fragment_default_actions(FORWARD)
        .stateful_engine_options(StatefulEngineOptions::builder().rule_order(RuleOrder::StrictOrder).build())
        .set_stateful_default_actions(Some(STATEFUL_DEFAULTS.map(str::to_string).to_vec()));
    if let Some(group) = group {
        b = b.stateful_rule_group_references(
            StatefulRuleGroupReference::builder().resource_arn(group).priority(GROUP_PRIORITY).build()?,
        );
    }
    Ok(b.build()?)
}

/// A policy's stateful rule order: unset is DEFAULT_ACTION_ORDER (botocore,
/// StatefulEngineOptions.RuleOrder).
pub fn policy_order(p: &PolicyBody) -> RuleOrder {
    p.stateful_engine_options().and_then(|o| o.rule_order()).cloned().unwrap_or(RuleOrder::DefaultActionOrder)
}

/// How the live policy `p` differs from the stack's whose only group is
/// `group`, each with the control it weakens; empty when it is the stack's.
/// The rule order first: when it differs, the rest is moot (replaced).
pub fn differences(p: &PolicyBody, group: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let order = policy_order(p);
    if order != RuleOrder::StrictOrder {
        out.push(("firewall.default_drop", format!("rule order {}, not STRICT_ORDER", order.as_str())));
        return out;
    }
    let stateful = p.stateful_default_actions();
    if stateful != STATEFUL_DEFAULTS {
        out.push((
            "firewall.default_drop",
            format!("stateful default actions {stateful:?}, not {STATEFUL_DEFAULTS:?}"),
        ));
    }
    for (what, actions) in [
        ("stateless default actions", p.stateless_default_actions()),
        ("stateless fragment default actions", p.stateless_fragment_default_actions()),
    ] {
        if actions != [FORWARD] {
            out.push(("firewall.no_stateless_bypass", format!("{what} {actions:?}, not [\"{FORWARD}\"]")));
        }
    }
    for r in p.stateless_rule_group_references() {
        out.push((
            "firewall.no_stateless_bypass",
            format!(
                "stateless rule group {} (priority {}) judges traffic before the domain list",
                r.resource_arn(),
                r.priority()
            ),
        ));
    }
    let refs: Vec<(String, Option<i32>)> =
        p.stateful_rule_group_references().iter().map(|r| (r.resource_arn().to_string(), r.priority())).collect();
    if refs != [(group.to_string(), Some(GROUP_PRIORITY))] {
        out.push((
            "firewall.allow_list",
            format!("stateful rule groups {refs:?}, not [{group}] at priority {GROUP_PRIORITY}"),
        ));
    }
    out
}

/// DescribeFirewallPolicy of `arn`, once per read-only pass (`Reads::read`).
async fn described(
    ctx: &Ctx,
    arn: &str,
) -> Result<std::sync::Arc<aws_sdk_networkfirewall::operation::describe_firewall_policy::DescribeFirewallPolicyOutput>>
{
    let load = || async { ctx.aws.nfw.describe_firewall_policy().firewall_policy_arn(arn).send().await.map_err(aws) };
    ctx.reads.read(&format!("network-firewall:DescribeFirewallPolicy {arn}"), load).await
}

/// The policy `arn` and its UpdateToken (`described`).
pub(crate) async fn read_policy(ctx: &Ctx, arn: &str) -> Result<(PolicyBody, String)> {
    let out = described(ctx, arn).await.with_context(|| format!("reading firewall policy {arn}"))?;
    let p = out
        .firewall_policy
        .clone()
        .with_context(|| format!("DescribeFirewallPolicy returned no FirewallPolicy for {arn}"))?;
    Ok((p, out.update_token.clone()))
}

/// Whether the policy or its rule group is of another rule order than
/// STRICT_ORDER: then both are replaced (neither changes in an update).
async fn needs_replacement(ctx: &Ctx, p: &PolicyBody, group: &str) -> Result<Option<String>> {
    let order = policy_order(p);
    if order != RuleOrder::StrictOrder {
        return Ok(Some(format!("rule order {}", order.as_str())));
    }
    let g = super::rule_group::described(ctx, group).await?;
    let order = g.rule_group().map(group_order).unwrap_or(RuleOrder::DefaultActionOrder);
    Ok((order != RuleOrder::StrictOrder).then(|| format!("rule group {group} in rule order {}", order.as_str())))
}

/// The stack's firewall (by its unique name, tagged as the stack's): its
/// ARN, UpdateToken and the policy it uses. `None` when it does not exist.
async fn stack_firewall(ctx: &Ctx) -> Result<Option<(String, String, String)>> {
    let r = ctx.aws.nfw.describe_firewall().firewall_name(firewall_name(ctx)).send().await.map_err(aws);
    let Some(out) = found(r)? else { return Ok(None) };
    let f = out.firewall.context("DescribeFirewall returned no Firewall")?;
    let tags = f.tags.clone().unwrap_or_default();
    if !ctx.tagged_as(&StepId::FIREWALL, tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))) {
        return Ok(None);
    }
    Ok(Some((f.firewall_arn.unwrap_or_default(), out.update_token.unwrap_or_default(), f.firewall_policy_arn)))
}

impl FirewallPolicy {
    async fn create_named(&self, ctx: &Ctx, me: &StepId, name: String, group: Option<&str>) -> Result<String> {
        let out = ctx
            .aws
            .nfw
            .create_firewall_policy()
            .firewall_policy_name(name)
            .firewall_policy(body(group)?)
            .set_tags(Some(nfw_tags(ctx, me)))
            .send()
            .await
            .map_err(aws)?;
        Ok(out.firewall_policy_response.context("CreateFirewallPolicy returned no response")?.firewall_policy_arn)
    }

    /// The interim policy, found (an interrupted replacement made it) or created.
    async fn interim(&self, ctx: &Ctx, me: &StepId) -> Result<String> {
        let r =
            ctx.aws.nfw.describe_firewall_policy().firewall_policy_name(interim_name(ctx)).send().await.map_err(aws);
        if let Some(out) = found(r)? {
            let r = out.firewall_policy_response.context("no FirewallPolicyResponse")?;
            if let Some(arn) = adopt_nfw(ctx, me, "interim firewall policy", r.firewall_policy_arn, r.tags)? {
                return Ok(arn);
            }
        }
        self.create_named(ctx, me, interim_name(ctx), None).await
    }

    /// Replaces a policy and rule group of another rule order by STRICT_ORDER
    /// ones of the same names (so the same ARNs), keeping the live
    /// allow-list (`provision firewall allow` edits): the firewall holds an
    /// interim policy that drops everything established meanwhile (fails
    /// closed), then the stack's again.
    async fn replace(&self, ctx: &Ctx, me: &StepId, arn: &str) -> Result<()> {
        let group = ctx.state.id(&self.rule_group)?;
        let (domains, _, _) = read_allow_list(ctx, &group).await?;
        let firewall = stack_firewall(ctx).await?;
        let interim = self.interim(ctx, me).await?;
        if let Some((fw, token, used)) = &firewall {
            if used != arn && *used != interim {
                bail!(
                    "firewall {fw} uses policy {used}, not the stack's {arn}: refusing to replace the policy under it"
                );
            }
            if *used != interim {
                crate::progress::note(&format!(
                    "{me}: firewall {fw} holds the interim drop-all policy {interim} while the policy is replaced"
                ));
                associate(ctx, fw, token, &interim).await?;
            }
        }
        delete_policy(ctx, arn).await?;
        RuleGroup.delete(ctx, &group).await?;
        let new_group = create_group(ctx, &self.rule_group, domains).await?;
        if new_group != group {
            ctx.state.set(&self.rule_group, Status::Ready, Some(&new_group), &[])?;
        }
        let new = self.create_named(ctx, me, policy_name(ctx), Some(&new_group)).await?;
        if new != arn {
            ctx.state.set(me, Status::Ready, Some(&new), &[])?;
        }
        if let Some((fw, _, _)) = &firewall {
            let token = stack_firewall(ctx).await?.map(|f| f.1).unwrap_or_default();
            associate(ctx, fw, &token, &new).await?;
        }
        delete_policy(ctx, &interim).await
    }
}

#[async_trait]
impl Kind for FirewallPolicy {
    fn name(&self) -> &'static str {
        "Network Firewall policy"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.rule_group.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let r = ctx.aws.nfw.describe_firewall_policy().firewall_policy_name(policy_name(ctx)).send().await.map_err(aws);
        let Some(r) = found(r)? else { return Ok(None) };
        let r = r.firewall_policy_response.context("no FirewallPolicyResponse")?;
        adopt_nfw(ctx, me, self.name(), r.firewall_policy_arn, r.tags)
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        let r = ctx.aws.nfw.describe_firewall_policy().firewall_policy_name(policy_name(ctx)).send().await;
        match r.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(NameUse::Free),
            Err(e) => Err(e),
            Ok(out) => {
                let r = out.firewall_policy_response.context("no description in the answer")?;
                let tags = r.tags.unwrap_or_default();
                let tags = tags.iter().map(|t| (t.key.as_str(), t.value.as_str()));
                Ok(NameUse::of_tags(ctx, format!("firewall policy {}", r.firewall_policy_arn), "--project", tags))
            }
        }
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let group = ctx.state.id(&self.rule_group)?;
        self.create_named(ctx, me, policy_name(ctx), Some(&group)).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(described(ctx, id).await, |_| true)
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        delete_policy(ctx, arn).await
    }

    /// The policy against the stack's (`differences`); the rule order is
    /// said to be replaced, the rest updated in place.
    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let group = ctx.state.id(&self.rule_group)?;
        let (p, _) = read_policy(ctx, id).await?;
        if let Some(why) = needs_replacement(ctx, &p, &group).await? {
            return Ok(vec![format!(
                "{why}, the stack's is STRICT_ORDER with a default drop, which AWS cannot change in place: \
                 replace the policy and the rule group (same names, the live allow-list kept; the firewall \
                 drops all traffic meanwhile)"
            )]);
        }
        Ok(differences(&p, &group).into_iter().map(|(_, d)| format!("{d}: restore in place")).collect())
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// Replaces the policy and group of another rule order (`replace`), or
    /// writes the stack's policy over the live one (UpdateFirewallPolicy).
    async fn restore(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        let group = ctx.state.id(&self.rule_group)?;
        let (p, token) = read_policy(ctx, id).await?;
        if needs_replacement(ctx, &p, &group).await?.is_some() {
            return self.replace(ctx, me, id).await;
        }
        ctx.aws
            .nfw
            .update_firewall_policy()
            .firewall_policy_arn(id)
            .update_token(token)
            .firewall_policy(body(Some(&group))?)
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("updating firewall policy {id}"))?;
        Ok(())
    }
}
