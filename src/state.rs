//! The state: the user's only record of what exists. Treated like a
//! database, wherever it is kept.
//!
//! `State` is the open state of a run; it knows its document and nothing of
//! where it is stored: that is a `StateStore`, of which there are two —
//! a local file (`file`, the default) and an S3 object (`s3`, for teams and
//! CI: `--state s3://BUCKET/KEY`). Every guarantee below holds for both;
//! what differs is said per store.
//!
//! - Versioned schema (`schema`); an unknown version is refused, never
//!   rewritten. Stack, region and account are recorded, and a run against
//!   another is refused (`check_identity`). Both checks are here, above the
//!   stores, so a state in S3 is checked exactly as a file.
//! - Every transition is persisted before the call that recorded it
//!   returns (`State::update`). Updates made while a write is under way go
//!   out together in the next write. File: an atomic replace (temporary
//!   file, fsync, rename, fsync the directory), so a kill leaves the old or
//!   the new file, never a torn one. S3: one PutObject, which S3 applies
//!   whole (strong read-after-write consistency).
//! - No lost update: S3 writes are conditional — `If-None-Match: *` for the
//!   first, `If-Match: <ETag last read or written>` after — and a refused
//!   write (412) stops the run without overwriting anything; the run's own
//!   version is saved beside the state (`Conflict`). The file store relies
//!   on its lock: no other provision run can write the file meanwhile.
//! - The previous version is kept: the file's `<file>.bak` when a run opens
//!   it; in S3 the bucket's versioning keeps every version (`state init`).
//! - One run at a time: the lock, taken for the whole run by every command
//!   that writes, released at its end, after a failure or a first Ctrl-C.
//!   File: `<file>.lock` with `File::try_lock` (the OS releases it when the
//!   process ends). S3: the object `<key>.lock`, created with
//!   `If-None-Match: *`, renewed (heartbeat) while the run lasts, deleted
//!   with `If-Match` at its end. A second run is refused at once (exit 3)
//!   with the holder's name, command and the lock's age; a lock whose
//!   run is gone (its process is not running on this host, or no heartbeat
//!   for `LOCK_STALE`) is said to be so, with the id `force-unlock` takes.
//!   Read-only commands never take the lock.
//! - No secrets: ids, names, ARNs and client tokens only; the lock holds
//!   user, host, pid, command and times.

use std::collections::BTreeMap;
#[cfg(test)]
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::error::{EXIT_LOCKED, Exit};
use crate::step_id::StepId;

mod file;
mod s3;

#[cfg(test)]
use file::lock_path;
pub use file::{FileStore, backup_path};
pub use s3::{BucketChange, S3Store, STATE_BUCKET_TAG, held_locks, init_bucket, tls_only_policy};

/// 2: today's Studio (a space per user; Studio Classic apps recorded by
/// version 1 under `sm.classic_app`). Version 1 files are upgraded when
/// read (`upgrade`); the first write saves them as 2, the `.bak` keeps the 1.
pub const SCHEMA: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The create call is about to be (or was) sent; `token` identifies it.
    Creating,
    /// AWS returned the id; the resource may still be becoming ready.
    Created,
    /// Created and ready.
    Ready,
    /// A delete call was sent.
    Deleting,
    /// Kept on purpose by `down` (user data); `down --purge-efs` / `--delete-data` removes it.
    Retained,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Idempotency token sent with the create call (ClientToken, CreationToken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Other facts later steps or teardown need (ARNs, endpoint ids, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the last create call was about to be sent (ms since the epoch):
    /// a resumed run lets a call the killed run left in flight land before
    /// it looks for its resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_ms: Option<u64>,
    pub updated: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    pub schema: u32,
    pub stack: String,
    pub region: String,
    pub account: String,
    /// The parameters of the last `up` (for `plan` and `outputs`).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub steps: BTreeMap<String, Record>,
}

impl StateDoc {
    /// An empty stack for `who`.
    pub fn new(who: &Identity) -> StateDoc {
        StateDoc {
            schema: SCHEMA,
            stack: who.stack.to_string(),
            region: who.region.to_string(),
            account: who.account.to_string(),
            params: BTreeMap::new(),
            steps: BTreeMap::new(),
        }
    }

    /// When the stack last changed (the latest record's `updated`, seconds
    /// since the epoch), for messages comparing two states.
    pub fn last_change(&self) -> u64 {
        self.steps.values().map(|r| r.updated).max().unwrap_or(0)
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Where the state is kept: `--state` (or `PROVISION_STATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl Location {
    /// `s3://BUCKET/KEY` or a file path. A key that is empty or ends with
    /// `/` is a prefix: the state is `<prefix><project>.json` in it, as the
    /// default file is `state/<project>.json`.
    pub fn parse(s: &str, project: &str) -> std::result::Result<Location, String> {
        let Some(rest) = s.strip_prefix("s3://") else {
            if s.is_empty() {
                return Err("--state: empty location".into());
            }
            return Ok(Location::File(PathBuf::from(s)));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket_name(bucket).map_err(|e| format!("--state '{s}': {e}"))?;
        let key = if key.is_empty() || key.ends_with('/') { format!("{key}{project}.json") } else { key.to_string() };
        if key.len() > 1000 || key.contains("//") {
            return Err(format!("--state '{s}': '{key}' is not a usable object key"));
        }
        Ok(Location::S3 { bucket: bucket.to_string(), key })
    }

    /// The default: `state/<project>.json`.
    pub fn default_for(project: &str) -> Location {
        Location::File(Path::new("state").join(format!("{project}.json")))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// S3's rules for a general purpose bucket's name (S3 user guide, "General
/// purpose bucket naming rules"): 3 to 63 characters, lowercase letters,
/// digits, dots and hyphens, beginning and ending with a letter or digit,
/// not shaped like an IP address.
pub fn check_bucket_name(b: &str) -> std::result::Result<(), String> {
    let ok_chars = b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let edges = b.starts_with(|c: char| c.is_ascii_alphanumeric()) && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&b.len())
        || !ok_chars
        || !edges
        || b.contains("..")
        || b.parse::<std::net::Ipv4Addr>().is_ok()
    {
        return Err(format!(
            "'{b}' is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// What a store holds: the document's bytes and their version (the S3
/// ETag; empty for a file, whose writes are guarded by the lock alone).
#[derive(Debug, Clone)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub version: String,
}

/// Where a state is kept. Bytes in, bytes out: parsing, schema and
/// identity checks are `State`'s, the same for every store.
pub trait StateStore: Send + Sync {
    /// What to call it in messages: `state file state/x.json`, `state s3://b/k`.
    fn what(&self) -> String;
    /// Its location, as `--state` takes it.
    fn location(&self) -> Location;
    /// How to get a previous version back (for messages).
    fn restore_hint(&self) -> String;
    /// The current document, `None` if there is none.
    fn load(&self) -> Result<Option<Stored>>;
    /// Takes the run's lock or refuses at once (exit 3, naming the holder).
    fn lock(&self, info: &LockInfo) -> Result<Box<dyn Held>>;
    /// Who holds the lock now, without taking it (`None` when free, or when
    /// the store cannot tell without disturbing the holder).
    fn holder(&self) -> Result<Option<LockInfo>>;
    /// Keeps the version a run starts from (file: `.bak`; S3: versioning does).
    fn backup(&self, current: &Stored) -> Result<()>;
    /// Writes the document if the stored version is still `expected`
    /// (`None`: only if there is none); returns the new version. A
    /// mismatch is a `Conflict` error and nothing is written.
    fn save(&self, bytes: &[u8], expected: Option<&str>) -> Result<String>;
    /// Saves a run's version that could not be written as the state (after
    /// a conflict) beside it, under `tag`; returns where it went.
    fn save_aside(&self, bytes: &[u8], tag: &str) -> Result<String>;
    /// Removes the lock `id` left by a run that is gone; refuses another id.
    fn force_unlock(&self, id: &str) -> Result<LockInfo>;
}

/// A lock a run holds. Dropping it releases it.
pub trait Held: Send {
    fn id(&self) -> &str;
    /// Releases it (idempotent).
    fn release(&mut self) -> Result<()>;
    /// Whether it was taken from this run (force-unlock) while it ran.
    fn lost(&self) -> bool {
        false
    }
}

/// The S3 lock is renewed this often while its run lasts (scaled like
/// every wait, `PROVISION_TIME_SCALE`, but not below a second).
pub const LOCK_HEARTBEAT: Duration = Duration::from_secs(60);
/// A lock not renewed for this long belongs to a run that is gone (scaled,
/// but not below ten seconds: a busy machine delays a renewal by more than
/// a scaled minute).
pub const LOCK_STALE: Duration = Duration::from_secs(5 * 60);

pub fn heartbeat_every() -> Duration {
    crate::wait::scaled(LOCK_HEARTBEAT).max(Duration::from_secs(1))
}

pub fn stale_after() -> Duration {
    crate::wait::scaled(LOCK_STALE).max(Duration::from_secs(10))
}

/// Who holds a lock, stored in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    /// What `force-unlock` takes.
    pub id: String,
    /// The command that holds it (`provision up`).
    pub command: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// When it was taken (RFC 3339, UTC) and the same in ms since the epoch.
    pub created: String,
    pub created_ms: u64,
    /// Last renewal (ms since the epoch); the file lock is never renewed.
    #[serde(default)]
    pub heartbeat_ms: u64,
    pub version: String,
}

impl LockInfo {
    /// This process, about to run `command` (`up`, `firewall allow`, ...).
    pub fn new(command: &str) -> LockInfo {
        let ms = now_ms();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            command: format!("provision {command}").trim().to_string(),
            user: user_name(),
            host: host_name(),
            pid: std::process::id(),
            created: rfc3339(ms),
            created_ms: ms,
            heartbeat_ms: ms,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// One line: `provision up` by alice on laptop (pid 42), taken ... ago.
    pub fn describe(&self, now: u64) -> String {
        format!(
            "`{}` by {} on {} (pid {}), taken {} ({} ago)",
            self.command,
            self.user,
            self.host,
            self.pid,
            self.created,
            age(now.saturating_sub(self.created_ms))
        )
    }

    /// Why the run holding this lock is gone, if it is: its process no
    /// longer runs on this host, or it has not renewed a renewable lock for
    /// `stale`. `None`: it may still be running.
    pub fn gone(&self, now: u64, stale: Duration, renewed: bool, alive: impl Fn(u32) -> bool) -> Option<String> {
        if self.host == host_name() && !alive(self.pid) {
            return Some(format!("its process {} no longer runs on this host", self.pid));
        }
        let quiet = now.saturating_sub(self.heartbeat_ms.max(self.created_ms));
        (renewed && quiet > stale.as_millis() as u64).then(|| {
            format!(
                "it has not renewed the lock for {} (a running one does every {})",
                age(quiet),
                age(heartbeat_every().as_millis() as u64)
            )
        })
    }
}

/// Whether process `pid` exists on this host (signal 0 checks without sending).
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks the process exists and may be signalled.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The refusal of a second run: exit 3, the holder, its lock's age, and
/// what to do — wait, or `force-unlock` a lock whose run is gone.
/// `renewable`: the lock is an object the holder renews and `force-unlock`
/// removes (S3); a file lock ends with its process.
pub fn locked_error(what: &str, holder: Option<&LockInfo>, renewable: bool) -> anyhow::Error {
    let now = now_ms();
    let msg = match holder {
        None => format!("{what} is locked by another provision run; wait for it to finish"),
        Some(h) if !renewable => {
            format!("{what} is locked by another provision run: {}; wait for it to finish", h.describe(now))
        }
        Some(h) => match h.gone(now, stale_after(), true, pid_alive) {
            Some(why) => format!(
                "{what} is locked by a run that is gone: {}; {why}, so it was killed or crashed. Lock id {}. \
                 `provision plan` shows what it left; then `provision force-unlock {}` removes the lock and the next run resumes",
                h.describe(now),
                h.id,
                h.id
            ),
            None => format!(
                "{what} is locked by another provision run: {}{}; lock id {}. Wait for it to finish; \
                 if that run was killed, `provision force-unlock {}` removes the lock",
                h.describe(now),
                if h.heartbeat_ms > h.created_ms {
                    format!(", renewed {} ago", age(now.saturating_sub(h.heartbeat_ms)))
                } else {
                    String::new()
                },
                h.id,
                h.id
            ),
        },
    };
    Exit(EXIT_LOCKED, msg).into()
}

fn user_name() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        // SAFETY: getuid never fails.
        format!("uid {}", unsafe { libc::getuid() })
    })
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `2h03m`, `4m12s`, `3.2s`.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// A write refused because the stored state is no longer the version this
/// run last read or wrote: someone else changed it.
#[derive(Debug)]
pub struct Conflict(pub String);

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Conflict {}

/// Whether `e` is a state conflict (the run stopped without overwriting).
pub fn is_conflict(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Conflict>())
}

/// Reads and checks a state file without locking it. `Ok(None)` if absent.
pub fn read(path: &Path) -> Result<Option<StateDoc>> {
    peek(&FileStore::new(path))
}

/// Reads and checks the state of `store` without locking it. `Ok(None)` if absent.
pub fn peek(store: &dyn StateStore) -> Result<Option<StateDoc>> {
    store.load()?.map(|s| parse(store, &s.bytes)).transpose()
}

/// Parses a stored document: schema version 1 (upgraded) or 2; anything
/// else is refused and left untouched.
fn parse(store: &dyn StateStore, bytes: &[u8]) -> Result<StateDoc> {
    let what = store.what();
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| anyhow!("{what} is not valid JSON ({e}); it was left untouched. {}", store.restore_hint()))?;
    let version = v.get("schema").and_then(|s| s.as_u64());
    match version {
        Some(n) if n == SCHEMA as u64 || n == 1 => {}
        Some(n) => bail!(
            "{what} has schema version {n}; this provision understands versions 1 to {SCHEMA}. It was left untouched"
        ),
        None => bail!("{what} has no schema version: it is not a provision state. It was left untouched"),
    }
    let mut v = v;
    v["schema"] = SCHEMA.into();
    let mut doc: StateDoc = serde_json::from_value(v)
        .map_err(|e| anyhow!("{what} does not match schema {SCHEMA} ({e}); it was left untouched"))?;
    if version == Some(1) {
        upgrade(&mut doc);
    }
    Ok(doc)
}

/// The bytes a document is stored as (the same for every store).
pub fn to_bytes(doc: &StateDoc) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(doc)?)
}

/// Parses bytes read from elsewhere (a file given to `state push`) as a state.
pub fn parse_from(store: &dyn StateStore, bytes: &[u8]) -> Result<StateDoc> {
    parse(store, bytes)
}

/// Version 1 to 2: an app recorded for `sm.app[.user]` that is a Studio
/// Classic app (its id `{domain}/{profile}/JupyterServer/default`) moves to
/// `sm.classic_app[.user]`, where teardown deletes it and `up` never
/// creates one again; `sm.app` then means the JupyterLab app of the user's space.
pub fn upgrade(doc: &mut StateDoc) {
    let classic: Vec<String> = doc
        .steps
        .iter()
        .filter(|(k, r)| {
            StepId::recorded(k.as_str()).is_zone_of(&StepId::APP)
                && r.id.as_deref().is_some_and(|id| id.split('/').nth(2).is_some_and(|t| t == "JupyterServer"))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in classic {
        if let Some(r) = doc.steps.remove(&k) {
            let suffix = &k[StepId::APP.as_str().len()..];
            doc.steps.insert(format!("{}{suffix}", StepId::CLASSIC_APP), r);
        }
    }
    doc.schema = SCHEMA;
}

/// What a dependent needs is not recorded (an id or an attribute).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unrecorded(String);

/// Whether `e` is (or was caused by) an `Unrecorded`.
pub fn is_unrecorded(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Unrecorded>())
}

/// An open state. Cloning shares it.
#[derive(Clone)]
pub struct State {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn StateStore>,
    /// The document and how many updates it has had.
    doc: Mutex<(StateDoc, u64)>,
    /// Held while writing, so writes go out one at a time, in order.
    writer: Mutex<Writer>,
    writable: bool,
    /// A scratch record (`State::scratch`): changed in memory, not written
    /// until `materialize`.
    scratch: std::sync::atomic::AtomicBool,
}

struct Writer {
    /// The stored version this run last read or wrote (`None`: none stored yet).
    version: Option<String>,
    /// How many updates the stored document includes.
    written: u64,
    /// The run's lock; `None` for read-only handles and once released.
    lock: Option<Box<dyn Held>>,
    /// Set by the first conflict: where this run's version is saved instead.
    conflict: Option<String>,
}

/// What the run is about to act on: the state must belong to it.
pub struct Identity<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

/// Runs `f` on the calling thread, telling a multi-threaded tokio runtime
/// first that this thread blocks (so its other tasks move on).
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl State {
    /// Locks and opens (or creates, if `create`) the state file at `path` for `who`.
    pub fn open(path: &Path, who: &Identity, create: bool) -> Result<State> {
        State::open_in(Arc::new(FileStore::new(path)), who, create, LockInfo::new(""))
    }

    /// Opens an existing state file for reading only: no lock, no write.
    pub fn open_read(path: &Path, who: &Identity, allow_missing: bool) -> Result<State> {
        State::open_read_in(Arc::new(FileStore::new(path)), who, allow_missing)
    }

    /// Locks and opens (or creates, if `create`) the state of `store` for
    /// `who`. A foreign or unreadable state is refused and left untouched
    /// (and the lock released).
    pub fn open_in(store: Arc<dyn StateStore>, who: &Identity, create: bool, info: LockInfo) -> Result<State> {
        // Nothing to act on: refused before any lock is taken (a file's
        // lock file is never removed, since another run may be waiting on it).
        if !create && store.load()?.is_none() {
            bail!("no {}: nothing was provisioned with it", store.what());
        }
        let lock = store.lock(&info)?;
        let stored = store.load()?;
        let doc = match &stored {
            Some(s) => {
                let doc = parse(&*store, &s.bytes)?;
                check_identity(&*store, &doc, who)?;
                store.backup(s)?;
                doc
            }
            None if create => StateDoc::new(who),
            None => bail!("no {}: nothing was provisioned with it", store.what()),
        };
        let state = State {
            inner: Arc::new(Shared {
                store,
                doc: Mutex::new((doc, 0)),
                writer: Mutex::new(Writer {
                    version: stored.map(|s| s.version),
                    written: 0,
                    lock: Some(lock),
                    conflict: None,
                }),
                writable: true,
                scratch: false.into(),
            }),
        };
        state.persist()?;
        Ok(state)
    }

    /// Opens an existing state for reading only: no lock, no write.
    /// Mutations through this handle are refused.
    /// With `allow_missing`, an absent state reads as an empty stack.
    pub fn open_read_in(store: Arc<dyn StateStore>, who: &Identity, allow_missing: bool) -> Result<State> {
        let stored = store.load()?;
        let doc = match &stored {
            Some(s) => {
                let doc = parse(&*store, &s.bytes)?;
                check_identity(&*store, &doc, who)?;
                doc
            }
            None if allow_missing => StateDoc::new(who),
            None => bail!("no {}: nothing was provisioned with it", store.what()),
        };
        Ok(State {
            inner: Arc::new(Shared {
                store,
                doc: Mutex::new((doc, 0)),
                writer: Mutex::new(Writer {
                    version: stored.map(|s| s.version),
                    written: 0,
                    lock: None,
                    conflict: None,
                }),
                writable: false,
                scratch: false.into(),
            }),
        })
    }

    /// Refuses (exit 3, naming the holder) when another run holds the
    /// lock now; takes nothing. `up` asks before its read-only pre-flight.
    pub fn refuse_if_locked(&self) -> Result<()> {
        let store = &self.inner.store;
        match store.holder()? {
            Some(h) => Err(locked_error(&store.what(), Some(&h), true)),
            None => Ok(()),
        }
    }

    /// Releases the run's lock (idempotent); later updates are refused.
    pub fn release(&self) -> Result<()> {
        let lock = self.inner.writer.lock().expect("state writer poisoned").lock.take();
        match lock {
            Some(mut l) => l.release(),
            None => Ok(()),
        }
    }

    fn persist(&self) -> Result<()> {
        self.update(|_| {})
    }

    /// An empty record for `who` kept in memory only, not written: what AWS
    /// holds for a stack whose state is missing is gathered here (by
    /// `lifecycle::rebuild`) before anything is decided or written.
    pub fn scratch(store: Arc<dyn StateStore>, who: &Identity) -> State {
        State {
            inner: Arc::new(Shared {
                store,
                doc: Mutex::new((StateDoc::new(who), 0)),
                writer: Mutex::new(Writer { version: None, written: 0, lock: None, conflict: None }),
                writable: true,
                scratch: true.into(),
            }),
        }
    }

    /// Whether this is a scratch record not yet written (`State::scratch`).
    pub fn is_scratch(&self) -> bool {
        self.inner.scratch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Writes a scratch record to its store as a new state, under the lock,
    /// as `open_in` would. Refused when a state with records appeared there
    /// meanwhile (never overwritten).
    pub fn materialize(&self, info: LockInfo) -> Result<()> {
        let store = &self.inner.store;
        let lock = store.lock(&info)?;
        let stored = store.load()?;
        if let Some(s) = &stored
            && parse(&**store, &s.bytes).map(|d| !d.steps.is_empty()).unwrap_or(true)
        {
            let mut lock = lock;
            let _ = lock.release();
            bail!("{} appeared with records meanwhile; it was left untouched", store.what());
        }
        {
            let mut w = self.inner.writer.lock().expect("state writer poisoned");
            w.lock = Some(lock);
            w.version = stored.map(|s| s.version);
        }
        self.inner.scratch.store(false, std::sync::atomic::Ordering::SeqCst);
        self.persist()
    }

    /// Applies `f` to the document and persists the result before returning.
    pub fn update(&self, f: impl FnOnce(&mut StateDoc)) -> Result<()> {
        let store = &self.inner.store;
        if !self.inner.writable {
            bail!("{} is open read-only", store.what());
        }
        if self.is_scratch() {
            f(&mut self.inner.doc.lock().expect("state mutex poisoned").0);
            return Ok(());
        }
        let mine = {
            let mut d = self.inner.doc.lock().expect("state mutex poisoned");
            f(&mut d.0);
            d.1 += 1;
            d.1
        };
        // The write (a file's fsyncs, or an S3 call) and the wait for another
        // step's write block this thread: the runtime moves its other tasks
        // on meanwhile, so a slow disk stalls this step only, not every step.
        blocking(|| self.write_through(mine))
    }

    /// Persists the document if no write since change `mine` has (`update`).
    fn write_through(&self, mine: u64) -> Result<()> {
        let store = &self.inner.store;
        let mut w = self.inner.writer.lock().expect("state writer poisoned");
        if w.written >= mine {
            return Ok(()); // a write that started after this change included it
        }
        let (bytes, seq) = {
            let d = self.inner.doc.lock().expect("state mutex poisoned");
            (to_bytes(&d.0)?, d.1)
        };
        let Some(lock) = w.lock.as_ref() else {
            bail!("{}: this run no longer holds its lock; nothing written", store.what());
        };
        let tag = lock.id().to_string();
        if let Some(first) = w.conflict.clone() {
            let aside = store.save_aside(&bytes, &tag).unwrap_or_else(|e| format!("nowhere ({e:#})"));
            return Err(Conflict(format!("{first} (this run's latest version: {aside})")).into());
        }
        let result = if lock.lost() {
            Err(Conflict(format!(
                "this run's lock on {} was removed (force-unlock) while it ran: another run may be changing the stack",
                store.what()
            ))
            .into())
        } else {
            store.save(&bytes, w.version.as_deref())
        };
        match result {
            Ok(v) => {
                w.version = Some(v);
                w.written = seq;
                Ok(())
            }
            Err(e) if is_conflict(&e) => {
                let aside = match store.save_aside(&bytes, &tag) {
                    Ok(at) => format!("this run's version, which records what it did, is saved as {at}"),
                    Err(a) => format!(
                        "this run's version could not be saved aside ({a:#}); it is printed below:\n{}",
                        String::from_utf8_lossy(&bytes)
                    ),
                };
                let msg = format!(
                    "{e:#}. Nothing was overwritten: the other version stays current, and {aside}. \
                     Stopping. Compare the two (`provision state pull -` prints the current one); to keep this run's \
                     instead, copy it to a file and `provision state push FILE --force`; then run again"
                );
                w.conflict = Some(format!("{} changed under this run; not written", store.what()));
                Err(Conflict(msg).into())
            }
            Err(e) => Err(e.context(format!("saving {}", store.what()))),
        }
    }

    pub fn doc(&self) -> StateDoc {
        self.inner.doc.lock().expect("state mutex poisoned").0.clone()
    }

    /// Where the state is (`state/x.json`, `s3://bucket/key`), for messages.
    pub fn location(&self) -> String {
        self.inner.store.location().to_string()
    }

    pub fn record(&self, step: &StepId) -> Option<Record> {
        self.inner.doc.lock().expect("state mutex poisoned").0.steps.get(step.as_str()).cloned()
    }
    /// The recorded id of `step`, which a dependent needs.
    pub fn id(&self, step: &StepId) -> Result<String> {
        self.record(step).and_then(|r| r.id).ok_or_else(|| {
            anyhow::Error::new(Unrecorded(format!("step {step} has no recorded id (it must be created first)")))
        })
    }

    pub fn attr(&self, step: &StepId, key: &str) -> Result<String> {
        self.record(step)
            .and_then(|r| r.attrs.get(key).cloned())
            .ok_or_else(|| anyhow::Error::new(Unrecorded(format!("step {step} has no recorded {key}"))))
    }

    /// Records the intent to create `step` with `token`; returns the token to
    /// send (a token recorded by an earlier, interrupted run is reused so
    /// AWS answers with the same resource).
    pub fn intent(&self, step: &StepId, token: Option<String>) -> Result<Option<String>> {
        let mut out = token.clone();
        self.update(|d| {
            let r = d.steps.entry(step.to_string()).or_default();
            if r.token.is_some() {
                out = r.token.clone();
            } else {
                r.token = token;
            }
            if r.id.is_none() {
                r.status = Some(Status::Creating);
            }
            r.intent_ms = Some(now_ms());
            r.updated = now();
        })?;
        Ok(out)
    }

    /// The create call of an intent got an answer (an error): it is not in
    /// flight, so a resumed run need not wait for it to land.
    pub fn answered(&self, step: &StepId) -> Result<()> {
        self.update(|d| {
            if let Some(r) = d.steps.get_mut(step.as_str()) {
                r.intent_ms = None;
            }
        })
    }

    /// Records the id AWS returned (status `created`: maybe not ready yet).
    pub fn created(&self, step: &StepId, id: &str, attrs: &[(&str, String)]) -> Result<()> {
        self.set(step, Status::Created, Some(id), attrs)
    }

    pub fn ready(&self, step: &StepId, attrs: &[(&str, String)]) -> Result<()> {
        self.set(step, Status::Ready, None, attrs)
    }

    pub fn set(&self, step: &StepId, status: Status, id: Option<&str>, attrs: &[(&str, String)]) -> Result<()> {
        self.update(|d| {
            let r = d.steps.entry(step.to_string()).or_default();
            r.status = Some(status);
            if let Some(id) = id {
                r.id = Some(id.to_string());
            }
            for (k, v) in attrs {
                r.attrs.insert(k.to_string(), v.clone());
            }
            r.updated = now();
        })
    }

    pub fn note(&self, step: &StepId, note: Option<String>) -> Result<()> {
        self.update(|d| {
            if let Some(r) = d.steps.get_mut(step.as_str()) {
                r.note = note;
            }
        })
    }

    /// The resource is gone: forget it.
    pub fn forget(&self, step: &StepId) -> Result<()> {
        self.update(|d| {
            d.steps.remove(step.as_str());
        })
    }

    /// The recorded resource is gone and will be made again: drop its id,
    /// token and status but keep its attributes (settings such as JumpStart
    /// that the new resource must carry too).
    pub fn reset(&self, step: &StepId) -> Result<()> {
        self.update(|d| {
            if let Some(r) = d.steps.get_mut(step.as_str()) {
                *r = Record { attrs: std::mem::take(&mut r.attrs), updated: now(), ..Record::default() };
            }
        })
    }
}

fn check_identity(store: &dyn StateStore, doc: &StateDoc, who: &Identity) -> Result<()> {
    let mut diffs = Vec::new();
    if doc.stack != who.stack {
        diffs.push(format!("stack '{}' (this run: '{}')", doc.stack, who.stack));
    }
    if doc.region != who.region {
        diffs.push(format!("region '{}' (this run: '{}')", doc.region, who.region));
    }
    if doc.account != who.account {
        diffs.push(format!("account '{}' (this run: '{}')", doc.account, who.account));
    }
    if !diffs.is_empty() {
        bail!(
            "{} belongs to another stack: {}. It was left untouched; use --state to choose another state",
            store.what(),
            diffs.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const WHO: Identity = Identity { stack: "s", region: "us-east-1", account: "123456789012" };

    #[test]
    fn transitions_persist_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("st/s.json");
        let st = State::open(&p, &WHO, true).unwrap();
        st.intent(&StepId::VPC, Some("tok".into())).unwrap();
        st.created(&StepId::VPC, "vpc-1", &[("arn", "a".into())]).unwrap();
        let doc = read(&p).unwrap().unwrap();
        assert_eq!(doc.steps["vpc"].id.as_deref(), Some("vpc-1"));
        assert_eq!(doc.steps["vpc"].token.as_deref(), Some("tok"));
        assert_eq!(doc.steps["vpc"].status, Some(Status::Created));
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn token_of_interrupted_create_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        {
            let st = State::open(&p, &WHO, true).unwrap();
            assert_eq!(st.intent(&StepId::NAT, Some("first".into())).unwrap().as_deref(), Some("first"));
        }
        let st = State::open(&p, &WHO, true).unwrap();
        assert_eq!(st.intent(&StepId::NAT, Some("second".into())).unwrap().as_deref(), Some("first"));
    }

    #[test]
    fn second_run_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let _a = State::open(&p, &WHO, true).unwrap();
        let e = State::open(&p, &WHO, true).err().unwrap().to_string();
        assert!(e.contains("locked by another provision run"), "{e}");
    }

    #[test]
    fn foreign_and_broken_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let cases: &[(&str, &str)] = &[
            (
                "{\"schema\": 1, \"stack\": \"s\", \"region\": \"eu-west-1\", \"account\": \"123456789012\"}",
                "region 'eu-west-1'",
            ),
            (
                "{\"schema\": 1, \"stack\": \"other\", \"region\": \"us-east-1\", \"account\": \"123456789012\"}",
                "stack 'other'",
            ),
            ("{\"schema\": 1, \"stack\": \"s\", \"region\": \"us-east-1\", \"account\": \"999\"}", "account '999'"),
            ("{\"schema\": 7, \"stack\": \"s\"}", "schema version 7"),
            ("{\"schema\": 1, \"stack\": \"s\", \"regi", "not valid JSON"),
            ("[]", "no schema version"),
        ];
        for (body, want) in cases {
            fs::write(&p, body).unwrap();
            let e = State::open(&p, &WHO, true).err().unwrap().to_string();
            assert!(e.contains(want) && e.contains("s.json"), "{body}: {e}");
            assert_eq!(fs::read_to_string(&p).unwrap(), *body);
        }
    }

    #[test]
    fn a_killed_writes_temporary_file_is_removed_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        drop(State::open(&p, &WHO, true).unwrap());
        let stale = dir.path().join("s.json.tmp.4242");
        let other = dir.path().join("s.json.tmp.notes");
        fs::write(&stale, "{").unwrap();
        fs::write(&other, "mine").unwrap();
        drop(State::open(&p, &WHO, true).unwrap());
        assert!(!stale.exists(), "the killed write's temporary file is gone");
        assert!(other.exists(), "a file that is not ours is left alone");
    }

    #[test]
    fn a_version_1_state_moves_its_studio_classic_app_and_becomes_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let v1 = r#"{"schema": 1, "stack": "s", "region": "us-east-1", "account": "123456789012", "steps": {
            "sm.app": {"status": "ready", "id": "d-1/alice/JupyterServer/default", "updated": 1},
            "sm.app.bob": {"status": "ready", "id": "d-1/bob/JupyterServer/default", "updated": 1},
            "sm.user": {"status": "ready", "id": "d-1/alice", "updated": 1}}}"#;
        fs::write(&p, v1).unwrap();
        let st = State::open(&p, &WHO, true).unwrap();
        let doc = st.doc();
        assert_eq!(doc.schema, SCHEMA);
        assert!(!doc.steps.contains_key("sm.app") && !doc.steps.contains_key("sm.app.bob"));
        assert_eq!(doc.steps["sm.classic_app"].id.as_deref(), Some("d-1/alice/JupyterServer/default"));
        assert_eq!(doc.steps["sm.classic_app.bob"].id.as_deref(), Some("d-1/bob/JupyterServer/default"));
        assert_eq!(doc.steps["sm.user"].id.as_deref(), Some("d-1/alice"));
        assert_eq!(read(&p).unwrap().unwrap().schema, 2, "written back as version 2");
        assert_eq!(fs::read_to_string(backup_path(&p)).unwrap(), v1, "the backup keeps version 1");
    }

    #[test]
    fn opening_a_missing_state_to_write_leaves_no_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let e = State::open(&p, &WHO, false).err().unwrap().to_string();
        assert!(e.contains("no state file"), "{e}");
        assert!(!lock_path(&p).exists(), "no lock file left behind");
        assert!(!p.exists());
    }

    // The store seam: what `State` guarantees whatever the store, shown with
    // an in-memory store that versions its object as S3 does.

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[derive(Default)]
    struct Mem {
        obj: Mutex<Option<(Vec<u8>, u64)>>,
        aside: Mutex<Option<Vec<u8>>>,
        writes: AtomicUsize,
        lost: Arc<AtomicBool>,
    }

    struct MemLock(Arc<AtomicBool>);

    impl Held for MemLock {
        fn id(&self) -> &str {
            "lock-1"
        }
        fn release(&mut self) -> Result<()> {
            Ok(())
        }
        fn lost(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }

    impl StateStore for Mem {
        fn what(&self) -> String {
            "state mem://s".into()
        }
        fn location(&self) -> Location {
            Location::S3 { bucket: "mem".into(), key: "s".into() }
        }
        fn restore_hint(&self) -> String {
            String::new()
        }
        fn load(&self) -> Result<Option<Stored>> {
            Ok(self.obj.lock().unwrap().clone().map(|(bytes, v)| Stored { bytes, version: v.to_string() }))
        }
        fn lock(&self, _info: &LockInfo) -> Result<Box<dyn Held>> {
            Ok(Box::new(MemLock(self.lost.clone())))
        }
        fn holder(&self) -> Result<Option<LockInfo>> {
            Ok(None)
        }
        fn backup(&self, _current: &Stored) -> Result<()> {
            Ok(())
        }
        fn save(&self, bytes: &[u8], expected: Option<&str>) -> Result<String> {
            let mut obj = self.obj.lock().unwrap();
            let current = obj.as_ref().map(|(_, v)| v.to_string());
            if current.as_deref() != expected {
                return Err(
                    Conflict(format!("{} changed: expected {expected:?}, found {current:?}", self.what())).into()
                );
            }
            let v = obj.as_ref().map(|(_, v)| v + 1).unwrap_or(1);
            *obj = Some((bytes.to_vec(), v));
            self.writes.fetch_add(1, Ordering::SeqCst);
            Ok(v.to_string())
        }
        fn save_aside(&self, bytes: &[u8], tag: &str) -> Result<String> {
            *self.aside.lock().unwrap() = Some(bytes.to_vec());
            Ok(format!("mem://s.conflict.{tag}"))
        }
        fn force_unlock(&self, _id: &str) -> Result<LockInfo> {
            bail!("not here")
        }
    }

    fn mem_state(mem: &Arc<Mem>) -> State {
        State::open_in(mem.clone(), &WHO, true, LockInfo::new("up")).unwrap()
    }

    #[test]
    fn a_state_changed_by_someone_else_is_never_overwritten_and_the_runs_version_is_kept() {
        let mem = Arc::new(Mem::default());
        let st = mem_state(&mem);
        st.created(&StepId::VPC, "vpc-1", &[]).unwrap();
        let theirs =
            b"{\"schema\": 2, \"stack\": \"s\", \"region\": \"us-east-1\", \"account\": \"123456789012\"}".to_vec();
        *mem.obj.lock().unwrap() = Some((theirs.clone(), 99));
        let e = st.created(&StepId::NAT, "nat-1", &[]).unwrap_err();
        assert!(is_conflict(&e), "{e:#}");
        let msg = format!("{e:#}");
        assert!(msg.contains("Nothing was overwritten") && msg.contains("mem://s.conflict.lock-1"), "{msg}");
        assert_eq!(mem.obj.lock().unwrap().as_ref().unwrap().0, theirs, "theirs stays");
        let aside = String::from_utf8(mem.aside.lock().unwrap().clone().unwrap()).unwrap();
        assert!(aside.contains("vpc-1") && aside.contains("nat-1"), "ours is kept: {aside}");
        // Later transitions are refused too, and still land in the run's copy.
        let e = st.created(&StepId::IGW, "igw-1", &[]).unwrap_err();
        assert!(is_conflict(&e));
        assert_eq!(mem.obj.lock().unwrap().as_ref().unwrap().0, theirs);
        assert!(String::from_utf8(mem.aside.lock().unwrap().clone().unwrap()).unwrap().contains("igw-1"));
    }

    #[test]
    fn a_lock_taken_from_the_run_stops_its_writes() {
        let mem = Arc::new(Mem::default());
        let st = mem_state(&mem);
        st.created(&StepId::VPC, "vpc-1", &[]).unwrap();
        let before = mem.obj.lock().unwrap().clone();
        mem.lost.store(true, Ordering::SeqCst);
        let e = st.created(&StepId::NAT, "nat-1", &[]).unwrap_err();
        assert!(is_conflict(&e) && format!("{e:#}").contains("force-unlock"), "{e:#}");
        assert_eq!(*mem.obj.lock().unwrap(), before, "nothing written");
    }

    #[test]
    fn simultaneous_updates_are_each_persisted_before_they_return_in_fewer_writes() {
        let mem = Arc::new(Mem::default());
        let st = mem_state(&mem);
        let written_at_open = mem.writes.load(Ordering::SeqCst);
        std::thread::scope(|s| {
            for t in 0..8 {
                let st = st.clone();
                let mem = mem.clone();
                s.spawn(move || {
                    for i in 0..25 {
                        let step = StepId::recorded(format!("x.{t}.{i}"));
                        st.created(&step, &format!("id-{t}-{i}"), &[]).unwrap();
                        // Returned: it is in the stored document.
                        let stored = mem.obj.lock().unwrap().clone().unwrap().0;
                        assert!(String::from_utf8(stored).unwrap().contains(&format!("\"id-{t}-{i}\"")));
                    }
                });
            }
        });
        let doc: StateDoc = serde_json::from_slice(&mem.obj.lock().unwrap().clone().unwrap().0).unwrap();
        assert_eq!(doc.steps.len(), 200);
        let writes = mem.writes.load(Ordering::SeqCst) - written_at_open;
        assert!((1..=200).contains(&writes), "{writes} writes for 200 updates");
    }

    #[test]
    fn locations_parse_as_files_or_s3_objects_with_a_prefix_meaning_the_projects_key() {
        assert_eq!(Location::parse("state/x.json", "p").unwrap(), Location::File("state/x.json".into()));
        assert_eq!(
            Location::parse("s3://team-state/envs/prod.json", "p").unwrap(),
            Location::S3 { bucket: "team-state".into(), key: "envs/prod.json".into() }
        );
        assert_eq!(
            Location::parse("s3://team-state/envs/", "p").unwrap(),
            Location::S3 { bucket: "team-state".into(), key: "envs/p.json".into() }
        );
        assert_eq!(
            Location::parse("s3://team-state", "p").unwrap(),
            Location::S3 { bucket: "team-state".into(), key: "p.json".into() }
        );
        for bad in [
            "s3://Team_State/x",
            "s3://ab/x",
            "s3://-x-/k",
            "s3://192.168.1.1/k",
            "s3://a..b/k",
            "s3://ok-name/a//b",
            "",
        ] {
            assert!(Location::parse(bad, "p").is_err(), "{bad}");
        }
        assert_eq!(Location::default_for("p").to_string(), "state/p.json");
    }

    #[test]
    fn a_lock_is_gone_when_its_process_is_or_it_stopped_renewing() {
        let now = now_ms();
        let mut info = LockInfo::new("up");
        let stale = Duration::from_secs(300);
        assert_eq!(info.gone(now, stale, true, |_| true), None, "alive, just taken");
        assert!(info.gone(now, stale, true, |_| false).unwrap().contains("no longer runs on this host"));
        info.host = "ci-runner-17".into(); // elsewhere: only its renewals tell
        assert_eq!(info.gone(now, stale, true, |_| false), None);
        info.heartbeat_ms = now - 400_000;
        info.created_ms = now - 500_000;
        assert!(info.gone(now, stale, true, |_| true).unwrap().contains("has not renewed the lock for 6m40s"));
        assert_eq!(info.gone(now, stale, false, |_| true), None, "a file lock is never renewed, never stale");
        let e = locked_error("state s3://b/k", Some(&info), true);
        assert_eq!(crate::error::exit_code(&e), EXIT_LOCKED);
        let msg = e.to_string();
        assert!(msg.contains("run that is gone") && msg.contains(&format!("force-unlock {}", info.id)), "{msg}");
        assert!(msg.contains("`provision up` by ") && msg.contains("on ci-runner-17"), "{msg}");
    }

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_599_000), "2024-12-31T23:59:59Z");
        assert_eq!(age(3_723_000), "1h02m");
        assert_eq!(age(252_000), "4m12s");
        assert_eq!(age(3_200), "3.2s");
    }
}
