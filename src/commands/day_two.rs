//! Day two in `up` (issue 29): what `lifecycle::converge` found changed
//! between the recorded stack and the new parameters, made safe and done.
//! - a change AWS cannot make in place is refused before anything is
//!   touched (`refuse`);
//! - what the removal deletes that holds data (a removed user's space, the
//!   logs), and the apps it must stop (a domain drops a subnet only while no
//!   app runs: UpdateDomain API reference, `SubnetIds`), are named and asked
//!   about, as `down` asks (`confirm`; `--yes` in scripts);
//! - then the removal itself (`remove`): the apps stopped, what the removed
//!   users made in Studio deleted, the spanning resources let go of the
//!   removed zones (`Kind::drop_members`), and the removed steps deleted by
//!   teardown's engine in the recorded graph's reverse order. The rest of
//!   the change (creates, in-place updates) is the normal `up` run after it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::run::{RunOptions, end_on_error, report, run_graph};
use crate::config::Settings;
use crate::error::{EXIT_INVALID, Exit};
use crate::graph::Graph;
use crate::kinds::studio_made::{self, Item};
use crate::kinds::{Ctx, Teardown, app, space};
use crate::lifecycle::converge::{self, Changes};
use crate::progress::say;
use crate::step_id::StepId;

/// Exit 2 naming every change `up` cannot make; nothing was touched.
pub fn refuse(changes: &Changes) -> Result<()> {
    if changes.refused.is_empty() {
        return Ok(());
    }
    Err(Exit(
        EXIT_INVALID,
        format!(
            "up cannot make {} of this change; nothing was changed:\n  - {}",
            if changes.refused.len() == 1 {
                "one part".to_string()
            } else {
                format!("{} parts", changes.refused.len())
            },
            changes.refused.join("\n  - ")
        ),
    )
    .into())
}

/// What removing the steps the parameters no longer include takes.
#[derive(Debug, Default)]
pub struct Removal {
    /// The recorded ids of the removed steps: what spanning resources let go.
    gone: Vec<String>,
    /// What the removed steps hold that is data (a user's space volume, logs).
    data: Vec<String>,
    /// Apps that must stop first (a removed zone's subnet leaves the domain
    /// only while none runs): every app of the domain.
    stops: Vec<Item>,
    /// What the removed users made in Studio: their apps, then their spaces.
    users_apps: Vec<Item>,
    users_spaces: Vec<Item>,
}

/// Reads what the removal takes (read-only).
pub async fn prepare(ctx: &Ctx, changes: &Changes, old: Option<&Settings>) -> Result<Removal> {
    let mut out = Removal { gone: changes.removed_ids(ctx), ..Default::default() };
    for step in &changes.removed {
        let Some(id) = ctx.state.record(&step.id).and_then(|r| r.id) else { continue };
        if let Some(why) = step.kind.keep_reason(ctx, &step.id, &id).await? {
            // The reason as `down` gives it, without its "remove with ..." advice.
            let why = why.split("; remove with").next().unwrap_or_default().to_string();
            out.data.push(format!("{} {id} ({}): {why}", step.kind_name(), step.id));
        }
    }
    let Some(domain) = ctx.state.record(&StepId::DOMAIN).and_then(|r| r.id) else { return Ok(out) };
    let zone_gone = changes.removed.iter().any(|s| s.id.is_zone_of(&StepId::SUBNET_SAGEMAKER));
    let users_gone: Vec<String> =
        old.map(|o| o.users.iter().filter(|u| !ctx.s.users.contains(u)).cloned().collect()).unwrap_or_default();
    if !zone_gone && users_gone.is_empty() {
        return Ok(out);
    }
    let c = studio_made::contents(ctx, &domain).await.with_context(|| format!("listing what domain {domain} holds"))?;
    if zone_gone {
        out.stops = c.apps.clone();
    }
    let theirs = |i: &Item| i.owner.as_ref().is_some_and(|o| users_gone.contains(o));
    out.users_spaces = c.spaces.iter().filter(|s| theirs(s) && !out.gone.contains(&s.id)).cloned().collect();
    let their_spaces: Vec<String> =
        c.spaces.iter().filter(|s| theirs(s)).filter_map(|s| s.id.rsplit('/').next().map(str::to_string)).collect();
    out.users_apps = c
        .apps
        .iter()
        .filter(|a| !out.gone.contains(&a.id) && !out.stops.iter().any(|s| s.id == a.id))
        .filter(|a| theirs(a) || a.owner.as_ref().is_some_and(|o| their_spaces.contains(o)))
        .cloned()
        .collect();
    if !out.users_spaces.is_empty() {
        out.data.extend(out.users_spaces.iter().map(|s| format!("made in Studio by a removed user: {}", s.what)));
    }
    Ok(out)
}

/// Says what the removal deletes and stops, and asks when it deletes data or
/// stops apps (on a terminal; `--yes` in scripts; neither: exit 2 with
/// nothing changed).
pub async fn confirm(changes: &Changes, r: &Removal, yes: bool) -> Result<()> {
    if changes.removed.is_empty() {
        return Ok(());
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &changes.removed {
        *kinds.entry(s.kind_name()).or_default() += 1;
    }
    say(&format!(
        "provision up will remove {} resources the parameters no longer include: {}",
        changes.removed.len(),
        kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
    ));
    let mut questions = Vec::new();
    if !r.data.is_empty() {
        say(&format!("They hold data, deleted for good (it cannot be recovered):\n  {}", r.data.join("\n  ")));
        questions.push(format!("Delete these {} and their data?", r.data.len()));
    }
    let stops: Vec<&Item> = r.stops.iter().chain(&r.users_apps).collect();
    if !stops.is_empty() {
        say(&format!(
            "These apps stop first (their spaces and files stay; the stack's own start again):\n  {}",
            stops.iter().map(|a| a.what.as_str()).collect::<Vec<_>>().join("\n  ")
        ));
        questions.push(format!("Stop these {} apps?", stops.len()));
    }
    let again = format!("provision {} --yes", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
    super::run::ask(&questions, yes, "up", "nothing was changed", again.trim()).await
}

/// The first user or zone left (`Changes::vacated`): the new first one's
/// recorded steps move to the spec's ids (`Changes::moved`), each
/// resource's `provision:step` tag (and Name) first (`Kind::retag`), then
/// the records and the recorded parameters in one state write. The
/// recorded users (zones) become the new first one and those the stack
/// keeps, so a later run (or this one, resumed) never takes the moved
/// steps for the removed one's.
pub async fn promote(ctx: &Ctx, changes: &Changes, old: Option<&Settings>, graph: &Graph) -> Result<usize> {
    let Some(old) = old else { return Ok(0) };
    if changes.vacated.is_empty() {
        return Ok(0);
    }
    for (from, to) in &changes.moved {
        let Some(id) = ctx.state.record(from).and_then(|r| r.id) else { continue };
        let Some(step) = graph.get(to) else { continue };
        step.kind
            .retag(ctx, to, &id)
            .await
            .with_context(|| format!("tagging the {} {id} as {to} (it was {from})", step.kind_name()))?;
    }
    let mut now = old.clone();
    if changes.vacated.contains(&StepId::USER) {
        let first: Vec<String> = ctx.s.users.first().cloned().into_iter().collect();
        let kept = old.users.iter().filter(|u| ctx.s.users.contains(u) && !first.contains(u)).cloned();
        now.users = first.iter().cloned().chain(kept).collect();
        now.user_profile_name = now.users[0].clone();
    }
    if changes.vacated.contains(&StepId::NAT)
        && let Some(first) = ctx.s.zones.first()
    {
        now.zones = vec![first.clone()];
        let kept = old.zones.iter().filter(|z| ctx.s.zones.iter().any(|n| n.az == z.az) && z.az != first.az);
        now.zones.extend(kept.cloned());
        now.availability_zone = first.az.clone();
        (now.firewall_subnet_cidr, now.nat_subnet_cidr, now.sagemaker_subnet_cidr) =
            (first.firewall, first.nat, first.sagemaker);
    }
    let params = now.as_map();
    ctx.state.update(|d| {
        for (from, to) in &changes.moved {
            if let Some(r) = d.steps.remove(from.as_str()) {
                d.steps.insert(to.to_string(), r);
            }
        }
        d.params = params;
    })?;
    if !changes.moved.is_empty() {
        say(&format!(
            "the new first user or zone takes the spec's step ids: {}",
            changes.moved.iter().map(|(from, to)| format!("{from} → {to}")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(changes.moved.len())
}

/// Removes what the parameters no longer include (see the module
/// documentation); `Ok(n)`: how many steps it changed.
pub async fn remove(
    ctx: &Arc<Ctx>,
    changes: &Changes,
    r: &Removal,
    old_graph: &Graph,
    opts: &RunOptions,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<usize> {
    if changes.removed.is_empty() {
        return Ok(0);
    }
    let started = Instant::now();
    let stops: Vec<&Item> = r.stops.iter().chain(&r.users_apps).collect();
    if !stops.is_empty() {
        say(&format!("stopping {} app(s) before the removal", stops.len()));
        crate::wait::all(stops.iter().map(|a| app::delete_app(ctx, &a.id))).await?;
        // The stack's own apps, stopped here, are created again by the run after this.
        for (step, rec) in ctx.state.doc().steps {
            let step = StepId::recorded(step);
            if rec.id.as_ref().is_some_and(|id| r.stops.iter().any(|a| &a.id == id))
                && !changes.removed.iter().any(|s| s.id == step)
            {
                ctx.state.forget(&step)?;
            }
        }
    }
    if !r.users_spaces.is_empty() {
        crate::wait::all(r.users_spaces.iter().map(|s| space::delete_space(ctx, &s.id))).await?;
    }
    for (step, id) in converge::spanning(ctx, &converge::teardown_graph(ctx)) {
        if step
            .kind
            .drop_members(ctx, &step.id, &id, &r.gone)
            .await
            .with_context(|| format!("taking the removed zones out of {} {id} ({})", step.kind_name(), step.id))?
        {
            say(&format!("{}: {} {id} no longer spans the removed zone(s)", step.id, step.kind_name()));
        }
    }
    let graph = changes.removal_graph(old_graph);
    ctx.teardown
        .set(Teardown { kept: BTreeMap::new(), ids: crate::kinds::recorded_ids(ctx) })
        .map_err(|_| anyhow::anyhow!("the removal's plan was made twice"))?;
    let ran = run_graph(ctx, &graph, &graph.reversed_edges(), opts, stop, false).await;
    end_on_error(&ran.progress, report(&graph, ran.out, started, "up", graph.steps.len()))?;
    Ok(ran.changed + stops.len() + r.users_spaces.len())
}
