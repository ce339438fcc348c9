//! Crash-safe resume: an injected failure of any create, SIGKILL at random
//! moments, Ctrl-C, EC2 throttling and 5xx bursts — after each, `up`
//! converges to exactly one of each resource, and `down --purge-efs` then
//! leaves nothing.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// The stack's resources by kind, as `inventory` counts them (ENIs are
/// left out: they are SageMaker's and the endpoints' own).
fn expected() -> BTreeMap<String, usize> {
    stack_counts(1, 1)
}

fn counts(emu: &Emulator) -> BTreeMap<String, usize> {
    let inv = rt().block_on(inventory(emu));
    let mut c = count_kinds(&inv);
    c.remove("eni");
    c
}

fn assert_nothing_left(emu: &Emulator) {
    let inv = rt().block_on(inventory(emu));
    assert!(inv.is_empty(), "left after down --purge-efs: {inv:?}");
}

/// Every step's create fails once: each create operation of the stack gets
/// as many injected failures (a 400 the SDK does not retry) as steps call
/// it, so every step of that kind hits one, run after run, until `up`
/// converges — with exactly one of each resource.
#[test]
fn a_failed_create_of_every_step_then_up_converges() {
    let emu = Emulator::start("0", &[]);
    // (operation, how many steps call it)
    let ops: &[(&str, usize)] = &[
        ("ec2:CreateVpc", 1),
        ("ec2:ModifyVpcAttribute", 1),
        ("ec2:CreateSubnet", 3),
        ("ec2:CreateSecurityGroup", 2),
        ("ec2:AuthorizeSecurityGroupIngress", 2),
        ("ec2:AllocateAddress", 1),
        ("ec2:CreateInternetGateway", 1),
        ("ec2:AttachInternetGateway", 1),
        ("ec2:CreateNatGateway", 1),
        ("network-firewall:CreateRuleGroup", 1),
        ("network-firewall:CreateFirewallPolicy", 1),
        ("network-firewall:CreateFirewall", 1),
        ("ec2:CreateRouteTable", 4),
        ("ec2:AssociateRouteTable", 4),
        ("ec2:CreateRoute", 4),
        ("ec2:CreateVpcEndpoint", 11),
        ("kms:CreateKey", 2),
        ("kms:EnableKeyRotation", 1),
        ("kms:CreateAlias", 2),
        ("s3:CreateBucket", 2),
        ("s3:PutBucketEncryption", 2),
        ("s3:PutBucketPolicy", 2),
        ("iam:CreatePolicy", 1),
        ("iam:CreateRole", 1),
        ("iam:AttachRolePolicy", 1),
        ("sagemaker:CreateDomain", 1),
        ("sagemaker:CreateUserProfile", 1),
        ("sagemaker:CreateSpace", 1),
        ("sagemaker:CreateApp", 1),
    ];
    let mut failed_runs = 0;
    for (op, steps) in ops {
        emu.control_post("reset", json!({}));
        let dir = tempfile::tempdir().unwrap();
        emu.control_post(
            "faults",
            json!({"operation": op, "count": steps, "error_code": "InvalidParameterValue", "status": 400, "message": format!("injected into {op}")}),
        );
        let mut runs = 0;
        loop {
            let o = provision(&emu, dir.path(), &["up"]);
            runs += 1;
            if o.status.success() {
                break;
            }
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{op}: {t}");
            assert!(t.contains(&format!("injected into {op}")) && t.contains("failed:"), "{op}: {t}");
            failed_runs += 1;
            assert!(runs <= steps + 1, "{op}: still failing after {runs} runs");
        }
        assert!(runs >= 2, "{op}: the injected failure was reported");
        let left = emu.control_get("faults");
        assert_eq!(left["faults"].as_array().map(Vec::len), Some(0), "{op}: every step's failure fired: {left}");
        assert_eq!(counts(&emu), expected(), "after failed {op} calls");
    }
    let total: usize = ops.iter().map(|(_, n)| n).sum();
    println!("injected create failures: {total} over {} operations; failed runs: {failed_runs}", ops.len());
}

/// Tiny deterministic generator (xorshift) so kill points are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn spawn(emu: &Emulator, dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    Run::new(emu, dir).args(args).quiet().spawn()
}

/// Runs `args`, SIGKILLs it after `ms` (if still running). True if it finished first.
fn run_and_kill(emu: &Emulator, dir: &std::path::Path, args: &[&str], ms: u64) -> bool {
    let mut child = spawn(emu, dir, args);
    let deadline = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    false
}

#[test]
fn sigkill_at_random_moments_then_up_converges_and_down_leaves_nothing() {
    let emu = Emulator::start(SCALE, &[]);
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let (mut up_kills, mut down_kills) = (0, 0);
    // Three full cycles; kill points are spread over the first ~second of
    // each run, and every killed run is resumed by the next one.
    for cycle in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..12 {
            if run_and_kill(&emu, dir.path(), &["up"], 40 + rng.below(900)) {
                break;
            }
            up_kills += 1;
        }
        provision_ok(&emu, dir.path(), &["up"]);
        assert_eq!(counts(&emu), expected(), "cycle {cycle}: after kills during up");
        let again = provision_ok(&emu, dir.path(), &["up"]);
        assert!(again.contains("Nothing to do"), "{again}");
        for _ in 0..8 {
            if run_and_kill(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"], 40 + rng.below(700)) {
                break;
            }
            down_kills += 1;
        }
        provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
        assert_nothing_left(&emu);
    }
    println!("SIGKILL points exercised: {up_kills} during up, {down_kills} during down");
    assert!(up_kills >= 10 && down_kills >= 5, "kills landed mid-run: up {up_kills}, down {down_kills}");
}

#[test]
fn ctrl_c_lets_running_calls_finish_ends_waits_and_exits_130() {
    let emu = Emulator::start("0.02", &[]);
    let dir = tempfile::tempdir().unwrap();
    let child = Run::new(&emu, dir.path()).scale("0.02").arg("up").spawn();
    // The NAT gateway takes 105 s x 0.02 = 2.1 s: interrupt while it is pending.
    let state = dir.path().join("state/sagemaker-studio-anfw.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = std::fs::read_to_string(&state).unwrap_or_default();
        if s.contains("\"nat\"") {
            break;
        }
        assert!(Instant::now() < deadline, "nat step never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let t = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{t}");
    assert!(t.contains("starting nothing new"), "{t}");
    // The NAT gateway's create call finished and recorded its id; its wait
    // for `available` (2.1 s here, about 2 minutes on AWS) was given up, and
    // the message says so and which command resumes.
    let st = state_json(dir.path());
    assert_eq!(st["steps"]["nat"]["status"], "created", "the NAT step recorded its id and stopped waiting: {st}");
    assert!(st["steps"]["nat"]["id"].as_str().is_some_and(|i| i.starts_with("nat-")), "{st}");
    assert!(t.contains("interrupted: up stopped") && t.contains("left waiting with their ids recorded"), "{t}");
    assert!(t.lines().any(|l| l.contains("left waiting") && l.contains("nat")), "{t}");
    assert!(t.contains("`provision up` resumes"), "{t}");
    assert!(st["steps"]["sm.app"].is_null(), "nothing new started after the interrupt");
    let o = provision_at(&emu, dir.path(), "0.02", &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("nat ") && state_json(dir.path())["steps"]["nat"]["status"] == "ready", "{}", text(&o));
    assert_eq!(counts(&emu), expected());
}

/// EC2's request-rate buckets on, plus bursts of 503s on the hot calls: the
/// SDK's retries absorb them; nothing reaches the user.
#[test]
fn throttling_and_503_bursts_never_reach_the_user() {
    let emu = Emulator::start(SCALE, &["--throttle"]);
    let dir = tempfile::tempdir().unwrap();
    for op in [
        "ec2:CreateVpcEndpoint",
        "ec2:DescribeNatGateways",
        "sagemaker:DescribeDomain",
        "network-firewall:DescribeFirewall",
        "ec2:DeleteVpcEndpoints",
        "ec2:DeleteSubnet",
    ] {
        emu.control_post(
            "faults",
            json!({"operation": op, "count": 3, "error_code": "ServiceUnavailable", "status": 503}),
        );
    }
    let out = provision_ok(&emu, dir.path(), &["up"]);
    assert_eq!(counts(&emu), expected());
    // Every EC2 503 the emulator gave during `up` reached the tool's pacer (`pace`), which
    // paced the actions afterwards, and the summary says how many.
    let ec2_503s: Vec<String> = emu.control_get("calls")["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"].as_str().unwrap().starts_with("ec2:") && c["status"] == 503)
        .map(|c| c["operation"].as_str().unwrap().to_string())
        .collect();
    let ec2_503 = ec2_503s.len();
    let reported: usize = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("EC2 throttled ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no throttling line in the summary:\n{out}"));
    assert!(ec2_503 >= 6, "the injected bursts happened ({ec2_503})");
    assert_eq!(reported, ec2_503, "{ec2_503s:?}\n{out}");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert_nothing_left(&emu);
    let calls = emu.control_get("calls");
    let statuses: Vec<(String, u64)> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["operation"].as_str().unwrap().to_string(), c["status"].as_u64().unwrap()))
        .collect();
    let n503 = statuses.iter().filter(|(_, s)| *s == 503).count();
    assert!(n503 >= 18, "the bursts and throttling happened ({n503} answers were 503)");
}
