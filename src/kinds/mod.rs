//! One file per AWS resource kind, each implementing `Kind`.
//!
//! A kind's struct holds its parameters and typed references (`StepId`s) to
//! the steps it needs; `needs` lists them, and the graph's edges are built
//! from that list, so a dependency is written once. What a kind reads but
//! reaches through another need (the firewall's VPC, through its subnets)
//! is listed by `reads`; the graph checks that it is ordered anyway.
//!
//! Required verbs:
//! - `find`: the resource a crashed create may have made, by its
//!   `provision:stack`/`provision:step` tags or its unique name;
//! - `create`: the one create call; returns the id, which is recorded at
//!   once. Where the API takes a ClientToken it sends the token recorded
//!   with the intent, so a repeated create after a lost answer gets the
//!   same resource back;
//! - `health`: is a recorded resource still there, and not failed;
//! - `delete`: delete and wait until gone; "already gone" is success.
//!
//! Optional capabilities, with defaults: `settle` (idempotent follow-ups
//! and the wait until usable), `drift` (what `status` reports),
//! `lasting_drift` (what `status` reports and nothing can put back),
//! `restores_drift`/`restore` (what `up` puts back), `keep_reason` and
//! `keeps` (what `down` keeps, and what a kept resource keeps with it),
//! `members` (the zones' steps a resource spans), `teardown_order` and
//! `discovered` (what SageMaker or Studio's users make on their own),
//! `contents` (the several resources such a step stands for), `profile`
//! (its entry in the latency profile), `properties`/`update`/`drop_members`
//! (what a change of the parameters does to a live resource: `property`),
//! `learn` (what the steps after it read of it, which the lifecycle
//! records: no kind writes the state), `priced` (what AWS bills it for:
//! `crate::cost`).
//!
//! This module holds what every kind shares: `Health`, `NameUse` and small
//! helpers; the run context (`Ctx`, its read caches, the tag vocabulary)
//! is `crate::context`, re-exported here. It names no particular kind.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

use crate::config::Settings;
pub use crate::cost::{Flow, Per, Store, Usage, Use};
use crate::error::is_not_found;
use crate::step_id::StepId;

pub mod app;
pub mod classic_app;
pub mod domain;
pub mod ec2_tagged;
pub mod efs_file_system;
pub mod efs_mount_targets;
pub mod eip;
pub mod firewall;
pub mod firewall_logging;
pub mod firewall_policy;
pub mod flow_log;
pub mod flow_logs_role;
pub mod iam_policy;
pub mod iam_role;
pub mod igw_attachment;
pub mod internet_gateway;
pub mod kms_alias;
pub mod kms_key;
pub mod leftover_enis;
pub mod log_bucket;
pub mod log_group;
pub mod nat_gateway;
pub mod network_acl;
pub mod nfs_security_groups;
pub mod property;
pub mod route;
pub mod route_table;
pub mod route_table_association;
pub mod rule_group;
pub mod s3_bucket;
pub mod security_group;
pub mod space;
pub mod studio_made;
pub mod subnet;
pub mod user_profile;
pub mod vpc;
pub mod vpc_endpoint;

pub use property::{Change, PropChange, Property};

pub use crate::context::{
    Ctx, DownOptions, Polls, ReadPass, Reads, SHARED_FRESH, TAG_STACK, TAG_STEP, Teardown, ec2_filter, ec2_tag_pairs,
};

/// What a kind read of its resource for the lifecycle to record (`Kind::learn`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Learnt {
    /// Attributes of the step itself, recorded with its Ready status.
    pub attrs: Vec<(String, String)>,
    /// Resources AWS made for this one that other steps stand for (the
    /// domain's home EFS, mount targets and NFS groups): recorded as
    /// created, with their note, unless their step already holds an id.
    pub others: Vec<Revealed>,
}

/// A resource `learn` revealed for another step.
#[derive(Debug, Clone, PartialEq)]
pub struct Revealed {
    pub step: StepId,
    pub id: String,
    pub attrs: Vec<(String, String)>,
    pub note: String,
}

/// The ids of the resources of a cached listing (`Reads`) that their tags
/// prove are this stack's `me` (what `list_owned` answers).
pub fn owned_in<'a, T: 'a>(
    ctx: &Ctx,
    me: &StepId,
    all: impl IntoIterator<Item = &'a T>,
    tags: impl Fn(&'a T) -> &'a [aws_sdk_ec2::types::Tag],
    id: impl Fn(&'a T) -> Option<&'a str>,
) -> Vec<String> {
    all.into_iter()
        .filter(|x| ctx.tagged_as(me, ec2_tag_pairs(tags(x))))
        .filter_map(|x| id(x).map(str::to_string))
        .collect()
}

/// A recorded resource's health from a cached listing (`Reads`): present
/// when the listing holds its id.
pub fn health_in<'a, T: 'a>(
    all: impl IntoIterator<Item = &'a T>,
    id: impl Fn(&'a T) -> Option<&'a str>,
    recorded: &str,
) -> Health {
    Health::found(all.into_iter().filter_map(id).find(|i| *i == recorded), recorded)
}

/// Is a recorded resource still there?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Present,
    /// Gone (deleted out of band, or being deleted).
    Missing,
    /// Exists in a failed state: delete and create again.
    Failed(String),
    /// Runtime gone by its user's choice (an app stopped, or shut down
    /// when idle): reported, never recreated by `up`.
    Stopped(String),
}

impl Health {
    /// Present when the recorded id is the one found now.
    pub fn found(actual: Option<&str>, recorded: &str) -> Health {
        if actual == Some(recorded) { Health::Present } else { Health::Missing }
    }

    /// The answer of a describe call by id: not-found or an empty answer is
    /// Missing, anything else Present.
    pub fn of_describe<T>(r: Result<T>, exists: impl FnOnce(T) -> bool) -> Result<Health> {
        match r {
            Err(e) if is_not_found(&e) => Ok(Health::Missing),
            Err(e) => Err(e),
            Ok(v) => Ok(if exists(v) { Health::Present } else { Health::Missing }),
        }
    }
}

/// Who holds the unique name a kind would create (pre-flight, read-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameUse {
    Free,
    /// Held by a resource tagged as this stack's (its id).
    Ours(String),
    /// Held by a resource that is not provably this stack's.
    Foreign {
        /// The resource ("IAM role arn:...") and what its tags say of its owner.
        holder: String,
        /// The parameter that changes the name (`--domain-name`, `--project`).
        change: &'static str,
    },
}

impl NameUse {
    /// From a found resource's tags: ours, or held by whoever its
    /// `provision:stack` tag names (or nobody we know).
    pub fn of_tags<'a>(
        ctx: &Ctx,
        holder: String,
        change: &'static str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> NameUse {
        let stack = tags.into_iter().find(|(k, _)| *k == TAG_STACK).map(|(_, v)| v.to_string());
        match stack {
            Some(s) if s == ctx.stack() => NameUse::Ours(holder),
            Some(s) => NameUse::Foreign { holder: format!("{holder}, of provision stack '{s}'"), change },
            None => NameUse::Foreign { holder: format!("{holder}, without provision's tags"), change },
        }
    }
}

/// How long teardown keeps retrying DependencyViolation while ENIs and
/// attachments drain (they go away asynchronously; cloud-nuke #285,
/// terraform-provider-aws #26090). Real-world time, scaled.
pub const DRAIN_BOUND: Duration = Duration::from_secs(20 * 60);

pub fn is_dependency_violation(e: &anyhow::Error) -> bool {
    crate::error::has_code(e, &["DependencyViolation"])
}

/// One AWS resource kind. See the module documentation.
#[async_trait]
pub trait Kind: std::any::Any + Debug + Send + Sync {
    /// Human name, for messages ("creating NAT gateway").
    fn name(&self) -> &'static str;

    /// Its entry in the latency profile (`crate::latency`: how long AWS
    /// takes to make one usable, or gone): `graph::estimate` plans the run
    /// with it and the kind's own waits expect it. `None`: no entry (a unit
    /// test holds every step of the graph to name one).
    fn profile(&self) -> Option<&'static str> {
        None
    }

    /// The steps this one cannot be created before (the graph's edges).
    fn needs(&self) -> Vec<StepId> {
        Vec::new()
    }

    /// The needs (each also in `needs`) met once their resource exists, its
    /// id recorded, before it is usable: `up` starts this step while they
    /// settle (the firewall's logging while the firewall provisions).
    fn needs_existing(&self) -> Vec<StepId> {
        Vec::new()
    }

    /// Steps whose ids this kind reads but reaches through one of its needs
    /// (no edge of their own; the graph checks they are ordered).
    fn reads(&self) -> Vec<StepId> {
        Vec::new()
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>>;

    /// Every resource AWS holds for this step that its tags prove is this
    /// stack's, duplicates included (a create that landed after its client
    /// died). `None`: the kind has at most one by nature (a unique name, a
    /// route in a table), so `find` says it all.
    async fn list_owned(&self, _ctx: &Ctx, _me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, token: &str) -> Result<String>;

    async fn health(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<Health>;

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()>;

    /// What the resource tells the steps after it (read-only): the
    /// firewall's endpoint ids, the domain's ARN and home EFS and what
    /// SageMaker made for it. The lifecycle records it, after `settle`,
    /// `restore` or `update`, for a resource found by its tags
    /// (`lifecycle::second_record`), and (`Learnt::others` only) before a
    /// delete: no kind writes the state. A resource that is gone tells
    /// nothing (`Learnt::default()`).
    async fn learn(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Learnt> {
        Ok(Learnt::default())
    }

    /// Idempotent follow-up calls and the wait until usable.
    async fn settle(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<()> {
        Ok(())
    }

    /// Differences between the cheap-to-read properties and the stack's spec.
    async fn drift(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Differences no command can put back (a property fixed at creation):
    /// `status` reports them with what to do, `up` leaves them.
    async fn lasting_drift(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Its properties under the settings `s` (issue 29): what each is, the
    /// parameter that sets it, and whether AWS changes it in place or only a
    /// new resource can have it (`property`). Compared between the recorded
    /// parameters' graph and the new one by `lifecycle::converge`.
    fn properties(&self, _s: &Settings, _me: &StepId) -> Vec<Property> {
        Vec::new()
    }

    /// Makes `changes` (of `properties`, in place or growing) on the live
    /// resource. Default: `restore`, whose drift compares the live resource
    /// with the new settings.
    async fn update(&self, ctx: &Ctx, me: &StepId, id: &str, _changes: &[PropChange]) -> Result<()> {
        self.restore(ctx, me, id).await
    }

    /// Takes `gone` (the recorded ids of members the parameters no longer
    /// include: a removed zone's subnets or route tables) out of this
    /// spanning resource before they are deleted. Ok(false): it held none.
    async fn drop_members(&self, _ctx: &Ctx, _me: &StepId, _id: &str, _gone: &[String]) -> Result<bool> {
        Ok(false)
    }

    /// Tags the live resource as step `me` (its `provision:step` tag), when
    /// day two moves its record to another step id: the first user left,
    /// and the next one's steps take the spec's ids (`lifecycle::converge`).
    /// Default: the kind's records never move.
    async fn retag(&self, _ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        anyhow::bail!("the {} {id} cannot be recorded as {me}: its kind's records never move", self.name())
    }

    /// What a changed parameter will do to the live resource later (an
    /// app's new instance type, at its next start): `status` says it on the
    /// resource's line, which stays a present one. Read-only.
    async fn pending(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Whether `up` puts this kind's drift back (`restore`).
    fn restores_drift(&self) -> bool {
        false
    }

    /// Puts drift back (only called when `restores_drift`).
    async fn restore(&self, ctx: &Ctx, me: &StepId, id: &str) -> Result<()> {
        self.settle(ctx, me, id).await
    }

    /// For drift `up` does not restore: the command that changes it
    /// (`status` names it instead of `provision up`).
    fn drift_owner(&self) -> Option<&'static str> {
        None
    }

    /// Why `down` keeps this resource for its own sake, if it does (the
    /// users' storage, data).
    async fn keep_reason(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<Option<String>> {
        Ok(None)
    }

    /// The steps a kept resource of this kind needs kept with it, to stay
    /// readable and to exist: its key first of all, its parent, the network
    /// it lives in. `down` keeps them too, and what they keep in turn
    /// (`lifecycle::keep_plan`).
    fn keeps(&self) -> Vec<StepId> {
        Vec::new()
    }

    /// For a step that stands for several resources found in AWS (what
    /// Studio's users made in the stack's domain): each one's id and what it
    /// is, for `plan --destroy`, `status` and `down`'s question. Empty for
    /// the kinds whose step is one resource. Read-only.
    async fn contents(&self, _ctx: &Ctx, _me: &StepId) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }

    /// The zones' steps a resource spanning every zone must include.
    fn members(&self) -> &[StepId] {
        &[]
    }

    /// Teardown-only kinds: the steps this one is deleted after, and before.
    fn teardown_order(&self) -> (Vec<StepId>, Vec<StepId>) {
        (Vec::new(), Vec::new())
    }

    /// Pre-flight, before `up` creates anything: who holds the unique name
    /// this kind would create (read-only calls). Default: the kind has no
    /// name of its own (AWS assigns EC2 ids).
    async fn name_in_use(&self, _ctx: &Ctx, _me: &StepId) -> Result<NameUse> {
        Ok(NameUse::Free)
    }

    /// Made by AWS on its own (SageMaker's EFS and groups): `down` looks
    /// for it even when nothing was recorded, `up` never creates it.
    fn discovered(&self) -> bool {
        false
    }

    /// What AWS bills this resource for (`crate::cost`): each meter, how
    /// many, per what, on what usage. Empty: free (a VPC, a route).
    fn priced(&self, _s: &Settings) -> Vec<Use> {
        Vec::new()
    }
}

/// The recorded ids of `wanted` members that `actual` lacks: a zone added to
/// a live stack. A member not recorded yet is being created in this run.
pub fn missing_members(ctx: &Ctx, wanted: &[StepId], actual: &[String]) -> Vec<String> {
    wanted.iter().filter_map(|m| ctx.state.id(m).ok()).filter(|id| !actual.contains(id)).collect()
}

/// The drift line for missing members (empty when none).
pub fn members_drift(what: &str, missing: &[String]) -> Vec<String> {
    if missing.is_empty() { Vec::new() } else { vec![format!("not yet in the zones' {what}: {}", missing.join(", "))] }
}

/// Why `down` keeps a part of the users' Studio storage (`what`): plain
/// `down` keeps every byte of it; `--purge-efs` is the consent to delete it.
pub fn storage_kept(ctx: &Ctx, what: &str) -> Option<String> {
    (!ctx.down.purge_efs).then(|| format!("{what}; remove with `provision down --purge-efs`"))
}

/// Every id and attribute the state records (ARNs, resource ids, endpoint
/// ids) long enough to name a resource, and those it recorded when `down`
/// started (`Teardown::ids`): what proves a resource AWS made for one of
/// ours (a NAT gateway's or an endpoint's interface, SageMaker's) the stack's.
pub fn recorded_ids(ctx: &Ctx) -> Vec<String> {
    let doc = ctx.state.doc();
    let all = doc.steps.into_values().flat_map(|r| r.id.into_iter().chain(r.attrs.into_values()));
    let mut ids: Vec<String> = all.filter(|id| id.len() >= 8 && id.contains('-')).collect();
    if let Some(t) = ctx.teardown.get() {
        ids.extend(t.ids.iter().filter(|id| !ids.contains(id)).cloned().collect::<Vec<_>>());
    }
    ids
}

/// Delete `r`'s result where "not found" also counts as gone, plus `codes`.
pub fn gone_or(r: Result<impl Sized>, codes: &[&str]) -> Result<()> {
    match r {
        Err(e) if crate::error::has_code(&e, codes) => Ok(()),
        r => crate::error::gone_ok(r),
    }
}

/// The answer of a delete call: `Ok(false)` when the resource was already
/// gone (nothing left to wait for), `Ok(true)` when the call was accepted.
pub fn accepted(r: Result<impl Sized>) -> Result<bool> {
    match r {
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
        Ok(_) => Ok(true),
    }
}

/// The resource found by a unique name, if its tags prove it is this
/// stack's `step`; one of the same name that is not is an error (another
/// stack's, or another team's), never adopted.
pub fn adopt_if_ours<'a>(
    ctx: &Ctx,
    me: &StepId,
    what: &str,
    id: String,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Option<String>> {
    if ctx.tagged_as(me, tags) {
        Ok(Some(id))
    } else {
        anyhow::bail!(
            "a {what} named by this stack already exists ({id}) but is not tagged as this stack's {me}; refusing to adopt it"
        )
    }
}

/// `create` of a kind AWS makes on its own (`Kind::discovered`): never called
/// by `up`, whose graph does not hold such kinds.
pub fn made_by_aws(me: &StepId) -> Result<String> {
    anyhow::bail!("{me} is created by SageMaker, not by provision")
}

#[cfg(test)]
mod tests;
