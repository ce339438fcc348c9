//! The internet gateway (`igw`).

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::{Ctx, DRAIN_BOUND, Health, Kind, is_dependency_violation};
use crate::error::{aws, gone_ok};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.internet_gateway";

/// Every InternetGateway in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::InternetGateway>>>> {
    super::ec2_tagged::listed(ctx).await
}

#[derive(Debug)]
pub struct InternetGateway;

#[async_trait]
impl Kind for InternetGateway {
    fn name(&self) -> &'static str {
        "internet gateway"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::InternetGateway>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::InternetGateway>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let name = format!("igw-{}", ctx.s.project);
        let out = ctx
            .aws
            .ec2
            .create_internet_gateway()
            .tag_specifications(ctx.ec2_tags(ResourceType::InternetGateway, me, Some(&name)))
            .send()
            .await
            .map_err(aws)?;
        out.internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(str::to_string)
            .context("CreateInternetGateway returned no InternetGatewayId")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.internet_gateway_id(), id));
        }
        let r = ctx.aws.ec2.describe_internet_gateways().internet_gateway_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.internet_gateways().is_empty())
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
            ctx.aws.ec2.delete_internet_gateway().internet_gateway_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::InternetGateway {
    const LISTING: &'static str = "ec2:DescribeInternetGateways";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws
            .ec2
            .describe_internet_gateways()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        let out = ctx
            .aws
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(crate::error::aws)?;
        Ok(out.internet_gateways().to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.internet_gateway_id()
    }
}
