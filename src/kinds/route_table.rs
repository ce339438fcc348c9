//! Route tables (`rtb.*`), created with a ClientToken.

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::{Ctx, DRAIN_BOUND, Health, Kind, is_dependency_violation};
use crate::error::{aws, gone_ok};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.route_table";

/// Every RouteTable in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::RouteTable>>>> {
    super::ec2_tagged::listed(ctx).await
}

/// The route table `id` (its routes and associations): from the pass's
/// listing when one runs, else one DescribeRouteTables by id (NotFound when
/// it is gone).
pub async fn table(ctx: &Ctx, id: &str) -> Result<Vec<aws_sdk_ec2::types::RouteTable>> {
    if let Some(all) = listed(ctx).await? {
        return Ok(all.iter().filter(|t| t.route_table_id() == Some(id)).cloned().collect());
    }
    Ok(ctx.aws.ec2.describe_route_tables().route_table_ids(id).send().await.map_err(aws)?.route_tables().to_vec())
}

#[derive(Debug)]
pub struct RouteTable {
    pub vpc: StepId,
    pub name: String,
}

#[async_trait]
impl Kind for RouteTable {
    fn name(&self) -> &'static str {
        "route table"
    }

    /// Its tags and Name say `me` (day two: the first zone left, and this
    /// zone's steps take the spec's ids).
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        super::ec2_tagged::tag_as(ctx, me, id, &self.name).await
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::RouteTable>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::RouteTable>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, token: &str) -> Result<String> {
        let vpc = ctx.state.id(&self.vpc)?;
        let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws
                .ec2
                .create_route_table()
                .vpc_id(&vpc)
                .client_token(token)
                .tag_specifications(ctx.ec2_tags(ResourceType::RouteTable, me, Some(&self.name)))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        out.route_table()
            .and_then(|t| t.route_table_id())
            .map(str::to_string)
            .context("CreateRouteTable returned no RouteTableId")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.route_table_id(), id));
        }
        let r = ctx.aws.ec2.describe_route_tables().route_table_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.route_tables().is_empty())
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
            ctx.aws.ec2.delete_route_table().route_table_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::RouteTable {
    const LISTING: &'static str = "ec2:DescribeRouteTables";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws
            .ec2
            .describe_route_tables()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        let out =
            ctx.aws.ec2.describe_route_tables().set_filters(Some(filters)).send().await.map_err(crate::error::aws)?;
        Ok(out.route_tables().to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.route_table_id()
    }
}
