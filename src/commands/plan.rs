//! `provision plan [--destroy]`: what `up` (or `down`) would do, step by
//! step. Read-only, as `status` is: a test proves it with the emulator's
//! call log. The line format both print is here.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::graph::{self, Step};
use crate::kinds::{Change, Ctx, Health, PropChange};
use crate::lifecycle::converge;
use crate::lifecycle::{keep_plan, new_members, restorable_drift, teardown_decision};
use crate::state::Status;
use crate::step_id::StepId;

#[derive(Debug, Serialize)]
pub(super) struct Line {
    pub step: String,
    pub action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// A day-two change of the parameters on this step: each property, its
    /// parameter, old and new value, and when it applies (`now`, or at the
    /// runtime's `next start`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<serde_json::Value>,
}

pub(super) fn line(step: &Step, action: &str, id: Option<String>, detail: String) -> Line {
    Line { step: step.id.to_string(), action: action.into(), id: id.unwrap_or_default(), detail, changes: Vec::new() }
}

/// The symbol Terraform's plan gives an action: `+` create, `~` update in
/// place, `-` delete, `-/+` replace; blank for nothing to do.
fn symbol(action: &str) -> &'static str {
    match action {
        "create" | "recreate" => "+",
        "update" => "~",
        "delete" => "-",
        "replace" => "-/+",
        "unknown" => "?",
        _ => "",
    }
}

/// What `up` would do: the recorded steps the parameters no longer include
/// (`delete`, in teardown order), then each step of the graph: create,
/// exists, update, adopt, recreate, replace, wait. A change `up` would
/// refuse is refused here the same way. The steps are read concurrently
/// (their reads cached: `Reads`) and listed in the graph's order.
async fn plan_up(ctx: &Arc<Ctx>) -> Result<Vec<Line>> {
    let mut graph = graph::build(&ctx.s);
    let old = converge::recorded_settings(ctx);
    let (changes, _) = converge::compare(ctx, old.as_ref(), &graph);
    super::day_two::refuse(&changes)?;
    for step in graph.steps.iter_mut() {
        if let Some(c) = changes.updates.get(&step.id) {
            step.changes = c.clone();
        }
    }
    let mut out = Vec::new();
    for step in &changes.removed {
        let id = ctx.state.record(&step.id).and_then(|r| r.id);
        let data = match &id {
            Some(id) => step.kind.keep_reason(ctx, &step.id, id).await.ok().flatten(),
            None => None,
        };
        let detail = match data {
            Some(why) => format!(
                "no longer in the parameters; holds data: {}",
                why.split("; remove with").next().unwrap_or_default()
            ),
            None => "no longer in the parameters".into(),
        };
        out.push(line(step, "delete", id, detail));
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, step) in graph.steps.iter().enumerate() {
        let (ctx, step, key) = (ctx.clone(), step.clone(), changes.recorded_key(&step.id));
        set.spawn(async move {
            let mut l = match &key {
                Some(key) => step_plan(&ctx, &step, key).await,
                None => line(&step, "create", None, "the new first user's".into()),
            };
            if let Some(from) = key.filter(|k| *k != step.id) {
                let moved = format!("moves from {from}");
                l.detail = if l.detail.is_empty() { moved } else { format!("{moved}; {}", l.detail) };
            }
            (i, l)
        });
    }
    let mut lines = set.join_all().await;
    lines.sort_by_key(|(i, _)| *i);
    // A removed zone's subnet leaves the domain only while no app runs: `up`
    // stops the stack's running apps and starts them again (`day_two`).
    let zone_gone = changes.removed.iter().any(|s| s.id.is_zone_of(&StepId::SUBNET_SAGEMAKER));
    for (_, l) in lines.iter_mut() {
        if zone_gone
            && l.action == "exists"
            && l.detail.is_empty()
            && StepId::recorded(l.step.as_str()).is_zone_of(&StepId::APP)
        {
            l.action = "recreate".into();
            l.detail = "stopped so that the removed zone's subnet can leave the domain, then started again".into();
        }
    }
    out.extend(lines.into_iter().map(|(_, l)| l));
    Ok(out)
}

/// The line of a present resource whose properties a day-two change
/// changes: `update` (property: old → new), or `exists` when all of it
/// applies at the runtime's next start.
fn changed(step: &Step, id: String) -> Line {
    let later = |c: &PropChange| c.change == Change::NextStart;
    let detail = step
        .changes
        .iter()
        .map(|c| if later(c) { format!("{}, from its next start", c.shown()) } else { c.shown() })
        .collect::<Vec<_>>()
        .join("; ");
    let action = if step.changes.iter().all(later) { "exists" } else { "update" };
    let mut l = line(step, action, Some(id), detail);
    l.changes = step
        .changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "property": c.name, "parameter": c.param, "old": c.old, "new": c.new,
                "when": if later(c) { "next start" } else { "now" },
            })
        })
        .collect();
    l
}

/// The line of `step`, recorded under `key` (its own id, or the id its
/// record moves from: `Changes::recorded_key`).
async fn step_plan(ctx: &Ctx, step: &Step, key: &StepId) -> Line {
    let rec = ctx.state.record(key);
    match rec {
        None => line(step, "create", None, String::new()),
        Some(r) => match (r.status, r.id.clone()) {
            (Some(Status::Ready | Status::Retained), Some(id)) => match step.kind.health(ctx, &step.id, &id).await {
                Ok(Health::Present) if !step.changes.is_empty() => changed(step, id),
                Ok(Health::Present) => match restorable_drift(ctx, step, &id).await {
                    Ok(d) if d.is_empty() => match new_members(ctx, step) {
                        new if new.is_empty() => line(step, "exists", Some(id), String::new()),
                        new => line(step, "update", Some(id), format!("will span {}", new.join(", "))),
                    },
                    Ok(d) => line(step, "update", Some(id), d.join("; ")),
                    Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
                },
                Ok(Health::Missing) => {
                    line(step, "recreate", Some(id), "no longer exists (deleted out of band?)".into())
                }
                Ok(Health::Failed(why)) => line(step, "replace", Some(id), why),
                Ok(Health::Stopped(why)) => line(step, "exists", Some(id), why),
                Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
            },
            (_, Some(id)) => line(step, "wait", Some(id), "created; not yet ready".into()),
            (_, None) => match step.kind.find(ctx, &step.id).await {
                Ok(Some(id)) => line(step, "adopt", Some(id), "an interrupted create made it".into()),
                Ok(None) => line(step, "create", None, "an interrupted create left nothing".into()),
                Err(e) => line(step, "unknown", None, format!("{e:#}")),
            },
        },
    }
}

/// What `down` would do: delete, keep (with the reason), or nothing, as
/// `kept` decides (`lifecycle::keep_plan`). A step that stands for several
/// resources (what Studio's users made in the domain) has a line for each.
pub(super) async fn plan_down(ctx: &Ctx, kept: &BTreeMap<StepId, String>) -> Vec<Line> {
    let graph = crate::lifecycle::converge::teardown_graph(ctx);
    let mut out = Vec::new();
    for i in graph.teardown_order() {
        let step = &graph.steps[i];
        let (id, why) = match teardown_decision(ctx, step, false, kept).await {
            Ok(None) => continue,
            Ok(Some(d)) => d,
            Err(e) => {
                out.push(line(step, "unknown", None, format!("{e:#}")));
                continue;
            }
        };
        let action = if why.is_some() { "keep" } else { "delete" };
        match step.kind.contents(ctx, &step.id).await {
            Ok(items) if items.is_empty() => out.push(line(step, action, Some(id), why.unwrap_or_default())),
            Ok(items) => out.extend(items.into_iter().map(|(item, what)| {
                let detail = match &why {
                    Some(w) => format!("{what}; {w}"),
                    None => what,
                };
                line(step, action, Some(item), detail)
            })),
            Err(e) => out.push(line(step, "unknown", Some(id), format!("{e:#}"))),
        }
    }
    out
}

pub(super) fn print_lines(lines: &[Line], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(lines)?);
        return Ok(());
    }
    for l in lines {
        let detail = if l.detail.is_empty() { String::new() } else { format!("  ({})", l.detail) };
        println!("{:<9} {:<24} {}{detail}", l.action, l.step, l.id);
    }
    Ok(())
}

/// `plan`'s lines: Terraform's symbol first (`+`, `~`, `-`, `-/+`).
fn print_plan(lines: &[Line], json: bool) -> Result<()> {
    if json {
        return print_lines(lines, json);
    }
    for l in lines {
        let detail = if l.detail.is_empty() { String::new() } else { format!("  ({})", l.detail) };
        println!("{:<3} {:<9} {:<24} {}{detail}", symbol(&l.action), l.action, l.step, l.id);
    }
    Ok(())
}

/// Terraform's count: `Plan: N to add, M to change, K to destroy.` (a
/// replacement adds one and destroys one).
pub(super) fn counts(lines: &[Line]) -> String {
    let n = |actions: &[&str]| lines.iter().filter(|l| actions.contains(&l.action.as_str())).count();
    format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        n(&["create", "recreate", "replace"]),
        n(&["update"]),
        n(&["delete", "replace"])
    )
}

pub(super) fn summary(lines: &[Line]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in lines {
        match counts.iter_mut().find(|(a, _)| *a == l.action) {
            Some((_, n)) => *n += 1,
            None => counts.push((l.action.clone(), 1)),
        }
    }
    counts.iter().map(|(a, n)| format!("{n} {a}")).collect::<Vec<_>>().join(", ")
}

pub async fn plan(ctx: Arc<Ctx>, destroy: bool, strict: bool, json: bool) -> Result<()> {
    // What `up`/`down` would refuse, `plan` refuses the same way.
    let graph = converge::teardown_graph(&ctx);
    if destroy {
        super::run::refuse_dropped_parts(&ctx, &graph)?;
    }
    // Pre-flight and the plan share one read of each kind (`Reads`).
    let _pass = ctx.reads.pass();
    // The pre-flight result first (on stderr, so `--json` stays one document);
    // its problems make `plan` exit 2 as they would stop `up`, after the plan.
    let preflight = if destroy { Ok(()) } else { super::up::preflight(&ctx, strict, false).await };
    let lines = if destroy { plan_down(&ctx, &keep_plan(&ctx, &graph).await?).await } else { plan_up(&ctx).await? };
    print_plan(&lines, json)?;
    if !json {
        let verb = if destroy { "down" } else { "up" };
        if lines.iter().all(|l| l.action == "exists") && !destroy {
            println!("Plan: nothing to do; every resource exists as recorded.");
        } else if lines.is_empty() {
            println!("Plan ({verb}): nothing recorded, nothing to remove.");
        } else {
            println!("Plan ({verb}): {}.", summary(&lines));
            if !destroy {
                println!("{}", counts(&lines));
            }
        }
        if !destroy {
            println!("{}", super::cost::plan_line(&ctx).await);
        }
    }
    preflight
}
