//! `provision verify`: reads the live stack and checks each security control
//! the original sample claimed, one line per control with the evidence read.
//! Ids come from the state; everything judged comes from AWS. A control that
//! cannot be read (a missing resource, a refused call) fails with the reason,
//! the others are still checked. Exit 1 when any fails.

//!
//! `data.rs`: buckets, keys, the S3 endpoint policy, the execution role;
//! `network.rs`: the domain's network, routes, firewall, security group.

use anyhow::Result;
use serde::Serialize;

use crate::error::{EXIT_FAILED, Exit};
use crate::kinds::Ctx;

mod data;
mod network;

use data::{
    buckets_policy, buckets_public_access_block, buckets_sse_kms, ebs_key_rotation, endpoint_policy, role_trust,
};
use network::{domain_vpc_only, endpoint_sg, firewall_allow_list, routes};

#[derive(Debug, Serialize)]
struct Control {
    control: &'static str,
    pass: bool,
    evidence: String,
}

/// A check's verdict and evidence.
pub(super) type Verdict = Result<(bool, String)>;

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
