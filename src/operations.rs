//! Every AWS operation `provision` calls, with the IAM actions AWS checks for
//! it: the one source `provision iam-policy` prints the operator's
//! least-privilege policy from. An operation's actions include what AWS
//! authorises on the side: tags given to a create call (ec2:CreateTags,
//! iam:TagRole, kms:TagResource, sagemaker:AddTags, ...), iam:PassRole for
//! the execution role SageMaker is given, the service-linked roles Network
//! Firewall and SageMaker create on first use, the mount target's ENI that
//! DeleteMountTarget removes. S3 names actions apart from its operations
//! (ListObjectVersions is s3:ListBucketVersions, PutBucketEncryption is
//! s3:PutEncryptionConfiguration, ...).
//!
//! Tests keep the list honest: a unit test finds every SDK call in `src/`
//! in it (and every entry in `src/`); `tests/controls.rs` runs up, verify,
//! jumpstart, firewall, a second up and `down --purge-efs --delete-data`
//! against the emulator and compares its call log with the list: every call
//! is listed, every entry was called unless it is `Conditional` (never in a
//! clean run; it names the code path that calls it) or `Leftover`.
//!
//! Resources are scoped by the names the spec derives (`domain-allow-*`,
//! `*-sagemaker-execution-role`, buckets `*-data`/`*-models`, ...) where the
//! action supports resource-level permissions; EC2, STS, and calls that list
//! or create keys apply to `*`.

use serde_json::{Value, json};

/// When an operation is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// On the normal path of up, down, verify, jumpstart and firewall.
    Run,
    /// Only in the situation described (recovery after a crash, an
    /// out-of-band change, another command): never in a clean run.
    Conditional(&'static str),
    /// When something is left over, which a clean run may or may not meet
    /// (it depends on what has drained by then).
    Leftover(&'static str),
}

#[derive(Debug)]
pub struct Op {
    /// The operation as AWS logs it (CloudTrail's event source prefix and
    /// event name; the emulator's call log): `ec2:CreateVpc`.
    pub call: &'static str,
    /// The IAM actions AWS authorises for it.
    pub actions: &'static [&'static str],
    pub when: When,
}

const fn run(call: &'static str, actions: &'static [&'static str]) -> Op {
    Op { call, actions, when: When::Run }
}

const fn only(call: &'static str, actions: &'static [&'static str], why: &'static str) -> Op {
    Op { call, actions, when: When::Conditional(why) }
}

const fn leftover(call: &'static str, actions: &'static [&'static str], why: &'static str) -> Op {
    Op { call, actions, when: When::Leftover(why) }
}

pub const OPS: &[Op] = &[
    run("sts:GetCallerIdentity", &["sts:GetCallerIdentity"]),
    // EC2: network (kinds/{vpc,subnet,security_group,eip,internet_gateway,igw_attachment,nat_gateway,route_table,route_table_association,route,vpc_endpoint}.rs)
    run("ec2:CreateVpc", &["ec2:CreateVpc", "ec2:CreateTags"]),
    run("ec2:ModifyVpcAttribute", &["ec2:ModifyVpcAttribute"]),
    run("ec2:DescribeVpcs", &["ec2:DescribeVpcs"]),
    // Pre-flight (preflight.rs): zones, endpoint services, quotas.
    run("ec2:DescribeAvailabilityZones", &["ec2:DescribeAvailabilityZones"]),
    run("ec2:DescribeVpcEndpointServices", &["ec2:DescribeVpcEndpointServices"]),
    run("servicequotas:GetServiceQuota", &["servicequotas:GetServiceQuota"]),
    run("network-firewall:ListFirewalls", &["network-firewall:ListFirewalls"]),
    run("ec2:DeleteVpc", &["ec2:DeleteVpc"]),
    run("ec2:CreateSubnet", &["ec2:CreateSubnet", "ec2:CreateTags"]),
    run("ec2:DescribeSubnets", &["ec2:DescribeSubnets"]),
    run("ec2:DeleteSubnet", &["ec2:DeleteSubnet"]),
    run("ec2:CreateSecurityGroup", &["ec2:CreateSecurityGroup", "ec2:CreateTags"]),
    run("ec2:AuthorizeSecurityGroupIngress", &["ec2:AuthorizeSecurityGroupIngress"]),
    run("ec2:RevokeSecurityGroupIngress", &["ec2:RevokeSecurityGroupIngress"]),
    run("ec2:RevokeSecurityGroupEgress", &["ec2:RevokeSecurityGroupEgress"]),
    run("ec2:DescribeSecurityGroups", &["ec2:DescribeSecurityGroups"]),
    // The SageMaker subnets' network ACL (kinds/network_acl.rs; verify vpc.nacl_restricted).
    run("ec2:CreateNetworkAcl", &["ec2:CreateNetworkAcl", "ec2:CreateTags"]),
    run("ec2:CreateNetworkAclEntry", &["ec2:CreateNetworkAclEntry"]),
    only(
        "ec2:ReplaceNetworkAclEntry",
        &["ec2:ReplaceNetworkAclEntry"],
        "an entry of the stack's number changed out of band",
    ),
    only("ec2:DeleteNetworkAclEntry", &["ec2:DeleteNetworkAclEntry"], "an entry added out of band"),
    run("ec2:ReplaceNetworkAclAssociation", &["ec2:ReplaceNetworkAclAssociation"]),
    run("ec2:DescribeNetworkAcls", &["ec2:DescribeNetworkAcls"]),
    run("ec2:DeleteNetworkAcl", &["ec2:DeleteNetworkAcl"]),
    run("ec2:DeleteSecurityGroup", &["ec2:DeleteSecurityGroup"]),
    run("ec2:AllocateAddress", &["ec2:AllocateAddress", "ec2:CreateTags"]),
    run("ec2:DescribeAddresses", &["ec2:DescribeAddresses"]),
    run("ec2:ReleaseAddress", &["ec2:ReleaseAddress"]),
    run("ec2:CreateInternetGateway", &["ec2:CreateInternetGateway", "ec2:CreateTags"]),
    run("ec2:AttachInternetGateway", &["ec2:AttachInternetGateway"]),
    run("ec2:DescribeInternetGateways", &["ec2:DescribeInternetGateways"]),
    run("ec2:DetachInternetGateway", &["ec2:DetachInternetGateway"]),
    run("ec2:DeleteInternetGateway", &["ec2:DeleteInternetGateway"]),
    run("ec2:CreateNatGateway", &["ec2:CreateNatGateway", "ec2:CreateTags"]),
    run("ec2:DescribeNatGateways", &["ec2:DescribeNatGateways"]),
    run("ec2:DeleteNatGateway", &["ec2:DeleteNatGateway"]),
    run("ec2:CreateRouteTable", &["ec2:CreateRouteTable", "ec2:CreateTags"]),
    run("ec2:AssociateRouteTable", &["ec2:AssociateRouteTable"]),
    run("ec2:DescribeRouteTables", &["ec2:DescribeRouteTables"]),
    run("ec2:DisassociateRouteTable", &["ec2:DisassociateRouteTable"]),
    run("ec2:DeleteRouteTable", &["ec2:DeleteRouteTable"]),
    run("ec2:CreateRoute", &["ec2:CreateRoute"]),
    only(
        "ec2:ReplaceRoute",
        &["ec2:ReplaceRoute"],
        "route::create, when the destination already has a route (RouteAlreadyExists)",
    ),
    run("ec2:DeleteRoute", &["ec2:DeleteRoute"]),
    // The SAR's dependent actions of CreateVpcEndpoint: it reads the VPC, subnets and groups
    // named, and with private DNS (the Interface endpoints, kinds/vpc_endpoint.rs) associates
    // the service's private hosted zone with the VPC: route53:AssociateVPCWithHostedZone.
    run(
        "ec2:CreateVpcEndpoint",
        &[
            "ec2:CreateVpcEndpoint",
            "ec2:CreateTags",
            "ec2:DescribeVpcs",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "route53:AssociateVPCWithHostedZone",
        ],
    ),
    only(
        "ec2:CreateTags",
        &["ec2:CreateTags"],
        "day two, when the first zone is removed: the next zone's subnets, EIP, NAT gateway and route tables take the first zone's step ids and names (Kind::retag, kinds/ec2_tagged.rs)",
    ),
    run("ec2:DescribeVpcEndpoints", &["ec2:DescribeVpcEndpoints"]),
    run("ec2:ModifyVpcEndpoint", &["ec2:ModifyVpcEndpoint"]),
    run("ec2:DeleteVpcEndpoints", &["ec2:DeleteVpcEndpoints"]),
    run("ec2:DescribeNetworkInterfaces", &["ec2:DescribeNetworkInterfaces"]),
    // VPC flow log (kinds/flow_log.rs): publishing to CloudWatch Logs passes
    // the delivery role (VPC user guide, "IAM role for publishing flow logs").
    run("ec2:CreateFlowLogs", &["ec2:CreateFlowLogs", "ec2:CreateTags", "iam:PassRole"]),
    run("ec2:DescribeFlowLogs", &["ec2:DescribeFlowLogs"]),
    run("ec2:DeleteFlowLogs", &["ec2:DeleteFlowLogs"]),
    leftover(
        "ec2:DeleteNetworkInterface",
        &["ec2:DeleteNetworkInterface"],
        "kinds::leftover_enis, when an ENI is left `available` in the VPC after SageMaker's apps and mount targets are gone, or turns so while a subnet, group or the VPC waits for it",
    ),
    // Network Firewall (kinds/{rule_group,firewall_policy,firewall}.rs, commands/firewall.rs)
    run("network-firewall:CreateRuleGroup", &["network-firewall:CreateRuleGroup", "network-firewall:TagResource"]),
    run("network-firewall:DescribeRuleGroup", &["network-firewall:DescribeRuleGroup"]),
    run("network-firewall:UpdateRuleGroup", &["network-firewall:UpdateRuleGroup"]),
    run("network-firewall:DeleteRuleGroup", &["network-firewall:DeleteRuleGroup"]),
    run(
        "network-firewall:CreateFirewallPolicy",
        &["network-firewall:CreateFirewallPolicy", "network-firewall:TagResource"],
    ),
    run("network-firewall:DescribeFirewallPolicy", &["network-firewall:DescribeFirewallPolicy"]),
    run("network-firewall:DeleteFirewallPolicy", &["network-firewall:DeleteFirewallPolicy"]),
    only(
        "network-firewall:UpdateFirewallPolicy",
        &["network-firewall:UpdateFirewallPolicy"],
        "up restoring the stack's firewall policy actions changed out of band (kinds/firewall_policy.rs)",
    ),
    only(
        "network-firewall:AssociateFirewallPolicy",
        &["network-firewall:AssociateFirewallPolicy"],
        "up replacing a firewall policy of another rule order, or a firewall left on another policy (kinds/firewall_policy.rs)",
    ),
    run(
        "network-firewall:CreateFirewall",
        &["network-firewall:CreateFirewall", "network-firewall:TagResource", "iam:CreateServiceLinkedRole"],
    ),
    run("network-firewall:DescribeFirewall", &["network-firewall:DescribeFirewall"]),
    only(
        "network-firewall:AssociateSubnets",
        &["network-firewall:AssociateSubnets"],
        "firewall::associate_subnets, when availability zones are added to a live stack",
    ),
    only(
        "network-firewall:DisassociateSubnets",
        &["network-firewall:DisassociateSubnets"],
        "kinds::firewall::drop_members, when availability zones are removed from a live stack",
    ),
    run("network-firewall:DeleteFirewall", &["network-firewall:DeleteFirewall"]),
    // Firewall logging (kinds/firewall_logging.rs). Logging to CloudWatch Logs
    // makes a log delivery on the caller's behalf (Network Firewall developer
    // guide, "Permissions to publish logs to CloudWatch Logs").
    run("network-firewall:DescribeLoggingConfiguration", &["network-firewall:DescribeLoggingConfiguration"]),
    run(
        "network-firewall:UpdateLoggingConfiguration",
        &[
            "network-firewall:UpdateLoggingConfiguration",
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        ],
    ),
    // CloudWatch Logs (kinds/log_group.rs)
    run("logs:CreateLogGroup", &["logs:CreateLogGroup", "logs:TagResource"]),
    run("logs:DescribeLogGroups", &["logs:DescribeLogGroups"]),
    only(
        "logs:ListTagsForResource",
        &["logs:ListTagsForResource"],
        "log_group::find, resolving a lost CreateLogGroup; pre-flight, when a log group name is taken",
    ),
    run("logs:PutRetentionPolicy", &["logs:PutRetentionPolicy"]),
    only(
        "logs:AssociateKmsKey",
        &["logs:AssociateKmsKey"],
        "log_group::restore, when a log group's key was changed or removed out of band",
    ),
    run("logs:DeleteLogGroup", &["logs:DeleteLogGroup"]),
    // KMS (kinds/{kms_key,kms_alias}.rs)
    // CreateKey with a key policy needs kms:PutKeyPolicy too (KMS API reference, CreateKey,
    // Policy; a SAR dependent action), with tags kms:TagResource; both are authorised on `*`
    // with CreateKey (the key has no ARN yet: `scope`).
    run("kms:CreateKey", &["kms:CreateKey", "kms:TagResource", "kms:PutKeyPolicy"]),
    run("kms:DescribeKey", &["kms:DescribeKey"]),
    run("kms:EnableKeyRotation", &["kms:EnableKeyRotation"]),
    run("kms:GetKeyRotationStatus", &["kms:GetKeyRotationStatus"]),
    run("kms:GetKeyPolicy", &["kms:GetKeyPolicy"]),
    run("kms:ScheduleKeyDeletion", &["kms:ScheduleKeyDeletion"]),
    // Pre-flight lists the keys to find the stack's unrecorded ones by their tags.
    run("kms:ListKeys", &["kms:ListKeys"]),
    only(
        "kms:ListResourceTags",
        &["kms:ListResourceTags"],
        "kms::find_key, resolving a CreateKey whose answer was lost; pre-flight, when an alias name is taken",
    ),
    run("kms:CreateAlias", &["kms:CreateAlias"]),
    run("kms:ListAliases", &["kms:ListAliases"]),
    only("kms:UpdateAlias", &["kms:UpdateAlias"], "kms::create_alias, when the alias outlived a key that up replaced"),
    run("kms:DeleteAlias", &["kms:DeleteAlias"]),
    // S3 (kinds/s3_bucket.rs)
    run("s3:CreateBucket", &["s3:CreateBucket"]),
    run("s3:GetBucketTagging", &["s3:GetBucketTagging"]),
    run("s3:PutBucketTagging", &["s3:PutBucketTagging"]),
    run("s3:PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
    run("s3:GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"]),
    run("s3:PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
    run("s3:GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
    run("s3:PutBucketPolicy", &["s3:PutBucketPolicy"]),
    // Versioning on the two buckets (kinds/s3_bucket.rs; verify buckets.versioning).
    run("s3:PutBucketVersioning", &["s3:PutBucketVersioning"]),
    run("s3:GetBucketVersioning", &["s3:GetBucketVersioning"]),
    // Server access logging of the two buckets to the log bucket (kinds/{s3_bucket,log_bucket}.rs;
    // verify buckets.access_logging).
    run("s3:PutBucketLogging", &["s3:PutBucketLogging"]),
    run("s3:GetBucketLogging", &["s3:GetBucketLogging"]),
    run("s3:GetBucketPolicy", &["s3:GetBucketPolicy"]),
    run("s3:DeleteBucketPolicy", &["s3:DeleteBucketPolicy"]),
    run("s3:ListObjectVersions", &["s3:ListBucketVersions"]),
    run("s3:DeleteObjects", &["s3:DeleteObject", "s3:DeleteObjectVersion"]),
    run("s3:DeleteBucket", &["s3:DeleteBucket"]),
    // IAM (kinds/{iam_policy,iam_role}.rs)
    run("iam:CreatePolicy", &["iam:CreatePolicy", "iam:TagPolicy"]),
    run("iam:GetPolicy", &["iam:GetPolicy"]),
    run("iam:GetPolicyVersion", &["iam:GetPolicyVersion"]),
    run("iam:ListPolicyVersions", &["iam:ListPolicyVersions"]),
    // `jumpstart enable|disable` (the execution role reads JumpStart's objects too), and
    // iam_policy restore: the policy changed (a newer provision) or was edited out of band.
    run("iam:CreatePolicyVersion", &["iam:CreatePolicyVersion"]),
    // iam_policy restore at IAM's five versions, and delete of a policy with versions besides
    // the default (any stack `jumpstart enable` has been run on).
    run("iam:DeletePolicyVersion", &["iam:DeletePolicyVersion"]),
    run("iam:DeletePolicy", &["iam:DeletePolicy"]),
    run("iam:CreateRole", &["iam:CreateRole", "iam:TagRole"]),
    run("iam:GetRole", &["iam:GetRole"]),
    // The execution role's guardrails, an inline policy (kinds/iam_role.rs drift).
    run("iam:GetRolePolicy", &["iam:GetRolePolicy"]),
    only(
        "iam:UpdateAssumeRolePolicy",
        &["iam:UpdateAssumeRolePolicy"],
        "iam_role restore: the execution role's trust policy differs from the stack's (made by an earlier provision, without aws:SourceAccount/aws:SourceArn, or edited out of band)",
    ),
    run("iam:AttachRolePolicy", &["iam:AttachRolePolicy"]),
    run("iam:ListAttachedRolePolicies", &["iam:ListAttachedRolePolicies"]),
    run("iam:DetachRolePolicy", &["iam:DetachRolePolicy"]),
    run("iam:DeleteRole", &["iam:DeleteRole"]),
    // The flow logs role's inline policy (kinds/flow_logs_role.rs), the execution role's guardrails (kinds/iam_role.rs).
    run("iam:PutRolePolicy", &["iam:PutRolePolicy"]),
    run("iam:ListRolePolicies", &["iam:ListRolePolicies"]),
    run("iam:DeleteRolePolicy", &["iam:DeleteRolePolicy"]),
    // SageMaker (kinds/{domain,user_profile,space,app,classic_app}.rs; commands/{studio_url,app}.rs)
    run("sagemaker:ListDomains", &["sagemaker:ListDomains"]),
    only(
        "sagemaker:ListTags",
        &["sagemaker:ListTags"],
        "kinds::{domain,space}::find, resolving a lost create; pre-flight, when the domain name is taken",
    ),
    // CreateDomain with a customer KmsKeyId (kinds/domain.rs: the EBS key) also needs what
    // SageMaker does with it on the caller's behalf for the home EFS (SageMaker developer guide,
    // "API permissions reference", CreateDomain row): elasticfilesystem:CreateFileSystem,
    // kms:CreateGrant, kms:Decrypt, kms:DescribeKey, kms:GenerateDataKeyWithoutPlaintext.
    run(
        "sagemaker:CreateDomain",
        &[
            "sagemaker:CreateDomain",
            "sagemaker:AddTags",
            "iam:PassRole",
            "iam:CreateServiceLinkedRole",
            "elasticfilesystem:CreateFileSystem",
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:GenerateDataKeyWithoutPlaintext",
        ],
    ),
    run("sagemaker:DescribeDomain", &["sagemaker:DescribeDomain"]),
    only(
        "sagemaker:UpdateDomain",
        &["sagemaker:UpdateDomain"],
        "kinds::domain::restore, when zones are added to a live stack or a domain lacks today's Studio settings or image",
    ),
    run("sagemaker:DeleteDomain", &["sagemaker:DeleteDomain"]),
    run("sagemaker:CreateUserProfile", &["sagemaker:CreateUserProfile", "sagemaker:AddTags", "iam:PassRole"]),
    run("sagemaker:DescribeUserProfile", &["sagemaker:DescribeUserProfile"]),
    run("sagemaker:ListUserProfiles", &["sagemaker:ListUserProfiles"]),
    run("sagemaker:DeleteUserProfile", &["sagemaker:DeleteUserProfile"]),
    run("sagemaker:CreateSpace", &["sagemaker:CreateSpace", "sagemaker:AddTags"]),
    run("sagemaker:DescribeSpace", &["sagemaker:DescribeSpace"]),
    run("sagemaker:ListSpaces", &["sagemaker:ListSpaces"]),
    only(
        "sagemaker:UpdateSpace",
        &["sagemaker:UpdateSpace"],
        "kinds::space::update, when space_storage_gib, app_instance_type or app_image change on a live stack",
    ),
    run("sagemaker:DeleteSpace", &["sagemaker:DeleteSpace"]),
    run("sagemaker:CreateApp", &["sagemaker:CreateApp", "sagemaker:AddTags"]),
    only(
        "sagemaker:AddTags",
        &["sagemaker:AddTags"],
        "day two, when the first user leaves: the next user's profile, space and app take the spec's step ids (Kind::retag in kinds/{user_profile,space,app}.rs)",
    ),
    run("sagemaker:DescribeApp", &["sagemaker:DescribeApp"]),
    run("sagemaker:ListApps", &["sagemaker:ListApps"]),
    run("sagemaker:DeleteApp", &["sagemaker:DeleteApp"]),
    only("sagemaker:CreatePresignedDomainUrl", &["sagemaker:CreatePresignedDomainUrl"], "`provision studio-url` only"),
    // EFS that SageMaker creates (kinds/{efs_mount_targets,efs_file_system,nfs_security_groups}.rs)
    run("elasticfilesystem:DescribeFileSystems", &["elasticfilesystem:DescribeFileSystems"]),
    run("elasticfilesystem:DescribeMountTargets", &["elasticfilesystem:DescribeMountTargets"]),
    // The home EFS's automatic backups (kinds/domain.rs; verify efs.backup).
    run("elasticfilesystem:PutBackupPolicy", &["elasticfilesystem:PutBackupPolicy"]),
    run("elasticfilesystem:DescribeBackupPolicy", &["elasticfilesystem:DescribeBackupPolicy"]),
    run("elasticfilesystem:DeleteMountTarget", &["elasticfilesystem:DeleteMountTarget", "ec2:DeleteNetworkInterface"]),
    run("elasticfilesystem:DeleteFileSystem", &["elasticfilesystem:DeleteFileSystem"]),
    // Prices (cost/price_list.rs): `cost`, and the cost lines of plan, status and down.
    // GetProducts takes no resource ARN (Service Authorization Reference, AWS Price List).
    // (Its 22 characters took the policy past IAM's 6,144: four statement ids were shortened.)
    run("pricing:GetProducts", &["pricing:GetProducts"]),
];

/// What a call of the S3 state store (`state::s3`) acts on: its IAM
/// actions are granted on that resource only, in the statements
/// `state_statements` adds to the operator policy when the state is in S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateOn {
    /// The state object `KEY`, its lock `KEY.lock`, and the copy a
    /// conflicting run saves (`KEY.conflict.<lock id>`).
    Objects,
    /// The lock `KEY.lock` only.
    Lock,
    /// The bucket itself, for `provision state init` (bucket administration,
    /// not the operator's: never granted by `iam-policy`).
    Init,
}

#[derive(Debug)]
pub struct StateOp {
    pub call: &'static str,
    pub actions: &'static [&'static str],
    pub on: StateOn,
    /// The code path that calls it.
    pub why: &'static str,
}

const fn state(call: &'static str, actions: &'static [&'static str], on: StateOn, why: &'static str) -> StateOp {
    StateOp { call, actions, on, why }
}

/// Every call of the state when it is in S3 (`--state s3://BUCKET/KEY`),
/// and of `state init`. Never made with the default file state, so apart
/// from `OPS` (whose list `tests/controls.rs` compares with a default run).
/// GetObject is also granted s3:ListBucket on the bucket: without it S3
/// answers a missing key with 403, not 404 (S3 API reference, GetObject,
/// "Permissions"), and a first run would not know the state is absent.
pub const STATE_OPS: &[StateOp] = &[
    state(
        "s3:GetObject",
        &["s3:GetObject", "s3:ListBucket"],
        StateOn::Objects,
        "state::s3: reading the state (every command) and the lock's holder",
    ),
    state(
        "s3:PutObject",
        &["s3:PutObject"],
        StateOn::Objects,
        "state::s3: every state write (If-Match / If-None-Match), taking and renewing the lock, a conflict's copy",
    ),
    state(
        "s3:DeleteObject",
        &["s3:DeleteObject"],
        StateOn::Lock,
        "state::s3: releasing the lock (If-Match), `force-unlock`",
    ),
    state("s3:HeadBucket", &["s3:ListBucket"], StateOn::Init, "state init: does the bucket exist, and is it reachable"),
    state("s3:CreateBucket", &["s3:CreateBucket"], StateOn::Init, "state init"),
    state("s3:GetBucketTagging", &["s3:GetBucketTagging"], StateOn::Init, "state init: is an existing bucket ours"),
    state("s3:PutBucketTagging", &["s3:PutBucketTagging"], StateOn::Init, "state init"),
    state("s3:GetBucketVersioning", &["s3:GetBucketVersioning"], StateOn::Init, "state init"),
    state("s3:PutBucketVersioning", &["s3:PutBucketVersioning"], StateOn::Init, "state init"),
    state("s3:GetBucketEncryption", &["s3:GetEncryptionConfiguration"], StateOn::Init, "state init"),
    state("s3:PutBucketEncryption", &["s3:PutEncryptionConfiguration"], StateOn::Init, "state init"),
    state("s3:GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"], StateOn::Init, "state init"),
    state("s3:PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"], StateOn::Init, "state init"),
    state("s3:GetBucketPolicy", &["s3:GetBucketPolicy"], StateOn::Init, "state init"),
    state("s3:PutBucketPolicy", &["s3:PutBucketPolicy"], StateOn::Init, "state init"),
];

/// The statements an S3 state adds to the operator policy: its calls,
/// each action on the resources it needs — s3:ListBucket on the bucket, the
/// object actions on `KEY`, `KEY.lock` and `KEY.conflict.*`, s3:DeleteObject
/// on `KEY.lock` only. With `init`, the bucket actions of `state init` too
/// (a separate statement, for whoever makes the bucket).
pub fn state_statements(bucket: &str, key: &str, init: bool) -> Vec<Value> {
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let objects = vec![
        format!("{bucket_arn}/{key}"),
        format!("{bucket_arn}/{key}.lock"),
        format!("{bucket_arn}/{key}.conflict.*"),
    ];
    let lock = vec![format!("{bucket_arn}/{key}.lock")];
    let mut by_resource: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        ("StateBucketList", vec![bucket_arn.clone()], vec![]),
        ("StateObjects", objects, vec![]),
        ("StateLock", lock, vec![]),
    ];
    let mut admin: Vec<&str> = Vec::new();
    for op in STATE_OPS {
        for a in op.actions {
            let slot = match (op.on, *a) {
                (StateOn::Init, a) => {
                    admin.push(a);
                    continue;
                }
                (_, "s3:ListBucket") => 0,
                (StateOn::Objects, _) => 1,
                (StateOn::Lock, _) => 2,
            };
            by_resource[slot].2.push(a);
        }
    }
    let mut out = Vec::new();
    for (sid, resources, mut actions) in by_resource.drain(..) {
        actions.sort_unstable();
        actions.dedup();
        out.push(json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}));
    }
    if init {
        admin.sort_unstable();
        admin.dedup();
        out.push(json!({"Sid": "StateBucketInit", "Effect": "Allow", "Action": admin, "Resource": bucket_arn}));
    }
    out
}

/// IAM's limit for one managed policy document: 6,144 characters, whitespace not counted (IAM
/// user guide, "IAM and AWS STS quotas", "Managed policy size").
pub const MANAGED_POLICY_LIMIT: usize = 6144;

/// A policy document's size as IAM counts it (whitespace not counted).
pub fn policy_size(doc: &Value) -> usize {
    doc.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

/// `policy` as managed policy documents, each within `MANAGED_POLICY_LIMIT`: its statements in
/// order, as many to a document as fit; a statement too large for one alone split by its
/// actions (Sids `{Sid}1`, `{Sid}2`). The operator attaches them all (`provision iam-policy`
/// prints this list): the grant is their union.
pub fn documents(policy: &Value) -> Vec<Value> {
    let version = policy["Version"].clone();
    let doc = |statements: &[Value]| json!({"Version": version, "Statement": statements});
    let mut pieces = Vec::new();
    let mut todo: Vec<Value> = policy["Statement"].as_array().cloned().unwrap_or_default();
    todo.reverse();
    while let Some(st) = todo.pop() {
        let actions = st["Action"].as_array().cloned().unwrap_or_default();
        if policy_size(&doc(std::slice::from_ref(&st))) <= MANAGED_POLICY_LIMIT || actions.len() < 2 {
            pieces.push(st);
            continue;
        }
        let (a, b) = actions.split_at(actions.len() / 2);
        let sid = st["Sid"].as_str().unwrap_or("S").to_string();
        for (n, part) in [(2, b), (1, a)] {
            let mut half = st.clone();
            half["Action"] = json!(part);
            half["Sid"] = json!(format!("{sid}{n}"));
            todo.push(half);
        }
    }
    let mut out: Vec<Vec<Value>> = Vec::new();
    for st in pieces {
        match out.last_mut() {
            Some(cur) if policy_size(&doc(&[cur.clone(), vec![st.clone()]].concat())) <= MANAGED_POLICY_LIMIT => {
                cur.push(st)
            }
            _ => out.push(vec![st]),
        }
    }
    out.iter().map(|sts| doc(sts)).collect()
}

/// The operator policy with an S3 state: `policy()` and `state_statements`.
pub fn policy_with_state(scoping: &Scoping, bucket: &str, key: &str, init: bool) -> Value {
    let mut p = policy_for(scoping);
    if let Some(list) = p["Statement"].as_array_mut() {
        list.extend(state_statements(bucket, key, init));
    }
    p
}

/// Where the operator policy applies: the stack's project (its names are
/// derived from it, `config::Settings`), region and account; `*` for what
/// is not known (no region configured, no credentials to ask STS).
#[derive(Clone, Debug)]
pub struct Scoping {
    pub project: String,
    pub region: String,
    pub account: String,
}

impl Scoping {
    /// Any project, region and account.
    pub fn any() -> Scoping {
        Scoping { project: "*".into(), region: "*".into(), account: "*".into() }
    }

    fn arn(&self, template: &str) -> String {
        template
            .replace("{project}", &self.project)
            .replace("{region}", &self.region)
            .replace("{account}", &self.account)
    }
}

/// One statement of the operator policy: the actions that apply to these
/// resources (ARN templates of `{project}`, `{region}`, `{account}`), under this condition.
struct Scope {
    sid: &'static str,
    resources: &'static [&'static str],
    condition: Option<fn() -> Value>,
}

const ANY: Scope = Scope { sid: "Unscoped", resources: &["*"], condition: None };
const BUCKETS: Scope = Scope {
    sid: "StackBuckets",
    resources: &[
        "arn:aws:s3:::{project}-{account}-{region}-data",
        "arn:aws:s3:::{project}-{account}-{region}-models",
        // The access-log bucket (kinds/log_bucket.rs).
        "arn:aws:s3:::{project}-{account}-{region}-logs",
    ],
    condition: None,
};
const OBJECTS: Scope = Scope {
    sid: "BucketObjects",
    resources: &[
        "arn:aws:s3:::{project}-{account}-{region}-data/*",
        "arn:aws:s3:::{project}-{account}-{region}-models/*",
        "arn:aws:s3:::{project}-{account}-{region}-logs/*",
    ],
    condition: None,
};
const KEYS: Scope = Scope { sid: "Keys", resources: &["arn:aws:kms:{region}:{account}:key/*"], condition: None };
const ALIASES: Scope = Scope {
    sid: "KeyAliases",
    resources: &[
        "arn:aws:kms:{region}:{account}:alias/kms-cmk-{project}",
        "arn:aws:kms:{region}:{account}:alias/sagemaker-anfw-kms-{project}",
        "arn:aws:kms:{region}:{account}:alias/{project}-logs",
        "arn:aws:kms:{region}:{account}:key/*",
    ],
    condition: None,
};
const FIREWALL: Scope = Scope {
    sid: "Firewall",
    resources: &[
        "arn:aws:network-firewall:{region}:{account}:stateful-rulegroup/domain-allow-{project}",
        "arn:aws:network-firewall:{region}:{account}:firewall-policy/network-firewall-policy-{project}",
        // The interim policy the firewall holds while the stack's is replaced (kinds/firewall_policy.rs).
        "arn:aws:network-firewall:{region}:{account}:firewall-policy/network-firewall-policy-{project}-interim",
        "arn:aws:network-firewall:{region}:{account}:firewall/network-firewall-{project}",
    ],
    condition: None,
};
const ROLE: Scope = Scope {
    sid: "StackRoles",
    // The execution role and the flow logs role: `{project}-{region}-sagemaker-execution-role`,
    // `{project}-{region}-flow-logs-role` (one pattern: the policy must stay under IAM's 6,144
    // characters).
    resources: &["arn:aws:iam::{account}:role/{project}-{region}-*-role"],
    condition: None,
};
const POLICY: Scope = Scope {
    sid: "ExecPolicy",
    resources: &["arn:aws:iam::{account}:policy/{project}-{region}-sagemaker-execution-policy"],
    condition: None,
};
const PASS_ROLE: Scope = Scope {
    sid: "PassRoles",
    resources: &["arn:aws:iam::{account}:role/{project}-{region}-*-role"],
    condition: Some(
        || json!({"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "vpc-flow-logs.amazonaws.com"]}}),
    ),
};
const LOG_GROUPS: Scope = Scope {
    sid: "Logs",
    resources: &["arn:aws:logs:{region}:{account}:log-group:/provision/{project}/*"],
    condition: None,
};
const SERVICE_ROLES: Scope = Scope {
    sid: "LinkedRoles",
    // Which service-linked roles: the condition names the two services (IAM
    // user guide, "Service-linked role permissions"), each of which has one
    // (AWSServiceRoleForNetworkFirewall, AWSServiceRoleForAmazonSageMakerNotebooks).
    resources: &["arn:aws:iam::{account}:role/aws-service-role/*"],
    condition: Some(
        || json!({"StringEquals": {"iam:AWSServiceName": ["network-firewall.amazonaws.com", "sagemaker.amazonaws.com"]}}),
    ),
};
const STUDIO: Scope = Scope {
    sid: "Studio",
    resources: &[
        "arn:aws:sagemaker:{region}:{account}:domain/*",
        "arn:aws:sagemaker:{region}:{account}:user-profile/*/*",
        "arn:aws:sagemaker:{region}:{account}:app/*/*/*/*",
        "arn:aws:sagemaker:{region}:{account}:space/*/*",
    ],
    condition: None,
};
const EFS: Scope = Scope {
    sid: "HomeEfs",
    resources: &["arn:aws:elasticfilesystem:{region}:{account}:file-system/*"],
    condition: None,
};

/// The statements in the order they are printed.
const SCOPES: [&Scope; 13] = [
    &ANY,
    &BUCKETS,
    &OBJECTS,
    &KEYS,
    &ALIASES,
    &FIREWALL,
    &ROLE,
    &POLICY,
    &PASS_ROLE,
    &SERVICE_ROLES,
    &STUDIO,
    &EFS,
    &LOG_GROUPS,
];

/// Where an action may be scoped (AWS's service authorization reference:
/// which actions take a resource ARN).
fn scope(action: &str) -> &'static Scope {
    let (service, name) = action.split_once(':').unwrap_or(("", action));
    match (service, name) {
        ("s3", "DeleteObject" | "DeleteObjectVersion") => &OBJECTS,
        ("s3", _) => &BUCKETS,
        // No resource type in the SAR (CreateKey, ListKeys, ListAliases); CreateKey's tags and key
        // policy are authorised with it, before the key has an ARN.
        ("kms", "CreateKey" | "ListKeys" | "ListAliases" | "TagResource" | "PutKeyPolicy") => &ANY,
        ("kms", "CreateAlias" | "UpdateAlias" | "DeleteAlias") => &ALIASES,
        ("kms", _) => &KEYS,
        ("network-firewall", "ListFirewalls") => &ANY,
        ("network-firewall", _) => &FIREWALL,
        ("iam", "PassRole") => &PASS_ROLE,
        ("iam", "CreateServiceLinkedRole") => &SERVICE_ROLES,
        ("iam", n) if n.ends_with("Policy") && !n.contains("Role") => &POLICY,
        ("iam", "ListPolicyVersions" | "DeletePolicyVersion" | "GetPolicyVersion" | "CreatePolicyVersion") => &POLICY,
        ("iam", _) => &ROLE,
        // No resource type in the SAR: only "Resource": "*" grants them.
        ("sagemaker", "ListDomains" | "ListUserProfiles" | "ListSpaces" | "ListApps") => &ANY,
        ("sagemaker", _) => &STUDIO,
        // Without a file system id it lists them all.
        ("elasticfilesystem", "DescribeFileSystems") => &ANY,
        ("elasticfilesystem", _) => &EFS,
        // Listing, and the log deliveries Network Firewall makes, take no log group ARN.
        ("logs", "DescribeLogGroups") => &ANY,
        ("logs", n) if n.contains("LogDeliver") || n.contains("ResourcePolic") => &ANY,
        ("logs", _) => &LOG_GROUPS,
        _ => &ANY,
    }
}

/// The least-privilege policy for every operation of `OPS`, for any stack.
pub fn policy() -> Value {
    policy_for(&Scoping::any())
}

/// The least-privilege policy for every operation of `OPS`, on the
/// resources of the stack `scoping` names.
pub fn policy_for(scoping: &Scoping) -> Value {
    let mut statements = Vec::new();
    for s in SCOPES {
        let mut actions: Vec<&str> =
            OPS.iter().flat_map(|o| o.actions.iter().copied()).filter(|a| scope(a).sid == s.sid).collect();
        actions.sort_unstable();
        actions.dedup();
        if actions.is_empty() {
            continue;
        }
        let mut st = json!({
            "Sid": s.sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": if s.resources == ["*"] {
                json!("*")
            } else {
                json!(s.resources.iter().map(|r| scoping.arn(r)).collect::<Vec<_>>())
            },
        });
        if let Some(c) = s.condition {
            st["Condition"] = c();
        }
        statements.push(st);
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Operation names (`CreateVpc`) of every SDK call in `src/`: each
    /// `.verb_noun()` builder call, snake case turned into the API name.
    fn sdk_calls_in(dir: &Path, out: &mut BTreeSet<String>) {
        const VERBS: &[&str] = &[
            "add",
            "allocate",
            "associate",
            "attach",
            "authorize",
            "cancel",
            "create",
            "delete",
            "describe",
            "detach",
            "disable",
            "disassociate",
            "enable",
            "get",
            "head",
            "list",
            "modify",
            "put",
            "release",
            "remove",
            "replace",
            "revoke",
            "schedule",
            "tag",
            "untag",
            "update",
        ];
        // Accessors of SDK outputs that look like operations.
        const NOT_CALLS: &[&str] = &["delete_markers", "enable_all", "tag_key", "tag_set", "tag_value", "update_token"];
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sdk_calls_in(&path, out);
                continue;
            }
            // `tests.rs` files are test modules (`#[cfg(test)] mod tests;`).
            if path.extension().is_none_or(|e| e != "rs") || path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Production code only: test modules call other APIs (clap's, the SDK's for checks).
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for piece in text.split('.').skip(1) {
                let name: String =
                    piece.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit()).collect();
                let verb = name.split('_').next().unwrap_or_default();
                if !piece[name.len()..].starts_with("()")
                    || !name.contains('_')
                    || !VERBS.contains(&verb)
                    || NOT_CALLS.contains(&name.as_str())
                {
                    continue;
                }
                let api: String = name.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
                out.insert(api);
            }
        }
    }

    #[test]
    fn every_sdk_call_in_the_code_is_listed_and_every_entry_is_called() {
        let mut in_code = BTreeSet::new();
        sdk_calls_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut in_code);
        let listed: BTreeSet<String> = OPS
            .iter()
            .map(|o| o.call)
            .chain(STATE_OPS.iter().map(|o| o.call))
            .map(|c| c.split_once(':').unwrap().1.to_string())
            .collect();
        let unlisted: Vec<&String> = in_code.difference(&listed).collect();
        assert!(unlisted.is_empty(), "called in src/ but not in OPS: {unlisted:?}");
        let uncalled: Vec<&String> = listed.difference(&in_code).collect();
        assert!(uncalled.is_empty(), "in OPS but not called in src/: {uncalled:?}");
    }

    #[test]
    fn policy_grants_exactly_the_listed_actions_within_iam_limits() {
        let calls: BTreeSet<&str> = OPS.iter().map(|o| o.call).collect();
        assert_eq!(calls.len(), OPS.len(), "an operation is listed twice");
        let p = policy();
        let mut granted = Vec::new();
        let mut sids = BTreeSet::new();
        for s in p["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            assert!(sids.insert(s["Sid"].as_str().unwrap().to_string()));
            let sid = s["Sid"].as_str().unwrap();
            assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
            for a in s["Action"].as_array().unwrap() {
                granted.push(a.as_str().unwrap().to_string());
            }
        }
        let unique: BTreeSet<String> = granted.iter().cloned().collect();
        assert_eq!(unique.len(), granted.len(), "an action is in two statements");
        let listed: BTreeSet<String> = OPS.iter().flat_map(|o| o.actions.iter().map(|a| a.to_string())).collect();
        assert_eq!(unique, listed);
        for a in &listed {
            let (service, name) = a.split_once(':').unwrap();
            assert!(!service.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        // IAM's limit for a managed policy: 6,144 characters without whitespace. The whole is
        // larger, so it is printed as several documents (`documents`), each within it, granting
        // together exactly the same statements.
        let scoped = policy_for(&Scoping {
            project: "sagemaker-studio-anfw".into(),
            region: "ap-southeast-2".into(),
            account: "123456789012".into(),
        });
        for whole in [&p, &scoped] {
            let docs = documents(whole);
            for d in &docs {
                let size = policy_size(d);
                assert!(size <= MANAGED_POLICY_LIMIT, "a document is {size} characters");
                assert_eq!(d["Version"], "2012-10-17");
            }
            let rejoined: Vec<Value> = docs.iter().flat_map(|d| d["Statement"].as_array().unwrap().clone()).collect();
            let grants = |sts: &[Value]| -> BTreeSet<(String, String, String)> {
                sts.iter()
                    .flat_map(|s| {
                        s["Action"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(move |a| (a.to_string(), s["Resource"].to_string(), s["Condition"].to_string()))
                    })
                    .collect()
            };
            assert_eq!(grants(&rejoined), grants(whole["Statement"].as_array().unwrap()));
            // As few documents as a greedy packing gives: the first two do not fit in one.
            if docs.len() > 1 {
                let first_two: Vec<Value> =
                    docs[..2].iter().flat_map(|d| d["Statement"].as_array().unwrap().clone()).collect();
                let both = json!({"Version": "2012-10-17", "Statement": first_two});
                assert!(policy_size(&both) > MANAGED_POLICY_LIMIT);
            }
            // Managed policies a user may have attached: 10 by default (IAM quotas).
            assert!(docs.len() <= 10, "{} documents", docs.len());
        }
        let pass = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == json!(["iam:PassRole"]))
            .expect("PassRole has its own statement");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            json!(["sagemaker.amazonaws.com", "vpc-flow-logs.amazonaws.com"])
        );
    }

    #[test]
    fn an_s3_state_adds_its_calls_scoped_to_its_key() {
        let calls: BTreeSet<&str> = STATE_OPS.iter().map(|o| o.call).collect();
        assert_eq!(calls.len(), STATE_OPS.len(), "a state operation is listed twice");
        let p = policy_with_state(&Scoping::any(), "team-state", "envs/prod.json", false);
        let st = p["Statement"].as_array().unwrap();
        let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        let unique: BTreeSet<&&str> = sids.iter().collect();
        assert_eq!(unique.len(), sids.len(), "{sids:?}");
        let by = |sid: &str| st.iter().find(|s| s["Sid"] == sid).unwrap().clone();
        assert_eq!(by("StateBucketList")["Action"], json!(["s3:ListBucket"]));
        assert_eq!(by("StateBucketList")["Resource"], json!(["arn:aws:s3:::team-state"]));
        assert_eq!(by("StateObjects")["Action"], json!(["s3:GetObject", "s3:PutObject"]));
        assert_eq!(
            by("StateObjects")["Resource"],
            json!([
                "arn:aws:s3:::team-state/envs/prod.json",
                "arn:aws:s3:::team-state/envs/prod.json.lock",
                "arn:aws:s3:::team-state/envs/prod.json.conflict.*"
            ])
        );
        assert_eq!(by("StateLock")["Action"], json!(["s3:DeleteObject"]));
        assert_eq!(by("StateLock")["Resource"], json!(["arn:aws:s3:::team-state/envs/prod.json.lock"]));
        assert!(!sids.contains(&"StateBucketInit"), "the operator does not administer the bucket");
        // Nothing of the state reaches the stack's statements, and each document fits IAM's limit.
        assert_eq!(&st[..st.len() - 3], policy()["Statement"].as_array().unwrap().as_slice());
        for d in documents(&p) {
            assert!(policy_size(&d) <= MANAGED_POLICY_LIMIT, "a document is {} characters", policy_size(&d));
        }
        let init = policy_with_state(&Scoping::any(), "team-state", "k", true);
        let admin = init["Statement"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(admin["Sid"], "StateBucketInit");
        assert_eq!(admin["Resource"], "arn:aws:s3:::team-state");
        assert!(admin["Action"].as_array().unwrap().contains(&json!("s3:PutBucketVersioning")));
    }
}
