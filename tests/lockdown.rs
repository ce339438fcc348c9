//! Issue 30, "locked down for real", against the emulator: the firewall
//! drops what the allow-list does not pass, on every protocol (a strict-order
//! policy with a default drop, fragments to the stateful engine); `verify`
//! names the control an out-of-band change weakens; `up` puts the policy
//! back, and brings a stack of the previous version (default action order,
//! fragments passed) to the new policy, with `plan` saying so first; the
//! default allow-list names what Studio needs (no `.amazonaws.com`); both
//! buckets log server access to the stack's log bucket; the SageMaker
//! subnets, the NAT subnets and the firewall subnets each have a network ACL
//! of exactly their flows; the home EFS is backed up.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_networkfirewall::types::{
    FirewallPolicy, GeneratedRulesType, IpSet, MatchAttributes, PortRange, RuleDefinition, RuleGroup, RuleGroupType,
    RuleOrder, RuleVariables, RulesSource, RulesSourceList, StatefulRuleGroupReference, StatelessRule,
    StatelessRuleGroupReference, StatelessRulesAndCustomActions, Tag, TargetType,
};
use common::*;
use serde_json::Value;

/// `verify --json`: exit code and (control, pass, evidence) per control.
fn verify(emu: &Emulator, dir: &Path) -> (Option<i32>, Vec<(String, bool, String)>) {
    let o = provision(emu, dir, &["verify", "--json"]);
    let out: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}):\n{}", text(&o)));
    let controls = out
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["control"].as_str().unwrap().to_string(),
                c["pass"].as_bool().unwrap(),
                c["evidence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (o.status.code(), controls)
}

/// Exactly `control` fails, its evidence showing `shows` and naming the control.
fn fails_only(emu: &Emulator, dir: &Path, control: &str, shows: &str) {
    let (code, controls) = verify(emu, dir);
    assert_eq!(code, Some(1), "{controls:?}");
    let failing: BTreeSet<&str> = controls.iter().filter(|c| !c.1).map(|c| c.0.as_str()).collect();
    assert_eq!(failing, BTreeSet::from([control]), "{controls:?}");
    let ev = &controls.iter().find(|c| c.0 == control).unwrap().2;
    assert!(ev.contains(shows) && ev.contains(&format!("weakens {control}")), "{control}: {ev}");
}

fn passes(emu: &Emulator, dir: &Path) {
    let (code, controls) = verify(emu, dir);
    assert_eq!(code, Some(0), "{controls:?}");
}

async fn nfw(emu: &Emulator) -> aws_sdk_networkfirewall::Client {
    aws_sdk_networkfirewall::Client::new(&emu.sdk().await)
}

/// The live policy and its UpdateToken.
async fn policy(emu: &Emulator, arn: &str) -> (FirewallPolicy, String) {
    let out = nfw(emu).await.describe_firewall_policy().firewall_policy_arn(arn).send().await.unwrap();
    (out.firewall_policy.unwrap(), out.update_token)
}

async fn put_policy(emu: &Emulator, arn: &str, edit: impl FnOnce(&mut FirewallPolicy)) {
    let (mut p, token) = policy(emu, arn).await;
    edit(&mut p);
    nfw(emu)
        .await
        .update_firewall_policy()
        .firewall_policy_arn(arn)
        .update_token(token)
        .firewall_policy(p)
        .send()
        .await
        .unwrap();
}

/// The live rule group: its rule order and domain list.
async fn group(emu: &Emulator, arn: &str) -> (RuleOrder, Vec<String>) {
    let g = nfw(emu).await.describe_rule_group().rule_group_arn(arn).send().await.unwrap().rule_group.unwrap();
    let order =
        g.stateful_rule_options().and_then(|o| o.rule_order()).cloned().unwrap_or(RuleOrder::DefaultActionOrder);
    (order, g.rules_source().unwrap().rules_source_list().unwrap().targets().to_vec())
}

/// The policy as this version makes it: strict order, default drop and
/// alert, fragments and packets to the stateful engine, the domain list
/// (in strict order too) its only group.
async fn assert_strict(emu: &Emulator, policy_arn: &str, group_arn: &str) {
    let (p, _) = policy(emu, policy_arn).await;
    assert_eq!(p.stateful_engine_options().and_then(|o| o.rule_order()), Some(&RuleOrder::StrictOrder));
    assert_eq!(p.stateful_default_actions(), ["aws:drop_established", "aws:alert_established"]);
    assert_eq!(p.stateless_default_actions(), ["aws:forward_to_sfe"]);
    assert_eq!(p.stateless_fragment_default_actions(), ["aws:forward_to_sfe"]);
    assert!(p.stateless_rule_group_references().is_empty());
    let refs: Vec<(&str, Option<i32>)> =
        p.stateful_rule_group_references().iter().map(|r| (r.resource_arn(), r.priority())).collect();
    assert_eq!(refs, [(group_arn, Some(100))]);
    assert_eq!(group(emu, group_arn).await.0, RuleOrder::StrictOrder);
}

/// A stateless rule group passing SSH (TCP 22) to anywhere: a protocol let
/// by the stateful engine and its domain list.
async fn ssh_pass_group(emu: &Emulator) -> String {
    let rule = StatelessRule::builder()
        .priority(1)
        .rule_definition(
            RuleDefinition::builder()
                .actions("aws:pass")
                .match_attributes(
                    MatchAttributes::builder()
                        .protocols(6)
                        .destination_ports(PortRange::builder().from_port(22).to_port(22).build())
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let body = RuleGroup::builder()
        .rules_source(
            RulesSource::builder()
                .stateless_rules_and_custom_actions(
                    StatelessRulesAndCustomActions::builder().stateless_rules(rule).build().unwrap(),
                )
                .build(),
        )
        .build();
    let out = nfw(emu)
        .await
        .create_rule_group()
        .rule_group_name("ssh-out")
        .r#type(RuleGroupType::Stateless)
        .capacity(10)
        .rule_group(body)
        .send()
        .await
        .unwrap();
    out.rule_group_response.unwrap().rule_group_arn
}

#[test]
fn the_firewall_drops_what_the_list_does_not_pass_and_verify_names_each_weakening() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let st = state_json(d);
    let (pol, grp) = (step_id(&st, "nfw.policy"), step_id(&st, "nfw.rule_group"));
    let rt = rt();
    rt.block_on(assert_strict(&emu, &pol, &grp));
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(0), "{controls:?}");
    for (control, says) in [
        (
            "firewall.default_drop",
            "STRICT_ORDER; the domain list the only pass, then aws:drop_established + aws:alert_established",
        ),
        ("firewall.no_stateless_bypass", "no stateless rule group; packets and fragments aws:forward_to_sfe"),
    ] {
        let ev = &controls.iter().find(|c| c.0 == control).unwrap_or_else(|| panic!("{control}: {controls:?}")).2;
        assert!(ev.contains(says), "{control}: {ev}");
    }

    // An extra allowed protocol: a stateless rule group passing SSH ahead of the stateful engine.
    let ssh = rt.block_on(ssh_pass_group(&emu));
    let ssh_ref = ssh.clone();
    rt.block_on(put_policy(&emu, &pol, move |p| {
        p.stateless_rule_group_references =
            Some(vec![StatelessRuleGroupReference::builder().resource_arn(ssh_ref).priority(1).build().unwrap()]);
    }));
    fails_only(&emu, d, "firewall.no_stateless_bypass", &format!("stateless rule group {ssh}"));
    let plan = provision_ok(&emu, d, &["plan"]);
    let line = plan.lines().find(|l| l.contains("nfw.policy")).unwrap_or_else(|| panic!("{plan}"));
    assert!(line.contains("update") && line.contains("restore in place"), "{plan}");
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("nfw.policy"), "{out}");
    rt.block_on(assert_strict(&emu, &pol, &grp));
    passes(&emu, d);

    // A policy without the default drop; then fragments passed around the engine.
    rt.block_on(put_policy(&emu, &pol, |p| p.stateful_default_actions = Some(vec!["aws:alert_established".into()])));
    fails_only(&emu, d, "firewall.default_drop", "stateful default actions [\"aws:alert_established\"]");
    rt.block_on(put_policy(&emu, &pol, |p| p.stateless_fragment_default_actions = vec!["aws:pass".into()]));
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(1));
    let failing: BTreeSet<&str> = controls.iter().filter(|c| !c.1).map(|c| c.0.as_str()).collect();
    assert_eq!(failing, BTreeSet::from(["firewall.default_drop", "firewall.no_stateless_bypass"]), "{controls:?}");
    provision_ok(&emu, d, &["up"]);
    rt.block_on(assert_strict(&emu, &pol, &grp));
    passes(&emu, d);

    // `provision firewall allow` keeps working on the strict-order group.
    provision_ok(&emu, d, &["firewall", "allow", "pypi.org"]);
    let (order, list) = rt.block_on(group(&emu, &grp));
    assert_eq!(order, RuleOrder::StrictOrder);
    assert!(list.contains(&"pypi.org".to_string()), "{list:?}");
}

/// Waits until a deleted policy (or rule group) is no longer found: it is
/// DELETING for a while, keeping its name.
async fn wait_gone(c: &aws_sdk_networkfirewall::Client, arn: &str, is_policy: bool) {
    for _ in 0..600 {
        let gone = if is_policy {
            c.describe_firewall_policy().firewall_policy_arn(arn).send().await.is_err()
        } else {
            c.describe_rule_group().rule_group_arn(arn).send().await.is_err()
        };
        if gone {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{arn} still there after 30 s");
}

/// Puts the firewall policy and rule group of the previous version in place
/// of the stack's, as that version made them (same names and tags: default
/// action order, no stateful default action, fragments passed, the group
/// without a rule order), keeping the live domain list.
async fn make_previous_version(emu: &Emulator, fw: &str, pol: &str, grp: &str, vpc_cidr: &str) {
    let c = nfw(emu).await;
    let tags = |step: &str| {
        vec![
            Tag::builder().key("provision:stack").value("sagemaker-studio-anfw").build().unwrap(),
            Tag::builder().key("provision:step").value(step).build().unwrap(),
        ]
    };
    let (_, domains) = group(emu, grp).await;
    let policy_name = pol.rsplit('/').next().unwrap().to_string();
    let group_name = grp.rsplit('/').next().unwrap().to_string();
    let plain = |refs: Vec<StatefulRuleGroupReference>| {
        FirewallPolicy::builder()
            .stateless_default_actions("aws:forward_to_sfe")
            .stateless_fragment_default_actions("aws:pass")
            .set_stateful_rule_group_references(Some(refs))
            .build()
            .unwrap()
    };
    let hold = c
        .create_firewall_policy()
        .firewall_policy_name("hold")
        .firewall_policy(plain(vec![]))
        .send()
        .await
        .unwrap()
        .firewall_policy_response
        .unwrap()
        .firewall_policy_arn;
    let associate = |policy: String| {
        let c = c.clone();
        async move {
            let token = c.describe_firewall().firewall_arn(fw).send().await.unwrap().update_token.unwrap();
            c.associate_firewall_policy()
                .firewall_arn(fw)
                .update_token(token)
                .firewall_policy_arn(policy)
                .send()
                .await
                .unwrap();
        }
    };
    associate(hold.clone()).await;
    c.delete_firewall_policy().firewall_policy_arn(pol).send().await.unwrap();
    wait_gone(&c, pol, true).await;
    c.delete_rule_group().rule_group_arn(grp).send().await.unwrap();
    wait_gone(&c, grp, false).await;
    let list = RulesSourceList::builder()
        .set_targets(Some(domains))
        .target_types(TargetType::HttpHost)
        .target_types(TargetType::TlsSni)
        .generated_rules_type(GeneratedRulesType::Allowlist)
        .build()
        .unwrap();
    let home = IpSet::builder().definition(vpc_cidr).build().unwrap();
    let body = RuleGroup::builder()
        .rule_variables(
            RuleVariables::builder()
                .set_ip_sets(Some(std::collections::HashMap::from([("HOME_NET".to_string(), home)])))
                .build(),
        )
        .rules_source(RulesSource::builder().rules_source_list(list).build())
        .build();
    let new_grp = c
        .create_rule_group()
        .rule_group_name(group_name)
        .r#type(RuleGroupType::Stateful)
        .capacity(100)
        .rule_group(body)
        .set_tags(Some(tags("nfw.rule_group")))
        .send()
        .await
        .unwrap()
        .rule_group_response
        .unwrap()
        .rule_group_arn;
    assert_eq!(new_grp, grp);
    let new_pol = c
        .create_firewall_policy()
        .firewall_policy_name(policy_name)
        .firewall_policy(plain(vec![StatefulRuleGroupReference::builder().resource_arn(grp).build().unwrap()]))
        .set_tags(Some(tags("nfw.policy")))
        .send()
        .await
        .unwrap()
        .firewall_policy_response
        .unwrap()
        .firewall_policy_arn;
    assert_eq!(new_pol, pol);
    associate(pol.to_string()).await;
    c.delete_firewall_policy().firewall_policy_arn(&hold).send().await.unwrap();
}

#[test]
fn up_brings_a_stack_of_the_previous_version_to_the_strict_policy_and_plan_says_so() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    // A domain the operator allowed: the replacement keeps the live list.
    provision_ok(&emu, d, &["firewall", "allow", "cdn.example.org"]);
    let st = state_json(d);
    let (fw, pol, grp) = (step_id(&st, "nfw.firewall"), step_id(&st, "nfw.policy"), step_id(&st, "nfw.rule_group"));
    let rt = rt();
    rt.block_on(make_previous_version(&emu, &fw, &pol, &grp, "10.2.0.0/16"));
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(1));
    let failing: BTreeSet<&str> = controls.iter().filter(|c| !c.1).map(|c| c.0.as_str()).collect();
    assert_eq!(failing, BTreeSet::from(["firewall.default_drop"]), "{controls:?}");
    assert!(controls.iter().any(|c| c.0 == "firewall.default_drop" && c.2.contains("rule order DEFAULT_ACTION_ORDER")));

    let plan = provision_ok(&emu, d, &["plan"]);
    let line = plan.lines().find(|l| l.contains("nfw.policy")).unwrap_or_else(|| panic!("{plan}"));
    assert!(line.contains("update") && line.contains("replace the policy and the rule group"), "{plan}");
    emu.clear_calls();
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("nfw.policy"), "{out}");
    let calls = emu.calls();
    for call in [
        "network-firewall:AssociateFirewallPolicy",
        "network-firewall:DeleteFirewallPolicy",
        "network-firewall:DeleteRuleGroup",
        "network-firewall:CreateRuleGroup",
        "network-firewall:CreateFirewallPolicy",
    ] {
        assert!(calls.iter().any(|c| c == call), "{call} not in {calls:?}");
    }
    // Same names, so the same ARNs: the state's records hold.
    let st = state_json(d);
    assert_eq!((step_id(&st, "nfw.policy"), step_id(&st, "nfw.rule_group")), (pol.clone(), grp.clone()));
    rt.block_on(assert_strict(&emu, &pol, &grp));
    let (_, list) = rt.block_on(group(&emu, &grp));
    assert!(list.contains(&"cdn.example.org".to_string()), "the operator's domain kept: {list:?}");
    rt.block_on(async {
        let c = nfw(&emu).await;
        let used = c.describe_firewall().firewall_arn(&fw).send().await.unwrap().firewall.unwrap().firewall_policy_arn;
        assert_eq!(used, pol);
        let names: Vec<String> = c
            .list_firewall_policies()
            .send()
            .await
            .unwrap()
            .firewall_policies()
            .iter()
            .filter_map(|p| p.name().map(str::to_string))
            .collect();
        assert!(!names.iter().any(|n| n.ends_with("-interim")), "interim policy left: {names:?}");
    });
    passes(&emu, d);
    assert!(provision_ok(&emu, d, &["plan"]).lines().any(|l| l.contains("nfw.policy") && l.contains("exists")));

    // The previous version's default allow-list (`.kaggle.com,.amazonaws.com`), recorded and live:
    // verify names the suffix of all of AWS, `plan` shows the change to today's default, `up` makes it.
    let old = [".kaggle.com", ".amazonaws.com"];
    rt.block_on(set_targets(&emu, &grp, &old));
    let path = d.join("state/sagemaker-studio-anfw.json");
    let mut doc = state_json(d);
    doc["params"]["allowed_domains"] = serde_json::json!(old);
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(1), "{controls:?}");
    let ev = &controls.iter().find(|c| c.0 == "firewall.allow_list").unwrap().2;
    assert!(ev.contains("allows .amazonaws.com, which admits every AWS endpoint of every region"), "{ev}");
    let plan = provision_ok(&emu, d, &["plan"]);
    let line = plan.lines().find(|l| l.contains("nfw.rule_group")).unwrap_or_else(|| panic!("{plan}"));
    assert!(line.contains(".amazonaws.com") && line.contains("conda.anaconda.org"), "{plan}");
    provision_ok(&emu, d, &["up"]);
    let today = [".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org"];
    assert_eq!(rt.block_on(group(&emu, &grp)).1, today);
    assert_eq!(state_json(d)["params"]["allowed_domains"], serde_json::json!(today));
    passes(&emu, d);
}

/// Sets the live rule group's domain list (another writer, with the root keys).
async fn set_targets(emu: &Emulator, arn: &str, targets: &[&str]) {
    let c = nfw(emu).await;
    let out = c.describe_rule_group().rule_group_arn(arn).send().await.unwrap();
    let mut g = out.rule_group.unwrap();
    let list = g.rules_source.as_mut().unwrap().rules_source_list.as_mut().unwrap();
    list.targets = targets.iter().map(|t| t.to_string()).collect();
    c.update_rule_group().rule_group_arn(arn).update_token(out.update_token).rule_group(g).send().await.unwrap();
}

async fn ec2(emu: &Emulator) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&emu.sdk().await)
}

async fn endpoint_policy(emu: &Emulator, vpce: &str) -> Value {
    let e = ec2(emu).await.describe_vpc_endpoints().vpc_endpoint_ids(vpce).send().await.unwrap();
    serde_json::from_str(e.vpc_endpoints()[0].policy_document().unwrap()).unwrap()
}

async fn set_endpoint_policy(emu: &Emulator, vpce: &str, doc: &Value) {
    ec2(emu).await.modify_vpc_endpoint().vpc_endpoint_id(vpce).policy_document(doc.to_string()).send().await.unwrap();
}

const ACCOUNT: &str = "123456789012";

#[test]
fn endpoint_policies_admit_the_account_only_and_up_brings_the_previous_ones_to_it() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let st = state_json(d);
    let (s3, sts, ssm) = (step_id(&st, "vpce.s3"), step_id(&st, "vpce.sts"), step_id(&st, "vpce.ssm"));
    let rt = rt();
    let scoped = serde_json::json!({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}});
    // Every interface endpoint whose service takes a policy: any call, by the account's principals.
    for step in [
        "vpce.sagemaker.api",
        "vpce.sagemaker.runtime",
        "vpce.notebook",
        "vpce.sts",
        "vpce.monitoring",
        "vpce.logs",
        "vpce.ecr.dkr",
        "vpce.ecr.api",
    ] {
        let doc = rt.block_on(endpoint_policy(&emu, &step_id(&st, step)));
        let s = &doc["Statement"][0];
        assert_eq!((&s["Effect"], &s["Action"], &s["Resource"]), (&"Allow".into(), &"*".into(), &"*".into()), "{step}");
        assert_eq!(s["Condition"], scoped, "{step}: {doc}");
    }
    // The S3 gateway endpoint: the two buckets for the account, ECR's layer bucket read-only.
    let doc = rt.block_on(endpoint_policy(&emu, &s3));
    assert_eq!(doc["Statement"][0]["Condition"], scoped, "{doc}");
    let layers = &doc["Statement"][1];
    assert_eq!(layers["Action"], serde_json::json!(["s3:GetObject"]), "{doc}");
    assert_eq!(layers["Resource"], serde_json::json!(["arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"]));
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(0), "{controls:?}");
    let ev = &controls.iter().find(|c| c.0 == "vpce.account_scoped").unwrap().2;
    assert!(
        ev.contains(&format!(
            "9 endpoint policies (S3 and 8 interface): every Allow for principals of account {ACCOUNT} only"
        )),
        "{ev}"
    );
    assert!(controls.iter().any(|c| c.0 == "vpce.s3.policy" && c.2.contains("and reads ECR's layers")), "{controls:?}");

    // The previous version's interface policy (any account) put back out of band: verify names the control.
    let any_account = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]});
    rt.block_on(set_endpoint_policy(&emu, &sts, &any_account));
    fails_only(
        &emu,
        d,
        "vpce.account_scoped",
        &format!("vpce.sts ({sts}): statement 1 Allow * * on * without aws:PrincipalAccount = {ACCOUNT}"),
    );
    let plan = provision_ok(&emu, d, &["plan"]);
    let line = plan.lines().find(|l| l.contains("vpce.sts")).unwrap_or_else(|| panic!("{plan}"));
    assert!(line.contains("update") && line.contains("by the account's principals only"), "{plan}");
    provision_ok(&emu, d, &["up"]);
    assert_eq!(rt.block_on(endpoint_policy(&emu, &sts))["Statement"][0]["Condition"], scoped);
    passes(&emu, d);

    // The previous version's S3 endpoint policy: the buckets for anyone, no ECR layers.
    let mut old = rt.block_on(endpoint_policy(&emu, &s3));
    let mut first = old["Statement"][0].clone();
    first.as_object_mut().unwrap().remove("Condition");
    old["Statement"] = serde_json::json!([first]);
    rt.block_on(set_endpoint_policy(&emu, &s3, &old));
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(1));
    let failing: BTreeSet<&str> = controls.iter().filter(|c| !c.1).map(|c| c.0.as_str()).collect();
    // (The old bucket statement is not the stack's: an extra too.)
    assert_eq!(
        failing,
        BTreeSet::from(["vpce.account_scoped", "vpce.s3.policy", "vpce.s3.policy_no_extra"]),
        "{controls:?}"
    );
    assert!(controls.iter().any(|c| c.0 == "vpce.s3.policy" && c.2.contains("lacks the read of ECR's layer bucket")));
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);
    // ssm takes no endpoint policy from the stack (see the README): AWS's default stays.
    let e =
        rt.block_on(async { ec2(&emu).await.describe_vpc_endpoints().vpc_endpoint_ids(&ssm).send().await.unwrap() });
    let doc: Value = serde_json::from_str(e.vpc_endpoints()[0].policy_document().unwrap_or("{}")).unwrap();
    assert!(doc.get("Statement").is_none_or(|s| s[0].get("Condition").is_none()), "{doc}");
}

#[test]
fn buckets_keys_and_the_default_group_are_locked_and_verify_names_each_weakening() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let st = state_json(d);
    let (data, models, vpc) = (step_id(&st, "bucket.data"), step_id(&st, "bucket.models"), step_id(&st, "vpc"));
    let rt = rt();
    let s3 = rt.block_on(emu.s3());
    let kms = rt.block_on(async { aws_sdk_kms::Client::new(&emu.sdk().await) });
    let ec2c = rt.block_on(ec2(&emu));
    // What exists: versioning on both buckets, the TLS deny, rotation on every key, an empty default group.
    rt.block_on(async {
        for b in [&data, &models] {
            let v = s3.get_bucket_versioning().bucket(b).send().await.unwrap();
            assert_eq!(v.status(), Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled), "{b}");
            let p: Value =
                serde_json::from_str(s3.get_bucket_policy().bucket(b).send().await.unwrap().policy().unwrap()).unwrap();
            let tls = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "DenyInsecureTransport").cloned();
            let tls = tls.unwrap_or_else(|| panic!("{b}: {p}"));
            assert_eq!((&tls["Effect"], &tls["Action"]), (&"Deny".into(), &"s3:*".into()));
            assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");
        }
        for k in ["kms.s3", "kms.ebs", "kms.logs"] {
            let r = kms.get_key_rotation_status().key_id(step_id(&st, k)).send().await.unwrap();
            assert!(r.key_rotation_enabled(), "{k}");
        }
    });
    let default_group = rt.block_on(async {
        let out = ec2c
            .describe_security_groups()
            .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc).build())
            .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build())
            .send()
            .await
            .unwrap();
        let g = out.security_groups()[0].clone();
        assert!(g.ip_permissions().is_empty() && g.ip_permissions_egress().is_empty(), "{g:?}");
        g.group_id().unwrap().to_string()
    });
    passes(&emu, d);

    // The paths out of the SageMaker subnet, for an auditor: destination, through what, allowed by what.
    let text = provision_ok(&emu, d, &["verify"]);
    let (nat, rtb, vpce_s3) = (step_id(&st, "nat"), step_id(&st, "rtb.sagemaker"), step_id(&st, "vpce.s3"));
    let (igw, group) = (step_id(&st, "igw"), step_id(&st, "nfw.rule_group"));
    let subnet = step_id(&st, "subnet.sagemaker");
    assert!(text.contains("Paths out of the SageMaker subnets"), "{text}");
    assert!(text.contains(&format!("{subnet} (us-east-1a) via {rtb}:")), "{text}");
    let internet = text.lines().find(|l| l.contains("0.0.0.0/0 -> NAT gateway")).unwrap_or_else(|| panic!("{text}"));
    for part in [nat.as_str(), igw.as_str(), group.as_str(), ".kaggle.com", "everything else dropped"] {
        assert!(internet.contains(part), "{part}: {internet}");
    }
    let s3_line = text
        .lines()
        .find(|l| l.contains(&format!("-> gateway endpoint {vpce_s3}")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(s3_line.contains("ECR's layer bucket read-only"), "{s3_line}");
    assert!(text.contains("10.2.0.0/16 -> the VPC itself"), "{text}");
    assert!(text.contains("DNS -> the VPC resolver (10.2.0.2"), "{text}");

    // A bucket policy without the TLS deny.
    let original =
        rt.block_on(async { s3.get_bucket_policy().bucket(&data).send().await.unwrap().policy().unwrap().to_string() });
    let mut weaker: Value = serde_json::from_str(&original).unwrap();
    weaker["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "DenyInsecureTransport");
    rt.block_on(async { s3.put_bucket_policy().bucket(&data).policy(weaker.to_string()).send().await.unwrap() });
    fails_only(
        &emu,
        d,
        "buckets.tls_only",
        &format!("{data}: no statement denying s3:* when aws:SecureTransport is false"),
    );
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);

    // Versioning suspended.
    rt.block_on(async {
        s3.put_bucket_versioning()
            .bucket(&models)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .unwrap()
    });
    fails_only(&emu, d, "buckets.versioning", &format!("{models}: versioning Suspended, not Enabled"));
    let plan = provision_ok(&emu, d, &["plan"]);
    assert!(plan.lines().any(|l| l.contains("bucket.models") && l.contains("versioning Suspended")), "{plan}");
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);

    // The S3 key's rotation turned off.
    let key = step_id(&st, "kms.s3");
    rt.block_on(async { kms.disable_key_rotation().key_id(&key).send().await.unwrap() });
    fails_only(&emu, d, "kms.s3_rotation", &format!("{key}: rotation disabled"));
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);

    // The default security group given a rule.
    rt.block_on(async {
        ec2c.authorize_security_group_ingress()
            .group_id(&default_group)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send()
            .await
            .unwrap()
    });
    fails_only(&emu, d, "vpc.default_sg_empty", &format!("{default_group} (default of {vpc}): ingress tcp 22"));
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);

    // Server access logging: both buckets log to the stack's log bucket, each under its own
    // prefix; the log bucket is the stack's, SSE-S3, and lets only S3's logging service write.
    let logs = step_id(&st, "bucket.logs");
    assert_eq!(logs, data.replace("-data", "-logs"));
    rt.block_on(async {
        for (b, prefix) in [(&data, "data/"), (&models, "models/")] {
            let l = s3.get_bucket_logging().bucket(b).send().await.unwrap();
            let l = l.logging_enabled().unwrap_or_else(|| panic!("{b}: no access logging"));
            assert_eq!((l.target_bucket(), l.target_prefix()), (logs.as_str(), prefix), "{b}");
        }
        let enc = s3.get_bucket_encryption().bucket(&logs).send().await.unwrap();
        let rule = enc.server_side_encryption_configuration().unwrap().rules()[0].clone();
        let alg = rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().clone();
        assert_eq!(alg, aws_sdk_s3::types::ServerSideEncryption::Aes256);
        let tags = s3.get_bucket_tagging().bucket(&logs).send().await.unwrap();
        assert!(tags.tag_set().iter().any(|t| t.key() == "provision:stack" && t.value() == "sagemaker-studio-anfw"));
        let p: Value =
            serde_json::from_str(s3.get_bucket_policy().bucket(&logs).send().await.unwrap().policy().unwrap()).unwrap();
        let delivery = p["Statement"].as_array().unwrap().iter().find(|s| s["Effect"] == "Allow").cloned().unwrap();
        assert_eq!(delivery["Principal"]["Service"], "logging.s3.amazonaws.com", "{p}");
        assert_eq!(delivery["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT, "{p}");
        let pab = s3.get_public_access_block().bucket(&logs).send().await.unwrap();
        assert_eq!(pab.public_access_block_configuration().unwrap().restrict_public_buckets(), Some(true));
    });
    // Logging turned off on the data bucket.
    rt.block_on(async {
        let off = aws_sdk_s3::types::BucketLoggingStatus::builder().build();
        s3.put_bucket_logging().bucket(&data).bucket_logging_status(off).send().await.unwrap()
    });
    fails_only(&emu, d, "buckets.access_logging", &format!("{data}: server access logging off"));
    let plan = provision_ok(&emu, d, &["plan"]);
    assert!(plan.lines().any(|l| l.contains("bucket.data") && l.contains("server access logging off")), "{plan}");
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);
    // The log bucket's default encryption changed to the stack's KMS key (log delivery would fail).
    rt.block_on(async {
        use aws_sdk_s3::types::{
            ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        let kms_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(step_id(&st, "kms.s3"))
            .build()
            .unwrap();
        let conf = ServerSideEncryptionConfiguration::builder()
            .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(kms_default).build())
            .build()
            .unwrap();
        s3.put_bucket_encryption().bucket(&logs).server_side_encryption_configuration(conf).send().await.unwrap()
    });
    fails_only(
        &emu,
        d,
        "buckets.access_logging",
        &format!("log bucket {logs}: default encryption aws:kms, not SSE-S3"),
    );
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);

    // The home EFS's automatic backups: on after `up`; turned off, verify names efs.backup and `up` turns them on.
    let (domain, efs_id) = (step_id(&st, "sm.domain"), step_id(&st, "efs.file_system"));
    let efs = rt.block_on(async { aws_sdk_efs::Client::new(&emu.sdk().await) });
    let backups = |efs: &aws_sdk_efs::Client| {
        rt.block_on(async {
            let out = efs.describe_backup_policy().file_system_id(&efs_id).send().await.unwrap();
            out.backup_policy().unwrap().status().clone()
        })
    };
    assert_eq!(backups(&efs), aws_sdk_efs::types::Status::Enabled);
    rt.block_on(async {
        let off = aws_sdk_efs::types::BackupPolicy::builder().status(aws_sdk_efs::types::Status::Disabled).build();
        efs.put_backup_policy().file_system_id(&efs_id).backup_policy(off.unwrap()).send().await.unwrap()
    });
    fails_only(
        &emu,
        d,
        "efs.backup",
        &format!("{efs_id} (home EFS of {domain}): automatic backups DISABLED, not ENABLED"),
    );
    let plan = provision_ok(&emu, d, &["plan"]);
    assert!(plan.lines().any(|l| l.contains("sm.domain") && l.contains("automatic backups DISABLED")), "{plan}");
    provision_ok(&emu, d, &["up"]);
    assert_eq!(backups(&efs), aws_sdk_efs::types::Status::Enabled);
    passes(&emu, d);

    // The SageMaker subnets' network ACL: the subnet on it, exactly the stack's flows (all among the
    // SageMaker subnets, tcp 443/80 out, their return on the ephemeral ports), the `*` rule for the rest.
    let (nacl, subnet) = (step_id(&st, "nacl.sagemaker"), step_id(&st, "subnet.sagemaker"));
    let acl = |ec2c: &aws_sdk_ec2::Client| {
        rt.block_on(async {
            let out = ec2c.describe_network_acls().network_acl_ids(&nacl).send().await.unwrap();
            out.network_acls()[0].clone()
        })
    };
    let a = acl(&ec2c);
    let on: Vec<&str> = a.associations().iter().filter_map(|x| x.subnet_id()).collect();
    assert_eq!(on, [subnet.as_str()]);
    let rows = rows_of(&a);
    let row = |egress: bool, n: i32, proto: &str, cidr: &str, ports: Option<(i32, i32)>, action: &str| -> Row {
        (egress, n, proto.to_string(), cidr.to_string(), ports, action.to_string())
    };
    assert_eq!(
        rows,
        [
            row(false, 100, "-1", "10.2.3.0/24", None, "allow"),
            row(false, 200, "6", "0.0.0.0/0", Some((1024, 65535)), "allow"),
            row(false, 32767, "-1", "0.0.0.0/0", None, "deny"),
            row(true, 100, "-1", "10.2.3.0/24", None, "allow"),
            row(true, 200, "6", "0.0.0.0/0", Some((443, 443)), "allow"),
            row(true, 210, "6", "0.0.0.0/0", Some((80, 80)), "allow"),
            row(true, 32767, "-1", "0.0.0.0/0", None, "deny"),
        ]
    );
    // An extra entry letting everything in.
    rt.block_on(async {
        ec2c.create_network_acl_entry()
            .network_acl_id(&nacl)
            .rule_number(50)
            .protocol("-1")
            .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
            .egress(false)
            .cidr_block("0.0.0.0/0")
            .send()
            .await
            .unwrap()
    });
    fails_only(&emu, d, "vpc.nacl_restricted", &format!("{nacl}: extra ingress 50 all from 0.0.0.0/0"));
    let plan = provision_ok(&emu, d, &["plan"]);
    assert!(plan.lines().any(|l| l.contains("nacl.sagemaker") && l.contains("extra ingress 50")), "{plan}");
    provision_ok(&emu, d, &["up"]);
    passes(&emu, d);
    // The subnet given back to the VPC's default ACL, which allows all traffic.
    rt.block_on(to_the_default_acl(&ec2c, &vpc, &subnet));
    fails_only(&emu, d, "vpc.nacl_restricted", &format!("{nacl}: subnet {subnet} not associated with it"));
    provision_ok(&emu, d, &["up"]);
    assert_eq!(acl(&ec2c).associations().iter().filter_map(|x| x.subnet_id()).collect::<Vec<_>>(), [subnet.as_str()]);
    passes(&emu, d);

    // The NAT and firewall subnets' network ACLs: each on its tier's subnet, exactly the path out
    // (SageMaker 10.2.3.0/24 → NAT 10.2.2.0/24 → firewall 10.2.1.0/24 → internet gateway) and its return.
    let tier_acl = |step: &str| {
        let id = step_id(&st, step);
        rt.block_on(async {
            let out = ec2c.describe_network_acls().network_acl_ids(&id).send().await.unwrap();
            out.network_acls()[0].clone()
        })
    };
    for (step, subnet_step, control, inner) in [
        ("nacl.nat", "subnet.nat", "vpc.nacl_nat", "10.2.3.0/24"),
        ("nacl.firewall", "subnet.firewall", "vpc.nacl_firewall", "10.2.2.0/24"),
    ] {
        let (id, subnet) = (step_id(&st, step), step_id(&st, subnet_step));
        let a = tier_acl(step);
        let on: Vec<&str> = a.associations().iter().filter_map(|x| x.subnet_id()).collect();
        assert_eq!(on, [subnet.as_str()], "{step}");
        assert_eq!(
            rows_of(&a),
            [
                row(false, 100, "6", inner, Some((443, 443)), "allow"),
                row(false, 110, "6", inner, Some((80, 80)), "allow"),
                row(false, 200, "6", "0.0.0.0/0", Some((1024, 65535)), "allow"),
                row(false, 32767, "-1", "0.0.0.0/0", None, "deny"),
                row(true, 100, "6", inner, Some((1024, 65535)), "allow"),
                row(true, 200, "6", "0.0.0.0/0", Some((443, 443)), "allow"),
                row(true, 210, "6", "0.0.0.0/0", Some((80, 80)), "allow"),
                row(true, 32767, "-1", "0.0.0.0/0", None, "deny"),
            ],
            "{step}"
        );
        // An extra entry letting everything in: verify names the tier's control, up deletes it.
        rt.block_on(async {
            ec2c.create_network_acl_entry()
                .network_acl_id(&id)
                .rule_number(50)
                .protocol("-1")
                .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
                .egress(false)
                .cidr_block("0.0.0.0/0")
                .send()
                .await
                .unwrap()
        });
        fails_only(&emu, d, control, &format!("{id}: extra ingress 50 all from 0.0.0.0/0 (weakens {control})"));
        let plan = provision_ok(&emu, d, &["plan"]);
        assert!(plan.lines().any(|l| l.contains(step) && l.contains("extra ingress 50")), "{plan}");
        provision_ok(&emu, d, &["up"]);
        assert!(!rows_of(&tier_acl(step)).iter().any(|r| r.1 == 50), "{step}: the extra entry deleted");
        passes(&emu, d);
    }
    // The NAT subnet given back to the VPC's default ACL; the firewall tier's return entry narrowed.
    let (nat_acl, nat_subnet) = (step_id(&st, "nacl.nat"), step_id(&st, "subnet.nat"));
    let fw_acl = step_id(&st, "nacl.firewall");
    rt.block_on(async {
        to_the_default_acl(&ec2c, &vpc, &nat_subnet).await;
        ec2c.replace_network_acl_entry()
            .network_acl_id(&fw_acl)
            .rule_number(100)
            .protocol("6")
            .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
            .egress(true)
            .cidr_block("0.0.0.0/0")
            .port_range(aws_sdk_ec2::types::PortRange::builder().from(1024).to(65535).build())
            .send()
            .await
            .unwrap()
    });
    let (code, controls) = verify(&emu, d);
    assert_eq!(code, Some(1), "{controls:?}");
    let failing: BTreeSet<&str> = controls.iter().filter(|c| !c.1).map(|c| c.0.as_str()).collect();
    assert_eq!(failing, BTreeSet::from(["vpc.nacl_nat", "vpc.nacl_firewall"]), "{controls:?}");
    let evidence = |c: &str| controls.iter().find(|x| x.0 == c).unwrap().2.clone();
    let nat = evidence("vpc.nacl_nat");
    assert!(nat.contains(&format!("{nat_acl}: subnet {nat_subnet} not associated with it")), "{nat}");
    let fw = evidence("vpc.nacl_firewall");
    assert!(fw.contains("lacks egress 100 tcp 1024-65535 to 10.2.2.0/24"), "{fw}");
    assert!(fw.contains("extra egress 100 tcp 1024-65535 to 0.0.0.0/0"), "{fw}");
    provision_ok(&emu, d, &["up"]);
    let on: Vec<String> =
        tier_acl("nacl.nat").associations().iter().filter_map(|x| x.subnet_id().map(str::to_string)).collect();
    assert_eq!(on, [nat_subnet]);
    passes(&emu, d);
}

/// Moves `subnet` back to its VPC's default network ACL (which allows all traffic), out of band.
async fn to_the_default_acl(ec2c: &aws_sdk_ec2::Client, vpc: &str, subnet: &str) {
    let by_subnet = aws_sdk_ec2::types::Filter::builder().name("association.subnet-id").values(subnet).build();
    let out = ec2c.describe_network_acls().filters(by_subnet).send().await.unwrap();
    let assoc = out.network_acls()[0]
        .associations()
        .iter()
        .find(|x| x.subnet_id() == Some(subnet))
        .and_then(|x| x.network_acl_association_id())
        .unwrap()
        .to_string();
    let default = aws_sdk_ec2::types::Filter::builder().name("default").values("true").build();
    let in_vpc = aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(vpc).build();
    let out = ec2c.describe_network_acls().filters(default).filters(in_vpc).send().await.unwrap();
    let default_acl = out.network_acls()[0].network_acl_id().unwrap().to_string();
    ec2c.replace_network_acl_association().association_id(assoc).network_acl_id(default_acl).send().await.unwrap();
}

/// A network ACL entry: (egress, rule number, protocol, CIDR, ports, action).
type Row = (bool, i32, String, String, Option<(i32, i32)>, String);

/// A network ACL's entries as rows, sorted.
fn rows_of(a: &aws_sdk_ec2::types::NetworkAcl) -> Vec<Row> {
    let mut rows: Vec<Row> = a
        .entries()
        .iter()
        .map(|e| {
            let ports = e.port_range().map(|p| (p.from().unwrap(), p.to().unwrap()));
            let action = e.rule_action().unwrap().as_str().to_string();
            let (proto, cidr) = (e.protocol().unwrap().to_string(), e.cidr_block().unwrap().to_string());
            (e.egress().unwrap(), e.rule_number().unwrap(), proto, cidr, ports, action)
        })
        .collect();
    rows.sort();
    rows
}
