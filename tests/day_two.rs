//! Day two (issue 29): `up` converges a live stack to changed parameters,
//! both ways, as `terraform apply` does. Each change is one `up` on a stack
//! of two zones and two users, checked against what exists afterwards (the
//! same resources a fresh `up` of the new parameters builds, the remaining
//! user's space untouched), with `plan` before it saying what `up` then did.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

const TWO_ZONES: &str = "us-east-1a,us-east-1b";

/// `plan --json` as step → action, and its text form's count line.
fn plan(emu: &Emulator, dir: &std::path::Path, args: &[&str]) -> (BTreeMap<String, String>, Vec<Value>, String) {
    let mut a = vec!["plan", "--json"];
    a.extend_from_slice(args);
    let lines = json_array(&provision_ok(emu, dir, &a));
    let actions = lines
        .iter()
        .map(|l| (l["step"].as_str().unwrap().to_string(), l["action"].as_str().unwrap().to_string()))
        .collect();
    let mut a = vec!["plan"];
    a.extend_from_slice(args);
    let text = provision_ok(emu, dir, &a);
    let counts = text.lines().find(|l| l.starts_with("Plan: ")).unwrap_or_default().to_string();
    (actions, lines, counts)
}

/// `up --json` with `args`: each step's final action (`created`, `updated`,
/// `deleted`, `unchanged`, ...), the last one a step reported.
fn up(emu: &Emulator, dir: &std::path::Path, args: &[&str]) -> BTreeMap<String, String> {
    let mut a = vec!["up", "--json"];
    a.extend_from_slice(args);
    let out = provision_ok(emu, dir, &a);
    let mut done = BTreeMap::new();
    for l in out.lines().filter(|l| l.starts_with('{')) {
        let e: Value = serde_json::from_str(l).unwrap();
        if e["event"] == "step" && e["state"] == "done" {
            done.insert(e["step"].as_str().unwrap().to_string(), e["action"].as_str().unwrap().to_string());
        }
    }
    done
}

/// What `plan` said against what `up` did: the same steps changed, each the
/// same way (`create`/`recreate` ↔ `created`, `update` ↔ `updated`,
/// `delete` ↔ `deleted`), and nothing else changed.
fn agree(planned: &BTreeMap<String, String>, did: &BTreeMap<String, String>) {
    let said: BTreeMap<&String, &str> = planned
        .iter()
        .filter(|(_, a)| a.as_str() != "exists")
        .map(|(s, a)| {
            let a = match a.as_str() {
                "create" | "recreate" => "created",
                "update" => "updated",
                "delete" => "deleted",
                other => panic!("plan action {other} for {s}"),
            };
            (s, a)
        })
        .collect();
    let done: BTreeMap<&String, &str> = did
        .iter()
        .filter(|(_, a)| !matches!(a.as_str(), "unchanged" | "absent"))
        .map(|(s, a)| (s, a.as_str()))
        .collect();
    assert_eq!(said, done, "plan said {planned:?}\nup did {did:?}");
}

fn counts_now(emu: &Emulator) -> BTreeMap<String, usize> {
    let mut c = count_kinds(&rt().block_on(inventory(emu)));
    c.remove("eni");
    c
}

fn without_logging(mut c: BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    for (k, n) in
        [("kms-key", 1), ("alias", 1), ("role", 1), ("log-group", 3), ("flow-log", 1), ("firewall-logging", 2)]
    {
        let v = c.get_mut(k).unwrap();
        *v -= n;
        if *v == 0 {
            c.remove(k);
        }
    }
    c
}

#[test]
fn users_zones_logging_and_settings_change_with_one_up_each() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--availability-zones", TWO_ZONES, "--users", "alice,bob"]);
    assert_eq!(counts_now(&emu), stack_counts(2, 2));
    let st = state_json(d);
    let (domain, space, app) = (step_id(&st, "sm.domain"), step_id(&st, "sm.space"), step_id(&st, "sm.app"));

    // Remove a user: plan says what goes; without a terminal and without --yes, nothing changes.
    let (planned, lines, count) = plan(&emu, d, &["--users", "alice"]);
    let deletes: Vec<&String> = planned.iter().filter(|(_, a)| *a == "delete").map(|(s, _)| s).collect();
    assert_eq!(deletes, ["sm.app.bob", "sm.space.bob", "sm.user.bob"], "{planned:?}");
    assert_eq!(count, "Plan: 0 to add, 0 to change, 3 to destroy.");
    let space_line = lines.iter().find(|l| l["step"] == "sm.space.bob").unwrap();
    assert!(space_line["detail"].as_str().unwrap().contains("holds data"), "{space_line}");
    emu.clear_calls();
    let o = provision(&emu, d, &["up", "--users", "alice"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--yes"), "{}", text(&o));
    assert!(emu.mutating_calls().is_empty(), "refused before any change: {:?}", emu.mutating_calls());
    assert_eq!(state_json(d)["params"], st["params"], "a refused change is not recorded");
    let did = up(&emu, d, &["--users", "alice", "--yes"]);
    agree(&planned, &did);
    assert_eq!(counts_now(&emu), stack_counts(2, 1));
    let st = state_json(d);
    assert!(st["steps"].as_object().unwrap().keys().all(|k| !k.ends_with(".bob")), "{st:#}");
    assert_eq!((step_id(&st, "sm.space"), step_id(&st, "sm.app")), (space.clone(), app.clone()), "alice's untouched");
    assert_eq!(rt().block_on(app_status(&emu, &domain, "alice")).as_deref(), Some("InService"));
    assert_eq!(st["params"]["user_profile_name"], "alice");
    assert!(st.get("applying").is_none(), "a finished up leaves nothing under way: {st:#}");

    // Remove a zone: the spanning resources let go of it, its 15 steps go, alice's space stays.
    let (planned, _, count) = plan(&emu, d, &["--availability-zones", "us-east-1a"]);
    let deleted = planned.values().filter(|a| *a == "delete").count();
    assert_eq!(deleted, 15, "3 subnets, EIP, NAT, 3 tables + 3 associations, 4 routes: {planned:?}");
    for step in ["nfw.firewall", "sm.domain", "vpce.sts", "vpce.s3"] {
        assert_eq!(planned[step], "update", "{step} drops the zone: {planned:?}");
    }
    assert_eq!(planned["sm.app"], "recreate", "the domain lets go of a subnet only while no app runs");
    assert!(count.ends_with("15 to destroy."), "{count}");
    let did = up(&emu, d, &["--availability-zones", "us-east-1a", "--yes"]);
    agree(&planned, &did);
    assert_eq!(counts_now(&emu), stack_counts(1, 1));
    let st = state_json(d);
    assert_eq!((step_id(&st, "sm.space"), step_id(&st, "sm.app")), (space.clone(), app.clone()));
    assert_eq!(rt().block_on(app_status(&emu, &domain, "alice")).as_deref(), Some("InService"));
    let v = provision_ok(&emu, d, &["verify"]);
    assert!(!v.contains("FAIL"), "{v}");

    // Add the zone back: what a fresh two-zone stack has.
    let (planned, _, _) = plan(&emu, d, &["--availability-zones", TWO_ZONES]);
    let did = up(&emu, d, &["--availability-zones", TWO_ZONES]);
    agree(&planned, &did);
    assert_eq!(counts_now(&emu), stack_counts(2, 1));

    // The allow-list and the idle timeout in the same run: in place.
    let args = ["--allowed-domains", ".kaggle.com,.pypi.org", "--idle-timeout-minutes", "120"];
    let (planned, lines, count) = plan(&emu, d, &args);
    assert_eq!(planned["nfw.rule_group"], "update", "{planned:?}");
    assert_eq!(planned["sm.domain"], "update", "{planned:?}");
    assert_eq!(count, "Plan: 0 to add, 2 to change, 0 to destroy.");
    let dom = lines.iter().find(|l| l["step"] == "sm.domain").unwrap();
    let idle = dom["changes"].as_array().unwrap().iter().find(|c| c["parameter"] == "idle_timeout_minutes").unwrap();
    assert_eq!((idle["old"].as_str(), idle["new"].as_str()), (Some("60"), Some("120")), "{dom}");
    let did = up(&emu, d, &args);
    agree(&planned, &did);
    let st = state_json(d);
    rt().block_on(async {
        let sdk = emu.sdk().await;
        let nfw = aws_sdk_networkfirewall::Client::new(&sdk);
        let rg = nfw.describe_rule_group().rule_group_arn(step_id(&st, "nfw.rule_group")).send().await.unwrap();
        let targets = rg.rule_group().unwrap().rules_source().unwrap().rules_source_list().unwrap().targets().to_vec();
        assert_eq!(targets, [".kaggle.com", ".pypi.org"]);
        let sm = aws_sdk_sagemaker::Client::new(&sdk);
        let dd = sm.describe_domain().domain_id(&domain).send().await.unwrap();
        let minutes = dd
            .default_user_settings()
            .and_then(|u| u.jupyter_lab_app_settings())
            .and_then(|j| j.app_lifecycle_management())
            .and_then(|a| a.idle_settings())
            .and_then(|i| i.idle_timeout_in_minutes());
        assert_eq!(minutes, Some(120));
    });
    assert!(provision_ok(&emu, d, &["up"]).contains("Nothing to do"), "converged");

    // Logging off (its log groups hold data: --yes), then on again.
    let (planned, _, count) = plan(&emu, d, &["--no-logging"]);
    assert_eq!(count, "Plan: 0 to add, 0 to change, 8 to destroy.", "{planned:?}");
    let did = up(&emu, d, &["--no-logging", "--yes"]);
    agree(&planned, &did);
    assert_eq!(counts_now(&emu), without_logging(stack_counts(2, 1)));
    let (planned, _, count) = plan(&emu, d, &["--logging"]);
    assert_eq!(count, "Plan: 8 to add, 0 to change, 0 to destroy.", "{planned:?}");
    let did = up(&emu, d, &["--logging"]);
    agree(&planned, &did);
    assert_eq!(counts_now(&emu), stack_counts(2, 1));

    // What AWS cannot change in place is refused, with nothing touched and nothing recorded.
    let before = state_json(d);
    for (args, names) in [
        (["--sagemaker-subnet-cidr", "10.2.4.0/24"], "sagemaker_subnet_cidrs: '10.2.3.0/24' → '10.2.4.0/24'"),
        (["--domain-name", "another-domain"], "domain_name: "),
    ] {
        emu.clear_calls();
        for cmd in ["plan", "up"] {
            let mut a = vec![cmd];
            a.extend_from_slice(&args);
            let o = provision(&emu, d, &a);
            assert_eq!(o.status.code(), Some(2), "{cmd} {args:?}: {}", text(&o));
            assert!(text(&o).contains(names) && text(&o).contains("provision down --purge-efs"), "{}", text(&o));
        }
        assert!(emu.mutating_calls().is_empty(), "{args:?}: {:?}", emu.mutating_calls());
        assert_eq!(state_json(d)["params"], before["params"], "{args:?}: nothing recorded");
    }
    // A new VPC CIDR leaves the recorded subnets outside it: refused by the parameters' rules.
    let o = provision(&emu, d, &["up", "--vpc-cidr", "10.3.0.0/16"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is not inside vpc_cidr '10.3.0.0/16'"), "{}", text(&o));
    assert_eq!(state_json(d)["params"], before["params"]);
    // A space's volume grows, never shrinks.
    let o = provision(&emu, d, &["up", "--space-storage-gib", "4"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let did = up(&emu, d, &["--space-storage-gib", "10"]);
    assert_eq!(did["sm.space"], "updated", "{did:?}");
    let o = provision(&emu, d, &["up", "--space-storage-gib", "5"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("space_storage_gib: 10 → 5 would shrink"), "{}", text(&o));

    // A new instance type: the domain's and the space's defaults now, the running app at its next start.
    let (planned, lines, _) = plan(&emu, d, &["--app-instance-type", "ml.t3.large"]);
    assert_eq!((planned["sm.domain"].as_str(), planned["sm.space"].as_str()), ("update", "update"), "{planned:?}");
    let app_line = lines.iter().find(|l| l["step"] == "sm.app").unwrap();
    assert_eq!(app_line["action"], "exists", "{app_line}");
    assert_eq!(app_line["changes"][0]["when"], "next start", "{app_line}");
    let did = up(&emu, d, &["--app-instance-type", "ml.t3.large"]);
    agree(&planned, &did);
    let s = provision(&emu, d, &["status"]);
    assert_eq!(s.status.code(), Some(0), "{}", text(&s));
    assert!(text(&s).contains("the stack's ml.t3.large applies from its next start"), "{}", text(&s));
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt().block_on(inventory(&emu)).is_empty());
}

/// A stack built with the default user gets more users, by flag and by
/// config file, without naming the default user's parameter.
#[test]
fn a_stack_built_with_the_default_user_gets_more_users() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--no-logging"]);
    let first = "anfw-user-profile-us-east-1";
    provision_ok(&emu, d, &["up", "--users", &format!("alice,{first}")]);
    let st = state_json(d);
    assert_eq!(st["params"]["users"], serde_json::json!([first, "alice"]), "the recorded user keeps its place");
    assert!(st["steps"]["sm.app.alice"]["id"].is_string());
    let config = d.join("team.toml");
    std::fs::write(&config, format!("users = [\"{first}\", \"alice\", \"carol\"]\n")).unwrap();
    provision_ok(&emu, d, &["up", "--config", config.to_str().unwrap()]);
    let mut c = count_kinds(&rt().block_on(inventory(&emu)));
    c.remove("eni");
    assert_eq!(c, without_logging(stack_counts(1, 3)));
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
}

/// The first user leaves (issue 29): their profile, space and app go, and
/// the next user's steps take the spec's ids (`sm.user`, `sm.space`,
/// `sm.app`), records and `provision:step` tags, untouched otherwise (same
/// ids, app still running). Then the only user is replaced by a new one.
#[test]
fn the_first_user_leaves_and_the_next_takes_the_first_ids() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--no-logging", "--users", "alice,bob"]);
    let st = state_json(d);
    let domain = step_id(&st, "sm.domain");
    let bobs: Vec<String> = ["sm.user.bob", "sm.space.bob", "sm.app.bob"].iter().map(|s| step_id(&st, s)).collect();

    let lines = json_array(&provision_ok(&emu, d, &["plan", "--json", "--users", "bob"]));
    let said = |step: &str, action: &str| {
        lines
            .iter()
            .find(|l| l["step"] == step && l["action"] == action)
            .unwrap_or_else(|| panic!("{step} {action}: {lines:#?}"))
            .clone()
    };
    for step in ["sm.user", "sm.space", "sm.app"] {
        assert!(said(step, "delete")["id"].as_str().unwrap().contains("alice"), "{lines:#?}");
        assert!(
            said(step, "exists")["detail"].as_str().unwrap().contains(&format!("moves from {step}.bob")),
            "{lines:#?}"
        );
    }
    assert!(provision_ok(&emu, d, &["plan", "--users", "bob"]).contains("Plan: 0 to add, 0 to change, 3 to destroy."));
    emu.clear_calls();
    let o = provision(&emu, d, &["up", "--users", "bob"]);
    assert_eq!(o.status.code(), Some(2), "alice's space holds data: {}", text(&o));
    assert!(emu.mutating_calls().is_empty(), "{:?}", emu.mutating_calls());

    let did = up(&emu, d, &["--users", "bob", "--yes"]);
    for step in ["sm.user", "sm.space", "sm.app"] {
        assert!(did.contains_key(step), "{did:?}");
    }
    let st = state_json(d);
    let now: Vec<String> = ["sm.user", "sm.space", "sm.app"].iter().map(|s| step_id(&st, s)).collect();
    assert_eq!(now, bobs, "bob's resources, untouched, under the first user's ids");
    assert!(st["steps"].as_object().unwrap().keys().all(|k| !k.ends_with(".bob") && !k.contains("alice")), "{st:#}");
    assert_eq!(st["params"]["user_profile_name"], "bob");
    assert_eq!(rt().block_on(app_status(&emu, &domain, "bob")).as_deref(), Some("InService"));
    let alices = rt().block_on(app_status(&emu, &domain, "alice"));
    assert!(matches!(alices.as_deref(), None | Some("Deleted")), "alice's app is gone: {alices:?}");
    assert_eq!(counts_now(&emu), without_logging(stack_counts(1, 1)));
    // The tags say it too: a lost state file is written back with the same ids.
    rt().block_on(async {
        let sm = aws_sdk_sagemaker::Client::new(&emu.sdk().await);
        let u = sm.describe_user_profile().domain_id(&domain).user_profile_name("bob").send().await.unwrap();
        let tags = sm.list_tags().resource_arn(u.user_profile_arn().unwrap()).send().await.unwrap();
        let step = tags.tags().iter().find(|t| t.key() == Some("provision:step")).and_then(|t| t.value());
        assert_eq!(step, Some("sm.user"));
    });
    assert_eq!(provision_ok(&emu, d, &["outputs", "UserProfileName"]).trim(), "bob");
    assert!(provision_ok(&emu, d, &["up"]).contains("Nothing to do"), "converged");
    let s = provision(&emu, d, &["status"]);
    assert_eq!(s.status.code(), Some(0), "{}", text(&s));
    std::fs::remove_file(d.join("state/sagemaker-studio-anfw.json")).unwrap();
    provision_ok(&emu, d, &["import", "--users", "bob", "--no-logging"]);
    assert_eq!(state_json(d)["steps"]["sm.user"]["id"], st["steps"]["sm.user"]["id"], "import reads the moved tags");

    // The only user replaced by a new one: bob's go, carol's are made under the first ids.
    let lines = json_array(&provision_ok(&emu, d, &["plan", "--json", "--users", "carol"]));
    assert_eq!(lines.iter().filter(|l| l["action"] == "delete").count(), 3, "{lines:#?}");
    assert_eq!(lines.iter().filter(|l| l["action"] == "create").count(), 3, "{lines:#?}");
    provision_ok(&emu, d, &["up", "--users", "carol", "--yes"]);
    let st = state_json(d);
    assert!(step_id(&st, "sm.user").ends_with("/carol"), "{st:#}");
    assert_eq!(rt().block_on(app_status(&emu, &domain, "carol")).as_deref(), Some("InService"));
    assert_eq!(counts_now(&emu), without_logging(stack_counts(1, 1)));
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt().block_on(inventory(&emu)).is_empty());
}

/// The first zone removed (issue 29): its 15 steps go after the spanning
/// resources let go of it, and the next zone's steps take the first zone's
/// ids and names (records, `provision:step` and Name tags), untouched
/// otherwise; then the zone comes back as an added one.
#[test]
fn the_first_zone_removed_and_the_next_takes_the_first_ids() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up", "--no-logging", "--availability-zones", TWO_ZONES]);
    let st = state_json(d);
    let (space, app) = (step_id(&st, "sm.space"), step_id(&st, "sm.app"));
    let b_zone: Vec<(String, String)> = st["steps"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains(".us-east-1b"))
        .map(|(k, r)| (k.replace(".us-east-1b", ""), r["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(b_zone.len(), 15, "{b_zone:?}");

    let lines = json_array(&provision_ok(&emu, d, &["plan", "--json", "--availability-zones", "us-east-1b"]));
    assert_eq!(lines.iter().filter(|l| l["action"] == "delete").count(), 15, "{lines:#?}");
    for (step, _) in &b_zone {
        let moved = lines.iter().find(|l| l["step"] == step.as_str() && l["action"] != "delete").unwrap();
        assert!(moved["detail"].as_str().unwrap().contains("moves from"), "{moved}");
    }
    let text_plan = provision_ok(&emu, d, &["plan", "--availability-zones", "us-east-1b"]);
    assert!(text_plan.contains("15 to destroy."), "{text_plan}");
    provision_ok(&emu, d, &["up", "--availability-zones", "us-east-1b", "--yes"]);
    let st = state_json(d);
    for (step, id) in &b_zone {
        assert_eq!(&step_id(&st, step), id, "{step}: zone b's resource under the first zone's id");
    }
    assert!(st["steps"].as_object().unwrap().keys().all(|k| !k.contains("us-east-1")), "{st:#}");
    assert_eq!(st["params"]["availability_zone"], "us-east-1b");
    assert_eq!((step_id(&st, "sm.space"), step_id(&st, "sm.app")), (space, app), "the user's space and app stay");
    assert_eq!(counts_now(&emu), without_logging(stack_counts(1, 1)));
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&emu.sdk().await);
        let s = ec2.describe_subnets().subnet_ids(step_id(&st, "subnet.sagemaker")).send().await.unwrap();
        let subnet = &s.subnets()[0];
        assert_eq!(subnet.availability_zone(), Some("us-east-1b"));
        let tag =
            |k: &str| subnet.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).map(str::to_string);
        assert_eq!(tag("provision:step").as_deref(), Some("subnet.sagemaker"));
        assert_eq!(tag("Name").as_deref(), Some("sn-sagemaker-studio-anfw-sagemaker-studio"));
    });
    let v = provision_ok(&emu, d, &["verify"]);
    assert!(!v.contains("FAIL"), "{v}");
    assert!(provision_ok(&emu, d, &["up"]).contains("Nothing to do"), "converged");

    // Zone a back: an added zone, suffixed.
    provision_ok(&emu, d, &["up", "--availability-zones", "us-east-1b,us-east-1a"]);
    let st = state_json(d);
    assert_eq!(st["steps"].as_object().unwrap().keys().filter(|k| k.contains(".us-east-1a")).count(), 15);
    assert_eq!(counts_now(&emu), without_logging(stack_counts(2, 1)));
    provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(rt().block_on(inventory(&emu)).is_empty());
}
