//! Routes (`route.*`): a destination in a table to the internet gateway,
//! a zone's NAT gateway, or the firewall endpoint of a zone. Id
//! `{table}|{destination}`. A route that points elsewhere is drift
//! (`status`) and, since `find` then sees no route of ours, recreated by `up`.

use anyhow::{Result, anyhow};
use async_trait::async_trait;

use super::firewall::endpoint_attr;
use super::{Ctx, Health, Kind, gone_or};
use crate::error::{aws, has_code};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.route";

#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    /// The internet gateway (reached through its attachment).
    InternetGateway {
        igw: StepId,
        attachment: StepId,
    },
    NatGateway {
        nat: StepId,
    },
    /// The endpoint the firewall has in availability zone `az`.
    FirewallEndpoint {
        firewall: StepId,
        az: String,
    },
}

#[derive(Debug)]
pub struct Route {
    pub table: StepId,
    pub destination: String,
    pub target: RouteTarget,
}

impl Route {
    /// The id of what the route must point at.
    fn target_id(&self, ctx: &Ctx) -> Result<String> {
        match &self.target {
            RouteTarget::InternetGateway { igw, .. } => ctx.state.id(igw),
            RouteTarget::NatGateway { nat } => ctx.state.id(nat),
            RouteTarget::FirewallEndpoint { firewall, az } => ctx.state.attr(firewall, &endpoint_attr(az)),
        }
    }

    fn target_kind(&self) -> &'static str {
        match self.target {
            RouteTarget::InternetGateway { .. } => "the internet gateway",
            RouteTarget::NatGateway { .. } => "the NAT gateway",
            RouteTarget::FirewallEndpoint { .. } => "the firewall endpoint",
        }
    }

    /// Where the table's route for our destination points now, if it has one.
    async fn current(&self, ctx: &Ctx) -> Result<Option<String>> {
        let t = super::route_table::table(ctx, &ctx.state.id(&self.table)?).await?;
        let found =
            t.iter().flat_map(|t| t.routes()).find(|r| r.destination_cidr_block() == Some(self.destination.as_str()));
        Ok(found.map(|r| {
            r.gateway_id()
                .or(r.nat_gateway_id())
                .or(r.network_interface_id())
                .or(r.transit_gateway_id())
                .unwrap_or("nothing")
                .to_string()
        }))
    }
}

#[async_trait]
impl Kind for Route {
    fn name(&self) -> &'static str {
        "route"
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
        let target = match &self.target {
            RouteTarget::InternetGateway { attachment, .. } => attachment,
            RouteTarget::NatGateway { nat } => nat,
            RouteTarget::FirewallEndpoint { firewall, .. } => firewall,
        };
        vec![self.table.clone(), target.clone()]
    }

    fn reads(&self) -> Vec<StepId> {
        match &self.target {
            RouteTarget::InternetGateway { igw, .. } => vec![igw.clone()],
            _ => Vec::new(),
        }
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let (table_id, want) = (ctx.state.id(&self.table)?, self.target_id(ctx)?);
        let exists = super::route_table::table(ctx, &table_id).await?.iter().flat_map(|t| t.routes()).any(|r| {
            r.destination_cidr_block() == Some(self.destination.as_str())
                && [r.gateway_id(), r.nat_gateway_id()].contains(&Some(want.as_str()))
        });
        Ok(exists.then(|| format!("{table_id}|{}", self.destination)))
    }

    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let (table_id, want) = (ctx.state.id(&self.table)?, self.target_id(ctx)?);
        let dest = self.destination.as_str();
        let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            let call = ctx.aws.ec2.create_route().route_table_id(&table_id).destination_cidr_block(dest);
            let call = match &self.target {
                RouteTarget::InternetGateway { .. } => call.gateway_id(&want),
                RouteTarget::NatGateway { .. } => call.nat_gateway_id(&want),
                RouteTarget::FirewallEndpoint { .. } => call.vpc_endpoint_id(&want),
            };
            call.send().await.map_err(aws)
        })
        .await;
        match r {
            // A route to the same destination already exists: point it at ours.
            Err(e) if has_code(&e, &["RouteAlreadyExists"]) => {
                let call = ctx.aws.ec2.replace_route().route_table_id(&table_id).destination_cidr_block(dest);
                let call = match &self.target {
                    RouteTarget::InternetGateway { .. } => call.gateway_id(&want),
                    RouteTarget::NatGateway { .. } => call.nat_gateway_id(&want),
                    RouteTarget::FirewallEndpoint { .. } => call.vpc_endpoint_id(&want),
                };
                call.send().await.map_err(aws)?;
            }
            r => {
                r?;
            }
        }
        Ok(format!("{table_id}|{dest}"))
    }

    async fn health(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<Health> {
        Ok(Health::found(self.find(ctx, me).await?.as_deref(), id))
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let (table, dest) = id.split_once('|').ok_or_else(|| anyhow!("malformed route id '{id}'"))?;
        let r = ctx.aws.ec2.delete_route().route_table_id(table).destination_cidr_block(dest).send().await;
        gone_or(r.map_err(aws), &["InvalidRoute.NotFound"])
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Vec<String>> {
        let want = self.target_id(ctx)?;
        Ok(match self.current(ctx).await? {
            Some(actual) if actual != want => {
                vec![format!("route {} goes to {actual}, expected {} {want}", self.destination, self.target_kind())]
            }
            _ => Vec::new(),
        })
    }
}
