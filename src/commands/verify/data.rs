//! Controls on the data: both buckets' encryption, public access block and
//! deny-unless-endpoint policy, the S3 endpoint's policy, the EBS key's
//! rotation, the execution role's trust; and that the bucket, S3 endpoint
//! and key policies hold no statement beyond the stack's.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::Value;

use super::Verdict;
use crate::error::{aws, has_code};
use crate::kinds::Ctx;
use crate::kinds::kms_key::{key_policy, logs_key_policy};
use crate::kinds::s3_bucket::bucket_policy;
use crate::kinds::vpc_endpoint::{ecr_layer_statement, jumpstart_enabled, jumpstart_statement, live_policy, s3_policy};
use crate::policy::{extra_statements, parse as parse_policy, same_statement, statements, strings};
use crate::step_id::StepId;

/// Both buckets encrypt by default with SSE-KMS and the stack's S3 key.
pub(super) async fn buckets_sse_kms(ctx: &Ctx) -> Verdict {
    let key = ctx.state.id(&StepId::KMS_S3)?;
    let key_id = key.rsplit('/').next().unwrap_or(&key);
    let (mut ok, mut evidence) = (true, Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let out = match ctx.aws.s3.get_bucket_encryption().bucket(&b).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => {
                ok = false;
                evidence.push(format!("{b}: no default encryption"));
                continue;
            }
            r => r.with_context(|| format!("reading the encryption of bucket {b}"))?,
        };
        let default = out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default());
        let (alg, kid) = match default {
            Some(d) => (d.sse_algorithm().as_str().to_string(), d.kms_master_key_id().unwrap_or("no key").to_string()),
            None => ("none".into(), "no key".into()),
        };
        let good = alg == ServerSideEncryption::AwsKms.as_str() && (kid == key || kid == key_id);
        ok &= good;
        evidence.push(if good {
            format!("{b}: {alg} with the stack key")
        } else {
            format!("{b}: {alg} with {kid}, expected aws:kms with {key}")
        });
    }
    Ok((ok, evidence.join("; ")))
}

/// All four public access block settings on, on both buckets.
pub(super) async fn buckets_public_access_block(ctx: &Ctx) -> Verdict {
    let (mut ok, mut evidence) = (true, Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let out = match ctx.aws.s3.get_public_access_block().bucket(&b).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => {
                ok = false;
                evidence.push(format!("{b}: no public access block"));
                continue;
            }
            r => r.with_context(|| format!("reading the public access block of bucket {b}"))?,
        };
        let c = out.public_access_block_configuration();
        let settings = [
            ("BlockPublicAcls", c.and_then(|c| c.block_public_acls())),
            ("IgnorePublicAcls", c.and_then(|c| c.ignore_public_acls())),
            ("BlockPublicPolicy", c.and_then(|c| c.block_public_policy())),
            ("RestrictPublicBuckets", c.and_then(|c| c.restrict_public_buckets())),
        ];
        let off: Vec<&str> = settings.iter().filter(|(_, v)| *v != Some(true)).map(|(n, _)| *n).collect();
        ok &= off.is_empty();
        evidence.push(if off.is_empty() {
            format!("{b}: all four on")
        } else {
            format!("{b}: {} off", off.join(", "))
        });
    }
    Ok((ok, evidence.join("; ")))
}

/// Each bucket's policy denies GetObject, PutObject and ListBucket on the
/// bucket and its objects unless the request comes through `vpce.s3`
/// (`buckets.policy_vpce_only`); it has no statement but the policy the
/// tool puts (`buckets.policy_no_extra`); and it denies every request not
/// sent over TLS: a Deny to everyone of `s3:*` on the bucket and its
/// objects when `aws:SecureTransport` is false (`buckets.tls_only`,
/// `s3_bucket::tls_statement`). One read of each policy.
pub(super) async fn buckets_policy(ctx: &Ctx) -> Result<[(bool, String); 3]> {
    let vpce = ctx.state.id(&StepId::VPCE_S3)?;
    let (mut ok, mut evidence) = (true, Vec::new());
    let (mut only, mut extras) = (Vec::new(), Vec::new());
    let (mut tls_found, mut tls_problems) = (Vec::new(), Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let doc = match ctx.aws.s3.get_bucket_policy().bucket(&b).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["NoSuchBucketPolicy"]) => {
                ok = false;
                evidence.push(format!("{b}: no bucket policy"));
                only.push(format!("{b}: no statements"));
                tls_problems.push(format!("{b}: no bucket policy, so no TLS deny (weakens buckets.tls_only)"));
                continue;
            }
            r => r.with_context(|| format!("reading the policy of bucket {b}"))?,
        };
        let doc = parse_policy(doc.policy().unwrap_or_default())?;
        let good = statements(&doc).into_iter().any(|s| denies_outside_endpoint(s, &b, &vpce));
        ok &= good;
        evidence.push(if good {
            format!("{b}: denies object and list calls not from {vpce}")
        } else {
            format!("{b}: no statement denies GetObject/PutObject/ListBucket unless aws:sourceVpce is {vpce}")
        });
        let extra = extra_statements(&doc, &bucket_policy(&b, &vpce));
        if extra.is_empty() {
            only.push(format!("{b}: the stack's statement only"));
        }
        extras
            .extend(extra.into_iter().map(|s| format!("{b}: extra statement {s} (weakens buckets.policy_vpce_only)")));
        let tls = crate::kinds::s3_bucket::tls_statement(&b);
        if statements(&doc).iter().any(|s| same_statement(s, &tls)) {
            tls_found.push(format!("{b}: denies s3:* without TLS"));
        } else {
            tls_problems.push(format!(
                "{b}: no statement denying s3:* when aws:SecureTransport is false (weakens buckets.tls_only)"
            ));
        }
    }
    let tls = if tls_problems.is_empty() { (true, tls_found.join("; ")) } else { (false, tls_problems.join("; ")) };
    Ok([(ok, evidence.join("; ")), no_extra(only, extras), tls])
}

/// A "nothing beyond the stack" verdict: pass with what was found when
/// there are no extras, else fail naming each.
pub(super) fn no_extra(found: Vec<String>, extras: Vec<String>) -> (bool, String) {
    if extras.is_empty() { (true, found.join("; ")) } else { (false, extras.join("; ")) }
}

fn denies_outside_endpoint(s: &Value, bucket: &str, vpce: &str) -> bool {
    let covers = |have: &[String], want: &str| {
        have.iter().any(|h| h == want || h == "*" || h == "s3:*" || h == "arn:aws:s3:::*")
    };
    let actions = strings(s.get("Action"));
    let resources = strings(s.get("Resource"));
    let everyone = match s.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(p) => strings(p.get("AWS")) == ["*"],
        None => false,
    };
    let condition = s
        .get("Condition")
        .and_then(|c| c.get("StringNotEquals"))
        .and_then(|c| c.as_object())
        .and_then(|c| c.iter().find(|(k, _)| k.eq_ignore_ascii_case("aws:sourceVpce")))
        .map(|(_, v)| strings(Some(v)));
    s.get("Effect").and_then(Value::as_str) == Some("Deny")
        && everyone
        && ["s3:GetObject", "s3:PutObject", "s3:ListBucket"].iter().all(|a| covers(&actions, a))
        && [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")].iter().all(|r| covers(&resources, r))
        && condition.is_some_and(|v| v == [vpce])
}

/// The S3 endpoint allows the stack's two buckets only, plus the JumpStart
/// statement exactly when the state records it enabled (`vpce.s3.policy`);
/// and it has no statement but the tool's (the same JumpStart rule:
/// `vpce.s3.policy_no_extra`).
pub(super) async fn endpoint_policy(ctx: &Ctx) -> Result<[(bool, String); 2]> {
    let vpce = ctx.state.id(&StepId::VPCE_S3)?;
    let Some(doc) = live_policy(ctx, &vpce).await? else { bail!("S3 endpoint {vpce} not found or has no policy") };
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    for which in ["data", "models"] {
        let b = ctx.s.bucket_name(&ctx.account, which);
        allowed.insert(format!("arn:aws:s3:::{b}"));
        allowed.insert(format!("arn:aws:s3:::{b}/*"));
    }
    let (js, layers, mut problems) = (jumpstart_statement(), ecr_layer_statement(ctx), Vec::new());
    let (mut jumpstart, mut ecr) = (false, false);
    for (n, s) in statements(&doc).into_iter().enumerate() {
        if same_statement(s, &js) {
            jumpstart = true;
            continue;
        }
        if same_statement(s, &layers) {
            ecr = true;
            continue;
        }
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        if s.get("NotResource").is_some() || s.get("NotAction").is_some() {
            problems.push(format!("statement {} uses NotResource/NotAction", n + 1));
        }
        let outside: Vec<String> = strings(s.get("Resource")).into_iter().filter(|r| !allowed.contains(r)).collect();
        if !outside.is_empty() {
            problems.push(format!("statement {} allows {} (outside the stack's buckets)", n + 1, outside.join(", ")));
        }
    }
    let want = jumpstart_enabled(ctx);
    match (jumpstart, want) {
        (true, false) => problems.push("has the JumpStart statement, but the state records JumpStart disabled".into()),
        (false, true) => problems.push("lacks the JumpStart statement the state records as enabled".into()),
        _ => {}
    }
    if !ecr {
        problems.push("lacks the read of ECR's layer bucket (image pulls through vpce.ecr.dkr fail)".into());
    }
    let allows = if problems.is_empty() {
        (
            true,
            format!(
                "{vpce} allows the two buckets only{}, and reads ECR's layers",
                if jumpstart { ", plus JumpStart (objects tagged SageMaker=true)" } else { "" }
            ),
        )
    } else {
        (false, format!("{vpce}: {}", problems.join("; ")))
    };
    let extras = extra_statements(&doc, &s3_policy(ctx))
        .into_iter()
        .map(|s| format!("{vpce}: extra statement {s} (weakens vpce.s3.policy)"))
        .collect();
    let found = format!(
        "{vpce}: the stack's statement only{}",
        if want { ", and JumpStart's (enabled)" } else { " (JumpStart disabled)" }
    );
    Ok([allows, no_extra(vec![found], extras)])
}

/// Both buckets keep every version of their objects (versioning Enabled:
/// an overwrite or delete by a stolen credential can be undone).
pub(super) async fn buckets_versioning(ctx: &Ctx) -> Verdict {
    let (mut problems, mut found) = (Vec::new(), Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let v = crate::kinds::s3_bucket::versioning(ctx, &b)
            .await
            .with_context(|| format!("reading the versioning of bucket {b}"))?;
        match v {
            Some(aws_sdk_s3::types::BucketVersioningStatus::Enabled) => found.push(format!("{b}: versioning Enabled")),
            v => problems.push(format!(
                "{b}: versioning {}, not Enabled (weakens buckets.versioning)",
                v.as_ref().map_or("never enabled", |v| v.as_str())
            )),
        }
    }
    Ok(if problems.is_empty() { (true, found.join("; ")) } else { (false, problems.join("; ")) })
}

/// Every endpoint policy the stack writes (the S3 endpoint's and the
/// interface endpoints' whose service takes one) allows the account's
/// principals only: each Allow statement carries `aws:PrincipalAccount` =
/// the account, but for the two the S3 endpoint allows AWS's own content
/// through (JumpStart's objects, ECR's layers), which only read.
/// Credentials of another account could otherwise carry data out through
/// the endpoint, past the firewall. An endpoint without a policy gets AWS's
/// full-access default: the failing evidence says so.
pub(super) async fn endpoints_account_scoped(ctx: &Ctx) -> Verdict {
    let mut steps = vec![StepId::VPCE_S3];
    steps.extend(crate::graph::INTERFACE_ENDPOINTS.iter().filter(|e| e.3).map(|e| e.0.clone()));
    let aws_content = [jumpstart_statement(), ecr_layer_statement(ctx)];
    let (mut problems, mut checked) = (Vec::new(), 0);
    for step in &steps {
        let id = ctx.state.id(step)?;
        let Some(doc) = live_policy(ctx, &id).await? else {
            problems.push(format!("{step} ({id}): no policy (AWS's default allows any account)"));
            continue;
        };
        checked += 1;
        for (n, s) in statements(&doc).into_iter().enumerate() {
            if s.get("Effect").and_then(Value::as_str) != Some("Allow")
                || (*step == StepId::VPCE_S3 && aws_content.iter().any(|c| same_statement(s, c)))
            {
                continue;
            }
            let accounts = s
                .get("Condition")
                .and_then(|c| c.get("StringEquals"))
                .map(|c| strings(c.get("aws:PrincipalAccount")))
                .unwrap_or_default();
            if accounts != [ctx.account.clone()] {
                problems.push(format!(
                    "{step} ({id}): statement {} {} without aws:PrincipalAccount = {} (weakens vpce.account_scoped)",
                    n + 1,
                    crate::policy::summary(s),
                    ctx.account
                ));
            }
        }
    }
    Ok(if problems.is_empty() {
        (
            true,
            format!(
                "{checked} endpoint policies (S3 and {} interface): every Allow for principals of account {} only",
                checked - 1,
                ctx.account
            ),
        )
    } else {
        (false, problems.join("; "))
    })
}

pub(super) async fn ebs_key_rotation(ctx: &Ctx) -> Verdict {
    key_rotation(ctx, &StepId::KMS_EBS, "kms.ebs_rotation").await
}

/// The buckets' key rotates.
pub(super) async fn s3_key_rotation(ctx: &Ctx) -> Verdict {
    key_rotation(ctx, &StepId::KMS_S3, "kms.s3_rotation").await
}

async fn key_rotation(ctx: &Ctx, step: &StepId, control: &str) -> Verdict {
    let key = ctx.state.id(step)?;
    let out = ctx
        .aws
        .kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading the rotation status of key {key}"))?;
    let on = out.key_rotation_enabled();
    Ok((
        on,
        if on { format!("{key}: rotation enabled") } else { format!("{key}: rotation disabled (weakens {control})") },
    ))
}

/// Each key's policy has no statement but the one the tool creates it with
/// (the account root may `kms:*`). Another grant on the S3 key reaches the
/// buckets' data; on the EBS key, the volumes it would encrypt.
pub(super) async fn key_policies(ctx: &Ctx) -> Verdict {
    let root = key_policy(&ctx.account);
    let (mut found, mut extras) = (Vec::new(), Vec::new());
    let mut keys = vec![(StepId::KMS_S3, "buckets.sse_kms", &root), (StepId::KMS_EBS, "kms.ebs_rotation", &root)];
    let logs = logs_key_policy(ctx);
    if ctx.s.logging {
        keys.push((StepId::KMS_LOGS, "logs.encryption", &logs));
    }
    for (step, weakens, want) in keys {
        let key = ctx.state.id(&step)?;
        let out = ctx
            .aws
            .kms
            .get_key_policy()
            .key_id(&key)
            .policy_name("default")
            .send()
            .await
            .map_err(aws)
            .with_context(|| format!("reading the policy of key {key}"))?;
        let doc = parse_policy(out.policy().unwrap_or_default())?;
        let extra = extra_statements(&doc, want);
        let key = key.rsplit('/').next().unwrap_or(&key);
        if extra.is_empty() {
            found.push(if step == StepId::KMS_LOGS {
                format!("{step} ({key}): the account root's kms:* and CloudWatch Logs for the stack's groups only")
            } else {
                format!("{step} ({key}): the account root's kms:* only")
            });
        }
        extras.extend(extra.into_iter().map(|s| format!("{step} ({key}): extra statement {s} (weakens {weakens})")));
    }
    Ok(no_extra(found, extras))
}

/// Every Allow statement of the trust policy names sagemaker.amazonaws.com
/// and nothing else.
pub(super) async fn role_trust(ctx: &Ctx) -> Verdict {
    let arn = ctx.state.id(&StepId::IAM_ROLE)?;
    let name = arn.rsplit('/').next().unwrap_or(&arn);
    let out = ctx
        .aws
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading role {name}"))?;
    let doc = out
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .with_context(|| format!("role {name} has no trust policy"))?;
    let doc = parse_policy(doc)?;
    let mut trusted = BTreeSet::new();
    for s in statements(&doc) {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match s.get("Principal") {
            Some(Value::Object(p)) => {
                for (kind, v) in p {
                    for who in strings(Some(v)) {
                        trusted.insert(format!("{kind}:{who}"));
                    }
                }
            }
            Some(other) => {
                trusted.insert(other.to_string());
            }
            None => {
                trusted.insert("NotPrincipal (everyone else)".into());
            }
        }
    }
    let only = BTreeSet::from(["Service:sagemaker.amazonaws.com".to_string()]);
    Ok(if trusted == only {
        (true, format!("{name} trusts sagemaker.amazonaws.com only"))
    } else {
        let all: Vec<String> = trusted.into_iter().collect();
        (false, format!("{name} trusts [{}], expected sagemaker.amazonaws.com only", all.join(", ")))
    })
}

/// `buckets.access_logging`: both buckets log server access to the stack's
/// log bucket (`bucket.logs`) under their own prefix, and the log bucket is
/// the stack's (its tags), encrypted by default with SSE-S3 (the only
/// default encryption a log target may have) and lets S3's logging service
/// write for the two buckets of this account only (its policy's delivery
/// statement, `kinds::log_bucket::delivery_statement`).
pub(super) async fn buckets_access_logging(ctx: &Ctx) -> Verdict {
    use crate::kinds::log_bucket::{default_encryption, delivery_statement};
    use crate::kinds::s3_bucket::{log_prefix, logging_target, owned};
    let logs = ctx.state.id(&StepId::BUCKET_LOGS)?;
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    for (step, suffix) in StepId::BUCKETS.iter().zip(["data", "models"]) {
        let b = ctx.state.id(step)?;
        let target = logging_target(ctx, &b).await.with_context(|| format!("reading the logging of bucket {b}"))?;
        let want = (logs.clone(), log_prefix(suffix));
        match target {
            Some(t) if t == want => found.push(format!("{b} -> {}/{}", want.0, want.1)),
            Some((tb, tp)) => problems.push(format!("{b}: access logs go to {tb}/{tp}, not {}/{}", want.0, want.1)),
            None => problems.push(format!("{b}: server access logging off")),
        }
    }
    match owned(ctx, &logs).await.with_context(|| format!("reading log bucket {logs}"))? {
        None => problems.push(format!("log bucket {logs} does not exist")),
        Some(false) => problems.push(format!("log bucket {logs} is not tagged as this stack's")),
        Some(true) => {
            match default_encryption(ctx, &logs).await.with_context(|| format!("reading the encryption of {logs}"))? {
                Some(a) if a == "AES256" => {}
                other => problems.push(format!(
                    "log bucket {logs}: default encryption {}, not SSE-S3 (AES256), which log delivery needs",
                    other.unwrap_or_else(|| "none".into())
                )),
            }
            let delivery = delivery_statement(ctx, &logs);
            let doc = match ctx.aws.s3.get_bucket_policy().bucket(&logs).send().await.map_err(aws) {
                Err(e) if has_code(&e, &["NoSuchBucketPolicy"]) => None,
                r => Some(r.with_context(|| format!("reading the policy of bucket {logs}"))?),
            };
            let doc = doc.map(|d| parse_policy(d.policy().unwrap_or_default())).transpose()?;
            if !doc.as_ref().is_some_and(|d| statements(d).iter().any(|s| same_statement(s, &delivery))) {
                problems.push(format!(
                    "log bucket {logs}: no statement letting {} put the two buckets' logs for account {} only",
                    crate::kinds::log_bucket::LOGGING_SERVICE,
                    ctx.account
                ));
            }
        }
    }
    Ok(if problems.is_empty() {
        (true, format!("{}; {logs}: SSE-S3, log delivery for this account's two buckets only", found.join("; ")))
    } else {
        (false, format!("{} (weakens buckets.access_logging)", problems.join("; ")))
    })
}
