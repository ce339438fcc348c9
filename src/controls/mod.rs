//! The seed's security controls as commands. The original sample was a
//! security demonstration whose claims were checked by hand and whose demo
//! edited the S3 endpoint policy and the firewall's allow-list in the
//! console; here each is a command:
//!
//! - `verify`: reads the live stack and checks every control (`verify.rs`);
//! - `jumpstart enable|disable`: the S3 endpoint's JumpStart statement
//!   (`jumpstart.rs`);
//! - `firewall list|allow|remove`: the rule group's domain allow-list
//!   (`firewall.rs`);
//! - `iam-policy`: the least-privilege policy an operator needs, from the
//!   one list of operations the tool calls (`operations.rs`).

use std::sync::Arc;

use anyhow::Result;

use crate::cli::FirewallAction;
use crate::kinds::Ctx;

mod firewall;
pub use firewall::check_domains;
mod jumpstart;
mod operations;
mod verify;

pub async fn verify(ctx: Arc<Ctx>, json: bool) -> Result<()> {
    verify::run(&ctx, json).await
}

pub async fn jumpstart(ctx: Arc<Ctx>, enable: bool) -> Result<()> {
    jumpstart::run(&ctx, enable).await
}

pub async fn firewall(ctx: Arc<Ctx>, action: &FirewallAction) -> Result<()> {
    firewall::run(&ctx, action).await
}

/// Prints the operator policy; `RUST_LOG=info` also says which operation
/// needs each action, and when it is called.
pub fn iam_policy() -> Result<()> {
    for op in operations::OPS {
        let when = match op.when {
            operations::When::Run => "normal path",
            operations::When::Conditional(why) | operations::When::Leftover(why) => why,
        };
        tracing::info!("{} needs {} ({when})", op.call, op.actions.join(", "));
    }
    println!("{}", serde_json::to_string_pretty(&operations::policy())?);
    Ok(())
}

pub use crate::policy::{parse as parse_policy, statements, strings};
