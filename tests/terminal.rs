//! What a person sees in an 80×30 terminal: `up`, then `down --purge-efs --delete-data
//! --yes`, each run in a pseudo-terminal (script(1), `stty cols 80 rows 30`), every byte it
//! wrote rendered by a terminal emulator (`vt100`) with its scrollback. On that screen:
//! every step line the run printed, whole and in order, with counters that only grow; no
//! frame of the live view left behind; no row the terminal had to wrap (a line wider than
//! the terminal, cut mid-word).

mod common;

use std::num::NonZeroU16;

use common::*;

const COLS: u16 = 80;
const ROWS: u16 = 30;
/// Slow enough for the live view to draw many frames (the firewall takes 330 s × 0.01).
const TERMINAL_SCALE: &str = "0.01";

/// The program's bytes in a typescript: script's first line (its header) and last (its
/// trailer) are not the program's.
fn program_bytes(typescript: &str) -> &str {
    let body = typescript.split_once('\n').map(|(_, b)| b).unwrap_or("");
    body.rsplit_once("\nScript done").map(|(b, _)| b).unwrap_or(body)
}

/// The terminal's rows after the program ended, the scrollback first, trailing blank rows
/// dropped: each row's text and whether the terminal wrapped it onto the next one.
fn render(bytes: &str) -> Vec<(String, bool)> {
    let (rows, cols) = (NonZeroU16::new(ROWS).unwrap(), NonZeroU16::new(COLS).unwrap());
    let mut term = vt100::Parser::new(rows, cols, 100_000);
    term.process(bytes.as_bytes());
    let depth = term.screen().scrollback_len();
    let mut out = Vec::new();
    // Scrolled back by `off` rows, the top row is the scrollback's row `depth - off`.
    for off in (1..=depth).rev() {
        term.screen_mut().set_scrollback(off);
        let s = term.screen();
        out.push((s.rows(0, COLS).next().unwrap_or_default(), s.row_wrapped(0)));
    }
    term.screen_mut().set_scrollback(0);
    let s = term.screen();
    for (i, row) in s.rows(0, COLS).enumerate() {
        out.push((row, s.row_wrapped(i as u16)));
    }
    while out.last().is_some_and(|(r, _)| r.trim().is_empty()) {
        out.pop();
    }
    out
}

/// The segments of the byte stream between line feeds and carriage returns, escape codes
/// removed: every line the program wrote, frames of the live view included.
fn segments(bytes: &str) -> Vec<String> {
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
        } else {
            plain.push(c);
        }
    }
    plain.split(['\n', '\r']).map(|s| s.trim_end().to_string()).filter(|s| !s.is_empty()).collect()
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
    row.contains("· critical path ~") && row.ends_with(" left")
}

/// Runs `args` in the terminal; checks the screen; returns the step lines it showed.
fn on_screen(emu: &Emulator, dir: &std::path::Path, args: &[&str], done: &str) -> Vec<String> {
    let (out, typescript) =
        Run::new(emu, dir).scale(TERMINAL_SCALE).cols(COLS as usize).rows(ROWS as usize).args(args).on_terminal(None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    let bytes = program_bytes(&typescript);
    let printed: Vec<String> = segments(bytes).into_iter().filter(|l| counter(l).is_some()).collect();
    let rows = render(bytes);
    let shown: Vec<String> = rows.iter().map(|(r, _)| r.trim_end().to_string()).collect();
    let screen = shown.join("\n");
    // The live view was there while it ran (else this test would prove nothing).
    assert!(segments(bytes).iter().any(|l| is_header(l)), "{args:?}: no live view drawn:\n{screen}");
    // Every step line printed is on the screen, whole, in the order printed; nothing else
    // looks like one.
    let step_rows: Vec<String> = shown.iter().filter(|r| counter(r).is_some()).cloned().collect();
    assert!(!printed.is_empty(), "{args:?}: no step line printed:\n{screen}");
    assert_eq!(step_rows, printed, "{args:?}: the step lines on screen are the ones printed:\n{screen}");
    // Counters only grow: never twice, never backwards.
    let counts: Vec<usize> = step_rows.iter().filter_map(|r| counter(r)).collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "{args:?}: counters {counts:?}:\n{screen}");
    // No frame of the live view left behind: no header, no running step's line.
    let stale: Vec<&String> =
        shown.iter().filter(|r| is_header(r) || r.contains(" of ~") || r.starts_with("  … and ")).collect();
    assert!(stale.is_empty(), "{args:?}: stale frames {stale:#?}:\n{screen}");
    // Nothing the terminal had to wrap, nothing wider than it.
    let wrapped: Vec<&String> = rows.iter().filter(|(_, w)| *w).map(|(r, _)| r).collect();
    assert!(wrapped.is_empty(), "{args:?}: rows wrapped by the terminal (cut mid-word) {wrapped:#?}");
    // The run's last words are there too.
    assert!(screen.contains(done), "{args:?}: {done:?}:\n{screen}");
    step_rows
}

#[test]
fn up_then_down_in_an_80_by_30_terminal() {
    let emu = Emulator::start(TERMINAL_SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let up = on_screen(&emu, dir.path(), &["up"], " is up (56 of 56 steps changed");
    assert_eq!(up.len(), 56, "every step of a new stack changes something: {up:#?}");
    assert_eq!(counter(up.last().unwrap()), Some(56));
    // Ids are shortened only to fit, keeping their distinguishing tail.
    let role = up.iter().find(|l| l.contains("] iam.role ")).expect("the role's line");
    assert!(role.contains("-sagemaker-execution-role ("), "{role}");
    let down = on_screen(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"], " is gone (");
    assert!(down.len() > 40, "{down:#?}");
    let left = rt().block_on(inventory(&emu));
    assert!(left.is_empty(), "{left:?}");
}
