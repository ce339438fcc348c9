//! The run context every step of a run shares (`Ctx`): the AWS clients,
//! the settings, the state, the account, how far `down` goes and what it
//! decided, and two read caches with opposite rules — `Reads`, one read per
//! resource while a read-only pass runs, and `Polls`, the waits' shared
//! listings at most a moment old during `up` and `down`. Also the stack's
//! tag vocabulary (`provision:stack`, `provision:step`) every kind proves
//! ownership with. It names no kind.

use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::aws::Clients;
use crate::config::Settings;
use crate::state::State;
use crate::step_id::StepId;

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
    /// Which source of the SDK's chain gave the credentials (`profile dev`,
    /// `the environment (AWS_ACCESS_KEY_ID)`, ...: `aws::credential_source`), for messages.
    pub credentials: Option<String>,
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
