//! The seed's security controls as commands: `verify`, `jumpstart`,
//! `firewall`, `iam-policy`. (Being written in this session.)

use std::sync::Arc;

use anyhow::{Result, bail};

use crate::cli::FirewallAction;
use crate::resources::Ctx;

pub async fn verify(_ctx: Arc<Ctx>, _json: bool) -> Result<()> {
    bail!("provision verify is not available yet")
}

pub async fn jumpstart(_ctx: Arc<Ctx>, _enable: bool) -> Result<()> {
    bail!("provision jumpstart is not available yet")
}

pub async fn firewall(_ctx: Arc<Ctx>, _action: &FirewallAction) -> Result<()> {
    bail!("provision firewall is not available yet")
}

pub fn iam_policy() -> Result<()> {
    bail!("provision iam-policy is not available yet")
}
