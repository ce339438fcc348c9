//! KMS aliases (`kms.s3.alias`, `kms.ebs.alias`, `kms.logs.alias`). Id = the alias name. An
//! alias that survived its key (the key was replaced) is pointed at ours.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_kms::types::AliasListEntry;

use super::{Ctx, Health, Kind, NameUse};
use crate::error::{aws, gone_ok, has_code};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "kms.alias";

/// Every alias of the region, read once per read-only pass (one paginated ListAliases for the
/// three alias steps); `None` outside a pass.
async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<AliasListEntry>>>> {
    ctx.reads
        .cached("kms:ListAliases", || async {
            ctx.aws.kms.list_aliases().into_paginator().items().send().try_collect().await.map_err(aws)
        })
        .await
}

#[derive(Debug)]
pub struct KmsAlias {
    pub key: StepId,
    pub alias: String,
}

#[async_trait]
impl Kind for KmsAlias {
    fn name(&self) -> &'static str {
        "KMS alias"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.key.clone()]
    }

    /// The alias, if it exists and points at our key.
    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let key = ctx.state.id(&self.key)?;
        if let Some(all) = listed(ctx).await? {
            // ListAliases answers the target as a key id; the record holds the key's ARN.
            let key_id = key.rsplit('/').next().unwrap_or(&key);
            let ours = all.iter().any(|a| {
                a.alias_name() == Some(self.alias.as_str())
                    && a.target_key_id().is_some_and(|t| t == key_id || t == key.as_str())
            });
            return Ok(ours.then(|| self.alias.clone()));
        }
        let out = ctx.aws.kms.list_aliases().key_id(&key).send().await.map_err(aws)?;
        Ok(out.aliases().iter().any(|a| a.alias_name() == Some(self.alias.as_str())).then(|| self.alias.clone()))
    }

    /// An alias names one key per account and region: held by whose key?
    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        let all = match listed(ctx).await? {
            Some(all) => all,
            None => {
                Arc::new(ctx.aws.kms.list_aliases().into_paginator().items().send().try_collect().await.map_err(aws)?)
            }
        };
        let Some(a) = all.iter().find(|a| a.alias_name() == Some(self.alias.as_str())) else {
            return Ok(NameUse::Free);
        };
        let Some(key) = a.target_key_id() else { return Ok(NameUse::Free) };
        let tags = ctx.aws.kms.list_resource_tags().key_id(key).send().await.map_err(aws)?;
        let tags = tags.tags().iter().map(|t| (t.tag_key(), t.tag_value()));
        Ok(NameUse::of_tags(ctx, format!("KMS alias {} (key {key})", self.alias), "--project", tags))
    }

    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let key = ctx.state.id(&self.key)?;
        let alias = self.alias.as_str();
        let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws.kms.create_alias().alias_name(alias).target_key_id(&key).send().await.map_err(aws)
        })
        .await;
        match r {
            Err(e) if has_code(&e, &["AlreadyExistsException"]) => {
                ctx.aws.kms.update_alias().alias_name(alias).target_key_id(&key).send().await.map_err(aws)?;
            }
            r => {
                r?;
            }
        }
        Ok(self.alias.clone())
    }

    async fn health(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<Health> {
        Ok(Health::found(self.find(ctx, me).await?.as_deref(), id))
    }

    async fn delete(&self, ctx: &Ctx, alias: &str) -> Result<()> {
        gone_ok(ctx.aws.kms.delete_alias().alias_name(alias).send().await.map_err(aws))
    }

    /// An alias stays with its key (`KmsKey::keeps`), and the key with it.
    fn keeps(&self) -> Vec<StepId> {
        vec![self.key.clone()]
    }
}
