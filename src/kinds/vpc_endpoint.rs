//! VPC endpoints: the S3 gateway endpoint (`vpce.s3`, on every zone's
//! SageMaker route table, policy limited to the two buckets for the
//! account's principals, JumpStart's content when `provision jumpstart
//! enable` recorded it, and ECR's layer bucket read-only) and the ten
//! interface endpoints (`vpce.*`, private DNS, in every zone's SageMaker
//! subnet with `sg.vpce`; those whose service takes an endpoint policy
//! allow the account's principals only). Created with a ClientToken. Zones
//! added to a live stack are added with ModifyVpcEndpoint; a policy changed
//! out of band (or written by an earlier version) is put back by `up`.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use serde_json::json;

use super::{Change, Ctx, Health, Kind, Property, members_drift, missing_members};
use super::{Flow, Per, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, found, is_not_found};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::{Poll, retry_while, until};

/// Every VPC endpoint in the region, read once per read-only pass
/// (`Reads`, paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::VpcEndpoint>>>> {
    super::ec2_tagged::listed(ctx).await
}

/// The endpoint `id` from the pass's listing (`None` outside a pass; an
/// empty inner `None` when the listing lacks it).
async fn cached_endpoint(ctx: &Ctx, id: &str) -> Result<Option<Option<aws_sdk_ec2::types::VpcEndpoint>>> {
    Ok(listed(ctx).await?.map(|all| all.iter().find(|e| e.vpc_endpoint_id() == Some(id)).cloned()))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Flavor {
    /// S3, on the route tables.
    Gateway { route_tables: Vec<StepId> },
    /// In the subnets, with the endpoints' security group.
    Interface { service: String, policy: bool, subnets: Vec<StepId>, sg: StepId },
}

/// The latency profile's entries (`crate::latency`) of the two flavours.
const GATEWAY_PROFILE: &str = "ec2.vpce_gateway";
const INTERFACE_PROFILE: &str = "ec2.vpce_interface";

#[derive(Debug)]
pub struct VpcEndpoint {
    /// Reached through the subnets or route tables.
    pub vpc: StepId,
    /// The last part of its Name tag (`vpce-{project}-{short}`).
    pub short: &'static str,
    pub flavor: Flavor,
}

/// The state attribute (on `vpce.s3`) that records `provision jumpstart enable`.
pub const JUMPSTART_ATTR: &str = "jumpstart";

/// Whether the state records JumpStart access as enabled.
pub fn jumpstart_enabled(ctx: &Ctx) -> bool {
    ctx.state.attr(&StepId::VPCE_S3, JUMPSTART_ATTR).is_ok_and(|v| v == "true")
}

/// The seed's JumpStart statement: read objects tagged `SageMaker=true` in
/// any bucket (JumpStart's model and notebook content is tagged so).
pub fn jumpstart_statement() -> serde_json::Value {
    json!({
        "Sid": "JumpStartContent",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::*"],
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/SageMaker": "true"}}
    })
}

/// The S3 endpoint policy: object and list calls on the stack's two buckets
/// only, plus the JumpStart statement when the state records it enabled (so
/// an endpoint `up` creates again keeps it).
pub fn s3_policy(ctx: &Ctx) -> serde_json::Value {
    s3_policy_with(ctx, jumpstart_enabled(ctx))
}

/// Only principals of the stack's account: credentials of another account
/// cannot carry data out through the endpoint (the data perimeter's
/// identity control: `aws:PrincipalAccount`, IAM global condition context
/// keys; "You can't use wildcard characters ... with global context keys
/// that reference system-generated identifiers (for example,
/// aws:PrincipalAccount)", PrivateLink guide, "Control access to VPC
/// endpoints using endpoint policies"). `aws:ResourceAccount` is not added:
/// Studio pulls SageMaker's images from AWS-owned ECR repositories and
/// reads AWS-owned objects (JumpStart, ECR's layer bucket), which another
/// account holds.
pub fn account_condition(ctx: &Ctx) -> serde_json::Value {
    json!({"StringEquals": {"aws:PrincipalAccount": ctx.account}})
}

/// ECR serves image layers from an S3 bucket of its own: pulls through the
/// stack's `ecr.dkr`/`ecr.api` endpoints need it readable through the S3
/// gateway endpoint (ECR user guide, "Amazon ECR interface VPC endpoints
/// (AWS PrivateLink)": the minimum S3 endpoint policy is s3:GetObject on
/// `arn:aws:s3:::prod-{region}-starport-layer-bucket/*`). The object is
/// fetched through a URL ECR signs, so no account condition.
pub fn ecr_layer_statement(ctx: &Ctx) -> serde_json::Value {
    json!({
        "Sid": "EcrImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": [format!("arn:aws:s3:::prod-{}-starport-layer-bucket/*", ctx.s.region)],
    })
}

pub fn s3_policy_with(ctx: &Ctx, jumpstart: bool) -> serde_json::Value {
    let mut resources = Vec::new();
    for which in ["data", "models"] {
        let b = ctx.s.bucket_name(&ctx.account, which);
        resources.push(format!("arn:aws:s3:::{b}"));
        resources.push(format!("arn:aws:s3:::{b}/*"));
    }
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"],
        "Resource": resources,
        "Condition": account_condition(ctx),
    })];
    if jumpstart {
        statements.push(jumpstart_statement());
    }
    statements.push(ecr_layer_statement(ctx));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Whether a live policy is `want`, statements compared as AWS may
/// rewrite them (`policy::same_statement`).
fn same_policy(live: Option<&serde_json::Value>, want: &serde_json::Value) -> bool {
    let Some(live) = live else { return false };
    let (a, b) = (crate::policy::statements(live), crate::policy::statements(want));
    a.len() == b.len() && b.iter().all(|w| a.iter().any(|l| crate::policy::same_statement(l, w)))
}

/// The endpoint's policy as AWS holds it now, parsed (`None`: no such
/// endpoint, or no policy).
pub async fn live_policy(ctx: &Ctx, id: &str) -> Result<Option<serde_json::Value>> {
    let e = endpoint(ctx, id).await.with_context(|| format!("reading VPC endpoint {id}"))?;
    e.and_then(|e| e.policy_document().map(crate::policy::parse)).transpose()
}

/// The endpoint `id`: from the pass's listing, else DescribeVpcEndpoints by
/// id (a NotFound answer is an error).
async fn endpoint(ctx: &Ctx, id: &str) -> Result<Option<aws_sdk_ec2::types::VpcEndpoint>> {
    if let Some(e) = cached_endpoint(ctx, id).await? {
        return Ok(e);
    }
    let out = ctx.aws.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws)?;
    Ok(out.vpc_endpoints().first().cloned())
}

/// An interface endpoint's policy: any call, by the account's principals
/// only (`account_condition`).
pub fn interface_policy(ctx: &Ctx) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": account_condition(ctx)}]
    })
}

/// The endpoint's state, lowercased: EC2 answers `available`, `pending`, ...
/// in lowercase, which the SDK's `State` enum (capitalised) does not parse.
async fn state(ctx: &Ctx, id: &str) -> Result<Option<String>> {
    if let Some(e) = cached_endpoint(ctx, id).await? {
        return Ok(e.and_then(|e| e.state().map(|s| s.as_str().to_ascii_lowercase())));
    }
    let out = found(ctx.aws.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws))?;
    Ok(out.and_then(|o| o.vpc_endpoints().first().and_then(|e| e.state()).map(|s| s.as_str().to_ascii_lowercase())))
}

/// `state` for a wait: every endpoint of the stack's VPC from one
/// DescribeVpcEndpoints (filtered by the VPC, paginated) shared by the waits
/// of all its endpoints (`Polls`); not listed is `None`. Without a recorded
/// VPC, `state`.
async fn polled_state(ctx: &Ctx, id: &str) -> Result<Option<String>> {
    let Ok(vpc) = ctx.state.id(&StepId::VPC) else { return state(ctx, id).await };
    let fresh = crate::wait::scaled(super::SHARED_FRESH);
    let all = ctx
        .polls
        .get(&format!("ec2:DescribeVpcEndpoints {vpc}"), fresh, || async {
            let eps: Vec<aws_sdk_ec2::types::VpcEndpoint> = ctx
                .aws
                .ec2
                .describe_vpc_endpoints()
                .filters(super::ec2_filter("vpc-id", vpc.clone()))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(aws)?;
            Ok(eps
                .into_iter()
                .filter_map(|e| Some((e.vpc_endpoint_id()?.to_string(), e.state()?.as_str().to_ascii_lowercase())))
                .collect::<std::collections::HashMap<String, String>>())
        })
        .await?;
    Ok(all.get(id).cloned())
}

/// Waits until the endpoint is available; `shared`: from the VPC's shared
/// listing (`polled_state`; right after a create), else from its own
/// describe (after a modify, which an older listing would not show).
pub(super) async fn wait_available(ctx: &Ctx, id: &str, shared: bool, profile: &str) -> Result<()> {
    // An id CreateVpcEndpoint just returned may not be describable yet
    // (EC2 eventual consistency; terraform-provider-aws
    // waitVPCEndpointAvailable retries InvalidVpcEndpointId.NotFound).
    let unseen = crate::wait::Unseen::new(crate::retry::CONSISTENCY_BOUND);
    until("VPC endpoint available", Poll::expect(crate::latency::create_s(profile), 15 * 60), || async {
        let st = if shared { polled_state(ctx, id).await? } else { state(ctx, id).await? };
        crate::progress::observed(st.as_deref().unwrap_or("absent"));
        match st.as_deref() {
            Some("available") => Ok(Some(())),
            Some(s @ ("failed" | "rejected" | "deleted" | "deleting" | "expired")) => {
                bail!("VPC endpoint {id} is {s}")
            }
            None => unseen.absent(format!("VPC endpoint {id} does not exist")),
            _ => Ok(None),
        }
    })
    .await
}

impl VpcEndpoint {
    fn member_steps(&self) -> &[StepId] {
        match &self.flavor {
            Flavor::Gateway { route_tables } => route_tables,
            Flavor::Interface { subnets, .. } => subnets,
        }
    }

    /// The recorded members (route tables or subnets) the endpoint lacks.
    async fn missing(&self, ctx: &Ctx, id: &str) -> Result<Vec<String>> {
        let e = endpoint(ctx, id).await?;
        let have = e.map(|e| match self.flavor {
            Flavor::Gateway { .. } => e.route_table_ids().to_vec(),
            Flavor::Interface { .. } => e.subnet_ids().to_vec(),
        });
        Ok(missing_members(ctx, self.member_steps(), &have.unwrap_or_default()))
    }
}

impl VpcEndpoint {
    /// This endpoint's entry in the latency profile.
    fn profile_kind(&self) -> &'static str {
        match self.flavor {
            Flavor::Gateway { .. } => GATEWAY_PROFILE,
            Flavor::Interface { .. } => INTERFACE_PROFILE,
        }
    }
}

#[async_trait]
impl Kind for VpcEndpoint {
    fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::Gateway { .. } => "gateway VPC endpoint",
            Flavor::Interface { .. } => "interface VPC endpoint",
        }
    }

    /// An interface endpoint is billed per zone it has an interface in, by
    /// the hour, and per GB; a gateway endpoint is free.
    fn priced(&self, _s: &Settings) -> Vec<Use> {
        match &self.flavor {
            Flavor::Gateway { .. } => Vec::new(),
            Flavor::Interface { subnets, .. } => vec![
                Use::new("interface-endpoint-hour", subnets.len(), Per::Zone, Usage::Always),
                Use::new("interface-endpoint-gb", 1, Per::Stack, Usage::Traffic(Flow::Endpoints)),
            ],
        }
    }

    fn profile(&self) -> Option<&'static str> {
        Some(self.profile_kind())
    }

    fn needs(&self) -> Vec<StepId> {
        let mut n = self.member_steps().to_vec();
        if let Flavor::Interface { sg, .. } = &self.flavor {
            n.push(sg.clone());
        }
        n
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }

    fn members(&self) -> &[StepId] {
        self.member_steps()
    }

    /// Its zones: ModifyVpcEndpoint adds and removes subnets and route
    /// tables in place (EC2 API reference, ModifyVpcEndpoint
    /// `AddSubnetIds`/`RemoveSubnetIds`, `AddRouteTableIds`/`RemoveRouteTableIds`).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        vec![Property::new("zones", "availability_zones", super::property::zones(s), Change::InPlace)]
    }

    /// A removed zone's subnet or route table leaves the endpoint
    /// (ModifyVpcEndpoint `RemoveSubnetIds`/`RemoveRouteTableIds`), then it
    /// is waited for until available again.
    async fn drop_members(&self, ctx: &Ctx, _me: &StepId, id: &str, gone: &[String]) -> Result<bool> {
        let Some(e) = endpoint(ctx, id).await? else { return Ok(false) };
        let have = match self.flavor {
            Flavor::Gateway { .. } => e.route_table_ids().to_vec(),
            Flavor::Interface { .. } => e.subnet_ids().to_vec(),
        };
        let drop: Vec<String> = have.into_iter().filter(|m| gone.contains(m)).collect();
        if drop.is_empty() {
            return Ok(false);
        }
        let call = ctx.aws.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
        let call = match self.flavor {
            Flavor::Gateway { .. } => call.set_remove_route_table_ids(Some(drop.clone())),
            Flavor::Interface { .. } => call.set_remove_subnet_ids(Some(drop.clone())),
        };
        call.send()
            .await
            .map_err(aws)
            .with_context(|| format!("taking {} out of VPC endpoint {id}", drop.join(", ")))?;
        wait_available(ctx, id, false, self.profile_kind()).await?;
        Ok(true)
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::VpcEndpoint>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::VpcEndpoint>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, token: &str) -> Result<String> {
        let vpc = ctx.state.id(&self.vpc)?;
        let name = format!("vpce-{}-{}", ctx.s.project, self.short);
        let base = ctx.aws.ec2.create_vpc_endpoint().vpc_id(&vpc).client_token(token).tag_specifications(ctx.ec2_tags(
            ResourceType::VpcEndpoint,
            me,
            Some(&name),
        ));
        let call = match &self.flavor {
            Flavor::Gateway { route_tables } => base
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .service_name(format!("com.amazonaws.{}.s3", ctx.s.region))
                .set_route_table_ids(Some(ctx.ids(route_tables)?))
                .policy_document(s3_policy(ctx).to_string()),
            Flavor::Interface { service, policy, subnets, sg } => {
                let c = base
                    .vpc_endpoint_type(VpcEndpointType::Interface)
                    .service_name(service)
                    .set_subnet_ids(Some(ctx.ids(subnets)?))
                    .security_group_ids(ctx.state.id(sg)?)
                    .private_dns_enabled(true);
                if *policy { c.policy_document(interface_policy(ctx).to_string()) } else { c }
            }
        };
        // Idempotent (ClientToken): an eventual-consistency refusal, a throttled answer or a fault is sent again.
        let transient = |e: &anyhow::Error| is_eventual_consistency(e) || crate::retry::is_throttling_or_fault(e);
        let out =
            retry_while(CONSISTENCY_BOUND, transient, || async { call.clone().send().await.map_err(aws) }).await?;
        out.vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .map(str::to_string)
            .context("CreateVpcEndpoint returned no VpcEndpointId")
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        wait_available(ctx, id, true, self.profile_kind()).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(match state(ctx, id).await?.as_deref() {
            None | Some("deleted" | "deleting") => Health::Missing,
            Some(s @ ("failed" | "rejected" | "expired")) => Health::Failed(format!("endpoint is {s}")),
            Some(_) => Health::Present,
        })
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let delete = || async { ctx.aws.ec2.delete_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws) };
        let out = match retry_while(CONSISTENCY_BOUND, crate::retry::is_throttling_or_fault, delete).await {
            Err(e) if is_not_found(&e) => return Ok(()),
            r => r?,
        };
        if let Some(u) = out.unsuccessful().iter().find(|u| u.resource_id() == Some(id)) {
            let err = u.error();
            let code = err.and_then(|e| e.code()).unwrap_or_default();
            if !code.contains("NotFound") {
                bail!("DeleteVpcEndpoints refused {id}: {code}: {}", err.and_then(|e| e.message()).unwrap_or_default());
            }
            return Ok(());
        }
        until("VPC endpoint deleted", Poll::expect(crate::latency::delete_s(self.profile_kind()), 15 * 60), || async {
            Ok(match polled_state(ctx, id).await?.as_deref() {
                None | Some("deleted") => Some(()),
                _ => None,
            })
        })
        .await
    }

    /// The zones' members it lacks, and (S3) the policy.
    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let what = match self.flavor {
            Flavor::Gateway { .. } => "route tables",
            Flavor::Interface { .. } => "subnets",
        };
        let mut out = members_drift(what, &self.missing(ctx, id).await?);
        if let Flavor::Gateway { .. } = self.flavor {
            let actual = live_policy(ctx, id).await?;
            let jumpstart = jumpstart_enabled(ctx);
            if actual.is_some() && actual == Some(s3_policy_with(ctx, !jumpstart)) {
                // Exactly the JumpStart statement added (the original sample's
                // own step) or removed out of band: `provision jumpstart` owns it.
                out.push(if jumpstart {
                    "S3 endpoint policy lacks the JumpStart statement the state records (`provision jumpstart disable` records its removal; `up` puts it back)".into()
                } else {
                    "S3 endpoint policy has the JumpStart statement, which the state does not record (`provision jumpstart enable` keeps it; `up` removes it)".into()
                });
            } else if actual != Some(s3_policy(ctx)) {
                out.push("S3 endpoint policy differs from the stack's (the two buckets for the account's principals, ECR's layers)".into());
            }
        }
        if let Flavor::Interface { policy: true, .. } = self.flavor
            && !same_policy(live_policy(ctx, id).await?.as_ref(), &interface_policy(ctx))
        {
            out.push("endpoint policy differs from the stack's (any call, by the account's principals only)".into());
        }
        Ok(out)
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// Adds the new zones' members (ModifyVpcEndpoint), waits until the
    /// endpoint is available again, and puts the S3 policy back.
    async fn restore(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let missing = self.missing(ctx, id).await?;
        if !missing.is_empty() {
            let call = ctx.aws.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
            let call = match self.flavor {
                Flavor::Gateway { .. } => call.set_add_route_table_ids(Some(missing)),
                Flavor::Interface { .. } => call.set_add_subnet_ids(Some(missing)),
            };
            call.send().await.map_err(aws).with_context(|| format!("extending VPC endpoint {id} to the new zones"))?;
            wait_available(ctx, id, false, self.profile_kind()).await?;
        }
        let policy = match self.flavor {
            Flavor::Gateway { .. } => Some(s3_policy(ctx)),
            Flavor::Interface { policy: true, .. } => Some(interface_policy(ctx)),
            Flavor::Interface { .. } => None,
        };
        if let Some(p) = policy {
            let gateway = matches!(self.flavor, Flavor::Gateway { .. });
            if gateway || !same_policy(live_policy(ctx, id).await?.as_ref(), &p) {
                ctx.aws
                    .ec2
                    .modify_vpc_endpoint()
                    .vpc_endpoint_id(id)
                    .policy_document(p.to_string())
                    .send()
                    .await
                    .map_err(aws)
                    .with_context(|| format!("putting the stack's policy back on VPC endpoint {id}"))?;
            }
        }
        Ok(())
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
/// An endpoint counts while pending, available or pending acceptance (a
/// deleted one stays listed: terraform-provider-aws findVPCEndpointByID).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::VpcEndpoint {
    const LISTING: &'static str = "ec2:DescribeVpcEndpoints";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws
            .ec2
            .describe_vpc_endpoints()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        let out =
            ctx.aws.ec2.describe_vpc_endpoints().set_filters(Some(filters)).send().await.map_err(crate::error::aws)?;
        Ok(out.vpc_endpoints().to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.vpc_endpoint_id()
    }
    fn alive(&self) -> bool {
        self.state().is_some_and(|s| {
            matches!(s.as_str().to_ascii_lowercase().as_str(), "pending" | "available" | "pendingacceptance")
        })
    }
    fn alive_filters() -> Vec<aws_sdk_ec2::types::Filter> {
        let states =
            aws_sdk_ec2::types::Filter::builder().name("vpc-endpoint-state").values("pending").values("available");
        vec![states.values("pendingAcceptance").build()]
    }
}
