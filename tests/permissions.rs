//! The operator policy is proven by use: the tool runs as an IAM user holding exactly
//! `provision iam-policy`'s documents in the emulator, which enforces IAM (emulator/README.md,
//! authz.py); one action or one statement less and `up` is refused with the AccessDenied AWS
//! would give, naming the action and the resource.

mod common;

use serde_json::{Value, json};

use common::*;

/// `iam-policy`'s documents for the default stack in the emulator's account (as root).
fn operator_policy(emu: &Emulator, dir: &std::path::Path) -> Vec<Value> {
    let out = Run::new(emu, dir).with_root_keys().arg("iam-policy").output();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The documents with `edit` applied to each statement (None drops it).
fn without(docs: &[Value], edit: impl Fn(&Value) -> Option<Value>) -> Value {
    let docs: Vec<Value> = docs
        .iter()
        .map(|d| {
            let sts: Vec<Value> = d["Statement"].as_array().unwrap().iter().filter_map(&edit).collect();
            json!({"Version": d["Version"], "Statement": sts})
        })
        .filter(|d| !d["Statement"].as_array().unwrap().is_empty())
        .collect();
    json!(docs)
}

#[test]
fn up_and_down_run_as_the_operator_policy_and_nothing_is_refused() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    emu.clear_calls();
    provision_ok(&emu, dir.path(), &["up"]);
    provision_ok(&emu, dir.path(), &["down", "--purge-efs", "--delete-data", "--yes"]);
    let log = emu.call_log();
    // Every call of the tool was signed by the operator's key (an IAM user's: AKIA...), not the
    // root's, so every one was authorised by the policy.
    let keys: std::collections::BTreeSet<&str> = log.iter().filter_map(|c| c["key"].as_str()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("AKIA")), "{keys:?}");
    for call in ["kms:CreateKey", "sagemaker:CreateDomain", "sagemaker:ListUserProfiles", "ec2:CreateVpcEndpoint"] {
        assert!(log.iter().any(|c| c["operation"] == call && c["status"] == 200), "{call} not made as the operator");
    }
    assert!(emu.denials().is_empty(), "{:#?}", emu.denials());
}

#[test]
fn one_action_less_and_up_is_refused_with_the_exact_access_denied() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let docs = operator_policy(&emu, dir.path());
    // kms:PutKeyPolicy: CreateKey with the stack's key policy needs it (a SAR dependent action).
    let less = without(&docs, |s| {
        let mut s = s.clone();
        let actions: Vec<Value> =
            s["Action"].as_array().unwrap().iter().filter(|a| *a != "kms:PutKeyPolicy").cloned().collect();
        s["Action"] = json!(actions);
        Some(s)
    });
    assert_ne!(json!(docs), less, "the policy had kms:PutKeyPolicy");
    let out = Run::new(&emu, dir.path()).with_policy(less).arg("up").output();
    let t = text(&out);
    assert!(!out.status.success(), "up succeeded without kms:PutKeyPolicy:\n{t}");
    let want = "is not authorized to perform: kms:PutKeyPolicy on resource: * because no identity-based policy \
                allows the kms:PutKeyPolicy action";
    assert!(t.contains(want), "{t}");
    let denials = emu.denials(); // the test's user is the only one in this emulator
    assert!(!denials.is_empty());
    for d in &denials {
        assert_eq!(
            (d["operation"].as_str(), d["action"].as_str(), d["resource"].as_str()),
            (Some("kms:CreateKey"), Some("kms:PutKeyPolicy"), Some("*")),
            "{d}"
        );
    }
    // No key was made.
    let keys = rt()
        .block_on(async { aws_sdk_kms::Client::new(&emu.sdk().await).list_keys().send().await.unwrap().keys().len() });
    assert_eq!(keys, 0);
}

#[test]
fn one_statement_less_and_up_is_refused_naming_what_it_granted() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let docs = operator_policy(&emu, dir.path());
    // The home EFS statement: SageMaker's CreateDomain with the stack's KMS key makes the EFS on
    // the caller's behalf (elasticfilesystem:CreateFileSystem, a documented extra of CreateDomain).
    let efs = docs
        .iter()
        .flat_map(|d| d["Statement"].as_array().unwrap().clone())
        .find(|s| s["Sid"] == "HomeEfs")
        .expect("a HomeEfs statement");
    let less = without(&docs, |s| (s["Sid"] != "HomeEfs").then(|| s.clone()));
    let out = Run::new(&emu, dir.path()).with_policy(less).arg("up").output();
    let t = text(&out);
    assert!(!out.status.success(), "up succeeded without the {efs} statement:\n{t}");
    let arn = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/*";
    assert_eq!(efs["Resource"], json!([arn]));
    let want = format!(
        "is not authorized to perform: elasticfilesystem:CreateFileSystem on resource: {arn} because no \
         identity-based policy allows the elasticfilesystem:CreateFileSystem action"
    );
    assert!(t.contains(&want), "{t}");
    let denials = emu.denials(); // the test's user is the only one in this emulator
    assert!(!denials.is_empty());
    for d in &denials {
        assert_eq!(
            (d["operation"].as_str(), d["action"].as_str(), d["resource"].as_str()),
            (Some("sagemaker:CreateDomain"), Some("elasticfilesystem:CreateFileSystem"), Some(arn)),
            "{d}"
        );
    }
    // Everything before the domain was made; the domain was not.
    let domains = rt().block_on(async {
        aws_sdk_sagemaker::Client::new(&emu.sdk().await).list_domains().send().await.unwrap().domains().len()
    });
    assert_eq!(domains, 0);
}
