//! What a real account does late (issue 33): SageMaker's ENIs can turn
//! `available` long after their app or domain is gone
//! (terraform-provider-aws #34397; cloudformation-coverage-roadmap #1327),
//! after the one sweep `down` makes once the mount targets are gone. Here
//! such an ENI, planted in a SageMaker subnet through the emulator's control
//! path (`lingering_eni`: in use and requester-managed for `in_use_s`
//! wall-clock seconds, then available), is still in use at that first
//! sweep; the subnet's deletion keeps sweeping while it is refused, and
//! `down --purge-efs --delete-data` still leaves nothing (read through the
//! SDK).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};

/// How long the planted ENI stays in use (wall-clock seconds, as the
/// emulator counts them): longer than `down` takes to reach its first sweep
/// (measured: under 3 s on an idle machine), shorter than its drain bound.
const IN_USE_S: f64 = 15.0;

/// `down`'s time scale: its drain bound (20 min real-world) is then 24 s,
/// enough for the ENI's in-use time left once the subnet is first refused.
const DOWN_SCALE: &str = "0.02";

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// `t_s` of the `done` event of `step` in `down --json`'s events.
fn done_at(events: &[Value], step: &str) -> f64 {
    events
        .iter()
        .find(|e| e["event"] == "step" && e["state"] == "done" && e["step"] == step)
        .and_then(|e| e["t_s"].as_f64())
        .unwrap_or_else(|| panic!("no done event for {step}"))
}

#[test]
fn an_eni_that_turns_available_after_the_first_sweep_does_not_stop_down() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let st = state_json(d);
    let subnet = step_id(&st, "subnet.sagemaker");
    // As SageMaker describes the ENIs of a domain's apps: the domain's id proves it the stack's.
    let domain = step_id(&st, "sm.domain");
    let description = format!("[DO NOT DELETE] ENI managed by SageMaker for Studio Domain({domain}) - left behind");
    let planted = emu.control_post(
        "force-state",
        json!({"kind": "lingering_eni", "subnet_id": subnet, "in_use_s": IN_USE_S, "description": description}),
    );
    let eni = planted["id"].as_str().unwrap_or_else(|| panic!("planted: {planted}")).to_string();
    let available_at = planted["available_at"].as_f64().unwrap();
    assert_eq!(planted["state"], "in-use", "{planted}");

    emu.clear_calls();
    let spawned = now();
    let o = provision_at(&emu, d, DOWN_SCALE, &["down", "--purge-efs", "--delete-data", "--yes", "--json"]);
    let exited = now();
    let t = text(&o);
    assert!(o.status.success(), "down failed ({:?}):\n{t}", o.status.code());
    let events: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let end = events.iter().find(|e| e["event"] == "end").and_then(|e| e["t_s"].as_f64()).expect("an end event");
    // The run's clock started after the spawn and at most `end` before the exit.
    let (start_min, start_max) = (spawned, exited - end);
    let first_sweep_by = start_max + done_at(&events, "efs.mount_target");
    eprintln!(
        "ENI in use until +{:.1}s after down's spawn; first sweep done by +{:.1}s; subnet gone at +{:.1}s..+{:.1}s",
        available_at - spawned,
        first_sweep_by - spawned,
        done_at(&events, "subnet.sagemaker"),
        start_max - spawned + done_at(&events, "subnet.sagemaker")
    );
    assert!(
        first_sweep_by < available_at,
        "the first sweep (with the mount targets, done by {first_sweep_by:.2}) must run while the ENI is in use (until {available_at:.2}); raise IN_USE_S"
    );
    let subnet_gone_after = start_min + done_at(&events, "subnet.sagemaker");
    assert!(subnet_gone_after >= available_at, "the subnet went before its ENI could ({subnet_gone_after:.2})");

    // The subnet was refused while the ENI was in use, and the ENI deleted once available.
    let calls = emu.control_get("calls")["calls"].as_array().unwrap().clone();
    let refused = calls.iter().any(|c| c["operation"] == "ec2:DeleteSubnet" && c["code"] == "DependencyViolation");
    assert!(refused, "DeleteSubnet was never refused");
    let deleted = calls.iter().any(|c| {
        c["operation"] == "ec2:DeleteNetworkInterface"
            && c["status"] == 200
            && c["t"].as_f64().is_some_and(|t| t >= available_at)
    });
    assert!(deleted, "no DeleteNetworkInterface after the ENI became available");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let gone = rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        match ec2.describe_network_interfaces().network_interface_ids(&eni).send().await {
            Ok(o) => o.network_interfaces().is_empty(),
            Err(e) => e.into_service_error().meta().code() == Some("InvalidNetworkInterfaceID.NotFound"),
        }
    });
    assert!(gone, "{eni} still exists");
    let inv = rt.block_on(inventory(&emu));
    assert!(inv.is_empty(), "left after down --purge-efs --delete-data: {inv:?}");
}
