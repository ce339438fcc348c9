//! What every command that talks to AWS does first: choose the state's
//! store (the one place that knows which), resolve the parameters
//! (recorded, config file, flags), ask STS for the account, and open the
//! state for the stack, refusing a foreign one.

use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::args::Global;
use crate::aws::{Clients, ConnOptions};
use crate::config::{InvalidInput, RawParams, Settings};
use crate::error::{EXIT_INVALID, Exit};
use crate::kinds::{Ctx, DownOptions};
use crate::state::{self, FileStore, Identity, Location, LockInfo, S3Store, State, StateStore};

/// The project a command is about before any AWS call: the flag, else the
/// config file's, else the default.
pub fn project_of(g: &Global) -> Result<String> {
    if let Some(p) = &g.params.project {
        return Ok(p.clone());
    }
    let from_file = match &g.config {
        Some(p) => RawParams::from_file(p).map_err(|e| Exit(EXIT_INVALID, e))?.project,
        None => None,
    };
    Ok(from_file.unwrap_or_else(|| crate::config::DEFAULT_PROJECT.to_string()))
}

/// Where the state is: `--state` (or `PROVISION_STATE`), else `state/<project>.json`.
pub fn location(g: &Global, project: &str) -> Result<Location> {
    match &g.state {
        Some(s) => Location::parse(s, project).map_err(|e| Exit(EXIT_INVALID, e).into()),
        None => Ok(Location::default_for(project)),
    }
}

/// The one place a store is chosen: the file, or the S3 object through a
/// client of its own (`--state-profile`, `--state-region`; else the
/// stack's profile and region). `region` is the stack's, when known.
pub fn store(g: &Global, location: &Location, region: Option<String>) -> Result<Arc<dyn StateStore>> {
    Ok(match location {
        Location::File(p) => Arc::new(FileStore::new(p)),
        Location::S3 { bucket, key } => {
            let conn = ConnOptions {
                region: g.state_region.clone().or(region),
                profile: g.state_profile.clone().or(g.profile.clone()),
                endpoint_url: g.endpoint_url.clone(),
            };
            Arc::new(S3Store::open(bucket, key, conn)?)
        }
    })
}

/// Resolves parameters: recorded ones (state), then the config file, then
/// flags. Returns settings, the state's store and the connection (its
/// region the stack's). The only AWS call is the state's read when it is in
/// S3.
async fn resolve(g: &Global) -> Result<(Settings, Arc<dyn StateStore>, ConnOptions)> {
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
    let store = store(g, &location(g, &project)?, g.region.clone().or(from_file.region.clone()))?;
    let recorded = state::peek(&*store)?.map(|doc| RawParams::from_recorded(doc.params)).unwrap_or_default();
    if g.region.is_some() {
        from_file.region = g.region.clone();
    }
    let mut raw = crate::config::layer(recorded, from_file, flags);
    let conn =
        ConnOptions { region: raw.region.clone(), profile: g.profile.clone(), endpoint_url: g.endpoint_url.clone() };
    let sdk = loaded(&conn).await;
    if raw.region.is_none() {
        raw.region = sdk.region().map(|r| r.to_string());
    }
    let settings = Settings::resolve(raw, g.any_region).map_err(|e: InvalidInput| invalid(e.to_string()))?;
    let conn = if sdk.region().map(|r| r.as_ref()) == Some(settings.region.as_str()) {
        conn
    } else {
        ConnOptions { region: Some(settings.region.clone()), ..conn }
    };
    Ok((settings, store, conn))
}

/// What a connection (region, profile, endpoint) gives once per process: the
/// SDK config (its credentials, loaded once: an SSO or assume-role profile
/// is not asked again), the clients (their open connections, and the EC2
/// pacer: EC2 throttles per account and region, `crate::pace`) and the
/// caller's identity (one GetCallerIdentity). `up` connects twice, for the
/// pre-flight and then under the lock; the second reuses the first's.
#[derive(Clone)]
struct Session {
    clients: Clients,
    account: String,
    arn: String,
}

static SDK_CONFIGS: Mutex<Vec<(ConnOptions, aws_config::SdkConfig)>> = Mutex::new(Vec::new());
static SESSIONS: Mutex<Vec<(ConnOptions, Session)>> = Mutex::new(Vec::new());

fn cached<T: Clone>(cache: &Mutex<Vec<(ConnOptions, T)>>, conn: &ConnOptions) -> Option<T> {
    cache.lock().unwrap().iter().find(|(c, _)| c == conn).map(|(_, v)| v.clone())
}

/// The SDK config of `conn`, loaded once per process.
async fn loaded(conn: &ConnOptions) -> aws_config::SdkConfig {
    if let Some(sdk) = cached(&SDK_CONFIGS, conn) {
        return sdk;
    }
    let sdk = crate::aws::load(conn).await;
    SDK_CONFIGS.lock().unwrap().push((conn.clone(), sdk.clone()));
    sdk
}

/// The clients and identity of `conn`, made and asked once per process.
async fn session(conn: &ConnOptions) -> Result<Session> {
    if let Some(s) = cached(&SESSIONS, conn) {
        return Ok(s);
    }
    let clients = Clients::new(&loaded(conn).await);
    let (account, arn) = clients.identity().await?;
    let s = Session { clients, account, arn };
    SESSIONS.lock().unwrap().push((conn.clone(), s.clone()));
    Ok(s)
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
/// `verb` is the command (`up`, `firewall allow`), which the lock records.
pub async fn connect(g: &Global, access: Access, down: DownOptions, verb: &str) -> Result<Arc<Ctx>> {
    let (settings, store, conn) = resolve(g).await?;
    let Session { clients, account, arn } = session(&conn).await?;
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
        Access::Read => State::open_read_in(store, &who, false)?,
        Access::ReadOrEmpty => State::open_read_in(store, &who, true)?,
        Access::WriteOrScratch if store.load()?.is_none() => State::scratch(store, &who),
        _ => State::open_in(store, &who, access == Access::Create, LockInfo::new(verb))?,
    };
    Ok(Arc::new(Ctx {
        aws: clients,
        s: Arc::new(settings),
        state,
        account,
        adopt: false,
        caller: arn,
        down,
        reads: Default::default(),
        polls: Default::default(),
        teardown: Default::default(),
    }))
}
