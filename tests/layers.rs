//! The module tree reads top-down: commands → lifecycle → graph → kinds →
//! the foundations (aws, state, engine, config, policy, error, ...). This
//! test reads `src/` as text, turns every `crate::…` and `super::…` path
//! into an arrow between files, and fails on an import cycle between any
//! two files, or on an arrow that points up the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, highest layer first. A module may use those below it
/// (and, in the last layer, any other foundation module, as long as no
/// cycle forms).
const LAYERS: &[&[&str]] = &[
    &["main", "lib"],
    &["commands"],
    &["lifecycle", "preflight"],
    &["graph"],
    &["kinds"],
    &[
        "aws",
        "config",
        "engine",
        "error",
        "policy",
        "progress",
        "retry",
        "state",
        "step_id",
        "wait",
        "operations",
        "pace",
        "latency",
        "context",
        "cost",
    ],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A file's module path: `src/kinds/nat_gateway.rs` → ["kinds", "nat_gateway"].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The file that defines the longest prefix of `path` that is a file module.
fn resolve(path: &[String], known: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| known.contains_key(p))
}

/// Code without comments and string literals (so doc examples are not arrows).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Module paths named in a file: `crate::a::b`, `super::x`, and grouped
/// imports `crate::a::{b, c::d}`.
fn references(me: &[String], is_mod_file: bool, text: &str) -> Vec<Vec<String>> {
    let text = code(text);
    let mut out = Vec::new();
    // The module `super` means: the parent of a file module, the parent of
    // the directory for a mod.rs file.
    let _ = is_mod_file;
    let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = text.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            expand(&base, rest, &mut out);
        }
    }
    out
}

/// Expands `a::b::{c, d::e}` (the text after `crate::`) into module paths.
fn expand(base: &[String], text: &str, out: &mut Vec<Vec<String>>) {
    let mut path = base.to_vec();
    let mut s = text.trim_start();
    loop {
        if let Some(inner) = s.strip_prefix('{') {
            let (mut depth, mut start) = (1, 0);
            for (j, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        expand(&path, &inner[start..j], out);
                        start = j + 1;
                    }
                    _ => {}
                }
                if depth == 0 {
                    expand(&path, &inner[start..j], out);
                    break;
                }
            }
            return;
        }
        let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        if end == 0 {
            break;
        }
        path.push(s[..end].to_string());
        s = &s[end..];
        match s.strip_prefix("::") {
            Some(rest) => s = rest.trim_start(),
            None => break,
        }
    }
    if path.len() > base.len() {
        out.push(path);
    }
}

fn layer_of(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS.iter().position(|l| l.contains(&top.as_str()))
}

#[test]
fn no_import_cycle_and_no_arrow_up_the_layers() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let known: BTreeMap<Vec<String>, PathBuf> = all.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut arrows: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut up = Vec::new();
    for f in &all {
        let me = module_of(f);
        let is_mod = f.file_name().is_some_and(|n| n == "mod.rs");
        let text = std::fs::read_to_string(f).unwrap();
        // Test modules may reach anywhere.
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        if me.last().is_some_and(|m| m == "tests") {
            continue;
        }
        for r in references(&me, is_mod, text) {
            let Some(target) = resolve(&r, &known) else { continue };
            // A parent module declaring or re-exporting its children is not an arrow up.
            if target == me || (target.len() > me.len() && target.starts_with(&me)) {
                continue;
            }
            if let (Some(a), Some(b)) = (layer_of(&me), layer_of(&target))
                && b < a
            {
                up.push(format!("{} -> {}", me.join("::"), target.join("::")));
            }
            arrows.entry(me.clone()).or_default().insert(target);
        }
    }
    assert!(up.is_empty(), "arrows pointing up the layers:\n  {}", up.join("\n  "));
    for m in known.keys() {
        assert!(layer_of(m).is_some(), "module {} is in no layer of tests/layers.rs", m.join("::"));
    }
    // Cycles: a depth-first search that reports the first back edge.
    fn visit(
        n: &Vec<String>,
        arrows: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<String> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in arrows.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let cycle: Vec<String> = stack[from..].iter().chain([m]).map(|s| s.join("::")).collect();
                    return Some(cycle.join(" -> "));
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, arrows, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in known.keys() {
        if !state.contains_key(n)
            && let Some(c) = visit(n, &arrows, &mut state, &mut Vec::new())
        {
            panic!("import cycle: {c}");
        }
    }
    assert!(arrows.len() > 20, "the scan found arrows ({} files with imports)", arrows.len());
}

#[test]
fn the_scan_sees_grouped_and_relative_imports() {
    let me = vec!["kinds".to_string(), "route".to_string()];
    let refs = references(
        &me,
        false,
        "use super::firewall::endpoint_attr;\nuse crate::{error::aws, wait::{Poll, until}};\n// crate::commands in a comment\nlet s = \"crate::cli\";",
    );
    let refs: BTreeSet<String> = refs.iter().map(|r| r.join("::")).collect();
    assert!(refs.contains("kinds::firewall::endpoint_attr"), "{refs:?}");
    assert!(refs.contains("error::aws"), "{refs:?}");
    assert!(refs.contains("wait::Poll"), "{refs:?}");
    assert!(!refs.iter().any(|r| r.starts_with("commands") || r.starts_with("cli")), "{refs:?}");
}

/// Issue 27: parameters are read in one place. Only the resolution
/// (`commands/resolve.rs`) reads the config file (`RawParams::from_file`,
/// which `config` defines; only `config` parses TOML); the environment is
/// read for parameters only by clap, through the declarations (`env = ...`
/// in `config::RawParams` and `commands::args::Global`). The other
/// environment reads are listed here, none of them a parameter.
#[test]
fn only_the_resolution_reads_the_config_file_or_the_environment_for_parameters() {
    const RESOLUTION: &str = "commands/resolve.rs";
    const DECLARATIONS: &[&str] = &["config/mod.rs", "commands/args.rs"];
    const NOT_PARAMETERS: &[(&str, &str)] = &[
        ("wait.rs", "PROVISION_TIME_SCALE"), // the tests' time scale
        ("progress/text.rs", "COLUMNS"),     // the terminal's width
        ("progress/text.rs", "LINES"),       // and height
        ("state/lock.rs", "USER"),           // who holds a lock
        ("state/lock.rs", "LOGNAME"),
        ("commands/run.rs", "TRACE_ENV"), // where the trace of a run goes
        ("main.rs", "NO_COLOR"),          // no colour codes (no-color.org)
    ];
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut wrong = Vec::new();
    for f in &all {
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
        if rel.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            let at = format!("src/{rel}:{}", n + 1);
            if line.contains("from_file(") && !line.contains("fn from_file(") && rel != RESOLUTION {
                wrong.push(format!("{at}: reads the config file outside {RESOLUTION}"));
            }
            if line.contains("toml::") && rel != "config/mod.rs" {
                wrong.push(format!("{at}: parses TOML outside config/mod.rs"));
            }
            if line.contains("env = \"") && !DECLARATIONS.contains(&rel.as_str()) {
                wrong.push(format!("{at}: a flag read from the environment outside the declarations"));
            }
            for call in ["env::var(", "env::var_os(", "env::vars("] {
                for (i, _) in line.match_indices(call) {
                    let arg = &line[i + call.len()..];
                    let name = arg[..arg.find(')').unwrap_or(arg.len())].trim().trim_matches('"');
                    if !NOT_PARAMETERS.contains(&(rel.as_str(), name)) {
                        wrong.push(format!("{at}: reads the environment ({name}) outside {RESOLUTION}"));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "parameters read outside their one place:\n  {}", wrong.join("\n  "));
}
