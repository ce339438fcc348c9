//! The state file: the user's only record of what exists. Treated like a
//! database.
//!
//! - Versioned schema (`schema`); an unknown version is refused, never rewritten.
//! - Every transition is persisted at once with an atomic replace: write a
//!   temporary file (mode 0600), fsync it, rename it over the state file,
//!   fsync the directory. A kill at any moment leaves the old or the new
//!   file, never a torn one.
//! - The previous version is kept as `<file>.bak` when a run opens the file.
//! - An exclusive lock (`<file>.lock`, `File::try_lock`) for the whole run: a
//!   second run on the same state is refused. The lock is a separate file
//!   because the state file itself is replaced by rename.
//! - Records stack, region and account; a run against another is refused.
//! - No secrets: ids, names, ARNs and client tokens only.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::step_id::StepId;

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
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Reads and checks a state file without locking it. `Ok(None)` if absent.
pub fn read(path: &Path) -> Result<Option<StateDoc>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading state file {}", path.display())),
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "state file {} is not valid JSON ({e}); it was left untouched. Restore it from {} or move it aside",
            path.display(),
            backup_path(path).display()
        )
    })?;
    let version = v.get("schema").and_then(|s| s.as_u64());
    match version {
        Some(n) if n == SCHEMA as u64 || n == 1 => {}
        Some(n) => bail!(
            "state file {} has schema version {n}; this provision understands versions 1 to {SCHEMA}. It was left untouched",
            path.display()
        ),
        None => bail!(
            "state file {} has no schema version: it is not a provision state file. It was left untouched",
            path.display()
        ),
    }
    let mut v = v;
    v["schema"] = SCHEMA.into();
    let mut doc: StateDoc = serde_json::from_value(v).map_err(|e| {
        anyhow!("state file {} does not match schema {SCHEMA} ({e}); it was left untouched", path.display())
    })?;
    if version == Some(1) {
        upgrade(&mut doc);
    }
    Ok(Some(doc))
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

pub fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Atomically replaces `path` with `bytes` (mode 0600).
/// Removes `<file>.tmp.<pid>` files a killed write left next to the state.
fn remove_stale_temporaries(path: &Path) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
    let prefix = format!("{name}.tmp.");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            tracing::info!("removing {} left by a killed write", e.path().display());
            let _ = fs::remove_file(e.path());
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().context("state path has no file name")?.to_owned();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// What a dependent needs is not recorded (an id or an attribute).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unrecorded(String);

/// Whether `e` is (or was caused by) an `Unrecorded`.
pub fn is_unrecorded(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Unrecorded>())
}

/// An open, locked state file. Cloning shares it.
#[derive(Clone)]
pub struct State {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    doc: StateDoc,
    /// Held for the life of the handle; `None` for read-only handles.
    lock: Option<File>,
    /// A scratch record (`State::scratch`): changed in memory, never written.
    scratch: bool,
}

/// What the run is about to act on: the state must belong to it.
pub struct Identity<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl State {
    /// Locks and opens (or creates, if `create`) the state file for `who`.
    /// A foreign or unreadable file is refused and left untouched.
    pub fn open(path: &Path, who: &Identity, create: bool) -> Result<State> {
        // Nothing to act on: refused before a lock file is made (a lock file
        // is never removed, since another run may be waiting on it).
        if !create && !path.exists() {
            bail!("no state file at {}: nothing was provisioned with it", path.display());
        }
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(lock_path(path))
            .with_context(|| format!("opening lock file {}", lock_path(path).display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "state file {} is locked by another provision run (lock file {}); wait for it to finish",
                path.display(),
                lock_path(path).display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", lock_path(path).display()));
            }
        }
        // Holding the lock, no other run is writing: a temporary file left
        // by a killed write (`<file>.tmp.<pid>`) is garbage.
        remove_stale_temporaries(path);
        let doc = match read(path)? {
            Some(doc) => {
                check_identity(path, &doc, who)?;
                fs::copy(path, backup_path(path)).with_context(|| format!("backing up {}", path.display()))?;
                doc
            }
            None if create => StateDoc::new(who),
            None => bail!("no state file at {}: nothing was provisioned with it", path.display()),
        };
        let state = State {
            inner: Arc::new(Mutex::new(Inner { path: path.to_path_buf(), doc, lock: Some(lock), scratch: false })),
        };
        state.persist()?;
        Ok(state)
    }

    /// Opens an existing state file for reading only: no lock, no write.
    /// Mutations through this handle are refused.
    /// With `allow_missing`, an absent file reads as an empty stack.
    pub fn open_read(path: &Path, who: &Identity, allow_missing: bool) -> Result<State> {
        let doc = match read(path)? {
            Some(doc) => {
                check_identity(path, &doc, who)?;
                doc
            }
            None if allow_missing => StateDoc::new(who),
            None => bail!("no state file at {}: nothing was provisioned with it", path.display()),
        };
        Ok(State { inner: Arc::new(Mutex::new(Inner { path: path.to_path_buf(), doc, lock: None, scratch: false })) })
    }

    fn persist(&self) -> Result<()> {
        let inner = self.inner.lock().expect("state mutex poisoned");
        let bytes = serde_json::to_vec_pretty(&inner.doc)?;
        write_atomic(&inner.path, &bytes)
    }

    /// An empty record for `who` kept in memory only, never written: what
    /// AWS holds for a stack whose state file is missing is gathered here
    /// (by `lifecycle::rebuild`) before anything is decided or written.
    pub fn scratch(path: &Path, who: &Identity) -> State {
        let inner = Inner { path: path.to_path_buf(), doc: StateDoc::new(who), lock: None, scratch: true };
        State { inner: Arc::new(Mutex::new(inner)) }
    }

    /// Whether this is a scratch record (`State::scratch`).
    pub fn is_scratch(&self) -> bool {
        self.inner.lock().expect("state mutex poisoned").scratch
    }

    /// Turns a scratch record into the state file at its path: locked and
    /// written, as `open` would. Refused if a state file with records
    /// appeared there meanwhile (never overwritten).
    pub fn materialize(&self, who: &Identity) -> Result<()> {
        let path = self.path();
        let file = State::open(&path, who, true)?;
        let mut f = file.inner.lock().expect("state mutex poisoned");
        if !f.doc.steps.is_empty() {
            bail!("a state file with records appeared at {} meanwhile; it was left untouched", path.display());
        }
        let mut me = self.inner.lock().expect("state mutex poisoned");
        me.lock = f.lock.take();
        me.scratch = false;
        let bytes = serde_json::to_vec_pretty(&me.doc)?;
        write_atomic(&me.path, &bytes).with_context(|| format!("saving state {}", me.path.display()))
    }

    /// Applies `f` to the document and persists the result before returning.
    pub fn update(&self, f: impl FnOnce(&mut StateDoc)) -> Result<()> {
        let mut inner = self.inner.lock().expect("state mutex poisoned");
        if inner.scratch {
            f(&mut inner.doc);
            return Ok(());
        }
        if inner.lock.is_none() {
            bail!("state {} is open read-only", inner.path.display());
        }
        f(&mut inner.doc);
        let bytes = serde_json::to_vec_pretty(&inner.doc)?;
        write_atomic(&inner.path, &bytes).with_context(|| format!("saving state {}", inner.path.display()))
    }

    pub fn doc(&self) -> StateDoc {
        self.inner.lock().expect("state mutex poisoned").doc.clone()
    }

    pub fn path(&self) -> PathBuf {
        self.inner.lock().expect("state mutex poisoned").path.clone()
    }

    pub fn record(&self, step: &StepId) -> Option<Record> {
        self.inner.lock().expect("state mutex poisoned").doc.steps.get(step.as_str()).cloned()
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

fn check_identity(path: &Path, doc: &StateDoc, who: &Identity) -> Result<()> {
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
            "state file {} belongs to another stack: {}. It was left untouched; use --state to choose another file",
            path.display(),
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
}
