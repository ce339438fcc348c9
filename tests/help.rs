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
