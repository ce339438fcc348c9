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
//! `restores_drift`/`restore` (what `up` puts back), `keep_reason` (what
//! `down` keeps), `members` (the zones' steps a resource spans),
//! `teardown_order` and `discovered` (what SageMaker makes on its own).
//!
//! This module holds what every kind shares: the context, tags and tag
//! filters, `Health`, and small helpers. It names no particular kind.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;

use crate::aws::Clients;
use crate::config::Settings;
use crate::error::is_not_found;
use crate::state::State;
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
pub mod log_group;
pub mod nat_gateway;
pub mod nfs_security_groups;
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

pub const TAG_STACK: &str = "provision:stack";
pub const TAG_STEP: &str = "provision:step";

/// How far `down` goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    pub purge_efs: bool,
    pub delete_data: bool,
}

/// What every step of a run shares: clients, settings, the state, the account.
pub struct Ctx {
    pub aws: Clients,
    pub s: Arc<Settings>,
    pub state: State,
    pub account: String,
    /// `up --adopt`: every step the state does not record looks for its
    /// resource (by tags or unique name and tags) before creating one.
    pub adopt: bool,
    /// The caller's ARN (STS GetCallerIdentity), for messages.
    pub caller: String,
    pub down: DownOptions,
    /// The read-only commands' per-run read cache (`Reads`).
    pub reads: Reads,
    /// Waits' shared status reads (`Polls`).
    pub polls: Polls,
    /// What `down` decided before its first delete.
    pub teardown: std::sync::OnceLock<Teardown>,
}

/// What `down` decides before its first delete.
#[derive(Debug, Default, Clone)]
pub struct Teardown {
    /// What it keeps, and why (`lifecycle::keep_plan`).
    pub kept: std::collections::BTreeMap<StepId, String>,
    /// Every id the state recorded then (`recorded_ids`): what still proves
    /// a leftover ours once its owner is deleted and its record gone (an
    /// ENI SageMaker left, named after the domain).
    pub ids: Vec<String>,
}

type Snapshot = Option<(Instant, Arc<dyn Any + Send + Sync>)>;

/// How old a shared listing a wait takes may be (`Polls`): a wait's densest
/// interval (`Poll::expect`'s 2 s), real-world time, scaled where used.
pub const SHARED_FRESH: Duration = Duration::from_secs(2);

/// Status reads shared by the waits of many resources of one kind (issue
/// 18): a hundred users' apps polled one DescribeApp each, seven times per
/// app, made the calls of `up` grow by 17 per user. Here a wait asks for
/// one listing of them all (ListApps of the domain), and every wait that
/// asks within `fresh` of the moment the listing was started takes the
/// same answer; one listing runs at a time per key (the others wait for
/// it). Unlike `Reads`, it is on during `up` and `down`: a snapshot is at
/// most `fresh` older than the poll that takes it, which adds at most that
/// to the time a wait notices a change.
#[derive(Default)]
pub struct Polls {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Snapshot>>>>,
}

impl Polls {
    /// `load`'s answer for `key`, from a listing started at most `fresh` before this call (or a new one).
    pub async fn get<T, F, Fut>(&self, key: &str, fresh: Duration, load: F) -> Result<Arc<T>>
    where
        T: Any + Send + Sync,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let asked = Instant::now();
        let slot = self.slots.lock().expect("polls lock").entry(key.to_string()).or_default().clone();
        let mut snapshot = slot.lock().await;
        if let Some((started, v)) = snapshot.as_ref()
            && *started + fresh >= asked
            && let Ok(v) = v.clone().downcast::<T>()
        {
            return Ok(v);
        }
        let started = Instant::now();
        let v = Arc::new(load().await?);
        *snapshot = Some((started, v.clone()));
        Ok(v)
    }
}

type Cell = Arc<tokio::sync::OnceCell<Arc<dyn Any + Send + Sync>>>;

/// A per-run cache of reads, on only while a read-only pass runs (`status`,
/// `plan`, `verify`, pre-flight): there a kind's `find`, `list_owned`,
/// `health` and `drift` take what they need from one listing of every
/// resource of their kind in the region (one paginated describe per kind,
/// made once however many steps ask), or from one describe per resource
/// however many verbs ask. Outside such a pass (`up`'s and `down`'s steps,
/// which must see AWS change under them) `cached` answers `None` and the
/// kinds make their own targeted calls.
#[derive(Default)]
pub struct Reads {
    on: AtomicBool,
    cells: Mutex<HashMap<String, Cell>>,
}

impl Reads {
    /// Turns the cache on until the guard is dropped; `None` when it was on
    /// already (the outer pass keeps it, and its reads).
    pub fn pass(&self) -> Option<ReadPass<'_>> {
        (!self.on.swap(true, Ordering::SeqCst)).then(|| ReadPass(self))
    }

    /// `load`'s answer, read once per `key` while a pass runs (concurrent
    /// askers wait for the one read; a failed read is not kept); `None`
    /// outside a pass, without calling `load`.
    pub async fn cached<T, F, Fut>(&self, key: &str, load: F) -> Result<Option<Arc<T>>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if !self.on.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let cell = self.cells.lock().unwrap_or_else(|p| p.into_inner()).entry(key.to_string()).or_default().clone();
        let v = cell.get_or_try_init(|| async { Ok::<_, anyhow::Error>(Arc::new(load().await?) as _) }).await?;
        Ok(Some(v.clone().downcast::<T>().map_err(|_| anyhow::anyhow!("read cache: {key} holds another type"))?))
    }
}

impl Reads {
    /// `load`'s answer: read once per `key` during a pass (`cached`), on
    /// every call outside one. For a describe of one resource that several
    /// verbs of a kind read (`health`, then `drift`).
    pub async fn read<T, F, Fut>(&self, key: &str, load: F) -> Result<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut load = Some(load);
        if let Some(v) = self.cached(key, || (load.take().expect("called once"))()).await? {
            return Ok(v);
        }
        match load.take() {
            Some(load) => Ok(Arc::new(load().await?)),
            None => anyhow::bail!("read cache: {key} was read but not kept"),
        }
    }
}

impl Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads").field("on", &self.on.load(Ordering::SeqCst)).finish_non_exhaustive()
    }
}

/// A read-only pass: drops the cache and turns it off when it ends.
pub struct ReadPass<'a>(&'a Reads);

impl Drop for ReadPass<'_> {
    fn drop(&mut self) {
        self.0.on.store(false, Ordering::SeqCst);
        self.0.cells.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
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

impl Ctx {
    pub fn stack(&self) -> &str {
        self.s.stack()
    }

    /// `provision:stack`, `provision:step` and, when given, `Name`.
    pub fn tags(&self, step: &StepId, name: Option<&str>) -> Vec<(String, String)> {
        let mut t = vec![(TAG_STACK.to_string(), self.stack().to_string()), (TAG_STEP.to_string(), step.to_string())];
        if let Some(n) = name {
            t.push(("Name".to_string(), n.to_string()));
        }
        t
    }

    /// Whether a resource's tags prove it is this stack's `step`.
    pub fn tagged_as<'a>(&self, step: &StepId, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let (mut stack, mut is_step) = (false, false);
        for (k, v) in tags {
            stack |= k == TAG_STACK && v == self.stack();
            is_step |= k == TAG_STEP && v == step.as_str();
        }
        stack && is_step
    }

    /// The recorded ids of several steps (a resource spanning every zone).
    pub fn ids(&self, steps: &[StepId]) -> Result<Vec<String>> {
        steps.iter().map(|s| self.state.id(s)).collect()
    }

    /// EC2 tag specifications for a create call.
    pub fn ec2_tags(
        &self,
        rt: aws_sdk_ec2::types::ResourceType,
        step: &StepId,
        name: Option<&str>,
    ) -> aws_sdk_ec2::types::TagSpecification {
        let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(rt);
        for (k, v) in self.tags(step, name) {
            b = b.tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
        }
        b.build()
    }

    /// EC2 filters that find a resource by its stack and step tags.
    pub fn ec2_tag_filters(&self, step: &StepId) -> Vec<aws_sdk_ec2::types::Filter> {
        vec![
            ec2_filter(&format!("tag:{TAG_STACK}"), self.stack()),
            ec2_filter(&format!("tag:{TAG_STEP}"), step.as_str()),
        ]
    }
}

/// EC2 tags as (key, value) pairs, for `Ctx::tagged_as`.
pub fn ec2_tag_pairs(tags: &[aws_sdk_ec2::types::Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

pub fn ec2_filter(name: &str, value: impl Into<String>) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name(name).values(value).build()
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

    /// Records what `settle` would record of a resource found by its tags
    /// (read-only: the firewall's endpoint ids, the domain's ARN and EFS),
    /// so the steps after it can be found too (`lifecycle::rebuild`).
    async fn record_found(&self, _ctx: &Ctx, _me: &StepId, _id: &str) -> Result<()> {
        Ok(())
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
