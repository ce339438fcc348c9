//! What Studio's users make inside the stack's domain on their own
//! (teardown only, never recorded): the apps they run (`sm.user_made.apps`)
//! and the spaces they make, private or shared, with the user profiles an
//! admin adds by hand (`sm.user_made.spaces`). Id: the domain id.
//!
//! They block teardown that knows only its own records: DeleteSpace is
//! refused while an app runs in the space, DeleteUserProfile while the
//! profile owns a space, DeleteDomain while any space or profile exists
//! (SageMaker API reference: DeleteSpace, DeleteUserProfile, DeleteDomain,
//! ResourceInUse; aws-nuke #1004/#1216, terraform-provider-aws #20986). So
//! their apps go first, before the stack's spaces; their spaces and
//! profiles before the stack's profiles and the domain.
//!
//! Anything inside the domain counts as the stack's because the domain is:
//! nothing is deleted unless the domain's tags prove it this stack's
//! (`domain_is_ours`), and nothing outside the domain is looked at. Plain
//! `down` stops (deletes) the apps, which cost by the hour, and keeps the
//! spaces and profiles, which hold the users' files; `--purge-efs` deletes
//! them too.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, bail};
use async_trait::async_trait;
use aws_sdk_sagemaker::types::AppStatus;

use super::app::{APP_NAME, APP_TYPE, delete_app};
use super::space::delete_space;
use super::user_profile::delete_profile;
use super::{Ctx, Health, Kind, TAG_STACK, storage_kept};
use crate::config::Settings;
use crate::error::aws;
use crate::step_id::StepId;

impl StepId {
    pub const USER_MADE_APPS: StepId = StepId::of("sm.user_made.apps");
    pub const USER_MADE_SPACES: StepId = StepId::of("sm.user_made.spaces");
}

/// One thing inside the domain: its id (as the stack's steps record such
/// things: `{domain}/{space}`, `{domain}/{profile}`,
/// `{domain}/{owner}/{type}/{name}`), whether the stack made it, and a
/// description (kind, owner, state, size) for people.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub by_stack: bool,
    pub what: String,
    /// Whose it is: an app's space (or user profile), a space's owner
    /// profile, a profile's own name.
    pub owner: Option<String>,
}

/// What the domain holds now, in its listings' order.
#[derive(Debug, Default)]
pub struct Contents {
    /// Apps not yet Deleted (the latest of each name).
    pub apps: Vec<Item>,
    pub spaces: Vec<Item>,
    pub profiles: Vec<Item>,
}

impl Contents {
    pub fn user_made(items: &[Item]) -> Vec<&Item> {
        items.iter().filter(|i| !i.by_stack).collect()
    }
}

/// Every app, space and user profile of `domain` (ListApps, ListSpaces,
/// ListUserProfiles, paginated), each marked as the stack's when the
/// stack's parameters name it (a user's profile, their `{user}-space`, the
/// JupyterLab app `default` in it, and the Studio Classic app an earlier
/// version recorded for the profile).
pub async fn contents(ctx: &Ctx, domain: &str) -> Result<Contents> {
    let sm = &ctx.aws.sagemaker;
    let users = &ctx.s.users;
    let mut out = Contents::default();

    let mut latest: HashMap<String, (f64, Item, AppStatus)> = HashMap::new();
    let mut order = Vec::new();
    let mut pages = sm.list_apps().domain_id_equals(domain).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for a in page.map_err(aws)?.apps() {
            let (Some(status), Some(t), Some(name)) = (a.status(), a.app_type(), a.app_name()) else { continue };
            let (owner, of) = match (a.space_name(), a.user_profile_name()) {
                (Some(s), _) => (s, "space"),
                (None, Some(p)) => (p, "user profile"),
                (None, None) => continue,
            };
            let id = format!("{domain}/{owner}/{}/{name}", t.as_str());
            let by_stack = name == APP_NAME
                && users.iter().any(|u| {
                    (*t == APP_TYPE && owner == Settings::space_name(u))
                        || (t.as_str() == "JupyterServer" && owner == u.as_str())
                });
            let what = format!("{} app {name} of {of} {owner}, {}", t.as_str(), status.as_str());
            let created = a.creation_time().map(|c| c.as_secs_f64()).unwrap_or_default();
            if latest.get(&id).is_none_or(|(c, _, _)| created >= *c) {
                if !latest.contains_key(&id) {
                    order.push(id.clone());
                }
                latest.insert(
                    id.clone(),
                    (created, Item { id, by_stack, what, owner: Some(owner.to_string()) }, status.clone()),
                );
            }
        }
    }
    out.apps = order
        .into_iter()
        .filter_map(|id| latest.remove(&id))
        .filter(|(_, _, st)| *st != AppStatus::Deleted)
        .map(|(_, item, _)| item)
        .collect();

    let mut pages = sm.list_spaces().domain_id_equals(domain).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for s in page.map_err(aws)?.spaces() {
            let Some(name) = s.space_name() else { continue };
            let owner = s.ownership_settings_summary().and_then(|o| o.owner_user_profile_name());
            let sharing = s.space_sharing_settings_summary().and_then(|x| x.sharing_type()).map(|t| t.as_str());
            let settings = s.space_settings_summary();
            let app_type = settings.and_then(|x| x.app_type()).map(|t| t.as_str()).unwrap_or("no app type");
            let gib = settings
                .and_then(|x| x.space_storage_settings())
                .and_then(|x| x.ebs_storage_settings())
                .and_then(|e| e.ebs_volume_size_in_gb());
            let by_stack = users.iter().any(|u| name == Settings::space_name(u) && owner == Some(u.as_str()));
            let what = format!(
                "{} {app_type} space {name}, {}, {}{}",
                sharing.unwrap_or("unshared"),
                owner.map(|o| format!("owner {o}")).unwrap_or_else(|| "no owner".into()),
                gib.map(|g| format!("{g} GiB volume, ")).unwrap_or_default(),
                s.status().map(|x| x.as_str()).unwrap_or("unknown"),
            );
            out.spaces.push(Item { id: format!("{domain}/{name}"), by_stack, what, owner: owner.map(str::to_string) });
        }
    }

    let mut pages = sm.list_user_profiles().domain_id_equals(domain).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for u in page.map_err(aws)?.user_profiles() {
            let Some(name) = u.user_profile_name() else { continue };
            let by_stack = users.iter().any(|x| x == name);
            let what = format!("user profile {name}, {}", u.status().map(|x| x.as_str()).unwrap_or("unknown"));
            out.profiles.push(Item { id: format!("{domain}/{name}"), by_stack, what, owner: Some(name.to_string()) });
        }
    }
    Ok(out)
}

/// Whether the domain's tags prove it this stack's (DescribeDomain's ARN,
/// then ListTags): only then does what its users made count as the stack's.
pub async fn domain_is_ours(ctx: &Ctx, domain: &str) -> Result<bool> {
    let d = super::domain::described(ctx, domain).await?;
    let Some(arn) = d.domain_arn() else { return Ok(false) };
    let tags = ctx.aws.sagemaker.list_tags().resource_arn(arn).send().await.map_err(aws)?;
    Ok(tags.tags().iter().any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(ctx.stack())))
}

/// The recorded domain's id and contents; `None` without a recorded domain
/// (nothing inside it can be seen) or once it is gone.
/// Listed once per read-only pass (`Reads::read`), however many steps ask.
async fn recorded_contents(ctx: &Ctx, domain: &StepId) -> Result<Option<(String, Arc<Contents>)>> {
    let Some(id) = ctx.state.record(domain).and_then(|r| r.id) else { return Ok(None) };
    match ctx.reads.read(&format!("sagemaker:ListApps+ListSpaces+ListUserProfiles {id}"), || contents(ctx, &id)).await {
        Err(e) if crate::error::is_not_found(&e) => Ok(None),
        r => Ok(Some((id, r?))),
    }
}

/// Refuses to act inside a domain its tags do not prove this stack's.
async fn require_ours(ctx: &Ctx, domain: &str, items: &[&Item]) -> Result<()> {
    if !domain_is_ours(ctx, domain).await? {
        bail!(
            "domain {domain} does not carry this stack's {TAG_STACK} tag, so what its users made is not provably the stack's: {}",
            items.iter().map(|i| i.what.as_str()).collect::<Vec<_>>().join("; ")
        );
    }
    Ok(())
}

/// `create` of what Studio's users make: `up`'s graph never holds these kinds.
fn made_by_users(me: &StepId) -> Result<String> {
    bail!("{me}: made by Studio's users, not by provision")
}

/// The apps Studio's users run in the stack's domain besides the stack's own.
#[derive(Debug)]
pub struct UserMadeApps {
    pub domain: StepId,
    /// What they block: the stack's spaces and profiles, the users' spaces, the domain.
    pub before: Vec<StepId>,
}

#[async_trait]
impl Kind for UserMadeApps {
    fn name(&self) -> &'static str {
        "SageMaker app made in Studio"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("sm.app")
    }

    fn discovered(&self) -> bool {
        true
    }

    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (Vec::new(), self.before.clone())
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        Ok(recorded_contents(ctx, &self.domain)
            .await?
            .and_then(|(d, c)| (!Contents::user_made(&c.apps).is_empty()).then_some(d)))
    }

    async fn create(&self, _ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        made_by_users(me)
    }

    async fn health(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<Health> {
        Ok(Health::found(self.find(ctx, me).await?.as_deref(), id))
    }

    async fn contents(&self, ctx: &Ctx, _me: &StepId) -> Result<Vec<(String, String)>> {
        let Some((_, c)) = recorded_contents(ctx, &self.domain).await? else { return Ok(Vec::new()) };
        Ok(Contents::user_made(&c.apps)
            .into_iter()
            .map(|i| (i.id.clone(), format!("made in Studio: {}", i.what)))
            .collect())
    }

    /// Stops every app not the stack's, at once, and waits until each is
    /// Deleted (SageMaker API reference, DeleteApp: "Used to stop and delete
    /// an app"); the space and its volume stay.
    async fn delete(&self, ctx: &Ctx, domain: &str) -> Result<()> {
        let c = contents(ctx, domain).await?;
        let apps = Contents::user_made(&c.apps);
        if apps.is_empty() {
            return Ok(());
        }
        require_ours(ctx, domain, &apps).await?;
        crate::wait::all(apps.iter().map(|a| delete_app(ctx, &a.id))).await.map(|_| ())
    }
}

/// The spaces Studio's users made in the stack's domain, and the user
/// profiles an admin added by hand: their volumes hold users' files.
#[derive(Debug)]
pub struct UserMadeSpaces {
    pub domain: StepId,
    /// What they block: the stack's user profiles (a space's owner), the domain.
    pub before: Vec<StepId>,
}

#[async_trait]
impl Kind for UserMadeSpaces {
    fn name(&self) -> &'static str {
        "SageMaker space or user profile made in Studio"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("sm.space")
    }

    fn discovered(&self) -> bool {
        true
    }

    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (vec![StepId::USER_MADE_APPS], self.before.clone())
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        Ok(recorded_contents(ctx, &self.domain).await?.and_then(|(d, c)| {
            let any = !Contents::user_made(&c.spaces).is_empty() || !Contents::user_made(&c.profiles).is_empty();
            any.then_some(d)
        }))
    }

    async fn create(&self, _ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        made_by_users(me)
    }

    async fn health(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<Health> {
        Ok(Health::found(self.find(ctx, me).await?.as_deref(), id))
    }

    async fn contents(&self, ctx: &Ctx, _me: &StepId) -> Result<Vec<(String, String)>> {
        let Some((_, c)) = recorded_contents(ctx, &self.domain).await? else { return Ok(Vec::new()) };
        let items = Contents::user_made(&c.spaces).into_iter().chain(Contents::user_made(&c.profiles));
        Ok(items.map(|i| (i.id.clone(), format!("made in Studio: {}", i.what))).collect())
    }

    async fn keep_reason(&self, ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(storage_kept(ctx, "spaces and profiles Studio's users made; the spaces' volumes hold their files"))
    }

    fn keeps(&self) -> Vec<StepId> {
        vec![self.domain.clone()]
    }

    /// The users' spaces, then the profiles no one made through the stack
    /// (a profile owning a space cannot be deleted before it).
    async fn delete(&self, ctx: &Ctx, domain: &str) -> Result<()> {
        let c = contents(ctx, domain).await?;
        let (spaces, profiles) = (Contents::user_made(&c.spaces), Contents::user_made(&c.profiles));
        if spaces.is_empty() && profiles.is_empty() {
            return Ok(());
        }
        let all: Vec<&Item> = spaces.iter().chain(profiles.iter()).copied().collect();
        require_ours(ctx, domain, &all).await?;
        crate::wait::all(spaces.iter().map(|s| delete_space(ctx, &s.id))).await?;
        crate::wait::all(profiles.iter().map(|p| delete_profile(ctx, &p.id))).await.map(|_| ())
    }
}
