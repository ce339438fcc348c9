//! The SageMaker execution role's managed policy (`iam.policy`): what
//! Studio's users may do, inside the stack's guardrails (`execution_policy_for`).
//! Id = ARN; the name is unique per account, which is
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

/// What the execution role's managed policy names: the stack's derived
/// names and the choices the state records (no resource id: the policy is
/// made before the network).
#[derive(Debug, Clone, PartialEq)]
pub struct Studio {
    pub region: String,
    pub account: String,
    /// The execution role itself (it passes itself to the jobs it starts).
    pub role_arn: String,
    /// `arn:aws:s3:::{bucket}` of the data and models buckets.
    pub buckets: Vec<String>,
    /// `provision jumpstart enable`: JumpStart's content may be read.
    pub jumpstart: bool,
}

/// What the execution role's guardrails (its inline policy) are made of:
/// the stack's network and keys by id.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrails {
    /// Every zone's SageMaker subnet.
    pub subnets: Vec<String>,
    /// `sg.sagemaker`.
    pub security_group: String,
    /// `kms.ebs`: the key of every ML storage volume.
    pub volume_key: String,
    /// `kms.s3`: the buckets' key, which job outputs are encrypted with.
    pub output_key: String,
    /// `network_isolation`: jobs and models must run without network access.
    pub network_isolation: bool,
}

/// The name of the execution role's inline policy.
pub const GUARDRAILS_POLICY_NAME: &str = "guardrails";

/// The SageMaker operations that start compute in the stack's network, with
/// the guardrail condition keys each carries (Service Authorization
/// Reference, "Actions, resources, and condition keys for Amazon SageMaker
/// AI": the condition keys column of each action).
pub const JOBS_IN_VPC: &[&str] = &[
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateNotebookInstance",
];
/// Those with an ML storage volume (`sagemaker:VolumeKmsKey`).
pub const JOBS_WITH_VOLUME: &[&str] = &[
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateNotebookInstance",
];
/// Those writing output to S3 (`sagemaker:OutputKmsKey`).
pub const JOBS_WITH_OUTPUT: &[&str] =
    &["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateHyperParameterTuningJob"];
/// Those with a network isolation switch (`sagemaker:NetworkIsolation`).
pub const JOBS_ISOLABLE: &[&str] = &[
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
];

/// The managed policy's inputs for this stack.
pub fn studio(ctx: &Ctx) -> Studio {
    let (region, account) = (ctx.s.region.clone(), ctx.account.clone());
    Studio {
        role_arn: format!("arn:aws:iam::{account}:role/{}", ctx.s.role_name()),
        buckets: ["data", "models"]
            .iter()
            .map(|w| format!("arn:aws:s3:::{}", ctx.s.bucket_name(&account, w)))
            .collect(),
        jumpstart: super::vpc_endpoint::jumpstart_enabled(ctx),
        region,
        account,
    }
}

/// The guardrails of a live stack: ids from the state (`subnets` are every
/// zone's SageMaker subnet step).
pub fn guardrails(ctx: &Ctx, subnets: &[StepId]) -> Result<Guardrails> {
    Ok(Guardrails {
        subnets: subnets.iter().map(|z| ctx.state.id(z)).collect::<Result<_>>()?,
        security_group: ctx.state.id(&StepId::SG_SAGEMAKER)?,
        volume_key: ctx.state.id(&StepId::KMS_EBS)?,
        output_key: ctx.state.id(&StepId::KMS_S3)?,
        network_isolation: ctx.s.network_isolation,
    })
}

/// The execution role's managed policy for a live stack (`execution_policy_for`).
pub fn execution_policy(ctx: &Ctx) -> serde_json::Value {
    execution_policy_for(&studio(ctx))
}

/// The execution role's managed policy: what Studio's users do.
///
/// Allowed: logs and metrics of SageMaker's own groups, the two buckets, ECR
/// images, passing this role to SageMaker, reading SageMaker, their own
/// private spaces and the apps in them (SageMaker developer guide, "Amazon
/// SageMaker Studio spaces", the private-space permissions:
/// `sagemaker:OwnerUserProfileArn` against the
/// `${sagemaker:DomainId}`/`${sagemaker:UserProfileName}` of the Studio
/// session), the presigned URL of their own profile, and training,
/// processing and tuning jobs, models, endpoint configurations, endpoints
/// and notebook instances, which the role's inline policy
/// (`guardrail_policy_for`) keeps inside the stack. With JumpStart enabled,
/// reading objects tagged `SageMaker=true` anywhere.
///
/// A managed policy holds at most 6,144 characters without whitespace (IAM
/// quotas, "IAM and AWS STS quotas"); the guardrails name ids, one per zone,
/// and are the inline policy (10,240).
pub fn execution_policy_for(g: &Studio) -> serde_json::Value {
    let (region, account) = (&g.region, &g.account);
    let sm = |res: &str| format!("arn:aws:sagemaker:{region}:{account}:{res}");
    let objects: Vec<String> = g.buckets.iter().map(|b| format!("{b}/*")).collect();
    let own_profile = sm("user-profile/${sagemaker:DomainId}/${sagemaker:UserProfileName}");
    let mut statements = vec![
        json!({
            "Sid": "CloudWatchLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
            "Resource": [
                format!("arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/*"),
                format!("arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/*:log-stream:*")
            ]
        }),
        json!({
            "Sid": "CloudWatchMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
            "Resource": "*"
        }),
        json!({"Sid": "KmsAliases", "Effect": "Allow", "Action": "kms:ListAliases", "Resource": "*"}),
        json!({
            "Sid": "StackBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": g.buckets
        }),
        json!({
            "Sid": "StackBucketObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": objects
        }),
    ];
    if g.jumpstart {
        // JumpStart's models and notebooks are in AWS's buckets, their objects
        // tagged SageMaker=true (AWS managed policy AmazonSageMakerFullAccess
        // has the same tag-conditioned s3:GetObject); a cross-account read needs
        // the caller's allow as well as the endpoint's (IAM user guide,
        // "Cross-account policy evaluation logic").
        statements.push(json!({
            "Sid": "JumpStartContent",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/SageMaker": "true"}}
        }));
    }
    statements.extend([
        json!({"Sid": "EcrToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}),
        json!({
            "Sid": "EcrPullPush",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
                "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:CreateRepository"
            ],
            "Resource": "arn:aws:ecr:*:*:repository/*sagemaker*"
        }),
        json!({
            "Sid": "PassThisRoleToSageMaker",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": g.role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        }),
        json!({"Sid": "SageMakerRead", "Effect": "Allow", "Action": ["sagemaker:Describe*", "sagemaker:List*"], "Resource": "*"}),
        json!({
            "Sid": "StudioOwnPortal",
            "Effect": "Allow",
            "Action": "sagemaker:CreatePresignedDomainUrl",
            "Resource": own_profile
        }),
        json!({
            "Sid": "StudioOwnSpaces",
            "Effect": "Allow",
            "Action": ["sagemaker:CreateSpace", "sagemaker:UpdateSpace", "sagemaker:DeleteSpace"],
            "Resource": sm("space/${sagemaker:DomainId}/*"),
            "Condition": {"ArnLike": {"sagemaker:OwnerUserProfileArn": own_profile}, "StringEquals": {"sagemaker:SpaceSharingType": "Private"}}
        }),
        json!({
            "Sid": "StudioOwnSpaceApps",
            "Effect": "Allow",
            "Action": ["sagemaker:CreateApp", "sagemaker:DeleteApp"],
            "Resource": sm("app/${sagemaker:DomainId}/*"),
            "Condition": {"ArnLike": {"sagemaker:OwnerUserProfileArn": own_profile}, "StringEquals": {"sagemaker:SpaceSharingType": "Private"}}
        }),
        json!({
            "Sid": "StudioTagOnCreate",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": sm("*"),
            "Condition": {"Null": {"sagemaker:TaggingAction": "false"}}
        }),
        json!({
            "Sid": "JobsModelsEndpoints",
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateTrainingJob", "sagemaker:StopTrainingJob",
                "sagemaker:CreateProcessingJob", "sagemaker:StopProcessingJob",
                "sagemaker:CreateHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
                "sagemaker:CreateModel", "sagemaker:DeleteModel",
                "sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig",
                "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint",
                "sagemaker:CreateNotebookInstance", "sagemaker:StopNotebookInstance", "sagemaker:DeleteNotebookInstance"
            ],
            "Resource": [
                sm("training-job/*"), sm("processing-job/*"), sm("hyper-parameter-tuning-job/*"), sm("model/*"),
                sm("endpoint-config/*"), sm("endpoint/*"), sm("notebook-instance/*")
            ]
        }),
        json!({
            "Sid": "Ec2InVpc",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"
            ],
            "Resource": "*"
        }),
    ]);
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The execution role's inline policy: the stack's keys, and the guardrails.
///
/// Denied whatever any policy allows (an explicit Deny wins; SageMaker
/// developer guide, "Enforce secure deployment of SageMaker resources" and
/// the condition keys of the Service Authorization Reference), one statement
/// per guardrail so that AccessDenied names it: compute outside the stack's
/// subnets (`sagemaker:VpcSubnets` absent or another) or security group
/// (`sagemaker:VpcSecurityGroupIds`), volumes without the `kms.ebs` key
/// (`sagemaker:VolumeKmsKey`), output without the buckets' `kms.s3` key
/// (`sagemaker:OutputKmsKey`), a notebook instance with direct internet or
/// root access (`sagemaker:DirectInternetAccess`, `sagemaker:RootAccess`,
/// which default to Enabled: absent is denied), and with `network_isolation`
/// a job or model without it (`sagemaker:NetworkIsolation`). A negated
/// operator (`ArnNotEquals`, `StringNotEquals`) matches an absent key (IAM
/// user guide, "Condition operators"); `ForAnyValue:` does not, hence the
/// `Null` statements. (`VpcConfig` requires both its subnets and its groups:
/// SageMaker API reference, VpcConfig; one `Null` statement covers both.)
pub fn guardrail_policy_for(g: &Guardrails) -> serde_json::Value {
    let deny = |sid: &str, actions: &[&str], condition: serde_json::Value| json!({"Sid": sid, "Effect": "Deny", "Action": actions, "Resource": "*", "Condition": condition});
    let mut statements = vec![
        json!({
            "Sid": "StackKeys",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": [g.volume_key, g.output_key]
        }),
        deny("DenyWithoutVpc", JOBS_IN_VPC, json!({"Null": {"sagemaker:VpcSubnets": "true"}})),
        deny(
            "DenyOtherSubnets",
            JOBS_IN_VPC,
            json!({"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": g.subnets}}),
        ),
        deny(
            "DenyOtherSecurityGroups",
            JOBS_IN_VPC,
            json!({"ForAnyValue:StringNotEquals": {"sagemaker:VpcSecurityGroupIds": [g.security_group]}}),
        ),
        deny("DenyOtherVolumeKey", JOBS_WITH_VOLUME, json!({"ArnNotEquals": {"sagemaker:VolumeKmsKey": g.volume_key}})),
        deny("DenyOtherOutputKey", JOBS_WITH_OUTPUT, json!({"ArnNotEquals": {"sagemaker:OutputKmsKey": g.output_key}})),
        deny(
            "DenyDirectInternetAccess",
            &["sagemaker:CreateNotebookInstance"],
            json!({"StringNotEquals": {"sagemaker:DirectInternetAccess": "Disabled"}}),
        ),
        deny(
            "DenyRootAccess",
            &["sagemaker:CreateNotebookInstance", "sagemaker:UpdateNotebookInstance"],
            json!({"StringNotEquals": {"sagemaker:RootAccess": "Disabled"}}),
        ),
    ];
    if g.network_isolation {
        statements.push(deny(
            "DenyWithoutNetworkIsolation",
            JOBS_ISOLABLE,
            json!({"Null": {"sagemaker:NetworkIsolation": "true"}}),
        ));
        statements.push(deny(
            "DenyNetworkIsolationOff",
            JOBS_ISOLABLE,
            json!({"Bool": {"sagemaker:NetworkIsolation": "false"}}),
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
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

#[cfg(test)]
mod tests {
    use super::*;

    fn studio() -> Studio {
        Studio {
            region: "ap-southeast-2".into(),
            account: "111122223333".into(),
            role_arn: format!(
                "arn:aws:iam::111122223333:role/{}-ap-southeast-2-sagemaker-execution-role",
                "p".repeat(32)
            ),
            buckets: vec![
                format!("arn:aws:s3:::{}-data", "b".repeat(50)),
                format!("arn:aws:s3:::{}-models", "b".repeat(50)),
            ],
            jumpstart: true,
        }
    }

    fn largest() -> Guardrails {
        Guardrails {
            subnets: (0..crate::config::MAX_ZONES).map(|i| format!("subnet-0123456789abcdef{i}")).collect(),
            security_group: "sg-0123456789abcdef0".into(),
            volume_key: "arn:aws:kms:ap-southeast-2:111122223333:key/0b2c3d4e-1111-2222-3333-444455556666".into(),
            output_key: "arn:aws:kms:ap-southeast-2:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666".into(),
            network_isolation: true,
        }
    }

    fn statement<'a>(p: &'a serde_json::Value, sid: &str) -> &'a serde_json::Value {
        p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid}: {p}"))
    }

    fn size(p: &serde_json::Value) -> usize {
        p.to_string().chars().filter(|c| !c.is_whitespace()).count()
    }

    /// IAM quotas: a managed policy is at most 6,144 characters, a role's inline policies
    /// 10,240 together, whitespace not counted. Six zones, both switches on and the longest
    /// names still fit, with room.
    #[test]
    fn the_largest_stacks_policies_fit_iams_limits() {
        let managed = size(&execution_policy_for(&studio()));
        assert!(managed <= 6144 - 1000, "managed policy is {managed} characters");
        let inline = size(&guardrail_policy_for(&largest()));
        assert!(inline <= 10_240 - 2000, "inline policy is {inline} characters");
    }

    /// Each guardrail is a Deny of its own, naming its condition key and the stack's value.
    #[test]
    fn every_guardrail_is_an_explicit_deny_on_its_condition_key() {
        let g = largest();
        let p = guardrail_policy_for(&g);
        let cases = [
            ("DenyWithoutVpc", "Null", "sagemaker:VpcSubnets", json!("true")),
            ("DenyOtherSubnets", "ForAnyValue:StringNotEquals", "sagemaker:VpcSubnets", json!(g.subnets)),
            (
                "DenyOtherSecurityGroups",
                "ForAnyValue:StringNotEquals",
                "sagemaker:VpcSecurityGroupIds",
                json!([g.security_group]),
            ),
            ("DenyOtherVolumeKey", "ArnNotEquals", "sagemaker:VolumeKmsKey", json!(g.volume_key)),
            ("DenyOtherOutputKey", "ArnNotEquals", "sagemaker:OutputKmsKey", json!(g.output_key)),
            ("DenyDirectInternetAccess", "StringNotEquals", "sagemaker:DirectInternetAccess", json!("Disabled")),
            ("DenyRootAccess", "StringNotEquals", "sagemaker:RootAccess", json!("Disabled")),
            ("DenyWithoutNetworkIsolation", "Null", "sagemaker:NetworkIsolation", json!("true")),
            ("DenyNetworkIsolationOff", "Bool", "sagemaker:NetworkIsolation", json!("false")),
        ];
        for (sid, op, key, value) in cases {
            let st = statement(&p, sid);
            assert_eq!(st["Effect"], "Deny", "{sid}");
            assert_eq!(st["Condition"][op][key], value, "{sid}: {st}");
        }
        // Every job the role may start is allowed by the managed policy and under each guardrail
        // that applies to it.
        let managed = execution_policy_for(&studio());
        let allowed = statement(&managed, "JobsModelsEndpoints")["Action"].as_array().unwrap().clone();
        for (sid, actions) in [
            ("DenyWithoutVpc", JOBS_IN_VPC),
            ("DenyOtherVolumeKey", JOBS_WITH_VOLUME),
            ("DenyOtherOutputKey", JOBS_WITH_OUTPUT),
            ("DenyNetworkIsolationOff", JOBS_ISOLABLE),
        ] {
            for a in actions {
                assert!(statement(&p, sid)["Action"].as_array().unwrap().contains(&json!(a)), "{sid} {a}");
                assert!(allowed.contains(&json!(a)), "{a} is guarded but never allowed");
            }
        }
        // The managed policy denies nothing and names no id: it is made before the network.
        assert!(managed["Statement"].as_array().unwrap().iter().all(|s| s["Effect"] == "Allow"));
    }

    /// Network isolation off (the default): no isolation guardrail; JumpStart off: no read
    /// outside the buckets. S3 and KMS are granted on the stack's buckets and keys only then.
    #[test]
    fn the_switches_add_exactly_their_statements() {
        let off = guardrail_policy_for(&Guardrails { network_isolation: false, ..largest() });
        assert!(!off.to_string().contains("sagemaker:NetworkIsolation"), "{off}");
        let managed = execution_policy_for(&Studio { jumpstart: false, ..studio() });
        assert!(!managed.to_string().contains("JumpStartContent"), "{managed}");
        for st in managed["Statement"].as_array().unwrap().iter().chain(off["Statement"].as_array().unwrap()) {
            let actions = st["Action"].to_string();
            if st["Effect"] == "Allow" && (actions.contains("s3:") || actions.contains("kms:Decrypt")) {
                assert!(!st["Resource"].to_string().contains(":::*"), "{st}");
                assert_ne!(st["Resource"], "*", "{st}");
            }
        }
        let on = execution_policy_for(&studio());
        let js = statement(&on, "JumpStartContent");
        assert_eq!(js["Action"], "s3:GetObject");
        assert_eq!(js["Condition"]["StringEquals"]["s3:ExistingObjectTag/SageMaker"], "true");
    }
}
