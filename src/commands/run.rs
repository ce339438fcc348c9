//! What `up` and `down` share: running the step graph with progress,
//! Ctrl-C, the refusal of a partial graph, and the report of root causes.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Result;

use crate::engine::{self, SkipReason};
use crate::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, Exit};
use crate::graph::estimate::{self, Direction};
use crate::graph::{self, Graph};
use crate::kinds::Ctx;
use crate::lifecycle;
use crate::progress::{Mode, Plan, Progress, elapsed, secs, tell};
use crate::wait::is_interrupted;
use crate::wait::scaled;

/// First Ctrl-C: start nothing new, let running steps finish and record.
/// Second: exit at once (every transition is already persisted).
/// `verb` is the command running (`up`, `down`): the one that resumes.
pub(super) fn stop_on_ctrl_c(verb: &'static str) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::progress::note(
                "\ninterrupt: starting nothing new; running calls finish and record, waits on slow resources stop (Ctrl-C again to exit now)",
            );
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                let mut words = format!("interrupt: exiting now; the state is consistent, `provision {verb}` resumes");
                for (id, what) in crate::state::held_locks() {
                    words.push_str(&format!(
                        "\nthe lock {id} of {what} stays: `provision force-unlock {id}` removes it"
                    ));
                }
                crate::progress::last_words(&words);
                std::process::exit(EXIT_INTERRUPTED);
            }
        }
    });
    rx
}

/// Refuses to tear down when the state records steps that neither the
/// parameters nor the recorded ones produce (`lifecycle::converge::
/// teardown_graph` holds both): acting on a partial graph would orphan them.
pub fn refuse_dropped_parts(ctx: &Ctx, graph: &Graph) -> Result<()> {
    let dropped: Vec<String> =
        ctx.state.doc().steps.into_keys().filter(|id| !graph.contains(id) && !graph::is_teardown_only(id)).collect();
    if dropped.is_empty() {
        return Ok(());
    }
    Err(Exit(
        EXIT_INVALID,
        format!(
            "the state {} records {} that neither the parameters nor the recorded ones include ({}): give the parameters that include them (the zones, users or logging of that stack)",
            ctx.state.location(),
            if dropped.len() == 1 { "a step".to_string() } else { format!("{} steps", dropped.len()) },
            dropped.join(", ")
        ),
    )
    .into())
}

pub(super) fn plan_of(graph: &Graph, forward: bool) -> Plan {
    let (direction, verb) = if forward { (Direction::Up, "up") } else { (Direction::Down, "down") };
    let remaining = estimate::remaining(graph, direction);
    // In line mode (logs), a step still waiting says so every 30 s, scaled like the waits.
    let mut plan = Plan { verb, heartbeat: scaled(std::time::Duration::from_secs(HEARTBEAT_S)), ..Default::default() };
    for (step, rem) in graph.steps.iter().zip(remaining) {
        let own = estimate::expected(step, direction);
        plan.expected.insert(step.id.to_string(), scaled(own));
        plan.after.insert(step.id.to_string(), scaled(rem.saturating_sub(own)));
        // A wait of 5 s or more on AWS (before the scale) shows its ETA.
        if own >= std::time::Duration::from_secs(5) {
            plan.long.insert(step.id.to_string());
        }
    }
    plan
}

/// Line mode's heartbeat: a step still running says so this often (seconds, before the scale).
pub const HEARTBEAT_S: u64 = 30;

/// A finished run of the graph.
pub(super) struct Ran {
    pub out: engine::Outcome<anyhow::Error>,
    /// How many steps changed something.
    pub changed: usize,
    pub progress: Arc<Progress>,
}

/// Runs every step of `graph` (up or down) with progress.
pub(super) async fn run_graph(
    ctx: &Arc<Ctx>,
    graph: &Graph,
    edges: &[Vec<usize>],
    opts: &RunOptions,
    stop: tokio::sync::watch::Receiver<bool>,
    forward: bool,
) -> Ran {
    let mode = if opts.json {
        Mode::Json
    } else if opts.progress {
        Mode::Live
    } else {
        Mode::Lines
    };
    let progress = Progress::start(plan_of(graph, forward), mode);
    let ticker = {
        let p = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                p.refresh();
            }
        })
    };
    let changed = Arc::new(AtomicUsize::new(0));
    // Critical path first: among the ready steps, the one with the longest
    // expected path to the end of the run gets the next free slot.
    let direction = if forward { Direction::Up } else { Direction::Down };
    let priority = estimate::remaining(graph, direction);
    // The same order among requests waiting for a throttled EC2 action's turn (`crate::pace`).
    ctx.aws.pacer.prioritize(graph.steps.iter().zip(&priority).map(|(s, p)| (s.id.to_string(), *p)));
    let (t0, epoch0) = (Instant::now(), std::time::SystemTime::now());
    // `up` starts a step that needs another only to exist while that one settles.
    let early = if forward { graph.early_edges() } else { Vec::new() };
    let out = engine::run(
        edges,
        &early,
        &priority,
        opts.parallelism,
        stop,
        |panic| anyhow::anyhow!(panic),
        |i| {
            let (ctx, step, progress) = (ctx.clone(), graph.steps[i].clone(), progress.clone());
            let changed = changed.clone();
            crate::progress::STEP.scope(step.id.to_string(), async move {
                progress.begin(step.id.as_str());
                // The id: the one `down` deleted or kept (a deleted step's record is
                // gone), else the one the state records.
                let r = if forward {
                    lifecycle::up_step(ctx.clone(), step.clone()).await.map(|a| (a.as_str(), None))
                } else {
                    lifecycle::down_step(ctx.clone(), step.clone()).await
                };
                match &r {
                    Ok((what @ ("unchanged" | "absent"), _)) => progress.skip(step.id.as_str(), what),
                    Ok((what, id)) => {
                        changed.fetch_add(1, Ordering::SeqCst);
                        let id =
                            id.clone().or_else(|| ctx.state.record(&step.id).and_then(|r| r.id)).unwrap_or_default();
                        progress.done(step.id.as_str(), what, &id);
                    }
                    Err(e) => progress.failed(step.id.as_str(), is_interrupted(e), &format!("{e:#}")),
                }
                r.map(|_| ())
            })
        },
    )
    .await;
    ticker.abort();
    progress.finish();
    if let Some(path) = std::env::var_os(TRACE_ENV) {
        let at = |i: Option<Instant>| {
            i.map(|i| epoch0.duration_since(std::time::UNIX_EPOCH).unwrap_or_default() + (i - t0))
                .map(|d| d.as_secs_f64())
        };
        let lines: Vec<String> = out
            .times
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let id = graph.steps[i].id.as_str();
                serde_json::json!({
                    "step": id,
                    "needs": edges[i].iter().map(|&j| graph.steps[j].id.as_str()).collect::<Vec<_>>(),
                    "ready": at(t.ready),
                    "started": at(t.started),
                    "done": at(t.done),
                    "expected_s": estimate::expected(&graph.steps[i], direction).as_secs_f64()
                        * crate::wait::time_scale(),
                    "remaining_s": priority[i].as_secs_f64() * crate::wait::time_scale(),
                })
                .to_string()
            })
            .collect();
        if let Err(e) = std::fs::write(&path, lines.join("\n") + "\n") {
            eprintln!("{TRACE_ENV}: could not write the step trace to {}: {e}", path.to_string_lossy());
        }
    }
    Ran { out, changed: changed.load(Ordering::SeqCst), progress }
}

/// The summary of a finished run: wall time against the critical path, the
/// three slowest steps, then `facts` (what the user needs next: ids and
/// commands). On a terminal or in a log, text on stdout; with `--json`, the
/// `end` event.
pub(super) fn summary(
    p: &Progress,
    changed: usize,
    headline: &str,
    started: Instant,
    facts: &[(&str, String)],
    ec2: crate::pace::Stats,
) {
    let (wall, bound) = (started.elapsed(), p.bound());
    let slowest = p.slowest(3);
    if p.mode() == Mode::Json {
        let slow: Vec<serde_json::Value> =
            slowest.iter().map(|(s, d)| serde_json::json!({"step": s, "elapsed_s": secs(*d)})).collect();
        let facts: serde_json::Map<String, serde_json::Value> =
            facts.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
        p.event(serde_json::json!({"event": "end", "ok": true, "summary": headline, "changed": changed,
            "wall_s": secs(wall), "critical_path_s": secs(bound), "slowest": slow, "next": facts,
            "ec2_throttled": ec2.throttled, "ec2_paced": {"requests": ec2.paced_requests, "wait_s": secs(ec2.paced_wait)}}));
        return;
    }
    tell(headline);
    if changed == 0 {
        // Nothing was made or deleted: the critical path (what changes take) says nothing here.
        tell(&format!("  wall time {}: every step checked, nothing to change", elapsed(wall)));
    } else {
        tell(&format!("  wall time {} against a critical path of ~{}", elapsed(wall), elapsed(bound)));
    }
    if ec2.throttled > 0 {
        tell(&format!(
            "  EC2 throttled {} request(s); {} waited {} in all for their turn (paced, `provision` retries them)",
            ec2.throttled,
            ec2.paced_requests,
            elapsed(ec2.paced_wait)
        ));
    }
    if !slowest.is_empty() {
        let s: Vec<String> = slowest.iter().map(|(s, d)| format!("{s} {}", elapsed(*d))).collect();
        tell(&format!("  slowest: {}", s.join(", ")));
    }
    for (k, v) in facts {
        tell(&format!("  {k:<12} {v}"));
    }
}

/// With `--json`, a run that did not complete ends its stream with an
/// `end` event (`ok` false, the error); the result passes through.
pub(super) fn end_on_error(p: &Progress, r: Result<()>) -> Result<()> {
    if let Err(e) = &r
        && p.mode() == Mode::Json
    {
        p.event(serde_json::json!({"event": "end", "ok": false, "error": format!("{e:#}")}));
    }
    r
}

/// `PROVISION_TRACE=FILE`: after `up`/`down`, one JSON line per step with
/// the steps it waited for, the epoch seconds it became ready, started (got a slot) and finished, its
/// expected duration and expected remaining path (time-scaled). For the
/// benchmark's attribution (bench/run.py); not a stable interface.
pub const TRACE_ENV: &str = "PROVISION_TRACE";

/// How `up`/`down` run.
pub struct RunOptions {
    pub parallelism: usize,
    /// Live view when stderr is a terminal.
    pub progress: bool,
    /// One JSON event per step transition on stdout (`--json`).
    pub json: bool,
}

/// Prints root causes (and what was skipped because of them); errors out
/// with the right exit code when the run did not complete.
pub(super) fn report(
    graph: &Graph,
    out: engine::Outcome<anyhow::Error>,
    started: Instant,
    verb: &str,
    planned: usize,
) -> Result<()> {
    if out.ok() {
        return Ok(());
    }
    // Steps whose wait the first Ctrl-C ended are not failures: their ids
    // are recorded and the next run resumes them.
    let (waiting, failed): (Vec<_>, Vec<_>) = out.failed.iter().partition(|(_, e)| is_interrupted(e));
    let upstream = out.skipped.iter().filter(|(_, w)| *w == SkipReason::UpstreamFailed).count();
    let stopped = out.skipped.iter().filter(|(_, w)| *w == SkipReason::Stopped).count();
    if failed.is_empty() {
        let names: Vec<&str> = waiting.iter().map(|(i, _)| graph.steps[*i].id.as_str()).collect();
        let left = if names.is_empty() {
            String::new()
        } else {
            format!(" {} left waiting with their ids recorded ({});", names.len(), names.join(", "))
        };
        return Err(Exit(
            EXIT_INTERRUPTED,
            format!(
                "interrupted: {verb} stopped after {:.1}s: {} of {planned} steps done;{left} {} not started. \
                 The state file records everything done; `provision {verb}` resumes.",
                started.elapsed().as_secs_f64(),
                out.succeeded.len(),
                stopped + upstream,
            ),
        )
        .into());
    }
    let mut msg = String::new();
    // A state conflict: one full account of it, the other steps it stopped by name.
    let (conflicts, failed): (Vec<_>, Vec<_>) = failed.into_iter().partition(|(_, e)| crate::state::is_conflict(e));
    if let Some((first, e)) = conflicts.first() {
        msg.push_str(&format!("step {} stopped: {e:#}\n", graph.steps[*first].id));
        if conflicts.len() > 1 {
            let others: Vec<&str> = conflicts[1..].iter().map(|(i, _)| graph.steps[*i].id.as_str()).collect();
            msg.push_str(&format!("stopped by the same conflict: {}\n", others.join(", ")));
        }
    }
    for (i, e) in &failed {
        msg.push_str(&format!("step {} failed: {e:#}\n", graph.steps[*i].id));
    }
    if !conflicts.is_empty() {
        msg.push_str(&format!(
            "{verb}: stopped after {:.1}s because the state changed under this run; nothing was overwritten.",
            started.elapsed().as_secs_f64()
        ));
        return Err(Exit(EXIT_FAILED, msg).into());
    }
    let failed_len = failed.len();
    msg.push_str(&format!(
        "{verb}: {} of {planned} steps done, {} failed, {upstream} skipped (upstream failed), {} not started, after {:.1}s. \
         The state file records everything done; run `provision {verb}` again to resume.",
        out.succeeded.len(),
        failed_len,
        stopped + waiting.len(),
        started.elapsed().as_secs_f64()
    ));
    let code = EXIT_FAILED;
    Err(Exit(code, msg).into())
}

/// Asks `questions` in turn, as `terraform apply` does: on a terminal each
/// answer must be `yes`; without one, `--yes` (`yes`) is required, and the
/// refusal says how to give it (`again`, the command to repeat). `verb`
/// and `nothing` ("nothing was deleted") say what was cancelled.
pub(super) async fn ask(questions: &[String], yes: bool, verb: &str, nothing: &str, again: &str) -> Result<()> {
    if yes || questions.is_empty() {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Exit(
            EXIT_INVALID,
            format!(
                "{verb} needs confirmation and stdin is not a terminal: {nothing}. Pass --yes to confirm in a script (`{again}`)"
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
                return Err(Exit(EXIT_INTERRUPTED, format!("\n{verb} cancelled: {nothing}")).into());
            }
        };
        if answer.is_empty() {
            // Ctrl-D (end of input): nothing was typed, not even the line's end, so the
            // refusal would follow the question on its line.
            eprintln!();
        }
        if answer.trim() != "yes" {
            return Err(Exit(EXIT_FAILED, format!("{verb} cancelled: {nothing}")).into());
        }
    }
    Ok(())
}
