//! Operator experience against the emulator: `plan` (read-only, correct
//! actions after a partial run), `status` (drift and out-of-band deletion),
//! `studio-url`, `outputs KEY`, completions, and the progress output.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn plan_json(emu: &Emulator, dir: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["plan", "--json"];
    args.extend_from_slice(extra);
    json_array(&provision_ok(emu, dir, &args))
}

fn action<'a>(plan: &'a [Value], step: &str) -> &'a str {
    plan.iter().find(|l| l["step"] == step).and_then(|l| l["action"].as_str()).unwrap_or("(absent)")
}

#[test]
fn plan_is_read_only_and_right_after_a_partial_run() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    let plan = plan_json(&emu, dir.path(), &[]);
    assert_eq!(plan.len(), STEPS);
    assert!(plan.iter().all(|l| l["action"] == "create"), "fresh stack: all create");
    assert!(!dir.path().join("state").exists(), "plan wrote no state");

    emu.control_post(
        "faults",
        json!({"operation": "ec2:CreateNatGateway", "count": 1, "error_code": "InvalidParameterValue", "status": 400}),
    );
    let o = provision(&emu, dir.path(), &["up"]);
    assert_eq!(o.status.code(), Some(1));
    let before = std::fs::read(dir.path().join("state/sagemaker-studio-anfw.json")).unwrap();
    emu.clear_calls();
    let plan = plan_json(&emu, dir.path(), &[]);
    assert_eq!(action(&plan, "vpc"), "exists");
    assert_eq!(action(&plan, "nfw.firewall"), "exists");
    assert_eq!(action(&plan, "nat"), "create", "the failed create left nothing");
    assert_eq!(action(&plan, "route.sagemaker_egress"), "create");
    assert_eq!(action(&plan, "sm.app"), "create");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "plan made mutating calls: {mutating:?}");
    assert_eq!(
        std::fs::read(dir.path().join("state/sagemaker-studio-anfw.json")).unwrap(),
        before,
        "plan left the state untouched"
    );

    provision_ok(&emu, dir.path(), &["up"]);
    emu.clear_calls();
    let plan = plan_json(&emu, dir.path(), &["--destroy"]);
    assert_eq!(action(&plan, "vpc"), "keep", "the retained EFS needs the VPC");
    assert_eq!(action(&plan, "efs.file_system"), "keep");
    assert_eq!(action(&plan, "nat"), "delete");
    let plan = plan_json(&emu, dir.path(), &["--destroy", "--purge-efs"]);
    assert_eq!(action(&plan, "vpc"), "delete");
    assert_eq!(action(&plan, "efs.mount_target"), "delete");
    assert_eq!(action(&plan, "sg.nfs"), "delete");
    let mutating = emu.mutating_calls();
    assert!(mutating.is_empty(), "plan --destroy made mutating calls: {mutating:?}");
}

#[test]
fn status_reports_drift_and_out_of_band_deletion() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let o = provision(&emu, dir.path(), &["status"]);
    assert!(o.status.success(), "clean stack: {}", text(&o));
    assert!(text(&o).contains(&format!("{PRESENT} present")), "{}", text(&o));

    let st = state_json(dir.path());
    let rtb = step_id(&st, "rtb.sagemaker");
    let igw = step_id(&st, "igw");
    let bucket = step_id(&st, "bucket.models");
    let sg = step_id(&st, "sg.vpce");
    let (flow_group, firewall) = (step_id(&st, "logs.firewall_flow"), step_id(&st, "nfw.firewall"));
    rt().block_on(async {
        let sdk = emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        ec2.replace_route()
            .route_table_id(&rtb)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&sg)
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .cidr_ip("0.0.0.0/0")
            .send()
            .await
            .unwrap();
        emu.s3().await.delete_bucket_policy().bucket(&bucket).send().await.unwrap();
        // Logging (issue 14): a group's retention changed, the firewall's ALERT logging removed.
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        logs.put_retention_policy().log_group_name(&flow_group).retention_in_days(7).send().await.unwrap();
        firewall_flow_logging_only(&emu, &firewall, &flow_group).await;
    });
    let o = provision(&emu, dir.path(), &["status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "drift is a non-zero exit: {t}");
    let line =
        |step: &str| t.lines().find(|l| l.split_whitespace().nth(1) == Some(step)).unwrap_or_default().to_string();
    assert!(
        line("route.sagemaker_egress").starts_with("changed") && line("route.sagemaker_egress").contains(&igw),
        "{t}"
    );
    assert!(line("sg.vpce").starts_with("changed") && line("sg.vpce").contains("tcp 22 from 0.0.0.0/0"), "{t}");
    assert!(
        line("bucket.models").starts_with("changed") && line("bucket.models").contains("bucket policy removed"),
        "{t}"
    );
    assert!(line("vpc").starts_with("present"), "{t}");
    assert!(
        line("logs.firewall_flow").starts_with("changed") && line("logs.firewall_flow").contains("retention 7 days"),
        "{t}"
    );
    assert!(
        line("nfw.logging").starts_with("changed") && line("nfw.logging").contains("ALERT logs not configured"),
        "{t}"
    );

    // `up` restores them; a subnet deleted out of band is reported missing.
    let out = provision_ok(&emu, dir.path(), &["up"]);
    assert!(out.contains("sg.vpce: security group") && out.contains("updating it"), "{out}");
    assert!(out.contains("bucket.models: S3 bucket") && out.contains("updating it"), "{out}");
    assert!(out.contains("nfw.logging: firewall logging configuration"), "{out}");
    let o = provision(&emu, dir.path(), &["status"]);
    assert!(o.status.success(), "restored by up: {}", text(&o));
    let state = dir.path().join("state/sagemaker-studio-anfw.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let subnet = rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let vpc = step_id(&st, "vpc");
        let s = ec2.create_subnet().vpc_id(vpc).cidr_block("10.2.9.0/24").send().await.unwrap();
        let id = s.subnet().unwrap().subnet_id().unwrap().to_string();
        ec2.delete_subnet().subnet_id(&id).send().await.unwrap();
        id
    });
    // Point the record of the firewall subnet at a subnet that no longer exists.
    doc["steps"]["subnet.firewall"]["id"] = json!(subnet);
    std::fs::write(&state, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let o = provision(&emu, dir.path(), &["status", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    let arr = json_array(&t);
    let l = arr.iter().find(|l| l["step"] == "subnet.firewall").unwrap();
    assert_eq!(l["action"], "missing", "{l}");
}

#[test]
fn studio_url_outputs_and_completions() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let o = provision(&emu, dir.path(), &["studio-url"]);
    assert_ne!(o.status.code(), Some(0), "no stack yet: {}", text(&o));
    provision_ok(&emu, dir.path(), &["up"]);
    let o = provision(&emu, dir.path(), &["studio-url", "--expires", "120"]);
    assert!(o.status.success(), "{}", text(&o));
    let url = String::from_utf8(o.stdout).unwrap();
    assert_eq!(url.lines().count(), 1, "prints the URL only: {url}");
    assert!(url.starts_with("https://") && url.contains("token="), "{url}");
    let state = std::fs::read_to_string(dir.path().join("state/sagemaker-studio-anfw.json")).unwrap();
    assert!(!state.contains(url.trim()) && !state.contains("token="), "the URL is never stored");

    let st = state_json(dir.path());
    let o = provision(&emu, dir.path(), &["outputs", "VPCId"]);
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), step_id(&st, "vpc"));
    let o = provision(&emu, dir.path(), &["outputs", "NoSuchKey"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown output key 'NoSuchKey'"), "{}", text(&o));

    for shell in ["bash", "zsh", "fish"] {
        let o = provision(&emu, dir.path(), &["completions", shell]);
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("studio-url"), "{shell}");
    }
}

#[test]
fn progress_is_live_on_a_terminal_and_line_per_event_otherwise() {
    let emu = Emulator::start("0.01", &[]);
    // Not a terminal: one line per finished step, nothing else between them.
    let dir = tempfile::tempdir().unwrap();
    let o = provision(&emu, dir.path(), &["up"]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    let step_lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(step_lines.len(), STEPS, "{err}");
    assert!(!err.contains('\r') && !err.contains("\u{1b}["), "no terminal control codes: {err:?}");
    // A long wait says so every 30 s (scaled like the waits): what it waits for, its elapsed
    // time against the expected 330 s (scaled) and the time left.
    let beats: Vec<&str> = err.lines().filter(|l| l.starts_with("  nfw.firewall: still ")).collect();
    assert!(beats.len() >= 3, "heartbeats of the firewall's wait: {err}");
    assert!(beats.iter().any(|l| l.contains("still PROVISIONING, ")), "names what it waits for: {beats:#?}");
    let expected: Vec<f64> =
        beats.iter().filter_map(|l| l.split_once(" of ~")?.1.split_once("s (")?.0.parse().ok()).collect();
    let want = 330.0 * SCALE.parse::<f64>().unwrap();
    assert!(
        expected.len() == beats.len() && expected.iter().all(|e| (e - want).abs() <= 0.051),
        "expected ~{want}s: {beats:#?}"
    );
    assert!(beats.iter().any(|l| l.ends_with(" left)")), "{beats:#?}");
    // Counters only grow.
    let counts: Vec<usize> =
        step_lines.iter().map(|l| l[1..].split('/').next().unwrap().trim().parse().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
}

/// Runs `up` under script(1) in a pseudo-terminal of `cols` columns; returns every frame the
/// terminal showed (its rows after each redraw, rendered by a terminal emulator) and the rows
/// it ended with, scrollback included.
fn up_in_a_terminal(emu: &Emulator, cols: usize, scale: &str) -> (Vec<screen::Rows>, screen::Rows) {
    let dir = tempfile::tempdir().unwrap();
    // Another stack (project) for each width, in the same emulator.
    let project = format!("view-{cols}");
    let (st, typescript) = Run::new(emu, dir.path())
        .scale(scale)
        .cols(cols)
        .args(["--project", &project, "--domain-name", &project, "up"])
        .on_terminal(None);
    assert!(st.status.success(), "{}", text(&st));
    assert!(typescript.contains("\u{1b}["), "redraws in place");
    let bytes = screen::program_bytes(&typescript);
    (screen::frames(bytes, cols as u16, 40), screen::render(bytes, cols as u16, 40))
}

/// "1m12s" or "9.9s" as seconds.
fn seconds(s: &str) -> f64 {
    match s.split_once('m') {
        Some((m, rest)) => m.parse::<f64>().unwrap() * 60.0 + rest.trim_end_matches('s').parse::<f64>().unwrap(),
        None => s.trim_end_matches('s').parse().unwrap(),
    }
}

/// In a terminal of 60 and of 120 columns, nothing `up` writes is wider than the terminal;
/// the firewall's wait shows its elapsed against its expected time (330 s in the latency
/// profile, times the scale), and the header's time left on the critical path counts down
/// from the whole bound (334 s times the scale).
#[test]
fn the_live_view_fits_the_terminal_and_counts_down() {
    let scale = "0.03";
    let emu = Emulator::start(scale, &[]);
    for cols in [60, 120] {
        let (frames, end) = up_in_a_terminal(&emu, cols, scale);
        // Nothing wider than the terminal: no row of any frame, nor of the end, cut inside a word.
        for rows in frames.iter().chain([&end]) {
            let cut = screen::cut_words(rows, cols as u16);
            assert!(cut.is_empty(), "{cols} columns: lines wider than the terminal: {cut:#?}");
        }
        let lines: Vec<String> = frames.iter().chain([&end]).flatten().map(|(r, _)| r.trim_end().to_string()).collect();
        assert!(lines.iter().any(|l| l.contains("is up (")), "final summary: {lines:#?}");
        assert!(lines.iter().any(|l| l.contains("wall time") && l.contains("critical path")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("slowest: nfw.firewall")), "the firewall is the slowest: {lines:#?}");
        // `  nfw.firewall PROVISIONING 3.1s of ~9.9s`
        let waits: Vec<(f64, f64)> = lines
            .iter()
            .filter_map(|l| {
                let rest = l.trim_start().strip_prefix("nfw.firewall ")?;
                let (before, expected) = rest.rsplit_once(" of ~")?;
                Some((seconds(before.rsplit(' ').next()?), seconds(expected)))
            })
            .collect();
        assert!(!waits.is_empty(), "{cols}: the firewall's ETA line: {lines:#?}");
        assert!(waits.iter().all(|(_, e)| (*e - 9.9).abs() < 0.05), "expected 330 s x {scale}: {waits:?}");
        assert!(waits.iter().any(|(el, _)| *el > 1.0), "its elapsed time moves: {waits:?}");
        // `up [12/48] 3.2s · critical path ~6.7s left`
        let left: Vec<f64> = lines
            .iter()
            .filter_map(|l| l.split_once("critical path ~")?.1.strip_suffix(" left").map(seconds))
            .collect();
        assert!(left.len() > 5, "{cols}: header: {lines:#?}");
        assert!((left[0] - 334.0 * 0.03).abs() < 0.05, "starts at the bound: {left:?}");
        assert!(left.windows(2).all(|w| w[1] <= w[0] + 1e-9), "never goes up: {left:?}");
        let distinct: std::collections::BTreeSet<u64> = left.iter().map(|s| (s * 10.0) as u64).collect();
        assert!(distinct.len() > 5 && *left.last().unwrap() < 1.0, "counts down: {left:?}");
    }
}

/// `up --json` and `down --json` stream one event per step transition on stdout, each valid
/// against schema/progress-event.json (checked by the `jsonschema` package of the emulator's
/// venv): a start, every step started and done, the firewall's waits, an end with the summary.
#[test]
fn json_events_follow_the_schema() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [&["up", "--json"][..], &["down", "--purge-efs", "--delete-data", "--yes", "--json"]] {
        let o = provision(&emu, dir.path(), args);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        let events: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
        let file = dir.path().join("events.jsonl");
        std::fs::write(&file, &out).unwrap();
        let check = Command::new(repo.join("emulator/.venv/bin/python"))
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator.check_schema(schema)\n\
                 v = jsonschema.Draft202012Validator(schema)\n\
                 for n, line in enumerate(open(sys.argv[2]), 1):\n\
                 \x20   for e in v.iter_errors(json.loads(line)):\n\
                 \x20       print(f'line {n}: {e.message}')\n",
            ])
            .arg(repo.join("schema/progress-event.json"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(check.status.success() && check.stdout.is_empty(), "{args:?}: {}", text(&check));
        assert_eq!(events.first().unwrap()["event"], "start", "{out}");
        let end = events.last().unwrap();
        assert_eq!((&end["event"], &end["ok"]), (&json!("end"), &json!(true)), "{out}");
        let steps = events[0]["steps"].as_u64().unwrap() as usize;
        let ended = events.iter().filter(|e| e["event"] == "step" && e["state"] == "done").count();
        let started = events.iter().filter(|e| e["event"] == "step" && e["state"] == "started").count();
        assert_eq!((started, ended), (steps, steps), "{args:?}: every step starts and ends once: {out}");
        assert!(
            events.iter().any(|e| e["step"] == "nfw.firewall" && e["state"] == "waiting"),
            "{args:?}: the firewall's wait: {out}"
        );
    }
    let left = rt().block_on(inventory(&emu));
    assert!(left.is_empty(), "{left:?}");
}

/// After a plain `down`, what it keeps (the EFS, its mount targets, the NFS
/// groups, the SageMaker subnet and the VPC) is reported as retained, not as
/// missing: the EFS kinds are checked by their own recorded ids, not through
/// the domain record `down` removed.
#[test]
fn status_after_down_reports_what_is_kept_as_retained() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    provision_ok(&emu, dir.path(), &["down", "--yes"]);
    let o = provision(&emu, dir.path(), &["status", "--json"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let actions: BTreeMap<String, String> = json_array(&t)
        .iter()
        .map(|l| (l["step"].as_str().unwrap().to_string(), l["action"].as_str().unwrap().to_string()))
        .collect();
    for step in ["efs.file_system", "efs.mount_target", "sg.nfs", "subnet.sagemaker", "vpc"] {
        assert_eq!(actions.get(step).map(String::as_str), Some("retained"), "{step}: {t}");
    }
    assert!(actions.values().all(|a| a == "retained"), "{t}");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
}

/// `provision completions bash | head -0`: the reader is gone before the
/// first line, and the program ends quietly, killed by SIGPIPE like other
/// Unix tools (a shell reports 141), without a panic message.
#[test]
fn a_closed_stdout_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let here = std::env::current_dir().unwrap();
    let mut child = Run::bare(&here).args(["completions", "bash"]).spawn();
    // Close the read end at once: the child's first write finds no reader.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    const SIGPIPE: i32 = 13;
    assert_eq!(out.status.signal(), Some(SIGPIPE), "{:?} {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}

/// `eval "$(make -s env)"` (README, "After make up") points a shell at the
/// emulator with the built binary on PATH: run `provision` that way against
/// a running emulator.
#[test]
fn make_env_lets_a_shell_run_provision_by_hand() {
    let emu = Emulator::start("0", &[]);
    let port = emu.url.rsplit(':').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    // The binary under test is where CARGO_TARGET_DIR says; make prints that.
    let target =
        std::path::Path::new(env!("CARGO_BIN_EXE_provision")).parent().unwrap().parent().unwrap().to_path_buf();
    let script = format!(
        "eval \"$(make -s -C {repo} env PORT={port})\" && cd {} && provision outputs --json; provision status",
        dir.path().display()
    );
    let o = Command::new("bash")
        .args(["-c", &script])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let t = text(&o);
    // No stack yet: `outputs` says so, and `status` reached the emulator (STS
    // answered) and found no state file.
    assert!(t.contains("no state file"), "{t}");
    assert!(!t.contains("no AWS credentials") && !t.contains("command not found"), "{t}");
}

/// The execution policy a stack was made with is brought up to the stack's permissions by
/// `up` (a newer `provision`, or an edit out of band): `status` reports it, `up` makes a new
/// default version, pruning the oldest at IAM's five versions.
#[test]
fn an_out_of_date_execution_policy_is_reported_and_brought_up_to_date() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let arn = step_id(&state_json(dir.path()), "iam.policy");
    let rt = rt();
    let iam = rt.block_on(async { aws_sdk_iam::Client::new(&emu.sdk().await) });
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
    // Four edits out of band: v1 (the stack's) .. v5, the last one the default.
    rt.block_on(async {
        for _ in 0..4 {
            iam.create_policy_version()
                .policy_arn(&arn)
                .policy_document(narrow)
                .set_as_default(true)
                .send()
                .await
                .unwrap();
        }
    });
    let o = provision(&emu, dir.path(), &["status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let line = t.lines().find(|l| l.split_whitespace().nth(1) == Some("iam.policy")).unwrap_or_default();
    assert!(line.starts_with("changed") && line.contains("default version v5 differs"), "{t}");

    let out = provision_ok(&emu, dir.path(), &["up"]);
    assert!(out.contains("iam.policy: IAM managed policy") && out.contains("updating it"), "{out}");
    let (versions, default_doc) = rt.block_on(async {
        let v = iam.list_policy_versions().policy_arn(&arn).send().await.unwrap();
        let ids: Vec<String> = v.versions().iter().filter_map(|v| v.version_id().map(str::to_string)).collect();
        let default = v.versions().iter().find(|v| v.is_default_version()).unwrap().version_id().unwrap().to_string();
        let doc = iam.get_policy_version().policy_arn(&arn).version_id(&default).send().await.unwrap();
        let doc = doc.policy_version().unwrap().document().unwrap().to_string();
        (ids, (default, doc))
    });
    assert_eq!(versions.len(), 5, "IAM's limit kept: {versions:?}");
    assert!(!versions.contains(&"v1".to_string()), "the oldest non-default version pruned: {versions:?}");
    assert_eq!(default_doc.0, "v6");
    let doc: Value = serde_json::from_str(&provision::policy::percent_decode(&default_doc.1))
        .or_else(|_| serde_json::from_str(&default_doc.1))
        .unwrap();
    assert_ne!(doc["Statement"][0]["Action"], "s3:ListBucket", "the stack's permissions again: {doc}");
    let o = provision(&emu, dir.path(), &["status"]);
    assert!(o.status.success(), "nothing left to restore: {}", text(&o));
}

/// `iam-policy` is scoped to the project, the region and the account the credentials belong
/// to (STS); without credentials the account is `*`, nothing else changes.
#[test]
fn iam_policy_is_scoped_to_the_project_region_and_account() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let o = Run::new(&emu, dir.path()).region("eu-west-1").scale("0").args(["--project", "p9", "iam-policy"]).output();
    assert!(o.status.success(), "{}", text(&o));
    let p = String::from_utf8(o.stdout).unwrap();
    // The emulator's account.
    for want in [
        "arn:aws:s3:::p9-123456789012-eu-west-1-data",
        "arn:aws:iam::123456789012:role/p9-eu-west-1-*-role",
        "arn:aws:network-firewall:eu-west-1:123456789012:firewall/network-firewall-p9",
        "arn:aws:kms:eu-west-1:123456789012:key/*",
    ] {
        assert!(p.contains(want), "{want}: {p}");
    }
    assert!(!p.contains("arn:aws:s3:::*") && !p.contains(":*:*:"), "{p}");
    let o = Run::bare(dir.path())
        .region("eu-west-1")
        .args(["--project", "p9", "iam-policy"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output();
    assert!(o.status.success(), "{}", text(&o));
    let p = String::from_utf8(o.stdout).unwrap();
    assert!(p.contains("arn:aws:iam::*:role/p9-eu-west-1-*-role"), "{p}");
    assert!(p.contains("arn:aws:s3:::p9-*-eu-west-1-data"), "{p}");
}

/// Operation → count of the calls since the log was last cleared, but for
/// the 5xx answers (`--realistic` fails a few calls on purpose; the SDK's
/// retry of one is not a second read by the tool).
fn calls_by_op(emu: &Emulator) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for c in &emu.call_log() {
        if c["status"].as_i64().unwrap_or_default() < 500 {
            *n.entry(c["operation"].as_str().unwrap_or_default().to_string()).or_insert(0) += 1;
        }
    }
    n
}

/// Issue 18: the read-only commands read each EC2 kind with one (paginated)
/// describe, whatever the number of steps of that kind (11 VPC endpoints, 4
/// route tables, 3 subnets), and every other resource once or twice.
/// The bounds are the counts measured on the default stack with a little room: status 40,
/// plan 40 built, verify 24, plan 29 on a fresh account, with issue 14's logging (31, 33, 19
/// and 29 without it); before the per-run read cache they were 108, 80 and 19 (and 49 for
/// `plan` on a fresh account).
/// Issue 28 adds verify's execution role controls: 28 (five IAM reads of the role's policies).
#[test]
fn read_only_commands_describe_each_ec2_kind_once() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let once_per_kind = |what: &str, n: &BTreeMap<String, usize>, total: usize| {
        // Issue 31: plan and status print what the stack costs, from the Price List Query API:
        // one GetProducts per service code and filters of the stack's meters (10), none of them a
        // read of the stack. Bounded on their own; the stack's reads below as before.
        let prices = n.get("pricing:GetProducts").copied().unwrap_or(0);
        assert!(prices <= 10, "{what}: {prices} GetProducts calls, more than the 10 price queries");
        let mut n = n.clone();
        n.remove("pricing:GetProducts");
        let n = &n;
        let many: Vec<_> = n.iter().filter(|(op, c)| op.starts_with("ec2:Describe") && **c > 1).collect();
        assert!(many.is_empty(), "{what}: an EC2 kind described more than once: {many:?} (all: {n:?})");
        // Other services have no batch describe: one read per resource (the
        // default stack has three of a kind at most: the keys kms.s3, kms.ebs
        // and kms.logs), not one per verb that asks (health, then drift).
        let per_verb: Vec<_> =
            n.iter().filter(|(op, c)| **c > 3 && op.as_str() != "servicequotas:GetServiceQuota").collect();
        assert!(per_verb.is_empty(), "{what}: a resource read more than once: {per_verb:?} (all: {n:?})");
        let sum: usize = n.values().sum();
        assert!(sum <= total, "{what}: {sum} calls, more than {total}: {n:?}");
    };
    emu.clear_calls();
    provision_ok(&emu, dir.path(), &["plan"]);
    // Issue 30 adds the network ACLs' listing (measured 31).
    once_per_kind("plan on a fresh account", &calls_by_op(&emu), 33);
    provision_ok(&emu, dir.path(), &["up"]);
    // With issue 14's logging: a third key, the flow log, the log groups (one listing), the
    // firewall's logging configuration, the flow logs role (measured 40, 40, 24). With issue 30's
    // controls: each key's rotation and each bucket's versioning read by status and plan, the
    // firewall policy's order and actions, and verify's new controls (measured 45, 43, 27); with
    // issue 28's guardrail controls, verify reads the role's policies too. Issue 30's access
    // logging, network ACL and EFS backups: the log bucket's tags, policy and encryption, each
    // bucket's logging, one listing of the network ACLs and the home EFS's backup policy
    // (measured 54, 52, 39).
    for (cmd, total) in [("status", 56), ("plan", 54), ("verify", 41)] {
        emu.clear_calls();
        provision_ok(&emu, dir.path(), &[cmd]);
        let n = calls_by_op(&emu);
        once_per_kind(cmd, &n, total);
        assert!(n.contains_key("ec2:DescribeVpcEndpoints"), "{cmd} read the endpoints: {n:?}");
    }
}
