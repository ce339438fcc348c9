//! The Network Firewall policy (`nfw.policy`): stateless traffic to the
//! stateful engine, whose only group is the stack's rule group. Id = ARN.

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_networkfirewall::types::{FirewallPolicy as PolicyBody, StatefulRuleGroupReference};

use super::firewall::{REFERENCE_BOUND, adopt_nfw, in_use, nfw_tags};
use super::{Ctx, Health, Kind, NameUse, accepted};
use crate::error::{aws, found, is_not_found};
use crate::latency::delete_s;
use crate::step_id::StepId;
use crate::wait::{Poll, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "nfw.policy";

#[derive(Debug)]
pub struct FirewallPolicy {
    pub rule_group: StepId,
}

pub fn policy_name(ctx: &Ctx) -> String {
    format!("network-firewall-policy-{}", ctx.s.project)
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
        let policy = PolicyBody::builder()
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
            .set_tags(Some(nfw_tags(ctx, me)))
            .send()
            .await
            .map_err(aws)?;
        Ok(out.firewall_policy_response.context("CreateFirewallPolicy returned no response")?.firewall_policy_arn)
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        let r = ctx.aws.nfw.describe_firewall_policy().firewall_policy_arn(id).send().await.map_err(aws);
        Health::of_describe(r, |_| true)
    }

    /// Done when DescribeFirewallPolicy no longer finds it: a deleted policy
    /// is DELETING for a while and keeps its name (see the rule group).
    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        let r = retry_while(REFERENCE_BOUND, in_use, || async {
            ctx.aws.nfw.delete_firewall_policy().firewall_policy_arn(arn).send().await.map_err(aws)
        })
        .await;
        if !accepted(r)? {
            return Ok(());
        }
        until("firewall policy deleted", Poll::expect(delete_s(PROFILE), 10 * 60), || async {
            let r = ctx.aws.nfw.describe_firewall_policy().firewall_policy_arn(arn).send().await.map_err(aws);
            Ok((!accepted(r)?).then_some(()))
        })
        .await
    }
}
