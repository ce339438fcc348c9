//! Every wait the tool makes — poll intervals, retry backoff, propagation
//! waits, timeouts — goes through here and is multiplied by
//! `PROVISION_TIME_SCALE` (default 1), so runs against a time-scaled
//! emulator keep real-world proportions.
//!
//! - `until`: poll a status function with backoff until it reports done.
//! - `retry_while`: repeat a call while its error is a named transient one
//!   (e.g. DependencyViolation while ENIs drain), up to a bound.

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

pub fn time_scale() -> f64 {
    // Unit tests answer from scripts at once: every wait runs at 1/100
    // (bounds of minutes become seconds, long enough on a loaded machine).
    if cfg!(test) {
        return 0.01;
    }
    static SCALE: OnceLock<f64> = OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var("PROVISION_TIME_SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(1.0)
    })
}

pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(time_scale())
}

/// Wall time measured under the scale, back in real-world terms.
fn real_world(d: Duration) -> Duration {
    let s = time_scale();
    if s > 0.0 { d.div_f64(s) } else { Duration::MAX / 4 }
}

pub async fn sleep(d: Duration) {
    tokio::time::sleep(scaled(d)).await
}

/// How to poll a resource that takes `expected` to settle (its typical
/// time on AWS, from shared/spec/latency-profile.json's public sources):
/// sleep through most of it in long intervals, poll every `near` around the
/// expected moment, then back off to `cap` if it runs late. Few calls, and a
/// resource is noticed at most `near` after it is ready. Real-world values;
/// scaled when used.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub expected: Duration,
    pub near: Duration,
    pub cap: Duration,
    pub timeout: Duration,
}

impl Poll {
    pub const fn expect(expected_s: u64, timeout_s: u64) -> Poll {
        Poll {
            expected: Duration::from_secs(expected_s),
            near: Duration::from_secs(2),
            cap: Duration::from_secs(15),
            timeout: Duration::from_secs(timeout_s),
        }
    }

    /// Resources that take a second or two.
    pub const fn fast(timeout_s: u64) -> Poll {
        Poll {
            expected: Duration::from_secs(1),
            near: Duration::from_millis(500),
            cap: Duration::from_secs(5),
            timeout: Duration::from_secs(timeout_s),
        }
    }

    /// The real-world interval before the next check, `t` (real-world) after the start.
    pub fn next(&self, t: Duration, last: Duration) -> Duration {
        let early = self.expected.mul_f64(0.8);
        if t < early {
            (early - t).clamp(self.near, Duration::from_secs(30))
        } else if t < self.expected.mul_f64(1.5) {
            self.near
        } else {
            last.max(self.near).mul_f64(1.5).min(self.cap)
        }
    }
}

/// A wait the first Ctrl-C ends (`engine::wait`): the error says what was
/// being waited for and carries `engine::Interrupted`.
pub async fn stoppable<F: Future>(fut: F, what: &str) -> Result<F::Output> {
    crate::engine::wait(fut).await.map_err(|i| anyhow::Error::new(i).context(format!("stopped waiting for {what}")))
}

/// Whether an error is a wait the first Ctrl-C ended.
/// Runs `futs` concurrently on this task (they may borrow: no spawn) until
/// every one has finished: one failure does not cut the others short. The
/// answers in order, or every failure in one error.
pub async fn all<T, F: Future<Output = Result<T>>>(futs: impl IntoIterator<Item = F>) -> Result<Vec<T>> {
    use std::task::Poll as Ready;
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<Result<T>>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()).filter(|(_, o)| o.is_none()) {
            match f.as_mut().poll(cx) {
                Ready::Ready(v) => *o = Some(v),
                Ready::Pending => pending = true,
            }
        }
        if pending { Ready::Pending } else { Ready::Ready(()) }
    })
    .await;
    let (n, mut oks, mut errs) = (out.len(), Vec::new(), Vec::new());
    for r in out.into_iter().flatten() {
        match r {
            Ok(v) => oks.push(v),
            Err(e) => errs.push(format!("{e:#}")),
        }
    }
    match errs.len() {
        0 => Ok(oks),
        1 => Err(anyhow!(errs.remove(0))),
        k => Err(anyhow!("{k} of {n} failed: {}", errs.join("; "))),
    }
}

pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<crate::engine::Interrupted>())
}

/// Calls `check` until it returns `Some`, sleeping with backoff in between.
/// `what` names the wait in the timeout error.
pub async fn until<T, F, Fut>(what: &str, poll: Poll, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    crate::progress::waiting(what);
    let start = Instant::now();
    let timeout = scaled(poll.timeout);
    let mut interval = poll.near;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(anyhow!("timed out after {:?} waiting for {what}", poll.timeout));
        }
        interval = poll.next(real_world(start.elapsed()), interval);
        stoppable(sleep(interval), what).await?;
    }
}

/// A resource a create just returned may not be visible to reads yet
/// (eventual consistency: EC2 API reference "Eventual consistency";
/// terraform-provider-aws waits such as `WaitDomainInService`, whose
/// pending states include not-found): a wait treats not-found as pending
/// for `bound` (real-world time, scaled) after it starts, and only then as gone.
pub struct Unseen {
    start: Instant,
    bound: Duration,
}

impl Unseen {
    pub fn new(bound: Duration) -> Unseen {
        Unseen { start: Instant::now(), bound: scaled(bound) }
    }

    /// Not found now: keep waiting (`Ok(None)`) within the bound; after
    /// it, the error `gone` (the resource really is not there).
    pub fn absent<T>(&self, gone: impl std::fmt::Display) -> Result<Option<T>> {
        if self.start.elapsed() < self.bound {
            tracing::debug!("not visible yet (eventual consistency): {gone}");
            Ok(None)
        } else {
            Err(anyhow!("{gone} (still not found {:?} after the wait began)", real_world(self.start.elapsed())))
        }
    }
}

/// Runs `op` again while `transient(err)` holds, for up to `bound`
/// (real-world time, scaled). Other errors, and the last one, are returned.
pub async fn retry_while<T, F, Fut>(bound: Duration, transient: fn(&anyhow::Error) -> bool, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let start = Instant::now();
    let bound = scaled(bound);
    let mut interval = Duration::from_secs(2);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) && start.elapsed() < bound => {
                tracing::debug!("transient error, retrying: {e:#}");
                stoppable(sleep(interval), "a transient error to clear").await?;
                interval = (interval.mul_f64(1.5)).min(Duration::from_secs(15));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `op` (given the attempt number, from 1) up to `attempts` times while
/// its error is `transient`, sleeping with backoff (scaled) in between; for
/// conflicts that a fresh read resolves, such as a stale UpdateToken.
pub async fn retry_attempts<T, F, Fut>(attempts: u32, transient: fn(&anyhow::Error) -> bool, mut op: F) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Err(e) if transient(&e) && attempt < attempts => {
                tracing::debug!("attempt {attempt} of {attempts} failed, retrying: {e:#}");
                stoppable(sleep(Duration::from_millis(500 * u64::from(attempt))), "a retry").await?;
                attempt += 1;
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn until_returns_when_ready_and_times_out_otherwise() {
        let n = Cell::new(0);
        let poll = Poll {
            expected: Duration::from_millis(1),
            near: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            timeout: Duration::from_secs(5),
        };
        let v = until("thing", poll, || {
            n.set(n.get() + 1);
            let k = n.get();
            async move { Ok((k >= 3).then_some(k)) }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
        let poll = Poll { timeout: Duration::from_millis(5), ..poll };
        let e = until("never", poll, || async { Ok::<Option<()>, _>(None) }).await.unwrap_err();
        assert!(e.to_string().contains("waiting for never"));
    }

    #[test]
    fn polls_sparsely_early_and_densely_near_the_expected_time() {
        let p = Poll::expect(330, 1800);
        let s = Duration::from_secs;
        assert_eq!(p.next(s(0), s(2)), s(30), "long sleeps early");
        assert_eq!(p.next(s(250), s(30)), s(14), "sleep up to 80% of expected");
        assert_eq!(p.next(s(264), s(14)), s(2), "every 2 s around the expected moment");
        assert_eq!(p.next(s(494), s(2)), s(2));
        assert_eq!(p.next(s(500), s(2)), s(3), "then back off");
        assert_eq!(p.next(s(900), s(14)), s(15), "up to the cap");
    }

    #[tokio::test]
    async fn retry_while_stops_on_other_errors() {
        let n = Cell::new(0);
        let r: Result<()> = retry_while(
            Duration::from_secs(60),
            |e| e.to_string() == "busy",
            || {
                n.set(n.get() + 1);
                let k = n.get();
                async move { if k < 2 { Err(anyhow!("busy")) } else { Err(anyhow!("fatal")) } }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().to_string(), "fatal");
        assert_eq!(n.get(), 2);
    }

    #[tokio::test]
    async fn retry_attempts_gives_up_after_the_last_attempt() {
        let n = Cell::new(0);
        let r: Result<u32> = retry_attempts(
            3,
            |e| e.to_string() == "stale",
            |attempt| {
                n.set(n.get() + 1);
                async move { if attempt < 5 { Err(anyhow!("stale")) } else { Ok(attempt) } }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().to_string(), "stale");
        assert_eq!(n.get(), 3, "three attempts, numbered 1..=3");
        let r = retry_attempts(
            5,
            |e| e.to_string() == "stale",
            |attempt| async move { if attempt < 2 { Err(anyhow!("stale")) } else { Ok(attempt) } },
        )
        .await;
        assert_eq!(r.unwrap(), 2);
    }
}
