//! The stack's access-log bucket (`bucket.logs`,
//! `{project}-{account}-{region}-logs`, id = bucket name): the target of the
//! data and models buckets' server access logs (`buckets.access_logging`),
//! each under its own prefix (`data/`, `models/`). Public access blocked,
//! versioned, default encryption SSE-S3, and a policy that lets only S3's
//! logging service write, for the stack's two buckets of this account, and
//! denies every request not sent over TLS.
//!
//! Why SSE-S3 and not the stack's KMS key: "You can use default bucket
//! encryption on the destination bucket only if you use server-side
//! encryption with Amazon S3 managed keys (SSE-S3) ... Default server-side
//! encryption with AWS Key Management Service (AWS KMS) keys (SSE-KMS) is
//! not supported" (S3 user guide, "Enabling Amazon S3 server access
//! logging", destination bucket requirements). Why a bucket policy and not
//! the log-delivery group's ACL: new buckets enforce bucket-owner object
//! ownership (ACLs disabled), and the guide's "Permissions for log
//! delivery" grants `logging.s3.amazonaws.com` s3:PutObject by policy, with
//! `aws:SourceArn` and `aws:SourceAccount` naming the source buckets.
//!
//! Kept as data like the buckets it serves: `down` deletes it only when it
//! is empty and no kept bucket logs to it (`S3Bucket::keeps`), and
//! `down --delete-data` empties and deletes it.

use anyhow::{Result, bail};
use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, VersioningConfiguration,
};
use serde_json::json;

use super::s3_bucket::{create_bucket, empty_and_delete, is_empty, name_in_use, owned, tls_statement};
use super::{Ctx, Health, Kind, NameUse};
use crate::error::{aws, has_code};
use crate::retry::{BUCKET_PROPAGATION_BOUND, is_new_bucket_unknown};
use crate::step_id::StepId;
use crate::wait::retry_while;

impl StepId {
    pub const BUCKET_LOGS: StepId = StepId::of("bucket.logs");
}

/// The latency profile's entry: a bucket like the others.
const PROFILE: &str = "s3.bucket";

/// The log bucket's name suffix: `{project}-{account}-{region}-logs`
/// (shorter than `-models`, so the project's length rule covers it).
pub const SUFFIX: &str = "logs";

/// The S3 server access logging service (S3 user guide, "Permissions for log delivery").
pub const LOGGING_SERVICE: &str = "logging.s3.amazonaws.com";

const KEPT: &str = "bucket holds the buckets' access logs; remove with `provision down --delete-data`";

#[derive(Debug)]
pub struct LogBucket;

/// The statement that lets S3's logging service put the two buckets' access
/// logs, for this account only (the guide's example policy: Principal
/// Service `logging.s3.amazonaws.com`, s3:PutObject on the bucket's
/// objects, `ArnLike aws:SourceArn` the source buckets, `StringEquals
/// aws:SourceAccount` the account: the confused deputy).
pub fn delivery_statement(ctx: &Ctx, logs: &str) -> serde_json::Value {
    let sources: Vec<String> =
        ["data", "models"].iter().map(|s| format!("arn:aws:s3:::{}", ctx.s.bucket_name(&ctx.account, s))).collect();
    json!({
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": LOGGING_SERVICE},
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{logs}/*"),
        "Condition": {
            "ArnLike": {"aws:SourceArn": sources},
            "StringEquals": {"aws:SourceAccount": ctx.account},
        }
    })
}

/// The log bucket's policy: log delivery for the two buckets, and the TLS deny.
pub fn log_bucket_policy(ctx: &Ctx, logs: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [delivery_statement(ctx, logs), tls_statement(logs)]})
}

/// The bucket's default encryption algorithm (`None`: none configured).
pub async fn default_encryption(ctx: &Ctx, bucket: &str) -> Result<Option<String>> {
    match ctx.aws.s3.get_bucket_encryption().bucket(bucket).send().await.map_err(aws) {
        Err(e) if has_code(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => Ok(None),
        Err(e) => Err(e),
        Ok(o) => Ok(o
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_string())),
    }
}

async fn put_settings(ctx: &Ctx, me: &StepId, name: &str) -> Result<()> {
    super::s3_bucket::put_tags_and_block(ctx, me, name).await?;
    let s3 = &ctx.aws.s3;
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .map_err(aws)?;
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .map_err(aws)?;
    s3.put_bucket_policy().bucket(name).policy(log_bucket_policy(ctx, name).to_string()).send().await.map_err(aws)?;
    Ok(())
}

#[async_trait]
impl Kind for LogBucket {
    fn name(&self) -> &'static str {
        "S3 log bucket"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        Vec::new()
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let name = ctx.s.bucket_name(&ctx.account, SUFFIX);
        match owned(ctx, &name).await? {
            None => Ok(None),
            Some(true) => Ok(Some(name)),
            Some(false) => bail!("bucket {name} exists but is not tagged as this stack's; refusing to adopt it"),
        }
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        name_in_use(ctx, &ctx.s.bucket_name(&ctx.account, SUFFIX)).await
    }

    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let name = ctx.s.bucket_name(&ctx.account, SUFFIX);
        create_bucket(ctx, &name).await?;
        Ok(name)
    }

    /// Tags, public access block, SSE-S3, versioning and policy (each
    /// idempotent), again while S3 does not know the bucket it just created.
    async fn settle(&self, ctx: &Ctx, me: &StepId, name: &str) -> Result<()> {
        retry_while(BUCKET_PROPAGATION_BOUND, is_new_bucket_unknown, || put_settings(ctx, me, name)).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(if owned(ctx, id).await?.is_some() { Health::Present } else { Health::Missing })
    }

    async fn delete(&self, ctx: &Ctx, name: &str) -> Result<()> {
        empty_and_delete(ctx, name).await
    }

    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Option<String>> {
        Ok((!ctx.down.delete_data && !is_empty(ctx, id).await?).then(|| KEPT.to_string()))
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let want = log_bucket_policy(ctx, id);
        match ctx.aws.s3.get_bucket_policy().bucket(id).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["NoSuchBucketPolicy"]) => out.push("bucket policy removed".into()),
            Err(e) => return Err(e),
            Ok(p) if p.policy().and_then(|d| crate::policy::parse(d).ok()) != Some(want) => out.push(
                "bucket policy differs from the stack's (log delivery for the two buckets, deny without TLS)".into(),
            ),
            Ok(_) => {}
        }
        match default_encryption(ctx, id).await?.as_deref() {
            Some("AES256") => {}
            other => out.push(format!("default encryption {}, not AES256 (SSE-S3)", other.unwrap_or("none"))),
        }
        Ok(out)
    }

    fn restores_drift(&self) -> bool {
        true
    }
}
