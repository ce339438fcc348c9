//! The execution role's policy documents: what Studio's users may do
//! (`execution_policy_for`) and the guardrails that deny what leaves the
//! stack's network or keys (`guardrail_policy_for`).

use anyhow::Result;
use serde_json::json;

use crate::kinds::Ctx;
use crate::step_id::StepId;

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
        jumpstart: crate::kinds::vpc_endpoint::jumpstart_enabled(ctx),
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
