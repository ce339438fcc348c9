//! The SageMaker execution role (`iam.role`), trusted by
//! sagemaker.amazonaws.com for this account's resources only, with the
//! stack's managed policy attached (what Studio's users do) and an inline
//! policy of guardrails that name the stack's subnets, group and keys by id
//! (`iam_policy::guardrail_policy_for`). Id = ARN; the name is unique per account, which is how an interrupted
//! create is found.

use anyhow::{Context, Result};
use async_trait::async_trait;
use serde_json::json;

use super::iam_policy::{GUARDRAILS_POLICY_NAME, guardrail_policy_for, guardrails, iam_tags};
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
    /// Every zone's SageMaker subnet: jobs must run in one of them.
    pub subnets: Vec<StepId>,
    /// `sg.sagemaker`: the only group jobs may use.
    pub sg: StepId,
    /// `kms.ebs`: the volumes' key.
    pub volume_key: StepId,
    /// `kms.s3`: the buckets' key, the outputs'.
    pub output_key: StepId,
}

impl IamRole {
    /// The guardrails of this stack, as its inline policy.
    fn guardrails(&self, ctx: &Ctx) -> Result<serde_json::Value> {
        Ok(guardrail_policy_for(&guardrails(ctx, &self.subnets)?))
    }
}

/// The role's inline policy `name` as IAM holds it, parsed (None: no such
/// policy). GetRolePolicy answers it URL-encoded (IAM API reference).
async fn live_inline(ctx: &Ctx, role: &str, name: &str) -> Result<Option<serde_json::Value>> {
    let r = ctx.aws.iam.get_role_policy().role_name(role).policy_name(name).send().await.map_err(aws);
    let Some(out) = found(r)? else { return Ok(None) };
    Ok(Some(crate::policy::parse(out.policy_document())?))
}

/// SageMaker may assume the role for this account's resources only: the
/// `aws:SourceAccount` and `aws:SourceArn` conditions against the confused
/// deputy (SageMaker developer guide, "Cross-service confused deputy
/// prevention"; IAM user guide, "The confused deputy problem").
pub fn trust_policy(ctx: &Ctx) -> serde_json::Value {
    trust_policy_for(&ctx.s.region, &ctx.account)
}

pub fn trust_policy_for(region: &str, account: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": format!("arn:aws:sagemaker:{region}:{account}:*")}
            }
        }]
    })
}

/// The role's trust policy as IAM holds it (GetRole answers it URL-encoded:
/// IAM API reference, Role.AssumeRolePolicyDocument).
pub(super) async fn live_trust(ctx: &Ctx, name: &str) -> Result<Option<serde_json::Value>> {
    let Some(out) = found(ctx.aws.iam.get_role().role_name(name).send().await.map_err(aws))? else {
        return Ok(None);
    };
    let doc = out.role().and_then(|r| r.assume_role_policy_document()).context("GetRole returned no trust policy")?;
    Ok(Some(crate::policy::parse(doc)?))
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

    /// Its guardrails name the SageMaker subnet of every zone: a zone added
    /// or removed rewrites them in place (PutRolePolicy, through `restore`).
    fn properties(&self, s: &crate::config::Settings, _me: &StepId) -> Vec<super::Property> {
        vec![super::Property::new(
            "guardrail subnets",
            "availability_zones",
            super::property::zones(s),
            super::Change::InPlace,
        )]
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    /// The guardrails name the stack's subnets, group and keys by id.
    fn needs(&self) -> Vec<StepId> {
        let mut out = vec![self.policy.clone()];
        out.extend(self.subnets.iter().cloned());
        out.extend([self.sg.clone(), self.volume_key.clone(), self.output_key.clone()]);
        out
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
        new_role(ctx, me, &ctx.s.role_name(), description, &trust_policy(ctx)).await
    }

    /// Attaches the managed policy and puts the guardrails (both idempotent).
    async fn settle(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        let policy = ctx.state.id(&self.policy)?;
        retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
            ctx.aws.iam.attach_role_policy().role_name(role_name(arn)).policy_arn(&policy).send().await.map_err(aws)
        })
        .await?;
        self.put_guardrails(ctx, arn).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(ctx.aws.iam.get_role().role_name(role_name(id)).send().await.map_err(aws), |_| true)
    }

    /// The trust policy against the one this version of `provision` writes: a role made by an
    /// earlier version (without the confused-deputy conditions) or edited out of band is
    /// brought up to date by `up`.
    /// And the guardrails (inline policy) against the stack's: missing (a role of an earlier
    /// version), edited, or naming what the stack no longer has (`network_isolation` changed).
    async fn drift(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if live_trust(ctx, role_name(arn)).await?.is_some_and(|doc| doc != trust_policy(ctx)) {
            out.push(
                "the execution role's trust policy differs from the stack's (SageMaker, this account's resources only)"
                    .into(),
            );
        }
        // A plain `down` keeps the role (the domain runs as it) but not every step its guardrails
        // name (`kms.s3` goes with the buckets): they are judged once `up` has made them again.
        if self.needs().iter().any(|n| ctx.state.id(n).is_err()) {
            return Ok(out);
        }
        match live_inline(ctx, role_name(arn), GUARDRAILS_POLICY_NAME).await? {
            None => out.push(format!("the execution role has no inline policy {GUARDRAILS_POLICY_NAME}")),
            Some(doc) if doc != self.guardrails(ctx)? => out
                .push(format!("the execution role's inline policy {GUARDRAILS_POLICY_NAME} differs from the stack's")),
            Some(_) => {}
        }
        Ok(out)
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// UpdateAssumeRolePolicy with the stack's trust policy when it differs, PutRolePolicy
    /// with the stack's guardrails.
    async fn restore(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        if live_trust(ctx, role_name(arn)).await?.is_some_and(|doc| doc != trust_policy(ctx)) {
            ctx.aws
                .iam
                .update_assume_role_policy()
                .role_name(role_name(arn))
                .policy_document(trust_policy(ctx).to_string())
                .send()
                .await
                .map_err(aws)?;
        }
        self.put_guardrails(ctx, arn).await
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        remove_role(ctx, arn).await
    }
}

impl IamRole {
    async fn put_guardrails(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        let doc = self.guardrails(ctx)?.to_string();
        retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
            ctx.aws
                .iam
                .put_role_policy()
                .role_name(role_name(arn))
                .policy_name(GUARDRAILS_POLICY_NAME)
                .policy_document(&doc)
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        Ok(())
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
