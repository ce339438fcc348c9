//! High availability: the stack across several availability zones, with
//! zone-correct routes, and growing a live stack from one zone to two
//! without replacing anything.

mod common;

use std::collections::BTreeMap;

use common::*;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// Subnet id -> its availability zone, NAT gateway id -> its subnet's zone,
/// firewall endpoint id -> its zone: everything a route can point at.
async fn zone_of_everything(emu: &Emulator) -> BTreeMap<String, String> {
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
    let mut zone = BTreeMap::new();
    for s in ec2.describe_subnets().send().await.unwrap().subnets() {
        zone.insert(s.subnet_id().unwrap().to_string(), s.availability_zone().unwrap().to_string());
    }
    for n in ec2.describe_nat_gateways().send().await.unwrap().nat_gateways() {
        let z = zone[n.subnet_id().unwrap()].clone();
        zone.insert(n.nat_gateway_id().unwrap().to_string(), z);
    }
    let nfw = aws_sdk_networkfirewall::Client::new(&emu.sdk().await);
    for f in nfw.list_firewalls().send().await.unwrap().firewalls() {
        let d = nfw.describe_firewall().firewall_arn(f.firewall_arn().unwrap()).send().await.unwrap();
        for (az, s) in d.firewall_status().unwrap().sync_states().unwrap() {
            if let Some(e) = s.attachment().and_then(|a| a.endpoint_id()) {
                zone.insert(e.to_string(), az.clone());
            }
        }
    }
    zone
}

#[test]
fn three_zones_route_within_each_zone_and_come_down_completely() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up", "--availability-zones", &ZONES.join(",")]);
    let st = state_json(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let zone = zone_of_everything(&emu).await;
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let vpc = step_id(&st, "vpc");
        let tables = ec2
            .describe_route_tables()
            .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc).build())
            .send()
            .await
            .unwrap();
        let mut checked = 0;
        for t in tables.route_tables() {
            // A subnet's table: every default route goes to something in the subnet's zone.
            for a in t.associations().iter().filter_map(|a| a.subnet_id()) {
                for r in t.routes().iter().filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0")) {
                    let target = r.nat_gateway_id().or(r.gateway_id()).unwrap();
                    if target.starts_with("igw-") {
                        continue; // the firewall subnets' way out
                    }
                    assert_eq!(zone.get(target), zone.get(a), "route of subnet {a} to {target} crosses zones");
                    checked += 1;
                }
            }
            // The IGW edge table: each NAT subnet's CIDR to the endpoint of that subnet's zone.
            if t.associations().iter().any(|a| a.gateway_id().is_some()) {
                for r in t.routes().iter().filter(|r| r.gateway_id().is_some_and(|g| g.starts_with("vpce-"))) {
                    let cidr = r.destination_cidr_block().unwrap();
                    let subnets = ec2.describe_subnets().send().await.unwrap();
                    let s = subnets.subnets().iter().find(|s| s.cidr_block() == Some(cidr)).unwrap();
                    assert_eq!(zone.get(r.gateway_id().unwrap()), s.availability_zone().map(String::from).as_ref());
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 9, "3 SageMaker + 3 NAT subnet routes, 3 edge routes");
        let ids: Vec<String> = ZONES.iter().map(|z| z.to_string()).collect();
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        let nat_zones: std::collections::BTreeSet<String> =
            nats.nat_gateways().iter().map(|n| zone[n.subnet_id().unwrap()].clone()).collect();
        assert_eq!(nat_zones.into_iter().collect::<Vec<_>>(), ids, "one NAT gateway per zone");
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let d = sm.describe_domain().domain_id(step_id(&st, "sm.domain")).send().await.unwrap();
        assert_eq!(d.subnet_ids().len(), 3, "the domain spans every zone");
        let efs = aws_sdk_efs::Client::new(&emu.sdk().await);
        let fs = efs.describe_file_systems().send().await.unwrap();
        let mts =
            efs.describe_mount_targets().file_system_id(fs.file_systems()[0].file_system_id()).send().await.unwrap();
        assert_eq!(mts.mount_targets().len(), 3, "a mount target in every zone");
        let e = ec2.describe_vpc_endpoints().vpc_endpoint_ids(step_id(&st, "vpce.sts")).send().await.unwrap();
        assert_eq!(e.vpc_endpoints()[0].subnet_ids().len(), 3, "interface endpoints span every zone");
    });
    let v = provision_ok(&emu, dir.path(), &["verify"]);
    assert!(v.contains("us-east-1c"), "verify covers every zone: {v}");
    assert!(v.contains("10 route tables in 3 zone(s): the local route and the stack's routes only"), "{v}");
    let o = provision_ok(&emu, dir.path(), &["outputs", "SageMakerStudioSubnetIds"]);
    assert_eq!(o.trim().split(',').count(), 3, "every zone's SageMaker subnet: {o}");
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    let left = rt.block_on(inventory(&emu));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn adding_a_zone_to_a_live_stack_adds_only_that_zone() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let before = state_json(dir.path());
    let out = provision_ok(&emu, dir.path(), &["up", "--availability-zones", "us-east-1a,us-east-1b"]);
    let after = state_json(dir.path());
    // Every step of the first zone keeps its id: nothing was replaced.
    for (step, rec) in before["steps"].as_object().unwrap() {
        assert_eq!(after["steps"][step]["id"], rec["id"], "{step} kept its resource");
    }
    let new: Vec<&String> = after["steps"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !before["steps"].as_object().unwrap().contains_key(*k))
        .collect();
    assert!(!new.is_empty() && new.iter().all(|k| k.contains(".us-east-1b")), "only the new zone's steps: {new:?}");
    assert_eq!(new.len(), 15, "3 subnets, EIP, NAT, 3 tables + 3 associations, 4 routes: {new:?}");
    for step in ["nfw.firewall", "sm.domain", "vpce.sts", "vpce.s3"] {
        assert!(out.contains(&format!("{step}: ")), "{step} extended to the new zone: {out}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let d = sm.describe_domain().domain_id(step_id(&after, "sm.domain")).send().await.unwrap();
        assert_eq!(d.subnet_ids().len(), 2);
        let nfw = aws_sdk_networkfirewall::Client::new(&emu.sdk().await);
        let f = nfw.describe_firewall().firewall_arn(step_id(&after, "nfw.firewall")).send().await.unwrap();
        assert_eq!(f.firewall().unwrap().subnet_mappings().len(), 2);
    });
    assert!(provision_ok(&emu, dir.path(), &["up"]).contains("Nothing to do"));
    // The grown stack holds nothing beyond the stack's: the new zone's tables
    // (the S3 endpoint's route added by ModifyVpcEndpoint) and edge route included.
    let v = provision_ok(&emu, dir.path(), &["verify"]);
    assert!(v.contains(&format!("All {CONTROLS} controls pass")), "{v}");
    assert!(v.contains("7 route tables in 2 zone(s): the local route and the stack's routes only"), "{v}");
    // Growing to a third zone: `plan` shows the additions and the in-place updates (the firewall,
    // the domain, 11 endpoints and the execution role, whose guardrails name every zone's subnet).
    let p = provision_ok(&emu, dir.path(), &["plan", "--availability-zones", "us-east-1a,us-east-1b,us-east-1c"]);
    // Each line: the symbol (`+`, `~`, blank), the action, the step.
    let action = |step: &str| {
        p.lines()
            .find(|l| l.split_whitespace().skip_while(|w| matches!(*w, "+" | "~" | "-" | "-/+")).nth(1) == Some(step))
            .unwrap_or_default()
            .trim_start_matches(['+', '~', ' '])
            .to_string()
    };
    assert!(action("subnet.nat.us-east-1c").starts_with("create"), "{p}");
    assert!(action("nfw.firewall").starts_with("update") && action("sm.domain").starts_with("update"), "{p}");
    assert!(action("nat").starts_with("exists"), "{p}");
    // 17 to change: issue 30's network ACLs take the new zone's subnet of their tier too.
    for nacl in ["nacl.sagemaker", "nacl.nat", "nacl.firewall"] {
        assert!(action(nacl).starts_with("update"), "{nacl}: {p}");
    }
    assert!(p.contains("Plan: 15 to add, 17 to change, 0 to destroy."), "{p}");
    // Dropping the zone again stops the running app first: without a terminal, `up` needs --yes
    // and changes nothing without it (tests/day_two.rs removes zones).
    emu.clear_calls();
    let o = provision(&emu, dir.path(), &["up", "--availability-zones", "us-east-1a"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("Stop this app?") || text(&o).contains("--yes"), "{}", text(&o));
    assert!(emu.mutating_calls().is_empty(), "{:?}", emu.mutating_calls());
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt.block_on(inventory(&emu)).is_empty());
}
