//! The one place a run's parameters are resolved, as ripgrep resolves its
//! flags once: every command takes its project, region, config file, state
//! store and settings from here. Nothing else in `src/` reads the config
//! file or the environment for parameters (`tests/layers.rs` checks it).
//!
//! Two stages, so that a command asks only for what it needs:
//! - `Invocation::new` (no I/O but the config file's one read): the config
//!   file's parameters, the project, where the state is, the region given;
//! - `Invocation::resolve`: the state read once (before any lock), the
//!   parameters layered (recorded, config file, flags: `config::layer`),
//!   the region completed from the AWS config chain, and `Settings`.

use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::args::Global;
use crate::aws::ConnOptions;
use crate::config::{InvalidInput, RawParams, Settings};
use crate::error::{EXIT_INVALID, Exit};
use crate::state::{self, FileStore, Location, S3Store, StateStore, Stored};

fn invalid(msg: String) -> anyhow::Error {
    Exit(EXIT_INVALID, msg).into()
}

/// What a run is about before any AWS call.
pub struct Invocation<'g> {
    pub g: &'g Global,
    /// The config file's parameters (`--config`; empty without one), read
    /// once: a missing or malformed file is exit 2.
    pub file: RawParams,
    /// The flag, else the config file's, else the default.
    pub project: String,
    /// `AWS_REGION`: below `--region` and an explicit config file's region.
    pub ambient_region: Option<String>,
}

/// What `Invocation::resolve` gives: the settings the rest trusts, the
/// state's store, the state as read once before any lock, and the stack's
/// connection.
pub struct Resolved {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn StateStore>,
    /// `None`: there is no state yet.
    pub stored: Option<Stored>,
    pub conn: ConnOptions,
    /// The profile the SDK's chain reads without `--profile`: `AWS_PROFILE`, else `default`.
    pub ambient_profile: String,
}

impl<'g> Invocation<'g> {
    pub fn new(g: &'g Global) -> Result<Invocation<'g>> {
        let file = match &g.config {
            Some(p) => RawParams::from_file(p).map_err(invalid)?,
            None => RawParams::default(),
        };
        let project =
            g.params.project.clone().or(file.project.clone()).unwrap_or_else(|| crate::config::DEFAULT_PROJECT.into());
        let ambient_region = g.ambient_region.clone().filter(|r| !r.is_empty());
        Ok(Invocation { g, file, project, ambient_region })
    }

    /// The stack's region as given: the flag, else the config file's (an
    /// explicit file wins over the environment), else `AWS_REGION`. `None`:
    /// the recorded one or the AWS config file's.
    pub fn region(&self) -> Option<String> {
        self.g.params.region.clone().or(self.file.region.clone()).or(self.ambient_region.clone())
    }

    /// When `AWS_REGION` says another region than the one given by
    /// `--region` or the config file, which one is used and why.
    fn region_note(&self, region: &str) -> Option<String> {
        let env = self.ambient_region.as_deref().filter(|e| *e != region)?;
        let source = match (&self.g.params.region, &self.g.config) {
            (Some(_), _) => "--region".to_string(),
            (None, Some(file)) if self.file.region.is_some() => format!("the config file {}", file.display()),
            _ => return None,
        };
        Some(format!(
            "region {region} from {source}, not AWS_REGION={env} (the flag, then the config file, win over the environment)"
        ))
    }

    /// Where the state of `project` is: `--state` (or `PROVISION_STATE`),
    /// else `state/<project>.json`.
    pub fn location_for(&self, project: &str) -> Result<Location> {
        match &self.g.state {
            Some(s) => Location::parse(s, project).map_err(invalid),
            None => Ok(Location::default_for(project)),
        }
    }

    /// Where this run's state is.
    pub fn location(&self) -> Result<Location> {
        self.location_for(&self.project)
    }

    /// A connection with the stack's profile and endpoint, in `region`.
    pub fn conn(&self, region: Option<String>) -> ConnOptions {
        ConnOptions { region, profile: self.g.profile.clone(), endpoint_url: self.g.endpoint_url.clone() }
    }

    /// The state bucket's connection: `--state-profile` and `--state-region`,
    /// else the stack's profile and region as given (`region`).
    pub fn state_conn(&self) -> ConnOptions {
        ConnOptions {
            region: self.g.state_region.clone().or(self.region()),
            profile: self.g.state_profile.clone().or(self.g.profile.clone()),
            endpoint_url: self.g.endpoint_url.clone(),
        }
    }

    /// The one place a store is chosen: the file, or the S3 object through
    /// a client of its own (`state_conn`).
    pub fn store_at(&self, location: &Location) -> Result<Arc<dyn StateStore>> {
        Ok(match location {
            Location::File(p) => Arc::new(FileStore::new(p)),
            Location::S3 { bucket, key } => Arc::new(S3Store::open(bucket, key, self.state_conn())?),
        })
    }

    /// This run's state store.
    pub fn store(&self) -> Result<Arc<dyn StateStore>> {
        self.store_at(&self.location()?)
    }

    /// Reads the state once, layers the parameters (recorded, config file,
    /// flags) and resolves them into settings; an invalid one is exit 2
    /// before any AWS call but the state's read when it is in S3.
    pub async fn resolve(&self) -> Result<Resolved> {
        let store = self.store()?;
        let stored = store.load()?;
        let recorded = match &stored {
            Some(s) => {
                // An unfinished `up`'s parameters first: a bare re-run goes on with that change.
                let doc = state::parse_from(&*store, &s.bytes)?;
                RawParams::from_recorded(if doc.applying.is_empty() { doc.params } else { doc.applying })
            }
            None => RawParams::default(),
        };
        // What the user gives may not admit all of AWS; a record of an earlier version may
        // (it still resolves: `verify` names the suffix, `firewall remove` takes it out).
        let wide_given = self.file.clone().overlay(self.g.params.clone()).allowed_domains.unwrap_or_default();
        let wide = crate::config::aws_wide_errors("allowed_domains", &wide_given);
        // The environment's region sits under the config file's: an explicit file wins over it.
        let given =
            RawParams { region: self.ambient_region.clone(), ..RawParams::default() }.overlay(self.file.clone());
        let mut raw = crate::config::layer(recorded, given, self.g.params.clone());
        let conn = self.conn(raw.region.clone());
        let sdk = loaded(&conn).await;
        if raw.region.is_none() {
            raw.region = sdk.region().map(|r| r.to_string());
        }
        let settings = match Settings::resolve(raw, self.g.any_region) {
            Ok(_) if !wide.is_empty() => Err(InvalidInput(wide)),
            Err(InvalidInput(mut errs)) => {
                errs.extend(wide);
                Err(InvalidInput(errs))
            }
            ok => ok,
        }
        .map_err(|e: InvalidInput| invalid(e.to_string()))?;
        if let Some(note) = self.region_note(&settings.region) {
            crate::progress::say(&note);
        }
        let conn = if sdk.region().map(|r| r.as_ref()) == Some(settings.region.as_str()) {
            conn
        } else {
            self.conn(Some(settings.region.clone()))
        };
        let ambient_profile =
            self.g.ambient_profile.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".to_string());
        Ok(Resolved { settings: Arc::new(settings), store, stored, conn, ambient_profile })
    }
}

static SDK_CONFIGS: Mutex<Vec<(ConnOptions, aws_config::SdkConfig)>> = Mutex::new(Vec::new());

/// The SDK config of `conn` (its region, its credentials), loaded once per
/// process: an SSO or assume-role profile is not asked again.
pub async fn loaded(conn: &ConnOptions) -> aws_config::SdkConfig {
    if let Some(sdk) = SDK_CONFIGS.lock().unwrap().iter().find(|(c, _)| c == conn).map(|(_, v)| v.clone()) {
        return sdk;
    }
    let sdk = crate::aws::load(conn).await;
    SDK_CONFIGS.lock().unwrap().push((conn.clone(), sdk.clone()));
    sdk
}
