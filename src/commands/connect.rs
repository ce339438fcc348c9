//! What every command that talks to AWS does after resolving its
//! parameters (`resolve.rs`): ask STS for the account and open the state
//! for the stack, refusing a foreign one.

use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};

use super::resolve::{Resolved, loaded};
use crate::aws::{Clients, ConnOptions};
use crate::error::{EXIT_INVALID, Exit};
use crate::kinds::{Ctx, DownOptions};
use crate::state::{Identity, LockInfo, State};

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
    /// Which source of the chain gave the credentials (`aws::credential_source`).
    source: Option<String>,
}

static SESSIONS: Mutex<Vec<(ConnOptions, Session)>> = Mutex::new(Vec::new());

/// The clients and identity of `conn`, made and asked once per process.
async fn session(conn: &ConnOptions, ambient_profile: &str) -> Result<Session> {
    if let Some(s) = SESSIONS.lock().unwrap().iter().find(|(c, _)| c == conn).map(|(_, v)| v.clone()) {
        return Ok(s);
    }
    let clients = Clients::new(&loaded(conn).await);
    let (account, arn) = clients.identity().await?;
    let source = crate::aws::credential_source(conn.profile.as_deref(), ambient_profile);
    let s = Session { clients, account, arn, source };
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

/// Asks STS for the account, opens the state for the stack (refusing a
/// foreign one) and builds the context every command uses. `verb` is the
/// command (`up`, `firewall allow`), which the lock records. The state is
/// not read again before the lock: `r.stored` is what was read; under the
/// lock it is read once more.
pub async fn connect(r: &Resolved, access: Access, down: DownOptions, verb: &str) -> Result<Arc<Ctx>> {
    let (settings, store) = (r.settings.clone(), r.store.clone());
    let Session { clients, account, arn, source } = session(&r.conn, &r.ambient_profile).await?;
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
    let stored = r.stored.clone();
    let state = match access {
        Access::Read => State::open_read_from(store, stored, &who, false)?,
        Access::ReadOrEmpty => State::open_read_from(store, stored, &who, true)?,
        Access::WriteOrScratch if stored.is_none() => State::scratch(store, &who),
        Access::Write if stored.is_none() => bail!("no {}: nothing was provisioned with it", store.what()),
        _ => State::lock_and_open(store, &who, access == Access::Create, LockInfo::new(verb))?,
    };
    Ok(Arc::new(Ctx {
        aws: clients,
        s: settings,
        state,
        account,
        adopt: false,
        caller: arn,
        credentials: source,
        down,
        reads: Default::default(),
        polls: Default::default(),
        teardown: Default::default(),
    }))
}
