//! `provision iam-policy`: the least-privilege policy an operator needs,
//! from the one list of operations the tool calls (`crate::operations`).

use anyhow::Result;

use crate::operations::{self, When};

/// Prints the operator policy; `RUST_LOG=info` also says which operation
/// needs each action, and when it is called.
pub fn iam_policy() -> Result<()> {
    for op in operations::OPS {
        let when = match op.when {
            When::Run => "normal path",
            When::Conditional(why) | When::Leftover(why) => why,
        };
        tracing::info!("{} needs {} ({when})", op.call, op.actions.join(", "));
    }
    println!("{}", serde_json::to_string_pretty(&operations::policy())?);
    Ok(())
}
