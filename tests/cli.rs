//! The command line against the emulator: bad input and foreign or locked
//! state are refused before any change; a failed step is reported by id
//! with the AWS error and `up` resumes without duplicates; a create whose
//! answer was lost is adopted, not repeated; `down` keeps data unless asked.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::json;

#[test]
fn invalid_input_is_refused_before_any_aws_call() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    let o = provision(
        &emu,
        dir.path(),
        &["up", "--vpc-cidr", "10.0.0.0/8", "--project", "Bad_Name", "--nat-subnet-cidr", "10.2.1.0/24"],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("vpc_cidr: '10.0.0.0/8' has prefix /8, AWS allows /16 to /28"), "{t}");
    assert!(t.contains("project: 'Bad_Name'"), "{t}");
    assert!(t.contains("nat_subnet_cidr: '10.2.1.0/24' overlaps firewall_subnet_cidr"), "{t}");
    assert!(emu.calls().is_empty(), "no AWS call: {:?}", emu.calls());
    assert!(!dir.path().join("state").exists(), "no state written");

    std::fs::write(dir.path().join("c.toml"), "project = \"ok\"\nvpc_cdir = \"10.0.0.0/16\"\n").unwrap();
    let o = provision(&emu, dir.path(), &["up", "--config", "c.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("c.toml line 2") && t.contains("vpc_cdir"), "{t}");
    assert!(emu.calls().is_empty());
}

#[test]
fn foreign_or_locked_state_is_refused_and_left_untouched() {
    let emu = Emulator::start("0", &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let path = dir.path().join("state/sagemaker-studio-anfw.json");
    let foreign = r#"{"schema": 1, "stack": "sagemaker-studio-anfw", "region": "us-east-1", "account": "999999999999", "steps": {}}"#;
    std::fs::write(&path, foreign).unwrap();
    let o = provision(&emu, dir.path(), &["up"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("account '999999999999' (this run: '123456789012')"), "{t}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), foreign);
    let calls = emu.calls();
    assert_eq!(calls, ["sts:GetCallerIdentity"], "only the identity check ran");

    std::fs::remove_file(&path).unwrap();
    let lock = std::fs::File::create(dir.path().join("state/sagemaker-studio-anfw.json.lock")).unwrap();
    lock.lock().unwrap();
    let o = provision(&emu, dir.path(), &["up"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "a locked state has its own exit code: {t}");
    assert!(t.contains("locked by another provision run"), "{t}");
    assert!(!path.exists(), "no state created while locked");
}

#[test]
fn failed_step_is_reported_then_up_resumes_without_duplicates() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.control_post(
        "faults",
        json!({"operation": "ec2:CreateNatGateway", "count": 1, "error_code": "InvalidParameterValue", "status": 400, "message": "injected"}),
    );
    let o = provision(&emu, dir.path(), &["up"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("step nat failed") && t.contains("InvalidParameterValue: injected"), "{t}");
    let st = state_json(dir.path());
    assert_eq!(st["steps"]["nat"]["status"], "creating", "intent recorded");
    assert!(st["steps"]["route.sagemaker_egress"].is_null(), "downstream of nat not started");
    assert!(st["steps"]["sm.app"].is_null(), "downstream of nat not started");

    provision_ok(&emu, dir.path(), &["up"]);
    let kinds = count_kinds(&futures_inventory(&emu));
    assert_eq!(kinds.get("nat"), Some(&1), "{kinds:?}");
    assert_eq!(kinds.get("vpc"), Some(&1), "{kinds:?}");
    assert_eq!(kinds.get("vpce"), Some(&12), "10 interface, S3, firewall: {kinds:?}");
}

/// Each create below takes effect in the emulator, but the client gets an
/// error instead of the answer. `up` again must adopt, never duplicate.
#[test]
fn lost_answers_are_adopted_not_duplicated() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ops = [
        "ec2:CreateNatGateway",
        "ec2:CreateVpcEndpoint",
        "ec2:CreateSecurityGroup",
        "kms:CreateKey",
        "s3:CreateBucket",
        "network-firewall:CreateFirewall",
        "sagemaker:CreateDomain",
    ];
    for op in ops {
        emu.control_post(
            "faults",
            json!({"operation": op, "count": 1, "error_code": "InvalidParameterValue", "status": 400, "apply": true, "message": "lost answer"}),
        );
    }
    let mut failures = 0;
    for _ in 0..ops.len() + 1 {
        let o = provision(&emu, dir.path(), &["up"]);
        if o.status.success() {
            break;
        }
        failures += 1;
        assert!(text(&o).contains("lost answer"), "{}", text(&o));
    }
    assert!(failures >= 1 && failures <= ops.len(), "runs failed: {failures}");
    let pending = emu.control_get("faults");
    assert_eq!(pending["faults"].as_array().map(|a| a.len()), Some(0), "every fault fired: {pending}");
    provision_ok(&emu, dir.path(), &["up"]);
    let kinds = count_kinds(&futures_inventory(&emu));
    let want: BTreeMap<&str, usize> = BTreeMap::from([
        ("nat", 1),
        ("vpce", 12), // 10 interface, the S3 gateway, the firewall's endpoint
        ("firewall", 1),
        ("domain", 1),
        ("bucket", 3), // data, models and the access-log bucket
        ("kms-key", 3),
        ("log-group", 3),
        ("flow-log", 1),
        ("vpc", 1),
    ]);
    for (k, n) in want {
        assert_eq!(kinds.get(k), Some(&n), "{k}: {kinds:?}");
    }
    // sg.sagemaker, sg.vpce, the two NFS groups, and the VPC's default group.
    let inv = futures_inventory(&emu);
    let sgs: Vec<&String> = inv.iter().filter(|e| e.starts_with("sg ")).collect();
    assert_eq!(sgs.len(), 5, "{sgs:?}");
}

#[test]
fn down_keeps_non_empty_buckets_unless_delete_data() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let st = state_json(dir.path());
    let data = step_id(&st, "bucket.data");
    let models = step_id(&st, "bucket.models");
    let rt = rt();
    rt.block_on(async {
        let s3 = emu.s3().await;
        // The bucket policy denies writes from outside the S3 endpoint (the
        // emulator enforces it, as AWS does): write as the endpoint would.
        let policy = s3.get_bucket_policy().bucket(&data).send().await.unwrap().policy.unwrap();
        s3.delete_bucket_policy().bucket(&data).send().await.unwrap();
        s3.put_object().bucket(&data).key("notebooks/a.ipynb").body(b"{}".to_vec().into()).send().await.unwrap();
        s3.put_bucket_policy().bucket(&data).policy(policy).send().await.unwrap();
    });
    let out = provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--yes"]);
    assert!(out.contains("--delete-data"), "says how to finish: {out}");
    let inv = futures_inventory(&emu);
    assert!(inv.contains(&format!("bucket {data}")), "non-empty bucket kept: {inv:?}");
    assert!(!inv.contains(&format!("bucket {models}")), "empty bucket removed: {inv:?}");
    let keys = count_kinds(&inv);
    // The key of the kept bucket stays, and the logs' key with the log groups (logs are data too).
    assert_eq!(keys.get("kms-key"), Some(&2), "the keys of the kept bucket and logs stay: {inv:?}");
    assert_eq!(keys.get("log-group"), Some(&3), "{inv:?}");
    assert!(inv.contains("alias alias/kms-cmk-sagemaker-studio-anfw"), "{inv:?}");

    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    let inv = futures_inventory(&emu);
    assert!(inv.is_empty(), "{inv:?}");
}

fn futures_inventory(emu: &Emulator) -> std::collections::BTreeSet<String> {
    rt().block_on(inventory(emu))
}

#[test]
fn resources_deleted_out_of_band_are_created_again() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let st = state_json(dir.path());
    let rtb = step_id(&st, "rtb.sagemaker");
    let old_key = step_id(&st, "kms.ebs");
    let domain = step_id(&st, "sm.domain");
    let rt = rt();
    rt.block_on(async {
        let sdk = emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        ec2.delete_route().route_table_id(&rtb).destination_cidr_block("0.0.0.0/0").send().await.unwrap();
        let kms = aws_sdk_kms::Client::new(&sdk);
        kms.schedule_key_deletion().key_id(&old_key).pending_window_in_days(7).send().await.unwrap();
    });
    let out = provision_ok(&emu, dir.path(), &["up"]);
    for step in ["route.sagemaker_egress", "kms.ebs"] {
        assert!(out.contains(&format!("{step}: ")) && out.contains("no longer exists"), "{step}: {out}");
    }
    let st = state_json(dir.path());
    let new_key = step_id(&st, "kms.ebs");
    assert_ne!(new_key, old_key, "a new EBS key replaced the one pending deletion");
    rt.block_on(async {
        let sdk = emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let t = ec2.describe_route_tables().route_table_ids(&rtb).send().await.unwrap();
        let nat = step_id(&st, "nat");
        assert!(
            t.route_tables()[0]
                .routes()
                .iter()
                .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.nat_gateway_id() == Some(nat.as_str())),
            "default route to the NAT gateway is back"
        );
        let kms = aws_sdk_kms::Client::new(&sdk);
        let aliases = kms.list_aliases().key_id(&new_key).send().await.unwrap();
        assert!(
            aliases.aliases().iter().any(|a| a.alias_name() == Some("alias/sagemaker-anfw-kms-sagemaker-studio-anfw")),
            "the alias now names the new key"
        );
        let rot = kms.get_key_rotation_status().key_id(&new_key).send().await.unwrap();
        assert!(rot.key_rotation_enabled());
        assert_eq!(app_status(&emu, &domain, "anfw-user-profile-us-east-1").await.as_deref(), Some("InService"));
    });
    let again = provision_ok(&emu, dir.path(), &["up"]);
    assert!(again.contains("Nothing to do"), "{again}");
}

#[test]
fn several_users_each_get_a_profile_and_an_app() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up", "--users", "alice,bob,carol"]);
    let st = state_json(dir.path());
    for u in ["", ".bob", ".carol"] {
        for step in ["sm.user", "sm.space", "sm.app"] {
            assert_eq!(st["steps"][format!("{step}{u}")]["status"], "ready", "{step}{u}");
        }
    }
    let inv = futures_inventory(&emu);
    for u in ["alice", "bob", "carol"] {
        assert!(inv.contains(&format!("user-profile {u}")), "{inv:?}");
        assert!(inv.contains(&format!("space {u}-space")), "{inv:?}");
        assert!(inv.contains(&format!("app {u}-space/JupyterLab/default")), "{inv:?}");
    }
    assert_eq!(count_kinds(&inv).get("app"), Some(&3), "{inv:?}");
    assert_eq!(count_kinds(&inv).get("space"), Some(&3), "{inv:?}");
    let o = provision_ok(&emu, dir.path(), &["outputs", "SpaceNames"]);
    assert_eq!(o.trim(), "alice-space,bob-space,carol-space");
    let o = provision_ok(&emu, dir.path(), &["outputs", "UserProfileName"]);
    assert!(o.starts_with("alice"), "the first user is the primary profile: {o}");
    // A bare re-run keeps the recorded users. With nothing to change, its wall
    // time is not set against the critical path (what changes would take).
    let again = provision_ok(&emu, dir.path(), &["up"]);
    assert!(again.contains("Nothing to do"), "{again}");
    assert!(again.contains("every step checked, nothing to change") && !again.contains("critical path"), "{again}");
    let o = provision(&emu, dir.path(), &["up", "--users", "alice,alice"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("users: 'alice' appears twice"), "{}", text(&o));
    // Each deleted step's line names the resource it deleted (its record is gone by then).
    let recorded = state_json(dir.path());
    let down = provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    let deleted: Vec<&str> = down.lines().filter(|l| l.contains(" deleted ")).collect();
    assert!(deleted.len() > 40, "{down}");
    for l in &deleted {
        let id = l.split(" deleted ").nth(1).unwrap().trim();
        assert!(!id.starts_with('('), "no id on a deleted line: {l}");
    }
    for step in ["vpc", "nat", "sm.app.bob", "nfw.firewall"] {
        let id = step_id(&recorded, step);
        assert!(deleted.iter().any(|l| l.contains(&format!("] {step} ")) && l.contains(&id)), "{step} {id}: {down}");
    }
    assert!(futures_inventory(&emu).is_empty());
}

/// `make up` on a port another program holds stops at once, naming the port,
/// and writes no pid file (the emulator it would have started never ran).
#[test]
fn make_up_on_a_busy_port_fails_at_once() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 501 Not Implemented\r\nContent-Type: text/html\r\n\r\n<html>501</html>");
        }
    });
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pid_file = root.join(format!(".emulator-{port}.pid"));
    std::fs::write(&pid_file, "kept\n").unwrap();
    let t0 = std::time::Instant::now();
    // Without rebuilding: only the recipe's port check is under test.
    let o = std::process::Command::new("make")
        .args(["-s", "-o", "build", "-o", "emulator-venv", "up", &format!("PORT={port}")])
        .current_dir(root)
        .output()
        .unwrap();
    let kept = std::fs::read_to_string(&pid_file).unwrap();
    std::fs::remove_file(&pid_file).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains(&format!("port {port} is in use by another program")), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("html"), "the other program's page is not shown");
    assert!(t0.elapsed() < std::time::Duration::from_secs(10), "took {:?}", t0.elapsed());
    assert_eq!(kept, "kept\n", "the pid file is left as it was");
}

/// A NAT gateway AWS left `failed` and an app left `Failed` are deleted and
/// made again by the next `up`, and what points at them follows.
#[test]
fn failed_resources_are_replaced() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let st = state_json(dir.path());
    let (old_nat, domain) = (step_id(&st, "nat"), step_id(&st, "sm.domain"));
    emu.control_post(
        "force-state",
        json!({"kind": "nat_gateway", "id": old_nat, "state": "failed", "message": "injected NAT failure"}),
    );
    emu.control_post(
        "force-state",
        json!({"kind": "sagemaker_app", "domain_id": domain, "space_name": "anfw-user-profile-us-east-1-space",
               "app_type": "JupyterLab", "app_name": "default", "state": "Failed", "message": "injected app failure"}),
    );
    let out = provision_ok(&emu, dir.path(), &["up"]);
    assert!(
        out.contains(&format!("nat: NAT gateway {old_nat} is in a failed state")) && out.contains("replacing"),
        "{out}"
    );
    assert!(out.contains("sm.app: SageMaker app") && out.contains("injected app failure"), "{out}");
    let st = state_json(dir.path());
    let new_nat = step_id(&st, "nat");
    assert_ne!(new_nat, old_nat, "a new NAT gateway");
    rt().block_on(async {
        let sdk = emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let t = ec2.describe_route_tables().route_table_ids(step_id(&st, "rtb.sagemaker")).send().await.unwrap();
        let r = t.route_tables()[0].routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).cloned();
        assert_eq!(r.and_then(|r| r.nat_gateway_id().map(String::from)), Some(new_nat.clone()), "route follows");
        let n = ec2.describe_nat_gateways().nat_gateway_ids(&old_nat).send().await.unwrap();
        let old_state = n.nat_gateways().first().and_then(|g| g.state().map(|s| s.as_str().to_string()));
        assert_eq!(old_state.as_deref(), Some("deleted"), "the failed one was deleted");
        assert_eq!(
            app_status(&emu, &domain, "anfw-user-profile-us-east-1").await.as_deref(),
            Some("InService"),
            "the app was made again"
        );
    });
    assert!(provision_ok(&emu, dir.path(), &["up"]).contains("Nothing to do"));
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(futures_inventory(&emu).is_empty());
}

/// Network Firewall rule groups and policies stay DELETING for a while and
/// keep their names meanwhile: `down` waits until they are gone, so an `up`
/// right after it can create them again under the same names.
#[test]
fn up_right_after_down_creates_the_firewall_resources_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The repository's profile with slow rule group and policy deletions
    // (300 s, 1.5 s at SCALE), so the window is wide enough to hit. The
    // emulator runs at the tool's own scale: at another one, 300 s would be
    // as long to the tool as its own 10-minute timeout for the deletion.
    let mut profile: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/emulator/latency-profile.json")).unwrap(),
    )
    .unwrap();
    for kind in ["nfw.rule_group", "nfw.policy"] {
        let k = &mut profile["kinds"][kind];
        assert!(k.is_object(), "the profile has {kind}");
        k["delete_s"] = json!(300);
    }
    let path = d.join("profile.json");
    std::fs::write(&path, profile.to_string()).unwrap();
    let emu = Emulator::start(SCALE, &["--profile", path.to_str().unwrap()]);
    provision_ok(&emu, d, &["up"]);
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("is up"), "{out}");
    let state = state_json(d);
    for step in ["nfw.rule_group", "nfw.policy", "nfw.firewall"] {
        assert_eq!(state["steps"][step]["status"], "ready", "{step}");
    }
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
}

/// No credentials anywhere: one readable paragraph that says what was tried
/// and how to fix it; no Debug dump of the SDK's error, no provider warnings.
#[test]
fn missing_credentials_are_one_readable_paragraph() {
    let home = tempfile::tempdir().unwrap();
    let o = Run::bare(home.path())
        .arg("status")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_REGION", "us-east-1")
        // No instance metadata service to ask here (nor in CI).
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: no AWS credentials"), "{err}");
    for hint in ["AWS_PROFILE", "aws sso login", "AWS_ACCESS_KEY_ID", "--endpoint-url"] {
        assert!(err.contains(hint), "names {hint}: {err}");
    }
    for noise in ["DispatchFailure", "ProviderError(", "Extensions", " WARN "] {
        assert!(!err.contains(noise), "no {noise}: {err}");
    }
    // The paragraph, then at most the SDK's own list of the providers it tried.
    let mut lines = err.trim_end().lines();
    assert!(lines.next().unwrap().contains("Fix:"), "{err}");
    assert!(lines.all(|l| l.starts_with("  ")), "only the tried providers follow: {err}");
    assert!(!home.path().join("state").exists(), "nothing written");
}
