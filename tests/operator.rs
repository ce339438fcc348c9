//! Operator experience against the emulator: `plan` (read-only, correct
//! actions after a partial run), `status` (drift and out-of-band deletion),
//! `studio-url`, `outputs KEY`, completions, and the progress output.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn is_mutating(op: &str) -> bool {
    let name = op.split(':').nth(1).unwrap_or_default();
    !["Describe", "List", "Get", "Head"].iter().any(|p| name.starts_with(p))
}

fn plan_json(emu: &Emulator, dir: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["plan", "--json"];
    args.extend_from_slice(extra);
    let out = provision_ok(emu, dir, &args);
    let start = out.find('[').expect("json array");
    let end = out.rfind(']').expect("json array");
    serde_json::from_str::<Value>(&out[start..=end]).unwrap().as_array().unwrap().clone()
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
    assert_eq!(plan.len(), 56); // the spec's 48 steps and issue 14's 8 logging steps
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
    let mutating: Vec<String> = emu.calls().into_iter().filter(|c| is_mutating(c)).collect();
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
    let mutating: Vec<String> = emu.calls().into_iter().filter(|c| is_mutating(c)).collect();
    assert!(mutating.is_empty(), "plan --destroy made mutating calls: {mutating:?}");
}

#[test]
fn status_reports_drift_and_out_of_band_deletion() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let o = provision(&emu, dir.path(), &["status"]);
    assert!(o.status.success(), "clean stack: {}", text(&o));
    assert!(text(&o).contains("59 present"), "{}", text(&o));

    let st = state_json(dir.path());
    let rtb = step_id(&st, "rtb.sagemaker");
    let igw = step_id(&st, "igw");
    let bucket = step_id(&st, "bucket.models");
    let sg = step_id(&st, "sg.vpce");
    let (flow_group, firewall) = (step_id(&st, "logs.firewall_flow"), step_id(&st, "nfw.firewall"));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
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
    let subnet = tokio::runtime::Runtime::new().unwrap().block_on(async {
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
    let arr: Value = serde_json::from_str(&t[t.find('[').unwrap()..=t.rfind(']').unwrap()]).unwrap();
    let l = arr.as_array().unwrap().iter().find(|l| l["step"] == "subnet.firewall").unwrap();
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
    assert_eq!(step_lines.len(), 56, "{err}");
    assert!(!err.contains('\r') && !err.contains("\u{1b}["), "no terminal control codes: {err:?}");

    // A terminal (script(1) gives one): the live view shows running steps
    // with what they wait for, then the summary.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("typescript");
    // A second stack (another project) in the same emulator.
    let cmd = format!(
        "{} --endpoint-url {} --region us-east-1 --project progress-view --domain-name progress-view up",
        env!("CARGO_BIN_EXE_provision"),
        emu.url
    );
    let st = Command::new("script")
        .current_dir(dir.path())
        .args(["-qec", &cmd, log.to_str().unwrap()])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("PROVISION_TIME_SCALE", "0.01")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", text(&st));
    let screen = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).to_string();
    assert!(screen.contains("waiting for firewall READY") || screen.contains("PROVISIONING"), "live view shows waits");
    assert!(screen.contains("/56]"), "completed of total");
    assert!(screen.contains('\r') || screen.contains("\u{1b}["), "redraws in place");
    assert!(screen.contains("is up ("), "final summary");
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
    let arr: Value = serde_json::from_str(&t[t.find('[').unwrap()..=t.rfind(']').unwrap()]).unwrap();
    let actions: BTreeMap<String, String> = arr
        .as_array()
        .unwrap()
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
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
