//! The security controls against the emulator: `verify` passes on a fresh
//! stack and names the control each out-of-band change breaks, including
//! anything wider than the stack (an extra rule, route or policy
//! statement), and passes again once it is removed; `jumpstart`
//! and `firewall` end to end (state, `up`, a stale UpdateToken, bad input);
//! `iam-policy` grants exactly the operations of a full run's call log, and
//! every policy document the stack holds is valid IAM policy grammar.

mod common;

// The one list of operations the tool calls.
use provision::operations;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

/// `verify --json`: exit code and (control, pass, evidence) per control.
fn verify(emu: &Emulator, dir: &Path, extra: &[&str]) -> (Option<i32>, Vec<(String, bool, String)>) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let o = provision(emu, dir, &args);
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

fn failing(controls: &[(String, bool, String)]) -> BTreeSet<String> {
    controls.iter().filter(|c| !c.1).map(|c| c.0.clone()).collect()
}

fn evidence<'a>(controls: &'a [(String, bool, String)], name: &str) -> &'a str {
    &controls.iter().find(|c| c.0 == name).unwrap().2
}

async fn nfw(emu: &Emulator) -> aws_sdk_networkfirewall::Client {
    aws_sdk_networkfirewall::Client::new(&emu.sdk().await)
}

async fn ec2(emu: &Emulator) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&emu.sdk().await)
}

/// The rule group's live allow-list.
async fn allow_list(emu: &Emulator, arn: &str) -> Vec<String> {
    let g = nfw(emu).await.describe_rule_group().rule_group_arn(arn).send().await.unwrap();
    g.rule_group().unwrap().rules_source().unwrap().rules_source_list().unwrap().targets().to_vec()
}

/// Adds a domain to the allow-list behind the tool's back.
async fn allow_out_of_band(emu: &Emulator, arn: &str, domain: &str) {
    let client = nfw(emu).await;
    let g = client.describe_rule_group().rule_group_arn(arn).send().await.unwrap();
    let mut group = g.rule_group.unwrap();
    let list = group.rules_source.as_mut().unwrap().rules_source_list.as_mut().unwrap();
    list.targets.push(domain.to_string());
    client.update_rule_group().rule_group_arn(arn).update_token(g.update_token).rule_group(group).send().await.unwrap();
}

async fn endpoint_policy(emu: &Emulator, vpce: &str) -> Value {
    let e = ec2(emu).await.describe_vpc_endpoints().vpc_endpoint_ids(vpce).send().await.unwrap();
    parse(e.vpc_endpoints()[0].policy_document().unwrap())
}

fn jumpstart_statement() -> Value {
    json!({
        "Sid": "JumpStartContent",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::*"],
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/SageMaker": "true"}}
    })
}

#[test]
fn verify_passes_on_a_fresh_stack_and_names_each_out_of_band_change() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    provision_ok(&emu, dir.path(), &["up"]);
    let out = provision_ok(&emu, dir.path(), &["verify"]);
    assert_eq!(out.matches("PASS  ").count(), CONTROLS, "{out}");
    assert!(out.contains(&format!("All {CONTROLS} controls pass")), "{out}");
    let (code, controls) = verify(&emu, dir.path(), &[]);
    assert_eq!(code, Some(0), "{controls:?}");
    assert_eq!(controls.len(), CONTROLS);
    assert!(failing(&controls).is_empty(), "{controls:?}");

    let st = state_json(dir.path());
    let id = |s: &str| step_id(&st, s);
    let (data, models, vpce) = (id("bucket.data"), id("bucket.models"), id("vpce.s3"));
    let (rtb, igw, group) = (id("rtb.sagemaker"), id("igw"), id("nfw.rule_group"));
    let rt = rt();
    // Each change breaks its controls and no other (what it removes, and
    // what it adds beyond the stack); they accumulate.
    let mut broken = BTreeSet::new();
    let mut expect_all = |expected: &[(&str, &str)]| {
        broken.extend(expected.iter().map(|(c, _)| c.to_string()));
        let (code, controls) = verify(&emu, dir.path(), &[]);
        assert_eq!(code, Some(1), "{controls:?}");
        assert_eq!(failing(&controls), broken, "{controls:?}");
        for (control, shows) in expected {
            let ev = evidence(&controls, control);
            assert!(ev.contains(shows), "{control}: {ev}");
        }
    };

    rt.block_on(async { emu.s3().await.delete_bucket_policy().bucket(&data).send().await.unwrap() });
    expect_all(&[
        ("buckets.policy_vpce_only", &format!("{data}: no bucket policy")),
        ("buckets.tls_only", &format!("{data}: no bucket policy, so no TLS deny")),
    ]);

    rt.block_on(async {
        ec2(&emu)
            .await
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&vpce)
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
                    .to_string(),
            )
            .send()
            .await
            .unwrap()
    });
    expect_all(&[
        ("vpce.s3.policy", "allows * (outside the stack's buckets)"),
        ("vpce.s3.policy_no_extra", &format!("{vpce}: extra statement Allow * * on * (weakens vpce.s3.policy)")),
        (
            "vpce.account_scoped",
            &format!("vpce.s3 ({vpce}): statement 1 Allow * * on * without aws:PrincipalAccount = {ACCOUNT}"),
        ),
    ]);

    rt.block_on(async {
        ec2(&emu)
            .await
            .replace_route()
            .route_table_id(&rtb)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .unwrap()
    });
    expect_all(&[
        ("route.sagemaker_default", &format!("0.0.0.0/0 -> {igw}")),
        (
            "routes.no_extra",
            &format!("rtb.sagemaker ({rtb}): extra route 0.0.0.0/0 -> {igw} (weakens route.sagemaker_default)"),
        ),
    ]);

    rt.block_on(allow_out_of_band(&emu, &group, "exfil.example.com"));
    expect_all(&[("firewall.allow_list", "allows exfil.example.com (not configured)")]);

    rt.block_on(async {
        emu.s3()
            .await
            .put_public_access_block()
            .bucket(&models)
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(false)
                    .ignore_public_acls(false)
                    .block_public_policy(false)
                    .restrict_public_buckets(false)
                    .build(),
            )
            .send()
            .await
            .unwrap()
    });
    expect_all(&[(
        "buckets.public_access_block",
        &format!("{models}: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off"),
    )]);

    // Logging (issue 14): the flow log deleted, the firewall's ALERT logging removed, a log
    // group's retention changed, each out of band.
    let (flow_log, firewall) = (id("ec2.flow_log"), id("nfw.firewall"));
    let flow_group = format!("/provision/{}/firewall/flow", "sagemaker-studio-anfw");
    let vpc_group = id("logs.vpc_flow");
    rt.block_on(async { ec2(&emu).await.delete_flow_logs().flow_log_ids(&flow_log).send().await.unwrap() });
    expect_all(&[("logs.vpc_flow_log", &format!("no flow log (expected ALL traffic to {vpc_group})"))]);
    rt.block_on(firewall_flow_logging_only(&emu, &firewall, &flow_group));
    expect_all(&[("logs.firewall_alert", "no ALERT logging")]);
    rt.block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&emu.sdk().await);
        logs.put_retention_policy().log_group_name(&flow_group).retention_in_days(7).send().await.unwrap()
    });
    expect_all(&[("logs.retention", &format!("{flow_group}: retention 7 days, not 365 days"))]);

    // The text form names every failing control and exits 1.
    let o = provision(&emu, dir.path(), &["verify"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains(&format!("12 of {CONTROLS} controls fail")), "{t}");
    for c in &broken {
        assert!(t.contains(&format!("FAIL  {c}")), "{c}: {t}");
    }
}

#[test]
fn verify_fails_on_anything_wider_than_the_stack_and_passes_once_it_is_removed() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let (code, controls) = verify(&emu, d, &[]);
    assert_eq!(code, Some(0), "{controls:?}");
    for (control, says) in [
        ("sg.vpce_rules", "egress [all traffic to 0.0.0.0/0] only"),
        ("sg.sagemaker_rules", "egress [all traffic to 0.0.0.0/0] only"),
        ("routes.no_extra", "4 route tables in 1 zone(s)"),
        ("buckets.policy_no_extra", "the stack's statement only"),
        ("vpce.s3.policy_no_extra", "the stack's statement only (JumpStart disabled)"),
        ("kms.key_policies", "the account root's kms:* only"),
    ] {
        assert!(evidence(&controls, control).contains(says), "{control}: {controls:?}");
    }
    let st = state_json(d);
    let id = |s: &str| step_id(&st, s);
    let (sg_vpce, sg_sm, rtb, rtb_nat, igw) =
        (id("sg.vpce"), id("sg.sagemaker"), id("rtb.sagemaker"), id("rtb.nat"), id("igw"));
    let (data, vpce, key) = (id("bucket.data"), id("vpce.s3"), id("kms.s3"));
    let key_id = key.rsplit('/').next().unwrap().to_string();
    let rt = rt();
    let ec2 = rt.block_on(ec2(&emu));
    let s3 = rt.block_on(emu.s3());
    let kms = rt.block_on(async { aws_sdk_kms::Client::new(&emu.sdk().await) });
    // Exactly `control` fails, its evidence naming the extra; then it is removed and all pass.
    let fails_only = |control: &str, shows: &str| {
        let (code, controls) = verify(&emu, d, &[]);
        assert_eq!(code, Some(1), "{controls:?}");
        assert_eq!(failing(&controls), BTreeSet::from([control.to_string()]), "{controls:?}");
        let ev = evidence(&controls, control);
        assert!(ev.contains(shows), "{control}: {ev}");
    };
    let passes = || {
        let (code, controls) = verify(&emu, d, &[]);
        assert_eq!(code, Some(0), "{controls:?}");
    };
    let https_from_anywhere = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    let ssh_out_v6 = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ipv6_ranges(aws_sdk_ec2::types::Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build();

    // Security groups: an ingress rule on the endpoints' group, an egress rule on Studio's.
    rt.block_on(async {
        let r = ec2.authorize_security_group_ingress().group_id(&sg_vpce).ip_permissions(https_from_anywhere.clone());
        r.send().await.unwrap()
    });
    fails_only("sg.vpce_rules", "sg.vpce: extra ingress tcp 443 from 0.0.0.0/0 (weakens sg.vpce_tls)");
    rt.block_on(async {
        let r = ec2.revoke_security_group_ingress().group_id(&sg_vpce).ip_permissions(https_from_anywhere);
        r.send().await.unwrap()
    });
    passes();
    rt.block_on(async {
        let r = ec2.authorize_security_group_egress().group_id(&sg_sm).ip_permissions(ssh_out_v6);
        r.send().await.unwrap()
    });
    fails_only("sg.sagemaker_rules", "sg.sagemaker: extra egress tcp 22 to ::/0 (weakens domain.vpc_only)");
    rt.block_on(async {
        // By rule id: moto 5.2.5 ignores IPv6 ranges in a revoke when the VPC has no IPv6 CIDR.
        let filter = aws_sdk_ec2::types::Filter::builder().name("group-id").values(&sg_sm).build();
        let rules = ec2.describe_security_group_rules().filters(filter).send().await.unwrap();
        let ids = rules
            .security_group_rules()
            .iter()
            .filter(|r| r.is_egress() == Some(true) && r.cidr_ipv6() == Some("::/0"))
            .filter_map(|r| r.security_group_rule_id().map(str::to_string));
        let r = ec2.revoke_security_group_egress().group_id(&sg_sm).set_security_group_rule_ids(Some(ids.collect()));
        r.send().await.unwrap()
    });
    passes();

    // Routes: a CIDR to the internet gateway beside the SageMaker subnet's
    // default route, and one in the NAT subnet's table.
    for (table, step, cidr, weakens) in [
        (&rtb, "rtb.sagemaker", "203.0.113.0/24", "route.sagemaker_default"),
        (&rtb_nat, "rtb.nat", "198.51.100.0/24", "route.nat_default"),
    ] {
        rt.block_on(async {
            let r = ec2.create_route().route_table_id(table).destination_cidr_block(cidr).gateway_id(&igw);
            r.send().await.unwrap()
        });
        fails_only("routes.no_extra", &format!("{step} ({table}): extra route {cidr} -> {igw} (weakens {weakens})"));
        rt.block_on(async {
            ec2.delete_route().route_table_id(table).destination_cidr_block(cidr).send().await.unwrap()
        });
        passes();
    }

    // A bucket policy statement letting another account read the data.
    let original = rt.block_on(async { s3.get_bucket_policy().bucket(&data).send().await.unwrap() });
    let original = original.policy().unwrap().to_string();
    let mut wider = parse(&original);
    wider["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "Partner",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{data}/*")
    }));
    rt.block_on(async { s3.put_bucket_policy().bucket(&data).policy(wider.to_string()).send().await.unwrap() });
    fails_only(
        "buckets.policy_no_extra",
        &format!(
            "{data}: extra statement [Partner] Allow AWS:arn:aws:iam::111122223333:root s3:GetObject on \
             arn:aws:s3:::{data}/* (weakens buckets.policy_vpce_only)"
        ),
    );
    rt.block_on(async { s3.put_bucket_policy().bucket(&data).policy(&original).send().await.unwrap() });
    passes();

    // An S3 endpoint statement within the stack's buckets (vpce.s3.policy
    // still holds) but beyond the stack's: deleting the bucket.
    let original = rt.block_on(endpoint_policy(&emu, &vpce));
    let mut wider = original.clone();
    // (By the account's principals: an account-wide Allow would also fail vpce.account_scoped.)
    wider["Statement"].as_array_mut().unwrap().push(json!({
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": format!("arn:aws:s3:::{data}"),
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    }));
    let set_endpoint_policy = |doc: &Value| {
        rt.block_on(async {
            let r = ec2.modify_vpc_endpoint().vpc_endpoint_id(&vpce).policy_document(doc.to_string());
            r.send().await.unwrap()
        })
    };
    set_endpoint_policy(&wider);
    fails_only(
        "vpce.s3.policy_no_extra",
        &format!(
            "{vpce}: extra statement Allow * s3:DeleteBucket on arn:aws:s3:::{data} when {{\"StringEquals\":{{\"aws:PrincipalAccount\":\"{ACCOUNT}\"}}}} (weakens vpce.s3.policy)"
        ),
    );
    set_endpoint_policy(&original);
    passes();

    // A key policy statement letting another account decrypt with the S3 key.
    let original = rt.block_on(async {
        let p = kms.get_key_policy().key_id(&key).policy_name("default").send().await.unwrap();
        p.policy().unwrap().to_string()
    });
    let mut wider = parse(&original);
    wider["Statement"].as_array_mut().unwrap().push(json!({
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:Decrypt",
        "Resource": "*"
    }));
    let set_key_policy = |doc: &str| {
        rt.block_on(async {
            let r = kms.put_key_policy().key_id(&key).policy_name("default").policy(doc);
            r.send().await.unwrap()
        })
    };
    set_key_policy(&wider.to_string());
    fails_only(
        "kms.key_policies",
        &format!(
            "kms.s3 ({key_id}): extra statement Allow AWS:arn:aws:iam::111122223333:root kms:Decrypt on * \
             (weakens buckets.sse_kms)"
        ),
    );
    set_key_policy(&original);
    passes();
}

#[test]
fn jumpstart_and_firewall_commands_end_to_end() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    provision_ok(&emu, d, &["up"]);
    let st = state_json(d);
    let (vpce, group) = (step_id(&st, "vpce.s3"), step_id(&st, "nfw.rule_group"));
    let rt = rt();
    let statements = |doc: &Value| doc["Statement"].as_array().unwrap().clone();

    // --- JumpStart: the statement, the state, verify, and up keeping it.
    assert!(provision_ok(&emu, d, &["jumpstart", "enable"]).contains("now also lets Studio read"));
    let again = provision_ok(&emu, d, &["jumpstart", "enable"]);
    assert!(again.contains("JumpStart is already enabled") && !again.contains(" now "), "{again}");
    let p = rt.block_on(endpoint_policy(&emu, &vpce));
    // The two buckets, JumpStart, ECR's layers (issue 30).
    assert_eq!(statements(&p).len(), 3, "{p}");
    assert!(statements(&p).contains(&jumpstart_statement()), "{p}");
    assert_eq!(state_json(d)["steps"]["vpce.s3"]["attrs"]["jumpstart"], "true");
    let js = provision_ok(&emu, d, &["jumpstart", "status"]);
    assert!(js.contains("JumpStart: enabled (recorded)") && js.contains("has the JumpStart statement"), "{js}");
    let (code, controls) = verify(&emu, d, &[]);
    assert_eq!(code, Some(0), "{controls:?}");
    assert!(evidence(&controls, "vpce.s3.policy").contains("plus JumpStart"));
    assert!(evidence(&controls, "vpce.s3.policy_no_extra").contains("and JumpStart's (enabled)"), "{controls:?}");
    assert!(provision_ok(&emu, d, &["up"]).contains("up to date"));
    assert!(statements(&rt.block_on(endpoint_policy(&emu, &vpce))).contains(&jumpstart_statement()));
    // Removed behind the tool's back: verify knows it should be there, up puts it back.
    let without_js: Vec<Value> = statements(&p).into_iter().filter(|s| *s != jumpstart_statement()).collect();
    let plain = json!({"Version": "2012-10-17", "Statement": without_js});
    rt.block_on(async {
        ec2(&emu)
            .await
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&vpce)
            .policy_document(plain.to_string())
            .send()
            .await
            .unwrap()
    });
    let (code, controls) = verify(&emu, d, &[]);
    assert_eq!(code, Some(1));
    assert!(evidence(&controls, "vpce.s3.policy").contains("lacks the JumpStart statement"), "{controls:?}");
    let o = provision(&emu, d, &["status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("lacks the JumpStart statement the state records"), "{t}");
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("vpce.s3: ") && out.contains("updating it"), "{out}");
    assert!(statements(&rt.block_on(endpoint_policy(&emu, &vpce))).contains(&jumpstart_statement()));
    assert_eq!(verify(&emu, d, &[]).0, Some(0));
    provision_ok(&emu, d, &["jumpstart", "disable"]);
    let p = rt.block_on(endpoint_policy(&emu, &vpce));
    assert_eq!(statements(&p).len(), 2, "{p}");
    assert!(!statements(&p).contains(&jumpstart_statement()), "{p}");
    assert!(state_json(d)["steps"]["vpce.s3"]["attrs"]["jumpstart"].is_null());
    assert_eq!(verify(&emu, d, &[]).0, Some(0));
    // The original sample's own JumpStart step (aws ec2 modify-vpc-endpoint):
    // status names the command that keeps it, and up says it removes it.
    let with_js = json!({"Version": "2012-10-17", "Statement": [statements(&p)[0].clone(), jumpstart_statement(), statements(&p)[1].clone()]});
    rt.block_on(async {
        ec2(&emu)
            .await
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&vpce)
            .policy_document(with_js.to_string())
            .send()
            .await
            .unwrap()
    });
    // Recorded as disabled, the statement is one beyond the stack's.
    let (code, controls) = verify(&emu, d, &[]);
    assert_eq!(code, Some(1));
    assert!(
        evidence(&controls, "vpce.s3.policy_no_extra").contains(&format!(
            "{vpce}: extra statement [JumpStartContent] Allow * s3:GetObject on arn:aws:s3:::* when \
             {{\"StringEquals\":{{\"s3:ExistingObjectTag/SageMaker\":\"true\"}}}} (weakens vpce.s3.policy)"
        )),
        "{controls:?}"
    );
    let o = provision(&emu, d, &["status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("`provision jumpstart enable` keeps it"), "{t}");
    let o = provision(&emu, d, &["jumpstart", "status"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("JumpStart: disabled (recorded)") && t.contains("has the JumpStart statement"), "{t}");
    assert!(t.contains("`provision jumpstart enable` records it"), "{t}");
    let out = provision_ok(&emu, d, &["up"]);
    assert!(out.contains("vpce.s3: ") && out.contains("`up` removes it"), "{out}");
    assert_eq!(verify(&emu, d, &[]).0, Some(0));

    // --- Firewall: list, allow, remove; the edit becomes the recorded parameter.
    // The default list names what today's Studio needs (no suffix of all of AWS).
    let listed = provision_ok(&emu, d, &["firewall", "list"]);
    assert!(listed.starts_with(".kaggle.com\npypi.org\nfiles.pythonhosted.org\nconda.anaconda.org\n"), "{listed}");
    provision_ok(&emu, d, &["firewall", "allow", "cdn.example.org", ".github.com", "cdn.example.org"]);
    let want =
        [".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org", "cdn.example.org", ".github.com"];
    assert_eq!(rt.block_on(allow_list(&emu, &group)), want);
    assert_eq!(state_json(d)["params"]["allowed_domains"], json!(want));
    assert_eq!(verify(&emu, d, &[]).0, Some(0));
    provision_ok(&emu, d, &["firewall", "remove", ".github.com"]);
    let want = [".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org", "cdn.example.org"];
    assert_eq!(rt.block_on(allow_list(&emu, &group)), want);
    // A bare up keeps the edited list; an explicit one wins and shows the difference.
    assert!(provision_ok(&emu, d, &["up"]).contains("up to date"));
    assert_eq!(state_json(d)["params"]["allowed_domains"], json!(want));
    assert_eq!(verify(&emu, d, &[]).0, Some(0));
    let (code, controls) = verify(&emu, d, &["--allowed-domains", ".kaggle.com"]);
    assert_eq!(code, Some(1));
    assert!(
        evidence(&controls, "firewall.allow_list")
            .contains("allows cdn.example.org, conda.anaconda.org, files.pythonhosted.org, pypi.org (not configured)"),
        "{controls:?}"
    );

    // --- Bad input: exit 2, the value named, no update call.
    emu.clear_calls();
    for (args, says) in [
        (vec!["allow", "bad domain.com"], "'bad domain.com' is not a domain name"),
        (vec!["allow", "pypi.org", "localhost"], "'localhost' is not a domain name"),
        (vec!["allow", "Upper.COM"], "'Upper.COM'"),
        (vec!["allow", ".amazonaws.com"], "'.amazonaws.com' admits every AWS endpoint of every region"),
        (vec!["remove", "not.there.com"], "not in the allow-list: not.there.com"),
        (
            vec![
                "remove",
                ".kaggle.com",
                "pypi.org",
                "files.pythonhosted.org",
                "conda.anaconda.org",
                "cdn.example.org",
            ],
            "would leave allowed_domains empty",
        ),
    ] {
        let mut a = vec!["firewall"];
        a.extend(args);
        let before = emu.calls().len();
        let o = provision(&emu, d, &a);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {t}");
        assert!(t.contains(says), "{a:?}: {t}");
        if says.contains("is not a domain name") || says.contains("'Upper.COM'") || says.contains("admits every") {
            assert_eq!(emu.calls().len(), before, "{a:?}: a refused domain is refused before any AWS call");
        }
    }
    assert!(!emu.calls().iter().any(|c| c.ends_with("UpdateRuleGroup")), "{:?}", emu.calls());
    assert_eq!(rt.block_on(allow_list(&emu, &group)), want);

    // --- A stale UpdateToken: another writer updates the group while our
    // update is on its way; the command reads again, keeps their change.
    emu.clear_calls();
    emu.control_post("faults", json!({"operation": "network-firewall:UpdateRuleGroup", "delay_s": 2}));
    let out = std::thread::scope(|s| {
        let cmd = s.spawn(|| provision(&emu, d, &["firewall", "allow", "huggingface.co"]));
        let start = std::time::Instant::now();
        while !emu.control_get("faults")["faults"].as_array().unwrap().is_empty() {
            assert!(start.elapsed().as_secs() < 60, "the update never came");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        rt.block_on(allow_out_of_band(&emu, &group, "oob.example.com"));
        cmd.join().unwrap()
    });
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("stale UpdateToken"), "{t}");
    assert!(t.contains("also allows oob.example.com, which allowed_domains does not"), "{t}");
    // status points at the command that owns the allow-list, not at `up`.
    let o = provision(&emu, d, &["status"]);
    let st = text(&o);
    assert_eq!(o.status.code(), Some(1), "{st}");
    assert!(st.contains("nfw.rule_group: `provision firewall allow|remove` edits the allow-list"), "{st}");
    assert!(!st.contains("`provision up` restores them"), "{st}");
    let updates: Vec<Value> =
        emu.call_log().into_iter().filter(|c| c["operation"] == "network-firewall:UpdateRuleGroup").collect();
    let statuses: Vec<i64> = updates.iter().map(|c| c["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 1, "{updates:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "{updates:?}");
    let live = rt.block_on(allow_list(&emu, &group));
    assert!(live.contains(&"huggingface.co".to_string()) && live.contains(&"oob.example.com".to_string()), "{live:?}");
    // Only what the operator asked for is recorded: verify flags the other writer's domain.
    assert_eq!(
        state_json(d)["params"]["allowed_domains"],
        json!([
            ".kaggle.com",
            "pypi.org",
            "files.pythonhosted.org",
            "conda.anaconda.org",
            "cdn.example.org",
            "huggingface.co"
        ])
    );
    let (code, controls) = verify(&emu, d, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(failing(&controls), BTreeSet::from(["firewall.allow_list".to_string()]));
    assert!(evidence(&controls, "firewall.allow_list").contains("allows oob.example.com"));
    provision_ok(&emu, d, &["firewall", "remove", "oob.example.com"]);
    assert_eq!(verify(&emu, d, &[]).0, Some(0));

    // An explicit list overrides the recorded one: the edit applies to the
    // firewall and the record, never copies the override into the state.
    let out = provision_ok(&emu, d, &["firewall", "remove", "huggingface.co", "--allowed-domains", ".kaggle.com"]);
    assert!(out.contains("--allowed-domains or the config file sets allowed_domains (.kaggle.com)"), "{out}");
    assert_eq!(
        state_json(d)["params"]["allowed_domains"],
        json!([".kaggle.com", "pypi.org", "files.pythonhosted.org", "conda.anaconda.org", "cdn.example.org"])
    );
    assert_eq!(verify(&emu, d, &[]).0, Some(0));
}

#[test]
fn iam_policy_grants_exactly_the_calls_of_a_full_run_and_every_policy_is_valid() {
    let emu = Emulator::start(SCALE, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rt = rt();
    let mut called: BTreeSet<String> = BTreeSet::new();
    let mut log = |emu: &Emulator| {
        called.extend(emu.calls());
        emu.clear_calls();
    };

    emu.clear_calls();
    provision_ok(&emu, d, &["up"]);
    provision_ok(&emu, d, &["verify"]);
    provision_ok(&emu, d, &["jumpstart", "enable"]);
    log(&emu);
    let st = state_json(d);
    let id = |s: &str| step_id(&st, s);
    // Every policy document the stack holds (JumpStart on), checked as stored.
    rt.block_on(check_stored_policies(&emu, &st));
    emu.clear_calls();
    provision_ok(&emu, d, &["jumpstart", "disable"]);
    provision_ok(&emu, d, &["firewall", "list"]);
    provision_ok(&emu, d, &["firewall", "allow", "pypi.org"]);
    provision_ok(&emu, d, &["firewall", "remove", "pypi.org"]);
    provision_ok(&emu, d, &["up"]);
    log(&emu);
    // Data in a bucket (written as the endpoint would), so down empties it.
    let data = id("bucket.data");
    rt.block_on(async {
        let s3 = emu.s3().await;
        let policy = s3.get_bucket_policy().bucket(&data).send().await.unwrap();
        s3.delete_bucket_policy().bucket(&data).send().await.unwrap();
        s3.put_object().bucket(&data).key("notebooks/a.ipynb").body(b"{}".to_vec().into()).send().await.unwrap();
        s3.put_bucket_policy().bucket(&data).policy(policy.policy().unwrap()).send().await.unwrap();
    });
    emu.clear_calls();
    let out = provision_ok(&emu, d, &["down", "--purge-efs", "--delete-data", "--yes"]);
    assert!(out.contains("is gone"), "{out}");
    log(&emu);

    // A list of managed policy documents (each within IAM's size limit): the grant is their union.
    let docs: Vec<Value> = serde_json::from_str(&provision_ok(&emu, d, &["iam-policy"])).unwrap();
    for policy in &docs {
        assert_grammar("operator policy", policy, Kind::Identity);
    }
    let granted: BTreeSet<String> = docs
        .iter()
        .flat_map(|p| p["Statement"].as_array().unwrap().iter())
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let ops = operations::OPS;
    // Every call made is listed, and the policy grants what it needs.
    for call in &called {
        let op = ops
            .iter()
            .find(|o| o.call == call)
            .unwrap_or_else(|| panic!("{call} was called but is not in operations::OPS"));
        for a in op.actions {
            assert!(granted.contains(*a), "{call} needs {a}, not in the policy");
        }
    }
    // Every listed operation was called, except those only a recovery or
    // another command makes (each names its code path).
    for op in ops {
        match op.when {
            operations::When::Run => {
                assert!(called.contains(op.call), "{} was never called", op.call)
            }
            operations::When::Conditional(why) => {
                assert!(!why.is_empty());
                assert!(
                    !called.contains(op.call),
                    "{} was called in a clean run; it is not conditional ({why})",
                    op.call
                )
            }
            // Teardown sweeps ENIs still `available` once the mount targets
            // are gone: whether any are depends on what has drained by then.
            operations::When::Leftover(why) => assert!(!why.is_empty()),
        }
    }
    // Nothing else is granted.
    let needed: BTreeSet<String> = ops.iter().flat_map(|o| o.actions.iter().map(|a| a.to_string())).collect();
    assert_eq!(granted, needed);
}

/// The stack's policies as AWS holds them: grammar, and their statements against the spec.
async fn check_stored_policies(emu: &Emulator, st: &Value) {
    let id = |s: &str| step_id(st, s);
    let sdk = emu.sdk().await;
    let vpce = id("vpce.s3");
    let buckets = [id("bucket.data"), id("bucket.models")];
    let s3 = emu.s3().await;
    for b in &buckets {
        let p = s3.get_bucket_policy().bucket(b).send().await.unwrap();
        let doc = parse(p.policy().unwrap());
        assert_grammar(&format!("bucket policy of {b}"), &doc, Kind::Resource);
        let s = &doc["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Principal"], "*");
        assert_eq!(set(&s["Action"]), set(&json!(["s3:GetObject", "s3:PutObject", "s3:ListBucket"])));
        assert_eq!(set(&s["Resource"]), set(&json!([format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")])));
        assert_eq!(s["Condition"]["StringNotEquals"]["aws:sourceVpce"], vpce);
    }

    let doc = endpoint_policy(emu, &vpce).await;
    assert_grammar("S3 endpoint policy", &doc, Kind::Resource);
    let mut arns = Vec::new();
    for b in &buckets {
        arns.push(format!("arn:aws:s3:::{b}"));
        arns.push(format!("arn:aws:s3:::{b}/*"));
    }
    assert_eq!(set(&doc["Statement"][0]["Resource"]), set(&json!(arns)));
    assert_eq!(doc["Statement"][1], jumpstart_statement());
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let all = ec2.describe_vpc_endpoints().send().await.unwrap();
    let mut checked = 0;
    for e in all.vpc_endpoints() {
        // ssm and servicecatalog get no policy from the tool (AWS's default applies).
        let step =
            e.tags().iter().find(|t| t.key() == Some("provision:step")).and_then(|t| t.value()).unwrap_or_default();
        let tool_set = step.starts_with("vpce.") && !["vpce.s3", "vpce.ssm", "vpce.servicecatalog"].contains(&step);
        if let Some(p) = e.policy_document()
            && tool_set
        {
            let doc = parse(p);
            assert_grammar(&format!("policy of {:?}", e.service_name()), &doc, Kind::Resource);
            checked += 1;
        }
    }
    assert_eq!(checked, 8, "the interface endpoints with a policy");

    let kms = aws_sdk_kms::Client::new(&sdk);
    for k in ["kms.s3", "kms.ebs", "kms.logs"] {
        let p = kms.get_key_policy().key_id(id(k)).policy_name("default").send().await.unwrap();
        let doc = parse(p.policy().unwrap());
        assert_grammar(&format!("key policy of {k}"), &doc, Kind::Resource);
        let s = &doc["Statement"][0];
        assert_eq!(s["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:root"));
        assert_eq!(s["Action"], "kms:*");
    }

    let iam = aws_sdk_iam::Client::new(&sdk);
    let role = id("iam.role");
    let r = iam.get_role().role_name(role.rsplit('/').next().unwrap()).send().await.unwrap();
    let doc = parse(r.role().unwrap().assume_role_policy_document().unwrap());
    assert_grammar("trust policy", &doc, Kind::Trust);
    assert_eq!(doc["Statement"][0]["Principal"]["Service"], "sagemaker.amazonaws.com");
    assert_eq!(doc["Statement"][0]["Action"], "sts:AssumeRole");
    // Against the confused deputy (issue 28): this account's SageMaker resources only.
    assert_eq!(doc["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT);
    assert_eq!(
        doc["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:sagemaker:us-east-1:{ACCOUNT}:*")
    );
    // Its guardrails (issue 28), an inline policy naming the stack's subnets, group and keys.
    let role_name = role.rsplit('/').next().unwrap();
    let g = iam.get_role_policy().role_name(role_name).policy_name("guardrails").send().await.unwrap();
    let guardrails = parse(g.policy_document());
    assert_grammar("execution role guardrails", &guardrails, Kind::Identity);
    let deny = guardrails["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "DenyWithoutVpc").unwrap();
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Null"]["sagemaker:VpcSubnets"], "true");
    let other = guardrails["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "DenyOtherSubnets").unwrap();
    assert_eq!(
        other["Condition"]["ForAnyValue:StringNotEquals"]["sagemaker:VpcSubnets"],
        json!([id("subnet.sagemaker")])
    );

    // The flow logs role (issue 14): its trust and its inline policy.
    let flow_role = id("iam.flow_logs_role");
    let flow_role = flow_role.rsplit('/').next().unwrap();
    let r = iam.get_role().role_name(flow_role).send().await.unwrap();
    let doc = parse(r.role().unwrap().assume_role_policy_document().unwrap());
    assert_grammar("flow logs trust policy", &doc, Kind::Trust);
    assert_eq!(doc["Statement"][0]["Principal"]["Service"], "vpc-flow-logs.amazonaws.com");
    let names = iam.list_role_policies().role_name(flow_role).send().await.unwrap();
    assert_eq!(names.policy_names().len(), 1);
    let p = iam.get_role_policy().role_name(flow_role).policy_name(&names.policy_names()[0]).send().await.unwrap();
    assert_grammar("flow logs role policy", &parse(p.policy_document()), Kind::Identity);

    let arn = id("iam.policy");
    let p = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    let v = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(p.policy().unwrap().default_version_id().unwrap())
        .send()
        .await
        .unwrap();
    let doc = parse(v.policy_version().unwrap().document().unwrap());
    assert_grammar("execution role policy", &doc, Kind::Identity);
    let by_sid = |sid: &str| {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
            .clone()
    };
    let buckets: BTreeSet<String> = set(&by_sid("StackBuckets")["Resource"])
        .union(&set(&by_sid("StackBucketObjects")["Resource"]))
        .cloned()
        .collect();
    assert_eq!(buckets, set(&json!(arns)));
    // JumpStart is on here: the role reads JumpStart's tagged objects too (issue 28).
    assert_eq!(by_sid("JumpStartContent")["Condition"]["StringEquals"]["s3:ExistingObjectTag/SageMaker"], "true");
    let pass = by_sid("PassThisRoleToSageMaker");
    assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "sagemaker.amazonaws.com");
    assert_eq!(pass["Resource"], role);
}

fn set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => panic!("not a string or list: {v}"),
    }
}

/// A policy as AWS returns it: IAM URL-encodes, EC2 may wrap JSON in a string.
fn parse(doc: &str) -> Value {
    provision::policy::parse(doc).unwrap_or_else(|e| panic!("{e:#}"))
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Attached to an identity: Resource, no Principal.
    Identity,
    /// On a resource (bucket, endpoint, key): Principal and Resource.
    Resource,
    /// A role's trust policy: Principal, no Resource.
    Trust,
}

/// IAM policy grammar (IAM User Guide, "Grammar of the IAM JSON policy language").
fn assert_grammar(what: &str, doc: &Value, kind: Kind) {
    let errs = grammar_errors(doc, kind);
    assert!(errs.is_empty(), "{what} breaks the IAM grammar: {errs:?}\n{doc:#}");
}

fn grammar_errors(doc: &Value, kind: Kind) -> Vec<String> {
    const OPERATORS: &[&str] = &[
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
    ];
    let mut errs = Vec::new();
    let Some(top) = doc.as_object() else {
        return vec!["not a JSON object".into()];
    };
    for k in top.keys() {
        if !["Version", "Id", "Statement"].contains(&k.as_str()) {
            errs.push(format!("unknown top-level element {k}"));
        }
    }
    if doc["Version"] != "2012-10-17" {
        errs.push(format!("Version {} is not 2012-10-17", doc["Version"]));
    }
    let statements = match &doc["Statement"] {
        Value::Array(a) if !a.is_empty() => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        other => {
            return vec![format!("Statement is {other}, not a statement or a list of them")];
        }
    };
    let names = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) if !a.is_empty() => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    };
    for (n, s) in statements.iter().enumerate() {
        let n = n + 1;
        let Some(obj) = s.as_object() else {
            errs.push(format!("statement {n} is not an object"));
            continue;
        };
        for k in obj.keys() {
            if ![
                "Sid",
                "Effect",
                "Principal",
                "NotPrincipal",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ]
            .contains(&k.as_str())
            {
                errs.push(format!("statement {n}: unknown element {k}"));
            }
        }
        if let Some(sid) = obj.get("Sid") {
            let ok =
                sid.as_str().is_some_and(|s| kind != Kind::Identity || s.chars().all(|c| c.is_ascii_alphanumeric()));
            if !ok {
                errs.push(format!("statement {n}: Sid {sid} is not valid here"));
            }
        }
        if !matches!(obj.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny")) {
            errs.push(format!("statement {n}: Effect must be Allow or Deny"));
        }
        let one_of = |a: &str, b: &str| obj.contains_key(a) as u8 + obj.contains_key(b) as u8 == 1;
        if !one_of("Action", "NotAction") {
            errs.push(format!("statement {n}: needs exactly one of Action, NotAction"));
        }
        for k in ["Action", "NotAction"] {
            if let Some(v) = obj.get(k) {
                match names(v) {
                    Some(actions) => {
                        for a in actions {
                            let ok = a == "*"
                                || a.split_once(':').is_some_and(|(svc, name)| {
                                    !svc.is_empty()
                                        && svc.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                                        && !name.is_empty()
                                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
                                });
                            if !ok {
                                errs.push(format!("statement {n}: '{a}' is not an action"));
                            }
                        }
                    }
                    None => errs.push(format!("statement {n}: {k} is not a string or list of strings")),
                }
            }
        }
        let has_principal = obj.contains_key("Principal") || obj.contains_key("NotPrincipal");
        let has_resource = obj.contains_key("Resource") || obj.contains_key("NotResource");
        match kind {
            Kind::Identity if has_principal => errs.push(format!("statement {n}: Principal in an identity policy")),
            Kind::Resource | Kind::Trust if !one_of("Principal", "NotPrincipal") => {
                errs.push(format!("statement {n}: needs exactly one of Principal, NotPrincipal"))
            }
            _ => {}
        }
        match kind {
            Kind::Trust if has_resource => errs.push(format!("statement {n}: Resource in a trust policy")),
            Kind::Identity | Kind::Resource if !one_of("Resource", "NotResource") => {
                errs.push(format!("statement {n}: needs exactly one of Resource, NotResource"))
            }
            _ => {}
        }
        for k in ["Resource", "NotResource"] {
            if let Some(v) = obj.get(k) {
                for r in names(v).unwrap_or_default() {
                    if r != "*" && !r.starts_with("arn:") {
                        errs.push(format!("statement {n}: resource '{r}' is not * or an ARN"));
                    }
                }
                if names(v).is_none() {
                    errs.push(format!("statement {n}: {k} is not a string or list of strings"));
                }
            }
        }
        for k in ["Principal", "NotPrincipal"] {
            match obj.get(k) {
                None => {}
                Some(Value::String(p)) if p == "*" => {}
                Some(Value::Object(p)) => {
                    for (t, v) in p {
                        if !["AWS", "Service", "Federated", "CanonicalUser"].contains(&t.as_str()) || names(v).is_none()
                        {
                            errs.push(format!("statement {n}: principal {t}: {v} is not valid"));
                        }
                    }
                }
                Some(other) => errs.push(format!("statement {n}: {k} {other} is not * or a principal map")),
            }
        }
        if let Some(c) = obj.get("Condition") {
            let Some(c) = c.as_object() else {
                errs.push(format!("statement {n}: Condition is not an object"));
                continue;
            };
            for (op, block) in c {
                let base = op.strip_prefix("ForAllValues:").or_else(|| op.strip_prefix("ForAnyValue:")).unwrap_or(op);
                let ok = base == "Null" || OPERATORS.contains(&base.strip_suffix("IfExists").unwrap_or(base));
                if !ok {
                    errs.push(format!("statement {n}: {op} is not a condition operator"));
                }
                match block.as_object() {
                    Some(keys) if !keys.is_empty() => {
                        for (key, v) in keys {
                            let scalar = |x: &Value| x.is_string() || x.is_boolean() || x.is_number();
                            let ok = key.contains(':')
                                && (scalar(v) || v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(scalar)));
                            if !ok {
                                errs.push(format!("statement {n}: {op} {key}: {v} is not a condition"));
                            }
                        }
                    }
                    _ => errs.push(format!("statement {n}: {op} has no condition keys")),
                }
            }
        }
    }
    errs
}

#[test]
fn the_grammar_check_rejects_what_iam_rejects() {
    let ok =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    assert!(grammar_errors(&ok, Kind::Identity).is_empty());
    for (bad, kind, says) in [
        (json!({"Version": "2008-10-17", "Statement": ok["Statement"]}), Kind::Identity, "Version"),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]}),
            Kind::Identity,
            "Effect",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}),
            Kind::Identity,
            "not an action",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject", "Resource": "*"}]}),
            Kind::Identity,
            "exactly one of Action",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
            Kind::Identity,
            "exactly one of Resource",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
            Kind::Resource,
            "Principal",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "x"}, "Action": "sts:AssumeRole", "Resource": "*"}]}),
            Kind::Trust,
            "Resource in a trust policy",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEqual": {"aws:x": "y"}}}]}),
            Kind::Identity,
            "not a condition operator",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "bucket"}]}),
            Kind::Identity,
            "not * or an ARN",
        ),
    ] {
        let errs = grammar_errors(&bad, kind);
        assert!(errs.iter().any(|e| e.contains(says)), "{bad}: {errs:?}");
    }
}
