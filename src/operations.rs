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

mod policy;
mod state;

pub use policy::{MANAGED_POLICY_LIMIT, Scoping, documents, policy, policy_for, policy_size, policy_with_state};
pub use state::{STATE_OPS, StateOn, StateOp, state_statements};

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
    // Pre-flight (preflight.rs `services`): does the region offer Network Firewall and SageMaker,
    // from AWS's public parameters of regions and services (read-only, no resource of the account).
    run("ssm:GetParameter", &["ssm:GetParameter"]),
    run("ec2:DeleteVpc", &["ec2:DeleteVpc"]),
    run("ec2:CreateSubnet", &["ec2:CreateSubnet", "ec2:CreateTags"]),
    run("ec2:DescribeSubnets", &["ec2:DescribeSubnets"]),
    run("ec2:DeleteSubnet", &["ec2:DeleteSubnet"]),
    run("ec2:CreateSecurityGroup", &["ec2:CreateSecurityGroup", "ec2:CreateTags"]),
    run("ec2:AuthorizeSecurityGroupIngress", &["ec2:AuthorizeSecurityGroupIngress"]),
    run("ec2:RevokeSecurityGroupIngress", &["ec2:RevokeSecurityGroupIngress"]),
    run("ec2:RevokeSecurityGroupEgress", &["ec2:RevokeSecurityGroupEgress"]),
    run("ec2:DescribeSecurityGroups", &["ec2:DescribeSecurityGroups"]),
    // The subnet tiers' network ACLs (kinds/network_acl.rs; verify vpc.nacl_restricted, vpc.nacl_nat, vpc.nacl_firewall).
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::{Value, json};

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
