//! Read-only views of a stack: `plan` (what `up` or `down` would do) and
//! `status` (the recorded resources against what exists now, with drift of
//! the properties that are cheap to read). Neither makes a mutating call: a
//! test proves it with the emulator's call log.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::cli::Exit;
use crate::graph::{self, Step};
use crate::kinds::{Ctx, Health};
use crate::lifecycle::{new_members, restorable_drift, teardown_decision};
use crate::state::Status;

#[derive(Debug, Serialize)]
pub struct Line {
    pub step: String,
    pub action: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

fn line(step: &Step, action: &str, id: Option<String>, detail: String) -> Line {
    Line { step: step.id.to_string(), action: action.into(), id: id.unwrap_or_default(), detail }
}

/// What `up` would do for each step: create, exists, adopt, recreate, replace, wait.
async fn plan_up(ctx: &Ctx) -> Vec<Line> {
    let graph = graph::build(&ctx.s);
    let mut out = Vec::new();
    for step in &graph.steps {
        let rec = ctx.state.record(&step.id);
        let l = match rec {
            None => line(step, "create", None, String::new()),
            Some(r) => match (r.status, r.id.clone()) {
                (Some(Status::Ready | Status::Retained), Some(id)) => {
                    match step.kind.health(ctx, &step.id, &id).await {
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
                        Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
                    }
                }
                (_, Some(id)) => line(step, "wait", Some(id), "created; not yet ready".into()),
                (_, None) => match step.kind.find(ctx, &step.id).await {
                    Ok(Some(id)) => line(step, "adopt", Some(id), "an interrupted create made it".into()),
                    Ok(None) => line(step, "create", None, "an interrupted create left nothing".into()),
                    Err(e) => line(step, "unknown", None, format!("{e:#}")),
                },
            },
        };
        out.push(l);
    }
    out
}

/// What `down` would do: delete, keep (with the reason), or nothing.
async fn plan_down(ctx: &Ctx) -> Vec<Line> {
    let graph = graph::build_teardown(&ctx.s);
    let mut out = Vec::new();
    for step in &graph.steps {
        match teardown_decision(ctx, step, false).await {
            Ok(None) => {}
            Ok(Some((id, None))) => out.push(line(step, "delete", Some(id), String::new())),
            Ok(Some((id, Some(why)))) => out.push(line(step, "keep", Some(id), why)),
            Err(e) => out.push(line(step, "unknown", None, format!("{e:#}"))),
        }
    }
    out
}

fn print_lines(lines: &[Line], json: bool) -> Result<()> {
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

fn summary(lines: &[Line]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in lines {
        match counts.iter_mut().find(|(a, _)| *a == l.action) {
            Some((_, n)) => *n += 1,
            None => counts.push((l.action.clone(), 1)),
        }
    }
    counts.iter().map(|(a, n)| format!("{n} {a}")).collect::<Vec<_>>().join(", ")
}

pub async fn plan(ctx: Arc<Ctx>, destroy: bool, json: bool) -> Result<()> {
    // What `up`/`down` would refuse, `plan` refuses the same way.
    let graph = if destroy { graph::build_teardown(&ctx.s) } else { graph::build(&ctx.s) };
    crate::cli::refuse_dropped_parts(&ctx, &graph)?;
    let lines = if destroy { plan_down(&ctx).await } else { plan_up(&ctx).await };
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
    }
    Ok(())
}

/// Every recorded resource: present, missing, changed (drift), retained.
pub async fn status(ctx: Arc<Ctx>, json: bool) -> Result<()> {
    let graph = graph::build_teardown(&ctx.s);
    let doc = ctx.state.doc();
    let mut lines = Vec::new();
    for step in &graph.steps {
        let Some(rec) = doc.steps.get(step.id.as_str()) else {
            continue;
        };
        let Some(id) = rec.id.clone() else {
            lines.push(line(step, "unknown", None, "create was interrupted; `provision up` resolves it".into()));
            continue;
        };
        let health = step.kind.health(&ctx, &step.id, &id).await;
        let l = match health {
            Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
            Ok(Health::Failed(why)) => line(step, "failed", Some(id), why),
            Ok(Health::Missing) => {
                // A route or association that points elsewhere is drift, not absence.
                match step.kind.drift(&ctx, &step.id, &id).await {
                    Ok(d) if !d.is_empty() => line(step, "changed", Some(id), d.join("; ")),
                    _ => line(step, "missing", Some(id), "deleted out of band?".into()),
                }
            }
            Ok(Health::Present) => match step.kind.drift(&ctx, &step.id, &id).await {
                Ok(d) if !d.is_empty() => line(step, "changed", Some(id), d.join("; ")),
                Ok(_) if rec.status == Some(Status::Retained) => {
                    line(step, "retained", Some(id), rec.note.clone().unwrap_or_default())
                }
                Ok(_) => line(step, "present", Some(id), String::new()),
                Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
            },
        };
        lines.push(l);
    }
    print_lines(&lines, json)?;
    let bad: Vec<&Line> = lines.iter().filter(|l| !matches!(l.action.as_str(), "present" | "retained")).collect();
    if !json {
        println!("Status: {}.", if lines.is_empty() { "nothing recorded".to_string() } else { summary(&lines) });
    }
    if !bad.is_empty() {
        return Err(Exit(
            crate::cli::EXIT_FAILED,
            format!(
                "{} of {} recorded resources differ from the record ({}); `provision up` restores them",
                bad.len(),
                lines.len(),
                bad.iter().map(|l| l.step.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
        .into());
    }
    Ok(())
}
