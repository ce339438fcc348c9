//! The per-step algorithm `up` and `down` run for every step, whatever
//! its kind: `up_step` (check what is recorded, resolve an interrupted
//! create, create, record, settle) and `down_step` (decide, delete or keep,
//! record). It names no particular kind: everything kind-specific is a
//! `Kind` method.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

pub mod converge;
mod second_record;

pub use second_record::{duplicates, orphans, rebuild, remove_duplicates, shape_mismatch};

use crate::graph::{Graph, Step};
use crate::kinds::{Change, Ctx, Health, Learnt, PropChange};
use crate::state::Status;
use crate::step_id::StepId;

/// What `up` did for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Recorded, checked, present: nothing done.
    Unchanged,
    Created,
    /// Found the resource of an interrupted create and took it over.
    Adopted,
    /// Recorded but gone (deleted out of band): created again.
    Recreated,
    /// Recorded but failed: deleted and created again.
    Replaced,
    /// Created earlier; waited until usable (a resumed wait).
    Resumed,
    /// Present, but changed out of band: put back as specified.
    Restored,
    /// Present; a changed parameter applied in place (day two).
    Updated,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Created => "created",
            Action::Adopted => "adopted",
            Action::Recreated => "recreated",
            Action::Replaced => "replaced",
            Action::Resumed => "ready",
            Action::Restored => "restored",
            Action::Updated => "updated",
        }
    }
}

/// Creates (or adopts, or resumes) the resource of `step` and waits until it
/// is usable. Each transition is in the state before the next call. A
/// resource recorded as ready (or retained by `down`) is checked first: one
/// deleted out of band is created again, one in a failed state replaced.
pub async fn up_step(ctx: Arc<Ctx>, step: Step) -> Result<Action> {
    let mut rec = ctx.state.record(&step.id);
    let mut action = None;
    // A recorded resource is checked: ready or retained ones always; one
    // created but not yet ready only for a failure (AWS may not show a new
    // resource yet, so absence proves nothing there).
    let check = rec.as_ref().and_then(|r| match (r.status, r.id.clone()) {
        (Some(st @ (Status::Ready | Status::Retained | Status::Created)), Some(id)) => Some((st, id)),
        _ => None,
    });
    if let Some((status, id)) = check {
        let health = step
            .kind
            .health(&ctx, &step.id, &id)
            .await
            .with_context(|| format!("checking {} {id} ({})", step.kind_name(), step.id))?;
        let settled = status != Status::Created;
        let intent_ms = rec.as_ref().and_then(|r| r.intent_ms);
        let health = if settled && health == Health::Missing {
            confirm_missing(&ctx, &step, &id, intent_ms).await?
        } else {
            health
        };
        match health {
            Health::Present | Health::Missing if !settled => {}
            Health::Present => {
                if status == Status::Retained {
                    ctx.state.ready(&step.id, &[])?;
                    ctx.state.note(&step.id, None)?;
                }
                if !step.changes.is_empty() {
                    return update(&ctx, &step, &id).await;
                }
                return restore_drift(&ctx, &step, &id).await;
            }
            Health::Stopped(why) if settled => {
                // Runtime its user stopped: left as it is.
                crate::progress::note(&format!("{}: {} {id} is {why}", step.id, step.kind_name()));
                return Ok(Action::Unchanged);
            }
            Health::Missing => {
                tracing::warn!(step = %step.id, %id, "recorded resource no longer exists; creating it again");
                crate::progress::note(&format!(
                    "{}: {} {id} no longer exists (deleted out of band?); creating it again",
                    step.id,
                    step.kind_name()
                ));
                action = Some(Action::Recreated);
            }
            Health::Stopped(_) => {
                // Never became ready, and is gone now: create it again.
                crate::progress::note(&format!(
                    "{}: {} {id} stopped before it was ready; creating it again",
                    step.id,
                    step.kind_name()
                ));
                action = Some(Action::Recreated);
            }
            Health::Failed(why) => {
                crate::progress::note(&format!(
                    "{}: {} {id} is in a failed state ({why}); replacing it",
                    step.id,
                    step.kind_name()
                ));
                step.kind
                    .delete(&ctx, &id)
                    .await
                    .with_context(|| format!("deleting failed {} {id} ({})", step.kind_name(), step.id))?;
                action = Some(Action::Replaced);
            }
        }
        if action.is_some() {
            ctx.state.reset(&step.id)?;
            rec = None;
        }
    }
    // An intent without an id: an earlier create may have taken effect
    // without its answer reaching us — or may still be in flight. Let it
    // land, then look before creating again.
    let interrupted = rec.as_ref().is_some_and(|r| r.token.is_some());
    // `up --adopt` (a lost state): what the stack's tags say exists is taken over.
    let look = interrupted || (ctx.adopt && rec.is_none());
    let last_intent = rec.as_ref().and_then(|r| r.intent_ms);
    let id = match rec.and_then(|r| r.id) {
        Some(id) => {
            action.get_or_insert(Action::Resumed);
            id
        }
        None => {
            let found = if look {
                if interrupted {
                    let_in_flight_land(last_intent).await?;
                }
                step.kind
                    .find(&ctx, &step.id)
                    .await
                    .with_context(|| format!("looking for an existing {} ({})", step.kind_name(), step.id))?
            } else {
                None
            };
            let id = match found {
                Some(id) => {
                    tracing::info!(step = %step.id, %id, "adopted existing resource");
                    action.get_or_insert(Action::Adopted);
                    id
                }
                None => {
                    let token = ctx.state.intent(&step.id, Some(uuid::Uuid::new_v4().to_string()))?;
                    let created = step.kind.create(&ctx, &step.id, &token.unwrap_or_default()).await;
                    // The interrupted create did land, but reads do not show it yet:
                    // the name is taken by it. Look again within the consistency bound.
                    let landed = match &created {
                        Err(e) if interrupted && crate::error::is_already_exists(e) => {
                            find_landed(&ctx, &step, last_intent).await?
                        }
                        _ => None,
                    };
                    if let Err(e) = &created
                        && crate::error::code(e).is_some()
                    {
                        // AWS answered: nothing of this call is still in flight.
                        ctx.state.answered(&step.id)?;
                    }
                    if let Some(id) = landed {
                        tracing::info!(step = %step.id, %id, "adopted the resource an interrupted create made");
                        action.get_or_insert(Action::Adopted);
                        id
                    } else {
                        let id = created.with_context(|| format!("creating {} ({})", step.kind_name(), step.id))?;
                        action.get_or_insert(Action::Created);
                        id
                    }
                }
            };
            ctx.state.created(&step.id, &id, &[])?;
            id
        }
    };
    // It exists: the steps that need it only to exist may start while it settles.
    crate::engine::created();
    step.kind
        .settle(&ctx, &step.id, &id)
        .await
        .with_context(|| format!("waiting for {} {id} ({})", step.kind_name(), step.id))?;
    record_ready(&ctx, &step, &id).await?;
    Ok(action.unwrap_or(Action::Created))
}

/// Records `step` ready with what its resource tells the steps after it
/// (`Kind::learn`): the one place a kind's findings reach the state.
async fn record_ready(ctx: &Ctx, step: &Step, id: &str) -> Result<()> {
    record_learnt(ctx, step, id, false).await
}

/// Records `step` ready, with `id` first when `found` (a resource found by
/// its tags, `second_record::rebuild`), and what it tells (`Kind::learn`).
pub async fn record_learnt(ctx: &Ctx, step: &Step, id: &str, found: bool) -> Result<()> {
    if found {
        // The id first: a failed read must not lose it.
        ctx.state.set(&step.id, Status::Ready, Some(id), &[])?;
    }
    let learnt = step
        .kind
        .learn(ctx, &step.id, id)
        .await
        .with_context(|| format!("reading {} {id} ({})", step.kind_name(), step.id))?;
    let attrs: Vec<(&str, String)> = learnt.attrs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    ctx.state.ready(&step.id, &attrs)?;
    record_revealed(ctx, &learnt)
}

/// Records the resources AWS made for a step that other steps stand for
/// (the domain's home EFS, mount targets and NFS groups), once: a step that
/// already holds an id keeps it.
fn record_revealed(ctx: &Ctx, learnt: &Learnt) -> Result<()> {
    for r in &learnt.others {
        if ctx.state.record(&r.step).and_then(|rec| rec.id).is_none() {
            let attrs: Vec<(&str, String)> = r.attrs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            ctx.state.set(&r.step, Status::Created, Some(&r.id), &attrs)?;
            ctx.state.note(&r.step, Some(r.note.clone()))?;
        }
    }
    Ok(())
}

/// Reads may not show a resource for a while after its create (eventual
/// consistency: EC2 API reference, "Eventual consistency in the Amazon EC2
/// API": "If you run a command to modify or describe the resource that you
/// just created, its ID might not have propagated throughout the system, and
/// you will get an error responding that the resource does not exist"; the
/// same holds for IAM, SageMaker and Network Firewall). A settled resource
/// that a check does not find, whose create was sent (`intent_ms`) less than
/// `CONSISTENCY_BOUND` ago, is checked again until that bound has passed, and
/// only then taken as deleted out of band — or `up` would make a second one.
async fn confirm_missing(ctx: &Ctx, step: &Step, id: &str, intent_ms: Option<u64>) -> Result<Health> {
    let Some(sent) = intent_ms else { return Ok(Health::Missing) };
    let bound = crate::wait::scaled(crate::retry::CONSISTENCY_BOUND);
    let age = || Duration::from_millis(crate::state::now_ms().saturating_sub(sent));
    if age() >= bound {
        return Ok(Health::Missing);
    }
    tracing::info!(step = %step.id, %id, "recorded moments ago and not found: checking again (eventual consistency)");
    let what = format!("{} {id} to be visible", step.kind_name());
    let poll = crate::wait::Poll::fast(crate::retry::CONSISTENCY_BOUND.as_secs() + 60);
    crate::wait::until(&what, poll, || async {
        let h = step
            .kind
            .health(ctx, &step.id, id)
            .await
            .with_context(|| format!("checking {} {id} ({})", step.kind_name(), step.id))?;
        Ok((h != Health::Missing || age() >= bound).then_some(h))
    })
    .await
}

/// After an interrupted create whose resource `find` did not see, the create
/// answered that the name is taken: the interrupted call landed and reads do
/// not show it yet (eventual consistency, as `confirm_missing`). Looks again
/// until `CONSISTENCY_BOUND` after that call was sent; `None` if it stays
/// unseen (the name is someone else's: the create's error stands).
async fn find_landed(ctx: &Ctx, step: &Step, intent_ms: Option<u64>) -> Result<Option<String>> {
    let Some(sent) = intent_ms else { return Ok(None) };
    let bound = crate::wait::scaled(crate::retry::CONSISTENCY_BOUND);
    let age = || Duration::from_millis(crate::state::now_ms().saturating_sub(sent));
    let what = format!("the {} an interrupted create made to be visible", step.kind_name());
    let poll = crate::wait::Poll::fast(crate::retry::CONSISTENCY_BOUND.as_secs() + 60);
    crate::wait::until(&what, poll, || async {
        let found = step
            .kind
            .find(ctx, &step.id)
            .await
            .with_context(|| format!("looking for an existing {} ({})", step.kind_name(), step.id))?;
        Ok(match found {
            Some(id) => Some(Some(id)),
            None if age() >= bound => Some(None),
            None => None,
        })
    })
    .await
}

/// Waits until a create call recorded at `intent_ms` can no longer land
/// (`IN_FLIGHT_BOUND` after it was sent), so that looking for its resource
/// is conclusive: a killed run's request may still be processed after the
/// next run has started.
async fn let_in_flight_land(intent_ms: Option<u64>) -> Result<()> {
    let Some(sent) = intent_ms else { return Ok(()) };
    let bound = crate::wait::scaled(crate::retry::IN_FLIGHT_BOUND);
    let since = Duration::from_millis(crate::state::now_ms().saturating_sub(sent));
    if since < bound {
        let rest = bound - since;
        tracing::info!("waiting {rest:?} for a create call an interrupted run left in flight");
        crate::progress::waiting("an interrupted create call to land");
        crate::wait::stoppable(tokio::time::sleep(rest), "an interrupted create call to land").await?;
    }
    Ok(())
}

/// The drift `up` would put back for this step (empty: none, or not a
/// kind `up` restores: routes that point elsewhere are recreated through
/// `health`; the firewall allow-list is `provision firewall`'s to change and
/// `status`'s to report). Read-only.
pub async fn restorable_drift(ctx: &Ctx, step: &Step, id: &str) -> Result<Vec<String>> {
    if !step.kind.restores_drift() {
        return Ok(Vec::new());
    }
    step.kind.drift(ctx, &step.id, id).await.with_context(|| format!("reading {} {id} ({})", step.kind_name(), step.id))
}

/// Puts back what drifted on the resources the stack owns outright: the
/// security groups' rules, the bucket settings and policy, the S3 endpoint
/// policy, and the zones a spanning resource lacks.
async fn restore_drift(ctx: &Ctx, step: &Step, id: &str) -> Result<Action> {
    let changes = restorable_drift(ctx, step, id).await?;
    if changes.is_empty() {
        return Ok(Action::Unchanged);
    }
    crate::progress::note(&format!(
        "{}: {} {id} does not match the stack ({}); updating it",
        step.id,
        step.kind_name(),
        changes.join("; ")
    ));
    step.kind
        .restore(ctx, &step.id, id)
        .await
        .with_context(|| format!("restoring {} {id} ({})", step.kind_name(), step.id))?;
    record_ready(ctx, step, id).await?;
    Ok(Action::Restored)
}

/// Applies a day-two change of the parameters to the live resource
/// (`Step::changes`, from `converge`): in place now, or, for what applies at
/// a runtime's next start (an app's instance type), said and left.
async fn update(ctx: &Ctx, step: &Step, id: &str) -> Result<Action> {
    let later = |c: &PropChange| c.change == Change::NextStart;
    let shown = |c: &PropChange| {
        if later(c) { format!("{}, from its next start", c.shown()) } else { c.shown() }
    };
    let all = step.changes.iter().map(shown).collect::<Vec<_>>().join("; ");
    if step.changes.iter().all(later) {
        crate::progress::note(&format!("{}: {} {id}: {all}", step.id, step.kind_name()));
        return Ok(Action::Unchanged);
    }
    crate::progress::note(&format!("{}: updating {} {id} ({all})", step.id, step.kind_name()));
    step.kind
        .update(ctx, &step.id, id, &step.changes)
        .await
        .with_context(|| format!("updating {} {id} ({})", step.kind_name(), step.id))?;
    record_ready(ctx, step, id).await?;
    Ok(Action::Updated)
}

/// What `down` keeps, and why: each existing resource's own reason
/// (`Kind::keep_reason`: the users' Studio storage, data), then everything
/// a kept resource needs kept to stay readable and to exist (`Kind::keeps`:
/// its key, its parent, its network), and so on. Decided once, before the
/// first delete, so that a key is kept with the EFS it encrypts whichever
/// of the two teardown reaches first; no kind is a special case. Read-only.
pub async fn keep_plan(ctx: &Ctx, graph: &Graph) -> Result<BTreeMap<StepId, String>> {
    let mut kept = BTreeMap::new();
    for i in graph.teardown_order() {
        let step = &graph.steps[i];
        let Some(id) = teardown_target(ctx, step, false).await? else { continue };
        let why = step
            .kind
            .keep_reason(ctx, &step.id, &id)
            .await
            .with_context(|| format!("deciding whether to keep {} {id} ({})", step.kind_name(), step.id))?;
        if let Some(why) = why {
            kept.insert(step.id.clone(), why);
        }
    }
    let mut todo: Vec<StepId> = kept.keys().cloned().collect();
    while let Some(k) = todo.pop() {
        let Some(step) = graph.get(&k) else { continue };
        for n in step.kind.keeps() {
            if graph.get(&n).is_some() && !kept.contains_key(&n) {
                kept.insert(n.clone(), format!("needed by the kept {} ({k})", step.kind_name()));
                todo.push(n);
            }
        }
    }
    Ok(kept)
}

/// The resource `down` would act on for `step`, and why it would keep it
/// (None: delete), by `kept` (`keep_plan`). `Ok(None)`: nothing recorded
/// and nothing found. Read-only. `wait_in_flight`: first let a create an
/// interrupted run left in flight land (`down`; `plan` only reports what it
/// sees now).
pub async fn teardown_decision(
    ctx: &Ctx,
    step: &Step,
    wait_in_flight: bool,
    kept: &BTreeMap<StepId, String>,
) -> Result<Option<(String, Option<String>)>> {
    Ok(teardown_target(ctx, step, wait_in_flight).await?.map(|id| (id, kept.get(&step.id).cloned())))
}

/// The resource `down` would act on for `step`: the recorded one, or (for
/// a create whose answer was lost, or what SageMaker or Studio's users made)
/// the one found. Read-only.
async fn teardown_target(ctx: &Ctx, step: &Step, wait_in_flight: bool) -> Result<Option<String>> {
    let rec = ctx.state.record(&step.id);
    let id = match rec.as_ref().and_then(|r| r.id.clone()) {
        Some(id) => Some(id),
        None => {
            // Never recorded, or a create whose answer was lost: look for it.
            let interrupted = rec.as_ref().is_some_and(|r| r.status == Some(Status::Creating));
            let discoverable = step.kind.discovered();
            if interrupted || discoverable {
                if interrupted && wait_in_flight {
                    let_in_flight_land(rec.as_ref().and_then(|r| r.intent_ms)).await?;
                }
                step.kind
                    .find(ctx, &step.id)
                    .await
                    .with_context(|| format!("looking for {} ({})", step.kind_name(), step.id))?
            } else {
                None
            }
        }
    };
    Ok(id)
}

/// Deletes the resource of `step` (if it exists) and forgets it, or marks it
/// retained when `down` keeps it (`ctx.teardown`, made by `keep_plan` before
/// the run). What the state never recorded and AWS made (what Studio's users
/// made in the domain) is found again each time: kept, it stays unrecorded.
/// Returns what happened: "deleted", "kept" or "absent" (nothing to do), and
/// the id of the resource deleted or kept (the state forgets a deleted one).
pub async fn down_step(ctx: Arc<Ctx>, step: Step) -> Result<(&'static str, Option<String>)> {
    let kept = &ctx.teardown.get().context("down's keep plan was not made before the run")?.kept;
    match teardown_decision(&ctx, &step, true, kept).await? {
        None => {
            if ctx.state.record(&step.id).is_some() {
                ctx.state.forget(&step.id)?;
            }
            Ok(("absent", None))
        }
        Some((id, Some(_))) if step.kind.discovered() && ctx.state.record(&step.id).is_none() => Ok(("kept", Some(id))),
        Some((id, Some(why))) => {
            ctx.state.set(&step.id, Status::Retained, Some(&id), &[])?;
            ctx.state.note(&step.id, Some(why))?;
            Ok(("kept", Some(id)))
        }
        Some((id, None)) => {
            // What AWS made for it and that outlives it (the domain's home
            // EFS) is recorded before it goes, so its own step finds it.
            let learnt = crate::error::found(step.kind.learn(&ctx, &step.id, &id).await)
                .with_context(|| format!("reading {} {id} ({})", step.kind_name(), step.id))?;
            record_revealed(&ctx, &learnt.unwrap_or_default())?;
            ctx.state.set(&step.id, Status::Deleting, Some(&id), &[])?;
            step.kind
                .delete(&ctx, &id)
                .await
                .with_context(|| format!("deleting {} {id} ({})", step.kind_name(), step.id))?;
            ctx.state.forget(&step.id)?;
            Ok(("deleted", Some(id)))
        }
    }
}

/// After a successful `up`: what `down` kept that the `up` graph does not
/// hold (what SageMaker made for the kept domain: its EFS, mount targets,
/// NFS groups) belongs to the live stack again, recorded as when SageMaker
/// made it (created, not retained). Steps of the graph did this themselves.
pub fn revive_kept(ctx: &Ctx, graph: &Graph) -> Result<()> {
    for (step, r) in ctx.state.doc().steps {
        if r.status == Some(Status::Retained) && !graph.contains(&step) {
            let step = StepId::recorded(step);
            ctx.state.set(&step, Status::Created, r.id.as_deref(), &[])?;
            ctx.state.note(&step, Some("created by SageMaker for the domain".to_string()))?;
        }
    }
    Ok(())
}

/// Members of a resource spanning every zone (subnets, route tables) that
/// `up` has yet to create: the resource is extended to them in place.
pub fn new_members(ctx: &Ctx, step: &Step) -> Vec<String> {
    step.kind
        .members()
        .iter()
        .filter(|m| ctx.state.record(m).and_then(|r| r.id).is_none())
        .map(|m| m.to_string())
        .collect()
}
