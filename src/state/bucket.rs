//! `provision state init`: makes a bucket a team's state bucket, once,
//! idempotently (README, "Working as a team"). Bucket administration, not a
//! store: the S3 store (`s3`) only reads and writes objects in the bucket
//! this makes.

use anyhow::{Context, Result};
use aws_smithy_runtime_api::client::result::SdkError;
use serde_json::{Value, json};

use crate::error::{EXIT_INVALID, Exit, code};
use crate::policy;
use crate::retry::{BUCKET_PROPAGATION_BOUND, is_new_bucket_unknown};
use crate::wait::retry_while;

/// Tag `state init` gives the buckets it makes: the proof a bucket is ours.
pub const STATE_BUCKET_TAG: (&str, &str) = ("provision:state-bucket", "true");

/// The bucket policy of a state bucket: deny every request not sent over
/// TLS, as AWS documents it (S3 user guide, "Enforce encryption of data in
/// transit": Deny when `aws:SecureTransport` is false).
pub fn tls_only_policy(bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

/// A statement of a bucket policy in the form `state init` compares it:
/// the crate's one normal form (`policy::normalized`: list-or-string
/// elements as sorted lists, `Sid` ignored), with `Principal` `*` as
/// `{"AWS": "*"}` as AWS may return it.
fn normalized(statement: &Value) -> Value {
    policy::normalized(&policy::star_principal_as_aws(statement))
}

/// What `state init` changed (or found as required).
#[derive(Debug, Default)]
pub struct BucketChange {
    pub changed: Vec<String>,
    pub kept: Vec<String>,
}

/// Makes `bucket` a state bucket, idempotently: created if absent (tagged
/// as ours), versioning on, default encryption SSE-KMS (the AWS managed
/// key `aws/s3`, with an S3 Bucket Key), all four Block Public Access
/// settings on, the TLS-only bucket policy; nothing else. Each setting is
/// read first and only put when it differs. A bucket that exists and is not
/// ours (another account's, or one of this account's without our tag) is
/// refused untouched.
pub async fn init_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) -> Result<BucketChange> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
    };
    let mut out = BucketChange::default();
    let not_ours = |why: String| -> anyhow::Error {
        Exit(
            EXIT_INVALID,
            format!(
                "bucket {bucket} {why}: it is not a provision state bucket, and nothing was changed. Choose another name \
                 (`provision state init s3://ANOTHER-NAME`), or point --state at it as it is (its settings are then yours)"
            ),
        )
        .into()
    };
    let exists = match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => true,
        Err(SdkError::ServiceError(se)) if se.raw().status().as_u16() == 404 => false,
        Err(SdkError::ServiceError(se)) if se.raw().status().as_u16() == 403 => {
            return Err(not_ours("exists and these credentials may not use it (another account's)".into()));
        }
        Err(SdkError::ServiceError(se)) if se.raw().status().as_u16() == 301 => {
            return Err(not_ours(format!(
                "exists in another region than {region} (pass --state-region if it is yours)"
            )));
        }
        Err(e) => {
            return Err(crate::error::aws(e)).with_context(|| format!("looking for bucket {bucket} (HeadBucket)"));
        }
    };
    let tag = || Tag::builder().key(STATE_BUCKET_TAG.0).value(STATE_BUCKET_TAG.1).build();
    if exists {
        let tags = match s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(t) => t.tag_set().to_vec(),
            Err(e) => {
                let e = crate::error::aws(e);
                if code(&e) == Some("NoSuchTagSet") {
                    vec![]
                } else {
                    return Err(e.context(format!("reading the tags of bucket {bucket}")));
                }
            }
        };
        if !tags.iter().any(|t| t.key() == STATE_BUCKET_TAG.0 && t.value() == STATE_BUCKET_TAG.1) {
            return Err(not_ours(format!(
                "exists without the tag {}={} that `state init` gives the buckets it makes",
                STATE_BUCKET_TAG.0, STATE_BUCKET_TAG.1
            )));
        }
        out.kept.push(format!("bucket {bucket} exists and is a state bucket"));
    } else {
        let mut req = s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        if let Err(e) = req.send().await {
            let e = crate::error::aws(e);
            return match code(&e) {
                Some("BucketAlreadyExists") => {
                    Err(not_ours("exists (another account's: bucket names are global)".into()))
                }
                _ => Err(e.context(format!("creating bucket {bucket}"))),
            };
        }
        // The first setting of a new bucket may answer NoSuchBucket for a moment
        // (`retry::BUCKET_PROPAGATION_BOUND`).
        let tagging = Tagging::builder().tag_set(tag()?).build()?;
        retry_while(BUCKET_PROPAGATION_BOUND, is_new_bucket_unknown, || async {
            s3.put_bucket_tagging().bucket(bucket).tagging(tagging.clone()).send().await.map_err(crate::error::aws)
        })
        .await
        .with_context(|| format!("tagging bucket {bucket}"))?;
        out.changed
            .push(format!("created bucket {bucket} in {region}, tagged {}={}", STATE_BUCKET_TAG.0, STATE_BUCKET_TAG.1));
    }

    let versioning = s3.get_bucket_versioning().bucket(bucket).send().await.map_err(crate::error::aws)?;
    if versioning.status() == Some(&BucketVersioningStatus::Enabled) {
        out.kept.push("versioning enabled".into());
    } else {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(crate::error::aws)
            .context("enabling versioning")?;
        out.changed.push("versioning enabled: every previous state is kept".into());
    }

    let sse_kms = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(c) => c.server_side_encryption_configuration().is_some_and(|c| {
            c.rules().iter().any(|r| {
                r.apply_server_side_encryption_by_default()
                    .is_some_and(|d| d.sse_algorithm() == &ServerSideEncryption::AwsKms)
            })
        }),
        Err(e) => {
            let e = crate::error::aws(e);
            if code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") {
                false
            } else {
                return Err(e.context(format!("reading the default encryption of bucket {bucket}")));
            }
        }
    };
    if sse_kms {
        out.kept.push("default encryption SSE-KMS".into());
    } else {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::AwsKms).build()?,
            )
            .bucket_key_enabled(true)
            .build();
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build()?)
            .send()
            .await
            .map_err(crate::error::aws)
            .context("setting default encryption")?;
        out.changed.push("default encryption SSE-KMS (AWS managed key aws/s3, S3 Bucket Key)".into());
    }

    let blocked = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(p) => p.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(e) => {
            let e = crate::error::aws(e);
            if code(&e) == Some("NoSuchPublicAccessBlockConfiguration") {
                false
            } else {
                return Err(e.context(format!("reading the Block Public Access settings of bucket {bucket}")));
            }
        }
    };
    if blocked {
        out.kept.push("all four Block Public Access settings on".into());
    } else {
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(crate::error::aws)
            .context("blocking public access")?;
        out.changed.push("all four Block Public Access settings on".into());
    }

    let want = tls_only_policy(bucket);
    let current = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(p) => p.policy().and_then(|p| serde_json::from_str::<Value>(p).ok()),
        Err(e) => {
            let e = crate::error::aws(e);
            if code(&e) == Some("NoSuchBucketPolicy") {
                None
            } else {
                return Err(e.context(format!("reading the policy of bucket {bucket}")));
            }
        }
    };
    let statements = |p: &Value| -> Vec<Value> { policy::statements(p).into_iter().map(normalized).collect() };
    if current.as_ref().is_some_and(|c| statements(c) == statements(&want)) {
        out.kept.push("TLS-only bucket policy".into());
    } else {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(want.to_string())
            .send()
            .await
            .map_err(crate::error::aws)
            .context("putting the TLS-only bucket policy")?;
        out.changed.push(if current.is_some() {
            "bucket policy replaced by the TLS-only one (deny requests without TLS)".into()
        } else {
            "TLS-only bucket policy (deny requests without TLS)".into()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_policy_compares_as_aws_may_return_it() {
        let want = tls_only_policy("b");
        let mut reordered = want.clone();
        reordered["Statement"][0]["Resource"] = json!(["arn:aws:s3:::b/*", "arn:aws:s3:::b"]);
        reordered["Statement"][0]["Principal"] = json!({"AWS": "*"});
        reordered["Statement"][0]["Sid"] = json!("Other");
        assert_eq!(normalized(&want["Statement"][0]), normalized(&reordered["Statement"][0]));
        let mut wider = want.clone();
        wider["Statement"][0]["Condition"] = json!({});
        assert_ne!(normalized(&want["Statement"][0]), normalized(&wider["Statement"][0]));
    }
}
