//! KMS keys (`kms.s3`, `kms.ebs`) and their aliases. Keys have no client
//! token: an interrupted create is found by its stack/step tags. Teardown
//! schedules deletion with the minimum 7-day window and removes aliases.

use anyhow::{Context, Result, bail};
use aws_sdk_kms::types::{KeyState, Tag};
use serde_json::json;

use super::check::Health;
use super::{Ctx, TAG_STACK, TAG_STEP};
use crate::error::{aws, gone_ok, has_code, is_not_found};
use crate::graph::{KeyRole, Spec, Step};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::{Poll, retry_while, until};

pub const S3_DESCRIPTION: &str = "KMS key for S3 buckets";
pub const EBS_DESCRIPTION: &str = "Generated KMS Key for sagemaker Notebook's EBS encryption";

/// The account root may administer and use the key (`kms:*`).
pub fn key_policy(account: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
}

fn role(step: &Step) -> KeyRole {
    match step.spec {
        Spec::KmsKey(r) => r,
        _ => unreachable!("kms key called for {}", step.id),
    }
}

/// Keys of this stack and step that are not pending deletion (pages through
/// the account's keys: only used to resolve an interrupted create).
pub async fn find_key(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let mut pages = ctx.aws.kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        for k in page.map_err(aws)?.keys() {
            let Some(id) = k.key_id() else { continue };
            let tags = match ctx.aws.kms.list_resource_tags().key_id(id).send().await.map_err(aws) {
                Ok(t) => t,
                Err(e) if has_code(&e, &["AccessDeniedException"]) || is_not_found(&e) => continue,
                Err(e) => return Err(e),
            };
            let has = |k: &str, v: &str| tags.tags().iter().any(|t| t.tag_key() == k && t.tag_value() == v);
            if has(TAG_STACK, ctx.stack()) && has(TAG_STEP, &step.id) {
                let meta = ctx.aws.kms.describe_key().key_id(id).send().await.map_err(aws)?;
                let state = meta.key_metadata().and_then(|m| m.key_state().cloned());
                if !matches!(state, Some(KeyState::PendingDeletion) | Some(KeyState::PendingReplicaDeletion)) {
                    return Ok(meta.key_metadata().map(|m| m.arn().unwrap_or(id).to_string()));
                }
            }
        }
    }
    Ok(None)
}

pub async fn create_key(ctx: &Ctx, step: &Step) -> Result<String> {
    let (description, name) = match role(step) {
        KeyRole::S3 => (S3_DESCRIPTION, Some(ctx.s.project.as_str())),
        KeyRole::Ebs => (EBS_DESCRIPTION, None),
    };
    let tags: Vec<Tag> = ctx
        .tags(&step.id, name)
        .into_iter()
        .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().expect("key and value set"))
        .collect();
    let out = ctx
        .aws
        .kms
        .create_key()
        .description(description)
        .policy(key_policy(&ctx.account).to_string())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(aws)?;
    out.key_metadata().and_then(|m| m.arn()).map(str::to_string).context("CreateKey returned no key ARN")
}

/// Rotation for the EBS key; then wait until the key is Enabled.
pub async fn settle_key(ctx: &Ctx, role: KeyRole, id: &str) -> Result<()> {
    if role == KeyRole::Ebs {
        retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws.kms.enable_key_rotation().key_id(id).send().await.map_err(aws)
        })
        .await?;
    }
    until("KMS key enabled", Poll::fast(300), || async {
        let out = ctx.aws.kms.describe_key().key_id(id).send().await.map_err(aws)?;
        match out.key_metadata().and_then(|m| m.key_state()) {
            Some(KeyState::Enabled) => Ok(Some(())),
            Some(KeyState::PendingDeletion) => {
                bail!("KMS key {id} is pending deletion (scheduled out of band?)")
            }
            _ => Ok(None),
        }
    })
    .await
}

/// A key pending deletion cannot be used: treated as missing (a new one is made).
pub async fn health(ctx: &Ctx, id: &str) -> Result<Health> {
    match ctx.aws.kms.describe_key().key_id(id).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(Health::Missing),
        Err(e) => Err(e),
        Ok(o) => Ok(match o.key_metadata().and_then(|m| m.key_state()) {
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion) => Health::Missing,
            Some(KeyState::Disabled) => Health::Failed("key is disabled".into()),
            _ => Health::Present,
        }),
    }
}

pub async fn delete_key(ctx: &Ctx, id: &str) -> Result<()> {
    match ctx.aws.kms.schedule_key_deletion().key_id(id).pending_window_in_days(7).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(()),
        // Already pending deletion (an earlier, interrupted down).
        Err(e) if has_code(&e, &["KMSInvalidStateException"]) => Ok(()),
        r => r.map(|_| ()),
    }
}

fn alias_parts(step: &Step) -> Result<(&str, &str)> {
    match &step.spec {
        Spec::KmsAlias { key, alias } => Ok((key, alias)),
        _ => bail!("{} is not a KMS alias", step.id),
    }
}

/// The alias, if it exists and points at our key.
pub async fn find_alias(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let (key_step, alias) = alias_parts(step)?;
    let key = ctx.state.id(key_step)?;
    let out = ctx.aws.kms.list_aliases().key_id(&key).send().await.map_err(aws)?;
    Ok(out.aliases().iter().any(|a| a.alias_name() == Some(alias)).then(|| alias.to_string()))
}

pub async fn create_alias(ctx: &Ctx, step: &Step) -> Result<String> {
    let (key_step, alias) = alias_parts(step)?;
    let key = ctx.state.id(key_step)?;
    let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        ctx.aws.kms.create_alias().alias_name(alias).target_key_id(&key).send().await.map_err(aws)
    })
    .await;
    match r {
        // The alias survived its key (the key was replaced): point it at ours.
        Err(e) if has_code(&e, &["AlreadyExistsException"]) => {
            ctx.aws.kms.update_alias().alias_name(alias).target_key_id(&key).send().await.map_err(aws)?;
        }
        r => {
            r?;
        }
    }
    Ok(alias.to_string())
}

pub async fn delete_alias(ctx: &Ctx, alias: &str) -> Result<()> {
    gone_ok(ctx.aws.kms.delete_alias().alias_name(alias).send().await.map_err(aws))
}
