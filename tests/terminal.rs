//! What a person sees in an 80×30 terminal: `up`, then `down --purge-efs --delete-data
//! --yes`, each run in a pseudo-terminal (script(1), `stty cols 80 rows 30`), every byte it
//! wrote rendered by a terminal emulator (`vt100`) with its scrollback. On that screen:
//! every step line the run printed, whole and in order, with counters that only grow; no
//! frame of the live view left behind; no word cut at the terminal's edge.

mod common;

use common::screen::{cut_words, program_bytes, render};
use common::*;

const COLS: u16 = 80;
const ROWS: u16 = 30;
/// Slow enough for the live view to draw many frames (the firewall takes 330 s × 0.01).
const TERMINAL_SCALE: &str = "0.01";

/// Escape codes removed from the byte stream: the text the program wrote, frames of the
/// live view included (indicatif ends a line with spaces to the terminal's edge, not a
/// line feed).
fn plain(bytes: &str) -> String {
    let mut plain = String::new();
    let mut chars = bytes.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
            plain.push('\n');
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Every finished step's line in `text`, in order: `[26/56] step action id (1.2s)`, from
/// its counter to its time (a frame's header, `up [26/56] 3.2s`, is not one).
fn step_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('[') {
        let cand = &rest[i..];
        rest = &rest[i + 1..];
        let Some(n) = counter(cand) else { continue };
        let after = cand.split_once("] ").map(|(_, a)| a).unwrap_or("");
        if !after.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        // Up to its time: `(1.2s)` or `(1m02s)`.
        let Some(end) = cand.match_indices(" (").find_map(|(j, _)| {
            let t = &cand[j + 2..];
            let close = t.find(')')?;
            let time = &t[..close];
            (time.ends_with('s')
                && time.starts_with(|c: char| c.is_ascii_digit())
                && time.chars().all(|c| c.is_ascii_digit() || c == '.' || c == 'm' || c == 's'))
            .then_some(j + 2 + close + 1)
        }) else {
            continue;
        };
        let line = &cand[..end];
        if line.contains(['\n', '\r']) || counter(line) != Some(n) {
            continue;
        }
        out.push(line.to_string());
        rest = &cand[end..];
    }
    out
}

/// `[26/56] …` → 26.
fn counter(line: &str) -> Option<usize> {
    let inside = line.strip_prefix('[')?.split_once(']')?.0;
    let (n, total) = inside.split_once('/')?;
    total.parse::<usize>().ok()?;
    n.trim().parse().ok()
}

/// A frame of the live view: its header (`up [12/56] 3.2s · critical path ~6.7s left`).
fn is_header(row: &str) -> bool {
    row.contains("· critical path ~") && row.trim_end().ends_with(" left")
}

/// A running step's line of the live view (`  nfw.firewall PROVISIONING 1.2s of ~3.3s`),
/// not the summary's `  wall time 4.8s against a critical path of ~3.3s`.
fn is_running(row: &str) -> bool {
    row.starts_with("  ") && row.contains("s of ~") && !row.contains("critical path")
}

/// The run of `args` in the terminal.
fn terminal(emu: &Emulator, dir: &std::path::Path, args: &[&str]) -> Run {
    Run::new(emu, dir).scale(TERMINAL_SCALE).cols(COLS as usize).rows(ROWS as usize).args(args)
}

/// Runs `args` in the terminal; checks the screen; returns the step lines it showed.
fn on_screen(emu: &Emulator, dir: &std::path::Path, args: &[&str], done: &str) -> Vec<String> {
    let (out, typescript) = terminal(emu, dir, args).on_terminal(None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    check_screen(args, &typescript, done).0
}

/// What a run left on the terminal (`typescript`): every step line it printed, whole and in
/// order, counters that only grow, no frame of the live view, no word cut at the edge, and
/// `done`. Returns the step lines shown and the screen's text.
fn check_screen(args: &[&str], typescript: &str, done: &str) -> (Vec<String>, String) {
    let bytes = program_bytes(typescript);
    let printed = step_lines(&plain(bytes));
    let rows = render(bytes, COLS, ROWS);
    let shown: Vec<String> = rows.iter().map(|(r, _)| r.trim_end().to_string()).collect();
    let screen = shown.join("\n");
    // The live view was there while it ran (else this test would prove nothing).
    assert!(plain(bytes).lines().any(is_header), "{args:?}: no live view drawn:\n{screen}");
    // Every step line printed is on the screen, whole (on one row), in the order printed.
    let step_rows: Vec<String> = shown.iter().flat_map(|r| step_lines(r)).collect();
    assert!(!printed.is_empty(), "{args:?}: no step line printed:\n{screen}");
    assert_eq!(step_rows, printed, "{args:?}: the step lines on screen are the ones printed:\n{screen}");
    // Counters only grow: never twice, never backwards.
    let counts: Vec<usize> = step_rows.iter().filter_map(|r| counter(r)).collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "{args:?}: counters {counts:?}:\n{screen}");
    // No frame of the live view left behind: no header, no running step's line.
    let stale: Vec<&String> =
        shown.iter().filter(|r| is_header(r) || is_running(r) || r.starts_with("  … and ")).collect();
    assert!(stale.is_empty(), "{args:?}: stale frames {stale:#?}:\n{screen}");
    // No word cut at the terminal's edge (indicatif fills each of its lines to the edge with
    // spaces, and the terminal moves on: such a row is wrapped, but cuts nothing).
    let cut = cut_words(&rows, COLS);
    assert!(cut.is_empty(), "{args:?}: words cut by the terminal {cut:#?}:\n{screen}");
    // The run's last words are there too.
    assert!(screen.contains(done), "{args:?}: {done:?}:\n{screen}");
    // Everything printed above the view (a step's line, a note, a warning) is on the screen as
    // often as it was written.
    for said in [" stopped ", "no longer exists", "WARN"] {
        let (written, seen) = (plain(bytes).matches(said).count(), screen.matches(said).count());
        assert_eq!(written, seen, "{args:?}: {said:?} written {written} times, on screen {seen}:\n{screen}");
    }
    (step_rows, screen)
}

#[test]
fn up_then_down_in_an_80_by_30_terminal() {
    let emu = Emulator::start(TERMINAL_SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let up = on_screen(&emu, dir.path(), &["up"], &format!(" is up ({STEPS} of {STEPS} steps changed"));
    assert_eq!(up.len(), STEPS, "every step of a new stack changes something: {up:#?}");
    assert_eq!(counter(up.last().unwrap()), Some(STEPS));
    // Ids are shortened only to fit, keeping their distinguishing tail.
    let role = up.iter().find(|l| l.contains("] iam.role ")).expect("the role's line");
    assert!(role.contains("-sagemaker-execution-role ("), "{role}");
    // `status` fits the terminal too: a row per step, its id keeping its tail; whole in a pipe.
    let (out, typescript) = terminal(&emu, dir.path(), &["status"]).on_terminal(None);
    assert!(out.status.success(), "{typescript}");
    let rows = render(program_bytes(&typescript), COLS, ROWS);
    let status: Vec<&String> = rows.iter().map(|(r, _)| r).filter(|r| r.starts_with("present ")).collect();
    assert!(status.len() >= STEPS, "{rows:#?}");
    assert!(rows.iter().any(|(r, _)| r.starts_with(&format!("Status: {} present.", status.len()))), "{rows:#?}");
    assert!(rows.iter().all(|(_, wrapped)| !wrapped), "no row wider than the terminal: {rows:#?}");
    let role = status.iter().find(|r| r.starts_with("present iam.role ")).expect("the role's row");
    assert!(role.trim_end().ends_with("-sagemaker-execution-role"), "{role}");
    let piped = provision_ok(&emu, dir.path(), &["status"]);
    assert!(piped.lines().any(|l| l.contains("arn:aws:iam::123456789012:role/")), "whole ids in a pipe: {piped}");
    // `verify` fits too: a control's evidence goes under its name, word-wrapped; an ARN longer
    // than a row is split after a '/', its name whole; one line per control in a pipe.
    let (out, typescript) = terminal(&emu, dir.path(), &["verify"]).on_terminal(None);
    assert!(out.status.success(), "{typescript}");
    let rows = render(program_bytes(&typescript), COLS, ROWS);
    assert!(rows.iter().all(|(_, wrapped)| !wrapped), "no row wider than the terminal: {rows:#?}");
    let controls = rows.iter().filter(|(r, _)| r.starts_with("PASS  ")).count();
    assert!(rows.iter().any(|(r, _)| r.starts_with(&format!("All {controls} controls pass"))), "{rows:#?}");
    let policy = "network-firewall-policy-sagemaker-studio-anfw";
    assert!(rows.iter().any(|(r, _)| r.trim_start().starts_with(policy)), "the policy's name whole: {rows:#?}");
    assert!(rows.iter().any(|(r, _)| r.trim_end().ends_with(":firewall-policy/")), "split after '/': {rows:#?}");
    let piped = provision_ok(&emu, dir.path(), &["verify"]);
    assert_eq!(piped.lines().filter(|l| l.starts_with("PASS  ")).count(), controls, "{piped}");
    assert!(piped.lines().any(|l| l.contains(&format!("firewall-policy/{policy}"))), "whole ids in a pipe: {piped}");
    let down = on_screen(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"], " is gone (");
    assert!(down.len() > 40, "{down:#?}");
    let left = rt().block_on(inventory(&emu));
    assert!(left.is_empty(), "{left:?}");
}

/// Ctrl-C while the firewall provisions: every step line and every "stopped" line printed is
/// on the screen, with the interrupt's note; the same `up` resumes. Then a resource deleted
/// out of band: `up`'s note and tracing's warning are on the screen, not erased by the view.
#[test]
fn interrupted_resumed_and_warned_in_an_80_by_30_terminal() {
    let emu = Emulator::start(TERMINAL_SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (out, typescript) = terminal(&emu, d, &["up"]).on_terminal_interrupted("nfw.firewall PROVISIONING");
    assert_eq!(out.status.code(), Some(130), "{typescript}");
    let (lines, screen) = check_screen(&["up"], &typescript, "interrupt: starting nothing new");
    let stopped: Vec<&str> = screen.lines().filter(|l| counter(l).is_some() && l.contains(" stopped ")).collect();
    assert!(stopped.iter().any(|l| l.contains("] nfw.firewall ")), "the firewall's wait stopped: {screen}");
    let up = on_screen(&emu, d, &["up"], " is up (");
    assert!(!up.is_empty() && lines.len() + up.len() >= STEPS, "{lines:#?} {up:#?}");

    let st = state_json(d);
    let sts = step_id(&st, "vpce.sts");
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        ec2.delete_vpc_endpoints().vpc_endpoint_ids(&sts).send().await.unwrap();
    });
    let (out, typescript) = terminal(&emu, d, &["up"]).env("RUST_LOG", "warn").on_terminal(None);
    assert!(out.status.success(), "{}", text(&out));
    let (again, screen) = check_screen(&["up"], &typescript, " is up (");
    assert!(again.iter().any(|l| l.contains("] vpce.sts ")), "{again:#?}");
    // Word-wrapped to the terminal: read as one text.
    let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("vpce.sts: interface VPC endpoint {sts} no longer exists")), "the note: {screen}");
    assert!(flat.contains("WARN provision::lifecycle: recorded resource no longer exists"), "the warning: {screen}");
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
}
