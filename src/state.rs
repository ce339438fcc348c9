//! The state: the user's only record of what exists. Treated like a
//! database, wherever it is kept.
//!
//! `State` (this file) is the open state of a run; it knows its document
//! (`doc`) and nothing of where it is stored: that is a `StateStore`
//! (`store`), of which there are two — a local file (`file`, the default)
//! and an S3 object (`s3`, for teams and CI: `--state s3://BUCKET/KEY`,
//! parsed by `location`). Every guarantee below holds for both; what
//! differs is said per store. `bucket` makes a team's state bucket
//! (`state init`).
//!
//! - Versioned schema (`doc`); an unknown version is refused, never
//!   rewritten. Stack, region and account are recorded, and a run against
//!   another is refused (`doc::check_identity`). Both checks are above the
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

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};

use crate::step_id::StepId;

mod bucket;
mod doc;
mod file;
mod location;
mod lock;
mod s3;
mod store;

pub use bucket::{BucketChange, STATE_BUCKET_TAG, init_bucket, tls_only_policy};
pub use doc::{Identity, Record, SCHEMA, StateDoc, Status, parse_from, to_bytes, upgrade};
pub use file::{FileStore, backup_path};
pub use location::{Location, check_bucket_name};
pub use lock::{
    LOCK_HEARTBEAT, LOCK_STALE, LockInfo, age, heartbeat_every, locked_error, now_ms, pid_alive, rfc3339, stale_after,
};
pub use s3::{S3Store, held_locks};
pub use store::{Conflict, Held, StateStore, Stored, is_conflict};

use doc::{check_identity, parse};
use store::blocking;

/// Now, in seconds since the epoch (a record's `updated`).
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Reads and checks a state file without locking it. `Ok(None)` if absent.
pub fn read(path: &Path) -> Result<Option<StateDoc>> {
    peek(&FileStore::new(path))
}

/// Reads and checks the state of `store` without locking it. `Ok(None)` if absent.
pub fn peek(store: &dyn StateStore) -> Result<Option<StateDoc>> {
    store.load()?.map(|s| parse(store, &s.bytes)).transpose()
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
        State::lock_and_open(store, who, create, info)
    }

    /// `open_in` for a caller that has already read the state before the
    /// lock (and refused a missing one): the lock, then the one read under it.
    pub fn lock_and_open(store: Arc<dyn StateStore>, who: &Identity, create: bool, info: LockInfo) -> Result<State> {
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
        State::open_read_from(store, stored, who, allow_missing)
    }

    /// `open_read_in` on what the caller has already read from `store`.
    pub fn open_read_from(
        store: Arc<dyn StateStore>,
        stored: Option<Stored>,
        who: &Identity,
        allow_missing: bool,
    ) -> Result<State> {
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

    /// Refuses (exit 2, naming the place) a state this run could not write;
    /// writes nothing. `up` asks before its pre-flight.
    pub fn refuse_if_unwritable(&self) -> Result<()> {
        self.inner.store.check_writable()
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

#[cfg(test)]
mod tests;
