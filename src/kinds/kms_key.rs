//! KMS keys, each with automatic rotation (`kms.s3` for the buckets,
//! `kms.ebs` for Studio's volumes; `kms.logs` for the stack's log groups, usable by
//! CloudWatch Logs for this stack's log groups only). Keys have no client token: an interrupted create is found by
//! its stack/step tags. Teardown schedules deletion with the minimum 7-day
//! window; a key stays while anything it encrypts is kept (the buckets,
//! the log groups, the domain's EFS and spaces: their kinds' `keeps`).

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use aws_sdk_kms::types::{KeyState, Tag};
use serde_json::json;

use super::{Ctx, Health, Kind, gone_or};
use super::{Per, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, has_code, is_not_found};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::{Poll, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "kms.key";

pub const S3_DESCRIPTION: &str = "KMS key for S3 buckets";
pub const EBS_DESCRIPTION: &str = "Generated KMS Key for sagemaker Notebook's EBS encryption";
pub const LOGS_DESCRIPTION: &str = "KMS key for the stack's CloudWatch Logs log groups";

impl StepId {
    pub const KMS_LOGS: StepId = StepId::of("kms.logs");
    pub const KMS_LOGS_ALIAS: StepId = StepId::of("kms.logs.alias");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    S3,
    Ebs,
    Logs,
}

#[derive(Debug)]
pub struct KmsKey {
    pub role: KeyRole,
    /// Steps that must exist first although the key does not read them
    /// (`kms.s3` after `vpce.s3`, as the spec's dependencies say).
    pub after: Vec<StepId>,
}

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

/// The logs key's policy: the account root's, and CloudWatch Logs of the
/// region may use it for this stack's log groups only. CloudWatch Logs user
/// guide, "Encrypt log data in CloudWatch Logs using AWS KMS", step 2: the
/// service principal `logs.{region}.amazonaws.com`, and the condition
/// `kms:EncryptionContext:aws:logs:arn` (ArnLike) naming the log groups.
pub fn logs_key_policy(ctx: &Ctx) -> serde_json::Value {
    let mut p = key_policy(&ctx.account);
    let groups = format!("arn:aws:logs:{}:{}:log-group:{}", ctx.s.region, ctx.account, ctx.s.log_group_name("*"));
    p["Statement"].as_array_mut().expect("statements").push(json!({
        "Sid": "AllowCloudWatchLogsForTheStacksLogGroups",
        "Effect": "Allow",
        "Principal": {"Service": format!("logs.{}.amazonaws.com", ctx.s.region)},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": groups}}
    }));
    p
}

/// Every key of the region (its ARN, as the state records keys) with its
/// tags; a key whose tags cannot be read (another account's policy, gone
/// meanwhile) is left out.
async fn tagged_keys(ctx: &Ctx) -> Result<Vec<(String, Vec<(String, String)>)>> {
    let mut out = Vec::new();
    let mut pages = ctx.aws.kms.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        for k in page.map_err(aws)?.keys() {
            let Some(id) = k.key_id() else { continue };
            let tags = match ctx.aws.kms.list_resource_tags().key_id(id).send().await.map_err(aws) {
                Ok(t) => t,
                Err(e) if has_code(&e, &["AccessDeniedException"]) || is_not_found(&e) => continue,
                Err(e) => return Err(e),
            };
            let tags = tags.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect();
            out.push((k.key_arn().unwrap_or(id).to_string(), tags));
        }
    }
    Ok(out)
}

/// DescribeKey of `id`, once per read-only pass (`Reads::read`).
async fn described(
    ctx: &Ctx,
    id: &str,
) -> Result<std::sync::Arc<aws_sdk_kms::operation::describe_key::DescribeKeyOutput>> {
    let load = || async { ctx.aws.kms.describe_key().key_id(id).send().await.map_err(aws) };
    ctx.reads.read(&format!("kms:DescribeKey {id}"), load).await
}

#[async_trait]
impl Kind for KmsKey {
    fn name(&self) -> &'static str {
        "KMS key"
    }

    fn priced(&self, _s: &Settings) -> Vec<Use> {
        vec![Use::new("kms-key-month", 1, Per::Stack, Usage::Monthly)]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        self.after.clone()
    }

    /// Keys of this stack and step that are not pending deletion (pages
    /// through the account's keys: only used to resolve an interrupted create).
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        Ok(self.list_owned(ctx, me).await?.and_then(|ids| ids.into_iter().next()))
    }

    /// Every key tagged as this step of the stack, not pending deletion (ARNs).
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        let mut found = Vec::new();
        for (id, tags) in ctx.reads.read("kms:ListKeys+ListResourceTags", || tagged_keys(ctx)).await?.iter() {
            if ctx.tagged_as(me, tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                let meta = described(ctx, id).await?;
                let state = meta.key_metadata().and_then(|m| m.key_state().cloned());
                if !matches!(state, Some(KeyState::PendingDeletion) | Some(KeyState::PendingReplicaDeletion)) {
                    found.extend(meta.key_metadata().map(|m| m.arn().unwrap_or(id).to_string()));
                }
            }
        }
        Ok(Some(found))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let (description, name, policy) = match self.role {
            KeyRole::S3 => (S3_DESCRIPTION, Some(ctx.s.project.as_str()), key_policy(&ctx.account)),
            KeyRole::Ebs => (EBS_DESCRIPTION, None, key_policy(&ctx.account)),
            KeyRole::Logs => (LOGS_DESCRIPTION, None, logs_key_policy(ctx)),
        };
        let tags: Vec<Tag> = ctx
            .tags(me, name)
            .into_iter()
            .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().expect("key and value set"))
            .collect();
        let out = ctx
            .aws
            .kms
            .create_key()
            .description(description)
            .policy(policy.to_string())
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(aws)?;
        out.key_metadata().and_then(|m| m.arn()).map(str::to_string).context("CreateKey returned no key ARN")
    }

    /// Rotation on every key the stack makes (KMS developer guide,
    /// "Rotating AWS KMS keys"; AWS Foundational Security Best Practices,
    /// control KMS.4); then wait until the key is Enabled.
    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws.kms.enable_key_rotation().key_id(id).send().await.map_err(aws)
        })
        .await?;
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
    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        match described(ctx, id).await {
            Err(e) if is_not_found(&e) => Ok(Health::Missing),
            Err(e) => Err(e),
            Ok(o) => Ok(match o.key_metadata().and_then(|m| m.key_state()) {
                Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion) => Health::Missing,
                Some(KeyState::Disabled) => Health::Failed("key is disabled".into()),
                _ => Health::Present,
            }),
        }
    }

    /// Already pending deletion (an earlier, interrupted down) is done too.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let r = ctx.aws.kms.schedule_key_deletion().key_id(id).pending_window_in_days(7).send().await;
        gone_or(r.map_err(aws), &["KMSInvalidStateException"])
    }

    /// Rotation off (a key of an earlier version, or turned off out of
    /// band): `up` turns it on (`settle`).
    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let out = ctx.aws.kms.get_key_rotation_status().key_id(id).send().await.map_err(aws)?;
        Ok(if out.key_rotation_enabled() { Vec::new() } else { vec!["automatic rotation disabled".into()] })
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// A kept key keeps its alias (how its users find it).
    fn keeps(&self) -> Vec<StepId> {
        vec![match self.role {
            KeyRole::S3 => StepId::KMS_S3_ALIAS,
            KeyRole::Ebs => StepId::KMS_EBS_ALIAS,
            KeyRole::Logs => StepId::KMS_LOGS_ALIAS,
        }]
    }
}
