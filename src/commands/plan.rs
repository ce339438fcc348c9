//! `provision plan [--destroy]`: what `up` (or `down`) would do, step by
//! step. Read-only, as `status` is: a test proves it with the emulator's
//! call log. The line format both print is here.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::graph::{self, Step};
use crate::kinds::{Ctx, Health};
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
}

pub(super) fn line(step: &Step, action: &str, id: Option<String>, detail: String) -> Line {
    Line { step: step.id.to_string(), action: action.into(), id: id.unwrap_or_default(), detail }
}

/// What `up` would do for each step: create, exists, adopt, recreate, replace, wait.
/// The steps are read concurrently (their reads cached: `Reads`) and
/// listed in the graph's order.
async fn plan_up(ctx: &Arc<Ctx>) -> Vec<Line> {
    let graph = graph::build(&ctx.s);
    let mut set = tokio::task::JoinSet::new();
    for (i, step) in graph.steps.iter().enumerate() {
        let (ctx, step) = (ctx.clone(), step.clone());
        set.spawn(async move { (i, step_plan(&ctx, &step).await) });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, l)| l).collect()
}

async fn step_plan(ctx: &Ctx, step: &Step) -> Line {
    let rec = ctx.state.record(&step.id);
    match rec {
        None => line(step, "create", None, String::new()),
        Some(r) => match (r.status, r.id.clone()) {
            (Some(Status::Ready | Status::Retained), Some(id)) => match step.kind.health(ctx, &step.id, &id).await {
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
    let graph = graph::build_teardown(&ctx.s);
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
    let graph = if destroy { graph::build_teardown(&ctx.s) } else { graph::build(&ctx.s) };
    super::run::refuse_dropped_parts(&ctx, &graph)?;
    // Pre-flight and the plan share one read of each kind (`Reads`).
    let _pass = ctx.reads.pass();
    // The pre-flight result first (on stderr, so `--json` stays one document);
    // its problems make `plan` exit 2 as they would stop `up`, after the plan.
    let preflight = if destroy { Ok(()) } else { super::up::preflight(&ctx, strict, false).await };
    let lines = if destroy { plan_down(&ctx, &keep_plan(&ctx, &graph).await?).await } else { plan_up(&ctx).await };
    print_lines(&lines, json)?;
    if !json {
        let verb = if destroy { "down" } else { "up" };
        if lines.iter().all(|l| l.action == "exists") && !destroy {
            println!("Plan: nothing to do; every resource exists as recorded.");
        } else if lines.is_empty() {
            println!("Plan ({verb}): nothing recorded, nothing to remove.");
        } else {
            println!("Plan ({verb}): {}.", summary(&lines));
        }
        if !destroy {
            println!("{}", super::cost::plan_line(&ctx).await);
        }
    }
    preflight
}
