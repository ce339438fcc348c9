//! `provision up`: create the stack, or resume where a failed or killed run
//! stopped; every recorded resource is checked, drift restored.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::day_two;
use super::run::{Ran, RunOptions, end_on_error, report, run_graph, stop_on_ctrl_c, summary};
use crate::error::{EXIT_INVALID, Exit};
use crate::graph;
use crate::kinds::Ctx;
use crate::lifecycle;
use crate::progress::say;
use crate::state::Status;
use crate::step_id::StepId;

/// Runs the pre-flight checks (`crate::preflight`) and says what they
/// found; problems stop `up` with exit 2 before any mutating call.
pub async fn preflight(ctx: &Arc<Ctx>, strict: bool, adopt: bool) -> Result<()> {
    let started = Instant::now();
    let report = crate::preflight::check(ctx, strict, adopt).await;
    // Which account, as whom and with which credentials, before anything changes.
    let credentials = ctx.credentials.as_deref().map(|c| format!(" (credentials: {c})")).unwrap_or_default();
    say(&format!(
        "pre-flight: account {} as {}{credentials}, region {}: {} in {:.1}s, {}, {}",
        ctx.account,
        ctx.caller,
        ctx.s.region,
        crate::progress::count(report.checks, "check"),
        started.elapsed().as_secs_f64(),
        crate::progress::count(report.problems.len(), "problem"),
        crate::progress::count(report.warnings.len(), "warning")
    ));
    for w in &report.warnings {
        say(&format!("  warning: {w}"));
    }
    if report.problems.is_empty() {
        return Ok(());
    }
    Err(Exit(
        EXIT_INVALID,
        format!(
            "pre-flight found {}; nothing was created:\n  - {}",
            crate::progress::count(report.problems.len(), "problem"),
            report.problems.join("\n  - ")
        ),
    )
    .into())
}

pub async fn up(ctx: Arc<Ctx>, opts: RunOptions, adopt: bool, yes: bool) -> Result<()> {
    let mut graph = graph::build(&ctx.s);
    // Day two: what changed since the last `up` (refused, removed, updated in place).
    let old = lifecycle::converge::recorded_settings(&ctx);
    let (changes, old_graph) = lifecycle::converge::compare(&ctx, old.as_ref(), &graph);
    day_two::refuse(&changes)?;
    for step in graph.steps.iter_mut() {
        if let Some(c) = changes.updates.get(&step.id) {
            step.changes = c.clone();
        }
    }
    let removal = day_two::prepare(&ctx, &changes, old.as_ref()).await?;
    day_two::confirm(&changes, &removal, yes).await?;
    if adopt {
        say(&format!(
            "provision up --adopt: every step {} does not record looks for the stack's resource (by its tags) before creating one",
            ctx.state.location()
        ));
    }
    // Creates an earlier run left in flight: once this run is done, any
    // second resource they made (a request that landed late) is removed.
    let interrupted: Vec<StepId> = graph
        .steps
        .iter()
        .filter(|s| ctx.state.record(&s.id).is_some_and(|r| r.token.is_some() && r.id.is_none()))
        .map(|s| s.id.clone())
        .collect();
    // These parameters are what this run converges to; they become the
    // stack's record (`params`) only when it has finished.
    let params = ctx.s.as_map();
    ctx.state.update(|d| d.applying = params.clone())?;
    let stop = stop_on_ctrl_c("up");
    let removed = match &old_graph {
        Some(og) => day_two::remove(&ctx, &changes, &removal, og, &opts, stop.clone()).await?,
        None => 0,
    };
    let removed = removed + day_two::promote(&ctx, &changes, old.as_ref(), &graph).await?;
    let total = graph.steps.len();
    let recorded =
        graph.steps.iter().filter(|s| ctx.state.record(&s.id).and_then(|r| r.status) == Some(Status::Ready)).count();
    say(&format!(
        "provision up: stack {} in {} (account {}), {recorded} of {total} steps recorded as ready (checking them), state {}",
        ctx.stack(),
        ctx.s.region,
        ctx.account,
        ctx.state.location()
    ));
    let started = Instant::now();
    let edges = graph.edges();
    let Ran { out, changed, progress } = run_graph(&ctx, &graph, &edges, &opts, stop, true).await;
    end_on_error(&progress, report(&graph, out, started, "up", total))?;
    if let Err(e) = lifecycle::revive_kept(&ctx, &graph) {
        return end_on_error(&progress, Err(e));
    }
    let duplicates = match lifecycle::remove_duplicates(&ctx, &graph, &interrupted).await {
        Ok(r) => r,
        Err(e) => return end_on_error(&progress, Err(e)),
    };
    for r in &duplicates {
        say(&r.to_string());
    }
    if let Err(e) = ctx.state.update(|d| d.params = std::mem::take(&mut d.applying)) {
        return end_on_error(&progress, Err(e));
    }
    let changed = changed + duplicates.len() + removed;
    let headline = if changed == 0 {
        format!(
            "Stack {} is up to date: all {total} resources exist as recorded ({}). Nothing to do.",
            ctx.stack(),
            ctx.state.location()
        )
    } else {
        format!(
            "Stack {} is up ({changed} of {total} steps changed, {:.1}s). `provision outputs` shows its ids.",
            ctx.stack(),
            started.elapsed().as_secs_f64()
        )
    };
    let domain = ctx.state.record(&StepId::DOMAIN).and_then(|r| r.id).unwrap_or_default();
    let facts = [
        ("domain", format!("{domain} (SageMakerStudioDomainId)")),
        ("open Studio", "provision studio-url".to_string()),
        ("every id", "provision outputs".to_string()),
        ("check", "provision status; provision verify".to_string()),
        ("remove", "provision down".to_string()),
    ];
    summary(&progress, changed, &headline, started, &facts, ctx.aws.pacer.stats());
    Ok(())
}
