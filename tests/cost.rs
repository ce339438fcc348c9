//! What the stack costs (issue 31): `provision cost` against the emulator's
//! Price List Query API (emulator/provision_emulator/pricing.py), the
//! shipped table when that API is denied or unreachable, and the cost lines
//! of `plan`, `status` and `down` on a live stack.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn cost(emu: &Emulator, dir: &Path, args: &[&str]) -> Value {
    let out = Run::new(emu, dir).arg("cost").arg("--json").args(args).output();
    assert!(out.status.success(), "cost {args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("cost --json: {e}: {}", text(&out)))
}

fn item<'a>(doc: &'a Value, meter: &str) -> &'a Value {
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["meter"] == meter)
        .unwrap_or_else(|| panic!("no {meter} in {doc:#}"))
}

fn total(doc: &Value) -> f64 {
    doc["monthly_usd"].as_f64().unwrap()
}

const API: &str = "the AWS Price List Query API (pricing:GetProducts)";

#[test]
fn cost_scales_with_zones_and_users_and_follows_the_price_list() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    emu.clear_calls();
    let one = cost(&emu, d, &["--app-hours", "0"]);
    assert_eq!(one["prices"]["source"], API, "{one:#}");
    // No state is needed, and none is made.
    assert!(!d.join("state").exists());
    let calls = emu.calls();
    assert!(calls.iter().all(|c| c == "pricing:GetProducts"), "{calls:?}");
    assert!(!calls.is_empty());
    // Issue 31's idle arithmetic: firewall endpoint, ten interface endpoints, the NAT gateway's
    // public IPv4, three keys, one 5 GiB space volume; the NAT gateway's hours waived.
    assert!((365.0..=400.0).contains(&total(&one)), "one zone idles at {}", total(&one));
    assert_eq!(item(&one, "interface-endpoint-hour")["count"], 10.0);
    let nat = item(&one, "nat-gateway-hour")["monthly_usd"].as_f64().unwrap();
    assert_eq!(item(&one, "nat-gateway-hour-waived")["monthly_usd"].as_f64().unwrap(), -nat);

    let three = cost(&emu, d, &["--app-hours", "0", "--availability-zones", "us-east-1a,us-east-1b,us-east-1c"]);
    assert_eq!(item(&three, "firewall-endpoint-hour")["count"], 3.0);
    assert_eq!(item(&three, "interface-endpoint-hour")["count"], 30.0);
    assert_eq!(item(&three, "public-ipv4-hour")["count"], 3.0);
    let ratio = total(&three) / total(&one);
    assert!((2.9..=3.0).contains(&ratio), "three zones {} = {ratio} × one zone", total(&three));

    let users: Vec<String> = (0..10).map(|i| format!("user-{i}")).collect();
    let ten = cost(&emu, d, &["--users", &users.join(",")]);
    let single = cost(&emu, d, &[]);
    assert_eq!(item(&ten, "studio-app-hour:ml.t3.medium")["count"], 10.0);
    assert_eq!(item(&ten, "studio-storage-gb-month")["count"], 50.0);
    assert!(total(&ten) > total(&single) + 80.0, "ten users {} vs one {}", total(&ten), total(&single));

    // Without logging: no logs key, no log groups.
    let quiet = cost(&emu, d, &["--no-logging"]);
    assert_eq!(item(&quiet, "kms-key-month")["count"], 2.0);
    assert!(quiet["items"].as_array().unwrap().iter().all(|i| i["meter"] != "logs-ingest-gb"));

    // A price changed in the Price List is what `cost` uses.
    let before = item(&single, "firewall-endpoint-hour")["unit_usd"].as_f64().unwrap();
    emu.control_post(
        "prices",
        serde_json::json!({"service_code": "AWSNetworkFirewall", "usagetype": "Endpoint-Hour", "region": "us-east-1", "usd": 0.5}),
    );
    let after = cost(&emu, d, &[]);
    assert_eq!(item(&after, "firewall-endpoint-hour")["unit_usd"], 0.5);
    assert_eq!(item(&after, "firewall-endpoint-hour")["price_source"], "price_list");
    let grew = total(&after) - total(&single);
    assert!((grew - (0.5 - before) * 730.0).abs() < 0.02, "grew {grew}");
    // The text says the same.
    let t = Run::new(&emu, d).arg("cost").ok();
    assert!(t.contains("$0.50/hour"), "{t}");
    assert!(t.contains(&format!("Prices: {API}")), "{t}");
    assert!(t.contains("NAT gateway hours waived"), "{t}");
}

#[test]
fn cost_uses_the_shipped_table_and_says_why_when_the_price_list_is_denied_or_unreachable() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let answered = cost(&emu, d, &[]);
    emu.control_post(
        "faults",
        serde_json::json!({"operation": "pricing:GetProducts", "error_code": "AccessDeniedException", "status": 400, "count": 1000,
                           "message": "User is not authorized to perform: pricing:GetProducts"}),
    );
    let denied = cost(&emu, d, &[]);
    let source = denied["prices"]["source"].as_str().unwrap();
    assert!(source.starts_with("the price table shipped with provision (src/cost/prices.json)"), "{source}");
    assert!(source.contains("AccessDeniedException"), "{source}");
    assert_eq!(item(&denied, "firewall-endpoint-hour")["price_source"], "table");
    // The table and the emulator's price list agree on today's prices.
    assert_eq!(total(&denied), total(&answered));
    let t = Run::new(&emu, d).arg("cost").ok();
    assert!(t.contains("Prices: the price table shipped with provision"), "{t}");

    // Nothing listening: the table, in the stack's region.
    let out = Run::bare(d)
        .args(["--endpoint-url", "http://127.0.0.1:9", "--region", "eu-central-1", "cost", "--json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("PROVISION_TIME_SCALE", SCALE)
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(offline["prices"]["source"].as_str().unwrap().contains("did not answer"), "{offline:#}");
    assert_eq!(offline["prices"]["region"], "eu-central-1");
    assert_eq!(item(&offline, "nat-gateway-hour")["unit_usd"], 0.052);
}

#[test]
fn bad_assumptions_are_refused_before_any_call() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    let out = Run::new(&emu, dir.path()).args(["cost", "--internet-gb", "-3"]).output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--internet-gb -3: must be a number of 0 or more"), "{}", text(&out));
    assert!(emu.calls().is_empty());
}

/// The first number after `marker` in `t` ("$1,234.56" → 1234.56).
fn dollars_after(t: &str, marker: &str) -> f64 {
    let at = t.find(marker).unwrap_or_else(|| panic!("no {marker:?} in:\n{t}")) + marker.len();
    let rest = &t[at..];
    let start = rest.find('$').unwrap() + 1;
    let n: String = rest[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').collect();
    n.replace(',', "").trim_end_matches('.').parse().unwrap()
}

#[test]
fn plan_status_and_down_say_what_it_costs() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A fresh stack: the total, no change to compare with.
    let fresh = provision_ok(&emu, d, &["plan", "--no-logging"]);
    let full = total(&cost(&emu, d, &["--no-logging"]));
    assert!((dollars_after(&fresh, "Cost: ") - full).abs() < 0.01, "{fresh}");
    assert!(!fresh.contains("/month:"), "{fresh}");
    provision_ok(&emu, d, &["up", "--no-logging"]);

    // A live stack: the change against the recorded parameters.
    let grow = provision_ok(&emu, d, &["plan", "--availability-zones", "us-east-1a,us-east-1b"]);
    let two = total(&cost(&emu, d, &["--availability-zones", "us-east-1a,us-east-1b"]));
    let line = grow.lines().find(|l| l.starts_with("Cost: ")).unwrap_or_else(|| panic!("{grow}"));
    assert!(
        line.contains(&format!("+${:.2}/month: 1 zone added", two - full)),
        "{line} (1 zone {full}, 2 zones {two})"
    );

    // The run-rate of what exists: everything, the app running.
    let status = provision_ok(&emu, d, &["status"]);
    assert!((dollars_after(&status, "Run-rate: ") - full).abs() < 0.01, "{status}");

    // Plain down stops the hourly charges and keeps the users' storage and the keys.
    let out = provision_ok(&emu, d, &["down", "--yes"]);
    let paid = dollars_after(&out, "no longer paying");
    let kept = dollars_after(&out, "what it kept still costs");
    assert!(paid > 360.0, "{out}");
    assert!(kept > 0.0 && kept < 10.0, "{out}");
    assert!((paid + kept - full).abs() < 0.02, "paid {paid} + kept {kept} vs {full}:\n{out}");
    // What is kept is storage: the space volume, the EBS key, the home EFS (no firewall, NAT,
    // endpoint or running app).
    let kept_line = out.lines().find(|l| l.contains("what it kept still costs")).unwrap();
    let kept_items = &kept_line[kept_line.find("costs").unwrap()..];
    for what in ["Space volume", "KMS customer managed key", "Home EFS"] {
        assert!(kept_items.contains(what), "{what}: {kept_line}");
    }
    for what in ["Firewall", "NAT", "endpoint", "JupyterLab"] {
        assert!(!kept_items.contains(what), "{what}: {kept_line}");
    }

    let status = provision_ok(&emu, d, &["status"]);
    assert!((dollars_after(&status, "Run-rate: ") - kept).abs() < 0.01, "{status}");
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
}
