//! The S3 state store's calls (`crate::state::s3`) and the statements
//! they add to the operator policy: apart from `OPS`, since a run with the
//! default file state never makes them.

use serde_json::{Value, json};

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
