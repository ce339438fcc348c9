//! `provision studio-url`: a presigned URL that opens Studio (printed, never stored).

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::error::{EXIT_FAILED, Exit};
use crate::kinds::Ctx;
use crate::step_id::StepId;

pub async fn studio_url(ctx: Arc<Ctx>, user: Option<String>, expires: i32) -> Result<()> {
    let domain = ctx
        .state
        .id(&StepId::DOMAIN)
        .map_err(|_| Exit(EXIT_FAILED, "the stack has no SageMaker domain yet: run `provision up` first".into()))?;
    let user = user.unwrap_or_else(|| ctx.s.user_profile_name.clone());
    let out = ctx
        .aws
        .sagemaker
        .create_presigned_domain_url()
        .domain_id(&domain)
        .user_profile_name(&user)
        .expires_in_seconds(expires)
        .send()
        .await
        .map_err(crate::error::aws)
        .with_context(|| format!("creating a presigned URL for user profile {user} in domain {domain}"))?;
    println!("{}", out.authorized_url().context("CreatePresignedDomainUrl returned no URL")?);
    Ok(())
}
