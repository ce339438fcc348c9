//! The document a state holds: its schema, the stack it belongs to
//! (`Identity`), the parameters of the last `up` and a record per step;
//! the bytes it is stored as, and the upgrade of older schemas. The same
//! for every store.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::store::StateStore;
use crate::step_id::StepId;

/// 2: today's Studio (a space per user; Studio Classic apps recorded by
/// version 1 under `sm.classic_app`). Version 1 files are upgraded when
/// read (`upgrade`); the first write saves them as 2, the `.bak` keeps the 1.
pub const SCHEMA: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The create call is about to be (or was) sent; `token` identifies it.
    Creating,
    /// AWS returned the id; the resource may still be becoming ready.
    Created,
    /// Created and ready.
    Ready,
    /// A delete call was sent.
    Deleting,
    /// Kept on purpose by `down` (user data); `down --purge-efs` / `--delete-data` removes it.
    Retained,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Idempotency token sent with the create call (ClientToken, CreationToken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Other facts later steps or teardown need (ARNs, endpoint ids, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the last create call was about to be sent (ms since the epoch):
    /// a resumed run lets a call the killed run left in flight land before
    /// it looks for its resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_ms: Option<u64>,
    pub updated: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    pub schema: u32,
    pub stack: String,
    pub region: String,
    pub account: String,
    /// The parameters of the last `up` that finished: what the stack is
    /// (for `plan`, `outputs`, and day two's comparison).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The parameters of an `up` under way or stopped before it finished
    /// (empty otherwise): what a bare re-run goes on converging to. Moved to
    /// `params` when that `up` finishes, so the recorded parameters never
    /// claim a change AWS does not reflect yet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applying: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub steps: BTreeMap<String, Record>,
}

impl StateDoc {
    /// An empty stack for `who`.
    pub fn new(who: &Identity) -> StateDoc {
        StateDoc {
            schema: SCHEMA,
            stack: who.stack.to_string(),
            region: who.region.to_string(),
            account: who.account.to_string(),
            params: BTreeMap::new(),
            applying: BTreeMap::new(),
            steps: BTreeMap::new(),
        }
    }

    /// When the stack last changed (the latest record's `updated`, seconds
    /// since the epoch), for messages comparing two states.
    pub fn last_change(&self) -> u64 {
        self.steps.values().map(|r| r.updated).max().unwrap_or(0)
    }
}

/// What the run is about to act on: the state must belong to it.
pub struct Identity<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

/// Parses a stored document: schema version 1 (upgraded) or 2; anything
/// else is refused and left untouched.
pub(super) fn parse(store: &dyn StateStore, bytes: &[u8]) -> Result<StateDoc> {
    let what = store.what();
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| anyhow!("{what} is not valid JSON ({e}); it was left untouched. {}", store.restore_hint()))?;
    let version = v.get("schema").and_then(|s| s.as_u64());
    match version {
        Some(n) if n == SCHEMA as u64 || n == 1 => {}
        Some(n) => bail!(
            "{what} has schema version {n}; this provision understands versions 1 to {SCHEMA}. It was left untouched"
        ),
        None => bail!("{what} has no schema version: it is not a provision state. It was left untouched"),
    }
    let mut v = v;
    v["schema"] = SCHEMA.into();
    let mut doc: StateDoc = serde_json::from_value(v)
        .map_err(|e| anyhow!("{what} does not match schema {SCHEMA} ({e}); it was left untouched"))?;
    if version == Some(1) {
        upgrade(&mut doc);
    }
    Ok(doc)
}

/// The bytes a document is stored as (the same for every store).
pub fn to_bytes(doc: &StateDoc) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(doc)?)
}

/// Parses bytes read from elsewhere (a file given to `state push`) as a state.
pub fn parse_from(store: &dyn StateStore, bytes: &[u8]) -> Result<StateDoc> {
    parse(store, bytes)
}

/// Version 1 to 2: an app recorded for `sm.app[.user]` that is a Studio
/// Classic app (its id `{domain}/{profile}/JupyterServer/default`) moves to
/// `sm.classic_app[.user]`, where teardown deletes it and `up` never
/// creates one again; `sm.app` then means the JupyterLab app of the user's space.
pub fn upgrade(doc: &mut StateDoc) {
    let classic: Vec<String> = doc
        .steps
        .iter()
        .filter(|(k, r)| {
            StepId::recorded(k.as_str()).is_zone_of(&StepId::APP)
                && r.id.as_deref().is_some_and(|id| id.split('/').nth(2).is_some_and(|t| t == "JupyterServer"))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in classic {
        if let Some(r) = doc.steps.remove(&k) {
            let suffix = &k[StepId::APP.as_str().len()..];
            doc.steps.insert(format!("{}{suffix}", StepId::CLASSIC_APP), r);
        }
    }
    doc.schema = SCHEMA;
}

pub(super) fn check_identity(store: &dyn StateStore, doc: &StateDoc, who: &Identity) -> Result<()> {
    let mut diffs = Vec::new();
    if doc.stack != who.stack {
        diffs.push(format!("stack '{}' (this run: '{}')", doc.stack, who.stack));
    }
    if doc.region != who.region {
        diffs.push(format!("region '{}' (this run: '{}')", doc.region, who.region));
    }
    if doc.account != who.account {
        diffs.push(format!("account '{}' (this run: '{}')", doc.account, who.account));
    }
    if !diffs.is_empty() {
        bail!(
            "{} belongs to another stack: {}. It was left untouched; use --state to choose another state",
            store.what(),
            diffs.join(", ")
        );
    }
    Ok(())
}
