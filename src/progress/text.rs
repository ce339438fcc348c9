//! How progress text fits a terminal: counts and durations in words,
//! the terminal's width, ids shortened to their distinguishing tail, lines
//! padded, wrapped or cut to the width.

use std::io::IsTerminal;
use std::time::Duration;

/// `1 problem`, `0 problems`, `2 apps`: a count and its noun, in English.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `5m30s` from a minute on, `12.3s` below.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// The terminal's width (stderr's), else `COLUMNS`, else 80.
pub fn width() -> usize {
    size_of(&std::io::stderr()).0
}

/// Stdout's width when it is a terminal (reports fit it); `None` in a pipe
/// (whole lines, for scripts).
pub fn stdout_width() -> Option<usize> {
    let out = std::io::stdout();
    out.is_terminal().then(|| size_of(&out).0)
}

/// Width and height of the terminal `fd` is (`terminal_size`), else
/// `COLUMNS`/`LINES`, else 80×24.
pub(super) fn size_of(fd: &impl std::os::fd::AsFd) -> (usize, usize) {
    if let Some((terminal_size::Width(w), terminal_size::Height(h))) = terminal_size::terminal_size_of(fd)
        && w > 0
    {
        return (usize::from(w), usize::from(h.max(1)));
    }
    let num = |v: Result<String, std::env::VarError>, d: usize| {
        v.ok().and_then(|c| c.parse().ok()).filter(|&c| c > 0).unwrap_or(d)
    };
    (num(std::env::var("COLUMNS"), 80), num(std::env::var("LINES"), 24))
}

/// `s` in at most `max` characters: its distinguishing tail kept after a
/// `…` (an id's or ARN's end names the resource: `…execution-role`).
pub fn shorten_tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - (max - 1)));
    out
}

pub(super) fn shorten_end(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub(super) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A shortened id keeps at least this many characters of its tail; with
/// less room, the line wraps instead.
pub(super) const MIN_TAIL: usize = 16;

/// A finished step's line: `[26/56] vpce.sts  created  vpce-0abc… (1.2s)`
/// (`fit_row`: whole without a width, as in line mode).
pub fn step_line(count: &str, step: &str, action: &str, id: &str, took: &str, width: Option<usize>) -> String {
    fit_row(
        &format!("[{count}] {step:<24} {action:<9}"),
        &format!("[{count}] {step} {action}"),
        id,
        &format!(" ({took})"),
        width,
    )
}

/// A row of a report: `head`, then `id`, then `tail` (with its leading
/// spaces: ` (1.2s)`, `  (deleted out of band?)`). Without a width (not a
/// terminal) it is `aligned` (the head padded into columns) and whole.
/// Within `width`: aligned when that fits, else with the plain `head`;
/// then a short tail stays on the line and the id keeps its distinguishing
/// tail (at least `MIN_TAIL` characters of it); a long tail goes
/// word-wrapped on the lines below; with no room for a useful id, the id
/// goes on a line of its own. Nothing is cut but an id's start.
pub fn fit_row(aligned: &str, head: &str, id: &str, tail: &str, width: Option<usize>) -> String {
    let join = |h: &str, id: &str, t: &str| if id.is_empty() { format!("{h}{t}") } else { format!("{h} {id}{t}") };
    let full = join(aligned, id, tail);
    let Some(width) = width else { return full };
    if chars(&full) <= width {
        return full;
    }
    let plain = join(head, id, tail);
    if chars(&plain) <= width || id.is_empty() {
        return wrap(&plain, width);
    }
    // The id within `room`, if what is left of it still tells it apart.
    let short = |room: usize| (chars(id) <= room || room >= MIN_TAIL).then(|| shorten_tail(id, room));
    let short_tail = chars(tail) <= MIN_TAIL;
    if short_tail && let Some(s) = short(width.saturating_sub(chars(head) + chars(tail) + 1)) {
        return join(head, &s, tail);
    }
    let below = |first: String| match tail.trim() {
        "" => first,
        t => format!("{first}\n{}", wrap(&format!("    {t}"), width)),
    };
    if let Some(s) = short(width.saturating_sub(chars(head) + 1)) {
        return below(join(head, &s, ""));
    }
    let s = shorten_tail(id, width.saturating_sub(4).max(1));
    let second = match short_tail && chars(&s) + chars(tail) + 4 <= width {
        true => format!("    {s}{tail}"),
        false => below(format!("    {s}")),
    };
    format!("{}\n{second}", wrap(head, width))
}

/// A running step's line in the live view: `  nfw.firewall PROVISIONING
/// 1m12s of ~5m30s`; what it waits for is cut at its end when the line
/// would not fit.
pub(super) fn running_line(step: &str, what: &str, times: &str, width: usize) -> String {
    let line = format!("  {step} {what} {times}");
    if chars(&line) <= width {
        return line;
    }
    let room = width.saturating_sub(chars(step) + chars(times) + 4);
    if room >= 8 {
        return format!("  {step} {} {times}", shorten_end(what, room));
    }
    shorten_end(&format!("  {step} {times}"), width)
}

/// `text` word-wrapped to `width` (`textwrap`, breaking at spaces only),
/// continuation lines indented by two spaces more than the line they
/// continue; a word longer than a line is broken, not lost.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        if chars(line) <= width {
            out.push(line.to_string());
            continue;
        }
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        // Room for at least a few characters per line, however deep the indent.
        let (first, rest) = (" ".repeat(indent.min(width / 2)), " ".repeat((indent + 2).min(width / 2)));
        let opts = textwrap::Options::new(width.max(1))
            .initial_indent(&first)
            .subsequent_indent(&rest)
            .word_separator(textwrap::WordSeparator::AsciiSpace)
            .word_splitter(textwrap::WordSplitter::NoHyphenation)
            .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit)
            .break_words(true);
        out.extend(textwrap::wrap(body, opts).into_iter().map(|l| l.into_owned()));
    }
    out.join("\n")
}

/// `line` in at most `width` characters (the live view's header): its
/// longest words keep their tails, then the end is cut.
pub fn fit(line: &str, width: usize) -> String {
    if chars(line) <= width {
        return line.to_string();
    }
    let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
    let len = |w: &[String]| w.iter().map(|x| chars(x)).sum::<usize>() + w.len().saturating_sub(1);
    while len(&words) > width {
        let (i, longest) = words.iter().enumerate().map(|(i, w)| (i, chars(w))).max_by_key(|&(i, n)| (n, i)).unwrap();
        if longest <= MIN_TAIL {
            break;
        }
        let over = len(&words) - width;
        words[i] = shorten_tail(&words[i], longest.saturating_sub(over).max(MIN_TAIL));
    }
    shorten_end(&words.join(" "), width)
}
