//! The SageMaker execution role (`iam.role`, trusted by
//! sagemaker.amazonaws.com only) and its managed policy (`iam.policy`).
//! Ids are ARNs; names are unique per account, which is how an interrupted
//! create is found.

use anyhow::{Context, Result};
use aws_sdk_iam::types::Tag;
use serde_json::json;

use super::{Ctx, DRAIN_BOUND};
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::graph::Step;
use crate::retry::{IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::wait::retry_while;

fn tags(ctx: &Ctx, step: &Step) -> Vec<Tag> {
    ctx.tags(&step.id, None)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
        .collect()
}

pub fn trust_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The execution role's permissions (the seed's policy).
pub fn execution_policy(ctx: &Ctx) -> serde_json::Value {
    let (region, account) = (&ctx.s.region, &ctx.account);
    let mut buckets = Vec::new();
    for which in ["data", "models"] {
        let b = ctx.s.bucket_name(account, which);
        buckets.push(format!("arn:aws:s3:::{b}"));
        buckets.push(format!("arn:aws:s3:::{b}/*"));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
                "Resource": [
                    format!("arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/*"),
                    format!("arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/*:log-stream:*")
                ]
            },
            {
                "Sid": "CloudWatchMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
                "Resource": "*"
            },
            {
                "Sid": "Kms",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ListAliases"],
                "Resource": "*"
            },
            {
                "Sid": "S3StackBuckets",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": buckets
            },
            {
                "Sid": "EcrToken",
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken"],
                "Resource": "*"
            },
            {
                "Sid": "EcrPullPush",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
                    "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                    "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:CreateRepository"
                ],
                "Resource": "arn:aws:ecr:*:*:repository/*sagemaker*"
            },
            {
                "Sid": "PassRoleToSageMaker",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
            },
            {
                "Sid": "DenyJobsOutsideVpc",
                "Effect": "Deny",
                "Action": ["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateModel", "sagemaker:CreateHyperParameterTuningJob"],
                "Resource": "*",
                "Condition": {"Null": {"sagemaker:VpcSubnets": "true"}}
            },
            {
                "Sid": "SageMakerRead",
                "Effect": "Allow",
                "Action": ["sagemaker:Describe*", "sagemaker:List*"],
                "Resource": "*"
            },
            {
                "Sid": "SageMakerCreateApp",
                "Effect": "Allow",
                "Action": "sagemaker:CreateApp",
                "Resource": "*"
            },
            {
                "Sid": "Ec2InVpc",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"
                ],
                "Resource": "*"
            }
        ]
    })
}

fn policy_arn(ctx: &Ctx) -> String {
    format!("arn:aws:iam::{}:policy/{}", ctx.account, ctx.s.policy_name())
}

pub async fn find_policy(ctx: &Ctx) -> Result<Option<String>> {
    match ctx.aws.iam.get_policy().policy_arn(policy_arn(ctx)).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(None),
        r => Ok(r?.policy().and_then(|p| p.arn()).map(str::to_string)),
    }
}

pub async fn create_policy(ctx: &Ctx, step: &Step) -> Result<String> {
    let out = ctx
        .aws
        .iam
        .create_policy()
        .policy_name(ctx.s.policy_name())
        .path("/")
        .description("SageMaker execution role policy (provision)")
        .policy_document(execution_policy(ctx).to_string())
        .set_tags(Some(tags(ctx, step)))
        .send()
        .await
        .map_err(aws)?;
    out.policy().and_then(|p| p.arn()).map(str::to_string).context("CreatePolicy returned no ARN")
}

pub async fn delete_policy(ctx: &Ctx, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    match iam.list_policy_versions().policy_arn(arn).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(v) => {
            for ver in v.versions().iter().filter(|v| !v.is_default_version()) {
                if let Some(id) = ver.version_id() {
                    iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(aws)?;
                }
            }
        }
    }
    let r = retry_while(
        DRAIN_BOUND,
        |e| has_code(e, &["DeleteConflict"]),
        || async { iam.delete_policy().policy_arn(arn).send().await.map_err(aws) },
    )
    .await;
    gone_ok(r)
}

pub async fn find_role(ctx: &Ctx) -> Result<Option<String>> {
    match ctx.aws.iam.get_role().role_name(ctx.s.role_name()).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(None),
        r => Ok(r?.role().map(|r| r.arn().to_string())),
    }
}

pub async fn create_role(ctx: &Ctx, step: &Step) -> Result<String> {
    let out = ctx
        .aws
        .iam
        .create_role()
        .role_name(ctx.s.role_name())
        .path("/")
        .description("SageMaker Studio execution role (provision)")
        .assume_role_policy_document(trust_policy().to_string())
        .set_tags(Some(tags(ctx, step)))
        .send()
        .await
        .map_err(aws)?;
    out.role().map(|r| r.arn().to_string()).context("CreateRole returned no role")
}

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Attaches the managed policy (idempotent).
pub async fn settle_role(ctx: &Ctx, arn: &str) -> Result<()> {
    let policy = ctx.state.id("iam.policy")?;
    retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
        ctx.aws.iam.attach_role_policy().role_name(role_name(arn)).policy_arn(&policy).send().await.map_err(aws)
    })
    .await?;
    Ok(())
}

pub async fn delete_role(ctx: &Ctx, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let name = role_name(arn);
    match iam.list_attached_role_policies().role_name(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(out) => {
            for p in out.attached_policies() {
                if let Some(parn) = p.policy_arn() {
                    iam.detach_role_policy().role_name(name).policy_arn(parn).send().await.map_err(aws)?;
                }
            }
        }
    }
    match iam.delete_role().role_name(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(()),
        r => r.map(|_| ()),
    }
}
