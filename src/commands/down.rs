//! `provision down [--purge-efs] [--delete-data]`: remove the stack in
//! reverse dependency order; say what is kept and why.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::run::{Ran, RunOptions, end_on_error, refuse_dropped_parts, report, run_graph, stop_on_ctrl_c, summary};
use std::collections::BTreeMap;
use std::io::IsTerminal;

use crate::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, Exit};
use crate::graph;
use crate::kinds::{Ctx, s3_bucket};
use crate::lifecycle;
use crate::progress::say;
use crate::state::{self, Status};
use crate::step_id::StepId;

/// Says what `down` will delete and keep, and asks (as `terraform destroy`
/// does): on a terminal the answer must be `yes`; without one, `--yes` is
/// required. `--delete-data` asks again, naming the buckets and how many
/// objects each holds.
async fn confirm(ctx: &Ctx, graph: &graph::Graph, yes: bool) -> Result<()> {
    let lines = super::plan::plan_down(ctx).await;
    let mut delete: BTreeMap<&str, usize> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.action != "keep") {
        let kind = graph.get(&StepId::recorded(l.step.as_str())).map(|s| s.kind_name()).unwrap_or("resource");
        *delete.entry(kind).or_default() += 1;
    }
    let kept: Vec<String> =
        lines.iter().filter(|l| l.action == "keep").map(|l| format!("{} {} ({})", l.step, l.id, l.detail)).collect();
    if delete.is_empty() {
        return Ok(());
    }
    let total: usize = delete.values().sum();
    say(&format!(
        "provision down will delete {total} resources of stack {} in {} (account {}): {}",
        ctx.stack(),
        ctx.s.region,
        ctx.account,
        delete.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
    ));
    if kept.is_empty() {
        say(&format!("and keep nothing{}", if ctx.down.purge_efs { "" } else { " (no data is recorded)" }));
    } else {
        say(&format!("and keep:\n  {}", kept.join("\n  ")));
    }
    let mut questions = vec![format!("Delete these {total} resources?")];
    if ctx.down.delete_data {
        let mut data = Vec::new();
        for step in &StepId::BUCKETS {
            if let Some(name) = ctx.state.record(step).and_then(|r| r.id) {
                let n = s3_bucket::object_count(ctx, &name).await?;
                if n > 0 {
                    data.push(format!("{name} ({n} objects)"));
                }
            }
        }
        if !data.is_empty() {
            questions.push(format!(
                "--delete-data: empty and delete {} for good (their data cannot be recovered)?",
                data.join(", ")
            ));
        }
    }
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Exit(
            EXIT_INVALID,
            format!(
                "down needs confirmation and stdin is not a terminal: nothing was deleted. Pass --yes to confirm in a script (`provision down{}{} --yes`)",
                if ctx.down.purge_efs { " --purge-efs" } else { "" },
                if ctx.down.delete_data { " --delete-data" } else { "" }
            ),
        )
        .into());
    }
    for q in questions {
        eprint!("{q} Only 'yes' is accepted: ");
        // Ctrl-C at the question cancels like a 'no' (and the state's lock is released).
        let answer = tokio::select! {
            a = tokio::task::spawn_blocking(|| {
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).map(|_| answer)
            }) => a??,
            _ = tokio::signal::ctrl_c() => {
                return Err(Exit(EXIT_INTERRUPTED, "\ndown cancelled: nothing was deleted".into()).into());
            }
        };
        if answer.trim() != "yes" {
            return Err(Exit(EXIT_FAILED, "down cancelled: nothing was deleted".into()).into());
        }
    }
    Ok(())
}

pub async fn down(ctx: Arc<Ctx>, opts: RunOptions, yes: bool) -> Result<()> {
    let graph = graph::build_teardown(&ctx.s);
    refuse_dropped_parts(&ctx, &graph)?;
    let lost = ctx.state.is_scratch();
    if lost {
        // No state file: the stack's second record, its tags, says what exists.
        let found = lifecycle::rebuild(&ctx, &graph).await?;
        if let Some(why) = lifecycle::shape_mismatch(&ctx).await? {
            return Err(Exit(EXIT_INVALID, format!("no state file at {}: {why}", ctx.state.location())).into());
        }
        if found.is_empty() {
            println!(
                "No state file at {} and nothing of stack {} found by its tags in {} (account {}): nothing to remove.",
                ctx.state.location(),
                ctx.stack(),
                ctx.s.region,
                ctx.account
            );
            return Ok(());
        }
        say(&format!(
            "No state file at {}: found {} resources of stack {} by their provision:stack tags; removing them takes the stack over.",
            ctx.state.location(),
            found.len(),
            ctx.stack()
        ));
    }
    confirm(&ctx, &graph, yes).await?;
    if lost {
        // From here on the removal is recorded like any other, so a killed `down` resumes.
        ctx.state.materialize(state::LockInfo::new("down"))?;
    }
    let edges = graph.reversed_edges();
    say(&format!(
        "provision down{}{}: stack {} in {} (account {}), state {}",
        if ctx.down.purge_efs { " --purge-efs" } else { "" },
        if ctx.down.delete_data { " --delete-data" } else { "" },
        ctx.stack(),
        ctx.s.region,
        ctx.account,
        ctx.state.location()
    ));
    let started = Instant::now();
    let stop = stop_on_ctrl_c("down");
    let Ran { out, changed, progress } = run_graph(&ctx, &graph, &edges, &opts, stop, false).await;
    end_on_error(&progress, report(&graph, out, started, "down", graph.steps.len()))?;
    let kept: Vec<(String, state::Record)> =
        ctx.state.doc().steps.into_iter().filter(|(_, r)| r.status == Some(Status::Retained)).collect();
    let took = started.elapsed().as_secs_f64();
    let mut facts = Vec::new();
    let headline = if kept.is_empty() {
        format!("Stack {} is gone ({took:.1}s).", ctx.stack())
    } else {
        for (step, r) in &kept {
            let what = format!("{} {}", r.id.clone().unwrap_or_default(), r.note.clone().unwrap_or_default());
            facts.push((step.as_str(), what));
        }
        facts.push(("remove all", "provision down --purge-efs --delete-data".to_string()));
        format!("Stack {} removed except what holds data ({took:.1}s); kept:", ctx.stack())
    };
    facts.push(("rebuild", "provision up".to_string()));
    summary(&progress, changed, &headline, started, &facts, ctx.aws.pacer.stats());
    Ok(())
}
