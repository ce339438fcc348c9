//! `provision down [--purge-efs] [--delete-data]`: remove the stack in
//! reverse dependency order; say what is kept and why.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::run::{Ran, RunOptions, end_on_error, refuse_dropped_parts, report, run_graph, stop_on_ctrl_c, summary};
use std::collections::BTreeMap;

use crate::error::{EXIT_INVALID, Exit};
use crate::graph;
use crate::kinds::{Ctx, Teardown, s3_bucket, studio_made};
use crate::lifecycle;
use crate::progress::say;
use crate::state::{self, Status};
use crate::step_id::StepId;

/// The users' Studio storage `--purge-efs` deletes, one line each: every
/// space of the domain (what it is, its owner and volume, who made it),
/// every user profile the stack did not make, and the home EFS.
async fn studio_storage(ctx: &Ctx) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(domain) = ctx.state.record(&StepId::DOMAIN).and_then(|r| r.id) {
        let c = match studio_made::contents(ctx, &domain).await {
            Err(e) if crate::error::is_not_found(&e) => Default::default(),
            r => r?,
        };
        for s in &c.spaces {
            out.push(format!("{} ({})", s.what, if s.by_stack { "made by the stack" } else { "made in Studio" }));
        }
        out.extend(
            studio_made::Contents::user_made(&c.profiles).iter().map(|p| format!("{} (made in Studio)", p.what)),
        );
    }
    if let Some(efs) = ctx.state.record(&StepId::EFS_FILE_SYSTEM).and_then(|r| r.id) {
        out.push(format!("home EFS {efs}"));
    }
    Ok(out)
}

/// No half-way teardown: what `down` would have to delete but may not,
/// found before the first delete (each names the resource): a network
/// interface nothing of the stack owns in a subnet, or using a security
/// group, `down` deletes (someone's instance); another's security group
/// whose rule refers to one `down` deletes; what Studio's users made in a
/// domain whose tags do not prove it this stack's.
async fn blockers(ctx: &Ctx, graph: &graph::Graph, kept: &BTreeMap<StepId, String>) -> Result<Vec<String>> {
    let deleted = |bases: &[StepId]| -> Vec<String> {
        graph
            .steps
            .iter()
            .filter(|s| bases.iter().any(|b| s.id.is_zone_of(b)) && !kept.contains_key(&s.id))
            .filter_map(|s| ctx.state.record(&s.id).and_then(|r| r.id))
            .collect()
    };
    let subnets = deleted(&[StepId::SUBNET_FIREWALL, StepId::SUBNET_NAT, StepId::SUBNET_SAGEMAKER]);
    let groups = deleted(&[StepId::SG_SAGEMAKER, StepId::SG_VPCE]);
    let mut out = crate::kinds::subnet::foreign_enis(ctx, &subnets, &groups).await?;
    out.extend(crate::kinds::security_group::foreign_references(ctx, &groups).await?);
    let Some(domain) = ctx.state.record(&StepId::DOMAIN).and_then(|r| r.id) else { return Ok(out) };
    let c = match studio_made::contents(ctx, &domain).await {
        Err(e) if crate::error::is_not_found(&e) => return Ok(out),
        r => r?,
    };
    let mut acted_on = studio_made::Contents::user_made(&c.apps);
    if !kept.contains_key(&StepId::USER_MADE_SPACES) {
        acted_on.extend(studio_made::Contents::user_made(&c.spaces));
        acted_on.extend(studio_made::Contents::user_made(&c.profiles));
    }
    if !acted_on.is_empty() && !studio_made::domain_is_ours(ctx, &domain).await? {
        out.extend(acted_on.iter().map(|i| {
            format!(
                "{} in domain {domain}, which does not carry this stack's provision:stack tag (so it is not provably the stack's)",
                i.what
            )
        }));
    }
    Ok(out)
}

/// Says what `down` will delete and keep, and asks (as `terraform destroy`
/// does): on a terminal the answer must be `yes`; without one, `--yes` is
/// required. With `--purge-efs` the question names the users' storage it
/// deletes (`studio_storage`). `--delete-data` asks again, naming the
/// buckets and how many objects each holds.
async fn confirm(ctx: &Ctx, graph: &graph::Graph, kept: &BTreeMap<StepId, String>, yes: bool) -> Result<()> {
    let lines = super::plan::plan_down(ctx, kept).await;
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
    let storage = if ctx.down.purge_efs { studio_storage(ctx).await? } else { Vec::new() };
    let mut questions = if storage.is_empty() {
        vec![format!("Delete these {total} resources?")]
    } else {
        say(&format!(
            "--purge-efs deletes the users' Studio storage for good (their files cannot be recovered):\n  {}",
            storage.join("\n  ")
        ));
        vec![format!("Delete these {total} resources, the users' storage above included?")]
    };
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
    let again = format!(
        "provision down{}{} --yes",
        if ctx.down.purge_efs { " --purge-efs" } else { "" },
        if ctx.down.delete_data { " --delete-data" } else { "" }
    );
    super::run::ask(&questions, yes, "down", "nothing was deleted", &again).await
}

pub async fn down(ctx: Arc<Ctx>, opts: RunOptions, yes: bool) -> Result<()> {
    let graph = lifecycle::converge::teardown_graph(&ctx);
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
    // What was there to pay for before (`cost::down_line`).
    let before: Vec<StepId> = ctx.state.doc().steps.into_keys().map(|k| StepId::recorded(&k)).collect();
    // What is kept is decided once, before anything is deleted (`keep_plan`).
    let kept = lifecycle::keep_plan(&ctx, &graph).await?;
    let blocked = blockers(&ctx, &graph, &kept).await?;
    if !blocked.is_empty() {
        return Err(Exit(
            EXIT_INVALID,
            format!(
                "down would stop half-way: {} it may not delete would block the rest; nothing was deleted:\n  {}",
                if blocked.len() == 1 { "one resource".to_string() } else { format!("{} resources", blocked.len()) },
                blocked.join("\n  ")
            ),
        )
        .into());
    }
    confirm(&ctx, &graph, &kept, yes).await?;
    let teardown = Teardown { kept, ids: crate::kinds::recorded_ids(&ctx) };
    ctx.teardown.set(teardown).map_err(|_| anyhow::anyhow!("down's keep plan was made twice"))?;
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
    // What Studio's users made and `down` kept is not recorded: named here.
    let mut found_kept = Vec::new();
    let plan = ctx.teardown.get().map(|t| t.kept.clone()).unwrap_or_default();
    for step in graph.steps.iter().filter(|s| s.kind.discovered() && plan.contains_key(&s.id)) {
        if ctx.state.record(&step.id).is_none() {
            let items = step.kind.contents(&ctx, &step.id).await.unwrap_or_default();
            if !items.is_empty() {
                let ids: Vec<String> = items.into_iter().map(|(id, _)| id).collect();
                found_kept.push((step.id.to_string(), format!("{} ({})", ids.join(", "), plan[&step.id])));
            }
        }
    }
    let took = started.elapsed().as_secs_f64();
    let mut facts: Vec<(&str, String)> = Vec::new();
    let headline = if kept.is_empty() && found_kept.is_empty() {
        format!("Stack {} is gone ({took:.1}s).", ctx.stack())
    } else {
        for (step, r) in &kept {
            let what = format!("{} {}", r.id.clone().unwrap_or_default(), r.note.clone().unwrap_or_default());
            facts.push((step.as_str(), what));
        }
        facts.extend(found_kept.iter().map(|(s, w)| (s.as_str(), w.clone())));
        facts.push(("remove all", "provision down --purge-efs --delete-data".to_string()));
        if ctx.down.purge_efs {
            format!("Stack {} removed except what holds data ({took:.1}s); kept:", ctx.stack())
        } else {
            format!(
                "Stack {} removed except the users' Studio storage and data ({took:.1}s): apps stopped; no firewall, NAT gateway or endpoint left; kept:",
                ctx.stack()
            )
        }
    };
    let kept_steps: Vec<StepId> = kept.iter().map(|(k, _)| StepId::recorded(k)).chain(plan.keys().cloned()).collect();
    let removed: Vec<StepId> = before.into_iter().filter(|s| !kept_steps.contains(s)).collect();
    facts.push(("cost", super::cost::down_line(&ctx, &removed, &kept_steps).await));
    facts.push(("rebuild", "provision up".to_string()));
    summary(&progress, changed, &headline, started, &facts, ctx.aws.pacer.stats());
    Ok(())
}
