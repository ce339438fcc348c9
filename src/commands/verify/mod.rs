//! `provision verify`: reads the live stack and checks each security control
//! the original sample claimed, one line per control with the evidence read.
//! Ids come from the state; everything judged comes from AWS. A control that
//! cannot be read (a missing resource, a refused call) fails with the reason,
//! the others are still checked. Exit 1 when any fails.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use aws_sdk_ec2::types::{Route, RouteTable};
use aws_sdk_networkfirewall::types::{GeneratedRulesType, TargetType};
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_sagemaker::types::AppNetworkAccessType;
use serde::Serialize;
use serde_json::Value;

use crate::error::{EXIT_FAILED, Exit};
use crate::error::{aws, has_code};
use crate::kinds::vpc_endpoint::{jumpstart_enabled, jumpstart_statement};
use crate::kinds::{Ctx, ec2_filter};
use crate::policy::{parse as parse_policy, statements, strings};
use crate::step_id::StepId;

#[derive(Debug, Serialize)]
struct Control {
    control: &'static str,
    pass: bool,
    evidence: String,
}

/// A check's verdict and evidence.
type Verdict = Result<(bool, String)>;

pub async fn run(ctx: &Ctx, json: bool) -> Result<()> {
    let (a, b, c, d, e, f) = tokio::join!(
        buckets_sse_kms(ctx),
        buckets_public_access_block(ctx),
        buckets_policy(ctx),
        endpoint_policy(ctx),
        domain_vpc_only(ctx),
        routes(ctx),
    );
    let (g, h, i, j) =
        tokio::join!(firewall_allow_list(ctx), endpoint_sg(ctx), ebs_key_rotation(ctx), role_trust(ctx),);
    let (sm_route, nat_route, edge_route) = match f {
        Ok(r) => (Ok(r.0), Ok(r.1), Ok(r.2)),
        Err(e) => {
            let why = format!("{e:#}");
            let err = || Err(anyhow::anyhow!("{why}"));
            (err(), err(), err())
        }
    };
    let results = [
        ("buckets.sse_kms", a),
        ("buckets.public_access_block", b),
        ("buckets.policy_vpce_only", c),
        ("vpce.s3.policy", d),
        ("domain.vpc_only", e),
        ("route.sagemaker_default", sm_route),
        ("route.nat_default", nat_route),
        ("route.igw_edge", edge_route),
        ("firewall.allow_list", g),
        ("sg.vpce_tls", h),
        ("kms.ebs_rotation", i),
        ("iam.role_trust", j),
    ];
    let controls: Vec<Control> = results
        .into_iter()
        .map(|(control, r)| {
            let (pass, evidence) = r.unwrap_or_else(|e| (false, format!("could not check: {e:#}")));
            Control { control, pass, evidence }
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&controls)?);
    } else {
        for c in &controls {
            let verdict = if c.pass { "PASS" } else { "FAIL" };
            println!("{verdict}  {:<28} {}", c.control, c.evidence);
        }
    }
    let failed: Vec<&str> = controls.iter().filter(|c| !c.pass).map(|c| c.control).collect();
    if !failed.is_empty() {
        return Err(Exit(
            EXIT_FAILED,
            format!("{} of {} controls fail: {}", failed.len(), controls.len(), failed.join(", ")),
        )
        .into());
    }
    if !json {
        println!("All {} controls pass for stack {}.", controls.len(), ctx.stack());
    }
    Ok(())
}

/// Both buckets encrypt by default with SSE-KMS and the stack's S3 key.
async fn buckets_sse_kms(ctx: &Ctx) -> Verdict {
    let key = ctx.state.id(&StepId::KMS_S3)?;
    let key_id = key.rsplit('/').next().unwrap_or(&key);
    let (mut ok, mut evidence) = (true, Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let out = match ctx.aws.s3.get_bucket_encryption().bucket(&b).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => {
                ok = false;
                evidence.push(format!("{b}: no default encryption"));
                continue;
            }
            r => r.with_context(|| format!("reading the encryption of bucket {b}"))?,
        };
        let default = out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default());
        let (alg, kid) = match default {
            Some(d) => (d.sse_algorithm().as_str().to_string(), d.kms_master_key_id().unwrap_or("no key").to_string()),
            None => ("none".into(), "no key".into()),
        };
        let good = alg == ServerSideEncryption::AwsKms.as_str() && (kid == key || kid == key_id);
        ok &= good;
        evidence.push(if good {
            format!("{b}: {alg} with the stack key")
        } else {
            format!("{b}: {alg} with {kid}, expected aws:kms with {key}")
        });
    }
    Ok((ok, evidence.join("; ")))
}

/// All four public access block settings on, on both buckets.
async fn buckets_public_access_block(ctx: &Ctx) -> Verdict {
    let (mut ok, mut evidence) = (true, Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let out = match ctx.aws.s3.get_public_access_block().bucket(&b).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => {
                ok = false;
                evidence.push(format!("{b}: no public access block"));
                continue;
            }
            r => r.with_context(|| format!("reading the public access block of bucket {b}"))?,
        };
        let c = out.public_access_block_configuration();
        let settings = [
            ("BlockPublicAcls", c.and_then(|c| c.block_public_acls())),
            ("IgnorePublicAcls", c.and_then(|c| c.ignore_public_acls())),
            ("BlockPublicPolicy", c.and_then(|c| c.block_public_policy())),
            ("RestrictPublicBuckets", c.and_then(|c| c.restrict_public_buckets())),
        ];
        let off: Vec<&str> = settings.iter().filter(|(_, v)| *v != Some(true)).map(|(n, _)| *n).collect();
        ok &= off.is_empty();
        evidence.push(if off.is_empty() {
            format!("{b}: all four on")
        } else {
            format!("{b}: {} off", off.join(", "))
        });
    }
    Ok((ok, evidence.join("; ")))
}

/// Each bucket's policy denies GetObject, PutObject and ListBucket on the
/// bucket and its objects unless the request comes through `vpce.s3`.
async fn buckets_policy(ctx: &Ctx) -> Verdict {
    let vpce = ctx.state.id(&StepId::VPCE_S3)?;
    let (mut ok, mut evidence) = (true, Vec::new());
    for step in &StepId::BUCKETS {
        let b = ctx.state.id(step)?;
        let doc = match ctx.aws.s3.get_bucket_policy().bucket(&b).send().await.map_err(aws) {
            Err(e) if has_code(&e, &["NoSuchBucketPolicy"]) => {
                ok = false;
                evidence.push(format!("{b}: no bucket policy"));
                continue;
            }
            r => r.with_context(|| format!("reading the policy of bucket {b}"))?,
        };
        let doc = parse_policy(doc.policy().unwrap_or_default())?;
        let good = statements(&doc).into_iter().any(|s| denies_outside_endpoint(s, &b, &vpce));
        ok &= good;
        evidence.push(if good {
            format!("{b}: denies object and list calls not from {vpce}")
        } else {
            format!("{b}: no statement denies GetObject/PutObject/ListBucket unless aws:sourceVpce is {vpce}")
        });
    }
    Ok((ok, evidence.join("; ")))
}

fn denies_outside_endpoint(s: &Value, bucket: &str, vpce: &str) -> bool {
    let covers = |have: &[String], want: &str| {
        have.iter().any(|h| h == want || h == "*" || h == "s3:*" || h == "arn:aws:s3:::*")
    };
    let actions = strings(s.get("Action"));
    let resources = strings(s.get("Resource"));
    let everyone = match s.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(p) => strings(p.get("AWS")) == ["*"],
        None => false,
    };
    let condition = s
        .get("Condition")
        .and_then(|c| c.get("StringNotEquals"))
        .and_then(|c| c.as_object())
        .and_then(|c| c.iter().find(|(k, _)| k.eq_ignore_ascii_case("aws:sourceVpce")))
        .map(|(_, v)| strings(Some(v)));
    s.get("Effect").and_then(Value::as_str) == Some("Deny")
        && everyone
        && ["s3:GetObject", "s3:PutObject", "s3:ListBucket"].iter().all(|a| covers(&actions, a))
        && [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")].iter().all(|r| covers(&resources, r))
        && condition.is_some_and(|v| v == [vpce])
}

/// The S3 endpoint allows the stack's two buckets only, plus the JumpStart
/// statement exactly when the state records it enabled.
async fn endpoint_policy(ctx: &Ctx) -> Verdict {
    let vpce = ctx.state.id(&StepId::VPCE_S3)?;
    let out = ctx
        .aws
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&vpce)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading S3 endpoint {vpce}"))?;
    let Some(doc) = out.vpc_endpoints().first().and_then(|e| e.policy_document()) else {
        bail!("S3 endpoint {vpce} not found or has no policy")
    };
    let doc = parse_policy(doc)?;
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    for which in ["data", "models"] {
        let b = ctx.s.bucket_name(&ctx.account, which);
        allowed.insert(format!("arn:aws:s3:::{b}"));
        allowed.insert(format!("arn:aws:s3:::{b}/*"));
    }
    let (js, mut problems) = (jumpstart_statement(), Vec::new());
    let mut jumpstart = false;
    for (n, s) in statements(&doc).into_iter().enumerate() {
        if same_statement(s, &js) {
            jumpstart = true;
            continue;
        }
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        if s.get("NotResource").is_some() || s.get("NotAction").is_some() {
            problems.push(format!("statement {} uses NotResource/NotAction", n + 1));
        }
        let outside: Vec<String> = strings(s.get("Resource")).into_iter().filter(|r| !allowed.contains(r)).collect();
        if !outside.is_empty() {
            problems.push(format!("statement {} allows {} (outside the stack's buckets)", n + 1, outside.join(", ")));
        }
    }
    let want = jumpstart_enabled(ctx);
    match (jumpstart, want) {
        (true, false) => problems.push("has the JumpStart statement, but the state records JumpStart disabled".into()),
        (false, true) => problems.push("lacks the JumpStart statement the state records as enabled".into()),
        _ => {}
    }
    if problems.is_empty() {
        Ok((
            true,
            format!(
                "{vpce} allows the two buckets only{}",
                if jumpstart { ", plus JumpStart (objects tagged SageMaker=true)" } else { "" }
            ),
        ))
    } else {
        Ok((false, format!("{vpce}: {}", problems.join("; "))))
    }
}

/// Statements compared with list-or-string elements normalised.
fn same_statement(a: &Value, b: &Value) -> bool {
    let key = |s: &Value| {
        ["Effect", "Principal", "Action", "Resource", "NotAction", "NotResource"].map(|k| match s.get(k) {
            Some(Value::String(_) | Value::Array(_)) => {
                let mut v = strings(s.get(k));
                v.sort();
                Value::from(v)
            }
            other => other.cloned().unwrap_or(Value::Null),
        })
    };
    key(a) == key(b) && a.get("Condition") == b.get("Condition")
}

/// VpcOnly, in the stack's VPC and every zone's SageMaker subnet, with the
/// stack's security group.
async fn domain_vpc_only(ctx: &Ctx) -> Verdict {
    let id = ctx.state.id(&StepId::DOMAIN)?;
    let (vpc, sg) = (ctx.state.id(&StepId::VPC)?, ctx.state.id(&StepId::SG_SAGEMAKER)?);
    let mut want_subnets = ctx.ids(&crate::graph::per_zone(&ctx.s, &StepId::SUBNET_SAGEMAKER))?;
    want_subnets.sort();
    let subnet = want_subnets.join(", ");
    let d = ctx
        .aws
        .sagemaker
        .describe_domain()
        .domain_id(&id)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading domain {id}"))?;
    let access = d.app_network_access_type().map(|a| a.as_str()).unwrap_or("unset");
    let mut subnets = d.subnet_ids().to_vec();
    subnets.sort();
    let groups = d.default_user_settings().map(|s| s.security_groups().to_vec()).unwrap_or_default();
    let mut problems = Vec::new();
    if access != AppNetworkAccessType::VpcOnly.as_str() {
        problems.push(format!("network access {access}, expected VpcOnly"));
    }
    if d.vpc_id() != Some(vpc.as_str()) {
        problems.push(format!("VPC {}, expected {vpc}", d.vpc_id().unwrap_or("none")));
    }
    if subnets != want_subnets {
        problems.push(format!("subnets {subnets:?}, expected [{subnet}]"));
    }
    if groups != [sg.clone()] {
        problems.push(format!("security groups {groups:?}, expected [{sg}]"));
    }
    Ok(if problems.is_empty() {
        (true, format!("{id}: VpcOnly in {vpc}, subnet {subnet}, security group {sg}"))
    } else {
        (false, format!("{id}: {}", problems.join("; ")))
    })
}

/// The three routing controls, from one read of the VPC's route tables and
/// the firewall's endpoint.
async fn routes(ctx: &Ctx) -> Result<((bool, String), (bool, String), (bool, String))> {
    let vpc = ctx.state.id(&StepId::VPC)?;
    let out = ctx
        .aws
        .ec2
        .describe_route_tables()
        .filters(ec2_filter("vpc-id", &vpc))
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading the route tables of {vpc}"))?;
    let tables = out.route_tables();
    let igw = ctx.state.id(&StepId::IGW)?;
    let edge_table = tables.iter().find(|t| t.associations().iter().any(|a| a.gateway_id() == Some(igw.as_str())));
    // Every zone: its own NAT gateway and its own zone's firewall endpoint.
    let (mut sm, mut natr, mut edge) = (Vec::new(), Vec::new(), Vec::new());
    for (i, z) in ctx.s.zones.iter().enumerate() {
        let id = |base: &StepId| ctx.state.id(&base.in_zone(i, &z.az));
        let endpoint = firewall_endpoint(ctx, &z.az).await?;
        let nat = id(&StepId::NAT)?;
        sm.push(default_route_is(tables, &id(&StepId::SUBNET_SAGEMAKER)?, &nat, "the NAT gateway"));
        natr.push(default_route_is(tables, &id(&StepId::SUBNET_NAT)?, &endpoint, "the firewall endpoint"));
        let cidr = z.nat.to_string();
        edge.push(match edge_table {
            None => (false, format!("no route table is edge-associated with {igw}")),
            Some(t) => {
                let tid = t.route_table_id().unwrap_or_default();
                match t.routes().iter().find(|r| r.destination_cidr_block() == Some(cidr.as_str())) {
                    Some(r) if target(r) == endpoint => {
                        (true, format!("{tid} (edge of {igw}): {cidr} -> firewall endpoint {endpoint} ({})", z.az))
                    }
                    Some(r) => (
                        false,
                        format!(
                            "{tid} (edge of {igw}): {cidr} -> {}, expected the firewall endpoint {endpoint} of {}",
                            target(r),
                            z.az
                        ),
                    ),
                    None => (false, format!("{tid} (edge of {igw}): no route for {cidr}")),
                }
            }
        });
    }
    let all = |v: Vec<(bool, String)>| {
        let pass = v.iter().all(|(p, _)| *p);
        let evidence: Vec<String> = v.into_iter().filter(|(p, _)| pass || !*p).map(|(_, e)| e).collect();
        (pass, evidence.join("; "))
    };
    Ok((all(sm), all(natr), all(edge)))
}

/// The subnet's route table has exactly one default route, to `want`.
fn default_route_is(tables: &[RouteTable], subnet: &str, want: &str, what: &str) -> (bool, String) {
    let explicit = tables.iter().find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet)));
    let Some(t) = explicit else {
        return (false, format!("{subnet} has no route table of its own (it uses the VPC's main table)"));
    };
    let id = t.route_table_id().unwrap_or_default();
    let defaults: Vec<String> = t
        .routes()
        .iter()
        .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0") || r.destination_ipv6_cidr_block() == Some("::/0"))
        .map(|r| {
            format!(
                "{} -> {}",
                r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).unwrap_or_default(),
                target(r)
            )
        })
        .collect();
    let good = defaults == [format!("0.0.0.0/0 -> {want}")];
    if good {
        (true, format!("{subnet} via {id}: 0.0.0.0/0 -> {what} {want}"))
    } else {
        (
            false,
            format!(
                "{subnet} via {id}: default routes [{}], expected only 0.0.0.0/0 -> {what} {want}",
                defaults.join(", ")
            ),
        )
    }
}

/// What a route points at (AWS reports firewall endpoints as GatewayId).
fn target(r: &Route) -> String {
    r.gateway_id()
        .or(r.nat_gateway_id())
        .or(r.network_interface_id())
        .or(r.transit_gateway_id())
        .or(r.vpc_peering_connection_id())
        .or(r.instance_id())
        .unwrap_or("nothing")
        .to_string()
}

/// The firewall's endpoint in availability zone `az`, as AWS reports it now.
async fn firewall_endpoint(ctx: &Ctx, az: &str) -> Result<String> {
    let arn = ctx.state.id(&StepId::FIREWALL)?;
    let out = ctx
        .aws
        .nfw
        .describe_firewall()
        .firewall_arn(&arn)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall {arn}"))?;
    out.firewall_status
        .and_then(|s| s.sync_states)
        .and_then(|s| s.get(az).and_then(|s| s.attachment.clone()))
        .and_then(|a| a.endpoint_id)
        .with_context(|| format!("firewall {arn} has no endpoint in {az}"))
}

/// The firewall uses the stack's policy, whose only stateful group is the
/// stack's rule group: an ALLOWLIST (HTTP_HOST and TLS_SNI) of exactly the
/// configured domains.
async fn firewall_allow_list(ctx: &Ctx) -> Verdict {
    let (fw, policy, group) =
        (ctx.state.id(&StepId::FIREWALL)?, ctx.state.id(&StepId::FIREWALL_POLICY)?, ctx.state.id(&StepId::RULE_GROUP)?);
    let nfw = &ctx.aws.nfw;
    let f = nfw
        .describe_firewall()
        .firewall_arn(&fw)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall {fw}"))?;
    let used = f.firewall.map(|f| f.firewall_policy_arn).unwrap_or_default();
    if used != policy {
        return Ok((false, format!("firewall uses policy {used}, expected {policy}")));
    }
    let p = nfw
        .describe_firewall_policy()
        .firewall_policy_arn(&policy)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading firewall policy {policy}"))?;
    let refs: Vec<String> = p
        .firewall_policy()
        .map(|p| p.stateful_rule_group_references().iter().map(|r| r.resource_arn().to_string()).collect())
        .unwrap_or_default();
    if refs != [group.clone()] {
        return Ok((false, format!("policy's stateful rule groups are {refs:?}, expected [{group}]")));
    }
    let out = nfw
        .describe_rule_group()
        .rule_group_arn(&group)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading rule group {group}"))?;
    let Some(list) = out.rule_group().and_then(|g| g.rules_source()).and_then(|s| s.rules_source_list()) else {
        return Ok((false, format!("{group} is not a domain list")));
    };
    let mut problems = Vec::new();
    if list.generated_rules_type() != &GeneratedRulesType::Allowlist {
        problems.push(format!("type {}, expected ALLOWLIST", list.generated_rules_type().as_str()));
    }
    let types: BTreeSet<&str> = list.target_types().iter().map(|t| t.as_str()).collect();
    let want_types = BTreeSet::from([TargetType::HttpHost.as_str(), TargetType::TlsSni.as_str()]);
    if types != want_types {
        problems.push(format!("target types {types:?}, expected HTTP_HOST and TLS_SNI"));
    }
    let (extra, missing) = super::firewall::difference(list.targets(), &ctx.s.allowed_domains);
    if !extra.is_empty() {
        problems.push(format!("allows {} (not configured)", extra.join(", ")));
    }
    if !missing.is_empty() {
        problems.push(format!("lacks configured {}", missing.join(", ")));
    }
    Ok(if problems.is_empty() {
        (true, format!("policy {policy} -> allow-list of {}", list.targets().join(", ")))
    } else {
        (false, format!("{group}: {}", problems.join("; ")))
    })
}

/// The endpoint security group admits TCP 443 from the SageMaker group.
async fn endpoint_sg(ctx: &Ctx) -> Verdict {
    let (id, sm) = (ctx.state.id(&StepId::SG_VPCE)?, ctx.state.id(&StepId::SG_SAGEMAKER)?);
    let out = ctx
        .aws
        .ec2
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading security group {id}"))?;
    let admits = out.security_groups().iter().flat_map(|g| g.ip_permissions()).any(|p| {
        let proto = p.ip_protocol().unwrap_or_default();
        let port = proto == "-1"
            || (proto == "tcp" && p.from_port().unwrap_or(i32::MAX) <= 443 && p.to_port().unwrap_or(i32::MIN) >= 443);
        port && p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(sm.as_str()))
    });
    Ok(if admits {
        (true, format!("{id} admits tcp 443 from {sm}"))
    } else {
        (false, format!("{id} has no ingress rule admitting tcp 443 from {sm}"))
    })
}

async fn ebs_key_rotation(ctx: &Ctx) -> Verdict {
    let key = ctx.state.id(&StepId::KMS_EBS)?;
    let out = ctx
        .aws
        .kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading the rotation status of key {key}"))?;
    let on = out.key_rotation_enabled();
    Ok((on, format!("{key}: rotation {}", if on { "enabled" } else { "disabled" })))
}

/// Every Allow statement of the trust policy names sagemaker.amazonaws.com
/// and nothing else.
async fn role_trust(ctx: &Ctx) -> Verdict {
    let arn = ctx.state.id(&StepId::IAM_ROLE)?;
    let name = arn.rsplit('/').next().unwrap_or(&arn);
    let out = ctx
        .aws
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("reading role {name}"))?;
    let doc = out
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .with_context(|| format!("role {name} has no trust policy"))?;
    let doc = parse_policy(doc)?;
    let mut trusted = BTreeSet::new();
    for s in statements(&doc) {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match s.get("Principal") {
            Some(Value::Object(p)) => {
                for (kind, v) in p {
                    for who in strings(Some(v)) {
                        trusted.insert(format!("{kind}:{who}"));
                    }
                }
            }
            Some(other) => {
                trusted.insert(other.to_string());
            }
            None => {
                trusted.insert("NotPrincipal (everyone else)".into());
            }
        }
    }
    let only = BTreeSet::from(["Service:sagemaker.amazonaws.com".to_string()]);
    Ok(if trusted == only {
        (true, format!("{name} trusts sagemaker.amazonaws.com only"))
    } else {
        let all: Vec<String> = trusted.into_iter().collect();
        (false, format!("{name} trusts [{}], expected sagemaker.amazonaws.com only", all.join(", ")))
    })
}
