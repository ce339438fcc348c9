//! Route table associations (`rtb.*.assoc`): a table with a subnet, or the
//! edge association of `rtb.igw` with the internet gateway. Id = the
//! association id EC2 returns.

use anyhow::{Context, Result};
use async_trait::async_trait;

use super::{Ctx, Health, Kind, gone_or};
use crate::error::aws;
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.route_table_assoc";

#[derive(Debug, Clone, PartialEq)]
pub enum AssocTarget {
    Subnet(StepId),
    /// Edge association with the internet gateway (the step of the gateway
    /// itself is reached through the attachment).
    Gateway {
        igw: StepId,
        attachment: StepId,
    },
}

#[derive(Debug)]
pub struct RouteTableAssociation {
    pub table: StepId,
    pub target: AssocTarget,
}

impl RouteTableAssociation {
    fn target_step(&self) -> &StepId {
        match &self.target {
            AssocTarget::Subnet(s) => s,
            AssocTarget::Gateway { igw, .. } => igw,
        }
    }

    /// The association of our table with its target, if it exists.
    async fn current(&self, ctx: &Ctx) -> Result<Option<String>> {
        let (table_id, target_id) = (ctx.state.id(&self.table)?, ctx.state.id(self.target_step())?);
        Ok(super::route_table::table(ctx, &table_id)
            .await?
            .iter()
            .flat_map(|t| t.associations())
            .find(|a| a.subnet_id() == Some(target_id.as_str()) || a.gateway_id() == Some(target_id.as_str()))
            .and_then(|a| a.route_table_association_id().map(str::to_string)))
    }
}

#[async_trait]
impl Kind for RouteTableAssociation {
    fn name(&self) -> &'static str {
        "route table association"
    }

    /// Nothing to tag (EC2 tags no routes or associations): its record
    /// alone moves when day two gives its zone the first zone's ids.
    async fn retag(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<()> {
        Ok(())
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        match &self.target {
            AssocTarget::Subnet(s) => vec![self.table.clone(), s.clone()],
            AssocTarget::Gateway { attachment, .. } => vec![self.table.clone(), attachment.clone()],
        }
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.target_step().clone()]
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        self.current(ctx).await
    }

    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let (table_id, target_id) = (ctx.state.id(&self.table)?, ctx.state.id(self.target_step())?);
        let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            let call = ctx.aws.ec2.associate_route_table().route_table_id(&table_id);
            let call = match &self.target {
                AssocTarget::Subnet(_) => call.subnet_id(&target_id),
                AssocTarget::Gateway { .. } => call.gateway_id(&target_id),
            };
            call.send().await.map_err(aws)
        })
        .await?;
        out.association_id().map(str::to_string).context("AssociateRouteTable returned no AssociationId")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(Health::found(self.current(ctx).await?.as_deref(), id))
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let r = ctx.aws.ec2.disassociate_route_table().association_id(id).send().await.map_err(aws);
        gone_or(r, &["InvalidAssociationID.NotFound"])
    }
}
