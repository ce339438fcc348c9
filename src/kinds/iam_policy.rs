//! The SageMaker execution role's managed policy (`iam.policy`): the
//! seed's permissions. Id = ARN; the name is unique per account, which is
//! how an interrupted create is found.

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::json;

use super::{Ctx, DRAIN_BOUND, Health, Kind, NameUse, adopt_if_ours};
use crate::error::{aws, found, gone_ok, has_code, is_not_found};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "iam.policy";

#[derive(Debug)]
pub struct IamPolicy;

pub(super) fn iam_tags(ctx: &Ctx, me: &StepId) -> Vec<Tag> {
    ctx.tags(me, None)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
        .collect()
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
            // Today's Studio (SageMaker developer guide, "Amazon SageMaker
            // Studio spaces", its permissions for private spaces): a user
            // manages the spaces they own and the apps in them, opens the
            // portal, and tags what they create (AddTags only as part of a
            // create, `sagemaker:TaggingAction`).
            {
                "Sid": "StudioOwnSpaces",
                "Effect": "Allow",
                "Action": ["sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"],
                "Resource": format!("arn:aws:sagemaker:{region}:{account}:space/*"),
                "Condition": {"ArnLike": {"sagemaker:OwnerUserProfileArn": format!("arn:aws:sagemaker:{region}:{account}:user-profile/${{sagemaker:DomainId}}/${{sagemaker:UserProfileName}}")}}
            },
            {
                "Sid": "StudioSpaceApps",
                "Effect": "Allow",
                "Action": ["sagemaker:DeleteApp"],
                "Resource": format!("arn:aws:sagemaker:{region}:{account}:app/*")
            },
            {
                "Sid": "StudioPortal",
                "Effect": "Allow",
                "Action": ["sagemaker:CreatePresignedDomainUrl"],
                "Resource": format!("arn:aws:sagemaker:{region}:{account}:user-profile/*/*")
            },
            {
                "Sid": "StudioTagOnCreate",
                "Effect": "Allow",
                "Action": ["sagemaker:AddTags"],
                "Resource": format!("arn:aws:sagemaker:{region}:{account}:*"),
                "Condition": {"Null": {"sagemaker:TaggingAction": "false"}}
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

/// GetPolicy of `arn`, once per read-only pass (`Reads::read`): `health` and `drift` read it once.
async fn got_policy(
    ctx: &Ctx,
    arn: &str,
) -> Result<std::sync::Arc<aws_sdk_iam::operation::get_policy::GetPolicyOutput>> {
    ctx.reads
        .read(&format!("iam:GetPolicy {arn}"), || async {
            ctx.aws.iam.get_policy().policy_arn(arn).send().await.map_err(aws)
        })
        .await
}

#[async_trait]
impl Kind for IamPolicy {
    fn name(&self) -> &'static str {
        "IAM managed policy"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    /// The policy of the derived name, if its tags prove it is this stack's.
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let r = ctx.aws.iam.get_policy().policy_arn(policy_arn(ctx)).send().await.map_err(aws);
        let Some(out) = found(r)? else { return Ok(None) };
        let p = out.policy().context("GetPolicy returned no Policy")?;
        let tags = p.tags().iter().map(|t| (t.key(), t.value()));
        adopt_if_ours(ctx, me, "IAM policy", p.arn().unwrap_or_default().to_string(), tags)
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        match ctx.aws.iam.get_policy().policy_arn(policy_arn(ctx)).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(NameUse::Free),
            Err(e) => Err(e),
            Ok(out) => {
                let p = out.policy().context("GetPolicy returned no Policy")?;
                let tags = p.tags().iter().map(|t| (t.key(), t.value()));
                Ok(NameUse::of_tags(ctx, format!("IAM policy {}", p.arn().unwrap_or_default()), "--project", tags))
            }
        }
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let out = ctx
            .aws
            .iam
            .create_policy()
            .policy_name(ctx.s.policy_name())
            .path("/")
            .description("SageMaker execution role policy (provision)")
            .policy_document(execution_policy(ctx).to_string())
            .set_tags(Some(iam_tags(ctx, me)))
            .send()
            .await
            .map_err(aws)?;
        out.policy().and_then(|p| p.arn()).map(str::to_string).context("CreatePolicy returned no ARN")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(got_policy(ctx, id).await, |_| true)
    }

    /// The default version's document against the one this version of `provision` writes: a
    /// policy made by an earlier version (or edited out of band) is brought up to date by `up`.
    /// GetPolicyVersion answers the document URL-encoded (IAM API reference, PolicyVersion.Document).
    async fn drift(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Vec<String>> {
        let iam = &ctx.aws.iam;
        let p = got_policy(ctx, arn).await?;
        let version =
            p.policy().and_then(|p| p.default_version_id()).context("GetPolicy returned no default version")?;
        let v = iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(aws)?;
        let doc = v.policy_version().and_then(|v| v.document()).context("GetPolicyVersion returned no document")?;
        Ok(if crate::policy::parse(doc)? == execution_policy(ctx) {
            Vec::new()
        } else {
            vec![format!("the execution policy's default version {version} differs from the stack's permissions")]
        })
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// A new default version with the stack's document. IAM keeps at most five versions of a
    /// managed policy (IAM quotas, "Managed policy versions"): at five, the oldest non-default
    /// one is deleted first, as terraform-provider-aws's policy update does
    /// (internal/service/iam/policy.go, policyPruneVersions).
    async fn restore(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        let iam = &ctx.aws.iam;
        let versions = iam.list_policy_versions().policy_arn(arn).send().await.map_err(aws)?;
        let mut old: Vec<_> = versions.versions().iter().filter(|v| !v.is_default_version()).collect();
        if versions.versions().len() >= 5 {
            // IAM numbers versions v1, v2, ... in the order they were made: the lowest is the oldest.
            old.sort_by_key(|v| v.version_id().and_then(|id| id.trim_start_matches('v').parse::<u64>().ok()));
            if let Some(id) = old.first().and_then(|v| v.version_id()) {
                iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(aws)?;
            }
        }
        iam.create_policy_version()
            .policy_arn(arn)
            .policy_document(execution_policy(ctx).to_string())
            .set_as_default(true)
            .send()
            .await
            .map_err(aws)?;
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
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
}
