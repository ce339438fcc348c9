//! Runs a dependency graph with bounded concurrency. Knows nothing about AWS.
//!
//! # Invariants
//! - A node starts only when every node it needs has finished successfully.
//! - At most `parallelism` nodes are *working* at once (a semaphore around
//!   the work, not part of the graph). A node that only waits — sleeping
//!   between polls of a slow resource — gives its slot back for the sleep
//!   (`idle`), so fifty apps becoming ready do not block the rest of the
//!   graph, and the bound still caps concurrent API calls.
//! - After the first failure (or a stop request) nothing new starts; nodes
//!   already running are drained, so each records its own outcome. The
//!   drain loop does not use `?`: one failure must not abandon the others.
//! - Nodes never started are reported as skipped: "upstream failed" when a
//!   need failed (or was skipped), "stopped" otherwise. Only root causes are
//!   errors.
//!
//! - Critical path first: when more nodes are ready than may work, the one
//!   with the highest priority (the caller's: the longest expected path from
//!   it to the end of the run, `graph::estimate::remaining`) starts first;
//!   ties go to the lower index. A node is handed to a task only together
//!   with a slot, so the order is the engine's, not the semaphore queue's.
//!
//! - Early needs: a node may need another only to *exist*, not to be done
//!   (`early`: the firewall's logging needs the firewall created, not
//!   READY). The needed node's work calls `created()` once its resource
//!   exists; the engine then counts that need as met. Finishing meets it too
//!   (a node already done, or one whose work never calls `created`).
//!
//! The scheduler (`DependencyQueue`) is a small data structure with no I/O:
//! `finish(n)` and `created(n)` return the nodes that just became ready.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Which nodes wait on which; `edges[i]` lists the nodes node i needs.
pub struct DependencyQueue {
    remaining: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    /// The nodes that need node j only to exist (`with_early`).
    early_dependents: Vec<Vec<usize>>,
    /// Whether node j's early dependents have been released.
    created: Vec<bool>,
    ready: Vec<usize>,
    started: Vec<bool>,
    priority: Vec<Duration>,
    /// When each node became ready (its needs all finished).
    ready_at: Vec<Option<Instant>>,
}

impl DependencyQueue {
    pub fn new(edges: &[Vec<usize>]) -> DependencyQueue {
        Self::with_priority(edges, &[])
    }

    /// `priority[i]`: node i's claim to start first among the ready ones
    /// (higher first; missing entries are zero).
    pub fn with_priority(edges: &[Vec<usize>], priority: &[Duration]) -> DependencyQueue {
        let n = edges.len();
        let mut remaining = vec![0; n];
        let mut dependents = vec![Vec::new(); n];
        for (i, needs) in edges.iter().enumerate() {
            for &j in needs {
                remaining[i] += 1;
                dependents[j].push(i);
            }
        }
        let started = vec![false; n];
        let ready: Vec<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
        let priority = (0..n).map(|i| priority.get(i).copied().unwrap_or_default()).collect();
        let now = Instant::now();
        let ready_at = (0..n).map(|i| (remaining[i] == 0).then_some(now)).collect();
        let (early_dependents, created) = (vec![Vec::new(); n], vec![false; n]);
        DependencyQueue { remaining, dependents, early_dependents, created, ready, started, priority, ready_at }
    }

    /// `early[i]`: the needs of node i (each also in its `edges[i]`) that
    /// are met once they exist (`created`), before they finish.
    pub fn with_early(mut self, early: &[Vec<usize>]) -> DependencyQueue {
        for (i, needs) in early.iter().enumerate() {
            for &j in needs {
                if let Some(pos) = self.dependents[j].iter().position(|&d| d == i) {
                    self.dependents[j].remove(pos);
                    self.early_dependents[j].push(i);
                }
            }
        }
        self
    }

    fn release(&mut self, d: usize, now: &mut Vec<usize>) {
        self.remaining[d] -= 1;
        if self.remaining[d] == 0 && !self.started[d] {
            self.ready.push(d);
            self.ready_at[d] = Some(Instant::now());
            now.push(d);
        }
    }

    /// Marks `n`'s resource as existing; returns the nodes that just became
    /// ready (those that need `n` only to exist). Idempotent.
    pub fn created(&mut self, n: usize) -> Vec<usize> {
        let mut now = Vec::new();
        if !std::mem::replace(&mut self.created[n], true) {
            for d in std::mem::take(&mut self.early_dependents[n]) {
                self.release(d, &mut now);
            }
        }
        now
    }

    /// The ready node with the highest priority (ties: the lower index).
    pub fn pop_ready(&mut self) -> Option<usize> {
        let (pos, _) = self
            .ready
            .iter()
            .enumerate()
            .max_by(|&(_, &a), &(_, &b)| self.priority[a].cmp(&self.priority[b]).then(b.cmp(&a)))?;
        let n = self.ready.swap_remove(pos);
        self.started[n] = true;
        Some(n)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Marks `n` finished (and so existing); returns the nodes that just
    /// became ready.
    pub fn finish(&mut self, n: usize) -> Vec<usize> {
        let mut now = self.created(n);
        for d in std::mem::take(&mut self.dependents[n]) {
            self.release(d, &mut now);
        }
        now
    }

    /// Nodes never started.
    pub fn blocked(&self) -> Vec<usize> {
        (0..self.started.len()).filter(|&i| !self.started[i]).collect()
    }
}

/// A running node's concurrency slot.
struct Slot {
    sem: Arc<Semaphore>,
    permit: std::sync::Mutex<Option<OwnedSemaphorePermit>>,
    /// The run's stop request (first Ctrl-C), for `wait`.
    stop: watch::Receiver<bool>,
    /// The node, and where `created` tells the engine it exists.
    node: usize,
    created: mpsc::UnboundedSender<usize>,
}

tokio::task_local! {
    static SLOT: Slot;
}

/// Awaits `fut` (a wait, not work) without holding the node's slot; takes
/// a slot again before returning. Outside the engine it just awaits.
pub async fn idle<F: Future>(fut: F) -> F::Output {
    let released = SLOT.try_with(|s| s.permit.lock().expect("slot lock").take().map(|_| s.sem.clone())).ok().flatten();
    let out = fut.await;
    if let Some(sem) = released {
        let p = sem.acquire_owned().await.expect("semaphore never closed");
        SLOT.with(|s| *s.permit.lock().expect("slot lock") = Some(p));
    }
    out
}

/// Tells the engine that the running node's resource exists (its id is
/// recorded): the nodes that need it only to exist may start. Outside the
/// engine it does nothing.
pub fn created() {
    let _ = SLOT.try_with(|s| s.created.send(s.node));
}

/// A stop was requested while a node was waiting (`wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted (Ctrl-C)")
    }
}
impl std::error::Error for Interrupted {}

/// Awaits a wait like `idle`, and gives it up when a stop is requested (the
/// first Ctrl-C): a step waits only after its id is recorded, so the next
/// run resumes it, and a stop need not sit out a slow resource. Outside the
/// engine it just awaits.
pub async fn wait<F: Future>(fut: F) -> Result<F::Output, Interrupted> {
    let stop = SLOT.try_with(|s| s.stop.clone()).ok();
    let Some(mut stop) = stop else { return Ok(fut.await) };
    if *stop.borrow() {
        return Err(Interrupted);
    }
    idle(async move {
        tokio::select! {
            v = fut => Ok(v),
            _ = async {
                loop {
                    if *stop.borrow_and_update() {
                        return;
                    }
                    if stop.changed().await.is_err() {
                        // No sender: no stop can come.
                        std::future::pending::<()>().await;
                    }
                }
            } => Err(Interrupted),
        }
    })
    .await
}

/// Why a node did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    UpstreamFailed,
    Stopped,
}

#[derive(Debug)]
pub struct Outcome<E> {
    pub succeeded: Vec<usize>,
    pub failed: Vec<(usize, E)>,
    pub skipped: Vec<(usize, SkipReason)>,
    /// Per node: when it became ready, started (got its slot), finished.
    pub times: Vec<Times>,
}

/// When a node became ready, started and finished (None: it did not).
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub ready: Option<Instant>,
    pub started: Option<Instant>,
    pub done: Option<Instant>,
}

impl<E> Outcome<E> {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

/// A node's task's output: the node, its result, its slot (if it holds one).
type Finished<E> = (usize, Result<(), E>, Option<OwnedSemaphorePermit>);

/// Runs every node, each as soon as its needs have finished (its `early`
/// needs, a subset of `edges`: as soon as they exist); among the
/// ready nodes the one with the highest `priority` gets the next free slot
/// (critical path first; see the module docs; `&[]`: index order).
/// `stop` turning true stops new starts (Ctrl-C). A node whose work panics
/// fails with the error `panicked` makes from the panic message.
pub async fn run<E, F, Fut>(
    edges: &[Vec<usize>],
    early: &[Vec<usize>],
    priority: &[Duration],
    parallelism: usize,
    mut stop: watch::Receiver<bool>,
    panicked: fn(String) -> E,
    work: F,
) -> Outcome<E>
where
    E: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    let mut q = DependencyQueue::with_priority(edges, priority).with_early(early);
    let (created_tx, mut created_rx) = mpsc::unbounded_channel();
    let task_stop = stop.clone();
    let sem = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut running: JoinSet<Finished<E>> = JoinSet::new();
    // A panic loses the task's output, so its node is found by task id.
    let mut tasks: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut out = Outcome {
        succeeded: Vec::new(),
        failed: Vec::new(),
        skipped: Vec::new(),
        times: vec![Times::default(); edges.len()],
    };
    let mut halted = false;
    // Hands the highest-priority ready node to a task together with `permit`.
    let start = |q: &mut DependencyQueue,
                 running: &mut JoinSet<Finished<E>>,
                 tasks: &mut HashMap<tokio::task::Id, usize>,
                 times: &mut [Times],
                 permit: OwnedSemaphorePermit| {
        let Some(n) = q.pop_ready() else { return };
        times[n].started = Some(Instant::now());
        let slot = Slot {
            sem: sem.clone(),
            permit: std::sync::Mutex::new(Some(permit)),
            stop: task_stop.clone(),
            node: n,
            created: created_tx.clone(),
        };
        let fut = work(n);
        // The task hands its slot back with its result: the slot is freed
        // only once the engine has seen the node finish, so the nodes that
        // finish makes ready compete for it (critical path first).
        let task = running.spawn(SLOT.scope(slot, async move {
            let r = fut.await;
            let permit = SLOT.with(|s| s.permit.lock().expect("slot lock").take());
            (n, r, permit)
        }));
        tasks.insert(task.id(), n);
    };
    loop {
        if !halted && *stop.borrow() {
            halted = true;
        }
        while !halted && q.has_ready() {
            let Ok(permit) = sem.clone().try_acquire_owned() else { break };
            start(&mut q, &mut running, &mut tasks, &mut out.times, permit);
        }
        if running.is_empty() {
            break;
        }
        let waiting = !halted && q.has_ready();
        tokio::select! {
            // Finished nodes first: what they make ready competes for the next slot.
            biased;
            joined = running.join_next_with_id() => {
                match joined {
                    Some(Ok((id, (n, Ok(()), permit)))) => {
                        tasks.remove(&id);
                        out.times[n].done = Some(Instant::now());
                        out.succeeded.push(n);
                        q.finish(n);
                        drop(permit);
                    }
                    Some(Ok((id, (n, Err(e), _)))) => {
                        tasks.remove(&id);
                        out.times[n].done = Some(Instant::now());
                        out.failed.push((n, e));
                        halted = true;
                    }
                    Some(Err(join_err)) => {
                        // A panic in a step: that step failed; stop cleanly.
                        let n = tasks.remove(&join_err.id()).expect("every task is recorded");
                        out.times[n].done = Some(Instant::now());
                        tracing::error!("step task panicked: {join_err}");
                        out.failed.push((n, panicked(panic_message(join_err))));
                        halted = true;
                    }
                    None => break,
                }
            }
            Some(n) = created_rx.recv() => {
                q.created(n);
            }
            permit = sem.clone().acquire_owned(), if waiting => {
                start(&mut q, &mut running, &mut tasks, &mut out.times, permit.expect("semaphore never closed"));
            }
            changed = stop.changed(), if !halted => {
                if changed.is_err() || *stop.borrow() {
                    halted = true;
                }
            }
        }
    }
    for (t, ready) in out.times.iter_mut().zip(&q.ready_at) {
        t.ready = *ready;
    }
    // Classify what never started: downstream of a failure, or stopped.
    let failed: HashSet<usize> = out.failed.iter().map(|(n, _)| *n).collect();
    let blocked: BTreeSet<usize> = q.blocked().into_iter().collect();
    let mut upstream_failed: HashSet<usize> = HashSet::new();
    // Fixed point: a blocked node is upstream-failed if a need failed or is upstream-failed.
    loop {
        let mut changed = false;
        for &n in &blocked {
            if !upstream_failed.contains(&n)
                && edges[n].iter().any(|j| failed.contains(j) || upstream_failed.contains(j))
            {
                upstream_failed.insert(n);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for n in blocked {
        let why = if upstream_failed.contains(&n) { SkipReason::UpstreamFailed } else { SkipReason::Stopped };
        out.skipped.push((n, why));
    }
    out
}

/// What a panicked (or cancelled) task said.
fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string payload".into());
            format!("panicked: {what}")
        }
        Err(e) => format!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn no_stop() -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        rx
    }

    #[test]
    fn finish_returns_newly_ready() {
        // 0 <- 1, 0 <- 2, {1,2} <- 3
        let edges = vec![vec![], vec![0], vec![0], vec![1, 2]];
        let mut q = DependencyQueue::new(&edges);
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.pop_ready(), None);
        assert_eq!(q.finish(0), vec![1, 2]);
        assert_eq!(q.pop_ready(), Some(1));
        assert_eq!(q.finish(1), Vec::<usize>::new());
        assert_eq!(q.pop_ready(), Some(2));
        assert_eq!(q.finish(2), vec![3]);
    }

    #[test]
    fn the_ready_node_with_the_longest_remaining_path_pops_first() {
        // 0 and 1 ready; 2 needs 0. Priorities: 1 > 0, and 2 > 1 once ready.
        let edges = vec![vec![], vec![], vec![0], vec![]];
        let ms = Duration::from_millis;
        let mut q = DependencyQueue::with_priority(&edges, &[ms(5), ms(7), ms(9), ms(5)]);
        assert_eq!(q.pop_ready(), Some(1));
        assert_eq!(q.pop_ready(), Some(0), "a tie (0 and 3 at 5 ms) goes to the lower index");
        assert_eq!(q.finish(0), vec![2]);
        assert_eq!(q.pop_ready(), Some(2), "newly ready with a longer path goes before 3");
        assert_eq!(q.pop_ready(), Some(3));
        assert_eq!(q.pop_ready(), None);
    }

    #[tokio::test]
    async fn with_one_slot_the_critical_path_starts_first() {
        // A small graph, parallelism 1:
        //   0 (short, leads nowhere), 1 -> 3 (the long chain), 2 (medium).
        // Remaining paths: 0: 1, 1: 10, 2: 4, 3: 6. Critical path first
        // starts 1, then 3 (ready once 1 is done, longer than 2 and 0), 2, 0;
        // index order would start 0, 1, 2, 3.
        let edges = vec![vec![], vec![], vec![], vec![1]];
        let s = Duration::from_secs;
        let (order, out) = start_order(&edges, &[s(1), s(10), s(4), s(6)]).await;
        assert!(out.ok());
        assert_eq!(order, vec![1, 3, 2, 0]);
        // Every node's times are recorded in order: ready, started, done.
        for t in &out.times {
            let (r, st, d) = (t.ready.unwrap(), t.started.unwrap(), t.done.unwrap());
            assert!(r <= st && st <= d, "{t:?}");
        }
        // Without priorities the same graph runs in index order.
        assert_eq!(start_order(&edges, &[]).await.0, vec![0, 1, 2, 3]);
    }

    /// The order in which the nodes start with one slot.
    async fn start_order(edges: &[Vec<usize>], priority: &[Duration]) -> (Vec<usize>, Outcome<()>) {
        let order = Arc::new(Mutex::new(Vec::new()));
        let o = order.clone();
        let out = run(
            edges,
            &[],
            priority,
            1,
            no_stop(),
            |_| (),
            move |i| {
                let o = o.clone();
                async move {
                    o.lock().unwrap().push(i);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Ok::<(), ()>(())
                }
            },
        )
        .await;
        let order = order.lock().unwrap().clone();
        (order, out)
    }

    #[tokio::test]
    async fn failure_drains_running_and_skips_downstream() {
        // 0 and 1 independent; 1 fails fast while 0 is still running;
        // 2 needs 1 (upstream failed); 3 needs 0 (stopped: nothing new starts).
        let edges = vec![vec![], vec![], vec![1], vec![0]];
        let finished = Arc::new(Mutex::new(Vec::new()));
        let f2 = finished.clone();
        let out = run(
            &edges,
            &[],
            &[],
            4,
            no_stop(),
            |_| "panicked",
            move |n| {
                let finished = f2.clone();
                async move {
                    match n {
                        0 => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            finished.lock().unwrap().push(0);
                            Ok(())
                        }
                        1 => Err("boom"),
                        _ => {
                            finished.lock().unwrap().push(n);
                            Ok(())
                        }
                    }
                }
            },
        )
        .await;
        assert_eq!(out.succeeded, vec![0], "running step 0 drained");
        assert_eq!(out.failed, vec![(1, "boom")]);
        assert_eq!(out.skipped, vec![(2, SkipReason::UpstreamFailed), (3, SkipReason::Stopped)]);
        assert_eq!(*finished.lock().unwrap(), vec![0]);
    }

    #[tokio::test]
    async fn independent_steps_overlap_up_to_the_bound() {
        let edges = vec![vec![]; 6];
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (l, p) = (live.clone(), peak.clone());
        let out = run(
            &edges,
            &[],
            &[],
            3,
            no_stop(),
            |_| (),
            move |_| {
                let (live, peak) = (l.clone(), p.clone());
                async move {
                    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    live.fetch_sub(1, Ordering::SeqCst);
                    Ok::<(), ()>(())
                }
            },
        )
        .await;
        assert!(out.ok());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn idle_waits_do_not_hold_a_slot() {
        // Parallelism 1: node 0 waits (idle) for node 1, which could not run
        // if the wait held the only slot.
        let edges = vec![vec![], vec![]];
        let (tx, rx) = tokio::sync::watch::channel(false);
        let tx = Arc::new(tx);
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            run(
                &edges,
                &[],
                &[],
                1,
                no_stop(),
                |_| (),
                move |n| {
                    let (tx, mut rx) = (tx.clone(), rx.clone());
                    async move {
                        if n == 0 {
                            idle(async {
                                while !*rx.borrow_and_update() {
                                    rx.changed().await.unwrap();
                                }
                            })
                            .await;
                        } else {
                            tx.send(true).unwrap();
                        }
                        Ok::<(), ()>(())
                    }
                },
            ),
        )
        .await
        .expect("no deadlock: the waiting node gave its slot back");
        assert!(out.ok());
    }

    #[tokio::test]
    async fn stop_request_starts_nothing_new() {
        let edges = vec![vec![], vec![0], vec![1]];
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let t2 = tx.clone();
        let out = run(
            &edges,
            &[],
            &[],
            2,
            rx,
            |_| (),
            move |n| {
                let tx = t2.clone();
                async move {
                    if n == 0 {
                        tx.send(true).unwrap();
                    }
                    Ok::<(), ()>(())
                }
            },
        )
        .await;
        assert_eq!(out.succeeded, vec![0]);
        assert_eq!(out.skipped, vec![(1, SkipReason::Stopped), (2, SkipReason::Stopped)]);
    }

    #[tokio::test]
    async fn a_panicking_step_fails_and_skips_downstream() {
        // 1 panics; 2 needs 1 (upstream failed); 0 runs.
        let edges = vec![vec![], vec![], vec![1]];
        let out = run(
            &edges,
            &[],
            &[],
            2,
            no_stop(),
            |m| m,
            move |n| async move {
                if n == 1 {
                    panic!("step {n} blew up");
                }
                Ok::<(), String>(())
            },
        )
        .await;
        assert_eq!(out.succeeded, vec![0]);
        assert_eq!(out.failed.len(), 1, "{:?}", out.failed);
        assert_eq!(out.failed[0].0, 1);
        assert!(out.failed[0].1.contains("step 1 blew up"), "{}", out.failed[0].1);
        assert_eq!(out.skipped, vec![(2, SkipReason::UpstreamFailed)]);
        assert!(!out.ok());
    }

    #[tokio::test]
    async fn a_stop_ends_waits_but_not_work() {
        // 0 waits a long time (a slow resource); 1 requests the stop. 0's
        // wait ends with Interrupted at once; 2 (after 1) never starts.
        let edges = vec![vec![], vec![], vec![1]];
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            run(
                &edges,
                &[],
                &[],
                4,
                rx,
                |m| m,
                move |n| {
                    let tx = tx.clone();
                    async move {
                        match n {
                            0 => match wait(tokio::time::sleep(Duration::from_secs(60))).await {
                                Err(Interrupted) => Err("interrupted".to_string()),
                                Ok(()) => Ok(()),
                            },
                            1 => {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                tx.send(true).unwrap();
                                Ok(())
                            }
                            _ => Ok(()),
                        }
                    }
                },
            ),
        )
        .await
        .expect("the wait did not sit out its 60 s");
        assert_eq!(out.failed, vec![(0, "interrupted".to_string())]);
        assert_eq!(out.skipped, vec![(2, SkipReason::Stopped)]);
        assert_eq!(wait(async { 7 }).await, Ok(7), "outside the engine it just awaits");
    }

    #[test]
    fn an_early_need_is_met_once_it_exists_and_only_once() {
        // 1 needs 0 to exist; 2 needs 0 done and 1 done.
        let edges = vec![vec![], vec![0], vec![0, 1]];
        let mut q = DependencyQueue::new(&edges).with_early(&[vec![], vec![0], vec![]]);
        assert_eq!(q.pop_ready(), Some(0));
        assert_eq!(q.created(0), vec![1], "0 exists: 1 may start");
        assert_eq!(q.created(0), Vec::<usize>::new(), "a second signal changes nothing");
        assert_eq!(q.pop_ready(), Some(1));
        assert_eq!(q.finish(1), Vec::<usize>::new(), "2 still needs 0 done");
        assert_eq!(q.finish(0), vec![2], "finishing 0 does not count 1's need twice");
        // Without the signal, finishing meets the early need.
        let mut q = DependencyQueue::new(&edges).with_early(&[vec![], vec![0], vec![]]);
        q.pop_ready();
        assert_eq!(q.finish(0), vec![1]);
    }

    #[tokio::test]
    async fn a_node_that_needs_another_to_exist_starts_before_it_is_done() {
        // 0 exists at once and is done after 200 ms; 1 needs it to exist; 2 needs it done.
        let edges = vec![vec![], vec![0], vec![0]];
        let early = vec![vec![], vec![0], vec![]];
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let out = run(
            &edges,
            &early,
            &[],
            4,
            no_stop(),
            |_| (),
            move |n| {
                let l = l.clone();
                async move {
                    if n == 0 {
                        created();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    l.lock().unwrap().push(n);
                    Ok::<(), ()>(())
                }
            },
        )
        .await;
        assert!(out.ok());
        assert_eq!(*log.lock().unwrap(), vec![1, 0, 2], "1 ran while 0 was settling; 2 waited for 0");
        // A node that fails before it exists takes its early dependents with it.
        let out =
            run(&edges, &early, &[], 4, no_stop(), |_| (), |n| async move { if n == 0 { Err(()) } else { Ok(()) } })
                .await;
        assert_eq!(out.failed, vec![(0, ())]);
        let mut skipped: Vec<usize> = out.skipped.iter().map(|(n, _)| *n).collect();
        skipped.sort();
        assert_eq!(skipped, vec![1, 2]);
    }
}
