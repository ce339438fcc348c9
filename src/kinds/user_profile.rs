//! SageMaker user profiles (`sm.user`, `sm.user.{name}`; id
//! `{domain}/{profile}`), with the domain's execution role and group.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use async_trait::async_trait;
use aws_sdk_sagemaker::types::UserProfileStatus;

use super::domain::{sm_tags, user_settings};
use super::{Change, Ctx, DRAIN_BOUND, Health, Kind, Property, accepted, storage_kept};
use crate::error::{aws, found, has_code, is_not_found};
use crate::latency::{create_s, delete_s};
use crate::retry::{CONSISTENCY_BOUND, IAM_PROPAGATION_BOUND, is_iam_propagation};
use crate::step_id::StepId;
use crate::wait::{Poll, Unseen, retry_while, until};

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "sm.user_profile";

#[derive(Debug)]
pub struct UserProfile {
    pub domain: StepId,
    pub name: String,
    /// Reached through the domain.
    pub role: StepId,
    pub sg: StepId,
}

fn split_user(id: &str) -> Result<(&str, &str)> {
    id.split_once('/').ok_or_else(|| anyhow!("malformed user profile id '{id}' (want domain/profile)"))
}

/// Every profile of `domain` and its status, from one ListUserProfiles
/// listing (paginated) shared by the waits of every user (`Polls`).
async fn domain_profiles(ctx: &Ctx, domain: &str) -> Result<Arc<HashMap<String, UserProfileStatus>>> {
    let fresh = crate::wait::scaled(super::SHARED_FRESH);
    ctx.polls
        .get(&format!("sagemaker:ListUserProfiles {domain}"), fresh, || async {
            let mut out = HashMap::new();
            let sm = &ctx.aws.sagemaker;
            let mut pages = sm.list_user_profiles().domain_id_equals(domain).max_results(100).into_paginator().send();
            while let Some(page) = pages.next().await {
                for u in page.map_err(aws)?.user_profiles() {
                    if let (Some(n), Some(s)) = (u.user_profile_name(), u.status()) {
                        out.insert(n.to_string(), s.clone());
                    }
                }
            }
            Ok(out)
        })
        .await
}

/// The profiles of `domain` whose tags prove them this stack's (its users as
/// its tags say when the state is lost: `lifecycle::shape_mismatch`); a
/// profile an admin added by hand is not one of them.
pub async fn stack_profiles(ctx: &Ctx, domain: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in domain_profiles(ctx, domain).await?.keys() {
        let sm = &ctx.aws.sagemaker;
        let Some(u) =
            found(sm.describe_user_profile().domain_id(domain).user_profile_name(name).send().await.map_err(aws))?
        else {
            continue;
        };
        let Some(arn) = u.user_profile_arn() else { continue };
        let tags = sm.list_tags().resource_arn(arn).send().await.map_err(aws)?;
        if tags.tags().iter().any(|t| t.key() == Some(super::TAG_STACK) && t.value() == Some(ctx.stack())) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

#[async_trait]
impl Kind for UserProfile {
    fn name(&self) -> &'static str {
        "SageMaker user profile"
    }

    /// Whose profile this step is (its name is fixed at creation).
    fn properties(&self, _s: &crate::config::Settings, _me: &StepId) -> Vec<Property> {
        vec![Property::new(
            "user",
            "users",
            &self.name,
            Change::Replace("a user profile's name is fixed at CreateUserProfile"),
        )]
    }

    /// The profile's tags name `me` (the first user left; this one's steps take the spec's ids).
    async fn retag(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        let (domain, name) = split_user(id)?;
        let sm = &ctx.aws.sagemaker;
        let u = sm.describe_user_profile().domain_id(domain).user_profile_name(name).send().await.map_err(aws)?;
        super::domain::tag_as(ctx, me, u.user_profile_arn().unwrap_or_default()).await
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.domain.clone()]
    }

    fn reads(&self) -> Vec<StepId> {
        vec![self.role.clone(), self.sg.clone()]
    }

    /// Its user's spaces (kept) are theirs through it.
    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(storage_kept(ctx, &format!("{}'s Studio user, who owns the kept spaces", self.name)))
    }

    fn keeps(&self) -> Vec<StepId> {
        vec![self.domain.clone(), self.role.clone(), self.sg.clone()]
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        let domain = ctx.state.id(&self.domain)?;
        let r = ctx.aws.sagemaker.describe_user_profile().domain_id(&domain).user_profile_name(&self.name).send().await;
        Ok(match found(r.map_err(aws))? {
            Some(u) if u.status() != Some(&UserProfileStatus::Deleting) => Some(format!("{domain}/{}", self.name)),
            _ => None,
        })
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let domain = ctx.state.id(&self.domain)?;
        let settings = user_settings(ctx, &self.role, &self.sg)?;
        // A role created seconds ago may not yet be assumable by SageMaker.
        retry_while(IAM_PROPAGATION_BOUND, is_iam_propagation, || async {
            ctx.aws
                .sagemaker
                .create_user_profile()
                .domain_id(&domain)
                .user_profile_name(&self.name)
                .user_settings(settings.clone())
                .set_tags(Some(sm_tags(ctx, me, &[])))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        Ok(format!("{domain}/{}", self.name))
    }

    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let (domain, name) = split_user(id)?;
        // Not found right after CreateUserProfile is pending (terraform-provider-aws
        // WaitUserProfileInService treats the not-found of its finder as pending).
        let unseen = Unseen::new(CONSISTENCY_BOUND);
        until("user profile InService", Poll::expect(create_s(PROFILE), 15 * 60), || async {
            // From the shared listing; a state it lists other than these is read again, with its reason.
            match domain_profiles(ctx, domain).await?.get(name) {
                None => return unseen.absent(format!("user profile {name} does not exist")),
                Some(UserProfileStatus::InService) => return Ok(Some(())),
                Some(UserProfileStatus::Pending | UserProfileStatus::Updating) => return Ok(None),
                Some(_) => {}
            }
            let r = ctx.aws.sagemaker.describe_user_profile().domain_id(domain).user_profile_name(name).send().await;
            let u = match r.map_err(aws) {
                Err(e) if is_not_found(&e) => return unseen.absent(format!("user profile {name} does not exist")),
                r => r?,
            };
            match u.status() {
                Some(UserProfileStatus::InService) => Ok(Some(())),
                Some(
                    s @ (UserProfileStatus::Failed | UserProfileStatus::Deleting | UserProfileStatus::DeleteFailed),
                ) => {
                    bail!("user profile {name} is {}: {}", s.as_str(), u.failure_reason().unwrap_or("no reason given"))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        let (domain, name) = split_user(id)?;
        let r = ctx.aws.sagemaker.describe_user_profile().domain_id(domain).user_profile_name(name).send().await;
        match r.map_err(aws) {
            Err(e) if is_not_found(&e) => Ok(Health::Missing),
            Err(e) => Err(e),
            Ok(u) => Ok(match u.status() {
                Some(UserProfileStatus::Deleting) => Health::Missing,
                Some(UserProfileStatus::Failed | UserProfileStatus::DeleteFailed) => {
                    Health::Failed(u.failure_reason().unwrap_or("failed").to_string())
                }
                _ => Health::Present,
            }),
        }
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        delete_profile(ctx, id).await
    }
}

/// Deletes the user profile `{domain}/{profile}` and waits until it is gone.
/// DeleteUserProfile is refused (ResourceInUse) while the profile still has
/// apps or owns spaces being deleted (SageMaker API reference,
/// DeleteUserProfile): retried within the drain bound.
pub(super) async fn delete_profile(ctx: &Ctx, id: &str) -> Result<()> {
    let (domain, name) = split_user(id)?;
    let sm = &ctx.aws.sagemaker;
    let r = retry_while(
        DRAIN_BOUND,
        |e| has_code(e, &["ResourceInUse"]),
        || async { sm.delete_user_profile().domain_id(domain).user_profile_name(name).send().await.map_err(aws) },
    )
    .await;
    if !accepted(r)? {
        return Ok(());
    }
    until("user profile deleted", Poll::expect(delete_s(PROFILE), 15 * 60), || async {
        Ok((!domain_profiles(ctx, domain).await?.contains_key(name)).then_some(()))
    })
    .await
}
