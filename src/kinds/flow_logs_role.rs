//! The role VPC flow logs deliver with (`iam.flow_logs_role`): trusted by
//! vpc-flow-logs.amazonaws.com for this account's flow logs only (the
//! `aws:SourceAccount` / `aws:SourceArn` conditions against the confused
//! deputy: VPC user guide, "IAM role for publishing flow logs to CloudWatch
//! Logs"), with an inline policy that may write to the stack's flow log
//! group only. Id = ARN; the name is unique per account.

use anyhow::Result;
use async_trait::async_trait;
use serde_json::json;

use super::iam_role::{find_role, new_role, remove_role, role_name, role_name_use};
use super::log_group::log_group_arn;
use super::{Ctx, Health, Kind, NameUse};
use crate::error::aws;
use crate::retry::{IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "iam.role";

impl StepId {
    pub const FLOW_LOGS_ROLE: StepId = StepId::of("iam.flow_logs_role");
}

/// The name of the role's one inline policy.
pub const FLOW_LOGS_POLICY_NAME: &str = "deliver-to-the-stacks-flow-log-group";

#[derive(Debug)]
pub struct FlowLogsRole {
    /// The log group it may write to (its name is derived; no edge needed).
    pub group: String,
}

pub fn flow_logs_trust_policy(ctx: &Ctx) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ctx.account},
                "ArnLike": {"aws:SourceArn": format!("arn:aws:ec2:{}:{}:vpc-flow-log/*", ctx.s.region, ctx.account)}
            }
        }]
    })
}

/// What flow logs need to deliver (VPC user guide, "IAM role for publishing
/// flow logs to CloudWatch Logs"), on the stack's group and its streams only;
/// DescribeLogGroups lists, so it is granted on the account's groups.
pub fn flow_logs_role_policy(ctx: &Ctx, group: &str) -> serde_json::Value {
    let arn = log_group_arn(ctx, group);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteTheStacksFlowLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [arn.clone(), format!("{arn}:*")]
            },
            {
                "Sid": "FindLogGroups",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": format!("arn:aws:logs:{}:{}:log-group:*", ctx.s.region, ctx.account)
            }
        ]
    })
}

#[async_trait]
impl Kind for FlowLogsRole {
    fn name(&self) -> &'static str {
        "IAM role for flow logs"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        find_role(ctx, me, &ctx.s.flow_logs_role_name()).await
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        role_name_use(ctx, &ctx.s.flow_logs_role_name()).await
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let description = "VPC flow logs delivery to the stack's log group (provision)";
        new_role(ctx, me, &ctx.s.flow_logs_role_name(), description, &flow_logs_trust_policy(ctx)).await
    }

    /// Puts the inline policy (idempotent: it replaces one of the same name).
    async fn settle(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        let doc = flow_logs_role_policy(ctx, &self.group).to_string();
        retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
            ctx.aws
                .iam
                .put_role_policy()
                .role_name(role_name(arn))
                .policy_name(FLOW_LOGS_POLICY_NAME)
                .policy_document(&doc)
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        Ok(())
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(ctx.aws.iam.get_role().role_name(role_name(id)).send().await.map_err(aws), |_| true)
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        remove_role(ctx, arn).await
    }
}
