//! Progress while `up` and `down` run: a live view of the running steps with
//! elapsed time and what each waits for (e.g. `nfw.firewall PROVISIONING
//! 3m12s`) and completed-of-total, when stderr is a terminal; otherwise (or
//! with `--no-progress`) one plain line per event, for logs and CI.
//!
//! Steps report through task-local context: the engine's step task sets
//! `STEP`, and waiters call `waiting`/`observed` without knowing the graph.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

tokio::task_local! {
    /// The step the current task works for.
    pub static STEP: String;
}

struct Running {
    started: Instant,
    what: String,
}

pub struct Progress {
    bar: Option<ProgressBar>,
    running: Mutex<BTreeMap<String, Running>>,
}

static CURRENT: OnceLock<Mutex<Option<Arc<Progress>>>> = OnceLock::new();

fn current() -> Option<Arc<Progress>> {
    CURRENT.get_or_init(|| Mutex::new(None)).lock().ok()?.clone()
}

pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

impl Progress {
    /// Starts a view over `total` steps; live only if `live` and stderr is a terminal.
    pub fn start(total: usize, live: bool) -> Arc<Progress> {
        let bar = (live && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed_precise} {wide_msg}")
                    .expect("valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        let p = Arc::new(Progress { bar, running: Mutex::new(BTreeMap::new()) });
        *CURRENT.get_or_init(|| Mutex::new(None)).lock().expect("progress lock") = Some(p.clone());
        p
    }

    pub fn begin(&self, step: &str) {
        self.running
            .lock()
            .expect("progress lock")
            .insert(step.to_string(), Running { started: Instant::now(), what: "starting".into() });
        self.refresh();
    }

    /// A step ended: print its line above the live view (or plainly).
    pub fn end(&self, step: &str, line: &str) {
        self.running.lock().expect("progress lock").remove(step);
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
                self.refresh();
            }
            None => eprintln!("{line}"),
        }
    }

    /// A step that does nothing visible (unchanged, absent) still counts.
    pub fn skip(&self, step: &str) {
        self.running.lock().expect("progress lock").remove(step);
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    fn set(&self, step: &str, what: String) {
        let changed = {
            let mut r = self.running.lock().expect("progress lock");
            match r.get_mut(step) {
                Some(run) if run.what != what => {
                    run.what = what.clone();
                    true
                }
                _ => false,
            }
        };
        if changed {
            match &self.bar {
                Some(_) => self.refresh(),
                None => tracing::info!(step, "{what}"),
            }
        }
    }

    /// Redraws the live view (elapsed times move even when nothing reports).
    pub fn refresh(&self) {
        let Some(b) = &self.bar else { return };
        let r = self.running.lock().expect("progress lock");
        let msg: Vec<String> =
            r.iter().map(|(step, run)| format!("{step} {} {}", run.what, elapsed(run.started.elapsed()))).collect();
        b.set_message(msg.join(" · "));
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        *CURRENT.get_or_init(|| Mutex::new(None)).lock().expect("progress lock") = None;
    }
}

/// The current step now waits for `what` (e.g. "NAT gateway available").
pub fn waiting(what: &str) {
    report(format!("waiting for {what}"));
}

/// The current step's resource is in AWS state `state` (e.g. "PROVISIONING").
pub fn observed(state: &str) {
    report(state.to_string());
}

fn report(what: String) {
    let (Some(p), Ok(step)) = (current(), STEP.try_with(|s| s.clone())) else {
        return;
    };
    p.set(&step, what);
}
