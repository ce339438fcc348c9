//! The NAT gateway's Elastic IP (domain vpc).

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::{Ctx, DRAIN_BOUND, Health, Kind};
use super::{Per, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, gone_ok};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.eip";

/// Every Address in the region, read once per read-only pass (`Reads`,
/// one call: the API has no pagination); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::Address>>>> {
    super::ec2_tagged::listed(ctx).await
}

#[derive(Debug)]
pub struct Eip {
    pub name: String,
}

fn is_address_in_use(e: &anyhow::Error) -> bool {
    crate::error::has_code(e, &["InvalidIPAddress.InUse"])
}

#[async_trait]
impl Kind for Eip {
    fn name(&self) -> &'static str {
        "Elastic IP"
    }

    /// Its tags and Name say `me` (day two: the first zone left, and this
    /// zone's steps take the spec's ids).
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        super::ec2_tagged::tag_as(ctx, me, id, &self.name).await
    }

    /// An in-use public IPv4 address, by the hour (since 2024-02-01).
    fn priced(&self, _s: &Settings) -> Vec<Use> {
        vec![Use::new("public-ipv4-hour", 1, Per::Zone, Usage::Always)]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::Address>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::Address>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let out = ctx
            .aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ctx.ec2_tags(ResourceType::ElasticIp, me, Some(&self.name)))
            .send()
            .await
            .map_err(aws)?;
        out.allocation_id().map(str::to_string).context("AllocateAddress returned no AllocationId")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.allocation_id(), id));
        }
        let r = ctx.aws.ec2.describe_addresses().allocation_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.addresses().is_empty())
    }

    /// Released once the NAT gateway is deleted; the association can linger
    /// a moment after the NAT gateway reports `deleted`.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let r = retry_while(DRAIN_BOUND, is_address_in_use, || async {
            ctx.aws.ec2.release_address().allocation_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
/// DescribeAddresses does not page (EC2 API reference).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::Address {
    const LISTING: &'static str = "ec2:DescribeAddresses";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        Ok(ctx.aws.ec2.describe_addresses().send().await.map_err(crate::error::aws)?.addresses().to_vec())
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        Ok(ctx
            .aws
            .ec2
            .describe_addresses()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(crate::error::aws)?
            .addresses()
            .to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.allocation_id()
    }
}
