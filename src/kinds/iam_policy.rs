//! The SageMaker execution role's managed policy (`iam.policy`): what
//! Studio's users may do, inside the stack's guardrails (`execution_policy_for`).
//! Id = ARN; the name is unique per account, which is
//! how an interrupted create is found.

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::{Ctx, DRAIN_BOUND, Health, Kind, NameUse, adopt_if_ours};
use crate::error::{aws, found, gone_ok, has_code, is_not_found};
use crate::step_id::StepId;
use crate::wait::retry_while;

mod documents;

pub use documents::*;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "iam.policy";

#[derive(Debug)]
pub struct IamPolicy;

pub(super) fn iam_tags(ctx: &Ctx, me: &StepId) -> Vec<Tag> {
    ctx.tags(me, None)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
        .collect()
}

fn policy_arn(ctx: &Ctx) -> String {
    format!("arn:aws:iam::{}:policy/{}", ctx.account, ctx.s.policy_name())
}

/// GetPolicy of `arn`, once per read-only pass (`Reads::read`): `health` and `drift` read it once.
async fn got_policy(
    ctx: &Ctx,
    arn: &str,
) -> Result<std::sync::Arc<aws_sdk_iam::operation::get_policy::GetPolicyOutput>> {
    ctx.reads
        .read(&format!("iam:GetPolicy {arn}"), || async {
            ctx.aws.iam.get_policy().policy_arn(arn).send().await.map_err(aws)
        })
        .await
}

#[async_trait]
impl Kind for IamPolicy {
    fn name(&self) -> &'static str {
        "IAM managed policy"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    /// The policy of the derived name, if its tags prove it is this stack's.
    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        let r = ctx.aws.iam.get_policy().policy_arn(policy_arn(ctx)).send().await.map_err(aws);
        let Some(out) = found(r)? else { return Ok(None) };
        let p = out.policy().context("GetPolicy returned no Policy")?;
        let tags = p.tags().iter().map(|t| (t.key(), t.value()));
        adopt_if_ours(ctx, me, "IAM policy", p.arn().unwrap_or_default().to_string(), tags)
    }

    async fn name_in_use(&self, ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        match ctx.aws.iam.get_policy().policy_arn(policy_arn(ctx)).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(NameUse::Free),
            Err(e) => Err(e),
            Ok(out) => {
                let p = out.policy().context("GetPolicy returned no Policy")?;
                let tags = p.tags().iter().map(|t| (t.key(), t.value()));
                Ok(NameUse::of_tags(ctx, format!("IAM policy {}", p.arn().unwrap_or_default()), "--project", tags))
            }
        }
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let out = ctx
            .aws
            .iam
            .create_policy()
            .policy_name(ctx.s.policy_name())
            .path("/")
            .description("SageMaker execution role policy (provision)")
            .policy_document(execution_policy(ctx).to_string())
            .set_tags(Some(iam_tags(ctx, me)))
            .send()
            .await
            .map_err(aws)?;
        out.policy().and_then(|p| p.arn()).map(str::to_string).context("CreatePolicy returned no ARN")
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Health::of_describe(got_policy(ctx, id).await, |_| true)
    }

    /// The default version's document against the one this version of `provision` writes: a
    /// policy made by an earlier version (or edited out of band) is brought up to date by `up`.
    /// GetPolicyVersion answers the document URL-encoded (IAM API reference, PolicyVersion.Document).
    async fn drift(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<Vec<String>> {
        let iam = &ctx.aws.iam;
        let p = got_policy(ctx, arn).await?;
        let version =
            p.policy().and_then(|p| p.default_version_id()).context("GetPolicy returned no default version")?;
        let v = iam.get_policy_version().policy_arn(arn).version_id(version).send().await.map_err(aws)?;
        let doc = v.policy_version().and_then(|v| v.document()).context("GetPolicyVersion returned no document")?;
        Ok(if crate::policy::parse(doc)? == execution_policy(ctx) {
            Vec::new()
        } else {
            vec![format!("the execution policy's default version {version} differs from the stack's permissions")]
        })
    }

    fn restores_drift(&self) -> bool {
        true
    }

    /// A new default version with the stack's document. IAM keeps at most five versions of a
    /// managed policy (IAM quotas, "Managed policy versions"): at five, the oldest non-default
    /// one is deleted first, as terraform-provider-aws's policy update does
    /// (internal/service/iam/policy.go, policyPruneVersions).
    async fn restore(&self, ctx: &Ctx, _me: &StepId, arn: &str) -> Result<()> {
        let iam = &ctx.aws.iam;
        let versions = iam.list_policy_versions().policy_arn(arn).send().await.map_err(aws)?;
        let mut old: Vec<_> = versions.versions().iter().filter(|v| !v.is_default_version()).collect();
        if versions.versions().len() >= 5 {
            // IAM numbers versions v1, v2, ... in the order they were made: the lowest is the oldest.
            old.sort_by_key(|v| v.version_id().and_then(|id| id.trim_start_matches('v').parse::<u64>().ok()));
            if let Some(id) = old.first().and_then(|v| v.version_id()) {
                iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(aws)?;
            }
        }
        iam.create_policy_version()
            .policy_arn(arn)
            .policy_document(execution_policy(ctx).to_string())
            .set_as_default(true)
            .send()
            .await
            .map_err(aws)?;
        Ok(())
    }

    async fn delete(&self, ctx: &Ctx, arn: &str) -> Result<()> {
        let iam = &ctx.aws.iam;
        match iam.list_policy_versions().policy_arn(arn).send().await.map_err(aws) {
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
            Ok(v) => {
                for ver in v.versions().iter().filter(|v| !v.is_default_version()) {
                    if let Some(id) = ver.version_id() {
                        iam.delete_policy_version().policy_arn(arn).version_id(id).send().await.map_err(aws)?;
                    }
                }
            }
        }
        let r = retry_while(
            DRAIN_BOUND,
            |e| has_code(e, &["DeleteConflict"]),
            || async { iam.delete_policy().policy_arn(arn).send().await.map_err(aws) },
        )
        .await;
        gone_ok(r)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn studio() -> Studio {
        Studio {
            region: "ap-southeast-2".into(),
            account: "111122223333".into(),
            role_arn: format!(
                "arn:aws:iam::111122223333:role/{}-ap-southeast-2-sagemaker-execution-role",
                "p".repeat(32)
            ),
            buckets: vec![
                format!("arn:aws:s3:::{}-data", "b".repeat(50)),
                format!("arn:aws:s3:::{}-models", "b".repeat(50)),
            ],
            jumpstart: true,
        }
    }

    fn largest() -> Guardrails {
        Guardrails {
            subnets: (0..crate::config::MAX_ZONES).map(|i| format!("subnet-0123456789abcdef{i}")).collect(),
            security_group: "sg-0123456789abcdef0".into(),
            volume_key: "arn:aws:kms:ap-southeast-2:111122223333:key/0b2c3d4e-1111-2222-3333-444455556666".into(),
            output_key: "arn:aws:kms:ap-southeast-2:111122223333:key/1b2c3d4e-1111-2222-3333-444455556666".into(),
            network_isolation: true,
        }
    }

    fn statement<'a>(p: &'a serde_json::Value, sid: &str) -> &'a serde_json::Value {
        p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid}: {p}"))
    }

    fn size(p: &serde_json::Value) -> usize {
        p.to_string().chars().filter(|c| !c.is_whitespace()).count()
    }

    /// IAM quotas: a managed policy is at most 6,144 characters, a role's inline policies
    /// 10,240 together, whitespace not counted. Six zones, both switches on and the longest
    /// names still fit, with room.
    #[test]
    fn the_largest_stacks_policies_fit_iams_limits() {
        let managed = size(&execution_policy_for(&studio()));
        assert!(managed <= 6144 - 1000, "managed policy is {managed} characters");
        let inline = size(&guardrail_policy_for(&largest()));
        assert!(inline <= 10_240 - 2000, "inline policy is {inline} characters");
    }

    /// Each guardrail is a Deny of its own, naming its condition key and the stack's value.
    #[test]
    fn every_guardrail_is_an_explicit_deny_on_its_condition_key() {
        let g = largest();
        let p = guardrail_policy_for(&g);
        let cases = [
            ("DenyWithoutVpc", "Null", "sagemaker:VpcSubnets", json!("true")),
            ("DenyOtherSubnets", "ForAnyValue:StringNotEquals", "sagemaker:VpcSubnets", json!(g.subnets)),
            (
                "DenyOtherSecurityGroups",
                "ForAnyValue:StringNotEquals",
                "sagemaker:VpcSecurityGroupIds",
                json!([g.security_group]),
            ),
            ("DenyOtherVolumeKey", "ArnNotEquals", "sagemaker:VolumeKmsKey", json!(g.volume_key)),
            ("DenyOtherOutputKey", "ArnNotEquals", "sagemaker:OutputKmsKey", json!(g.output_key)),
            ("DenyDirectInternetAccess", "StringNotEquals", "sagemaker:DirectInternetAccess", json!("Disabled")),
            ("DenyRootAccess", "StringNotEquals", "sagemaker:RootAccess", json!("Disabled")),
            ("DenyWithoutNetworkIsolation", "Null", "sagemaker:NetworkIsolation", json!("true")),
            ("DenyNetworkIsolationOff", "Bool", "sagemaker:NetworkIsolation", json!("false")),
        ];
        for (sid, op, key, value) in cases {
            let st = statement(&p, sid);
            assert_eq!(st["Effect"], "Deny", "{sid}");
            assert_eq!(st["Condition"][op][key], value, "{sid}: {st}");
        }
        // Every job the role may start is allowed by the managed policy and under each guardrail
        // that applies to it.
        let managed = execution_policy_for(&studio());
        let allowed = statement(&managed, "JobsModelsEndpoints")["Action"].as_array().unwrap().clone();
        for (sid, actions) in [
            ("DenyWithoutVpc", JOBS_IN_VPC),
            ("DenyOtherVolumeKey", JOBS_WITH_VOLUME),
            ("DenyOtherOutputKey", JOBS_WITH_OUTPUT),
            ("DenyNetworkIsolationOff", JOBS_ISOLABLE),
        ] {
            for a in actions {
                assert!(statement(&p, sid)["Action"].as_array().unwrap().contains(&json!(a)), "{sid} {a}");
                assert!(allowed.contains(&json!(a)), "{a} is guarded but never allowed");
            }
        }
        // The managed policy denies nothing and names no id: it is made before the network.
        assert!(managed["Statement"].as_array().unwrap().iter().all(|s| s["Effect"] == "Allow"));
    }

    /// Network isolation off (the default): no isolation guardrail; JumpStart off: no read
    /// outside the buckets. S3 and KMS are granted on the stack's buckets and keys only then.
    #[test]
    fn the_switches_add_exactly_their_statements() {
        let off = guardrail_policy_for(&Guardrails { network_isolation: false, ..largest() });
        assert!(!off.to_string().contains("sagemaker:NetworkIsolation"), "{off}");
        let managed = execution_policy_for(&Studio { jumpstart: false, ..studio() });
        assert!(!managed.to_string().contains("JumpStartContent"), "{managed}");
        for st in managed["Statement"].as_array().unwrap().iter().chain(off["Statement"].as_array().unwrap()) {
            let actions = st["Action"].to_string();
            if st["Effect"] == "Allow" && (actions.contains("s3:") || actions.contains("kms:Decrypt")) {
                assert!(!st["Resource"].to_string().contains(":::*"), "{st}");
                assert_ne!(st["Resource"], "*", "{st}");
            }
        }
        let on = execution_policy_for(&studio());
        let js = statement(&on, "JumpStartContent");
        assert_eq!(js["Action"], "s3:GetObject");
        assert_eq!(js["Condition"]["StringEquals"]["s3:ExistingObjectTag/SageMaker"], "true");
    }
}
