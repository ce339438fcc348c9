//! The Network Firewall (`nfw.firewall`), mapped to every zone's firewall
//! subnet, with the stack's policy. Id = ARN. Once READY, each zone's
//! endpoint id is learnt as attribute `endpoint.{az}` (routes read them
//! by zone, never "the first"). Also what the rule group and policy share:
//! tags and the reference-settling retry.

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_networkfirewall::types::{FirewallStatusValue, SubnetMapping, Tag};

use super::{
    Change, Ctx, Health, Kind, Learnt, NameUse, Property, accepted, adopt_if_ours, members_drift, missing_members,
};
use super::{Flow, Per, Usage, Use};
use crate::config::Settings;
use crate::cost;
use crate::error::{aws, found, has_code, is_not_found};
use crate::latency::{create_s, delete_s};
use crate::step_id::StepId;
use crate::wait::{Poll, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
pub(super) const PROFILE: &str = "nfw.firewall";

#[derive(Debug)]
pub struct Firewall {
    pub policy: StepId,
    /// Every zone's firewall subnet, with the zone.
    pub subnets: Vec<StepId>,
    pub azs: Vec<String>,
    /// Reached through the subnets.
    pub vpc: StepId,
}

/// The firewall policy's name (`firewall_policy`), here so that the policy
/// the firewall holds during a replacement is named beside it.
pub fn policy_name(ctx: &Ctx) -> String {
    format!("network-firewall-policy-{}", ctx.s.project)
}

/// The firewall policy's entry in the latency profile (`crate::latency`).
pub(super) const POLICY_PROFILE: &str = "nfw.policy";

pub fn firewall_name(ctx: &Ctx) -> String {
    format!("network-firewall-{}", ctx.s.project)
}

/// The state attribute (of the firewall's step) holding the endpoint of `az`.
pub fn endpoint_attr(az: &str) -> String {
    format!("endpoint.{az}")
}

/// A firewall resource found by its unique name, adopted only when its tags
/// say it is this stack's `me`.
pub(super) fn adopt_nfw(
    ctx: &Ctx,
    me: &StepId,
    what: &str,
    arn: String,
    tags: Option<Vec<Tag>>,
) -> Result<Option<String>> {
    let tags = tags.unwrap_or_default();
    adopt_if_ours(ctx, me, what, arn, tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))
}

pub(super) fn nfw_tags(ctx: &Ctx, me: &StepId) -> Vec<Tag> {
    ctx.tags(me, None)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
        .collect()
}

/// A policy or group still referenced (the firewall's deletion settling)
/// is refused with InvalidOperationException for a moment.
pub(super) fn in_use(e: &anyhow::Error) -> bool {
    has_code(e, &["InvalidOperationException"])
}

/// The policy the firewall holds while the stack's is replaced: no rule
/// group, everything established dropped (the stack fails closed meanwhile).
pub(super) fn interim_name(ctx: &Ctx) -> String {
    format!("{}-interim", policy_name(ctx))
}

/// The firewall `fw` uses `policy` from now on (AssociateFirewallPolicy).
pub async fn associate(ctx: &Ctx, fw: &str, token: &str, policy: &str) -> Result<()> {
    ctx.aws
        .nfw
        .associate_firewall_policy()
        .firewall_arn(fw)
        .update_token(token)
        .firewall_policy_arn(policy)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("associating firewall {fw} with policy {policy}"))?;
    Ok(())
}

/// Deletes the interim policy of a replacement, if one of the stack's is
/// left (a replacement interrupted after the firewall went back to the
/// stack's policy). One still in use is left for the firewall's restore.
pub async fn delete_interim(ctx: &Ctx) -> Result<()> {
    let r = ctx.aws.nfw.describe_firewall_policy().firewall_policy_name(interim_name(ctx)).send().await.map_err(aws);
    let Some(out) = found(r)? else { return Ok(()) };
    let r = out.firewall_policy_response.context("no FirewallPolicyResponse")?;
    let tags = r.tags.unwrap_or_default();
    if !ctx.tagged_as(&StepId::FIREWALL_POLICY, tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))) {
        return Ok(());
    }
    delete_policy(ctx, &r.firewall_policy_arn).await
}

/// DeletePolicy, then the wait until DescribeFirewallPolicy no longer finds
/// it: a deleted policy is DELETING for a while and keeps its name (see
/// the rule group).
pub(super) async fn delete_policy(ctx: &Ctx, arn: &str) -> Result<()> {
    let r = retry_while(REFERENCE_BOUND, in_use, || async {
        ctx.aws.nfw.delete_firewall_policy().firewall_policy_arn(arn).send().await.map_err(aws)
    })
    .await;
    if !accepted(r)? {
        return Ok(());
    }
    until("firewall policy deleted", Poll::expect(delete_s(POLICY_PROFILE), 10 * 60), || async {
        let r = ctx.aws.nfw.describe_firewall_policy().firewall_policy_arn(arn).send().await.map_err(aws);
        Ok((!accepted(r)?).then_some(()))
    })
    .await
}

/// How long a reference may take to clear after its holder is deleted.
pub(super) const REFERENCE_BOUND: std::time::Duration = std::time::Duration::from_secs(5 * 60);

fn mappings(subnets: Vec<String>) -> Result<Vec<SubnetMapping>> {
    Ok(subnets.into_iter().map(|s| SubnetMapping::builder().subnet_id(s).build()).collect::<Result<Vec<_>, _>>()?)
}

impl Firewall {
    /// The ARN of the policy the firewall uses now.
    async fn used_policy(&self, ctx: &Ctx, arn: &str) -> Result<String> {
        let f = described(ctx, arn).await?;
        Ok(f.firewall().map(|f| f.firewall_policy_arn().to_string()).unwrap_or_default())
    }

    async fn mapped_subnets(&self, ctx: &Ctx, arn: &str) -> Result<Vec<String>> {
        let f = described(ctx, arn).await?;
        Ok(f.firewall()
            .map(|f| f.subnet_mappings().iter().map(|m| m.subnet_id().to_string()).collect())
            .unwrap_or_default())
    }
}

/// DescribeFirewall of `arn`, once per read-only pass (`Reads::read`).
pub(crate) async fn described(
    ctx: &Ctx,
    arn: &str,
) -> Result<std::sync::Arc<aws_sdk_networkfirewall::operation::describe_firewall::DescribeFirewallOutput>> {
    let load = || async { ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws) };
    ctx.reads.read(&format!("network-firewall:DescribeFirewall {arn}"), load).await
}

#[async_trait]
impl Kind for Firewall {
    fn name(&self) -> &'static str {
        "Network Firewall"
    }

    /// One endpoint per zone, billed by the hour, and the internet traffic it inspects.
    fn priced(&self, _s: &Settings) -> Vec<Use> {
        let zones = self.azs.len();
        vec![
            Use::new(cost::FIREWALL_HOURS, zones, Per::Zone, Usage::Always),
            Use::new(cost::FIREWALL_GB, zones, Per::Zone, Usage::Traffic(Flow::Internet)),
        ]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        let mut n = vec![self.policy.clone()];
        n.extend(self.subnets.iter().cloned());
        n
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }

    fn members(&self) -> &[StepId] {
        &self.subnets
    }

    /// Its zones: AssociateSubnets and DisassociateSubnets change them in
    /// place (Network Firewall API reference).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        vec![Property::new("zones", "availability_zones", super::property::zones(s), Change::InPlace)]
    }

    /// A removed zone's subnet leaves the firewall (DisassociateSubnets),
    /// then it is waited for until READY without that zone's endpoint: the
    /// endpoint's interface is in the subnet, which cannot be deleted
    /// before it goes (terraform-provider-aws waitFirewallUpdated).
    async fn drop_members(&self, ctx: &Ctx, _me: &StepId, arn: &str, gone: &[String]) -> Result<bool> {
        let mapped = self.mapped_subnets(ctx, arn).await?;
        let drop: Vec<String> = mapped.into_iter().filter(|s| gone.contains(s)).collect();
        if drop.is_empty() {
            return Ok(false);
        }
        ctx.aws
            .nfw
            .disassociate_subnets()
            .firewall_arn(arn)
            .set_subnet_ids(Some(drop.clone()))
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("taking firewall {arn} out of subnets {}", drop.join(", ")))?;
        until("firewall READY without the removed zones", Poll::expect(delete_s(PROFILE), 30 * 60), || async {
            let out = ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws)?;
            let Some(status) = out.firewall_status else { return Ok(None) };
            let still =
                out.firewall.iter().flat_map(|f| f.subnet_mappings()).any(|m| drop.iter().any(|d| d == m.subnet_id()));
            let attached = status.sync_states.unwrap_or_default().values().any(|s| {
                s.attachment
                    .as_ref()
                    .and_then(|a| a.subnet_id.as_deref())
                    .is_some_and(|id| drop.iter().any(|d| d == id))
            });
            Ok((status.status == FirewallStatusValue::Ready && !still && !attached).then_some(()))
        })
        .await?;
        Ok(true)
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let r = ctx.aws.nfw.describe_firewall().firewall_name(firewall_name(ctx)).send().await.map_err(aws);
        let Some(f) = found(r)? else { return Ok(None) };
        let f = f.firewall.context("DescribeFirewall returned no Firewall")?;
        adopt_nfw(ctx, me, self.name(), f.firewall_arn.unwrap_or_default(), f.tags)
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        match ctx.aws.nfw.describe_firewall().firewall_name(firewall_name(ctx)).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(NameUse::Free),
            Err(e) => Err(e),
            Ok(out) => {
                let f = out.firewall.context("DescribeFirewall returned no Firewall")?;
                let tags = f.tags.unwrap_or_default();
                let tags = tags.iter().map(|t| (t.key.as_str(), t.value.as_str()));
                let holder = format!("firewall {}", f.firewall_arn.unwrap_or_default());
                Ok(NameUse::of_tags(ctx, holder, "--project", tags))
            }
        }
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let (policy, vpc) = (ctx.state.id(&self.policy)?, ctx.state.id(&self.vpc)?);
        let out = ctx
            .aws
            .nfw
            .create_firewall()
            .firewall_name(firewall_name(ctx))
            .firewall_policy_arn(policy)
            .vpc_id(vpc)
            .set_subnet_mappings(Some(mappings(ctx.ids(&self.subnets)?)?))
            .delete_protection(false)
            .subnet_change_protection(false)
            .firewall_policy_change_protection(false)
            .set_tags(Some(nfw_tags(ctx, me)))
            .send()
            .await
            .map_err(aws)?;
        out.firewall.and_then(|f| f.firewall_arn).context("CreateFirewall returned no FirewallArn")
    }

    /// Waits until READY, and the endpoint of every zone's AZ READY.
    async fn settle(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        // Not found right after CreateFirewall is pending (eventual
        // consistency; terraform-provider-aws waitFirewallCreated's finder
        // treats ResourceNotFoundException as not yet there).
        let unseen = crate::wait::Unseen::new(crate::retry::CONSISTENCY_BOUND);
        until("firewall READY with its endpoints", Poll::expect(create_s(PROFILE), 30 * 60), || async {
            let out = match ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws) {
                Err(e) if crate::error::is_not_found(&e) => {
                    return unseen.absent(format!("firewall {arn} does not exist"));
                }
                r => r?,
            };
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
            for az in &self.azs {
                let Some(att) = sync.get(az).and_then(|s| s.attachment.as_ref()) else { return Ok(None) };
                match (att.status.as_ref().map(|s| s.as_str()), &att.endpoint_id) {
                    (Some("READY"), Some(_)) => {}
                    _ => return Ok(None),
                }
            }
            Ok(Some(()))
        })
        .await
    }

    /// The endpoint id of each zone that has one, as attribute
    /// `endpoint.{az}` (the routes to the firewall read them).
    async fn learn(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Learnt> {
        let out = ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws)?;
        let sync = out.firewall_status.and_then(|s| s.sync_states).unwrap_or_default();
        let attrs = self
            .azs
            .iter()
            .filter_map(|az| {
                let e = sync.get(az)?.attachment.as_ref()?.endpoint_id.clone()?;
                Some((endpoint_attr(az), e))
            })
            .collect();
        Ok(Learnt { attrs, others: Vec::new() })
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Health> {
        let r = described(ctx, arn).await;
        Health::of_describe(r, |o| o.firewall_status().map(|s| s.status()) != Some(&FirewallStatusValue::Deleting))
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        if !accepted(ctx.aws.nfw.delete_firewall().firewall_arn(arn).send().await.map_err(aws))? {
            return Ok(());
        }
        until("firewall deleted", Poll::expect(delete_s(PROFILE), 30 * 60), || async {
            let r = ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws);
            Ok((!accepted(r)?).then_some(()))
        })
        .await
    }

    /// Subnets of zones added to a live stack that the firewall is not mapped
    /// to yet, and a policy other than the stack's (the interim one of an
    /// interrupted replacement: `firewall_policy`).
    async fn drift(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Vec<String>> {
        let have = self.mapped_subnets(ctx, arn).await?;
        let mut out = members_drift("subnets", &missing_members(ctx, &self.subnets, &have));
        let (used, want) = (self.used_policy(ctx, arn).await?, ctx.state.id(&self.policy)?);
        if used != want {
            out.push(format!("uses firewall policy {used}, not the stack's {want}"));
        }
        Ok(out)
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// Puts the stack's policy back (AssociateFirewallPolicy, then the
    /// interim policy of a replacement deleted), maps the firewall to the new
    /// zones' subnets (AssociateSubnets), then waits until every zone's
    /// endpoint is READY (recording the new ones).
    async fn restore(&self, ctx: &Ctx, me: &StepId, arn: &str) -> Result<()> {
        let want = ctx.state.id(&self.policy)?;
        if self.used_policy(ctx, arn).await? != want {
            let out = ctx.aws.nfw.describe_firewall().firewall_arn(arn).send().await.map_err(aws)?;
            associate(ctx, arn, out.update_token().unwrap_or_default(), &want).await?;
            delete_interim(ctx).await?;
        }
        let missing = missing_members(ctx, &self.subnets, &self.mapped_subnets(ctx, arn).await?);
        if !missing.is_empty() {
            ctx.aws
                .nfw
                .associate_subnets()
                .firewall_arn(arn)
                .set_subnet_mappings(Some(mappings(missing.clone())?))
                .send()
                .await
                .map_err(aws)
                .with_context(|| format!("mapping firewall {arn} to subnets {}", missing.join(", ")))?;
        }
        self.settle(ctx, me, arn).await
    }
}
