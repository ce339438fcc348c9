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

pub async fn sleep(d: Duration) {
    tokio::time::sleep(scaled(d)).await
}

/// How to poll: first interval, growth, cap, and the give-up time (real-world
/// values; scaled when used).
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub initial: Duration,
    pub cap: Duration,
    pub timeout: Duration,
}

impl Poll {
    /// Resources that take minutes (NAT gateway, firewall, endpoints, domain, app).
    pub const fn slow(timeout_s: u64) -> Poll {
        Poll {
            initial: Duration::from_secs(3),
            cap: Duration::from_secs(10),
            timeout: Duration::from_secs(timeout_s),
        }
    }
    /// Resources that take seconds.
    pub const fn fast(timeout_s: u64) -> Poll {
        Poll {
            initial: Duration::from_millis(500),
            cap: Duration::from_secs(5),
            timeout: Duration::from_secs(timeout_s),
        }
    }
}

/// Calls `check` until it returns `Some`, sleeping with backoff in between.
/// `what` names the wait in the timeout error.
pub async fn until<T, F, Fut>(what: &str, poll: Poll, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let timeout = scaled(poll.timeout);
    let mut interval = poll.initial;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(anyhow!(
                "timed out after {:?} waiting for {what}",
                poll.timeout
            ));
        }
        sleep(interval).await;
        interval = (interval.mul_f64(1.5)).min(poll.cap);
    }
}

/// Runs `op` again while `transient(err)` holds, for up to `bound`
/// (real-world time, scaled). Other errors, and the last one, are returned.
pub async fn retry_while<T, F, Fut>(
    bound: Duration,
    transient: fn(&anyhow::Error) -> bool,
    mut op: F,
) -> Result<T>
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
                sleep(interval).await;
                interval = (interval.mul_f64(1.5)).min(Duration::from_secs(15));
            }
            Err(e) => return Err(e),
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
            initial: Duration::from_millis(1),
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
        let poll = Poll {
            timeout: Duration::from_millis(5),
            ..poll
        };
        let e = until("never", poll, || async { Ok::<Option<()>, _>(None) })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("waiting for never"));
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
                async move {
                    if k < 2 {
                        Err(anyhow!("busy"))
                    } else {
                        Err(anyhow!("fatal"))
                    }
                }
            },
        )
        .await;
        assert_eq!(r.unwrap_err().to_string(), "fatal");
        assert_eq!(n.get(), 2);
    }
}
