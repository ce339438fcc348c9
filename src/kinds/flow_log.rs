//! The VPC flow log (`ec2.flow_log`): ALL traffic of the VPC to the stack's
//! flow log group, delivered with `iam.flow_logs_role`. Id = flow log id;
//! an interrupted create is found by its tags (and CreateFlowLogs takes a
//! ClientToken).

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};

use super::{Ctx, Health, Kind, ec2_filter};
use crate::error::{aws, has_code};
use crate::retry::{IAM_PROPAGATION_BOUND, is_flow_logs_role_propagation};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.flow_log";

impl StepId {
    pub const FLOW_LOG: StepId = StepId::of("ec2.flow_log");
}

#[derive(Debug)]
pub struct FlowLog {
    pub vpc: StepId,
    pub group: StepId,
    pub role: StepId,
}

/// Every flow log of the region, read once per read-only pass (one paginated describe for
/// find, health, drift and `verify`); `None` outside a pass.
async fn listed(ctx: &Ctx) -> Result<Option<std::sync::Arc<Vec<aws_sdk_ec2::types::FlowLog>>>> {
    super::ec2_tagged::listed(ctx).await
}

/// The flow logs of the VPC: (id, traffic type, log group, delivery role).
pub async fn vpc_flow_logs(ctx: &Ctx, vpc: &str) -> Result<Vec<(String, String, String, String)>> {
    let all = match listed(ctx).await? {
        Some(all) => all.iter().filter(|f| f.resource_id() == Some(vpc)).cloned().collect::<Vec<_>>(),
        None => {
            let out =
                ctx.aws.ec2.describe_flow_logs().filter(ec2_filter("resource-id", vpc)).send().await.map_err(aws)?;
            out.flow_logs().to_vec()
        }
    };
    Ok(all
        .iter()
        .map(|f| {
            (
                f.flow_log_id().unwrap_or_default().to_string(),
                f.traffic_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                f.log_group_name().unwrap_or_default().to_string(),
                f.deliver_logs_permission_arn().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

#[async_trait]
impl Kind for FlowLog {
    fn name(&self) -> &'static str {
        "VPC flow log"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.vpc.clone(), self.group.clone(), self.role.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::FlowLog>(ctx, me).await
    }

    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::FlowLog>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, token: &str) -> Result<String> {
        let (vpc, group, role) = (ctx.state.id(&self.vpc)?, ctx.state.id(&self.group)?, ctx.state.id(&self.role)?);
        // The delivery role was just made: until it propagates, CreateFlowLogs answers
        // "Unable to assume given IAM role" (`retry::is_flow_logs_role_propagation`).
        let out = retry_while(IAM_PROPAGATION_BOUND, is_flow_logs_role_propagation, || async {
            ctx.aws
                .ec2
                .create_flow_logs()
                .resource_type(FlowLogsResourceType::Vpc)
                .resource_ids(&vpc)
                .traffic_type(TrafficType::All)
                .log_destination_type(LogDestinationType::CloudWatchLogs)
                .log_group_name(&group)
                .deliver_logs_permission_arn(&role)
                .tag_specifications(ctx.ec2_tags(ResourceType::VpcFlowLog, me, None))
                .client_token(token)
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        if let Some(u) = out.unsuccessful().first() {
            let e = u.error();
            bail!(
                "CreateFlowLogs refused {}: {} {}",
                u.resource_id().unwrap_or(&vpc),
                e.and_then(|e| e.code()).unwrap_or("unknown"),
                e.and_then(|e| e.message()).unwrap_or_default()
            );
        }
        out.flow_log_ids().first().cloned().context("CreateFlowLogs returned no flow log id")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(Health::found(
                all.iter().find(|f| f.flow_log_id() == Some(id)).and_then(|f| f.flow_log_id()),
                id,
            ));
        }
        let out = ctx.aws.ec2.describe_flow_logs().flow_log_ids(id).send().await.map_err(aws)?;
        Ok(Health::found(out.flow_logs().first().and_then(|f| f.flow_log_id()), id))
    }

    /// DeleteFlowLogs answers an unknown id in `Unsuccessful` (or as an error).
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let gone = ["InvalidFlowLogId.NotFound"];
        match ctx.aws.ec2.delete_flow_logs().flow_log_ids(id).send().await.map_err(aws) {
            Err(e) if has_code(&e, &gone) => Ok(()),
            Err(e) => Err(e),
            Ok(out) => match out.unsuccessful().first().and_then(|u| u.error()) {
                Some(e) if !gone.contains(&e.code().unwrap_or_default()) => {
                    bail!(
                        "DeleteFlowLogs refused {id}: {} {}",
                        e.code().unwrap_or("unknown"),
                        e.message().unwrap_or("")
                    )
                }
                _ => Ok(()),
            },
        }
    }

    /// Traffic type, destination and role as the stack sets them.
    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let f = match listed(ctx).await? {
            Some(all) => all.iter().find(|f| f.flow_log_id() == Some(id)).cloned(),
            None => {
                let out = ctx.aws.ec2.describe_flow_logs().flow_log_ids(id).send().await.map_err(aws)?;
                out.flow_logs().first().cloned()
            }
        };
        let Some(f) = f else { return Ok(Vec::new()) };
        let mut d = Vec::new();
        let traffic = f.traffic_type().map(|t| t.as_str()).unwrap_or("unset");
        if traffic != TrafficType::All.as_str() {
            d.push(format!("traffic type {traffic}, not ALL"));
        }
        let group = ctx.state.id(&self.group)?;
        if f.log_group_name() != Some(group.as_str()) {
            d.push(format!("delivers to {}, not {group}", f.log_group_name().unwrap_or("no log group")));
        }
        Ok(d)
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::FlowLog {
    const LISTING: &'static str = "ec2:DescribeFlowLogs";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws.ec2.describe_flow_logs().into_paginator().items().send().try_collect().await.map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        Ok(ctx
            .aws
            .ec2
            .describe_flow_logs()
            .set_filter(Some(filters))
            .send()
            .await
            .map_err(crate::error::aws)?
            .flow_logs()
            .to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.flow_log_id()
    }
}
