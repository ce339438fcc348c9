//! Issue 33: a domain's subnets can be removed. UpdateDomain's `SubnetIds`
//! is the whole list, and "If removing subnets, ensure there are no apps in
//! the InService, Pending, or Deleting state" (SageMaker API reference,
//! UpdateDomain). After `up` with two zones: the removal is refused while
//! the app runs — by the emulator when asked through the SDK, and by
//! `kinds::domain::set_subnets` before it calls, naming the app — and once
//! the app is stopped `set_subnets` removes the second zone's subnet; what
//! the domain holds afterwards is read through the SDK.
//!
//! `set_subnets` runs in-process, on the crate's own context built from the
//! state `up` wrote (read-only: no lock, nothing written).

mod common;

use std::sync::Arc;

use common::*;
use provision::config::{RawParams, Settings};
use provision::kinds::Ctx;
use provision::kinds::domain::{set_subnets, subnet_update};
use provision::state::{FileStore, Identity, State};

/// The context `provision` builds for a read-only command, against the emulator.
async fn context(emu: &Emulator, dir: &std::path::Path, zones: &[&str]) -> Ctx {
    let raw = RawParams {
        region: Some("us-east-1".into()),
        availability_zones: Some(zones.iter().map(|z| z.to_string()).collect()),
        ..Default::default()
    };
    let s = Settings::resolve(raw, false).unwrap();
    let account = state_json(dir)["account"].as_str().unwrap().to_string();
    let store = Arc::new(FileStore::new(&dir.join("state/sagemaker-studio-anfw.json")));
    let who = Identity { stack: s.stack(), region: &s.region, account: &account };
    let state = State::open_read_in(store, &who, false).unwrap();
    Ctx {
        aws: provision::aws::Clients::new(&emu.sdk().await),
        s: Arc::new(s),
        state,
        account,
        adopt: false,
        caller: "test".into(),
        credentials: None,
        down: Default::default(),
        reads: Default::default(),
        polls: Default::default(),
        teardown: Default::default(),
    }
}

#[test]
fn a_domain_subnet_is_removed_only_once_no_app_runs() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--availability-zones", "us-east-1a,us-east-1b"]);
    let st = state_json(d);
    let domain = step_id(&st, "sm.domain");
    let (a, b) = (step_id(&st, "subnet.sagemaker"), step_id(&st, "subnet.sagemaker.us-east-1b"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sm = rt.block_on(async { aws_sdk_sagemaker::Client::new(&emu.sdk().await) });
    let subnets = |rt: &tokio::runtime::Runtime| {
        let d = rt.block_on(sm.describe_domain().domain_id(&domain).send()).unwrap();
        let mut s = d.subnet_ids().to_vec();
        s.sort();
        s
    };
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(subnets(&rt), both);
    let keep_a = subnet_update(&subnets(&rt), std::slice::from_ref(&a), true).expect("a change");
    assert_eq!(keep_a, std::slice::from_ref(&a));

    // The app runs: the emulator refuses the removal, as the API reference says.
    let e = rt
        .block_on(sm.update_domain().domain_id(&domain).set_subnet_ids(Some(keep_a.clone())).send())
        .expect_err("removing a subnet while an app runs");
    let code = e.as_service_error().and_then(|s| aws_sdk_sagemaker::error::ProvideErrorMetadata::code(s));
    assert_eq!(code, Some("ValidationException"), "{e:?}");
    assert_eq!(subnets(&rt), both, "nothing removed");

    // provision's own path refuses before it calls, naming the app.
    let ctx = rt.block_on(context(&emu, d, &["us-east-1a", "us-east-1b"]));
    emu.clear_calls();
    let e = rt.block_on(set_subnets(&ctx, &domain, std::slice::from_ref(&a))).expect_err("refused while the app runs");
    let e = format!("{e:#}");
    assert!(e.contains(&format!("cannot remove subnet(s) {b} from domain {domain}")), "{e}");
    assert!(e.contains("anfw-user-profile-us-east-1-space/JupyterLab/default (InService)"), "names the app: {e}");
    assert!(e.contains("provision stop"), "says what to do: {e}");
    assert!(!emu.calls().iter().any(|c| c == "sagemaker:UpdateDomain"), "refused before the call");
    assert_eq!(subnets(&rt), both);

    // Stopped, the subnet goes; a second call has nothing to do.
    provision_ok(&emu, d, &["stop"]);
    assert!(rt.block_on(set_subnets(&ctx, &domain, std::slice::from_ref(&a))).unwrap(), "updated");
    assert_eq!(subnets(&rt), std::slice::from_ref(&a));
    let status = rt.block_on(sm.describe_domain().domain_id(&domain).send()).unwrap();
    assert_eq!(status.status().map(|s| s.as_str()), Some("InService"));
    assert!(!rt.block_on(set_subnets(&ctx, &domain, std::slice::from_ref(&a))).unwrap(), "already so");
    // The SDK path agrees: adding it back is allowed whatever runs.
    let back = subnet_update(&subnets(&rt), &both, true).expect("a change");
    rt.block_on(sm.update_domain().domain_id(&domain).set_subnet_ids(Some(back)).send()).unwrap();
    assert_eq!(subnets(&rt), both);
    drop(ctx);

    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt.block_on(inventory(&emu)).is_empty());
}
