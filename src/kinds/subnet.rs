//! Subnets: CIDR, availability zone, Name.

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use ipnet::Ipv4Net;

use super::leftover_enis::{Blocked, delete_draining};
use super::{Change, Ctx, Health, Kind, Property};
use crate::config::Settings;
use crate::error::{aws, gone_ok};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.subnet";

/// Every Subnet in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::Subnet>>>> {
    super::ec2_tagged::listed(ctx).await
}

/// The network interfaces in `subnets`, or using one of `groups`, that
/// nothing the state records owns, one line each (id, subnet, status, type,
/// description): they keep DeleteSubnet and DeleteSecurityGroup failing with
/// DependencyViolation for as long as they exist (EC2 API reference,
/// DeleteSubnet: "You must terminate all running instances in the subnet
/// before you can delete the subnet"; DeleteSecurityGroup: "If you attempt
/// to delete a security group that is associated with an instance or network
/// interface ... the operation fails"), and `provision` may not delete them. An interface is the stack's when its
/// description names a resource the state records, as AWS describes the
/// interfaces it manages: "Interface for NAT Gateway nat-…", "VPC Endpoint
/// Interface vpce-…" (interface and firewall endpoints), "EFS mount target
/// for fs-… (fsmt-…)", "[DO NOT DELETE] ENI managed by SageMaker for Studio
/// Domain(d-…) - …" (the apps of the domain, its users' own included).
pub async fn foreign_enis(ctx: &Ctx, subnets: &[String], groups: &[String]) -> Result<Vec<String>> {
    let ours = super::recorded_ids(ctx);
    let mut enis: Vec<aws_sdk_ec2::types::NetworkInterface> = Vec::new();
    for (filter, values) in [("subnet-id", subnets), ("group-id", groups)] {
        if values.is_empty() {
            continue;
        }
        let f = aws_sdk_ec2::types::Filter::builder().name(filter).set_values(Some(values.to_vec())).build();
        let found: Vec<aws_sdk_ec2::types::NetworkInterface> = ctx
            .aws
            .ec2
            .describe_network_interfaces()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for eni in found {
            if !enis.iter().any(|e| e.network_interface_id() == eni.network_interface_id()) {
                enis.push(eni);
            }
        }
    }
    let mut out = Vec::new();
    for eni in &enis {
        let description = eni.description().unwrap_or_default();
        if ours.iter().any(|id| description.contains(id.as_str())) {
            continue;
        }
        let instance = eni.attachment().and_then(|a| a.instance_id()).map(|i| format!(", attached to {i}"));
        out.push(format!(
            "network interface {} in {} ({}, {}{}): \"{description}\"",
            eni.network_interface_id().unwrap_or_default(),
            eni.subnet_id().unwrap_or_default(),
            eni.status().map(|s| s.as_str()).unwrap_or("unknown"),
            eni.interface_type().map(|t| t.as_str()).unwrap_or("interface"),
            instance.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// The zones of the subnets tagged as this stack's, the first zone first
/// (its steps carry the spec's ids; the other zones' are suffixed with
/// their zone), the others in name order: the stack's zones as its tags say
/// when the state is lost (`lifecycle::shape_mismatch`).
pub async fn stack_zones(ctx: &Ctx) -> Result<Vec<String>> {
    let filters = vec![super::ec2_filter(&format!("tag:{}", super::TAG_STACK), ctx.stack())];
    let out = ctx.aws.ec2.describe_subnets().set_filters(Some(filters)).send().await.map_err(aws)?;
    let mut zones: Vec<(bool, String)> = Vec::new();
    for sn in out.subnets() {
        let step = sn.tags().iter().find(|t| t.key() == Some(super::TAG_STEP)).and_then(|t| t.value());
        let first = step.is_some_and(|v| {
            [StepId::SUBNET_FIREWALL, StepId::SUBNET_NAT, StepId::SUBNET_SAGEMAKER].iter().any(|s| s == v)
        });
        if let Some(az) = sn.availability_zone()
            && !zones.iter().any(|(_, z)| z == az)
        {
            zones.push((first, az.to_string()));
        }
    }
    zones.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(zones.into_iter().map(|(_, z)| z).collect())
}

#[derive(Debug)]
pub struct Subnet {
    pub vpc: StepId,
    pub cidr: Ipv4Net,
    pub name: String,
    pub az: String,
}

#[async_trait]
impl Kind for Subnet {
    fn name(&self) -> &'static str {
        "subnet"
    }

    /// Its tags and Name say `me` (day two: the first zone left, and this
    /// zone's steps take the spec's ids).
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        super::ec2_tagged::tag_as(ctx, me, id, &self.name).await
    }

    /// A subnet's CIDR and zone are fixed at CreateSubnet (EC2 API
    /// reference: ModifySubnetAttribute changes neither).
    fn properties(&self, _s: &Settings, me: &StepId) -> Vec<Property> {
        let param = [
            (StepId::SUBNET_FIREWALL, "firewall_subnet_cidrs"),
            (StepId::SUBNET_NAT, "nat_subnet_cidrs"),
            (StepId::SUBNET_SAGEMAKER, "sagemaker_subnet_cidrs"),
        ]
        .into_iter()
        .find(|(base, _)| me.is_zone_of(base))
        .map_or("subnet CIDRs", |(_, p)| p);
        vec![
            Property::new("CIDR", param, self.cidr, Change::Replace("a subnet's CIDR is fixed at CreateSubnet")),
            Property::new(
                "zone",
                "availability_zones",
                &self.az,
                Change::Replace(
                    "a subnet's zone is fixed at CreateSubnet; the first zone's steps carry the spec's ids, so the first zone cannot be removed while the others stay",
                ),
            ),
        ]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::Subnet>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::Subnet>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let vpc = ctx.state.id(&self.vpc)?;
        let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(self.cidr.to_string())
                .availability_zone(&self.az)
                .tag_specifications(ctx.ec2_tags(ResourceType::Subnet, me, Some(&self.name)))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        out.subnet().and_then(|s| s.subnet_id()).map(str::to_string).context("CreateSubnet returned no SubnetId")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.subnet_id(), id));
        }
        let r = ctx.aws.ec2.describe_subnets().subnet_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.subnets().is_empty())
    }

    /// DependencyViolation while ENIs drain is retried within the drain
    /// bound, sweeping the subnet's leftover ENIs each time (`leftover_enis`).
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let vpc = ctx.state.id(&self.vpc).ok();
        let r = delete_draining(ctx, vpc.as_deref(), Blocked::Subnet(id), || async {
            ctx.aws.ec2.delete_subnet().subnet_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }

    /// Kept with what lives in it (the domain, the EFS's mount targets).
    fn keeps(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::Subnet {
    const LISTING: &'static str = "ec2:DescribeSubnets";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_subnets().into_paginator().items().send().try_collect().await.map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        Ok(ctx
            .aws
            .ec2
            .describe_subnets()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(crate::error::aws)?
            .subnets()
            .to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.subnet_id()
    }
}
