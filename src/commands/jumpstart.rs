//! `provision jumpstart enable|disable`: the seed's demo opened SageMaker
//! JumpStart by editing the S3 endpoint policy by hand. JumpStart's models
//! and notebooks live in AWS-owned buckets whose objects are tagged
//! `SageMaker=true`; the statement lets the endpoint read exactly those
//! (`vpc_endpoint::jumpstart_statement`), nothing else outside the stack's
//! two buckets.
//!
//! The execution role's managed policy gets (or loses) the same read
//! (`iam_policy::execution_policy_for`), as a new default version.
//!
//! The whole endpoint policy is written (ModifyVpcEndpoint), so the command
//! also restores the stack's policy if it was changed out of band. The state
//! records the choice (attribute `jumpstart` of `vpce.s3`): `verify` expects
//! the statement exactly when it is recorded, and `up`, which builds the
//! policy from the state, keeps it.

use anyhow::{Context, Result};

use crate::error::aws;
use crate::kinds::iam_policy::IamPolicy;
use crate::kinds::vpc_endpoint::{JUMPSTART_ATTR, jumpstart_enabled, jumpstart_statement, live_policy, s3_policy_with};
use crate::kinds::{Ctx, Kind};
use crate::step_id::StepId;

pub async fn run(ctx: &Ctx, enable: bool) -> Result<()> {
    let vpce = ctx.state.id(&StepId::VPCE_S3).context("the stack has no S3 endpoint yet; run `provision up` first")?;
    let already = jumpstart_enabled(ctx) == enable;
    ctx.aws
        .ec2
        .modify_vpc_endpoint()
        .vpc_endpoint_id(&vpce)
        .policy_document(s3_policy_with(ctx, enable).to_string())
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("writing the policy of S3 endpoint {vpce} (ModifyVpcEndpoint)"))?;
    ctx.state.update(|d| {
        if let Some(r) = d.steps.get_mut(StepId::VPCE_S3.as_str()) {
            if enable {
                r.attrs.insert(JUMPSTART_ATTR.into(), "true".into());
            } else {
                r.attrs.remove(JUMPSTART_ATTR);
            }
        }
    })?;
    // The execution role reads JumpStart's objects too (a cross-account read needs the caller's
    // allow as well as the endpoint's): its managed policy follows the record.
    if let Ok(arn) = ctx.state.id(&StepId::IAM_POLICY) {
        let kind = IamPolicy;
        if !kind.drift(ctx, &StepId::IAM_POLICY, &arn).await?.is_empty() {
            kind.restore(ctx, &StepId::IAM_POLICY, &arn)
                .await
                .with_context(|| format!("writing the execution role's policy {arn} (CreatePolicyVersion)"))?;
        }
    }
    // The policies are written again either way (they may have drifted); the words say whether it changed.
    let (was, now) = if already { ("is already ", "") } else { ("", " now") };
    if enable {
        println!(
            "JumpStart {was}enabled: S3 endpoint {vpce}{now} also lets Studio read objects tagged SageMaker=true (s3:GetObject, any bucket). `provision jumpstart disable` removes it."
        );
    } else {
        println!("JumpStart {was}disabled: S3 endpoint {vpce}{now} allows the stack's two buckets only.");
    }
    Ok(())
}

/// `jumpstart status`: what the state records and what the live S3 endpoint
/// policy holds (read-only). Exit 1 when they differ (`verify` says the same).
pub async fn status(ctx: &Ctx) -> Result<()> {
    let vpce = ctx.state.id(&StepId::VPCE_S3).context("the stack has no S3 endpoint yet; run `provision up` first")?;
    let doc = live_policy(ctx, &vpce).await?.unwrap_or_default();
    let js = jumpstart_statement();
    let live = crate::policy::statements(&doc).into_iter().any(|s| crate::policy::same_statement(s, &js));
    let recorded = jumpstart_enabled(ctx);
    let word = |on: bool| if on { "enabled" } else { "disabled" };
    println!(
        "JumpStart: {} (recorded); S3 endpoint {vpce} {} the JumpStart statement",
        word(recorded),
        if live { "has" } else { "lacks" }
    );
    if live != recorded {
        let fix = if live {
            "`provision jumpstart enable` records it, `provision up` removes it"
        } else {
            "`provision up` puts it back, `provision jumpstart disable` records its removal"
        };
        return Err(crate::error::Exit(
            crate::error::EXIT_FAILED,
            format!("the endpoint policy differs from the record: {fix}"),
        )
        .into());
    }
    Ok(())
}
