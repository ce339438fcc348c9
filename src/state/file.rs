//! The state in a local file (the default, `state/<project>.json`):
//! written by atomic replace, the previous version kept as `<file>.bak`,
//! locked with `<file>.lock` (`File::try_lock`, released by the OS when the
//! process ends, so a file lock is never stale).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::location::Location;
use super::lock::{LockInfo, locked_error};
use super::store::{Held, StateStore, Stored};
use crate::error::{EXIT_INVALID, Exit};

pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: &Path) -> FileStore {
        FileStore { path: path.to_path_buf() }
    }
}

pub fn backup_path(path: &Path) -> PathBuf {
    suffixed(path, ".bak")
}

pub(super) fn lock_path(path: &Path) -> PathBuf {
    suffixed(path, ".lock")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

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

/// Atomically replaces `path` with `bytes` (mode 0600).
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

/// The lock file, held open (and so locked) for the run.
struct FileLock {
    file: Option<File>,
    id: String,
}

impl Held for FileLock {
    fn id(&self) -> &str {
        &self.id
    }

    fn release(&mut self) -> Result<()> {
        // Closing the file releases the lock; the file stays (another run may be waiting on it).
        self.file.take();
        Ok(())
    }
}

impl StateStore for FileStore {
    fn what(&self) -> String {
        format!("state file {}", self.path.display())
    }

    fn location(&self) -> Location {
        Location::File(self.path.clone())
    }

    fn restore_hint(&self) -> String {
        format!("Restore it from {} or move it aside", backup_path(&self.path).display())
    }

    fn load(&self) -> Result<Option<Stored>> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Some(Stored { bytes, version: String::new() })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading state file {}", self.path.display())),
        }
    }

    fn lock(&self, info: &LockInfo) -> Result<Box<dyn Held>> {
        self.check_writable()?;
        let path = &self.path;
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(lock_path(path))
            .with_context(|| format!("opening lock file {}", lock_path(path).display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder wrote who it is into the lock file.
                let mut text = String::new();
                let holder = lock.read_to_string(&mut text).ok().and_then(|_| serde_json::from_str(&text).ok());
                let what = format!("{} (lock file {})", self.what(), lock_path(path).display());
                return Err(locked_error(&what, holder.as_ref(), false));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", lock_path(path).display()));
            }
        }
        // Who holds it, for the message of a run refused meanwhile.
        let _ = lock.set_len(0).and_then(|_| lock.rewind()).and_then(|_| {
            lock.write_all(&serde_json::to_vec(info).unwrap_or_default())?;
            lock.flush()
        });
        // Holding the lock, no other run is writing: a temporary file left
        // by a killed write (`<file>.tmp.<pid>`) is garbage.
        remove_stale_temporaries(path);
        Ok(Box::new(FileLock { file: Some(lock), id: info.id.clone() }))
    }

    fn holder(&self) -> Result<Option<LockInfo>> {
        // Trying the lock would make a run starting now fail: only the run itself tells.
        Ok(None)
    }

    fn backup(&self, _current: &Stored) -> Result<()> {
        fs::copy(&self.path, backup_path(&self.path)).with_context(|| format!("backing up {}", self.path.display()))?;
        Ok(())
    }

    fn save(&self, bytes: &[u8], _expected: Option<&str>) -> Result<String> {
        write_atomic(&self.path, bytes)?;
        Ok(String::new())
    }

    fn save_aside(&self, bytes: &[u8], tag: &str) -> Result<String> {
        let aside = suffixed(&self.path, &format!(".conflict.{tag}"));
        write_atomic(&aside, bytes)?;
        Ok(aside.display().to_string())
    }

    fn check_writable(&self) -> Result<()> {
        // The nearest directory that exists (the run creates the rest in it), and the
        // lock file if there is one (it is opened for writing). `access` asks the kernel,
        // so a read-only file system, an immutable directory (chattr +i) and the
        // permission bits all count, for the user the run is.
        let dir = self.path.parent().unwrap_or(Path::new(""));
        let existing = dir
            .ancestors()
            .map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d })
            .find(|d| d.is_dir())
            .unwrap_or(Path::new("."));
        let lock = lock_path(&self.path);
        let check = |p: &Path| rustix::fs::access(p, rustix::fs::Access::WRITE_OK).map_err(std::io::Error::from);
        let refused = check(existing).map_err(|e| (existing.to_path_buf(), e)).and_then(|()| match lock.exists() {
            true => check(&lock).map_err(|e| (lock.clone(), e)),
            false => Ok(()),
        });
        match refused {
            Ok(()) => Ok(()),
            Err((at, e)) => Err(Exit(
                EXIT_INVALID,
                format!(
                    "{} cannot be written ({}: {e}); nothing was done. The state records every resource \
                     as it is made: make {} writable, or name another file with --state FILE",
                    self.what(),
                    at.display(),
                    at.display(),
                ),
            )
            .into()),
        }
    }

    fn force_unlock(&self, _id: &str) -> Result<LockInfo> {
        Err(Exit(
            EXIT_INVALID,
            format!(
                "{} is locked with the operating system's file lock ({}), which ends with the process that holds it: \
                 there is no lock to remove. A run refused by it is refused by a running process",
                self.what(),
                lock_path(&self.path).display()
            ),
        )
        .into())
    }
}
