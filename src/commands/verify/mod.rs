//! `provision verify`: reads the live stack and checks each security control
//! the original sample claimed, one line per control with the evidence read.
//! Ids come from the state; everything judged comes from AWS. A control that
//! cannot be read (a missing resource, a refused call) fails with the reason,
//! the others are still checked. Exit 1 when any fails.
//!
//! Beside the controls that check a required setting exists, one per kind
//! of resource checks that nothing is wider than the stack: every rule of
//! its security groups, every route of its route tables, every statement of
//! its bucket, S3 endpoint and key policies is the stack's or reported as an
//! extra, naming the control it weakens.
//!
//! `data.rs`: buckets (their access logs too), keys, the S3 endpoint policy, the execution role;
//! `network.rs`: the domain's network, routes, firewall, security groups;
//! `logs.rs`: flow log, firewall logging, log groups, the home EFS's key and backups;
//! `studio.rs`: the JupyterLab image of the apps, spaces and domain defaults;
//! `paths.rs`: the paths out of the SageMaker subnets (text output only).
//! `role.rs`: the execution role's guardrails, and nothing wider.

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::error::{EXIT_FAILED, Exit};
use crate::kinds::Ctx;
use crate::kinds::network_acl::Tier;

mod data;
mod logs;
mod network;
mod paths;
mod role;
mod routes;
mod studio;

use data::{
    buckets_access_logging, buckets_policy, buckets_public_access_block, buckets_sse_kms, buckets_versioning,
    ebs_key_rotation, endpoint_policy, endpoints_account_scoped, key_policies, role_trust, s3_key_rotation,
};
use network::{
    default_group_empty, domain_vpc_only, firewall_allow_list, firewall_policy, nacl_restricted, security_groups,
};
use routes::routes;

#[derive(Debug, Serialize)]
struct Control {
    control: &'static str,
    pass: bool,
    evidence: String,
}

/// A check's verdict and evidence.
pub(super) type Verdict = Result<(bool, String)>;

/// The verdicts of controls judged from one read: each, or the read's error for each.
fn each<const N: usize>(r: Result<[(bool, String); N]>) -> [Verdict; N] {
    match r {
        Ok(v) => v.map(Ok),
        Err(e) => {
            let why = format!("{e:#}");
            std::array::from_fn(|_| Err(anyhow!("{why}")))
        }
    }
}

pub async fn run(ctx: &Ctx, json: bool) -> Result<()> {
    // Without its firewall the stack is not up (`down` removes it first of all, `up` builds
    // it): every network control would fail for that one reason, so say it once.
    if ctx.state.record(&crate::step_id::StepId::FIREWALL).and_then(|r| r.id).is_none() {
        return Err(Exit(
            EXIT_FAILED,
            format!(
                "stack {} is not up: the state {} records no firewall (`provision down` removed it, or `provision up` has not built it yet), so there is nothing to verify; `provision status` says what is kept, `provision up` builds the stack again",
                ctx.stack(),
                ctx.state.location()
            ),
        )
        .into());
    }
    let _pass = ctx.reads.pass();
    let (sse, pab, bucket_policies, vpce_policy, domain, routes, firewall, policy, groups, rotation, keys, trust) = tokio::join!(
        buckets_sse_kms(ctx),
        buckets_public_access_block(ctx),
        buckets_policy(ctx),
        endpoint_policy(ctx),
        domain_vpc_only(ctx),
        routes(ctx),
        firewall_allow_list(ctx),
        firewall_policy(ctx),
        security_groups(ctx),
        ebs_key_rotation(ctx),
        key_policies(ctx),
        role_trust(ctx),
    );
    let [policy_vpce_only, policy_no_extra, tls] = each(bucket_policies);
    let [vpce_policy, vpce_policy_no_extra] = each(vpce_policy);
    let [sm_route, nat_route, edge_route, no_extra_route] = each(routes);
    let [vpce_tls, vpce_rules, sagemaker_rules] = each(groups);
    let [default_drop, no_stateless_bypass] = each(policy);
    let mut results = vec![
        ("buckets.sse_kms", sse),
        ("buckets.public_access_block", pab),
        ("buckets.policy_vpce_only", policy_vpce_only),
        ("buckets.policy_no_extra", policy_no_extra),
        ("vpce.s3.policy", vpce_policy),
        ("vpce.s3.policy_no_extra", vpce_policy_no_extra),
        ("domain.vpc_only", domain),
        ("route.sagemaker_default", sm_route),
        ("route.nat_default", nat_route),
        ("route.igw_edge", edge_route),
        ("routes.no_extra", no_extra_route),
        ("firewall.allow_list", firewall),
        ("firewall.default_drop", default_drop),
        ("firewall.no_stateless_bypass", no_stateless_bypass),
        ("sg.vpce_tls", vpce_tls),
        ("sg.vpce_rules", vpce_rules),
        ("sg.sagemaker_rules", sagemaker_rules),
        ("kms.ebs_rotation", rotation),
        ("kms.key_policies", keys),
        ("iam.role_trust", trust),
    ];
    let (home_kms, image, guardrails) =
        tokio::join!(logs::domain_home_kms(ctx), studio::jupyterlab_image(ctx), role::role_guardrails(ctx));
    let [guardrails, role_no_extra] = each(guardrails);
    results.push(("iam.role_guardrails", guardrails));
    results.push(("iam.role_no_extra", role_no_extra));
    results.push(("domain.home_efs_kms", home_kms));
    // Issue 30's controls.
    let (scoped, versioning, access_logging, s3_rotation, default_sg, nacl, nacl_nat, nacl_firewall, efs_backup) = tokio::join!(
        endpoints_account_scoped(ctx),
        buckets_versioning(ctx),
        buckets_access_logging(ctx),
        s3_key_rotation(ctx),
        default_group_empty(ctx),
        nacl_restricted(ctx, Tier::Sagemaker),
        nacl_restricted(ctx, Tier::Nat),
        nacl_restricted(ctx, Tier::Firewall),
        logs::home_efs_backup(ctx),
    );
    results.extend([
        ("vpce.account_scoped", scoped),
        ("buckets.tls_only", tls),
        ("buckets.versioning", versioning),
        ("buckets.access_logging", access_logging),
        ("kms.s3_rotation", s3_rotation),
        ("vpc.default_sg_empty", default_sg),
        (Tier::Sagemaker.control(), nacl),
        (Tier::Nat.control(), nacl_nat),
        (Tier::Firewall.control(), nacl_firewall),
        ("efs.backup", efs_backup),
    ]);
    results.push(("studio.jupyterlab_image", image));
    if ctx.s.logging {
        let (flow_log, firewall, groups) =
            tokio::join!(logs::vpc_flow_log(ctx), logs::firewall_logging(ctx), logs::log_groups(ctx));
        let [alert, flow] = each(firewall);
        let [encryption, retention] = each(groups);
        results.extend([
            ("logs.vpc_flow_log", flow_log),
            ("logs.firewall_alert", alert),
            ("logs.firewall_flow", flow),
            ("logs.encryption", encryption),
            ("logs.retention", retention),
        ]);
    }
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
        let width = crate::progress::stdout_width();
        for c in &controls {
            let verdict = if c.pass { "PASS" } else { "FAIL" };
            println!("{}", control_line(verdict, c.control, &c.evidence, width));
        }
        let header = "Paths out of the SageMaker subnets (destination -> through what: allowed by what):";
        println!("\n{}", fit_lines(header, 0, 2, width));
        match paths::paths(ctx).await {
            Ok(lines) => lines.iter().for_each(|l| {
                // Each line keeps its own indentation; what does not fit goes 4 deeper.
                let indent = 2 + l.len() - l.trim_start_matches(' ').len();
                println!("{}", fit_lines(l.trim_start_matches(' '), indent, indent + 4, width))
            }),
            Err(e) => println!("  could not read them: {e:#}"),
        }
        println!();
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

/// A control's line: `PASS  name  evidence`, whole in a pipe (for scripts).
/// On a terminal of `width` columns, when that does not fit, the evidence
/// goes word-wrapped under the name (`fit_lines`).
fn control_line(verdict: &str, control: &str, evidence: &str, width: Option<usize>) -> String {
    let line = format!("{verdict}  {control:<28} {evidence}");
    match width {
        Some(w) if line.chars().count() > w => {
            format!("{verdict}  {control}\n{}", fit_lines(evidence, 6, 6, width))
        }
        _ => line,
    }
}

/// `text` indented by `first` spaces, then word-wrapped to `width` with
/// continuation lines indented by `rest`; whole without a width. An id
/// longer than a line (an ARN) is split after a `/` or `:` so that each
/// piece still reads as a part of it (`arn:aws:…:firewall-policy/` then the
/// name), never inside a name unless it has no such place.
fn fit_lines(text: &str, first: usize, rest: usize, width: Option<usize>) -> String {
    let Some(width) = width else { return format!("{}{text}", " ".repeat(first)) };
    // A piece of an id starts a line of its own when it does not fit after other words.
    let room = width.saturating_sub(rest).max(20);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = " ".repeat(first);
    let mut indent = first;
    let len = |s: &str| s.chars().count();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        for (k, piece) in split_id(word, room).into_iter().enumerate() {
            let empty = len(&cur) == indent;
            let fits = len(&cur) + usize::from(!empty) + len(piece) <= width;
            if k > 0 || (!empty && !fits) {
                lines.push(std::mem::replace(&mut cur, " ".repeat(rest)));
                indent = rest;
            } else if !empty {
                cur.push(' ');
            }
            cur.push_str(piece);
        }
    }
    lines.push(cur);
    lines.join("\n")
}

/// `word` in pieces of at most `room` characters, each ending after a `/`
/// or `:` where one is far enough in; else cut at `room`.
fn split_id(word: &str, room: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = word;
    while rest.chars().count() > room {
        let limit = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
        let cut = rest[..limit].rfind(['/', ':']).map(|i| i + 1).filter(|&i| i >= limit / 3).unwrap_or(limit);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod fit_tests {
    use super::*;

    #[test]
    fn a_control_fits_the_terminal_with_its_ids_in_readable_pieces() {
        let arn = "arn:aws:network-firewall:us-east-1:123456789012:firewall-policy/network-firewall-policy-sagemaker-studio-anfw";
        let evidence = format!("{arn}: STRICT_ORDER; the domain list the only pass, then aws:drop_established");
        // In a pipe: one line, whole.
        assert_eq!(control_line("PASS", "firewall.default_drop", &evidence, None).lines().count(), 1);
        let text = control_line("PASS", "firewall.default_drop", &evidence, Some(80));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "PASS  firewall.default_drop");
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{text}");
        assert!(lines[1..].iter().all(|l| l.starts_with("      ")), "{text}");
        // The ARN is split after its '/', the name whole on the next line.
        assert!(
            lines.iter().any(|l| l.trim() == "arn:aws:network-firewall:us-east-1:123456789012:firewall-policy/"),
            "{text}"
        );
        assert!(
            lines.iter().any(|l| l.trim_start().starts_with("network-firewall-policy-sagemaker-studio-anfw:")),
            "{text}"
        );
        // Every word of the evidence is there, in order.
        let joined: String = lines[1..].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
        assert_eq!(joined.replace("policy/ network", "policy/network"), evidence);
        // A short line stays one line.
        assert_eq!(control_line("PASS", "efs.backup", "fs-1 backups ENABLED", Some(80)).lines().count(), 1);
    }
}
