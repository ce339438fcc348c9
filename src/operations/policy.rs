//! The operator's least-privilege policy, built from `OPS`: each action
//! in the statement of the resources it applies to (`Scope`), split into
//! managed-policy documents within IAM's size limit.

use serde_json::{Value, json};

use super::OPS;
use super::state::state_statements;

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
            .replace("{ssm_region}", self.ssm_region())
    }

    /// The region whose Systems Manager answers the region's public parameters
    /// (`aws::global_infrastructure_region`).
    fn ssm_region(&self) -> &str {
        if self.region == "*" { "*" } else { crate::aws::global_infrastructure_region(&self.region) }
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
/// The stack's region's services in AWS's public parameters (`preflight::services`),
/// asked of the region that answers them. Public parameters belong to no account
/// (`arn:aws:ssm:REGION::parameter/aws/...`): the account's `*` matches that
/// empty part as well as any an evaluation might fill in.
const PUBLIC_PARAMETERS: Scope = Scope {
    sid: "RegionServices",
    resources: &["arn:aws:ssm:{ssm_region}:*:parameter/aws/service/global-infrastructure/regions/{region}/services/*"],
    condition: None,
};
const EFS: Scope = Scope {
    sid: "HomeEfs",
    resources: &["arn:aws:elasticfilesystem:{region}:{account}:file-system/*"],
    condition: None,
};

/// The statements in the order they are printed.
const SCOPES: [&Scope; 14] = [
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
    &PUBLIC_PARAMETERS,
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
        ("ssm", "GetParameter") => &PUBLIC_PARAMETERS,
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
