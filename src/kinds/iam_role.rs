//! The SageMaker execution role (`iam.role`), trusted by
//! sagemaker.amazonaws.com only, with the stack's managed policy attached.
//! Id = ARN; the name is unique per account, which is how an interrupted
//! create is found.

use anyhow::{Context, Result};
use async_trait::async_trait;
use serde_json::json;

use super::iam_policy::iam_tags;
use super::{Ctx, Health, Kind, NameUse, adopt_if_ours};
use crate::error::{aws, found, gone_ok, is_not_found};
use crate::retry::{IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "iam.role";

#[derive(Debug)]
pub struct IamRole {
    pub policy: StepId,
}

pub fn trust_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

pub(super) fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The role `name`, if its tags prove it is this stack's `me` (shared with
/// the flow logs role).
pub(super) async fn find_role(ctx: &Ctx, me: &StepId, name: &str) -> Result<Option<String>> {
    let Some(out) = found(ctx.aws.iam.get_role().role_name(name).send().await.map_err(aws))? else {
        return Ok(None);
    };
    let role = out.role().context("GetRole returned no Role")?;
    let tags = role.tags().iter().map(|t| (t.key(), t.value()));
    adopt_if_ours(ctx, me, "IAM role", role.arn().to_string(), tags)
}

/// Who holds the role name `name` (pre-flight).
pub(super) async fn role_name_use(ctx: &Ctx, name: &str) -> Result<NameUse> {
    match ctx.aws.iam.get_role().role_name(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => Ok(NameUse::Free),
        Err(e) => Err(e),
        Ok(out) => {
            let role = out.role().context("GetRole returned no Role")?;
            let tags = role.tags().iter().map(|t| (t.key(), t.value()));
            Ok(NameUse::of_tags(ctx, format!("IAM role {}", role.arn()), "--project", tags))
        }
    }
}

/// CreateRole with the stack's tags: the new role's ARN.
pub(super) async fn new_role(
    ctx: &Ctx,
    me: &StepId,
    name: &str,
    description: &str,
    trust: &serde_json::Value,
) -> Result<String> {
    let out = ctx
        .aws
        .iam
        .create_role()
        .role_name(name)
        .path("/")
        .description(description)
        .assume_role_policy_document(trust.to_string())
        .set_tags(Some(iam_tags(ctx, me)))
        .send()
        .await
        .map_err(aws)?;
    out.role().map(|r| r.arn().to_string()).context("CreateRole returned no role")
}

#[async_trait]
impl Kind for IamRole {
    fn name(&self) -> &'static str {
        "IAM role"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.policy.clone()]
    }

    /// Kept with the domain and profiles that run as it: with its policy.
    fn keeps(&self) -> Vec<StepId> {
        vec![self.policy.clone()]
    }

    /// The role of the derived name, if its tags prove it is this stack's
    /// (a name alone proves nothing: another state file, another team).
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        find_role(ctx, me, &ctx.s.role_name()).await
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        role_name_use(ctx, &ctx.s.role_name()).await
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let description = "SageMaker Studio execution role (provision)";
        new_role(ctx, me, &ctx.s.role_name(), description, &trust_policy()).await
    }

    /// Attaches the managed policy (idempotent).
    async fn settle(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        let policy = ctx.state.id(&self.policy)?;
        retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
            ctx.aws.iam.attach_role_policy().role_name(role_name(arn)).policy_arn(&policy).send().await.map_err(aws)
        })
        .await?;
        Ok(())
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(ctx.aws.iam.get_role().role_name(role_name(id)).send().await.map_err(aws), |_| true)
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        remove_role(ctx, arn).await
    }
}

/// Detaches the role's managed policies, deletes its inline ones (IAM
/// refuses to delete a role that has either), then the role; gone is done.
pub(super) async fn remove_role(ctx: &Ctx, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let name = role_name(arn);
    match iam.list_attached_role_policies().role_name(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(out) => {
            for p in out.attached_policies() {
                if let Some(parn) = p.policy_arn() {
                    iam.detach_role_policy().role_name(name).policy_arn(parn).send().await.map_err(aws)?;
                }
            }
        }
    }
    match iam.list_role_policies().role_name(name).send().await.map_err(aws) {
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
        Ok(out) => {
            for p in out.policy_names() {
                gone_ok(iam.delete_role_policy().role_name(name).policy_name(p).send().await.map_err(aws))?;
            }
        }
    }
    gone_ok(iam.delete_role().role_name(name).send().await.map_err(aws))
}
