//! `provision down [--purge-efs] [--delete-data]`: remove the stack in
//! reverse dependency order; say what is kept and why.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::run::{RunOptions, refuse_dropped_parts, report, run_graph, stop_on_ctrl_c};
use crate::graph;
use crate::kinds::Ctx;
use crate::state::{self, Status};

pub async fn down(ctx: Arc<Ctx>, opts: RunOptions) -> Result<()> {
    let graph = graph::build_teardown(&ctx.s);
    refuse_dropped_parts(&ctx, &graph)?;
    let edges = graph.reversed_edges();
    eprintln!(
        "provision down{}{}: stack {} in {} (account {}), state {}",
        if ctx.down.purge_efs { " --purge-efs" } else { "" },
        if ctx.down.delete_data { " --delete-data" } else { "" },
        ctx.stack(),
        ctx.s.region,
        ctx.account,
        ctx.state.path().display()
    );
    let started = Instant::now();
    let stop = stop_on_ctrl_c("down");
    let (out, _) = run_graph(&ctx, &graph, &edges, &opts, stop, false).await;
    report(&graph, out, started, "down", graph.steps.len())?;
    let kept: Vec<(String, state::Record)> =
        ctx.state.doc().steps.into_iter().filter(|(_, r)| r.status == Some(Status::Retained)).collect();
    if kept.is_empty() {
        println!("Stack {} is gone ({:.1}s).", ctx.stack(), started.elapsed().as_secs_f64());
    } else {
        println!(
            "Stack {} removed except what holds data ({:.1}s); kept:",
            ctx.stack(),
            started.elapsed().as_secs_f64()
        );
        for (step, r) in kept {
            println!("  {step:<18} {:<28} {}", r.id.unwrap_or_default(), r.note.unwrap_or_default());
        }
    }
    Ok(())
}
