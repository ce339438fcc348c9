//! Progress while `up` and `down` run, in one of three forms:
//!
//! - live (stderr is a terminal): finished steps scroll above a view that
//!   redraws in place: a header with the steps done, the wall time and the
//!   time left on the critical path (recomputed as steps finish), then one
//!   line per running step with what it waits for, its elapsed and its
//!   expected time (`nfw.firewall PROVISIONING 1m12s of ~5m30s`). Every line
//!   fits the terminal's width: the longest words (step ids, ARNs) are
//!   shortened in the middle, nothing wraps.
//! - lines (not a terminal, or `--no-progress`): one plain line per finished
//!   step, for logs.
//! - json (`--json`): one JSON object per line on stdout for every step
//!   transition (`README.md`, "Progress events"; `schema/progress-event.json`).
//!
//! Expected times come from the caller (the latency profile through
//! `graph::estimate`, scaled like every wait): this module knows no graph.
//! Steps report through task-local context: the engine's step task sets
//! `STEP`, and waiters call `waiting`/`observed` without knowing the graph.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
}

#[derive(Default)]
struct View {
    running: BTreeMap<String, Running>,
    done: HashSet<String>,
    /// Finished steps that did something, with their wall time.
    took: Vec<(String, Duration)>,
    /// Lines of the live view on screen now (the cursor is at the end of the last).
    drawn: usize,
}

pub struct Progress {
    mode: Mode,
    plan: Plan,
    started: Instant,
    view: Mutex<View>,
}

static CURRENT: OnceLock<Mutex<Option<Arc<Progress>>>> = OnceLock::new();

fn current() -> Option<Arc<Progress>> {
    CURRENT.get_or_init(|| Mutex::new(None)).lock().ok()?.clone()
}

/// `5m30s` from a minute on, `12.3s` below.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// The terminal's width (stderr's), else `COLUMNS`, else 80.
pub fn width() -> usize {
    width_of(2)
}

fn width_of(fd: i32) -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize we own; the fd may be anything, errors are checked.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
        return ws.ws_col as usize;
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c| c > 0).unwrap_or(80)
}

/// `s` in at most `max` characters, its middle replaced by `…`.
pub fn shorten_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max <= 1 {
        return "…".chars().take(max).collect();
    }
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// `line` in at most `width` characters: alignment padding goes first, then
/// the longest words (ids, ARNs) are shortened in the middle, down to 12
/// characters; then the end is cut.
pub fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut words: Vec<String> = line[indent..].split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect();
    if let Some(first) = words.first_mut() {
        first.insert_str(0, &" ".repeat(indent));
    }
    let len = |w: &[String]| w.iter().map(|x| x.chars().count()).sum::<usize>() + w.len().saturating_sub(1);
    while len(&words) > width {
        let (i, longest) = words
            .iter()
            .enumerate()
            .map(|(i, w)| (i, w.chars().count()))
            .max_by_key(|&(i, n)| (n, i))
            .unwrap_or((0, 0));
        if longest <= 12 {
            break;
        }
        let over = len(&words) - width;
        words[i] = shorten_middle(&words[i], longest.saturating_sub(over).max(12));
    }
    let line = words.join(" ");
    if line.chars().count() <= width { line } else { shorten_end(&line, width) }
}

/// `text` word-wrapped to `width`, continuation lines indented by two
/// spaces more than the line they continue (a word longer than a line is
/// shortened in the middle).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push(line.to_string());
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let mut cur = " ".repeat(indent);
        let mut empty = true;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let room = width.saturating_sub(cur.chars().count() + usize::from(!empty));
            if !empty && word.chars().count() > room {
                out.push(std::mem::replace(&mut cur, " ".repeat(indent + 2)));
                empty = true;
            }
            let room = width.saturating_sub(cur.chars().count() + usize::from(!empty));
            if !empty {
                cur.push(' ');
            }
            cur.push_str(&shorten_middle(word, room.max(1)));
            empty = false;
        }
        out.push(cur);
    }
    out.join("\n")
}

/// Prints `text` on stderr, word-wrapped to the terminal's width when stderr is one.
pub fn say(text: &str) {
    if std::io::stderr().is_terminal() { eprintln!("{}", wrap(text, width_of(2))) } else { eprintln!("{text}") }
}

/// Prints `text` on stdout, word-wrapped to the terminal's width when stdout is one.
pub fn tell(text: &str) {
    if std::io::stdout().is_terminal() { println!("{}", wrap(text, width_of(1))) } else { println!("{text}") }
}

fn shorten_end(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

impl Progress {
    /// Starts a view of a run; `Live` falls back to `Lines` when stderr is not a terminal.
    pub fn start(plan: Plan, mode: Mode) -> Arc<Progress> {
        let mode = if mode == Mode::Live && !std::io::stderr().is_terminal() { Mode::Lines } else { mode };
        let p = Arc::new(Progress { mode, plan, started: Instant::now(), view: Mutex::new(View::default()) });
        if mode == Mode::Json {
            p.event(json!({"event": "start", "verb": p.plan.verb, "steps": p.plan.expected.len(),
                "critical_path_s": secs(p.plan.bound())}));
        }
        *CURRENT.get_or_init(|| Mutex::new(None)).lock().expect("progress lock") = Some(p.clone());
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
        self.view.lock().expect("progress lock")
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
        self.view().running.insert(step.to_string(), Running { started: Instant::now(), what: "starting".into() });
        if self.mode == Mode::Json {
            self.event(
                json!({"event": "step", "step": step, "state": "started", "expected_s": secs(self.expected(step))}),
            );
        }
        self.refresh();
    }

    /// A step ended having done `action` (`created`, `deleted`, ...) on
    /// resource `id`: its line scrolls above the live view (or is printed plainly).
    pub fn done(&self, step: &str, action: &str, id: &str) {
        let took = self.finish_step(step);
        let line = format!("[{}] {step:<24} {action:<9} {id} ({})", self.count(), elapsed(took));
        self.view().took.push((step.to_string(), took));
        self.emit(step, &line, json!({"state": "done", "action": action, "id": id, "elapsed_s": secs(took)}));
    }

    /// A step failed, or stopped waiting at a Ctrl-C (`stopped`).
    pub fn failed(&self, step: &str, stopped: bool, error: &str) {
        let took = self.finish_step(step);
        let state = if stopped { "stopped" } else { "failed" };
        let line = format!("[{}] {step:<24} {:<9} {error}", self.count(), if stopped { "stopped" } else { "FAILED" });
        self.emit(step, &line, json!({"state": state, "error": error, "elapsed_s": secs(took)}));
    }

    /// A step that does nothing visible (unchanged, absent) still counts.
    pub fn skip(&self, step: &str, action: &str) {
        let took = self.finish_step(step);
        if self.mode == Mode::Json {
            self.event(json!({"event": "step", "step": step, "state": "done", "action": action, "id": null, "elapsed_s": secs(took)}));
        }
        self.refresh();
    }

    fn finish_step(&self, step: &str) -> Duration {
        let mut v = self.view();
        v.done.insert(step.to_string());
        v.running.remove(step).map(|r| r.started.elapsed()).unwrap_or_default()
    }

    fn count(&self) -> String {
        let total = self.plan.expected.len();
        format!("{:>w$}/{total}", self.view().done.len(), w = total.to_string().len())
    }

    fn emit(&self, step: &str, line: &str, mut event: Value) {
        match self.mode {
            Mode::Json => {
                event["event"] = json!("step");
                event["step"] = json!(step);
                self.event(event);
            }
            Mode::Lines => eprintln!("{line}"),
            Mode::Live => self.draw(Some(line)),
        }
    }

    fn set(&self, step: &str, what: String) {
        let since = {
            let mut v = self.view();
            match v.running.get_mut(step) {
                Some(run) if run.what != what => {
                    run.what = what.clone();
                    Some(run.started.elapsed())
                }
                _ => None,
            }
        };
        let Some(since) = since else { return };
        match self.mode {
            Mode::Live => self.refresh(),
            Mode::Json => self.event(json!({"event": "step", "step": step, "state": "waiting", "detail": what,
                "elapsed_s": secs(since), "expected_s": secs(self.expected(step))})),
            Mode::Lines => tracing::info!(step, "{what}"),
        }
    }

    /// The time left on the critical path: the longest of the unfinished
    /// steps' expected remaining paths (a running step's own part less what
    /// it has already waited).
    pub fn left(&self) -> Duration {
        let v = self.view();
        self.plan
            .expected
            .iter()
            .filter(|(s, _)| !v.done.contains(*s))
            .map(|(s, e)| {
                let own = v.running.get(s).map(|r| e.saturating_sub(r.started.elapsed())).unwrap_or(*e);
                own + self.plan.after.get(s).copied().unwrap_or_default()
            })
            .max()
            .unwrap_or_default()
    }

    /// The live view's lines: the header, then the running steps, most
    /// critical first, as many as fit under `max` lines.
    fn screen(&self, width: usize, max: usize) -> Vec<String> {
        let left = self.left();
        let v = self.view();
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
            lines.push(fit(&format!("  {step} {} {}{of}", run.what, elapsed(run.started.elapsed())), width));
        }
        if shown < running.len() {
            lines.push(fit(&format!("  … and {} more", running.len() - shown), width));
        }
        lines
    }

    /// Redraws the live view in place, `above` (a finished step's line) first.
    fn draw(&self, above: Option<&str>) {
        let width = width();
        let lines = self.screen(width, 12);
        let mut out = String::new();
        let drawn = self.view().drawn;
        // Back to the first line of the view, erasing it.
        out.push('\r');
        out.push_str("\x1b[2K");
        for _ in 1..drawn {
            out.push_str("\x1b[1A\x1b[2K");
        }
        if let Some(a) = above {
            for line in a.lines() {
                out.push_str(&fit(line, width));
                out.push('\n');
            }
        }
        out.push_str(&lines.join("\n"));
        self.view().drawn = lines.len();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(out.as_bytes()).and_then(|_| err.flush());
    }

    /// Redraws the live view (elapsed times move even when nothing reports).
    pub fn refresh(&self) {
        if self.mode == Mode::Live {
            self.draw(None);
        }
    }

    /// The steps that took longest, longest first.
    pub fn slowest(&self, n: usize) -> Vec<(String, Duration)> {
        let mut took = self.view().took.clone();
        took.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        took.truncate(n);
        took
    }

    /// Ends the view: the live lines are erased.
    pub fn finish(&self) {
        if self.mode == Mode::Live {
            let drawn = std::mem::take(&mut self.view().drawn);
            let mut out = String::from("\r\x1b[2K");
            for _ in 1..drawn {
                out.push_str("\x1b[1A\x1b[2K");
            }
            let _ = std::io::stderr().write_all(out.as_bytes());
        }
        *CURRENT.get_or_init(|| Mutex::new(None)).lock().expect("progress lock") = None;
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
        Some(p) if p.mode == Mode::Live => p.draw(Some(&wrap(text.trim_start_matches('\n'), width()))),
        _ => say(text),
    }
}

/// The last message before the program exits mid-run: the live view is
/// erased first, so the message is the last thing on the terminal.
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
    fn lines_fit_by_shortening_the_longest_words_in_the_middle() {
        let arn = "arn:aws:network-firewall:us-east-1:123456789012:firewall/network-firewall-sagemaker-studio-anfw";
        let line = format!("[12/48] nfw.firewall created {arn} (5m31s)");
        for w in [50, 60, 120] {
            let f = fit(&line, w);
            assert!(f.chars().count() <= w, "{w}: {f}");
            assert!(f.starts_with("[12/48] nfw.firewall created arn:a"), "{f}");
            assert!(f.ends_with("(5m31s)"), "the end stays: {f}");
        }
        assert_eq!(fit(&line, 200), line);
        assert_eq!(shorten_middle("subnet.sagemaker.us-east-1b", 11), "subne…st-1b");
        // Nothing left to shorten: the end is cut.
        assert_eq!(fit("aaaa bbbb cccc dddd", 10), "aaaa bbbb…");
        // Alignment padding goes before any word is shortened.
        assert_eq!(fit("  [1/2] vpc        created   vpc-123", 30), "  [1/2] vpc created vpc-123");
    }

    #[test]
    fn prose_wraps_at_words_within_the_width() {
        let text = "pre-flight: account 123456789012 as arn:aws:sts::123456789012:user/someone-with-a-long-name, region us-east-1";
        let w = wrap(text, 40);
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
        assert!(w.lines().count() >= 3, "{w}");
        assert!(w.lines().skip(1).all(|l| l.starts_with("  ")), "continuations are indented: {w}");
        assert_eq!(wrap("short line", 40), "short line");
    }

    #[test]
    fn time_left_follows_the_unfinished_steps() {
        let s = Duration::from_secs;
        let plan = Plan {
            verb: "up",
            expected: [("a", s(10)), ("b", s(100)), ("c", s(5))].map(|(k, d)| (k.to_string(), d)).into(),
            after: [("a", s(105)), ("b", s(5)), ("c", s(0))].map(|(k, d)| (k.to_string(), d)).into(),
            long: ["b".to_string()].into(),
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
    fn the_view_shows_long_waits_against_their_expected_time_most_critical_first() {
        let s = Duration::from_secs;
        let plan = Plan {
            verb: "up",
            expected: [("route", s(1)), ("nfw.firewall", s(330))].map(|(k, d)| (k.to_string(), d)).into(),
            after: [("route", s(0)), ("nfw.firewall", s(1))].map(|(k, d)| (k.to_string(), d)).into(),
            long: ["nfw.firewall".to_string()].into(),
        };
        let p = Progress::start(plan, Mode::Lines);
        p.begin("route");
        p.begin("nfw.firewall");
        p.set("nfw.firewall", "PROVISIONING".into());
        let screen = p.screen(80, 12);
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
        assert_eq!(p.screen(80, 2)[1], "  … and 2 more");
        p.finish();
    }
}
