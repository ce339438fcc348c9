//! CloudWatch Logs log groups (`logs.vpc_flow`, `logs.firewall_alert`,
//! `logs.firewall_flow`): `/provision/{project}/...`, encrypted with the
//! stack's logs key (`kms.logs`, given as `kmsKeyId` at creation), retention
//! `log_retention_days`. Id = the log group name, unique per account and
//! region, which is how an interrupted create is found (by name and tags).
//! Logs are data: `down` keeps the groups (and their key) unless
//! `--delete-data`.

use std::collections::HashMap;

use anyhow::Result;
use async_trait::async_trait;

use super::{Change, Ctx, Health, Kind, NameUse, Property, adopt_if_ours};
use super::{Flow, Per, Store, Usage, Use};
use crate::config::Settings;
use crate::error::{aws, gone_ok};
use crate::step_id::StepId;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "logs.log_group";

impl StepId {
    pub const LOGS_VPC_FLOW: StepId = StepId::of("logs.vpc_flow");
    pub const LOGS_FIREWALL_ALERT: StepId = StepId::of("logs.firewall_alert");
    pub const LOGS_FIREWALL_FLOW: StepId = StepId::of("logs.firewall_flow");

    /// The stack's log groups, with the name each is given below `/provision/{project}/`.
    pub const LOG_GROUPS: [(StepId, &'static str); 3] = [
        (StepId::LOGS_VPC_FLOW, "vpc-flow-logs"),
        (StepId::LOGS_FIREWALL_ALERT, "firewall/alert"),
        (StepId::LOGS_FIREWALL_FLOW, "firewall/flow"),
    ];
}

#[derive(Debug)]
pub struct LogGroup {
    pub key: StepId,
    /// The full log group name.
    pub name: String,
}

/// A log group's ARN (without the `:*` DescribeLogGroups appends).
pub fn log_group_arn(ctx: &Ctx, name: &str) -> String {
    format!("arn:aws:logs:{}:{}:log-group:{name}", ctx.s.region, ctx.account)
}

/// Why `down` keeps the log groups and the key that encrypts them.
pub fn logs_kept(ctx: &Ctx) -> Option<String> {
    let recorded = StepId::LOG_GROUPS.iter().any(|(step, _)| ctx.state.record(step).is_some_and(|r| r.id.is_some()));
    (!ctx.down.delete_data && recorded).then(|| "logs are data; remove with `provision down --delete-data`".to_string())
}

/// The group of exactly this name: (kmsKeyId, retentionInDays), or None.
/// In a read-only pass, the stack's three groups come from one listing of the stack's prefix
/// (`/provision/{project}/`, paginated); outside one, each group is read by its own name.
pub async fn live_group(ctx: &Ctx, name: &str) -> Result<Option<(Option<String>, Option<i32>)>> {
    let of = |g: &aws_sdk_cloudwatchlogs::types::LogGroup| (g.kms_key_id().map(str::to_string), g.retention_in_days());
    let prefix = format!("/provision/{}/", ctx.s.project);
    if name.starts_with(&prefix) {
        let listed = ctx
            .reads
            .cached("logs:DescribeLogGroups", || async {
                let pages = ctx.aws.logs.describe_log_groups().log_group_name_prefix(&prefix).into_paginator();
                pages.items().send().try_collect().await.map_err(aws)
            })
            .await?;
        if let Some(all) = listed {
            return Ok(all.iter().find(|g| g.log_group_name() == Some(name)).map(of));
        }
    }
    let out = ctx.aws.logs.describe_log_groups().log_group_name_prefix(name).send().await.map_err(aws)?;
    Ok(out.log_groups().iter().find(|g| g.log_group_name() == Some(name)).map(of))
}

/// How a live group differs from the stack's: its key and its retention.
pub fn group_drift(ctx: &Ctx, key: &str, live: &(Option<String>, Option<i32>)) -> Vec<String> {
    let mut out = Vec::new();
    match live.0.as_deref() {
        Some(k) if k == key => {}
        Some(k) => out.push(format!("encrypted with {k}, not the stack's logs key {key}")),
        None => out.push(format!("not encrypted with a customer key (the stack's is {key})")),
    }
    if live.1 != Some(ctx.s.log_retention_days) {
        let now = live.1.map(|d| format!("{d} days")).unwrap_or_else(|| "never expire".to_string());
        out.push(format!("retention {now}, not {} days", ctx.s.log_retention_days));
    }
    out
}

async fn tags_of(ctx: &Ctx, name: &str) -> Result<HashMap<String, String>> {
    let out = ctx.aws.logs.list_tags_for_resource().resource_arn(log_group_arn(ctx, name)).send().await.map_err(aws)?;
    Ok(out.tags().cloned().unwrap_or_default())
}

#[async_trait]
impl Kind for LogGroup {
    fn name(&self) -> &'static str {
        "CloudWatch Logs log group"
    }

    /// PutRetentionPolicy changes the retention in place (CloudWatch Logs API reference).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        vec![Property::new("retention (days)", "log_retention_days", s.log_retention_days, Change::InPlace)]
    }

    fn priced(&self, _s: &Settings) -> Vec<Use> {
        vec![
            Use::new("logs-ingest-gb", 1, Per::Stack, Usage::Traffic(Flow::Logs)),
            Use::new("logs-storage-gb-month", 1, Per::Stack, Usage::Stored(Store::Logs)),
        ]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.key.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        if live_group(ctx, &self.name).await?.is_none() {
            return Ok(None);
        }
        let tags = tags_of(ctx, &self.name).await?;
        adopt_if_ours(ctx, me, "log group", self.name.clone(), tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        if live_group(ctx, &self.name).await?.is_none() {
            return Ok(NameUse::Free);
        }
        let tags = tags_of(ctx, &self.name).await?;
        let holder = format!("log group {}", self.name);
        Ok(NameUse::of_tags(ctx, holder, "--project", tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let key = ctx.state.id(&self.key)?;
        ctx.aws
            .logs
            .create_log_group()
            .log_group_name(&self.name)
            .kms_key_id(key)
            .set_tags(Some(ctx.tags(me, None).into_iter().collect()))
            .send()
            .await
            .map_err(aws)?;
        Ok(self.name.clone())
    }

    /// The retention asked (idempotent).
    async fn settle(&self, ctx: &Ctx, _me: &StepId, name: &str) -> Result<()> {
        let days = ctx.s.log_retention_days;
        ctx.aws.logs.put_retention_policy().log_group_name(name).retention_in_days(days).send().await.map_err(aws)?;
        Ok(())
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, name: &str) -> Result<Health> {
        Ok(if live_group(ctx, name).await?.is_some() { Health::Present } else { Health::Missing })
    }

    async fn delete(&self, ctx: &Ctx, name: &str) -> Result<()> {
        gone_ok(ctx.aws.logs.delete_log_group().log_group_name(name).send().await.map_err(aws))
    }

    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(logs_kept(ctx))
    }

    /// A kept group stays readable with its key.
    fn keeps(&self) -> Vec<StepId> {
        vec![self.key.clone()]
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, name: &str) -> Result<Vec<String>> {
        let key = ctx.state.id(&self.key)?;
        Ok(live_group(ctx, name).await?.map(|live| group_drift(ctx, &key, &live)).unwrap_or_default())
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// Puts the stack's key back (AssociateKmsKey) and the retention asked.
    async fn restore(&self, ctx: &Ctx, me: &StepId, name: &str) -> Result<()> {
        let key = ctx.state.id(&self.key)?;
        if live_group(ctx, name).await?.is_some_and(|live| live.0.as_deref() != Some(key.as_str())) {
            ctx.aws.logs.associate_kms_key().log_group_name(name).kms_key_id(&key).send().await.map_err(aws)?;
        }
        self.settle(ctx, me, name).await
    }
}
