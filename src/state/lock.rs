//! The run's lock, whatever the store: who holds it (`LockInfo`, stored in
//! it), when a holder's run is gone, the refusal of a second run (exit 3),
//! and the clock and time formats the messages use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{EXIT_LOCKED, Exit};

/// Now, in ms since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
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

/// Whether process `pid` exists on this host (kill(2) with signal 0, through
/// `rustix`, checks without sending; EPERM: it exists, another user's).
pub fn pid_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
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
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// This host's name (uname(2)'s node name, as gethostname(2) gives it).
pub(super) fn host_name() -> String {
    let name = rustix::system::uname().nodename().to_string_lossy().into_owned();
    if name.is_empty() { "unknown-host".into() } else { name }
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

#[cfg(test)]
mod tests {
    use super::*;

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
