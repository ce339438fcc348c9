//! The state in S3 (`--state s3://BUCKET/KEY`), for teams and CI.
//!
//! Relies on what S3 promises (S3 user guide, "Amazon S3 data consistency
//! model" and "Conditional requests"): strong read-after-write consistency;
//! PutObject with `If-None-Match: *` writes only if the key does not exist,
//! with `If-Match: <ETag>` only if the current object has that ETag, and
//! answers 412 PreconditionFailed otherwise (409 ConditionalRequestConflict
//! when another conditional write to the key was in progress: retried);
//! DeleteObject with `If-Match` likewise.
//!
//! - The document is `KEY`; each write is a conditional PutObject
//!   (`If-None-Match: *` when none was found, else `If-Match` the ETag last
//!   read or written), so another writer's version is never overwritten: a
//!   412 is a `Conflict`. A write of the bytes already stored is skipped.
//!   With versioning on (`state init`), every write is a version.
//! - The lock is `KEY.lock`, created with `If-None-Match: *`, holding a
//!   `LockInfo`; renewed every `LOCK_HEARTBEAT` (a conditional put on its
//!   own ETag: a lock removed or replaced meanwhile marks this run's lock
//!   lost, and its next state write stops the run); deleted with `If-Match`
//!   when the run ends.
//! - A conflicting run's own version is saved as `KEY.conflict.<lock id>`.
//!
//! The calls run on a thread of their own, which also renews the lock
//! (`io`): the SDK is async and the state's interface is not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::result::SdkError;

use super::location::Location;
use super::lock::{self, LockInfo, locked_error, now_ms};
use super::store::{Conflict, Held, StateStore, Stored};
use crate::aws::ConnOptions;
use crate::error::{EXIT_INVALID, Exit, code};

mod io;

use io::{Beat, Io};

/// Locks this process holds, for the message of an exit that skips releasing them.
static HELD: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// `(lock id, where)` of every S3 lock this process holds.
pub fn held_locks() -> Vec<(String, String)> {
    HELD.lock().map(|h| h.clone()).unwrap_or_default()
}

pub struct S3Store {
    io: Arc<Io>,
    bucket: String,
    key: String,
    /// The bytes and ETag last read or written (a write of the same bytes is skipped).
    last: Mutex<Option<(Vec<u8>, String)>>,
}

/// How a put is conditioned.
enum Cond {
    None,
    Absent,
    Matches(String),
}

/// Why a conditional put or delete was refused.
enum Refused {
    /// 412: the condition did not hold.
    Precondition,
    /// 404: an `If-Match` on a key that no longer exists.
    Gone,
}

fn refused(e: &anyhow::Error) -> Option<Refused> {
    match code(e) {
        Some("PreconditionFailed") => Some(Refused::Precondition),
        Some("NoSuchKey") => Some(Refused::Gone),
        _ => None,
    }
}

/// An S3 error, with a hint when the bucket is in another region.
fn s3_error<E>(
    e: SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    doing: String,
) -> anyhow::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let e = crate::error::aws(e);
    let hint = match code(&e) {
        Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException") => {
            " (the bucket is in another region: pass --state-region)"
        }
        Some("NoSuchBucket") => " (no such bucket: `provision state init s3://BUCKET` makes one)",
        Some("AccessDenied" | "Forbidden") => {
            " (the credentials may not: `provision --state s3://BUCKET/KEY iam-policy` prints what they need; --state-profile picks others)"
        }
        _ => "",
    };
    e.context(format!("{doing}{hint}"))
}

impl S3Store {
    /// A store for `s3://bucket/key`, its client built from `conn` (the
    /// standard chain, `--state-profile`/`--state-region` when given).
    pub fn open(bucket: &str, key: &str, conn: ConnOptions) -> Result<S3Store> {
        Ok(S3Store { io: Io::start(conn)?, bucket: bucket.into(), key: key.into(), last: Mutex::new(None) })
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    /// The object's bytes and ETag; `None` if there is none.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        let (bucket, k) = (self.bucket.clone(), key.to_string());
        let url = self.url(key);
        self.io.call(move |c| async move {
            match c.get_object().bucket(&bucket).key(&k).send().await {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    let bytes = out.body.collect().await.with_context(|| format!("reading {url}"))?.into_bytes();
                    Ok(Some((bytes.to_vec(), etag)))
                }
                Err(e) => {
                    let e = s3_error(e, format!("reading {url}"));
                    if code(&e) == Some("NoSuchKey") { Ok(None) } else { Err(e) }
                }
            }
        })
    }

    /// Puts `bytes` at `key` under `cond`; returns (ETag, version id).
    /// A refused condition is `Err` with the AWS code (see `refused`);
    /// 409 ConditionalRequestConflict is retried a few times.
    fn put(&self, key: &str, bytes: &[u8], cond: Cond) -> Result<(String, String)> {
        let (bucket, k, body) = (self.bucket.clone(), key.to_string(), bytes.to_vec());
        let url = self.url(key);
        self.io.call(move |c| async move {
            let mut attempt = 0;
            loop {
                let mut req = c
                    .put_object()
                    .bucket(&bucket)
                    .key(&k)
                    .content_type("application/json")
                    .body(ByteStream::from(body.clone()));
                req = match &cond {
                    Cond::None => req,
                    Cond::Absent => req.if_none_match("*"),
                    Cond::Matches(etag) => req.if_match(etag),
                };
                match req.send().await {
                    Ok(out) => {
                        return Ok((
                            out.e_tag().unwrap_or_default().to_string(),
                            out.version_id().unwrap_or_default().to_string(),
                        ));
                    }
                    Err(e) => {
                        let e = s3_error(e, format!("writing {url}"));
                        attempt += 1;
                        if code(&e) == Some("ConditionalRequestConflict") && attempt < 4 {
                            tokio::time::sleep(crate::wait::scaled(Duration::from_millis(200 * attempt))).await;
                            continue;
                        }
                        return Err(e);
                    }
                }
            }
        })
    }

    /// Deletes `key` if its ETag is still `etag`.
    fn delete_if(&self, key: &str, etag: &str) -> Result<()> {
        let (bucket, k, etag) = (self.bucket.clone(), key.to_string(), etag.to_string());
        let url = self.url(key);
        self.io.call(move |c| async move {
            c.delete_object()
                .bucket(&bucket)
                .key(&k)
                .if_match(etag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(e, format!("deleting {url}")))
        })
    }

    /// A refused write as the `Conflict` it is (any other error as it came).
    fn refusal(&self, e: anyhow::Error, expected: Option<&str>) -> anyhow::Error {
        match (refused(&e), expected) {
            (Some(Refused::Precondition), Some(v)) => Conflict(format!(
                "{} was changed by someone else since this run read or wrote it: S3 refused the write \
                 conditional on ETag {v} (412 PreconditionFailed)",
                self.what()
            ))
            .into(),
            (Some(Refused::Precondition), None) => Conflict(format!(
                "{} was created by someone else since this run found none: S3 refused the write \
                 conditional on its absence (412 PreconditionFailed)",
                self.what()
            ))
            .into(),
            (Some(Refused::Gone), _) => {
                Conflict(format!("{} was deleted by someone else since this run read it (404 NoSuchKey)", self.what()))
                    .into()
            }
            (None, _) => e,
        }
    }

    /// The current ETag of the state if it holds exactly `bytes`.
    fn landed(&self, bytes: &[u8]) -> Result<Option<String>> {
        Ok(self.get(&self.key)?.filter(|(b, _)| b == bytes).map(|(_, etag)| etag))
    }

    fn read_holder(&self) -> Result<Option<(Option<LockInfo>, String)>> {
        Ok(self.get(&self.lock_key())?.map(|(b, etag)| (serde_json::from_slice(&b).ok(), etag)))
    }
}

impl StateStore for S3Store {
    fn what(&self) -> String {
        format!("state {}", self.url(&self.key))
    }

    fn location(&self) -> Location {
        Location::S3 { bucket: self.bucket.clone(), key: self.key.clone() }
    }

    fn restore_hint(&self) -> String {
        format!(
            "The bucket keeps every previous version: `aws s3api list-object-versions --bucket {} --prefix {}` lists them",
            self.bucket, self.key
        )
    }

    fn load(&self) -> Result<Option<Stored>> {
        let got = self.get(&self.key)?;
        *self.last.lock().expect("state cache poisoned") = got.clone();
        Ok(got.map(|(bytes, version)| Stored { bytes, version }))
    }

    fn lock(&self, info: &LockInfo) -> Result<Box<dyn Held>> {
        let key = self.lock_key();
        let body = serde_json::to_vec(info)?;
        for _ in 0..3 {
            let etag = match self.put(&key, &body, Cond::Absent) {
                Ok((etag, _)) => etag,
                Err(e) if matches!(refused(&e), Some(Refused::Precondition)) => match self.read_holder()? {
                    // This run's own lock: the SDK retried a put whose first answer was lost.
                    Some((Some(h), etag)) if h.id == info.id => etag,
                    Some((holder, _)) => return Err(locked_error(&self.what(), holder.as_ref(), true)),
                    None => continue, // released in between: try again
                },
                Err(e) => return Err(e.context(format!("taking the lock {}", self.url(&key)))),
            };
            let etag = Arc::new(Mutex::new(etag));
            let lost = Arc::new(AtomicBool::new(false));
            let every = lock::heartbeat_every();
            *self.io.beat.lock().expect("lock renewal poisoned") = Some(Beat {
                bucket: self.bucket.clone(),
                key: key.clone(),
                info: info.clone(),
                etag: etag.clone(),
                lost: lost.clone(),
                every,
                next: Instant::now() + every,
            });
            if let Ok(mut h) = HELD.lock() {
                h.push((info.id.clone(), self.what()));
            }
            return Ok(Box::new(S3Lock {
                store: S3Store {
                    io: self.io.clone(),
                    bucket: self.bucket.clone(),
                    key: self.key.clone(),
                    last: Mutex::new(None),
                },
                id: info.id.clone(),
                etag,
                lost,
                released: false,
            }));
        }
        Err(locked_error(&self.what(), None, true))
    }

    fn holder(&self) -> Result<Option<LockInfo>> {
        Ok(match self.read_holder()? {
            Some((Some(info), _)) => Some(info),
            // Unreadable: still a lock; the message names its object.
            Some((None, _)) => {
                return Err(Exit(
                    crate::error::EXIT_LOCKED,
                    format!(
                        "{} is locked: {} exists but does not say who holds it; remove it by hand once no run uses the state",
                        self.what(),
                        self.url(&self.lock_key())
                    ),
                )
                .into());
            }
            None => None,
        })
    }

    fn backup(&self, _current: &Stored) -> Result<()> {
        Ok(()) // the bucket's versioning keeps every version
    }

    fn save(&self, bytes: &[u8], expected: Option<&str>) -> Result<String> {
        if let Some((b, etag)) = &*self.last.lock().expect("state cache poisoned")
            && b == bytes
            && Some(etag.as_str()) == expected
        {
            return Ok(etag.clone());
        }
        let cond = match expected {
            Some(e) => Cond::Matches(e.to_string()),
            None => Cond::Absent,
        };
        let etag = match self.put(&self.key, bytes, cond) {
            Ok((etag, version)) => {
                tracing::debug!(target: "provision::state", "state written: {} version {version} etag {etag}", self.url(&self.key));
                etag
            }
            Err(e) => {
                // Refused: unless the SDK retried a write whose first answer was lost, and it is there.
                let landed = if refused(&e).is_some() { self.landed(bytes)? } else { None };
                let Some(etag) = landed else { return Err(self.refusal(e, expected)) };
                tracing::debug!(target: "provision::state", "state written: {} (answer lost, found in place) etag {etag}", self.url(&self.key));
                etag
            }
        };
        *self.last.lock().expect("state cache poisoned") = Some((bytes.to_vec(), etag.clone()));
        Ok(etag)
    }

    fn save_aside(&self, bytes: &[u8], tag: &str) -> Result<String> {
        let key = format!("{}.conflict.{tag}", self.key);
        self.put(&key, bytes, Cond::None)?;
        Ok(self.url(&key))
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo> {
        let invalid = |msg: String| -> anyhow::Error { Exit(EXIT_INVALID, msg).into() };
        let Some((holder, etag)) = self.read_holder()? else {
            return Err(invalid(format!("{} is not locked: nothing to remove", self.what())));
        };
        let Some(info) = holder else {
            return Err(invalid(format!(
                "{} is locked by {}, which does not say who holds it or its id: remove it by hand once no run uses the state",
                self.what(),
                self.url(&self.lock_key())
            )));
        };
        let now = now_ms();
        if info.id != id {
            return Err(invalid(format!(
                "the lock of {} has id {}, not {id} (held by {}): nothing was removed",
                self.what(),
                info.id,
                info.describe(now)
            )));
        }
        if info.gone(now, lock::stale_after(), true, lock::pid_alive).is_none() && info.host == lock::host_name() {
            return Err(invalid(format!(
                "the lock {id} of {} belongs to a run still going on this host: {}; stop it (Ctrl-C releases the lock) \
                 or wait for it: nothing was removed",
                self.what(),
                info.describe(now)
            )));
        }
        match self.delete_if(&self.lock_key(), &etag) {
            Ok(()) => Ok(info),
            Err(e) if refused(&e).is_some() => Err(invalid(format!(
                "the lock of {} changed while it was being removed (renewed, or released and taken again): nothing was removed; run `provision force-unlock` again with the id the next refusal names",
                self.what()
            ))),
            Err(e) => Err(e),
        }
    }
}

/// The S3 lock a run holds.
struct S3Lock {
    store: S3Store,
    id: String,
    /// The ETag of the lock as this run last wrote it (renewals change it).
    etag: Arc<Mutex<String>>,
    lost: Arc<AtomicBool>,
    released: bool,
}

impl Held for S3Lock {
    fn id(&self) -> &str {
        &self.id
    }

    fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    fn release(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        {
            let mut b = self.store.io.beat.lock().expect("lock renewal poisoned");
            if b.as_ref().is_some_and(|b| b.info.id == self.id) {
                *b = None;
            }
        }
        if let Ok(mut h) = HELD.lock() {
            h.retain(|(id, _)| *id != self.id);
        }
        if self.lost() {
            return Ok(()); // taken from this run: not ours to delete
        }
        let (bucket, key, etag) = (self.store.bucket.clone(), self.store.lock_key(), self.etag.clone());
        let url = self.store.url(&key);
        // The ETag is read on the I/O thread, after any renewal under way.
        let r = self.store.io.call(move |c| async move {
            let current = etag.lock().expect("lock etag poisoned").clone();
            c.delete_object()
                .bucket(&bucket)
                .key(&key)
                .if_match(current)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(e, format!("deleting {url}")))
        });
        match r {
            Ok(()) => Ok(()),
            Err(e) if matches!(refused(&e), Some(Refused::Gone)) => {
                tracing::warn!("the state lock {} was already removed (force-unlock?)", self.id);
                Ok(())
            }
            Err(e) if matches!(refused(&e), Some(Refused::Precondition)) => {
                tracing::warn!("the state lock was replaced by another run's; left as it is");
                Ok(())
            }
            Err(e) => Err(e.context(format!(
                "releasing the lock {} of {}: `provision force-unlock {}` removes it",
                self.id,
                self.store.what(),
                self.id
            ))),
        }
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            eprintln!("warning: {e:#}");
        }
    }
}
