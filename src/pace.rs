//! Client-side rate awareness for EC2: a token bucket per throttled EC2
//! action, learnt from EC2's own answers, in front of every EC2 request.
//!
//! EC2 throttles per account and region with a token bucket per API action
//! ("Request throttling for the Amazon EC2 API", EC2 developer guide: "each
//! API is evaluated individually"; over the limit it answers HTTP 503
//! RequestLimitExceeded). The sizes of most buckets are not published, and
//! other tools and stacks of the same account draw on them too, so the tool
//! does not assume them. An action is sent freely until EC2 throttles it;
//! from then on its requests are paced (additive increase, multiplicative
//! decrease, as TCP and the SDKs' adaptive retry mode do):
//!
//! - the first 503 of an action starts pacing it at a documented refill rate
//!   (20 per second for non-mutating actions, the guide's DescribeHosts
//!   example; 5 per second for mutating ones) with no burst;
//! - each further 503 that comes from a request sent at the paced rate
//!   halves the rate, down to a sixteenth of the start;
//! - each success raises it by a quarter of that floor;
//! - the requests waiting for a turn are served critical path first: the
//!   request of the step with the longest expected remaining path (the
//!   engine's own priority, `prioritize`) takes the next token. Five stacks
//!   of one account share EC2's VPC endpoint bucket; a stack's four
//!   endpoints its JupyterLab apps wait for go before the six nothing waits
//!   for.
//!
//! Without this, the SDK's standard retry mode backs each throttled request
//! off on its own, so eleven VPC endpoint creates against a bucket of four
//! keep the bucket empty with retries (measured: 70–84 throttled answers in
//! one `up` under the emulator's `--throttle`, BENCHMARKS.md), and several
//! stacks of one account drain the SDK's retry quota. Times are real-world
//! and scaled like every wait (`PROVISION_TIME_SCALE`); at scale 0 nothing
//! is paced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::time::Instant;

use crate::wait::time_scale;

/// Refill rates (tokens per real-world second) a paced action starts at.
const NON_MUTATING_START: f64 = 20.0;
const MUTATING_START: f64 = 5.0;
/// The lowest rate is the start divided by this.
const FLOOR_DIVISOR: f64 = 16.0;
/// The longest a request waits for its turn, real-world: the SDK's longest
/// backoff (`aws.rs`); past it the request goes, and EC2 decides.
const MAX_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct Bucket {
    start: f64,
    /// Tokens per real-world second.
    rate: f64,
    /// At most 1: no burst once throttled.
    tokens: f64,
    last: Instant,
    /// When the last cut happened; a 503 of a request sent before the next
    /// turn after it belongs to the same burst and does not cut again.
    last_cut: Instant,
    /// The requests waiting for a turn: (priority, arrival).
    waiting: Vec<(Duration, u64)>,
}

impl Bucket {
    fn floor(&self) -> f64 {
        self.start / FLOOR_DIVISOR
    }

    fn refill(&mut self, now: Instant, scale: f64) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64() / scale;
        self.tokens = (self.tokens + dt * self.rate).min(1.0);
        self.last = now;
    }

    /// The waiting request served next: the highest priority, then the earliest.
    fn first(&self) -> Option<u64> {
        self.waiting.iter().max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1))).map(|w| w.1)
    }
}

/// What the pacer has done in this process: the figures a benchmark reads.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Stats {
    pub throttled: u64,
    pub paced_requests: u64,
    pub paced_wait: Duration,
}

/// The buckets of one process's EC2 client, keyed by action, and the
/// priority of each step's requests.
#[derive(Debug)]
pub struct Pacer {
    buckets: Mutex<HashMap<String, Bucket>>,
    stats: Mutex<Stats>,
    priorities: Mutex<HashMap<String, Duration>>,
    arrivals: AtomicU64,
    scale: f64,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::with_scale(time_scale())
    }
}

/// Takes a request that gave up waiting (its future dropped) or got its turn out of the queue.
struct Dequeue<'a> {
    pacer: &'a Pacer,
    action: &'a str,
    arrival: u64,
}

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.pacer.buckets.lock().unwrap().get_mut(self.action) {
            b.waiting.retain(|w| w.1 != self.arrival);
        }
    }
}

impl Pacer {
    pub fn with_scale(scale: f64) -> Pacer {
        Pacer {
            buckets: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            priorities: Mutex::new(HashMap::new()),
            arrivals: AtomicU64::new(0),
            scale,
        }
    }

    pub fn stats(&self) -> Stats {
        *self.stats.lock().unwrap()
    }

    /// Critical path first among the requests waiting for a turn: each
    /// step's expected remaining path to the end of the run (the engine's
    /// priorities, `graph::estimate::remaining`). A request outside a step
    /// (pre-flight) or of an unknown step comes last.
    pub fn prioritize(&self, steps: impl IntoIterator<Item = (String, Duration)>) {
        self.priorities.lock().unwrap().extend(steps);
    }

    /// The priority of a request made by `step`.
    pub fn priority_of(&self, step: Option<&str>) -> Duration {
        step.and_then(|s| self.priorities.lock().unwrap().get(s).copied()).unwrap_or_default()
    }

    /// Waits for a turn of `action`: at once if EC2 has not throttled it;
    /// else the next token of its bucket, the waiting request of the
    /// highest `priority` first, and at most `MAX_WAIT`.
    pub async fn turn(&self, action: &str, priority: Duration) {
        if self.scale <= 0.0 {
            return;
        }
        let arrival = self.arrivals.fetch_add(1, Ordering::Relaxed);
        let t0 = Instant::now();
        let _queued = Dequeue { pacer: self, action, arrival };
        let mut waited = false;
        loop {
            let now = Instant::now();
            let sleep = {
                let mut buckets = self.buckets.lock().unwrap();
                let Some(b) = buckets.get_mut(action) else { return };
                b.refill(now, self.scale);
                if !b.waiting.iter().any(|w| w.1 == arrival) {
                    b.waiting.push((priority, arrival));
                }
                let first = b.first() == Some(arrival);
                if (first && b.tokens >= 1.0) || now - t0 >= MAX_WAIT.mul_f64(self.scale) {
                    b.tokens -= 1.0;
                    break;
                }
                let turn = self.scale / b.rate;
                // The first waits for the next token; the others look again a turn later.
                Duration::from_secs_f64(if first { (1.0 - b.tokens) * turn } else { turn })
            };
            waited = true;
            tokio::time::sleep(sleep.max(Duration::from_micros(100))).await;
        }
        if waited {
            let mut s = self.stats.lock().unwrap();
            s.paced_requests += 1;
            s.paced_wait += t0.elapsed();
        }
    }

    /// EC2 throttled a request of `action` that was sent at `sent`.
    pub fn throttled(&self, action: &str, sent: Instant, now: Instant) {
        self.stats.lock().unwrap().throttled += 1;
        if self.scale <= 0.0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap();
        let scale = self.scale;
        match buckets.get_mut(action) {
            None => {
                let start = if is_non_mutating(action) { NON_MUTATING_START } else { MUTATING_START };
                // The bucket EC2 holds is empty: no token until the next refill.
                let b = Bucket { start, rate: start, tokens: 0.0, last: now, last_cut: now, waiting: Vec::new() };
                buckets.insert(action.to_string(), b);
            }
            Some(b) => {
                b.refill(now, scale);
                b.tokens = b.tokens.min(0.0);
                // Sent after the last cut had time to take effect: the new
                // rate is still too high.
                let settle = Duration::from_secs_f64(scale / b.rate);
                if sent >= b.last_cut + settle {
                    b.rate = (b.rate / 2.0).max(b.floor());
                    b.last_cut = now;
                }
            }
        }
    }

    /// A request of `action` was not throttled.
    pub fn succeeded(&self, action: &str) {
        let mut buckets = self.buckets.lock().unwrap();
        if let Some(b) = buckets.get_mut(action) {
            b.rate += b.floor() / 4.0;
        }
    }

    /// The current rate of `action` (tokens per real-world second), if paced.
    pub fn rate(&self, action: &str) -> Option<f64> {
        self.buckets.lock().unwrap().get(action).map(|b| b.rate)
    }
}

/// Describe*, Get* and List* read; every other EC2 action mutates (the
/// guide's two request-rate categories).
fn is_non_mutating(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("Get") || action.starts_with("List")
}

/// The EC2 action of a Query-protocol request: `Action=` of its form body
/// (botocore's ec2 model: protocol "ec2", form-encoded POST).
pub fn ec2_action(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|kv| kv.strip_prefix("Action=")).map(str::to_string)
}

/// EC2 answers RequestLimitExceeded (and Unavailable) with 503 ("Error
/// codes for the Amazon EC2 API"): either way, slower.
fn is_throttled_status(status: u16) -> bool {
    status == 503
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let action = request.body().bytes().and_then(ec2_action);
        let Some(action) = action else { return self.inner.call(request) };
        let step = crate::progress::STEP.try_with(|s| s.clone()).ok();
        let priority = self.pacer.priority_of(step.as_deref());
        let inner = self.inner.clone();
        let pacer = self.pacer.clone();
        HttpConnectorFuture::new(async move {
            pacer.turn(&action, priority).await;
            let sent = Instant::now();
            let response = inner.call(request).await?;
            if is_throttled_status(response.status().as_u16()) {
                pacer.throttled(&action, sent, Instant::now());
            } else {
                pacer.succeeded(&action);
            }
            Ok(response)
        })
    }
}

/// `base` (the SDK's default HTTP client) with every EC2 request paced by `pacer`.
#[derive(Debug)]
pub struct PacedClient {
    base: SharedHttpClient,
    pacer: Arc<Pacer>,
}

impl PacedClient {
    pub fn new(base: SharedHttpClient, pacer: Arc<Pacer>) -> PacedClient {
        PacedClient { base, pacer }
    }
}

impl HttpClient for PacedClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.base.http_connector(settings, components),
            pacer: self.pacer.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[tokio::test]
    async fn an_action_is_sent_freely_until_ec2_throttles_it() {
        let p = Pacer::with_scale(1.0);
        let t0 = std::time::Instant::now();
        for _ in 0..50 {
            p.turn("CreateVpcEndpoint", Duration::ZERO).await;
        }
        assert!(t0.elapsed() < secs(0.5), "{:?}", t0.elapsed());
        assert_eq!(p.rate("CreateVpcEndpoint"), None);
        assert_eq!(p.stats(), Stats::default());
    }

    #[tokio::test]
    async fn a_throttled_action_is_paced_at_its_start_rate_with_no_burst() {
        // Scale 0.1: a turn at 5 per second is 20 ms.
        let p = Pacer::with_scale(0.1);
        let now = Instant::now();
        p.throttled("CreateVpcEndpoint", now, now);
        assert_eq!(p.rate("CreateVpcEndpoint"), Some(MUTATING_START));
        let t0 = std::time::Instant::now();
        for _ in 0..3 {
            p.turn("CreateVpcEndpoint", Duration::ZERO).await;
        }
        // From an empty bucket, three turns: at least 60 ms.
        assert!(t0.elapsed() >= secs(0.059), "{:?}", t0.elapsed());
        assert_eq!(p.stats().paced_requests, 3);
        // Another action is not paced; a read starts at the read rate.
        let t1 = std::time::Instant::now();
        p.turn("CreateNatGateway", Duration::ZERO).await;
        assert!(t1.elapsed() < secs(0.019));
        p.throttled("DescribeVpcEndpoints", now, now);
        assert_eq!(p.rate("DescribeVpcEndpoints"), Some(NON_MUTATING_START));
        assert_eq!(p.stats().throttled, 2);
    }

    #[tokio::test]
    async fn the_request_with_the_longest_remaining_path_gets_the_next_turn() {
        // Scale 1: a turn is 200 ms; three requests of leaf steps wait, then one of a step many
        // others wait for arrives. It goes first.
        let p = Arc::new(Pacer::with_scale(1.0));
        p.prioritize([("vpce.logs".to_string(), secs(30.0)), ("vpce.sts".to_string(), secs(200.0))]);
        let now = Instant::now();
        p.throttled("CreateVpcEndpoint", now, now);
        let order = Arc::new(Mutex::new(Vec::new()));
        let go = |step: &'static str| {
            let (p, order) = (p.clone(), order.clone());
            tokio::spawn(async move {
                p.turn("CreateVpcEndpoint", p.priority_of(Some(step))).await;
                order.lock().unwrap().push(step);
            })
        };
        let mut tasks = vec![go("vpce.logs"), go("vpce.logs"), go("pre-flight")];
        tokio::time::sleep(secs(0.02)).await;
        tasks.push(go("vpce.sts"));
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["vpce.sts", "vpce.logs", "vpce.logs", "pre-flight"]);
    }

    #[test]
    fn one_burst_cuts_the_rate_once_and_throttles_after_a_turn_cut_it_again() {
        let p = Pacer::with_scale(1.0);
        let t0 = Instant::now();
        // Eleven creates sent at once, seven throttled: one cut (the first starts pacing).
        for _ in 0..7 {
            p.throttled("CreateVpcEndpoint", t0, t0 + secs(0.01));
        }
        assert_eq!(p.rate("CreateVpcEndpoint"), Some(5.0));
        // A request sent at the paced rate, after a turn, throttled again: halved.
        let t1 = t0 + secs(0.5);
        p.throttled("CreateVpcEndpoint", t1, t1);
        assert_eq!(p.rate("CreateVpcEndpoint"), Some(2.5));
        // Many more: never below the floor.
        let mut t = t1;
        for _ in 0..20 {
            t += secs(100.0);
            p.throttled("CreateVpcEndpoint", t, t);
        }
        assert_eq!(p.rate("CreateVpcEndpoint"), Some(5.0 / FLOOR_DIVISOR));
        // Successes raise it again, a quarter of the floor each.
        p.succeeded("CreateVpcEndpoint");
        assert_eq!(p.rate("CreateVpcEndpoint"), Some(5.0 / FLOOR_DIVISOR * 1.25));
    }

    #[tokio::test]
    async fn nothing_is_paced_at_scale_zero() {
        let p = Pacer::with_scale(0.0);
        let now = Instant::now();
        p.throttled("CreateVpcEndpoint", now, now);
        let t0 = std::time::Instant::now();
        for _ in 0..20 {
            p.turn("CreateVpcEndpoint", Duration::ZERO).await;
        }
        assert!(t0.elapsed() < secs(0.1));
        assert_eq!(p.stats().throttled, 1);
    }

    #[tokio::test]
    async fn a_long_queue_waits_at_most_the_longest_backoff() {
        // Scale 0.01 at the floor rate: a turn is 32 ms and the longest wait 200 ms, so the last
        // of 20 requests at once goes after about 200 ms, not 640.
        let p = Arc::new(Pacer::with_scale(0.01));
        let mut t = Instant::now();
        for _ in 0..10 {
            t += secs(10.0);
            p.throttled("CreateVpcEndpoint", t, t);
        }
        assert_eq!(p.rate("CreateVpcEndpoint"), Some(5.0 / FLOOR_DIVISOR));
        let t0 = std::time::Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.turn("CreateVpcEndpoint", Duration::ZERO).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(t0.elapsed() >= secs(0.19) && t0.elapsed() < secs(0.5), "{:?}", t0.elapsed());
        assert_eq!(p.stats().paced_requests, 20);
    }

    #[test]
    fn the_action_is_read_from_the_query_body() {
        assert_eq!(
            ec2_action(b"Action=CreateVpcEndpoint&Version=2016-11-15&VpcId=vpc-1").as_deref(),
            Some("CreateVpcEndpoint")
        );
        assert_eq!(ec2_action(b"Version=2016-11-15&Action=DescribeVpcs").as_deref(), Some("DescribeVpcs"));
        assert_eq!(ec2_action(b"{\"json\": true}"), None);
    }
}
