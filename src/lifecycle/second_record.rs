//! The stack's second record, its tags, held against the first, the state:
//! what a lost state is rebuilt from, the duplicates a killed run's
//! creates left, the orphans no record knows, and the shape (zones, users)
//! the tags say the stack has. The AWS reads are the kinds' (`find`,
//! `list_owned`, `subnet::stack_zones`, `user_profile::stack_profiles`).

use anyhow::{Context, Result};

use crate::graph::{Graph, Step};
use crate::kinds::Ctx;
use crate::step_id::StepId;

/// The stack's second record: what AWS holds for each step of `graph` that
/// `ctx.state` does not record, found by its tags (or its unique name and
/// tags), in create order so each find can read the ids it needs; each found
/// resource is recorded as ready (the next `up` checks it as any recorded
/// one). Used when the state file is lost (`up --adopt`, `down` and `import`
/// without a state). Returns the steps found and their ids.
pub async fn rebuild(ctx: &Ctx, graph: &Graph) -> Result<Vec<(StepId, String)>> {
    let mut found = Vec::new();
    for i in graph.forward_order() {
        let step = &graph.steps[i];
        // SageMaker's leftovers are recorded with their domain.
        if ctx.state.record(&step.id).is_some() || step.kind.discovered() {
            continue;
        }
        let id = match step.kind.find(ctx, &step.id).await {
            Ok(id) => id,
            // What it needs was not found either (its parent is gone): nothing to look for.
            Err(e) if crate::state::is_unrecorded(&e) => None,
            Err(e) => {
                return Err(e).with_context(|| format!("looking for {} ({}) by its tags", step.kind_name(), step.id));
            }
        };
        if let Some(id) = id {
            super::record_learnt(ctx, step, &id, true).await?;
            found.push((step.id.clone(), id));
        }
    }
    Ok(found)
}

/// Resources AWS holds for a recorded step besides the recorded one, proven
/// this stack's by their tags: creates that landed after their client died
/// (or an orphan of an earlier run). Empty for kinds that cannot duplicate.
pub async fn duplicates(ctx: &Ctx, step: &Step) -> Result<Vec<String>> {
    let Some(recorded) = ctx.state.record(&step.id).and_then(|r| r.id) else { return Ok(Vec::new()) };
    let owned = step
        .kind
        .list_owned(ctx, &step.id)
        .await
        .with_context(|| format!("listing {} ({}) by its tags", step.kind_name(), step.id))?;
    Ok(owned.unwrap_or_default().into_iter().filter(|id| *id != recorded).collect())
}

/// Resources AWS holds for a step the state does not record at all,
/// proven this stack's by their tags: orphans (a lost state, another state
/// file for the same stack).
pub async fn orphans(ctx: &Ctx, step: &Step) -> Result<Vec<String>> {
    if ctx.state.record(&step.id).is_some() || step.kind.discovered() {
        return Ok(Vec::new());
    }
    match step.kind.list_owned(ctx, &step.id).await? {
        Some(ids) => Ok(ids),
        None => Ok(step.kind.find(ctx, &step.id).await.ok().flatten().into_iter().collect()),
    }
}

/// After a run that resumed interrupted creates (`interrupted`), deletes
/// what those creates left besides the recorded resource: a request the
/// killed run sent may land after the next run looked for it and made its
/// own. Each removal is reported.
pub async fn remove_duplicates(ctx: &Ctx, graph: &Graph, interrupted: &[StepId]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for id in interrupted {
        let Some(step) = graph.get(id) else { continue };
        for dup in duplicates(ctx, step).await? {
            step.kind
                .delete(ctx, &dup)
                .await
                .with_context(|| format!("deleting duplicate {} {dup} ({})", step.kind_name(), step.id))?;
            removed.push(format!("removed duplicate {dup} of step {} left by an interrupted run", step.id));
        }
    }
    Ok(removed)
}

/// Without a state file the stack's shape (its zones and users) is only in
/// its tags: the zones of the subnets tagged as this stack's (the first zone
/// is the one whose steps carry no zone suffix) and the user profiles of its
/// domain. `Some(message)` when the parameters describe another shape: acting
/// on a partial graph would leave the rest behind.
pub async fn shape_mismatch(ctx: &Ctx) -> Result<Option<String>> {
    let zones = crate::kinds::subnet::stack_zones(ctx).await?;
    let wanted: Vec<String> = ctx.s.zones.iter().map(|z| z.az.clone()).collect();
    let mut problems = Vec::new();
    if !zones.is_empty() && zones != wanted {
        problems.push(format!("its subnets span {}: pass --availability-zones {}", zones.join(", "), zones.join(",")));
    }
    if let Some(domain) = ctx.state.record(&StepId::DOMAIN).and_then(|r| r.id) {
        let mut users = crate::kinds::user_profile::stack_profiles(ctx, &domain).await?;
        users.sort();
        let mut given = ctx.s.users.clone();
        given.sort();
        if !users.is_empty() && users != given {
            problems.push(format!(
                "its domain {domain} has the user profiles {}: pass --users with them, the primary first",
                users.join(", ")
            ));
        }
    }
    Ok((!problems.is_empty()).then(|| {
        format!(
            "the parameters describe another shape than stack {} has ({}); without a state file they must match",
            ctx.stack(),
            problems.join("; ")
        )
    }))
}
