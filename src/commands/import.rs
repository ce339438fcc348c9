//! `provision import`: the record back from the stack's second record, its
//! tags. Writes a state file from what AWS holds for the stack (each step's
//! resource found by its `provision:stack`/`provision:step` tags or its
//! unique name and tags), changing nothing in AWS. Refuses when a state file
//! exists (it is never overwritten).

use std::sync::Arc;

use anyhow::Result;

use crate::error::{EXIT_INVALID, Exit};
use crate::graph;
use crate::kinds::Ctx;
use crate::lifecycle;
use crate::state::LockInfo;

/// `verbose`: every step found, with its id, one a line (else a count).
pub async fn import(ctx: Arc<Ctx>, verbose: bool) -> Result<()> {
    if !ctx.state.is_scratch() {
        return Err(Exit(
            EXIT_INVALID,
            format!(
                "a state file exists at {}: import never overwrites one (`provision status` compares it with AWS)",
                ctx.state.location()
            ),
        )
        .into());
    }
    let graph = graph::build(&ctx.s);
    let found = lifecycle::rebuild(&ctx, &graph).await?;
    if let Some(why) = lifecycle::shape_mismatch(&ctx).await? {
        return Err(Exit(EXIT_INVALID, why).into());
    }
    if found.is_empty() {
        println!(
            "Nothing of stack {} found by its tags in {} (account {}); no state file written.",
            ctx.stack(),
            ctx.s.region,
            ctx.account
        );
        return Ok(());
    }
    let params = ctx.s.as_map();
    ctx.state.update(|d| d.params = params)?;
    ctx.state.materialize(LockInfo::new("import"))?;
    crate::progress::tell(&format!(
        "Imported {} of {} steps of stack {} into {}. `provision status` shows each with its id; `provision up` creates the rest.",
        found.len(),
        graph.steps.len(),
        ctx.stack(),
        ctx.state.location(),
    ));
    if verbose {
        let width = crate::progress::stdout_width();
        for (step, id) in &found {
            println!(
                "{}",
                crate::progress::fit_row(&format!("  {:<24}", step.as_str()), &format!("  {step}"), id, "", width)
            );
        }
    }
    Ok(())
}
