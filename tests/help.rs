//! Help reads in an 80-column terminal: every command's `--help`, run as
//! the binary with `COLUMNS=80` (what clap's `wrap_help` falls back to off
//! a terminal), has no line wider than 80 columns, no word broken, every
//! flag described, and no environment variable's value shown.

use std::process::Command;

use clap::CommandFactory;

/// Every command path: `up`, `state init`, ...
fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut p = prefix.to_vec();
        p.push(sub.get_name().to_string());
        out.push(p.clone());
        paths(sub, &p, out);
    }
}

fn help(args: &[String]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .arg("--help")
        .env("COLUMNS", "80")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("PROVISION_STATE", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?} --help: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn every_help_fits_80_columns_and_describes_every_flag() {
    let root = provision::commands::Cli::command();
    let mut all = vec![Vec::new()];
    paths(&root, &[], &mut all);
    assert!(all.len() > 15, "{all:?}");
    for path in &all {
        let text = help(path);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "`provision {} --help` has a line of {} columns:\n{line}",
                path.join(" "),
                line.chars().count()
            );
        }
        assert!(
            !text.contains("[env: PROVISION_STATE=]") && !text.contains("http://127.0.0.1:1"),
            "env values are hidden: {text}"
        );
        assert!(text.contains("Global options:") && text.contains("Stack parameters:"), "{path:?}: {text}");
    }
    // Every flag and argument of every command has a description.
    fn undescribed(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for a in cmd.get_arguments().filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version") {
            if a.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                out.push(format!("provision{path}: {}", a.get_id()));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            undescribed(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut missing = Vec::new();
    undescribed(&root, "", &mut missing);
    assert!(missing.is_empty(), "without a description: {missing:#?}");
}

fn man(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_provision")).arg("man").args(args).output().unwrap()
}

/// `provision man` prints provision(1) in roff, from the same definitions as
/// `--help`, naming every command in its SUBCOMMANDS section; `provision man
/// COMMAND` prints provision-COMMAND(1), the page provision(1) refers to; where
/// groff is installed, each page renders without a warning.
#[test]
fn the_man_page_renders_and_names_every_command() {
    let root = provision::commands::Cli::command();
    let commands: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
    assert!(commands.len() > 15 && commands.contains(&"man"), "{commands:?}");
    let o = man(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(page.contains(".TH provision 1") && page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"), "{page}");
    let listed = page.split(".SH SUBCOMMANDS").nth(1).unwrap_or_else(|| panic!("no SUBCOMMANDS: {page}"));
    for c in &commands {
        // roff escapes the hyphens of names (studio\-url).
        let entry = format!("provision\\-{}(1)", c.replace('-', "\\-"));
        assert!(listed.contains(&entry), "{entry} not listed: {listed}");
        let o = man(&[c]);
        assert!(o.status.success(), "man {c}: {}", String::from_utf8_lossy(&o.stderr));
        let sub = String::from_utf8(o.stdout).unwrap();
        assert!(sub.contains(&format!(".TH provision-{c} 1 ")), "man {c}: {sub}");
        if *c == "up" {
            assert!(sub.contains("\\-\\-strict") && sub.contains("\\-\\-any\\-region"), "{sub}");
        }
    }
    let o = man(&["nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("man: no command 'nope' (one of up, down,"));
    // Rendered as man(1) would (groff's man macros), where groff is installed: no warning, every command named.
    let Ok(mut groff) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("groff not installed: the roff is checked, not its rendering");
        return;
    };
    use std::io::Write;
    groff.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = groff.wait_with_output().unwrap();
    let (text, warnings) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && warnings.trim().is_empty(), "groff: {warnings}");
    let text = text.replace(['\u{2010}', '\u{2212}'], "-");
    for c in &commands {
        assert!(text.contains(&format!("provision-{c}(1)")), "rendered page lacks {c}: {text}");
    }
}
