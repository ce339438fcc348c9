//! The data and models buckets: public access blocked, SSE-KMS with
//! `kms.s3`, and a policy denying object and list calls that do not come
//! through the stack's S3 endpoint. Id = bucket name.
//!
//! Teardown keeps a non-empty bucket unless `--delete-data`: then it removes
//! the policy first (the deny covers object calls only, so the account's
//! administrators may), empties every version, and deletes the bucket.

use anyhow::{Result, bail};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use serde_json::json;

use super::{Ctx, TAG_STACK};
use crate::error::{aws, has_code, is_not_found};
use crate::graph::{Spec, Step};

fn bucket_name(ctx: &Ctx, step: &Step) -> Result<String> {
    match &step.spec {
        Spec::Bucket { suffix } => Ok(ctx.s.bucket_name(&ctx.account, suffix)),
        _ => bail!("{} is not a bucket", step.id),
    }
}

/// Deny object and list calls unless they come through `vpce`.
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
        }]
    })
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

/// The bucket if it exists and is this stack's; another owner's is an error.
pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let name = bucket_name(ctx, step)?;
    match owned(ctx, &name).await? {
        None => Ok(None),
        Some(true) => Ok(Some(name)),
        Some(false) => bail!("bucket {name} exists but is not tagged as this stack's; refusing to adopt it"),
    }
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let name = bucket_name(ctx, step)?;
    let mut call = ctx.aws.s3.create_bucket().bucket(&name);
    if ctx.s.region != "us-east-1" {
        call = call.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.s.region.as_str()))
                .build(),
        );
    }
    match call.send().await.map_err(aws) {
        Err(e) if has_code(&e, &["BucketAlreadyOwnedByYou"]) => {}
        r => {
            r?;
        }
    }
    Ok(name)
}

/// Tags, public access block, encryption and policy (each idempotent).
pub async fn settle(ctx: &Ctx, step: &Step, name: &str) -> Result<()> {
    let mut tagging = Tagging::builder();
    for (k, v) in ctx.tags(&step.id, None) {
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
    let key = ctx.state.id("kms.s3")?;
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
    let vpce = ctx.state.id("vpce.s3")?;
    s3.put_bucket_policy().bucket(name).policy(bucket_policy(name, &vpce).to_string()).send().await.map_err(aws)?;
    Ok(())
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

pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    let s3 = &ctx.aws.s3;
    match s3.delete_bucket_policy().bucket(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        r => {
            r?;
        }
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
    match s3.delete_bucket().bucket(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(()),
        r => r.map(|_| ()),
    }
}
