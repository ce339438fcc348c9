//! Progress while `up` and `down` run, in one of three forms:
//!
//! - live (stderr is a terminal): finished steps scroll above a view that
//!   redraws in place: a header with the steps done, the wall time and the
//!   time left on the critical path (recomputed as steps finish), then one
//!   line per running step with what it waits for, its elapsed and its
//!   expected time (`nfw.firewall PROVISIONING 1m12s of ~5m30s`). The view
//!   is an `indicatif::MultiProgress` (a bar per line): what is printed
//!   above it (`MultiProgress::println`) is never erased by a redraw. Every
//!   line fits the terminal's width (`terminal_size`): alignment padding
//!   goes first, then an id keeps its distinguishing tail (`…execution-role`),
//!   and a line that still does not fit is word-wrapped (`textwrap`), never
//!   cut by the terminal.
//! - lines (not a terminal, or `--no-progress`): one plain line per finished
//!   step, for logs; a step still waiting after each `Plan::heartbeat`
//!   (30 s, scaled) says so on a line of its own: what it waits for, its
//!   elapsed and its expected time left.
//! - json (`--json`): one JSON object per line on stdout for every step
//!   transition (`README.md`, "Progress events"; `schema/progress-event.json`).
//!
//! A finished step's counter (`[26/56]`) is taken and printed under one
//! lock, so the counters on screen only grow.
//!
//! Expected times come from the caller (the latency profile through
//! `graph::estimate`, scaled like every wait): this module knows no graph.
//! Steps report through task-local context: the engine's step task sets
//! `STEP`, and waiters call `waiting`/`observed` without knowing the graph.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

mod text;

pub use text::*;

tokio::task_local! {
    /// The step the current task works for.
    pub static STEP: String;
}

/// What the view knows of the run before it starts, durations as this run
/// should see them (scaled like the waits).
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// `up` or `down`.
    pub verb: &'static str,
    /// Every step's expected duration.
    pub expected: HashMap<String, Duration>,
    /// Every step's longest expected path after it ends (the critical path
    /// through it, minus its own duration).
    pub after: HashMap<String, Duration>,
    /// The steps whose wait is long enough to show its expected time (a
    /// NAT gateway, the firewall, an endpoint; not a route).
    pub long: HashSet<String>,
    /// Line mode: how often a step still running says so (zero: never).
    pub heartbeat: Duration,
}

impl Plan {
    /// The run's critical path: the longest expected path through any step.
    pub fn bound(&self) -> Duration {
        self.expected.iter().map(|(s, e)| *e + self.after.get(s).copied().unwrap_or_default()).max().unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
    Lines,
    Json,
}

struct Running {
    started: Instant,
    what: String,
    /// Line mode: when this step last said it is still waiting (or started).
    beat: Instant,
}

/// The live view on the terminal: a header bar and a bar per running step shown.
struct Live {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    /// The terminal's settings before `without_control_echo`, put back by `finish`.
    saved: Option<rustix::termios::Termios>,
}

/// Turns off the terminal's echo of control characters while the view is
/// drawn: a Ctrl-C echoed as `^C` after the view's last line moves the
/// cursor a line down under indicatif, whose next frame then leaves its
/// first line behind. Only when this process is in the terminal's
/// foreground (a background one would be stopped by SIGTTOU). Returns the
/// settings to put back.
fn without_control_echo() -> Option<rustix::termios::Termios> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcgetpgrp, tcsetattr};
    let err = std::io::stderr();
    if tcgetpgrp(&err).ok()? != rustix::process::getpgrp() {
        return None;
    }
    let saved = tcgetattr(&err).ok()?;
    if !saved.local_modes.contains(LocalModes::ECHOCTL) {
        return None;
    }
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHOCTL);
    tcsetattr(&err, OptionalActions::Now, &quiet).ok()?;
    Some(saved)
}

#[derive(Default)]
struct View {
    running: BTreeMap<String, Running>,
    done: HashSet<String>,
    /// Finished steps that did something, with their wall time.
    took: Vec<(String, Duration)>,
    live: Option<Live>,
}

pub struct Progress {
    mode: Mode,
    plan: Plan,
    started: Instant,
    view: Mutex<View>,
    /// The lowest time left shown so far, in nanoseconds (`left_of`).
    lowest_left: std::sync::atomic::AtomicU64,
}

static CURRENT: OnceLock<Mutex<Option<Arc<Progress>>>> = OnceLock::new();

fn current() -> Option<Arc<Progress>> {
    CURRENT.get_or_init(|| Mutex::new(None)).lock().ok()?.clone()
}

/// Prints `text` on stderr, word-wrapped to the terminal's width when
/// stderr is one; above the live view while one is drawn.
pub fn say(text: &str) {
    match current() {
        Some(p) if p.mode == Mode::Live => p.above(text),
        _ if std::io::stderr().is_terminal() => eprintln!("{}", wrap(text, width())),
        _ => eprintln!("{text}"),
    }
}

/// Prints `text` on stdout, word-wrapped to the terminal's width when stdout is one.
pub fn tell(text: &str) {
    let out = std::io::stdout();
    if out.is_terminal() { println!("{}", wrap(text, size_of(&out).0)) } else { println!("{text}") }
}

/// Where `tracing` writes (main's subscriber): stderr, above the live view
/// while one is drawn, so a warning is neither erased by the next frame nor
/// left inside it. Each event is one writer, written out when dropped.
pub fn log_writer() -> LogWriter {
    LogWriter(Vec::new())
}

pub struct LogWriter(Vec<u8>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        match current() {
            Some(p) if p.mode == Mode::Live => p.above(String::from_utf8_lossy(&self.0).trim_end_matches('\n')),
            _ => {
                let _ = std::io::stderr().lock().write_all(&self.0);
            }
        }
    }
}

impl Progress {
    /// Starts a view of a run; `Live` falls back to `Lines` when stderr is not a terminal.
    pub fn start(plan: Plan, mode: Mode) -> Arc<Progress> {
        let mode = if mode == Mode::Live && !std::io::stderr().is_terminal() { Mode::Lines } else { mode };
        let mut view = View::default();
        if mode == Mode::Live {
            // Hidden by indicatif itself when stderr is not a terminal.
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            view.live = Some(Live { multi, bars: Vec::new(), saved: without_control_echo() });
        }
        let p = Arc::new(Progress {
            mode,
            plan,
            started: Instant::now(),
            view: Mutex::new(view),
            lowest_left: std::sync::atomic::AtomicU64::new(u64::MAX),
        });
        if mode == Mode::Json {
            p.event(json!({"event": "start", "verb": p.plan.verb, "steps": p.plan.expected.len(),
                "critical_path_s": secs(p.plan.bound())}));
        }
        *CURRENT.get_or_init(|| Mutex::new(None)).lock().expect("progress lock") = Some(p.clone());
        p.refresh();
        p
    }

    /// The run's critical path (`Plan::bound`).
    pub fn bound(&self) -> Duration {
        self.plan.bound()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expected(&self, step: &str) -> Duration {
        self.plan.expected.get(step).copied().unwrap_or_default()
    }

    /// One JSON event on stdout (json mode), with the run's elapsed time.
    pub fn event(&self, mut v: Value) {
        v["t_s"] = json!(secs(self.started.elapsed()));
        let mut out = std::io::stdout().lock();
        // A closed stdout ends the program quietly (main's hook); other errors are not the run's.
        let _ = writeln!(out, "{v}").and_then(|_| out.flush());
    }

    pub fn begin(&self, step: &str) {
        let mut v = self.view();
        let now = Instant::now();
        v.running.insert(step.to_string(), Running { started: now, what: "starting".into(), beat: now });
        if self.mode == Mode::Json {
            self.event(
                json!({"event": "step", "step": step, "state": "started", "expected_s": secs(self.expected(step))}),
            );
        }
        self.draw(&mut v);
    }

    /// A step ended having done `action` (`created`, `deleted`, ...) on
    /// resource `id`: its line scrolls above the live view (or is printed plainly).
    pub fn done(&self, step: &str, action: &str, id: &str) {
        let mut v = self.view();
        let (took, count) = self.finish_step(&mut v, step);
        v.took.push((step.to_string(), took));
        let width = (self.mode == Mode::Live).then(width);
        let line = step_line(&count, step, action, id, &elapsed(took), width);
        self.emit(&mut v, step, &line, json!({"state": "done", "action": action, "id": id, "elapsed_s": secs(took)}));
    }

    /// A step failed, or stopped waiting at a Ctrl-C (`stopped`).
    pub fn failed(&self, step: &str, stopped: bool, error: &str) {
        let mut v = self.view();
        let (took, count) = self.finish_step(&mut v, step);
        let state = if stopped { "stopped" } else { "failed" };
        let mut line = format!("[{count}] {step:<24} {:<9} {error}", if stopped { "stopped" } else { "FAILED" });
        if self.mode == Mode::Live {
            line = wrap(&line, width());
        }
        self.emit(&mut v, step, &line, json!({"state": state, "error": error, "elapsed_s": secs(took)}));
    }

    /// A step that does nothing visible (unchanged, absent) still counts.
    pub fn skip(&self, step: &str, action: &str) {
        let mut v = self.view();
        let (took, _) = self.finish_step(&mut v, step);
        if self.mode == Mode::Json {
            self.event(json!({"event": "step", "step": step, "state": "done", "action": action, "id": null, "elapsed_s": secs(took)}));
        }
        self.draw(&mut v);
    }

    /// Marks `step` done; its wall time and the counter of its line, both
    /// taken under the lock the line is printed under.
    fn finish_step(&self, v: &mut View, step: &str) -> (Duration, String) {
        v.done.insert(step.to_string());
        let took = v.running.remove(step).map(|r| r.started.elapsed()).unwrap_or_default();
        let total = self.plan.expected.len();
        (took, format!("{:>w$}/{total}", v.done.len(), w = total.to_string().len()))
    }

    fn emit(&self, v: &mut View, step: &str, line: &str, mut event: Value) {
        match self.mode {
            Mode::Json => {
                event["event"] = json!("step");
                event["step"] = json!(step);
                self.event(event);
            }
            Mode::Lines => eprintln!("{line}"),
            Mode::Live => {
                if let Some(live) = &v.live {
                    let _ = live.multi.println(line);
                }
                self.draw(v);
            }
        }
    }

    fn set(&self, step: &str, what: String) {
        let mut v = self.view();
        let since = match v.running.get_mut(step) {
            Some(run) if run.what != what => {
                run.what = what.clone();
                run.started.elapsed()
            }
            _ => return,
        };
        match self.mode {
            Mode::Live => self.draw(&mut v),
            Mode::Json => self.event(json!({"event": "step", "step": step, "state": "waiting", "detail": what,
                "elapsed_s": secs(since), "expected_s": secs(self.expected(step))})),
            Mode::Lines => {
                drop(v);
                tracing::info!(step, "{what}");
            }
        }
    }

    /// The time left on the critical path: the longest of the unfinished
    /// steps' expected remaining paths (a running step's own part less what
    /// it has already waited).
    pub fn left(&self) -> Duration {
        self.left_of(&self.view())
    }

    /// `left`, as a countdown: never above a figure already shown. The
    /// estimate itself can rise (a step that finished early lets one start
    /// whose own path was not yet counted down), and a countdown that goes
    /// up reads as a broken one; it is an estimate either way.
    fn left_of(&self, v: &View) -> Duration {
        let now = self
            .plan
            .expected
            .iter()
            .filter(|(s, _)| !v.done.contains(*s))
            .map(|(s, e)| {
                let own = v.running.get(s).map(|r| e.saturating_sub(r.started.elapsed())).unwrap_or(*e);
                own + self.plan.after.get(s).copied().unwrap_or_default()
            })
            .max()
            .unwrap_or_default();
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let before = self.lowest_left.fetch_min(now, std::sync::atomic::Ordering::Relaxed);
        Duration::from_nanos(before.min(now))
    }

    /// The live view's lines: the header, then the running steps, most
    /// critical first, as many as fit under `max` lines.
    fn screen(&self, v: &View, width: usize, max: usize) -> Vec<String> {
        let left = self.left_of(v);
        let mut lines = vec![fit(
            &format!(
                "{} [{}/{}] {} · critical path ~{} left",
                self.plan.verb,
                v.done.len(),
                self.plan.expected.len(),
                elapsed(self.started.elapsed()),
                elapsed(left)
            ),
            width,
        )];
        let mut running: Vec<(&String, &Running)> = v.running.iter().collect();
        let through = |s: &str| self.expected(s) + self.plan.after.get(s).copied().unwrap_or_default();
        running.sort_by_key(|(s, r)| std::cmp::Reverse(through(s).saturating_sub(r.started.elapsed())));
        let room = max.saturating_sub(1).max(1);
        let shown = if running.len() > room { room - 1 } else { running.len() };
        for (step, run) in &running[..shown] {
            let of = match self.plan.long.contains(*step) {
                true => format!(" of ~{}", elapsed(self.expected(step))),
                false => String::new(),
            };
            lines.push(running_line(step, &run.what, &format!("{}{of}", elapsed(run.started.elapsed())), width));
        }
        if shown < running.len() {
            lines.push(fit(&format!("  … and {} more", running.len() - shown), width));
        }
        lines
    }

    /// Brings the live view up to date: a bar per line, added or removed
    /// as the view grows or shrinks (indicatif redraws them in place).
    /// Called with the view locked, so frames and lines above them keep
    /// their order.
    fn draw(&self, v: &mut View) {
        if v.live.is_none() {
            return;
        }
        let (width, rows) = size_of(&std::io::stderr());
        // The view never takes more than half the screen (12 lines at most).
        let lines = self.screen(v, width, (rows / 2).clamp(2, 12));
        let Some(live) = v.live.as_mut() else { return };
        while live.bars.len() < lines.len() {
            let bar = ProgressBar::hidden().with_style(ProgressStyle::with_template("{msg}").expect("template"));
            live.bars.push(live.multi.add(bar));
        }
        while live.bars.len() > lines.len() {
            if let Some(bar) = live.bars.pop() {
                bar.finish_and_clear();
                live.multi.remove(&bar);
            }
        }
        for (bar, line) in live.bars.iter().zip(lines) {
            bar.set_message(line);
        }
    }

    /// Prints `text` above the live view, word-wrapped to the terminal.
    fn above(&self, text: &str) {
        let mut v = self.view();
        match &v.live {
            Some(live) => {
                let _ = live.multi.println(wrap(text, width()));
            }
            None => eprintln!("{}", wrap(text, width())),
        }
        self.draw(&mut v);
    }

    /// Redraws the live view (elapsed times move even when nothing
    /// reports); in line mode, a line for each step that has been running
    /// for another `Plan::heartbeat`.
    pub fn refresh(&self) {
        let mut v = self.view();
        match self.mode {
            Mode::Live => self.draw(&mut v),
            Mode::Lines if !self.plan.heartbeat.is_zero() => {
                let every = self.plan.heartbeat;
                let mut lines = Vec::new();
                for (step, run) in v.running.iter_mut().filter(|(_, r)| r.beat.elapsed() >= every) {
                    run.beat = Instant::now();
                    let took = run.started.elapsed();
                    let expected = self.expected(step);
                    let times = match self.plan.long.contains(step) {
                        false => elapsed(took),
                        true if took <= expected => {
                            format!("{} of ~{} (~{} left)", elapsed(took), elapsed(expected), elapsed(expected - took))
                        }
                        true => format!(
                            "{} of ~{} (over by {})",
                            elapsed(took),
                            elapsed(expected),
                            elapsed(took - expected)
                        ),
                    };
                    lines.push(format!("  {step}: still {}, {times}", run.what));
                }
                for line in lines {
                    eprintln!("{line}");
                }
            }
            _ => {}
        }
    }

    /// The steps that took longest, longest first.
    pub fn slowest(&self, n: usize) -> Vec<(String, Duration)> {
        let mut took = self.view().took.clone();
        took.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        took.truncate(n);
        took
    }

    /// Ends the view: the live lines are cleared; what was printed above them stays.
    pub fn finish(&self) {
        if let Some(live) = self.view().live.take() {
            for bar in &live.bars {
                bar.finish_and_clear();
            }
            let _ = live.multi.clear();
            if let Some(saved) = &live.saved {
                let _ = rustix::termios::tcsetattr(std::io::stderr(), rustix::termios::OptionalActions::Now, saved);
            }
        }
        let mut cur = CURRENT.get_or_init(|| Mutex::new(None)).lock().unwrap_or_else(|e| e.into_inner());
        if cur.as_ref().is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), self)) {
            *cur = None;
        }
    }
}

/// Seconds with millisecond precision, for JSON.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A message during a run (a Ctrl-C's answer, say): above the live view
/// when one is drawn, else on stderr, word-wrapped on a terminal.
pub fn note(text: &str) {
    match current() {
        // Above the view: a line of its own already.
        Some(p) if p.mode == Mode::Live => p.above(text.trim_start_matches('\n')),
        // A leading line feed stays (after a `^C` the terminal echoed, say).
        _ => say(text),
    }
}

/// The last message before the program exits mid-run: the live view is
/// cleared first, so the message is the last thing on the terminal.
pub fn last_words(text: &str) {
    if let Some(p) = current() {
        p.finish();
    }
    say(text);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_fit_by_dropping_alignment_then_keeping_the_ids_tail() {
        let arn = "arn:aws:iam::123456789012:role/sagemaker-studio-anfw-us-east-1-sagemaker-execution-role";
        let full = step_line("12/56", "iam.role", "created", arn, "1.2s", None);
        assert_eq!(full, format!("[12/56] iam.role                 created   {arn} (1.2s)"));
        // Wide enough: as in line mode.
        assert_eq!(step_line("12/56", "iam.role", "created", arn, "1.2s", Some(200)), full);
        // Alignment goes first.
        let vpc = step_line("1/56", "vpc", "created", "vpc-0123456789abcdef0", "0.4s", Some(48));
        assert_eq!(vpc, "[1/56] vpc created vpc-0123456789abcdef0 (0.4s)");
        for w in [60, 80] {
            let l = step_line("12/56", "iam.role", "created", arn, "1.2s", Some(w));
            assert!(chars(&l) <= w && !l.contains('\n'), "{w}: {l}");
            assert!(
                l.starts_with("[12/56] iam.role created …") && l.ends_with("sagemaker-execution-role (1.2s)"),
                "{l}"
            );
        }
        // Too narrow for a useful tail: the id goes whole (or with a long tail) on a line of its own.
        let l =
            step_line("44/56", "subnet.sagemaker.us-east-1b", "created", "subnet-0123456789abcdef0", "9.9s", Some(50));
        assert!(l.lines().all(|l| chars(l) <= 50), "{l}");
        assert_eq!(l, "[44/56] subnet.sagemaker.us-east-1b created\n    subnet-0123456789abcdef0 (9.9s)");
        // A long tail (a report's detail) goes below, word-wrapped.
        let detail = "  (the firewall policy's stateful default actions changed: aws:drop_established)";
        let l = fit_row("changed   nfw.policy              ", "changed nfw.policy", arn, detail, Some(80));
        assert!(l.lines().all(|l| chars(l) <= 80) && l.lines().count() == 3, "{l}");
        assert!(
            l.starts_with("changed nfw.policy …") && l.lines().nth(1).unwrap().starts_with("    (the firewall"),
            "{l}"
        );
        assert_eq!(shorten_tail("subnet.sagemaker.us-east-1b", 11), "…us-east-1b");
    }

    #[test]
    fn view_lines_and_headers_fit() {
        assert_eq!(
            running_line("nat", "waiting for NAT gateway available", "58.0s of ~1m45s", 80),
            "  nat waiting for NAT gateway available 58.0s of ~1m45s"
        );
        let l = running_line("nat", "waiting for NAT gateway available", "58.0s of ~1m45s", 40);
        assert_eq!(l, "  nat waiting for NAT g… 58.0s of ~1m45s");
        assert_eq!(chars(&l), 40);
        assert_eq!(fit("aaaa bbbb cccc dddd", 10), "aaaa bbbb…");
        assert_eq!(fit("short", 10), "short");
    }

    #[test]
    fn prose_wraps_at_words_within_the_width() {
        let text = "pre-flight: account 123456789012 as arn:aws:sts::123456789012:user/someone-with-a-long-name, region us-east-1";
        let w = wrap(text, 40);
        assert!(w.lines().all(|l| chars(l) <= 40), "{w}");
        assert!(w.lines().count() >= 3, "{w}");
        assert!(w.lines().skip(1).all(|l| l.starts_with("  ")), "continuations are indented: {w}");
        // Nothing is lost: the words come back when the breaks are removed.
        let back: String = w.lines().map(str::trim_start).collect::<Vec<_>>().join(" ");
        assert_eq!(back.replace(' ', ""), text.replace(' ', ""));
        assert_eq!(wrap("short line", 40), "short line");
        assert_eq!(wrap("  one two three", 9), "  one two\n    three");
    }

    #[test]
    fn time_left_follows_the_unfinished_steps() {
        let s = Duration::from_secs;
        let plan = Plan {
            verb: "up",
            expected: [("a", s(10)), ("b", s(100)), ("c", s(5))].map(|(k, d)| (k.to_string(), d)).into(),
            after: [("a", s(105)), ("b", s(5)), ("c", s(0))].map(|(k, d)| (k.to_string(), d)).into(),
            long: ["b".to_string()].into(),
            ..Default::default()
        };
        assert_eq!(plan.bound(), s(115));
        let p = Progress::start(plan, Mode::Lines);
        assert_eq!(p.left(), s(115));
        p.begin("a");
        p.done("a", "created", "x");
        assert_eq!(p.left(), s(105));
        p.begin("b");
        let left = p.left();
        assert!(left <= s(105) && left > s(104), "{left:?}");
        p.skip("b", "unchanged");
        assert_eq!(p.left(), s(5));
        p.finish();
    }

    #[test]
    fn counters_are_taken_with_their_line() {
        let s = Duration::from_secs;
        let steps: Vec<String> = (0..64).map(|i| format!("s{i}")).collect();
        let plan =
            Plan { verb: "up", expected: steps.iter().map(|k| (k.clone(), s(1))).collect(), ..Default::default() };
        let p = Progress::start(plan, Mode::Lines);
        let counts: Vec<usize> = std::thread::scope(|sc| {
            let hs: Vec<_> = steps
                .iter()
                .map(|st| {
                    let p = &p;
                    sc.spawn(move || {
                        p.begin(st);
                        let mut v = p.view();
                        p.finish_step(&mut v, st).1.trim().split('/').next().unwrap().parse::<usize>().unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = counts.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=64).collect::<Vec<_>>(), "each counter once");
        p.finish();
    }

    #[test]
    fn the_view_shows_long_waits_against_their_expected_time_most_critical_first() {
        let s = Duration::from_secs;
        let plan = Plan {
            verb: "up",
            expected: [("route", s(1)), ("nfw.firewall", s(330))].map(|(k, d)| (k.to_string(), d)).into(),
            after: [("route", s(0)), ("nfw.firewall", s(1))].map(|(k, d)| (k.to_string(), d)).into(),
            long: ["nfw.firewall".to_string()].into(),
            ..Default::default()
        };
        let p = Progress::start(plan, Mode::Lines);
        p.begin("route");
        p.begin("nfw.firewall");
        p.set("nfw.firewall", "PROVISIONING".into());
        let screen = p.screen(&p.view(), 80, 12);
        assert!(
            screen[0].starts_with("up [0/2] ")
                && screen[0].contains("critical path ~5m3")
                && screen[0].ends_with(" left"),
            "{screen:?}"
        );
        assert!(
            screen[1].starts_with("  nfw.firewall PROVISIONING ") && screen[1].ends_with(" of ~5m30s"),
            "{screen:?}"
        );
        assert!(screen[2].starts_with("  route starting ") && !screen[2].contains(" of ~"), "{screen:?}");
        // Two lines of room: the header and a count of the rest.
        assert_eq!(p.screen(&p.view(), 80, 2)[1], "  … and 2 more");
        p.finish();
    }
}
