//! `provision start|stop [--user U]`: a user's JupyterLab app is runtime,
//! not infrastructure. `stop` deletes the app (DeleteApp; the space and its
//! EBS volume stay, as Studio's own "Stop" does); `start` creates it again
//! in the user's space, on the stack's image and instance type (the same
//! `sm.app` step `up` runs: `kinds::domain::jupyter_spec`), and waits until it
//! is InService. `up` never
//! restarts a stopped app; `status` reports it as stopped.

use std::sync::Arc;

use anyhow::{Context, Result};

use super::studio_url::user_index;
use crate::error::{EXIT_FAILED, EXIT_INVALID, Exit};
use crate::graph;
use crate::kinds::{Ctx, Health};
use crate::lifecycle;
use crate::state::Status;
use crate::step_id::StepId;

pub async fn start(ctx: Arc<Ctx>, user: Option<String>) -> Result<()> {
    let (i, user) = user_index(&ctx, user.as_deref())?;
    let space = StepId::SPACE.for_user(i, &user);
    if ctx.state.record(&space).and_then(|r| r.status) != Some(Status::Ready) {
        return Err(Exit(EXIT_FAILED, format!("user {user} has no space yet: run `provision up` first")).into());
    }
    let graph = graph::build(&ctx.s);
    let id = StepId::APP.for_user(i, &user);
    let step = graph.get(&id).context("the stack has no app step for this user")?.clone();
    if let Some(app) = ctx.state.record(&id).and_then(|r| r.id) {
        match step.kind.health(&ctx, &id, &app).await? {
            Health::Present => {
                println!("The app of {user} is already running ({app}).");
                return Ok(());
            }
            Health::Failed(_) | Health::Stopped(_) | Health::Missing => {
                step.kind.delete(&ctx, &app).await.with_context(|| format!("clearing app {app}"))?;
            }
        }
        ctx.state.reset(&id)?;
    }
    let image = ctx.s.jupyter_image().map_err(|why| Exit(EXIT_INVALID, why))?;
    eprintln!("starting the JupyterLab app of {user} ({}, {})", ctx.s.app_instance_type, image.shown());
    lifecycle::up_step(ctx.clone(), step).await?;
    println!(
        "The app of {user} is running ({}). `provision studio-url --user {user} --space` opens it.",
        ctx.state.id(&id)?
    );
    Ok(())
}

pub async fn stop(ctx: Arc<Ctx>, user: Option<String>) -> Result<()> {
    let (i, user) = user_index(&ctx, user.as_deref())?;
    let graph = graph::build(&ctx.s);
    let id = StepId::APP.for_user(i, &user);
    let step = graph.get(&id).context("the stack has no app step for this user")?;
    let Some(app) = ctx.state.record(&id).and_then(|r| r.id) else {
        println!("User {user} has no app recorded: nothing to stop.");
        return Ok(());
    };
    if let Health::Stopped(_) = step.kind.health(&ctx, &id, &app).await? {
        println!("The app of {user} is already stopped ({app}).");
        return Ok(());
    }
    eprintln!("stopping the JupyterLab app of {user} ({app})");
    step.kind.delete(&ctx, &app).await.with_context(|| format!("stopping app {app}"))?;
    println!(
        "Stopped the app of {user}; its space and EBS volume stay. `provision start --user {user}` starts it again."
    );
    Ok(())
}
