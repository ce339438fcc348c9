//! The thread the S3 store's calls run on. The SDK is async and the
//! state's interface is not (a transition is persisted before the call
//! recording it returns): calls run on a thread of their own, with its own
//! runtime and client (so no connection of the stack's clients is driven
//! by it), which also renews the lock between them.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::ConnOptions;
use crate::error::{EXIT_INVALID, Exit, code};
use crate::state::lock::{LockInfo, now_ms};
use crate::state::store::blocking;

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &aws_sdk_s3::Client) + Send>;

/// The thread S3 calls of the state run on, and the lock renewal it does
/// between them.
pub(super) struct Io {
    tx: Mutex<mpsc::Sender<Job>>,
    pub(super) beat: Arc<Mutex<Option<Beat>>>,
}

/// The lock this process holds and renews.
pub(super) struct Beat {
    pub(super) bucket: String,
    pub(super) key: String,
    pub(super) info: LockInfo,
    pub(super) etag: Arc<Mutex<String>>,
    pub(super) lost: Arc<AtomicBool>,
    pub(super) every: Duration,
    pub(super) next: Instant,
}

impl Io {
    pub(super) fn start(conn: ConnOptions) -> Result<Arc<Io>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<()>>(1);
        let beat: Arc<Mutex<Option<Beat>>> = Arc::default();
        let renew = beat.clone();
        std::thread::Builder::new()
            .name("state-s3".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow!("starting the state's I/O runtime: {e}")));
                        return;
                    }
                };
                let cfg = rt.block_on(crate::aws::load(&conn));
                if cfg.region().is_none() {
                    let _ = ready_tx.send(Err(Exit(
                        EXIT_INVALID,
                        "the state bucket's region is unknown: pass --state-region (or --region, or set one in the AWS config)"
                            .into(),
                    )
                    .into()));
                    return;
                }
                let client = crate::aws::s3_client(&cfg);
                let _ = ready_tx.send(Ok(()));
                loop {
                    let wait = renew
                        .lock()
                        .expect("lock renewal poisoned")
                        .as_ref()
                        .map(|b| b.next.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::from_secs(3600));
                    match rx.recv_timeout(wait) {
                        Ok(job) => job(&rt, &client),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    heartbeat(&rt, &client, &renew);
                }
            })
            .context("starting the state's I/O thread")?;
        blocking(|| ready_rx.recv()).map_err(|_| anyhow!("the state's I/O thread stopped"))??;
        Ok(Arc::new(Io { tx: Mutex::new(tx), beat }))
    }

    /// Runs the future `f` makes on the I/O thread and waits for its result.
    pub(super) fn call<T, F, Fut>(&self, f: F) -> T
    where
        F: FnOnce(aws_sdk_s3::Client) -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |rt, c| {
            let _ = rtx.send(rt.block_on(f(c.clone())));
        });
        self.tx.lock().expect("state I/O sender poisoned").send(job).expect("the state's I/O thread stopped");
        blocking(|| rrx.recv().expect("the state's I/O thread stopped"))
    }
}

/// Renews the lock if it is due: a put of the lock with a new heartbeat,
/// conditional on the ETag of the lock this run wrote. Refused (412, or the
/// lock is gone): the lock was taken from this run.
fn heartbeat(rt: &tokio::runtime::Runtime, client: &aws_sdk_s3::Client, beat: &Mutex<Option<Beat>>) {
    let (bucket, key, body, etag, lost) = {
        let mut g = beat.lock().expect("lock renewal poisoned");
        let Some(b) = g.as_mut() else { return };
        if Instant::now() < b.next {
            return;
        }
        b.next = Instant::now() + b.every;
        b.info.heartbeat_ms = now_ms();
        let body = serde_json::to_vec(&b.info).unwrap_or_default();
        (b.bucket.clone(), b.key.clone(), body, b.etag.clone(), b.lost.clone())
    };
    let current = etag.lock().expect("lock etag poisoned").clone();
    let r = rt
        .block_on(client.put_object().bucket(&bucket).key(&key).body(ByteStream::from(body)).if_match(current).send());
    match r {
        Ok(out) => *etag.lock().expect("lock etag poisoned") = out.e_tag().unwrap_or_default().to_string(),
        Err(e) => {
            let e = crate::error::aws(e);
            let id = beat.lock().expect("lock renewal poisoned").as_ref().map(|b| b.info.id.clone());
            if code(&e) == Some("PreconditionFailed")
                && let Some(etag_now) = rt.block_on(async {
                    let got = client.get_object().bucket(&bucket).key(&key).send().await.ok()?;
                    let etag_now = got.e_tag().unwrap_or_default().to_string();
                    let info: LockInfo = serde_json::from_slice(&got.body.collect().await.ok()?.into_bytes()).ok()?;
                    (Some(info.id) == id).then_some(etag_now)
                })
            {
                // Still this run's: a renewal whose first answer was lost, retried by the SDK.
                *etag.lock().expect("lock etag poisoned") = etag_now;
            } else if matches!(code(&e), Some("PreconditionFailed" | "NoSuchKey")) {
                tracing::warn!("the state lock s3://{bucket}/{key} was removed or replaced while this run held it");
                lost.store(true, Ordering::SeqCst);
                *beat.lock().expect("lock renewal poisoned") = None;
            } else {
                tracing::warn!("renewing the state lock s3://{bucket}/{key}: {e:#} (trying again later)");
            }
        }
    }
}
