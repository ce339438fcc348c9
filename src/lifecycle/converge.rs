//! Day two (issue 29): what `up` does to a live stack when the parameters
//! changed, as `terraform apply` does. The recorded parameters' graph (the
//! stack as the last successful `up` left it) is compared with the new
//! parameters' graph, step by step:
//! - a step only the new graph has is created (the normal `up` path);
//! - a step both have whose properties differ (`Kind::properties`) is
//!   updated in place (`Kind::update`), or, when only a new resource could
//!   have the new value, the change is refused before anything is touched;
//! - a recorded step the new graph lacks (a removed user, zone, logging) is
//!   deleted, in the recorded graph's reverse order, after the resources
//!   spanning every zone have let go of its members (`Kind::drop_members`).
//!
//! Read-only here; `commands::up` runs it, `plan` shows it.

use std::collections::BTreeMap;

use crate::config::{RawParams, Settings};
use crate::graph::{self, Graph, Step};
use crate::kinds::{Ctx, PropChange};
use crate::state::Status;
use crate::step_id::StepId;

/// The settings the stack was last built with: the parameters the last
/// `up` that finished recorded, grown (`Settings::union`) by the users,
/// zones and logging of an `up` that stopped before it finished (what it
/// may have created). `None`: none recorded (a new stack, or a state of a
/// version that did not record them), or they no longer resolve.
pub fn recorded_settings(ctx: &Ctx) -> Option<Settings> {
    let doc = ctx.state.doc();
    let resolve = |p: BTreeMap<String, serde_json::Value>| {
        (!p.is_empty()).then(|| Settings::resolve(RawParams::from_recorded(p), true).ok()).flatten()
    };
    match (resolve(doc.params), resolve(doc.applying)) {
        (Some(done), Some(under_way)) => Some(done.union(&under_way)),
        (done, under_way) => done.or(under_way),
    }
}

/// The teardown graph `down`, `status` and `plan --destroy` walk: the
/// parameters' own, grown by the recorded ones' users, zones and logging
/// (`Settings::union`), so that a day-two `up` that stopped half-way leaves
/// nothing `down` cannot see.
pub fn teardown_graph(ctx: &Ctx) -> Graph {
    match recorded_settings(ctx) {
        Some(old) => graph::build_teardown(&ctx.s.union(&old)),
        None => graph::build_teardown(&ctx.s),
    }
}

/// What a change of the parameters does to the live stack.
#[derive(Debug, Default)]
pub struct Changes {
    /// Steps of both graphs, recorded, whose properties changed: what `up`
    /// changes in place (or what applies at the runtime's next start).
    pub updates: BTreeMap<StepId, Vec<PropChange>>,
    /// Recorded steps the new parameters no longer include, with their kinds
    /// (from the recorded parameters' teardown graph), in teardown order.
    pub removed: Vec<Step>,
    /// Why `up` cannot make the change (a replacement, a shrink, a step
    /// nothing knows): each names the parameter, the values and the way there.
    pub refused: Vec<String>,
    /// The first user's steps carry the spec's ids (`sm.user`, `sm.space`,
    /// `sm.app`), and so do the first zone's (`subnet.nat`, `nat`, ...).
    /// When the recorded first user or zone left, these ids are vacated:
    /// their recorded steps are removed (`removed`) whatever the new graph
    /// holds under the same ids ...
    pub vacated: Vec<StepId>,
    /// ... and the new first user's (zone's) recorded steps, if the stack has them,
    /// move there: (recorded id, new id). `day_two::promote` moves them
    /// (records and `provision:step` tags) after the removal.
    pub moved: Vec<(StepId, StepId)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.removed.is_empty() && self.refused.is_empty() && self.moved.is_empty()
    }

    /// Where the new graph's step `new` is recorded now: its own id, the
    /// id it moves from, or `None` when its id is vacated and nothing moves
    /// there (the new first user is a new user: created after the removal).
    pub fn recorded_key(&self, new: &StepId) -> Option<StepId> {
        match self.moved.iter().find(|(_, to)| to == new) {
            Some((from, _)) => Some(from.clone()),
            None if self.vacated.contains(new) => None,
            None => Some(new.clone()),
        }
    }

    /// The recorded ids of the removed steps (what spanning resources must let go).
    pub fn removed_ids(&self, ctx: &Ctx) -> Vec<String> {
        self.removed.iter().filter_map(|s| ctx.state.record(&s.id).and_then(|r| r.id)).collect()
    }

    /// The removed steps as a graph of their own (their needs among them,
    /// through the removed graph's steps that are not removed), for
    /// teardown's engine.
    pub fn removal_graph(&self, old: &Graph) -> Graph {
        old.part(|id| self.removed.iter().any(|s| &s.id == id))
    }
}

/// Compares the recorded stack (`old`: its settings, `None` without any)
/// with the new parameters' `graph`. Read-only: no AWS call.
pub fn compare(ctx: &Ctx, old: Option<&Settings>, graph: &Graph) -> (Changes, Option<Graph>) {
    let mut out = Changes::default();
    let recorded = ctx.state.doc().steps;
    let old_graph = old.map(graph::build_teardown);
    if let Some(old_s) = old {
        for (vacated, moved) in [first_user_moves(old_s, &ctx.s), first_zone_moves(old_s, &ctx.s)] {
            out.vacated.extend(vacated);
            out.moved.extend(moved);
        }
        // Only what is still recorded under its old id moves (a resumed run may have moved it).
        out.moved.retain(|(from, _)| recorded.get(from.as_str()).is_some_and(|r| r.id.is_some()));
    }
    for step in &graph.steps {
        let (Some(old_s), Some(og)) = (old, &old_graph) else { break };
        let Some(key) = out.recorded_key(&step.id) else { continue };
        let Some(before) = og.get(&key) else { continue };
        let Some(id) = recorded.get(key.as_str()).and_then(|r| r.id.clone()) else { continue };
        let diff = crate::kinds::property::differences(
            &before.kind.properties(old_s, &step.id),
            &step.kind.properties(&ctx.s, &step.id),
        );
        if diff.is_empty() {
            continue;
        }
        let what = format!("the {} {id} ({})", step.kind_name(), step.id);
        let refusals: Vec<String> = diff.iter().filter_map(|c| c.refusal(&what)).collect();
        if refusals.is_empty() {
            out.updates.insert(step.id.clone(), diff);
        } else {
            out.refused.extend(refusals);
        }
    }
    let mut unknown = Vec::new();
    for (key, rec) in &recorded {
        let vacated = out.vacated.iter().any(|v| v.as_str() == key.as_str());
        if out.moved.iter().any(|(from, _)| from.as_str() == key.as_str())
            || (graph.contains(key) && !vacated)
            || graph::is_teardown_only(key)
        {
            continue;
        }
        if rec.id.is_none() && rec.token.is_none() && rec.status != Some(Status::Deleting) {
            continue;
        }
        match old_graph.as_ref().and_then(|g| g.get(&StepId::recorded(key.clone()))) {
            Some(step) => out.removed.push(step.clone()),
            None => unknown.push(key.clone()),
        }
    }
    if !unknown.is_empty() {
        out.refused.push(format!(
            "the state {} records {} that neither the parameters it recorded nor the new ones include ({}): `up` cannot tell what they are, so it removes nothing. Remove the whole stack with `provision down`, or give the parameters that include them",
            ctx.state.location(),
            if unknown.len() == 1 { "a step".to_string() } else { format!("{} steps", unknown.len()) },
            unknown.join(", ")
        ));
    }
    if let Some(og) = &old_graph {
        let order: BTreeMap<&StepId, usize> =
            og.teardown_order().into_iter().enumerate().map(|(pos, i)| (&og.steps[i].id, pos)).collect();
        out.removed.sort_by_key(|s| order.get(&s.id).copied().unwrap_or(usize::MAX));
    }
    (out, old_graph)
}

/// When the recorded first user (`old.users[0]`) is no longer among the
/// users, the spec's ids of the first user are vacated, and the new first
/// user's steps, if `old` has them (`{id}.{user}`), move there; a new first
/// user gets them by creation. Day two keeps the users' order otherwise
/// (`config::layer`), so the first user changes only when it leaves.
fn first_user_moves(old: &Settings, new: &Settings) -> (Vec<StepId>, Vec<(StepId, StepId)>) {
    let (Some(was), Some(now)) = (old.users.first(), new.users.first()) else { return Default::default() };
    if new.users.contains(was) {
        return Default::default();
    }
    let ids = [StepId::USER, StepId::SPACE, StepId::APP];
    let moved = match old.users.iter().position(|u| u == now) {
        Some(j) => ids.iter().map(|id| (id.for_user(j, now), id.clone())).collect(),
        None => Vec::new(),
    };
    (ids.to_vec(), moved)
}

/// As `first_user_moves`, for the first zone: when the recorded first zone
/// is no longer among the zones, its steps' ids (the spec's) are vacated,
/// and the new first zone's steps, if `old` has them, move there.
fn first_zone_moves(old: &Settings, new: &Settings) -> (Vec<StepId>, Vec<(StepId, StepId)>) {
    let (Some(was), Some(now)) = (old.zones.first(), new.zones.first()) else { return Default::default() };
    if new.zones.iter().any(|z| z.az == was.az) {
        return Default::default();
    }
    let first = StepId::zone_steps(0, &was.az);
    let moved = match old.zones.iter().position(|z| z.az == now.az) {
        Some(j) => StepId::zone_steps(j, &now.az).into_iter().zip(first.iter().cloned()).collect(),
        None => Vec::new(),
    };
    (first, moved)
}

/// The steps of `graph` that span every zone and hold some of `gone`
/// (recorded ids of removed members), with the ids they hold: what must let
/// go of a removed zone before its subnets and tables are deleted.
pub fn spanning(ctx: &Ctx, graph: &Graph) -> Vec<(Step, String)> {
    graph
        .steps
        .iter()
        .filter(|s| !s.kind.members().is_empty() || s.id == StepId::EFS_MOUNT_TARGET)
        .filter_map(|s| ctx.state.record(&s.id).and_then(|r| r.id).map(|id| (s.clone(), id)))
        .collect()
}
