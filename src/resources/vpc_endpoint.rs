//! VPC endpoints: the S3 gateway endpoint (`vpce.s3`, on `rtb.sagemaker`,
//! policy limited to the two buckets, plus JumpStart's content when
//! `provision jumpstart enable` recorded it) and the ten interface endpoints
//! (`vpce.*`, private DNS, in `subnet.sagemaker` with `sg.vpce`).

use anyhow::{Context, Result, bail};
use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use serde_json::json;

use super::Ctx;
use super::check::Health;
use crate::error::{aws, is_not_found};
use crate::graph::{Spec, Step};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::{Poll, retry_while, until};

/// The state attribute (on `vpce.s3`) that records `provision jumpstart enable`.
pub const JUMPSTART_ATTR: &str = "jumpstart";

/// Whether the state records JumpStart access as enabled.
pub fn jumpstart_enabled(ctx: &Ctx) -> bool {
    ctx.state.attr("vpce.s3", JUMPSTART_ATTR).is_ok_and(|v| v == "true")
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
    })];
    if jumpstart {
        statements.push(jumpstart_statement());
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub fn allow_all_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]
    })
}

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let mut filters = ctx.ec2_tag_filters(&step.id);
    filters.push(
        aws_sdk_ec2::types::Filter::builder()
            .name("vpc-endpoint-state")
            .values("pending")
            .values("available")
            .values("pendingAcceptance")
            .build(),
    );
    let out = ctx.aws.ec2.describe_vpc_endpoints().set_filters(Some(filters)).send().await.map_err(aws)?;
    Ok(out.vpc_endpoints().iter().find_map(|e| e.vpc_endpoint_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step, token: &str) -> Result<String> {
    let vpc = ctx.state.id("vpc")?;
    let name = format!("vpce-{}-{}", ctx.s.project, step.id.trim_start_matches("vpce."));
    let base = ctx.aws.ec2.create_vpc_endpoint().vpc_id(&vpc).client_token(token).tag_specifications(ctx.ec2_tags(
        ResourceType::VpcEndpoint,
        &step.id,
        Some(&name),
    ));
    let call = match &step.spec {
        Spec::VpceGateway { route_tables } => base
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .service_name(format!("com.amazonaws.{}.s3", ctx.s.region))
            .set_route_table_ids(Some(ctx.ids(route_tables)?))
            .policy_document(s3_policy(ctx).to_string()),
        Spec::VpceInterface { service, policy, subnets } => {
            let c = base
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .service_name(service)
                .set_subnet_ids(Some(ctx.ids(subnets)?))
                .security_group_ids(ctx.state.id("sg.vpce")?)
                .private_dns_enabled(true);
            if *policy { c.policy_document(allow_all_policy().to_string()) } else { c }
        }
        _ => bail!("{} is not a VPC endpoint", step.id),
    };
    let out =
        retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async { call.clone().send().await.map_err(aws) })
            .await?;
    out.vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .map(str::to_string)
        .context("CreateVpcEndpoint returned no VpcEndpointId")
}

/// The endpoint's state, lowercased: EC2 answers `available`, `pending`, ...
/// in lowercase, which the SDK's `State` enum (capitalised) does not parse.
async fn state(ctx: &Ctx, id: &str) -> Result<Option<String>> {
    match ctx.aws.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(out) => Ok(out.vpc_endpoints().first().and_then(|e| e.state()).map(|s| s.as_str().to_ascii_lowercase())),
    }
}

pub async fn health(ctx: &Ctx, id: &str) -> Result<Health> {
    Ok(match state(ctx, id).await?.as_deref() {
        None | Some("deleted" | "deleting") => Health::Missing,
        Some(s @ ("failed" | "rejected" | "expired")) => Health::Failed(format!("endpoint is {s}")),
        Some(_) => Health::Present,
    })
}

pub async fn wait_available(ctx: &Ctx, id: &str) -> Result<()> {
    until("VPC endpoint available", Poll::expect(90, 15 * 60), || async {
        let st = state(ctx, id).await?;
        crate::progress::observed(st.as_deref().unwrap_or("absent"));
        match st.as_deref() {
            Some("available") => Ok(Some(())),
            Some(s @ ("failed" | "rejected" | "deleted" | "deleting" | "expired")) => {
                bail!("VPC endpoint {id} is {s}")
            }
            None => bail!("VPC endpoint {id} no longer exists"),
            _ => Ok(None),
        }
    })
    .await
}

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let out = ctx.aws.ec2.delete_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(aws);
    match out {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(o) => {
            if let Some(u) = o.unsuccessful().iter().find(|u| u.resource_id() == Some(id)) {
                let err = u.error();
                let code = err.and_then(|e| e.code()).unwrap_or_default();
                if !code.contains("NotFound") {
                    bail!(
                        "DeleteVpcEndpoints refused {id}: {code}: {}",
                        err.and_then(|e| e.message()).unwrap_or_default()
                    );
                }
                return Ok(());
            }
        }
    }
    until("VPC endpoint deleted", Poll::expect(60, 15 * 60), || async {
        Ok(match state(ctx, id).await?.as_deref() {
            None | Some("deleted") => Some(()),
            _ => None,
        })
    })
    .await
}

/// Puts the stack's policy back on the S3 endpoint (drift repair).
pub async fn reset_s3_policy(ctx: &Ctx, id: &str) -> Result<()> {
    ctx.aws
        .ec2
        .modify_vpc_endpoint()
        .vpc_endpoint_id(id)
        .policy_document(s3_policy(ctx).to_string())
        .send()
        .await
        .map_err(aws)?;
    Ok(())
}

/// Adds the subnets (interface) or route tables (gateway) of zones added
/// to a live stack, then waits until the endpoint is available again.
pub async fn extend(ctx: &Ctx, id: &str, subnets: Vec<String>, route_tables: Vec<String>) -> Result<()> {
    if subnets.is_empty() && route_tables.is_empty() {
        return Ok(());
    }
    let call = ctx.aws.ec2.modify_vpc_endpoint().vpc_endpoint_id(id);
    let call = if subnets.is_empty() { call } else { call.set_add_subnet_ids(Some(subnets)) };
    let call = if route_tables.is_empty() { call } else { call.set_add_route_table_ids(Some(route_tables)) };
    call.send().await.map_err(aws).with_context(|| format!("extending VPC endpoint {id} to the new zones"))?;
    wait_available(ctx, id).await
}
