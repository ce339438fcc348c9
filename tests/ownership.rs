//! The stack's tags as its second record (issue 13): a lost state is
//! refused, then adopted with `up --adopt` or removed by `down` without a
//! state; a create that lands after its client died leaves no duplicate;
//! `status` names orphans and duplicates; nothing outside the stack is
//! touched.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const SCALE: &str = "0.005";

fn counts(emu: &Emulator) -> BTreeMap<String, usize> {
    count_kinds(&rt().block_on(inventory(emu)))
}

fn lose_state(dir: &Path) {
    std::fs::remove_file(dir.join("state/sagemaker-studio-anfw.json")).unwrap();
    // The backup exists once a run opened an existing file.
    let _ = std::fs::remove_file(dir.join("state/sagemaker-studio-anfw.json.bak"));
}

#[test]
fn a_lost_state_is_refused_then_adopted_and_down_without_a_state_removes_everything() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shape = ["--availability-zones", "us-east-1a,us-east-1b", "--users", "alice,bob"];
    let up: Vec<&str> = ["up"].into_iter().chain(shape).collect();
    provision_ok(&emu, d, &up);
    let built = counts(&emu);
    lose_state(d);

    emu.clear_calls();
    let o = provision(&emu, d, &up);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("stack sagemaker-studio-anfw already exists") && t.contains("--adopt"), "{t}");
    assert!(t.contains("state/sagemaker-studio-anfw.json"), "names the state file it looked at: {t}");
    // A paragraph, not a list of every resource: three named, the rest counted.
    let refusal = t.lines().skip_while(|l| !l.contains("already exists")).collect::<Vec<_>>().join(" ");
    assert!(refusal.contains(" more (`RUST_LOG=info` lists every one)") && refusal.len() < 1200, "{refusal}");
    assert!(emu.calls().iter().all(|c| !is_mutating(c)), "nothing created");
    assert!(!d.join("state/sagemaker-studio-anfw.json").exists());

    let adopt: Vec<&str> = up.iter().copied().chain(["--adopt"]).collect();
    let out = provision_ok(&emu, d, &adopt);
    assert!(out.contains("adopted"), "{out}");
    assert_eq!(counts(&emu), built, "exactly the stack's resources: no duplicate, no name clash");
    assert!(provision_ok(&emu, d, &["status"]).contains("present"));

    lose_state(d);
    // Without a state, the parameters must describe the stack's shape: its tags say which.
    let o = provision(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--availability-zones us-east-1a,us-east-1b"), "{}", text(&o));
    assert!(text(&o).contains("user profiles alice, bob"), "{}", text(&o));
    assert_eq!(counts(&emu), built, "refused: nothing deleted");
    let down: Vec<&str> = ["down", "--purge-efs", "--delete-data"].into_iter().chain(shape).collect();
    let o = provision(&emu, d, &down);
    assert_eq!(o.status.code(), Some(2), "no terminal, no --yes: {}", text(&o));
    assert!(text(&o).contains("found") && text(&o).contains("by their provision:stack tags"), "{}", text(&o));
    assert_eq!(counts(&emu), built, "refused: nothing deleted");
    let down: Vec<&str> = down.into_iter().chain(["--yes"]).collect();
    provision_ok(&emu, d, &down);
    let inv = rt().block_on(inventory(&emu));
    assert!(inv.is_empty(), "left after down without a state: {inv:?}");
}

#[test]
fn import_writes_the_record_back_and_changes_nothing() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let before = state_json(d);
    lose_state(d);
    emu.clear_calls();
    let out = provision_ok(&emu, d, &["import", "--verbose"]);
    assert!(out.contains(&format!("Imported {STEPS} of {STEPS} steps")), "{out}");
    // A line, then (--verbose) each step with its id on a line of its own.
    assert!(out.lines().all(|l| l.len() < 300), "{out}");
    assert!(out.lines().any(|l| l.starts_with("  vpc ") && l.contains(" vpc-")), "{out}");
    assert!(emu.calls().iter().all(|c| !is_mutating(c)), "import changed something: {:?}", emu.calls());
    let after = state_json(d);
    for (step, rec) in before["steps"].as_object().unwrap() {
        assert_eq!(after["steps"][step]["id"], rec["id"], "{step}");
    }
    let o = provision(&emu, d, &["import"]);
    assert_eq!(o.status.code(), Some(2), "never overwrites: {}", text(&o));
    assert!(provision_ok(&emu, d, &["up"]).contains("Nothing to do"));
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
}

#[test]
fn status_names_orphans_and_duplicates() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    // A duplicate: a second VPC tagged as this stack's `vpc`.
    let dup = rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let tags = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
            .tags(aws_sdk_ec2::types::Tag::builder().key("provision:stack").value("sagemaker-studio-anfw").build())
            .tags(aws_sdk_ec2::types::Tag::builder().key("provision:step").value("vpc").build())
            .build();
        let v = ec2.create_vpc().cidr_block("10.7.0.0/16").tag_specifications(tags).send().await.unwrap();
        v.vpc().unwrap().vpc_id().unwrap().to_string()
    });
    // An orphan: a resource of the stack the state no longer records.
    let path = d.join("state/sagemaker-studio-anfw.json");
    let mut st = state_json(d);
    let sg = st["steps"]["sg.vpce"]["id"].as_str().unwrap().to_string();
    st["steps"].as_object_mut().unwrap().remove("sg.vpce");
    std::fs::write(&path, serde_json::to_vec_pretty(&st).unwrap()).unwrap();

    let o = provision(&emu, d, &["status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.lines().any(|l| l.starts_with("duplicate") && l.contains(&dup)), "{t}");
    assert!(t.lines().any(|l| l.starts_with("orphan") && l.contains("sg.vpce") && l.contains(&sg)), "{t}");
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        ec2.delete_vpc().vpc_id(&dup).send().await.unwrap();
    });
    provision_ok(&emu, d, &["up", "--adopt"]);
    assert!(provision(&emu, d, &["status"]).status.success());
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
}

fn spawn_up(emu: &Emulator, dir: &Path) -> Child {
    Run::new(emu, dir).scale(SCALE).args(["--no-progress", "up"]).quiet().spawn()
}

/// Creates held by the emulator (`delay_s`) until after their client was
/// SIGKILLed and after the next run looked for them: the next `up` ends
/// with exactly one of each, the late one removed and reported.
#[test]
fn creates_that_land_after_their_client_died_leave_no_duplicate() {
    let emu = Emulator::start(SCALE, &[]);
    let expected = {
        let dir = tempfile::tempdir().unwrap();
        provision_ok(&emu, dir.path(), &["up"]);
        let c = counts(&emu);
        provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
        c
    };
    // First wave (VPC, internet gateway, KMS key), then what needs the VPC
    // (security group, route table): each held 1.5 s.
    for ops in [
        &["ec2:CreateVpc", "ec2:CreateInternetGateway", "kms:CreateKey"][..],
        &["ec2:CreateSecurityGroup", "ec2:CreateRouteTable"][..],
    ] {
        emu.control_post("reset", json!({}));
        let dir = tempfile::tempdir().unwrap();
        for op in ops {
            emu.control_post("faults", json!({"operation": op, "count": 1, "delay_s": 1.5}));
        }
        let mut child = spawn_up(&emu, dir.path());
        // Kill once every held request has reached the emulator.
        let deadline = Instant::now() + Duration::from_secs(30);
        while emu.control_get("faults")["faults"].as_array().is_some_and(|f| !f.is_empty()) {
            assert!(Instant::now() < deadline, "{ops:?} never sent");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let out = provision_ok(&emu, dir.path(), &["up"]);
        std::thread::sleep(Duration::from_millis(1600));
        let now = counts(&emu);
        assert_eq!(now, expected, "{ops:?}: exactly one of each after the resumed up; it said: {out}");
        // A VPC, an internet gateway and a KMS key have no idempotency token
        // and no unique name: the late one is a duplicate, removed and
        // reported. A security group's name is unique in its VPC and a route
        // table's ClientToken is reused by the resumed run, so AWS refuses or
        // returns the same one: no duplicate can form, as checked above.
        if ops.contains(&"ec2:CreateVpc") {
            assert!(out.contains("removed duplicate"), "{ops:?}: a late create was removed and reported: {out}");
        }
        provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
        let inv = rt().block_on(inventory(&emu));
        assert!(inv.is_empty(), "{ops:?}: left after down: {inv:?}");
    }
}

/// Look-alikes — another stack's tags, our names without our tags where a
/// name does not block us — survive `up`, `status`, `down --purge-efs`.
#[test]
fn nothing_outside_the_stack_is_touched() {
    let emu = Emulator::start(SCALE, &[]);
    let rt = rt();
    let (vpc, igw, sg) = rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let tag = |rt: aws_sdk_ec2::types::ResourceType, stack: &str, step: &str| {
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(rt)
                .tags(aws_sdk_ec2::types::Tag::builder().key("provision:stack").value(stack).build())
                .tags(aws_sdk_ec2::types::Tag::builder().key("provision:step").value(step).build())
                .build()
        };
        use aws_sdk_ec2::types::ResourceType as R;
        let v = ec2.create_vpc().cidr_block("10.8.0.0/16").tag_specifications(tag(R::Vpc, "other-stack", "vpc")).send();
        let vpc = v.await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
        let i = ec2.create_internet_gateway().tag_specifications(tag(R::InternetGateway, "other-stack", "igw"));
        let igw = i.send().await.unwrap().internet_gateway().unwrap().internet_gateway_id().unwrap().to_string();
        // Our security group's name, in another VPC, without our tags.
        let g = ec2
            .create_security_group()
            .group_name("sg-vpce-sagemaker-studio-anfw")
            .description("look-alike")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        (vpc, igw, g.group_id().unwrap().to_string())
    });
    // Issue 14's kinds: another stack's log group, and a flow log of its VPC tagged as its own.
    let (flow_log, endpoint) = rt.block_on(async {
        let sdk = emu.sdk().await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        logs.create_log_group()
            .log_group_name("/provision/other-stack/vpc-flow-logs")
            .tags("provision:stack", "other-stack")
            .tags("provision:step", "logs.vpc_flow")
            .send()
            .await
            .unwrap();
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let f = ec2
            .create_flow_logs()
            .resource_ids(&vpc)
            .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
            .traffic_type(aws_sdk_ec2::types::TrafficType::All)
            .log_group_name("/provision/other-stack/vpc-flow-logs")
            .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/other-stack-us-east-1-flow-logs-role")
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::VpcFlowLog)
                    .tags(aws_sdk_ec2::types::Tag::builder().key("provision:stack").value("other-stack").build())
                    .tags(aws_sdk_ec2::types::Tag::builder().key("provision:step").value("ec2.flow_log").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let flow_log = f.flow_log_ids().first().cloned().expect("a flow log id");
        // Another stack's S3 gateway endpoint (the kind whose delete now retries throttled answers and faults).
        let e = ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc)
            .service_name("com.amazonaws.us-east-1.s3")
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::VpcEndpoint)
                    .tags(aws_sdk_ec2::types::Tag::builder().key("provision:stack").value("other-stack").build())
                    .tags(aws_sdk_ec2::types::Tag::builder().key("provision:step").value("vpce.s3").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        (flow_log, e.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).expect("an endpoint id").to_string())
    });
    // Issue 30's kinds: another stack's network ACL tagged as its `nacl.sagemaker`, and its log bucket.
    let (nacl, log_bucket) = rt.block_on(async {
        let sdk = emu.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let a = ec2
            .create_network_acl()
            .vpc_id(&vpc)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::NetworkAcl)
                    .tags(aws_sdk_ec2::types::Tag::builder().key("provision:stack").value("other-stack").build())
                    .tags(aws_sdk_ec2::types::Tag::builder().key("provision:step").value("nacl.sagemaker").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let nacl = a.network_acl().and_then(|a| a.network_acl_id()).expect("an ACL id").to_string();
        let s3 = emu.s3().await;
        let bucket = "other-stack-123456789012-us-east-1-logs".to_string();
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let tag = |k: &str, v: &str| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .tag_set(tag("provision:stack", "other-stack"))
            .tag_set(tag("provision:step", "bucket.logs"))
            .build()
            .unwrap();
        // A new bucket's settings answer NoSuchBucket for a while under --realistic (as S3 does):
        // tagged again until it is known.
        for attempt in 0.. {
            match s3.put_bucket_tagging().bucket(&bucket).tagging(tagging.clone()).send().await {
                Ok(_) => break,
                Err(e) if attempt < 100 => {
                    assert_eq!(e.as_service_error().and_then(|e| e.meta().code()), Some("NoSuchBucket"), "{e:?}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        (nacl, bucket)
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    assert!(provision(&emu, d, &["status"]).status.success(), "look-alikes are not orphans");
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    lose_state(d);
    // Without a state: only this stack's tags count, and it is gone.
    let out = provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(out.contains("nothing to remove"), "{out}");
    let inv = rt.block_on(inventory(&emu));
    for id in [&vpc, &igw] {
        assert!(inv.iter().any(|e| e.ends_with(id.as_str())), "{id} survived: {inv:?}");
    }
    assert!(inv.contains("sg sg-vpce-sagemaker-studio-anfw"), "{sg}, our name without our tags, survived: {inv:?}");
    assert!(inv.contains("log-group /provision/other-stack/vpc-flow-logs"), "another stack's log group: {inv:?}");
    assert!(inv.contains(&format!("flow-log {flow_log}")), "another stack's flow log: {inv:?}");
    assert!(inv.contains(&format!("vpce {endpoint}")), "another stack's VPC endpoint: {inv:?}");
    assert!(inv.contains(&format!("nacl {nacl}")), "another stack's network ACL: {inv:?}");
    assert!(inv.contains(&format!("bucket {log_bucket}")), "another stack's log bucket: {inv:?}");
}
