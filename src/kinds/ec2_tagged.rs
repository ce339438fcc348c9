//! What the EC2 kinds whose resources the stack proves its own by tags
//! share (VPC, subnets, security groups, internet gateway, route tables,
//! Elastic IPs, NAT gateways, VPC endpoints, flow logs, network ACLs): the region's
//! listing, read once per read-only pass (`Reads`), and the ids of those
//! whose `provision:stack`/`provision:step` tags say they are a step's.
//! Each resource type says how it is listed, where its tags and id are,
//! and which states count as alive; `listed`, `owned` and `first_owned`
//! are written once.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Address, Filter, FlowLog, InternetGateway, NatGateway, NatGatewayState, NetworkAcl, RouteTable, SecurityGroup,
    Subnet, Tag, Vpc, VpcEndpoint,
};

use super::{Ctx, ec2_tag_pairs, owned_in};
use crate::error::aws;
use crate::step_id::StepId;

/// Sets `me`'s tags and Name on the EC2 resource `id` (CreateTags
/// overwrites a key's value: EC2 API reference, CreateTags), for
/// `Kind::retag` when day two moves a zone's records to the first zone's ids.
pub async fn tag_as(ctx: &Ctx, me: &StepId, id: &str, name: &str) -> Result<()> {
    let tags: Vec<Tag> =
        ctx.tags(me, Some(name)).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    ctx.aws.ec2.create_tags().resources(id).set_tags(Some(tags)).send().await.map_err(aws)?;
    Ok(())
}

/// An EC2 resource type the stack proves its own by tags.
#[async_trait]
pub trait Tagged: Send + Sync + Sized + 'static {
    /// The read cache's key of the region's listing (`ec2:DescribeVpcs`).
    const LISTING: &'static str;

    /// Every one of the region (paginated where the API pages).
    async fn all(ctx: &Ctx) -> Result<Vec<Self>>;

    /// Those `filters` (the step's tags, plus `alive_filters`) select.
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>>;

    fn tags(&self) -> &[Tag];

    fn id(&self) -> Option<&str>;

    /// Whether it counts as existing (a NAT gateway or an endpoint being
    /// deleted, or deleted and still listed, does not).
    fn alive(&self) -> bool {
        true
    }

    /// The server-side filters that select the alive ones.
    fn alive_filters() -> Vec<Filter> {
        Vec::new()
    }
}

/// Every resource of type `T` in the region, read once per read-only pass
/// (`Reads`); `None` outside one.
pub async fn listed<T: Tagged>(ctx: &Ctx) -> Result<Option<Arc<Vec<T>>>> {
    ctx.reads.cached(T::LISTING, || T::all(ctx)).await
}

/// The ids of the alive resources of type `T` whose tags prove them this
/// stack's step `me`: from the pass's listing, else one describe filtered by
/// the step's tags. The tags are checked here too: a filter an endpoint
/// ignores must not adopt another step's resource.
pub async fn owned<T: Tagged>(ctx: &Ctx, me: &StepId) -> Result<Vec<String>> {
    if let Some(all) = listed::<T>(ctx).await? {
        return Ok(owned_in(ctx, me, all.iter().filter(|x| x.alive()), T::tags, T::id));
    }
    let mut filters = ctx.ec2_tag_filters(me);
    filters.extend(T::alive_filters());
    let found = T::filtered(ctx, filters).await?;
    let ours = found.iter().filter(|x| x.alive() && ctx.tagged_as(me, ec2_tag_pairs(x.tags())));
    Ok(ours.filter_map(|x| x.id().map(str::to_string)).collect())
}

/// The first of `owned` (what `find` answers for a create whose answer was lost).
pub async fn first_owned<T: Tagged>(ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
    Ok(owned::<T>(ctx, me).await?.into_iter().next())
}

#[async_trait]
impl Tagged for Vpc {
    const LISTING: &'static str = "ec2:DescribeVpcs";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_vpcs().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        Ok(ctx.aws.ec2.describe_vpcs().set_filters(Some(filters)).send().await.map_err(aws)?.vpcs().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        Vpc::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.vpc_id()
    }
}

#[async_trait]
impl Tagged for Subnet {
    const LISTING: &'static str = "ec2:DescribeSubnets";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_subnets().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        Ok(ctx.aws.ec2.describe_subnets().set_filters(Some(filters)).send().await.map_err(aws)?.subnets().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        Subnet::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.subnet_id()
    }
}

#[async_trait]
impl Tagged for SecurityGroup {
    const LISTING: &'static str = "ec2:DescribeSecurityGroups";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_security_groups().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        let out = ctx.aws.ec2.describe_security_groups().set_filters(Some(filters)).send().await.map_err(aws)?;
        Ok(out.security_groups().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        SecurityGroup::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.group_id()
    }
}

#[async_trait]
impl Tagged for InternetGateway {
    const LISTING: &'static str = "ec2:DescribeInternetGateways";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_internet_gateways().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        let out = ctx.aws.ec2.describe_internet_gateways().set_filters(Some(filters)).send().await.map_err(aws)?;
        Ok(out.internet_gateways().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        InternetGateway::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.internet_gateway_id()
    }
}

#[async_trait]
impl Tagged for RouteTable {
    const LISTING: &'static str = "ec2:DescribeRouteTables";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_route_tables().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        let out = ctx.aws.ec2.describe_route_tables().set_filters(Some(filters)).send().await.map_err(aws)?;
        Ok(out.route_tables().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        RouteTable::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.route_table_id()
    }
}

#[async_trait]
impl Tagged for NetworkAcl {
    const LISTING: &'static str = "ec2:DescribeNetworkAcls";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_network_acls().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        let out = ctx.aws.ec2.describe_network_acls().set_filters(Some(filters)).send().await.map_err(aws)?;
        Ok(out.network_acls().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        NetworkAcl::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.network_acl_id()
    }
}

/// DescribeAddresses does not page (EC2 API reference).
#[async_trait]
impl Tagged for Address {
    const LISTING: &'static str = "ec2:DescribeAddresses";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        Ok(ctx.aws.ec2.describe_addresses().send().await.map_err(aws)?.addresses().to_vec())
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        Ok(ctx.aws.ec2.describe_addresses().set_filters(Some(filters)).send().await.map_err(aws)?.addresses().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        Address::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.allocation_id()
    }
}

/// A NAT gateway counts while pending or available (a deleted one stays
/// listed for a while: EC2 API reference, DescribeNatGateways).
#[async_trait]
impl Tagged for NatGateway {
    const LISTING: &'static str = "ec2:DescribeNatGateways";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_nat_gateways().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        let out = ctx.aws.ec2.describe_nat_gateways().set_filter(Some(filters)).send().await.map_err(aws)?;
        Ok(out.nat_gateways().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        NatGateway::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.nat_gateway_id()
    }
    fn alive(&self) -> bool {
        matches!(self.state(), Some(NatGatewayState::Pending | NatGatewayState::Available))
    }
    fn alive_filters() -> Vec<Filter> {
        vec![Filter::builder().name("state").values("pending").values("available").build()]
    }
}

/// An endpoint counts while pending, available or pending acceptance (a
/// deleted one stays listed: terraform-provider-aws findVPCEndpointByID).
#[async_trait]
impl Tagged for VpcEndpoint {
    const LISTING: &'static str = "ec2:DescribeVpcEndpoints";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_vpc_endpoints().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        let out = ctx.aws.ec2.describe_vpc_endpoints().set_filters(Some(filters)).send().await.map_err(aws)?;
        Ok(out.vpc_endpoints().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        VpcEndpoint::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.vpc_endpoint_id()
    }
    fn alive(&self) -> bool {
        self.state().is_some_and(|s| {
            matches!(s.as_str().to_ascii_lowercase().as_str(), "pending" | "available" | "pendingacceptance")
        })
    }
    fn alive_filters() -> Vec<Filter> {
        let states = Filter::builder().name("vpc-endpoint-state").values("pending").values("available");
        vec![states.values("pendingAcceptance").build()]
    }
}

#[async_trait]
impl Tagged for FlowLog {
    const LISTING: &'static str = "ec2:DescribeFlowLogs";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_flow_logs().into_paginator().items().send().try_collect().await.map_err(aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>> {
        Ok(ctx.aws.ec2.describe_flow_logs().set_filter(Some(filters)).send().await.map_err(aws)?.flow_logs().to_vec())
    }
    fn tags(&self) -> &[Tag] {
        FlowLog::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.flow_log_id()
    }
}
