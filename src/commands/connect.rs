//! What every command that talks to AWS does first: resolve the
//! parameters (recorded, config file, flags; no AWS call), ask STS for the
//! account, and open the state for the stack, refusing a foreign one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use super::args::Global;
use crate::aws::{Clients, ConnOptions};
use crate::config::{InvalidInput, RawParams, Settings};
use crate::error::{EXIT_INVALID, Exit};
use crate::kinds::{Ctx, DownOptions};
use crate::state::{self, Identity, State};

pub fn default_state_path(project: &str) -> PathBuf {
    Path::new("state").join(format!("{project}.json"))
}

/// Resolves parameters: recorded ones (state), then the config file, then
/// flags. Returns settings, state path and SDK config. No AWS call is made.
async fn resolve(g: &Global) -> Result<(Settings, PathBuf, aws_config::SdkConfig)> {
    let invalid = |msg: String| Exit(EXIT_INVALID, msg);
    let mut from_file = match &g.config {
        Some(p) => RawParams::from_file(p).map_err(invalid)?,
        None => RawParams::default(),
    };
    let mut flags = g.params.to_raw();
    flags.expect_account = g.expect_account.clone();
    let project = flags
        .project
        .clone()
        .or(from_file.project.clone())
        .unwrap_or_else(|| crate::config::DEFAULT_PROJECT.to_string());
    let path = g.state.clone().unwrap_or_else(|| default_state_path(&project));
    let recorded = state::read(&path)?.map(|doc| RawParams::from_recorded(doc.params)).unwrap_or_default();
    if g.region.is_some() {
        from_file.region = g.region.clone();
    }
    let mut raw = crate::config::layer(recorded, from_file, flags);
    let conn =
        ConnOptions { region: raw.region.clone(), profile: g.profile.clone(), endpoint_url: g.endpoint_url.clone() };
    let sdk = crate::aws::load(&conn).await;
    if raw.region.is_none() {
        raw.region = sdk.region().map(|r| r.to_string());
    }
    let settings = Settings::resolve(raw, g.any_region).map_err(|e: InvalidInput| invalid(e.to_string()))?;
    let sdk = if sdk.region().map(|r| r.as_ref()) == Some(settings.region.as_str()) {
        sdk
    } else {
        crate::aws::load(&ConnOptions { region: Some(settings.region.clone()), ..conn }).await
    };
    Ok((settings, path, sdk))
}

/// How a command uses the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `up`: lock, create if absent, record the parameters.
    Create,
    /// Mutating commands on an existing stack: lock.
    Write,
    /// Read-only commands: no lock, nothing written.
    Read,
    /// Like `Read`, and a missing state file is an empty stack (`plan`).
    ReadOrEmpty,
    /// `Write`, and a missing state file is an empty scratch record, kept in
    /// memory until the command decides to write it (`down`, `import`
    /// without a state: what AWS holds is gathered there first).
    WriteOrScratch,
}

/// Resolves parameters, asks STS for the account, opens the state for the
/// stack (refusing a foreign one) and builds the context every command uses.
pub async fn connect(g: &Global, access: Access, down: DownOptions) -> Result<Arc<Ctx>> {
    let (settings, path, sdk) = resolve(g).await?;
    let clients = Clients::new(&sdk);
    let (account, arn) = clients.identity().await?;
    if let Some(want) = settings.expect_account.as_deref()
        && want != account
    {
        return Err(Exit(
            EXIT_INVALID,
            format!(
                "expect_account: the credentials belong to account {account} ({arn}), not {want}; nothing was done. Use the credentials of account {want} (AWS_PROFILE, aws sso login) or change --expect-account"
            ),
        )
        .into());
    }
    let who = Identity { stack: settings.stack(), region: &settings.region, account: &account };
    let state = match access {
        Access::Read => State::open_read(&path, &who, false)?,
        Access::ReadOrEmpty => State::open_read(&path, &who, true)?,
        Access::WriteOrScratch if !path.exists() => State::scratch(&path, &who),
        _ => State::open(&path, &who, access == Access::Create)?,
    };
    Ok(Arc::new(Ctx { aws: clients, s: Arc::new(settings), state, account, adopt: false, caller: arn, down }))
}
