//! The store seam: where a state is kept (a local file, `file`, or an S3
//! object, `s3`) behind one interface — read, conditional write, lock,
//! unlock — and the `Conflict` a refused conditional write is.

use anyhow::Result;

use super::location::Location;
use super::lock::LockInfo;

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
    /// Refuses (exit 2, naming the place) a store this run could not write,
    /// before anything else is done; writes nothing. A store that cannot
    /// tell without writing says yes (its first write then fails).
    fn check_writable(&self) -> Result<()> {
        Ok(())
    }
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

/// Runs `f` on the calling thread, telling a multi-threaded tokio runtime
/// first that this thread blocks (so its other tasks move on).
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
