//! The public NAT gateway of a zone, in its NAT subnet with its Elastic IP.
//! Created with a ClientToken (a retried or resumed create returns the same
//! gateway) and recorded the moment AWS answers; then waited on until
//! `available`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_ec2::types::{NatGatewayState, ResourceType};

use super::{Ctx, Health, Kind, accepted};
use super::{Flow, Per, Usage, Use};
use crate::config::Settings;
use crate::cost;
use crate::error::{aws, found};
use crate::latency::{create_s, delete_s};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::{Poll, Unseen, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.nat_gateway";

#[derive(Debug)]
pub struct NatGateway {
    pub subnet: StepId,
    pub eip: StepId,
    /// A NAT gateway in a VPC without an attached internet gateway fails.
    pub attachment: StepId,
    pub name: String,
}

/// Every NAT gateway in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::NatGateway>>>> {
    super::ec2_tagged::listed(ctx).await
}

fn state_of(g: &aws_sdk_ec2::types::NatGateway) -> Option<(NatGatewayState, String)> {
    let st = g.state()?.clone();
    let why = g.failure_message().unwrap_or_default().to_string();
    Some((st, why))
}

async fn state(ctx: &Ctx, id: &str) -> Result<Option<(NatGatewayState, String)>> {
    if let Some(all) = listed(ctx).await? {
        return Ok(all.iter().find(|g| g.nat_gateway_id() == Some(id)).and_then(state_of));
    }
    let r = ctx.aws.ec2.describe_nat_gateways().nat_gateway_ids(id).send().await.map_err(aws);
    Ok(found(r)?.and_then(|out| out.nat_gateways().first().and_then(state_of)))
}

#[async_trait]
impl Kind for NatGateway {
    fn name(&self) -> &'static str {
        "NAT gateway"
    }

    /// Its tags and Name say `me` (day two: the first zone left, and this
    /// zone's steps take the spec's ids).
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        super::ec2_tagged::tag_as(ctx, me, id, &self.name).await
    }

    /// By the hour and per GB processed; waived one for one beside the
    /// firewall endpoints (`crate::cost`).
    fn priced(&self, _s: &Settings) -> Vec<Use> {
        vec![
            Use::new(cost::NAT_HOURS, 1, Per::Zone, Usage::Always),
            Use::new(cost::NAT_GB, 1, Per::Zone, Usage::Traffic(Flow::Internet)),
        ]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.subnet.clone(), self.eip.clone(), self.attachment.clone()]
    }

    /// A gateway of this step (by its tags) that is pending or available.
    /// If none is visible, `create` repeats the call with the recorded
    /// ClientToken, and CreateNatGateway answers with the gateway a lost
    /// call made.
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::NatGateway>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::NatGateway>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, token: &str) -> Result<String> {
        let (subnet, eip) = (ctx.state.id(&self.subnet)?, ctx.state.id(&self.eip)?);
        // Idempotent (ClientToken): a throttled answer or a fault is sent again too (`retry::is_throttling_or_fault`).
        let transient = |e: &anyhow::Error| is_eventual_consistency(e) || crate::retry::is_throttling_or_fault(e);
        let out = retry_while(CONSISTENCY_BOUND, transient, || async {
            ctx.aws
                .ec2
                .create_nat_gateway()
                .subnet_id(&subnet)
                .allocation_id(&eip)
                .client_token(token)
                .tag_specifications(ctx.ec2_tags(ResourceType::Natgateway, me, Some(&self.name)))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        out.nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .map(str::to_string)
            .context("CreateNatGateway returned no NatGatewayId")
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        // An id CreateNatGateway just returned may not be describable yet
        // (NatGatewayNotFound: EC2 API reference, "Eventual consistency in the
        // Amazon EC2 API"; terraform-provider-aws WaitNATGatewayCreated's finder
        // treats not-found as not yet there): pending within the consistency
        // bound, then an error, never a wait until the timeout.
        let unseen = Unseen::new(CONSISTENCY_BOUND);
        until("NAT gateway available", Poll::expect(create_s(PROFILE), 15 * 60), || async {
            let st = state(ctx, id).await?;
            crate::progress::observed(st.as_ref().map(|(s, _)| s.as_str()).unwrap_or("absent"));
            match st {
                None => unseen.absent(format!("NAT gateway {id} does not exist")),
                Some((NatGatewayState::Available, _)) => Ok(Some(())),
                Some((NatGatewayState::Failed, why)) => bail!("NAT gateway {id} failed: {why}"),
                Some((NatGatewayState::Deleting | NatGatewayState::Deleted, _)) => {
                    bail!("NAT gateway {id} is being deleted (deleted out of band?)")
                }
                _ => Ok(None),
            }
        })
        .await
    }

    /// `failed` NAT gateways are replaced; `deleting`/`deleted` ones recreated.
    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(match state(ctx, id).await? {
            None | Some((NatGatewayState::Deleting | NatGatewayState::Deleted, _)) => Health::Missing,
            Some((NatGatewayState::Failed, why)) => Health::Failed(why),
            Some(_) => Health::Present,
        })
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let delete = || async { ctx.aws.ec2.delete_nat_gateway().nat_gateway_id(id).send().await.map_err(aws) };
        if !accepted(retry_while(CONSISTENCY_BOUND, crate::retry::is_throttling_or_fault, delete).await)? {
            return Ok(());
        }
        until("NAT gateway deleted", Poll::expect(delete_s(PROFILE), 15 * 60), || async {
            Ok(match state(ctx, id).await? {
                None | Some((NatGatewayState::Deleted, _)) => Some(()),
                _ => None,
            })
        })
        .await
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
/// A NAT gateway counts while pending or available (a deleted one stays
/// listed for a while: EC2 API reference, DescribeNatGateways).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::NatGateway {
    const LISTING: &'static str = "ec2:DescribeNatGateways";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws
            .ec2
            .describe_nat_gateways()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        let out =
            ctx.aws.ec2.describe_nat_gateways().set_filter(Some(filters)).send().await.map_err(crate::error::aws)?;
        Ok(out.nat_gateways().to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.nat_gateway_id()
    }
    fn alive(&self) -> bool {
        matches!(
            self.state(),
            Some(aws_sdk_ec2::types::NatGatewayState::Pending | aws_sdk_ec2::types::NatGatewayState::Available)
        )
    }
    fn alive_filters() -> Vec<aws_sdk_ec2::types::Filter> {
        vec![aws_sdk_ec2::types::Filter::builder().name("state").values("pending").values("available").build()]
    }
}
