//! Network interfaces left `available` in the stack's VPC, and the
//! teardown of what they block: subnets, security groups, the VPC.
//!
//! SageMaker's ENIs (its apps', its domain's) go away on their own, but
//! late: they can turn `available` minutes after their owner is gone
//! (terraform-provider-aws #34397; cloudformation-coverage-roadmap #1327),
//! and until then DeleteSubnet and DeleteSecurityGroup answer
//! DependencyViolation. One sweep right after the mount targets go can be
//! too early, so every such delete repeats within `DRAIN_BOUND` and sweeps
//! again each time it is refused (`delete_draining`).
//!
//! Only real leftovers of the stack are touched: an ENI of the stack's VPC
//! that is `available`, not requester-managed, and whose description names
//! a resource the state records (SageMaker describes the ENIs of a domain's
//! apps "[DO NOT DELETE] ENI managed by SageMaker for Studio Domain(d-…)",
//! EFS its mount targets' "EFS mount target for fs-…"): one someone else
//! left in the VPC is not provably ours, and stays. One still `in-use`, or
//! requester-managed (a NAT gateway's, an endpoint's, a mount target's: its
//! service deletes it with its owner, and refuses DeleteNetworkInterface —
//! EC2 User Guide, "Requester-managed network interfaces"), is left to its
//! owner. One leftover that cannot be deleted does not stop the others.

use std::sync::Mutex;

use anyhow::Result;
use aws_sdk_ec2::types::{NetworkInterface, NetworkInterfaceStatus};

use super::{Ctx, DRAIN_BOUND, ec2_filter, is_dependency_violation};
use crate::error::{aws, gone_ok};
use crate::wait::retry_while;

/// What a delete is refused for: the ENIs in a subnet, those using a
/// security group, or any in the VPC.
#[derive(Debug, Clone, Copy)]
pub enum Blocked<'a> {
    Subnet(&'a str),
    Group(&'a str),
    Vpc,
}

/// What one sweep found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Leftovers deleted.
    pub deleted: Vec<String>,
    /// Leftovers whose DeleteNetworkInterface failed: (id, the error).
    pub failed: Vec<(String, String)>,
    /// ENIs in scope that are not leftovers (in use, or their service's):
    /// (id, status, requester-managed).
    pub held: Vec<(String, String, bool)>,
}

impl Sweep {
    /// The ENIs that still block, each by id, for an error message (empty: none).
    pub fn blocking(&self) -> String {
        let mut parts: Vec<String> =
            self.failed.iter().map(|(id, e)| format!("{id} (available, not deleted: {e})")).collect();
        parts.extend(self.held.iter().map(|(id, status, managed)| {
            format!("{id} ({status}{})", if *managed { ", managed by its service" } else { "" })
        }));
        parts.join("; ")
    }
}

/// Whether an ENI is a leftover the sweep may delete: available, not its
/// service's, and named after one of `ours` (`super::recorded_ids`).
pub fn is_leftover(eni: &NetworkInterface, ours: &[String]) -> bool {
    let description = eni.description().unwrap_or_default();
    eni.status() == Some(&NetworkInterfaceStatus::Available)
        && eni.requester_managed() != Some(true)
        && ours.iter().any(|id| description.contains(id.as_str()))
}

/// Deletes the leftover ENIs of the VPC `vpc` in `scope` (all of them in
/// the VPC for `Blocked::Vpc`), each tried even after another failed.
pub async fn sweep(ctx: &Ctx, vpc: &str, scope: Blocked<'_>) -> Result<Sweep> {
    let mut req = ctx.aws.ec2.describe_network_interfaces().filters(ec2_filter("vpc-id", vpc));
    req = match scope {
        Blocked::Subnet(s) => req.filters(ec2_filter("subnet-id", s)),
        Blocked::Group(g) => req.filters(ec2_filter("group-id", g)),
        Blocked::Vpc => req,
    };
    let enis: Vec<NetworkInterface> = req.into_paginator().items().send().try_collect().await.map_err(aws)?;
    let ours = super::recorded_ids(ctx);
    let mut out = Sweep::default();
    for eni in &enis {
        let Some(id) = eni.network_interface_id() else { continue };
        // The filter is checked here too: an ENI of another VPC is never touched.
        if eni.vpc_id().is_some_and(|v| v != vpc) {
            continue;
        }
        if !is_leftover(eni, &ours) {
            let mut status = eni.status().map(|s| s.as_str()).unwrap_or("unknown").to_string();
            if eni.status() == Some(&NetworkInterfaceStatus::Available) && eni.requester_managed() != Some(true) {
                status.push_str(", not this stack's: its description names nothing the state records");
            }
            out.held.push((id.to_string(), status, eni.requester_managed() == Some(true)));
            continue;
        }
        tracing::info!(eni = id, "deleting leftover network interface");
        match gone_ok(ctx.aws.ec2.delete_network_interface().network_interface_id(id).send().await.map_err(aws)) {
            Ok(()) => out.deleted.push(id.to_string()),
            Err(e) => out.failed.push((id.to_string(), format!("{e:#}"))),
        }
    }
    Ok(out)
}

/// Runs `op` (a DeleteSubnet, DeleteSecurityGroup or DeleteVpc) again while
/// it answers DependencyViolation, within `DRAIN_BOUND`; each time it is
/// refused, first sweeps the leftover ENIs that block it (`scope`, in the
/// stack's VPC `vpc`; `None`: the VPC is not recorded, nothing is swept).
/// Refused still at the bound: the error names each ENI that blocks, by id —
/// the leftovers it could not delete and those in use.
pub async fn delete_draining<T, F, Fut>(ctx: &Ctx, vpc: Option<&str>, scope: Blocked<'_>, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let last: Mutex<Option<Sweep>> = Mutex::new(None);
    let r = retry_while(DRAIN_BOUND, is_dependency_violation, || {
        let call = op();
        let last = &last;
        async move {
            let r = call.await;
            if let (Err(e), Some(vpc)) = (&r, vpc)
                && is_dependency_violation(e)
            {
                match sweep(ctx, vpc, scope).await {
                    Ok(s) => {
                        if !s.deleted.is_empty() {
                            tracing::info!(deleted = ?s.deleted, "swept leftover network interfaces; trying again");
                        }
                        *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
                    }
                    Err(se) => tracing::warn!("listing leftover network interfaces: {se:#}"),
                }
            }
            r
        }
    })
    .await;
    match r {
        Err(e) if is_dependency_violation(&e) => {
            let blocking = last.into_inner().unwrap_or_else(|p| p.into_inner()).map(|s| s.blocking());
            match blocking.filter(|b| !b.is_empty()) {
                Some(b) => Err(e.context(format!(
                    "still blocked at the drain bound ({} min, scaled) by network interfaces of {}: {b}",
                    DRAIN_BOUND.as_secs() / 60,
                    vpc.unwrap_or("the VPC")
                ))),
                None => Err(e),
            }
        }
        r => r,
    }
}
