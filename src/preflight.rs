//! Pre-flight: what can be known about the account before `up` creates
//! anything is checked before it, with read-only calls made concurrently,
//! and every problem is reported at once (exit 2, as parameter validation):
//!
//! - the region offers AWS Network Firewall and Amazon SageMaker, as AWS's
//!   public parameters of regions and services say (`services`; a warning
//!   with `--any-region`, and a warning, not a stop, when they cannot be read);
//! - every zone exists in the region and is available (DescribeAvailabilityZones),
//!   and every endpoint service the stack uses is offered there
//!   (DescribeVpcEndpointServices lists each service's zones);
//! - every unique name the stack would create is free, or already this
//!   stack's and recorded (`Kind::name_in_use`): a name held by another
//!   stack or nobody we know is refused with the flag that changes it; one
//!   tagged as this stack's but not recorded means another state file
//!   manages the stack;
//! - the VPC CIDR against the region's VPCs: an overlap is a warning
//!   (peering and VPN between them would not route), an error with `--strict`;
//! - quota headroom for what this run adds: VPCs, internet gateways, Elastic
//!   IPs, NAT gateways per zone (the applied value from Service Quotas where it
//!   answers, else AWS's documented default) and firewalls (documented default);
//! - the JupyterLab apps' image: a region AWS's table of SageMaker
//!   Distribution images does not cover (`config/app_image.rs`) needs
//!   `app_image`, or the last step, CreateApp, would be refused (no call).
//!
//! Only steps the state does not record are checked: what is recorded is the
//! stack's own, and an interrupted create is `up`'s to resolve.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use aws_sdk_ec2::types::{AvailabilityZoneState, NatGatewayState};
use aws_sdk_ssm::operation::get_parameter::GetParameterError;

use crate::error::aws;
use crate::graph::{self, Graph, INTERFACE_ENDPOINTS};
use crate::kinds::{self, Ctx, NameUse, TAG_STACK};
use crate::step_id::StepId;

/// What pre-flight found.
#[derive(Debug, Default)]
pub struct Report {
    /// Each stops `up` (exit 2).
    pub problems: Vec<String>,
    /// Said, not stopping.
    pub warnings: Vec<String>,
    /// How many checks ran.
    pub checks: usize,
}

impl Report {
    fn merge(&mut self, other: Result<Report>, what: &str) {
        match other {
            Ok(r) => {
                self.problems.extend(r.problems);
                self.warnings.extend(r.warnings);
                self.checks += r.checks;
            }
            Err(e) => {
                self.problems.push(format!("{what}: could not be checked: {e:#}"));
                self.checks += 1;
            }
        }
    }
}

/// Runs every check; `strict` makes a CIDR overlap an error.
/// `adopt`: the stack's unrecorded resources are to be taken over, not refused.
pub async fn check(ctx: &Arc<Ctx>, strict: bool, adopt: bool) -> Report {
    // One listing per EC2 kind serves the names, the CIDR and the quotas
    // (`Reads`); `plan`'s pass, when it runs inside one, keeps them for the plan.
    let _pass = ctx.reads.pass();
    let graph = graph::build(&ctx.s);
    let (services, zones, names, cidr, quotas) =
        tokio::join!(services(ctx), zones(ctx), names(ctx, &graph, adopt), cidr(ctx, strict), quotas(ctx, &graph));
    let mut r = Report { checks: 1, ..Default::default() };
    if let Err(why) = ctx.s.jupyter_image() {
        r.problems.push(why);
    }
    r.merge(Ok(services), "services");
    r.merge(zones, "availability zones");
    r.merge(names, "names");
    r.merge(cidr, "vpc_cidr");
    r.merge(quotas, "quotas");
    r
}

/// The services the stack needs in its region, by their names in AWS's public
/// parameters, and what the messages call them.
const REGION_SERVICES: [(&str, &str); 2] =
    [("network-firewall", "AWS Network Firewall"), ("sagemaker", "Amazon SageMaker")];

/// Whether the region offers each of `REGION_SERVICES`: AWS Systems Manager's
/// public parameter `/aws/service/global-infrastructure/regions/{region}/services/{service}`
/// exists exactly when it does (AWS Systems Manager user guide, "Calling public
/// parameters for AWS services, Regions, endpoints, Availability Zones, local
/// zones, and Wavelength Zones in Parameter Store",
/// <https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters-global-infrastructure.html>,
/// read 2026-12-05: the services of a region are the parameters under
/// `/aws/service/global-infrastructure/regions/{region}/services`). One
/// GetParameter per service (two calls, where GetParametersByPath on
/// `/aws/service/global-infrastructure/services/{service}/regions` would page
/// through every region ten at a time), asked in a region that answers the
/// path (`aws::global_infrastructure_region`). The answer can only stop `up`:
/// a parameter that cannot be read (access denied, Systems Manager not
/// reachable) is a warning and the run goes on without the check.
async fn services(ctx: &Ctx) -> Report {
    let region = &ctx.s.region;
    let (nfw, sagemaker) = tokio::join!(ask(ctx, REGION_SERVICES[0]), ask(ctx, REGION_SERVICES[1]));
    let mut r = Report::default();
    for (path, name, out) in [nfw, sagemaker] {
        r.checks += 1;
        match out {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => {
                let msg = format!(
                    "region: {region} does not offer {name}, which the stack needs (AWS's public parameter {path} does not exist)"
                );
                if ctx.s.any_region {
                    r.warnings.push(format!("{msg}; going on: --any-region"));
                } else {
                    r.problems.push(format!(
                        "{msg}; choose a region that offers it, or pass --any-region to try anyway"
                    ));
                }
            }
            Err(e) => r.warnings.push(format!(
                "region: whether {region} offers {name} could not be read from AWS's public parameter {path} ({:#}); going on without that check",
                aws(e)
            )),
        }
    }
    r
}

/// One service's parameter in the stack's region: (its path, the service's name, the answer).
async fn ask(
    ctx: &Ctx,
    (svc, name): (&str, &'static str),
) -> (String, &'static str, Result<(), aws_sdk_ssm::error::SdkError<GetParameterError>>) {
    let path = format!("/aws/service/global-infrastructure/regions/{}/services/{svc}", ctx.s.region);
    let out = ctx.aws.ssm.get_parameter().name(&path).send().await.map(|_| ());
    (path, name, out)
}

/// A kind's listing; `check` holds a read pass, so there is one.
fn in_pass<T>(listing: Result<Option<Arc<T>>>) -> Result<Arc<T>> {
    listing?.ok_or_else(|| anyhow::anyhow!("pre-flight read outside a read pass"))
}

fn unrecorded(ctx: &Ctx, step: &StepId) -> bool {
    ctx.state.record(step).is_none()
}

async fn zones(ctx: &Ctx) -> Result<Report> {
    let mut r = Report::default();
    let param = if ctx.s.zones.len() > 1 { "availability_zones" } else { "availability_zone" };
    // The endpoint services the stack uses, in every zone it spans: asked at
    // the same time as the zones (the pre-flight's start is on every run's
    // critical path).
    let mut services: Vec<String> =
        INTERFACE_ENDPOINTS.iter().map(|(_, _, svc, _)| svc.replace("{region}", &ctx.s.region)).collect();
    services.push(format!("com.amazonaws.{}.s3", ctx.s.region));
    let (zones_out, services_out) = tokio::join!(
        ctx.aws.ec2.describe_availability_zones().send(),
        ctx.aws.ec2.describe_vpc_endpoint_services().set_service_names(Some(services.clone())).send()
    );
    let out = zones_out.map_err(aws)?;
    let available: Vec<&str> = out
        .availability_zones()
        .iter()
        .filter(|z| z.state() == Some(&AvailabilityZoneState::Available))
        .filter_map(|z| z.zone_name())
        .collect();
    for z in &ctx.s.zones {
        r.checks += 1;
        if !available.contains(&z.az.as_str()) {
            r.problems.push(format!(
                "{param}: '{}' is not an available zone of {} (available: {})",
                z.az,
                ctx.s.region,
                available.join(", ")
            ));
        }
    }
    let out = services_out.map_err(aws)?;
    let offered: BTreeMap<&str, Vec<&str>> = out
        .service_details()
        .iter()
        .filter_map(|d| Some((d.service_name()?, d.availability_zones().iter().map(String::as_str).collect())))
        .collect();
    for svc in &services {
        r.checks += 1;
        match offered.get(svc.as_str()) {
            None => r.problems.push(format!("region: {} does not offer the endpoint service {svc}", ctx.s.region)),
            Some(azs) => {
                let missing: Vec<&str> = ctx
                    .s
                    .zones
                    .iter()
                    .map(|z| z.az.as_str())
                    .filter(|z| available.contains(z) && !azs.contains(z))
                    .collect();
                if !missing.is_empty() {
                    r.problems.push(format!(
                        "{param}: the endpoint service {svc} is not offered in {} (it is in: {})",
                        missing.join(", "),
                        azs.join(", ")
                    ));
                }
            }
        }
    }
    Ok(r)
}

/// How many of the stack's resources found by their tags the refusal names.
const FOUND_NAMED: usize = 3;

/// Names, and the stack's own resources the state does not record (by
/// their tags: what `list_owned` finds for each taggable kind).
async fn names(ctx: &Arc<Ctx>, graph: &Graph, adopt: bool) -> Result<Report> {
    let mut set = tokio::task::JoinSet::new();
    for step in graph.steps.iter().filter(|s| unrecorded(ctx, &s.id)) {
        let (ctx, step) = (ctx.clone(), step.clone());
        set.spawn(async move {
            let used = match step.kind.list_owned(&ctx, &step.id).await {
                Ok(Some(ids)) if !ids.is_empty() => Ok(NameUse::Ours(ids.join(", "))),
                Ok(_) => step.kind.name_in_use(&ctx, &step.id).await,
                Err(e) => Err(e),
            };
            (step, used)
        });
    }
    let mut r = Report::default();
    let mut found = Vec::new();
    while let Some(res) = set.join_next().await {
        found.push(res?);
    }
    found.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let mut ours = Vec::new();
    for (step, used) in found {
        r.checks += 1;
        match used {
            Ok(NameUse::Free) => {}
            Ok(NameUse::Ours(holder)) => ours.push(format!("{} ({holder})", step.id)),
            Ok(NameUse::Foreign { holder, change }) => r.problems.push(format!(
                "{}: the name the stack would give its {} is taken by {holder}; choose another with {change}",
                step.id,
                step.kind_name()
            )),
            Err(e) => r.problems.push(format!("{}: could not check its name: {e:#}", step.id)),
        }
    }
    if !ours.is_empty() && !adopt {
        // A few named, the rest counted (the whole list at RUST_LOG=info): the message stays a paragraph.
        tracing::info!("stack {} found by its tags: {}", ctx.stack(), ours.join("; "));
        let named = match ours.len() {
            n if n <= FOUND_NAMED => ours.join("; "),
            n => format!(
                "{}; and {} more (`RUST_LOG=info` lists every one)",
                ours[..FOUND_NAMED].join("; "),
                n - FOUND_NAMED
            ),
        };
        r.problems.push(format!(
            "stack {} already exists in this account and region: {} of its resources carry its provision:stack tag but the state file {} does not record them. Either another state file manages this stack (point --state at it), or the state was lost: `provision up --adopt` takes the stack over from what is found. Found: {named}",
            ctx.stack(),
            ours.len(),
            ctx.state.location(),
        ));
    }
    Ok(r)
}

async fn cidr(ctx: &Ctx, strict: bool) -> Result<Report> {
    let mut r = Report { checks: 1, ..Default::default() };
    let ours = ctx.state.record(&StepId::VPC).and_then(|rec| rec.id);
    for vpc in in_pass(kinds::vpc::listed(ctx).await)?.iter() {
        let id = vpc.vpc_id().unwrap_or_default();
        let this_stack = vpc.tags().iter().any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(ctx.stack()));
        if Some(id) == ours.as_deref() || this_stack {
            continue;
        }
        let blocks = vpc.cidr_block_association_set().iter().filter_map(|a| a.cidr_block());
        for block in blocks.chain(vpc.cidr_block()) {
            let Ok(net) = block.parse::<ipnet::Ipv4Net>() else { continue };
            let v = ctx.s.vpc_cidr;
            if v.contains(&net) || net.contains(&v) {
                let msg = format!(
                    "vpc_cidr: {v} overlaps {id} ({net}): peering or a VPN between them would not route{}",
                    if strict { "" } else { " (a warning; --strict makes it an error)" }
                );
                if strict {
                    r.problems.push(msg)
                } else {
                    r.warnings.push(msg)
                }
                break;
            }
        }
    }
    Ok(r)
}

/// A quota: (Service Quotas service code, quota code, name, documented default).
type Quota = (&'static str, &'static str, &'static str, f64);

/// Amazon VPC quotas (VPC user guide, "Amazon VPC quotas"), EC2 Elastic IP
/// addresses (EC2 user guide, "Elastic IP address quota"), AWS Network
/// Firewall quotas (developer guide: 5 firewalls per account per Region).
const VPCS: Quota = ("vpc", "L-F678F1CE", "VPCs per Region", 5.0);
const IGWS: Quota = ("vpc", "L-A4707A72", "Internet gateways per Region", 5.0);
const NATS: Quota = ("vpc", "L-FE5A380F", "NAT gateways per Availability Zone", 5.0);
const EIPS: Quota = ("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs", 5.0);
const FIREWALLS: Quota = ("network-firewall", "", "Firewalls per account per Region", 5.0);

/// The applied value from Service Quotas where it answers, else the default.
async fn limit(ctx: &Ctx, q: Quota) -> (f64, &'static str) {
    let (service, code, _, default) = q;
    if code.is_empty() {
        return (default, "AWS's documented default");
    }
    match ctx.aws.quotas.get_service_quota().service_code(service).quota_code(code).send().await {
        Ok(out) => match out.quota().and_then(|q| q.value()) {
            Some(v) => (v, "Service Quotas"),
            None => (default, "AWS's documented default"),
        },
        Err(e) => {
            tracing::debug!("Service Quotas has no answer for {service} {code}: {}", aws(e));
            (default, "AWS's documented default")
        }
    }
}

fn headroom(r: &mut Report, ctx: &Ctx, q: Quota, limit: (f64, &str), used: usize, adds: usize, scope: &str) {
    r.checks += 1;
    if adds == 0 || (used + adds) as f64 <= limit.0 {
        return;
    }
    let (service, code, name, _) = q;
    let code = if code.is_empty() { String::new() } else { format!(", quota {code}") };
    r.problems.push(format!(
        "quota: {name}{scope}: {used} in use + {adds} this stack adds > {} ({}); remove unused ones or raise it in the Service Quotas console (service {service}{code}, region {})",
        limit.0, limit.1, ctx.s.region
    ));
}

async fn quotas(ctx: &Ctx, graph: &Graph) -> Result<Report> {
    let new = |base: &StepId| graph.steps.iter().filter(|s| s.id.is_zone_of(base) && unrecorded(ctx, &s.id)).count();
    let (vpcs, igws, eips, nats, subnets, fws, l_vpc, l_igw, l_eip, l_nat, l_fw) = tokio::join!(
        kinds::vpc::listed(ctx),
        kinds::internet_gateway::listed(ctx),
        kinds::eip::listed(ctx),
        kinds::nat_gateway::listed(ctx),
        kinds::subnet::listed(ctx),
        ctx.aws.nfw.list_firewalls().send(),
        limit(ctx, VPCS),
        limit(ctx, IGWS),
        limit(ctx, EIPS),
        limit(ctx, NATS),
        limit(ctx, FIREWALLS),
    );
    let mut r = Report::default();
    headroom(&mut r, ctx, VPCS, l_vpc, in_pass(vpcs)?.len(), new(&StepId::VPC), "");
    headroom(&mut r, ctx, IGWS, l_igw, in_pass(igws)?.len(), new(&StepId::IGW), "");
    headroom(&mut r, ctx, EIPS, l_eip, in_pass(eips)?.len(), new(&StepId::EIP), "");
    headroom(&mut r, ctx, FIREWALLS, l_fw, fws.map_err(aws)?.firewalls().len(), new(&StepId::FIREWALL), "");
    // NAT gateways count per zone: map each live gateway's subnet to its zone.
    let (nats, subnets) = (in_pass(nats)?, in_pass(subnets)?);
    // "NAT gateways in the pending, active, and deleting states count toward your quota" (VPC
    // user guide, "Amazon VPC quotas"); the emulator refuses the create past it the same way
    // (emulator/provision_emulator/quotas.py).
    let live = nats.iter().filter(|g| {
        matches!(g.state(), Some(NatGatewayState::Pending | NatGatewayState::Available | NatGatewayState::Deleting))
    });
    let az_of: BTreeMap<&str, &str> =
        subnets.iter().filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?))).collect();
    let mut per_az: BTreeMap<String, usize> = BTreeMap::new();
    for g in live {
        if let Some(az) = g.subnet_id().and_then(|s| az_of.get(s)) {
            *per_az.entry(az.to_string()).or_default() += 1;
        }
    }
    for (i, z) in ctx.s.zones.iter().enumerate() {
        let adds = usize::from(unrecorded(ctx, &StepId::NAT.in_zone(i, &z.az)));
        let used = per_az.get(&z.az).copied().unwrap_or(0);
        headroom(&mut r, ctx, NATS, l_nat, used, adds, &format!(" ({})", z.az));
    }
    Ok(r)
}
