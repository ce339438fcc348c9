//! `provision status`: every recorded resource against what exists now
//! (present, missing, changed, retained, stopped), with the drift of the properties
//! that are cheap to read, and what Studio's users made in the stack's domain
//! (user-made: legitimate, not a difference). Read-only.

use std::sync::Arc;

use anyhow::Result;

use super::plan::{Line, line, print_lines, summary};
use crate::error::{EXIT_FAILED, Exit};
use crate::graph;
use crate::kinds::{Ctx, Health};
use crate::lifecycle;
use crate::progress::tell;
use crate::state::Status;
use crate::step_id::StepId;

/// What `up` restores and what it cannot (fixed at creation) of a present resource.
async fn drift_and_lasting(ctx: &Ctx, step: &graph::Step, id: &str) -> Result<Vec<String>> {
    let mut d = step.kind.drift(ctx, &step.id, id).await?;
    d.extend(step.kind.lasting_drift(ctx, &step.id, id).await?);
    Ok(d)
}

/// Every recorded resource: present, missing, changed (drift), retained,
/// stopped (an app its user stopped: not a difference, exit 0).
pub async fn status(ctx: Arc<Ctx>, json: bool) -> Result<()> {
    // One listing per EC2 kind, one read per other resource (`Reads`); the
    // steps are checked concurrently, and reported in the graph's order.
    let _pass = ctx.reads.pass();
    let graph = crate::lifecycle::converge::teardown_graph(&ctx);
    let mut set = tokio::task::JoinSet::new();
    for (i, step) in graph.steps.iter().enumerate() {
        let (ctx, step) = (ctx.clone(), step.clone());
        set.spawn(async move { (i, step_line(&ctx, &step).await) });
    }
    let (mut found, others, made) = tokio::join!(set.join_all(), second_record(&ctx, &graph), user_made(&ctx, &graph));
    found.sort_by_key(|(i, _)| *i);
    let mut lines: Vec<Line> = found.into_iter().filter_map(|(_, l)| l).collect();
    lines.extend(others);
    lines.extend(made);
    if !ctx.state.doc().applying.is_empty() {
        crate::progress::say(
            "an `up` of changed parameters stopped before it finished: `provision up` goes on with it (`provision plan` shows what is left)",
        );
    }
    // The run-rate of what exists now (an app stopped costs nothing).
    let live: Vec<StepId> = lines
        .iter()
        .filter(|l| matches!(l.action.as_str(), "present" | "retained" | "changed"))
        .map(|l| StepId::recorded(l.step.as_str()))
        .collect();
    let retained: Vec<StepId> =
        lines.iter().filter(|l| l.action == "retained").map(|l| StepId::recorded(l.step.as_str())).collect();
    let rate =
        if json || live.is_empty() { None } else { Some(super::cost::run_rate_line(&ctx, &live, &retained).await) };
    report(&graph, &lines, json, rate)
}

/// One recorded step against what exists now (`None`: not recorded).
async fn step_line(ctx: &Ctx, step: &graph::Step) -> Option<Line> {
    let rec = ctx.state.record(&step.id)?;
    let Some(id) = rec.id.clone() else {
        return Some(line(step, "unknown", None, "create was interrupted; `provision up` resolves it".into()));
    };
    let health = step.kind.health(ctx, &step.id, &id).await;
    Some(match health {
        Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
        Ok(Health::Failed(why)) => line(step, "failed", Some(id), why),
        Ok(Health::Stopped(why)) => line(step, "stopped", Some(id), why),
        Ok(Health::Missing) => {
            // A route or association that points elsewhere is drift, not absence.
            match step.kind.drift(ctx, &step.id, &id).await {
                Ok(d) if !d.is_empty() => line(step, "changed", Some(id), d.join("; ")),
                _ => line(step, "missing", Some(id), "deleted out of band?".into()),
            }
        }
        Ok(Health::Present) => match drift_and_lasting(ctx, step, &id).await {
            Ok(d) if !d.is_empty() => line(step, "changed", Some(id), d.join("; ")),
            Ok(_) if rec.status == Some(Status::Retained) => {
                line(step, "retained", Some(id), rec.note.clone().unwrap_or_default())
            }
            Ok(_) => {
                let later = step.kind.pending(ctx, &step.id, &id).await.unwrap_or_default();
                line(step, "present", Some(id), later.join("; "))
            }
            Err(e) => line(step, "unknown", Some(id), format!("{e:#}")),
        },
    })
}

/// What exists inside the stack's domain that the stack did not make
/// (spaces, apps and profiles Studio's users made: `Kind::contents` of the
/// kinds AWS holds for the stack without a record), its own category.
async fn user_made(ctx: &Ctx, graph: &graph::Graph) -> Vec<Line> {
    let mut out = Vec::new();
    for step in graph.steps.iter().filter(|s| s.kind.discovered() && ctx.state.record(&s.id).is_none()) {
        match step.kind.contents(ctx, &step.id).await {
            Ok(items) => out.extend(items.into_iter().map(|(id, what)| line(step, "user-made", Some(id), what))),
            Err(e) => out.push(line(step, "unknown", None, format!("{e:#}"))),
        }
    }
    out
}

/// Prints the lines and the summary; exit 1 with the advice when any differs.
fn report(graph: &graph::Graph, lines: &[Line], json: bool, rate: Option<String>) -> Result<()> {
    print_lines(lines, json)?;
    let bad: Vec<&Line> = lines
        .iter()
        .filter(|l| !matches!(l.action.as_str(), "present" | "retained" | "stopped" | "user-made"))
        .collect();
    if !json {
        tell(&format!("Status: {}.", if lines.is_empty() { "nothing recorded".to_string() } else { summary(lines) }));
    }
    if let Some(rate) = rate {
        tell(&rate);
    }
    if !bad.is_empty() {
        // Most differences `up` puts back; some are another command's to change.
        let owner = |l: &&Line| {
            graph.get(&crate::step_id::StepId::recorded(l.step.as_str())).and_then(|s| s.kind.drift_owner())
        };
        let by_up: Vec<&str> = bad
            .iter()
            .filter(|l| owner(l).is_none() && !matches!(l.action.as_str(), "orphan" | "duplicate"))
            .map(|l| l.step.as_str())
            .collect();
        let mut advice = Vec::new();
        if !by_up.is_empty() {
            advice.push(format!(
                "`provision up` restores {}",
                if by_up.len() == bad.len() { "them".to_string() } else { by_up.join(", ") }
            ));
        }
        for l in bad.iter().filter(|l| owner(l).is_some()) {
            advice.push(format!("{}: {}", l.step, owner(l).unwrap_or_default()));
        }
        if bad.iter().any(|l| l.action == "orphan") {
            advice.push(
                "orphans carry this stack's tags but no record: `provision up --adopt` takes them over".to_string(),
            );
        }
        if bad.iter().any(|l| l.action == "duplicate") {
            advice.push(
                "duplicates carry this stack's tags beside the recorded resource: delete them (nothing uses them)"
                    .to_string(),
            );
        }
        return Err(Exit(
            EXIT_FAILED,
            format!(
                "{} of {} recorded resources differ from the record ({}); {}",
                bad.len(),
                lines.len(),
                bad.iter().map(|l| l.step.as_str()).collect::<Vec<_>>().join(", "),
                advice.join("; ")
            ),
        )
        .into());
    }
    Ok(())
}

/// The stack's second record against the first: resources AWS holds with
/// this stack's tags that the state does not record (orphans) or records
/// another one for (duplicates). Listed concurrently, one step per task.
async fn second_record(ctx: &Arc<Ctx>, graph: &graph::Graph) -> Vec<Line> {
    let mut set = tokio::task::JoinSet::new();
    for step in graph.steps.iter().filter(|s| !s.kind.discovered()) {
        let (ctx, step) = (ctx.clone(), step.clone());
        set.spawn(async move {
            let (orphans, dups) = tokio::join!(lifecycle::orphans(&ctx, &step), lifecycle::duplicates(&ctx, &step));
            let mut out = Vec::new();
            for id in orphans.unwrap_or_default() {
                out.push(line(&step, "orphan", Some(id), "tagged as this stack's, not recorded".into()));
            }
            match dups {
                Ok(d) => out.extend(d.into_iter().map(|id| {
                    line(&step, "duplicate", Some(id), "tagged as this step's beside the recorded one".into())
                })),
                Err(e) => out.push(line(&step, "unknown", None, format!("{e:#}"))),
            }
            (step.id.clone(), out)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            all.push(r);
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().flat_map(|(_, l)| l).collect()
}
