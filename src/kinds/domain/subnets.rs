//! The domain's subnets: what UpdateDomain sends to bring them to the
//! stack's zones, and the apps that keep SageMaker from removing one.

use anyhow::{Context, Result, bail};
use aws_sdk_sagemaker::types::{AppStatus, DomainStatus};

use crate::error::aws;
use crate::kinds::Ctx;
use crate::wait::{Poll, until};

/// The SubnetIds an UpdateDomain sends to bring the domain's `current`
/// subnets to `wanted` (None: nothing to change). UpdateDomain's `SubnetIds`
/// is the whole list ("The VPC subnets that Studio uses for
/// communication"), and it can remove subnets: "If removing subnets, ensure
/// there are no apps in the InService, Pending, or Deleting state"
/// (SageMaker API reference, UpdateDomain). `remove`: the subnets not in
/// `wanted` are dropped (a zone removed from the stack); else they stay
/// (`up` only adds a zone's subnet and never removes one).
pub fn subnet_update(current: &[String], wanted: &[String], remove: bool) -> Option<Vec<String>> {
    let mut out: Vec<String> = current.iter().filter(|s| !remove || wanted.contains(s)).cloned().collect();
    for w in wanted {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    (out != current).then_some(out)
}

/// The app states in which SageMaker refuses to remove a domain's subnets
/// (UpdateDomain API reference, `SubnetIds`).
pub(super) const BLOCKS_SUBNET_REMOVAL: [AppStatus; 3] =
    [AppStatus::InService, AppStatus::Pending, AppStatus::Deleting];

/// Why removing `removed` from the domain `id` must wait (None: it need not):
/// the apps of the domain (`owner/type/name (status)`) that SageMaker counts.
pub fn removal_refusal(id: &str, removed: &[String], apps: &[String]) -> Option<String> {
    (!removed.is_empty() && !apps.is_empty()).then(|| {
        format!(
            "cannot remove subnet(s) {} from domain {id}: SageMaker removes a domain's subnets only while none of its apps is InService, Pending or Deleting (UpdateDomain API reference), and {} {}: {}; stop them first (`provision stop --user U` for the stack's own, DeleteApp for others)",
            removed.join(", "),
            apps.len(),
            if apps.len() == 1 { "is" } else { "are" },
            apps.join(", ")
        )
    })
}

/// The domain's apps that block removing a subnet, `owner/type/name
/// (status)`: every app ListApps shows InService, Pending or Deleting
/// (paginated; an app deleted and made again is listed twice, its Deleted
/// record blocks nothing).
pub async fn apps_blocking_subnet_removal(ctx: &Ctx, id: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = ctx.aws.sagemaker.list_apps().domain_id_equals(id).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        for a in page.map_err(aws)?.apps() {
            let Some(status) = a.status().filter(|s| BLOCKS_SUBNET_REMOVAL.contains(s)) else { continue };
            out.push(format!(
                "{}/{}/{} ({})",
                a.space_name().or(a.user_profile_name()).unwrap_or_default(),
                a.app_type().map(|t| t.as_str()).unwrap_or_default(),
                a.app_name().unwrap_or_default(),
                status.as_str()
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Sets the subnets of the domain `id` to exactly `wanted` with UpdateDomain,
/// then waits until it is InService again; Ok(false) when they are already
/// those. Removing a subnet is refused here, before the call, while any app
/// of the domain runs (`removal_refusal`, naming them): SageMaker would
/// refuse it too (API reference), and a refusal that names the apps says
/// what to do. For the day a zone is removed from a live stack; `up` only
/// adds (`Domain::restore`).
pub async fn set_subnets(ctx: &Ctx, id: &str, wanted: &[String]) -> Result<bool> {
    let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
    let Some(list) = subnet_update(d.subnet_ids(), wanted, true) else { return Ok(false) };
    let removed: Vec<String> = d.subnet_ids().iter().filter(|s| !list.contains(s)).cloned().collect();
    if !removed.is_empty()
        && let Some(why) = removal_refusal(id, &removed, &apps_blocking_subnet_removal(ctx, id).await?)
    {
        bail!(why);
    }
    ctx.aws
        .sagemaker
        .update_domain()
        .domain_id(id)
        .set_subnet_ids(Some(list))
        .send()
        .await
        .map_err(aws)
        .with_context(|| format!("updating the subnets of domain {id}"))?;
    until("domain InService", Poll::expect(10, 30 * 60), || async {
        let d = ctx.aws.sagemaker.describe_domain().domain_id(id).send().await.map_err(aws)?;
        match d.status() {
            Some(DomainStatus::InService) => Ok(Some(())),
            Some(s @ (DomainStatus::Failed | DomainStatus::UpdateFailed)) => {
                bail!("domain {id} is {}: {}", s.as_str(), d.failure_reason().unwrap_or("no reason given"))
            }
            _ => Ok(None),
        }
    })
    .await?;
    Ok(true)
}
