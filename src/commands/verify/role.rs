//! The execution role's guardrails, live (issue 28): `iam.role_guardrails` checks that each
//! guardrail statement of the stack (`iam_policy::guardrail_policy_for`: an explicit Deny per
//! `sagemaker:` condition key, naming the stack's subnets, group and keys) is in the role's
//! inline policy exactly; `iam.role_no_extra` that nothing grants the role more than the stack
//! does: every statement of its inline policies and attached managed policies is one of the
//! stack's, and no other policy is attached or inline.

use anyhow::{Context, Result};
use serde_json::Value;

use crate::error::aws;
use crate::graph::per_zone;
use crate::kinds::Ctx;
use crate::kinds::iam_policy::{GUARDRAILS_POLICY_NAME, execution_policy, guardrail_policy_for, guardrails};
use crate::policy::{extra_statements, parse as parse_policy, same_statement, statements};
use crate::step_id::StepId;

/// The condition keys a guardrail statement names (`sagemaker:VpcSubnets`, ...).
fn condition_keys(s: &Value) -> Vec<String> {
    let mut keys: Vec<String> = s
        .get("Condition")
        .and_then(Value::as_object)
        .map(|ops| ops.values().filter_map(Value::as_object).flat_map(|k| k.keys().cloned()).collect())
        .unwrap_or_default();
    keys.sort();
    keys.dedup();
    keys
}

/// `[iam.role_guardrails, iam.role_no_extra]`, from one read of the role's policies.
pub(super) async fn role_guardrails(ctx: &Ctx) -> Result<[(bool, String); 2]> {
    let arn = ctx.state.id(&StepId::IAM_ROLE)?;
    let name = arn.rsplit('/').next().unwrap_or(&arn).to_string();
    let iam = &ctx.aws.iam;
    let want_guardrails = guardrail_policy_for(&guardrails(ctx, &per_zone(&ctx.s, &StepId::SUBNET_SAGEMAKER))?);
    let want_managed = execution_policy(ctx);
    let stack_policy = ctx.state.id(&StepId::IAM_POLICY)?;

    let inline = iam.list_role_policies().role_name(&name).send().await.map_err(aws).context("ListRolePolicies")?;
    let mut extras = Vec::new();
    let mut live_guardrails = None;
    for p in inline.policy_names() {
        if p != GUARDRAILS_POLICY_NAME {
            extras.push(format!("inline policy {p} (weakens iam.role_guardrails)"));
            continue;
        }
        let out = iam.get_role_policy().role_name(&name).policy_name(p).send().await.map_err(aws)?;
        live_guardrails = Some(parse_policy(out.policy_document())?);
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(aws)
        .context("ListAttachedRolePolicies")?;
    for p in attached.attached_policies() {
        let parn = p.policy_arn().unwrap_or_default();
        if parn != stack_policy {
            extras.push(format!("attached policy {parn} (weakens iam.role_guardrails)"));
            continue;
        }
        let got = iam.get_policy().policy_arn(parn).send().await.map_err(aws)?;
        let version =
            got.policy().and_then(|p| p.default_version_id()).context("GetPolicy returned no default version")?;
        let v = iam.get_policy_version().policy_arn(parn).version_id(version).send().await.map_err(aws)?;
        let doc = parse_policy(v.policy_version().and_then(|v| v.document()).unwrap_or_default())?;
        extras.extend(
            extra_statements(&doc, &want_managed)
                .into_iter()
                .map(|s| format!("{parn}: extra statement {s} (weakens iam.role_guardrails)")),
        );
    }

    let guardrail = match &live_guardrails {
        None => (false, format!("{name} has no inline policy {GUARDRAILS_POLICY_NAME}: no guardrail holds")),
        Some(doc) => {
            let live = statements(doc);
            let mut held = Vec::new();
            let mut missing = Vec::new();
            for want in statements(&want_guardrails).into_iter().filter(|s| s["Effect"] == "Deny") {
                let sid = want["Sid"].as_str().unwrap_or("?");
                let keys = condition_keys(want).join(", ");
                if live.iter().any(|s| same_statement(s, want)) {
                    held.push(format!("{sid} ({keys})"));
                } else {
                    missing.push(format!("{sid} ({keys}) missing or changed"));
                }
            }
            if missing.is_empty() {
                (true, format!("{name} denies: {}", held.join("; ")))
            } else {
                (false, format!("{name}: {}", missing.join("; ")))
            }
        }
    };
    if let Some(doc) = &live_guardrails {
        extras.extend(
            extra_statements(doc, &want_guardrails)
                .into_iter()
                .map(|s| format!("{GUARDRAILS_POLICY_NAME}: extra statement {s} (weakens iam.role_guardrails)")),
        );
    }
    let no_extra = if extras.is_empty() {
        (true, format!("{name}: the stack's managed policy and guardrails only"))
    } else {
        (false, extras.join("; "))
    };
    Ok([guardrail, no_extra])
}
