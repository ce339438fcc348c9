//! The data and models buckets (`bucket.data`, `bucket.models`): public
//! access blocked, SSE-KMS with `kms.s3`, versioning enabled, server access
//! logging to the stack's log bucket (`bucket.logs`, `kinds/log_bucket.rs`),
//! and a policy denying object and list calls that do not come through the
//! stack's S3 endpoint and every request not sent over TLS. Id = bucket name.
//!
//! Teardown keeps a non-empty bucket unless `--delete-data`: then it removes
//! the policy first (the deny covers object calls only, so the account's
//! administrators may), empties every version, and deletes the bucket.

use anyhow::{Result, bail};
use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketLoggingStatus, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    LoggingEnabled, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use serde_json::json;

use super::{Ctx, Health, Kind, NameUse, TAG_STACK, accepted};
use super::{Per, Store, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::retry::{BUCKET_PROPAGATION_BOUND, is_bucket_name_in_flux, is_new_bucket_unknown};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "s3.bucket";

#[derive(Debug)]
pub struct S3Bucket {
    /// `data` or `models`: the bucket is `{project}-{account}-{region}-{suffix}`.
    pub suffix: &'static str,
    pub key: StepId,
    pub endpoint: StepId,
    /// The log bucket its server access logs go to (`bucket.logs`).
    pub logs: StepId,
}

/// Where a bucket's server access logs go in the log bucket: one prefix per
/// bucket (`data/`, `models/`).
pub fn log_prefix(suffix: &str) -> String {
    format!("{suffix}/")
}

/// The bucket's server access logging target (`None`: logging off):
/// GetBucketLogging's TargetBucket and TargetPrefix.
pub async fn logging_target(ctx: &Ctx, bucket: &str) -> Result<Option<(String, String)>> {
    let out = ctx.aws.s3.get_bucket_logging().bucket(bucket).send().await.map_err(aws)?;
    Ok(out.logging_enabled().map(|l| (l.target_bucket().to_string(), l.target_prefix().to_string())))
}

const BUCKET_KEPT: &str = "bucket holds data; remove with `provision down --delete-data`";

/// Deny object and list calls unless they come through `vpce`; and deny
/// every request not sent over TLS (`tls_statement`).
pub fn bucket_policy(bucket: &str, vpce: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyOutsideVpce",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"StringNotEquals": {"aws:sourceVpce": vpce}}
        }, tls_statement(bucket)]
    })
}

/// Deny `s3:*` to everyone when the request is not sent over TLS (S3 user
/// guide, "Security best practices for Amazon S3": "Enforce encryption of
/// data in transit ... explicitly deny access to HTTP requests" with
/// `aws:SecureTransport` false; AWS Foundational Security Best Practices,
/// control S3.5). SDK clients use HTTPS, so it denies none of the tool's
/// calls (the emulator takes its plain-HTTP requests as TLS: `s3_state.py`).
pub fn tls_statement(bucket: &str) -> serde_json::Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// The bucket's versioning status (`None`: never set).
pub async fn versioning(ctx: &Ctx, bucket: &str) -> Result<Option<BucketVersioningStatus>> {
    let out = ctx.aws.s3.get_bucket_versioning().bucket(bucket).send().await.map_err(aws)?;
    Ok(out.status().cloned())
}

/// Does the bucket exist, and do its tags say it is this stack's? Asked with
/// GetBucketTagging, a bucket-level call the bucket policy does not deny
/// (HeadBucket needs s3:ListBucket, which the policy denies outside the
/// endpoint). `None`: no such bucket.
pub async fn owned(ctx: &Ctx, name: &str) -> Result<Option<bool>> {
    match ctx.aws.s3.get_bucket_tagging().bucket(name).send().await.map_err(aws) {
        Ok(t) => Ok(Some(t.tag_set().iter().any(|t| t.key() == TAG_STACK && t.value() == ctx.stack()))),
        // Created by an interrupted run before its tags were set.
        Err(e) if has_code(&e, &["NoSuchTagSet"]) => Ok(Some(true)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// No object versions and no delete markers. ListObjectVersions is
/// s3:ListBucketVersions, which the bucket policy does not deny.
pub async fn is_empty(ctx: &Ctx, name: &str) -> Result<bool> {
    match ctx.aws.s3.list_object_versions().bucket(name).max_keys(1).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(true),
        Err(e) => Err(e),
        Ok(o) => Ok(o.versions().is_empty() && o.delete_markers().is_empty()),
    }
}

/// Object versions and delete markers in a bucket (what `--delete-data`
/// would destroy), paginated.
pub async fn object_count(ctx: &Ctx, name: &str) -> Result<usize> {
    let (mut n, mut key, mut version) = (0, None::<String>, None::<String>);
    loop {
        let o = ctx
            .aws
            .s3
            .list_object_versions()
            .bucket(name)
            .set_key_marker(key.clone())
            .set_version_id_marker(version.clone())
            .send()
            .await
            .map_err(aws);
        let o = match o {
            Err(e) if is_not_found(&e) => return Ok(n),
            r => r?,
        };
        n += o.versions().len() + o.delete_markers().len();
        if o.is_truncated() != Some(true) {
            return Ok(n);
        }
        key = o.next_key_marker().map(str::to_string);
        version = o.next_version_id_marker().map(str::to_string);
    }
}

async fn bucket_empty(ctx: &Ctx, name: &str) -> Result<bool> {
    use anyhow::Context;
    is_empty(ctx, name).await.with_context(|| format!("checking whether bucket {name} is empty"))
}

/// Who holds a bucket name. Bucket names are global: another account's
/// bucket answers AccessDenied.
pub async fn name_in_use(ctx: &Ctx, name: &str) -> Result<NameUse> {
    let holder = format!("bucket {name}");
    match ctx.aws.s3.get_bucket_tagging().bucket(name).send().await.map_err(aws) {
        Ok(t) => Ok(NameUse::of_tags(ctx, holder, "--project", t.tag_set().iter().map(|t| (t.key(), t.value())))),
        Err(e) if has_code(&e, &["NoSuchTagSet"]) => Ok(NameUse::of_tags(ctx, holder, "--project", [])),
        Err(e) if is_not_found(&e) => Ok(NameUse::Free),
        Err(e) if has_code(&e, &["AccessDenied", "AllAccessDisabled"]) => Ok(NameUse::Foreign {
            holder: format!("{holder}, owned by another account (S3 bucket names are global)"),
            change: "--project",
        }),
        Err(e) => Err(e),
    }
}

/// CreateBucket in the stack's region; a name just deleted (a `down` then
/// `up`) answers OperationAborted for a while; ours already is success.
pub async fn create_bucket(ctx: &Ctx, name: &str) -> Result<()> {
    let mut call = ctx.aws.s3.create_bucket().bucket(name);
    if ctx.s.region != "us-east-1" {
        call = call.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.s.region.as_str()))
                .build(),
        );
    }
    let created = retry_while(BUCKET_PROPAGATION_BOUND, is_bucket_name_in_flux, || async {
        call.clone().send().await.map_err(aws)
    });
    match created.await {
        Err(e) if has_code(&e, &["BucketAlreadyOwnedByYou"]) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// The stack's tags and all four public access block settings.
pub async fn put_tags_and_block(ctx: &Ctx, me: &StepId, name: &str) -> Result<()> {
    let mut tagging = Tagging::builder();
    for (k, v) in ctx.tags(me, None) {
        tagging = tagging.tag_set(Tag::builder().key(k).value(v).build()?);
    }
    let s3 = &ctx.aws.s3;
    s3.put_bucket_tagging().bucket(name).tagging(tagging.build()?).send().await.map_err(aws)?;
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(aws)?;
    Ok(())
}

/// Removes the policy first (the deny covers object calls only, so the
/// account's administrators may), empties every version and delete marker,
/// and deletes the bucket. Already gone is success.
pub async fn empty_and_delete(ctx: &Ctx, name: &str) -> Result<()> {
    let s3 = &ctx.aws.s3;
    if !accepted(s3.delete_bucket_policy().bucket(name).send().await.map_err(aws))? {
        return Ok(());
    }
    loop {
        let page = s3.list_object_versions().bucket(name).send().await.map_err(aws)?;
        let mut ids: Vec<ObjectIdentifier> = Vec::new();
        for v in page.versions() {
            ids.push(
                ObjectIdentifier::builder()
                    .key(v.key().unwrap_or_default())
                    .set_version_id(v.version_id().map(str::to_string))
                    .build()?,
            );
        }
        for m in page.delete_markers() {
            ids.push(
                ObjectIdentifier::builder()
                    .key(m.key().unwrap_or_default())
                    .set_version_id(m.version_id().map(str::to_string))
                    .build()?,
            );
        }
        if ids.is_empty() {
            break;
        }
        for chunk in ids.chunks(1000) {
            let del = Delete::builder().set_objects(Some(chunk.to_vec())).quiet(true).build()?;
            let out = s3.delete_objects().bucket(name).delete(del).send().await.map_err(aws)?;
            if let Some(err) = out.errors().first() {
                bail!(
                    "emptying bucket {name}: {} {}",
                    err.code().unwrap_or_default(),
                    err.message().unwrap_or_default()
                );
            }
        }
    }
    gone_ok(s3.delete_bucket().bucket(name).send().await.map_err(aws))
}

impl S3Bucket {
    /// Tags, public access block, encryption, versioning, access logging and policy.
    async fn put_settings(&self, ctx: &Ctx, me: &StepId, name: &str) -> Result<()> {
        put_tags_and_block(ctx, me, name).await?;
        let s3 = &ctx.aws.s3;
        let key = ctx.state.id(&self.key)?;
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::AwsKms)
                                    .kms_master_key_id(key)
                                    .build()?,
                            )
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await
            .map_err(aws)?;
        // Versioning keeps what an overwrite or a delete replaced (S3 user guide, "Retaining
        // multiple versions of objects with S3 Versioning"); `down --delete-data` deletes every version.
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(aws)?;
        let vpce = ctx.state.id(&self.endpoint)?;
        s3.put_bucket_policy().bucket(name).policy(bucket_policy(name, &vpce).to_string()).send().await.map_err(aws)?;
        self.put_logging(ctx, name).await
    }

    /// Server access logging to the stack's log bucket, under the bucket's
    /// own prefix (S3 API reference, PutBucketLogging; S3 user guide,
    /// "Logging requests with server access logging"). The log bucket's
    /// policy lets the logging service write (`log_bucket::log_bucket_policy`).
    async fn put_logging(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let target = ctx.state.id(&self.logs)?;
        let status = BucketLoggingStatus::builder()
            .logging_enabled(
                LoggingEnabled::builder().target_bucket(target).target_prefix(log_prefix(self.suffix)).build()?,
            )
            .build();
        ctx.aws.s3.put_bucket_logging().bucket(name).bucket_logging_status(status).send().await.map_err(aws)?;
        Ok(())
    }
}

#[async_trait]
impl Kind for S3Bucket {
    fn name(&self) -> &'static str {
        "S3 bucket"
    }

    fn priced(&self, _s: &Settings) -> Vec<Use> {
        vec![Use::new("s3-gb-month", 1, Per::Stack, Usage::Stored(Store::Buckets))]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.key.clone(), self.endpoint.clone(), self.logs.clone()]
    }

    /// The bucket if it exists and is this stack's; another owner's is an error.
    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let name = ctx.s.bucket_name(&ctx.account, self.suffix);
        match owned(ctx, &name).await? {
            None => Ok(None),
            Some(true) => Ok(Some(name)),
            Some(false) => bail!("bucket {name} exists but is not tagged as this stack's; refusing to adopt it"),
        }
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        name_in_use(ctx, &ctx.s.bucket_name(&ctx.account, self.suffix)).await
    }

    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let name = ctx.s.bucket_name(&ctx.account, self.suffix);
        create_bucket(ctx, &name).await?;
        Ok(name)
    }

    /// Tags, public access block, encryption, versioning, policy and access logging (each idempotent), again while S3 does
    /// not know the bucket it just created (NoSuchBucket: `retry::BUCKET_PROPAGATION_BOUND`).
    async fn settle(&self, ctx: &Ctx, me: &StepId, name: &str) -> Result<()> {
        retry_while(BUCKET_PROPAGATION_BOUND, is_new_bucket_unknown, || self.put_settings(ctx, me, name)).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(if owned(ctx, id).await?.is_some() { Health::Present } else { Health::Missing })
    }

    async fn delete(&self, ctx: &Ctx, name: &str) -> Result<()> {
        empty_and_delete(ctx, name).await
    }

    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Option<String>> {
        Ok((!ctx.down.delete_data && !bucket_empty(ctx, id).await?).then(|| BUCKET_KEPT.to_string()))
    }

    /// A kept bucket stays readable with its key (SSE-KMS), and keeps
    /// logging to its log bucket.
    fn keeps(&self) -> Vec<StepId> {
        vec![self.key.clone(), self.logs.clone()]
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let want = bucket_policy(id, &ctx.state.id(&self.endpoint)?);
        let mut out = match ctx.aws.s3.get_bucket_policy().bucket(id).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["NoSuchBucketPolicy"]) => vec!["bucket policy removed".into()],
            Err(e) => return Err(e),
            Ok(p) if p.policy().and_then(|d| crate::policy::parse(d).ok()) != Some(want) => {
                vec![
                    "bucket policy differs from the stack's (deny unless through the endpoint, deny without TLS)"
                        .into(),
                ]
            }
            Ok(_) => Vec::new(),
        };
        match versioning(ctx, id).await? {
            Some(BucketVersioningStatus::Enabled) => {}
            v => out.push(format!("versioning {}, not Enabled", v.as_ref().map_or("never enabled", |v| v.as_str()))),
        }
        // A stack made before issue 30 has no log bucket yet: `up` makes it first (a need).
        let Ok(logs) = ctx.state.id(&self.logs) else {
            out.push(format!("server access logging off (the log bucket {} is not made yet)", self.logs));
            return Ok(out);
        };
        let want = (logs, log_prefix(self.suffix));
        match logging_target(ctx, id).await? {
            Some(t) if t == want => {}
            Some((b, p)) => out.push(format!("server access logs go to {b}/{p}, not {}/{}", want.0, want.1)),
            None => out.push("server access logging off".into()),
        }
        Ok(out)
    }

    fn restores_drift(&self) -> bool {
        true
    }
}
