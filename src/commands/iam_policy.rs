//! `provision iam-policy`: the least-privilege policy an operator needs,
//! from the one list of operations the tool calls (`crate::operations`);
//! with a state in S3, also the state's calls, scoped to its key.

use anyhow::Result;

use super::args::Global;
use super::connect::{location, project_of};
use crate::operations::{self, When};
use crate::state::Location;

/// Prints the operator policy (no AWS call); `RUST_LOG=info` also says
/// which operation needs each action, and when it is called.
pub fn iam_policy(g: &Global) -> Result<()> {
    for op in operations::OPS {
        let when = match op.when {
            When::Run => "normal path",
            When::Conditional(why) | When::Leftover(why) => why,
        };
        tracing::info!("{} needs {} ({when})", op.call, op.actions.join(", "));
    }
    let policy = match location(g, &project_of(g)?)? {
        Location::File(_) => operations::policy(),
        Location::S3 { bucket, key } => {
            for op in operations::STATE_OPS.iter().filter(|o| o.on != operations::StateOn::Init) {
                tracing::info!("{} needs {} ({})", op.call, op.actions.join(", "), op.why);
            }
            operations::policy_with_state(&bucket, &key, false)
        }
    };
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(())
}
