//! A network ACL per subnet tier (`nacl.sagemaker`, `nacl.nat`,
//! `nacl.firewall`; id = network ACL id), associated with that tier's subnet
//! in every zone in place of the VPC's default ACL (which allows all traffic
//! both ways). Its entries allow the flows the stack needs and nothing else;
//! network ACLs are stateless, so each flow's return traffic is an entry of
//! its own, on the ephemeral ports (VPC user guide, "Control subnet traffic
//! with network access control lists", "Ephemeral ports": "allow
//! inbound/outbound traffic on ephemeral ports 1024-65535" for the return of
//! requests made from the subnet, as NAT gateways and the instances of many
//! operating systems use that range). An ACL judges a packet when it enters
//! or leaves the subnet ("Network ACL basics"): a flow crossing three tiers
//! needs its request and its return allowed on each side of each crossing.
//!
//! The routes (`graph::build`) give the one path out of the VPC, per zone:
//! SageMaker subnet → (`rtb.sagemaker` 0.0.0.0/0) the zone's NAT gateway in
//! the NAT subnet, which rewrites the source to its own private address →
//! (`rtb.nat` 0.0.0.0/0) the zone's firewall endpoint in the firewall subnet
//! → (`rtb.firewall` 0.0.0.0/0) the internet gateway, which rewrites the NAT
//! gateway's private address to its Elastic IP. The return: the internet
//! gateway rewrites the Elastic IP back to the NAT gateway's private address
//! and sends it (`rtb.igw`, the edge table: the zone's NAT subnet CIDR) to
//! the zone's firewall endpoint → (local route) the NAT gateway → (its
//! translation) the SageMaker instance. Each tier's flows (README, "Network
//! ACLs"):
//!
//! - SageMaker subnets (`nacl.sagemaker`): all traffic among the SageMaker
//!   subnets of every zone (Studio's apps, the interface endpoints' ENIs —
//!   a client may be handed another zone's —, the home EFS's mount targets
//!   (NFS), apps to each other: `sg.sagemaker` admits itself); out to
//!   anywhere on TCP 443 and 80 (to the NAT gateway, towards the firewall's
//!   allow-list, which judges TLS SNI and HTTP Host; and S3 through the
//!   gateway endpoint, whose prefix list an ACL cannot name), and their
//!   return on TCP 1024-65535 from anywhere.
//! - NAT subnets (`nacl.nat`): in, TCP 443 and 80 from the SageMaker subnets
//!   (the instance's request, source its own address, destination the
//!   internet host); out, TCP 443 and 80 to anywhere (the request, source
//!   now the NAT gateway's address, towards the firewall endpoint); in, TCP
//!   1024-65535 from anywhere (the return, from the internet host's address
//!   to the NAT gateway's port, which NAT gateways take from 1024-65535);
//!   out, TCP 1024-65535 to the SageMaker subnets (the return translated to
//!   the instance's address and port). The entries AWS recommends for a NAT
//!   gateway's subnet, narrowed to the two ports and the SageMaker subnets
//!   (VPC user guide, "Example: VPC with servers in private subnets and
//!   NAT"; AWS Knowledge Center, "How do I troubleshoot connectivity issues
//!   when I use NAT gateway on my private Amazon VPC?": the NAT subnet's ACL
//!   must allow the ephemeral range 1024-65535, or return traffic is
//!   dropped).
//! - Firewall subnets (`nacl.firewall`): in, TCP 443 and 80 from the NAT
//!   subnets (the NAT gateway's request, routed to the endpoint by
//!   `rtb.nat`); out, TCP 443 and 80 to anywhere (the endpoint passing it on
//!   to the internet gateway); in, TCP 1024-65535 from anywhere (the return,
//!   sent to the endpoint by the edge table, still addressed to the NAT
//!   gateway's port); out, TCP 1024-65535 to the NAT subnets (the endpoint
//!   passing the return on to the NAT gateway). A firewall endpoint (a
//!   Gateway Load Balancer endpoint, whose ENI AWS manages in the subnet)
//!   forwards packets unchanged, so the ACL sees the addresses above on
//!   both crossings; the firewall subnet holds nothing but the endpoints
//!   (Network Firewall developer guide, "VPC subnet configuration for AWS
//!   Network Firewall": a subnet per zone for the firewall endpoint, which
//!   cannot filter traffic of its own subnet). AWS documents nothing about
//!   network ACLs particular to firewall endpoints: that these entries pass
//!   the endpoint's traffic is reasoned from the routes and the addresses,
//!   and checked in the emulator only for what it models (entries,
//!   associations, the rule quota), not on a real account.
//!
//! What the firewall drops (anything but the allow-list, `firewall.*`) is
//! dropped between the NAT and the firewall tiers whatever the ACLs say;
//! what the ACLs deny (any other port or protocol, any source but the
//! stack's subnets) never reaches the firewall. DNS to the VPC resolver
//! needs no entry: "Network ACLs do not filter traffic destined to and from
//! the following: Amazon Domain Name Services (DNS), Amazon Dynamic Host
//! Configuration Protocol (DHCP), Amazon EC2 instance metadata, ..." (VPC
//! user guide, "Network ACL basics"). ICMP is allowed on no tier: the
//! TCP MSS the internet host announces keeps segments within the internet
//! gateway's 1500 bytes, but a narrower path further out would need ICMP's
//! "fragmentation needed" (path MTU discovery), which the ACLs deny (as the
//! SageMaker subnets' ACL did before the other tiers had one).
//!
//! Everything else meets each ACL's own `*` rule: denied.

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{NetworkAclEntry, PortRange, ResourceType, RuleAction};
use ipnet::Ipv4Net;

use super::{Change, Ctx, DRAIN_BOUND, Health, Kind, Property, is_dependency_violation};
use crate::config::{Settings, Zone};
use crate::error::{aws, gone_ok};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

impl StepId {
    pub const NACL_SAGEMAKER: StepId = StepId::of("nacl.sagemaker");
    pub const NACL_NAT: StepId = StepId::of("nacl.nat");
    pub const NACL_FIREWALL: StepId = StepId::of("nacl.firewall");
}

/// The subnet tier an ACL is for: its step, its subnets, its flows (the
/// module documentation) and the `verify` control that checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Sagemaker,
    Nat,
    Firewall,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Sagemaker, Tier::Nat, Tier::Firewall];

    /// Its step (`nacl.sagemaker`, ...).
    pub fn step(self) -> StepId {
        match self {
            Tier::Sagemaker => StepId::NACL_SAGEMAKER,
            Tier::Nat => StepId::NACL_NAT,
            Tier::Firewall => StepId::NACL_FIREWALL,
        }
    }

    /// The step of its subnet in a zone (`graph::per_zone` of it: every zone's).
    pub fn subnet(self) -> StepId {
        match self {
            Tier::Sagemaker => StepId::SUBNET_SAGEMAKER,
            Tier::Nat => StepId::SUBNET_NAT,
            Tier::Firewall => StepId::SUBNET_FIREWALL,
        }
    }

    /// The `verify` control that checks it live.
    pub fn control(self) -> &'static str {
        match self {
            Tier::Sagemaker => "vpc.nacl_restricted",
            Tier::Nat => "vpc.nacl_nat",
            Tier::Firewall => "vpc.nacl_firewall",
        }
    }

    /// Its Name tag's suffix (`nacl-{project}-{suffix}`).
    pub fn suffix(self) -> &'static str {
        match self {
            Tier::Sagemaker => "sagemaker",
            Tier::Nat => "nat-gateway",
            Tier::Firewall => "firewall",
        }
    }

    /// Its subnets, for messages and the day-two property.
    pub fn subnets_name(self) -> &'static str {
        match self {
            Tier::Sagemaker => "SageMaker subnets",
            Tier::Nat => "NAT subnets",
            Tier::Firewall => "firewall subnets",
        }
    }

    /// Its subnet's CIDR in a zone.
    pub fn cidr(self, z: &Zone) -> Ipv4Net {
        match self {
            Tier::Sagemaker => z.sagemaker,
            Tier::Nat => z.nat,
            Tier::Firewall => z.firewall,
        }
    }

    /// The tier whose requests it takes in and whose returns it sends back
    /// (the one before it on the path out): none for the SageMaker subnets.
    pub fn inner(self) -> Option<Tier> {
        match self {
            Tier::Sagemaker => None,
            Tier::Nat => Some(Tier::Sagemaker),
            Tier::Firewall => Some(Tier::Nat),
        }
    }

    /// Its entries for these zones (every zone's CIDRs).
    pub fn entries(self, zones: &[Zone]) -> Vec<Entry> {
        match self.inner() {
            None => sagemaker_entries(&zones.iter().map(|z| z.sagemaker).collect::<Vec<_>>()),
            Some(inner) => forwarding_entries(&zones.iter().map(|z| inner.cidr(z)).collect::<Vec<_>>()),
        }
    }

    /// Its flows in a line (`verify`'s evidence when it passes).
    pub fn flows(self) -> &'static str {
        match self {
            Tier::Sagemaker => "all traffic among the SageMaker subnets, tcp 443/80 out and its return on 1024-65535",
            Tier::Nat => {
                "tcp 443/80 in from the SageMaker subnets and out, the return in on 1024-65535 and out to the SageMaker subnets"
            }
            Tier::Firewall => {
                "tcp 443/80 in from the NAT subnets and out, the return in on 1024-65535 and out to the NAT subnets"
            }
        }
    }
}

/// The latency profile's entry: created as fast as a route table.
const PROFILE: &str = "ec2.route_table";

#[derive(Debug)]
pub struct NetworkAcl {
    pub tier: Tier,
    pub vpc: StepId,
    /// The tier's subnet in every zone.
    pub subnets: Vec<StepId>,
    pub name: String,
}

/// One entry as the stack writes it: (egress, rule number, protocol ("-1"
/// all, "6" TCP), CIDR, ports (None: all)).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub egress: bool,
    pub rule: i32,
    pub protocol: String,
    pub cidr: String,
    pub ports: Option<(i32, i32)>,
}

impl Entry {
    fn new(egress: bool, rule: i32, protocol: &str, cidr: &str, ports: Option<(i32, i32)>) -> Entry {
        Entry { egress, rule, protocol: protocol.to_string(), cidr: cidr.to_string(), ports }
    }

    /// How `verify` and drift name it: `egress 200 tcp 443 to 0.0.0.0/0`.
    pub fn shown(&self) -> String {
        let proto = match self.protocol.as_str() {
            "-1" => "all".to_string(),
            "6" => "tcp".to_string(),
            "17" => "udp".to_string(),
            p => format!("protocol {p}"),
        };
        let ports = match self.ports {
            None => String::new(),
            Some((a, b)) if a == b => format!(" {a}"),
            Some((a, b)) => format!(" {a}-{b}"),
        };
        let (dir, way) = if self.egress { ("egress", "to") } else { ("ingress", "from") };
        format!("{dir} {} {proto}{ports} {way} {}", self.rule, self.cidr)
    }
}

/// The ephemeral ports of return traffic (VPC user guide, "Ephemeral ports").
pub const EPHEMERAL: (i32, i32) = (1024, 65535);

/// The entries of the SageMaker subnets' ACL for these SageMaker subnet
/// CIDRs (every zone's): all traffic among them; TCP 443 and 80 out, and
/// their return on the ephemeral ports.
pub fn sagemaker_entries(subnets: &[Ipv4Net]) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, net) in subnets.iter().enumerate() {
        let rule = 100 + i as i32;
        out.push(Entry::new(false, rule, "-1", &net.to_string(), None));
        out.push(Entry::new(true, rule, "-1", &net.to_string(), None));
    }
    out.push(Entry::new(false, 200, "6", "0.0.0.0/0", Some(EPHEMERAL)));
    out.push(Entry::new(true, 200, "6", "0.0.0.0/0", Some((443, 443))));
    out.push(Entry::new(true, 210, "6", "0.0.0.0/0", Some((80, 80))));
    out
}

/// The entries of a tier that passes the path out on (the NAT and the
/// firewall subnets), for the CIDRs of the tier before it (every zone's):
/// TCP 443 and 80 in from those and out to anywhere; their return in from
/// anywhere on the ephemeral ports and out to those.
pub fn forwarding_entries(inner: &[Ipv4Net]) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, net) in inner.iter().enumerate() {
        let (rule, net) = (100 + i as i32, net.to_string());
        out.push(Entry::new(false, rule, "6", &net, Some((443, 443))));
        out.push(Entry::new(false, rule + 10, "6", &net, Some((80, 80))));
        out.push(Entry::new(true, rule, "6", &net, Some(EPHEMERAL)));
    }
    out.push(Entry::new(false, 200, "6", "0.0.0.0/0", Some(EPHEMERAL)));
    out.push(Entry::new(true, 200, "6", "0.0.0.0/0", Some((443, 443))));
    out.push(Entry::new(true, 210, "6", "0.0.0.0/0", Some((80, 80))));
    out
}

/// The stack's entries for a tier under the current settings.
pub fn wanted(ctx: &Ctx, tier: Tier) -> Vec<Entry> {
    tier.entries(&ctx.s.zones)
}

/// A live entry as the stack writes them (the ACL's `*` rule 32767 left out:
/// AWS puts it and nobody can change it).
pub fn entry_of(e: &NetworkAclEntry) -> Option<Entry> {
    let rule = e.rule_number()?;
    if rule == 32767 {
        return None;
    }
    let allow = e.rule_action() == Some(&RuleAction::Allow);
    let ports = e.port_range().and_then(|p| Some((p.from()?, p.to()?)));
    let cidr = e.cidr_block().or(e.ipv6_cidr_block()).unwrap_or_default();
    let mut out = Entry::new(e.egress()?, rule, e.protocol().unwrap_or("-1"), cidr, ports);
    if !allow {
        // A deny the stack never writes: shown as its own protocol so it never equals a wanted entry.
        out.protocol = format!("{} (deny)", out.protocol);
    }
    Some(out)
}

/// The live ACL `id`, its entries and the subnets associated with it: from
/// the read-only pass's listing when one runs (one DescribeNetworkAcls for
/// every read), else one describe by id. `None`: gone.
pub async fn described(ctx: &Ctx, id: &str) -> Result<Option<aws_sdk_ec2::types::NetworkAcl>> {
    if let Some(all) = super::ec2_tagged::listed::<aws_sdk_ec2::types::NetworkAcl>(ctx).await? {
        return Ok(all.iter().find(|a| a.network_acl_id() == Some(id)).cloned());
    }
    let r = ctx.aws.ec2.describe_network_acls().network_acl_ids(id).send().await.map_err(aws);
    match r {
        Err(e) if crate::error::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(o) => Ok(o.network_acls().first().cloned()),
    }
}

/// The ACL a subnet is associated with, and the association's id.
async fn association_of(ctx: &Ctx, subnet: &str) -> Result<Option<(String, String)>> {
    let out = ctx
        .aws
        .ec2
        .describe_network_acls()
        .filters(aws_sdk_ec2::types::Filter::builder().name("association.subnet-id").values(subnet).build())
        .send()
        .await
        .map_err(aws)?;
    for acl in out.network_acls() {
        for a in acl.associations() {
            if a.subnet_id() == Some(subnet) {
                let (acl_id, assoc) = (acl.network_acl_id().unwrap_or_default(), a.network_acl_association_id());
                return Ok(assoc.map(|x| (acl_id.to_string(), x.to_string())));
            }
        }
    }
    Ok(None)
}

/// The VPC's default network ACL (where `delete` gives the subnets back).
async fn default_acl(ctx: &Ctx, vpc: &str) -> Result<String> {
    let out = ctx
        .aws
        .ec2
        .describe_network_acls()
        .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(vpc).build())
        .filters(aws_sdk_ec2::types::Filter::builder().name("default").values("true").build())
        .send()
        .await
        .map_err(aws)?;
    out.network_acls()
        .first()
        .and_then(|a| a.network_acl_id())
        .map(str::to_string)
        .with_context(|| format!("VPC {vpc} has no default network ACL"))
}

/// How the live ACL of a tier differs from the stack's: entries missing,
/// extra or changed, and the tier's subnets not associated with it.
pub async fn differences(ctx: &Ctx, tier: Tier, id: &str, subnets: &[String]) -> Result<Vec<String>> {
    let Some(acl) = described(ctx, id).await? else { return Ok(vec![format!("network ACL {id} not found")]) };
    let live: Vec<Entry> = acl.entries().iter().filter_map(entry_of).collect();
    let want = wanted(ctx, tier);
    let mut out = Vec::new();
    for e in &want {
        if !live.contains(e) {
            out.push(format!("lacks {}", e.shown()));
        }
    }
    for e in &live {
        if !want.contains(e) {
            out.push(format!("extra {}", e.shown()));
        }
    }
    let associated: Vec<&str> = acl.associations().iter().filter_map(|a| a.subnet_id()).collect();
    for s in subnets {
        if !associated.contains(&s.as_str()) {
            out.push(format!("subnet {s} not associated with it"));
        }
    }
    Ok(out)
}

impl NetworkAcl {
    /// The entries made exactly the stack's (create what lacks, replace
    /// what differs under the same number, delete the rest), then the
    /// tier's subnet of every zone associated with it.
    async fn converge(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let ec2 = &ctx.aws.ec2;
        let acl = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            described(ctx, id).await?.with_context(|| format!("network ACL {id} not found"))
        })
        .await?;
        let live: Vec<Entry> = acl.entries().iter().filter_map(entry_of).collect();
        let want = wanted(ctx, self.tier);
        for e in live.iter().filter(|e| !want.iter().any(|w| w.egress == e.egress && w.rule == e.rule)) {
            ec2.delete_network_acl_entry()
                .network_acl_id(id)
                .egress(e.egress)
                .rule_number(e.rule)
                .send()
                .await
                .map_err(aws)?;
        }
        for w in want.iter().filter(|w| !live.contains(w)) {
            let ports = w.ports.map(|(a, b)| PortRange::builder().from(a).to(b).build());
            if live.iter().any(|e| e.egress == w.egress && e.rule == w.rule) {
                ec2.replace_network_acl_entry()
                    .network_acl_id(id)
                    .egress(w.egress)
                    .rule_number(w.rule)
                    .protocol(&w.protocol)
                    .rule_action(RuleAction::Allow)
                    .cidr_block(&w.cidr)
                    .set_port_range(ports)
                    .send()
                    .await
                    .map_err(aws)?;
            } else {
                ec2.create_network_acl_entry()
                    .network_acl_id(id)
                    .egress(w.egress)
                    .rule_number(w.rule)
                    .protocol(&w.protocol)
                    .rule_action(RuleAction::Allow)
                    .cidr_block(&w.cidr)
                    .set_port_range(ports)
                    .send()
                    .await
                    .map_err(aws)?;
            }
        }
        for subnet in ctx.ids(&self.subnets)? {
            match association_of(ctx, &subnet).await? {
                Some((acl_id, _)) if acl_id == id => {}
                Some((_, assoc)) => {
                    ec2.replace_network_acl_association()
                        .association_id(assoc)
                        .network_acl_id(id)
                        .send()
                        .await
                        .map_err(aws)
                        .with_context(|| format!("associating subnet {subnet} with network ACL {id}"))?;
                }
                None => anyhow::bail!("subnet {subnet} has no network ACL association to replace"),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Kind for NetworkAcl {
    fn name(&self) -> &'static str {
        "network ACL"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        let mut v = vec![self.vpc.clone()];
        v.extend(self.subnets.iter().cloned());
        v
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::NetworkAcl>(ctx, me).await
    }

    /// Its entries and associations follow the zones (each zone's subnet of
    /// the tier, and of the tier before it): a zone added or removed changes
    /// them in place (`update`: the entries and associations made the
    /// stack's again; a removed zone's subnet takes its association with it
    /// when teardown deletes it).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        let tier = self.tier;
        let nets: Vec<String> = s
            .zones
            .iter()
            .map(|z| match tier.inner() {
                None => tier.cidr(z).to_string(),
                Some(inner) => format!("{} (from {})", tier.cidr(z), inner.cidr(z)),
            })
            .collect();
        vec![Property::new(tier.subnets_name(), "availability_zones", super::property::list(&nets), Change::InPlace)]
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::NetworkAcl>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, token: &str) -> Result<String> {
        let vpc = ctx.state.id(&self.vpc)?;
        let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws
                .ec2
                .create_network_acl()
                .vpc_id(&vpc)
                .client_token(token)
                .tag_specifications(ctx.ec2_tags(ResourceType::NetworkAcl, me, Some(&self.name)))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        out.network_acl()
            .and_then(|a| a.network_acl_id())
            .map(str::to_string)
            .context("CreateNetworkAcl returned no NetworkAclId")
    }

    /// Its entries and the tier's subnets' associations (idempotent).
    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        self.converge(ctx, id).await
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(if described(ctx, id).await?.is_some() { Health::Present } else { Health::Missing })
    }

    /// The subnets it holds go back to the VPC's default ACL (a subnet is
    /// always associated with one), then it is deleted.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let Some(acl) = described(ctx, id).await? else { return Ok(()) };
        let assocs: Vec<String> =
            acl.associations().iter().filter_map(|a| a.network_acl_association_id().map(str::to_string)).collect();
        if !assocs.is_empty() {
            let default = default_acl(ctx, acl.vpc_id().unwrap_or_default()).await?;
            for assoc in assocs {
                let r = ctx
                    .aws
                    .ec2
                    .replace_network_acl_association()
                    .association_id(&assoc)
                    .network_acl_id(&default)
                    .send()
                    .await
                    .map_err(aws);
                gone_ok(r)?;
            }
        }
        let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
            ctx.aws.ec2.delete_network_acl().network_acl_id(id).send().await.map_err(aws)
        })
        .await;
        gone_ok(r)
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        differences(ctx, self.tier, id, &ctx.ids(&self.subnets)?).await
    }

    fn restores_drift(&self) -> bool {
        true
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::NetworkAcl {
    const LISTING: &'static str = "ec2:DescribeNetworkAcls";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws
            .ec2
            .describe_network_acls()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        let out =
            ctx.aws.ec2.describe_network_acls().set_filters(Some(filters)).send().await.map_err(crate::error::aws)?;
        Ok(out.network_acls().to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.network_acl_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MAX_ZONES, RawParams};

    fn zones(n: usize) -> Vec<Zone> {
        let azs: Vec<String> = (0..n).map(|i| format!("us-east-1{}", (b'a' + i as u8) as char)).collect();
        let r = RawParams { region: Some("us-east-1".into()), availability_zones: Some(azs), ..Default::default() };
        Settings::resolve(r, false).unwrap().zones
    }

    /// AWS's default quota is 20 rules per direction per ACL (VPC user
    /// guide, "Amazon VPC quotas", "Rules per network ACL"), the `*` rule
    /// not counted; rule numbers are unique per direction.
    #[test]
    fn every_tier_fits_the_rule_quota_and_numbers_its_rules_once_for_six_zones() {
        for tier in Tier::ALL {
            let e = tier.entries(&zones(MAX_ZONES));
            for egress in [false, true] {
                let nums: Vec<i32> = e.iter().filter(|x| x.egress == egress).map(|x| x.rule).collect();
                let unique: std::collections::BTreeSet<i32> = nums.iter().copied().collect();
                assert_eq!(unique.len(), nums.len(), "{tier:?} egress {egress}: {nums:?}");
                assert!(nums.len() <= 20, "{tier:?} egress {egress}: {} rules", nums.len());
                assert!(nums.iter().all(|n| (1..32767).contains(n)), "{nums:?}");
            }
        }
    }

    /// Each flow of the path out crosses the SageMaker → NAT → firewall
    /// tiers with its request and its return allowed on both sides of
    /// every crossing, and nothing but TCP 443/80 and its return leaves.
    #[test]
    fn the_path_out_and_its_return_pass_every_crossing_and_nothing_else_does() {
        let zs = zones(2);
        let allows = |tier: Tier, egress: bool, net: &str, port: i32| {
            tier.entries(&zs).iter().any(|e| {
                e.egress == egress
                    && e.protocol == "6"
                    && e.cidr.parse::<Ipv4Net>().unwrap().contains(&net.parse::<Ipv4Net>().unwrap())
                    && e.ports.is_none_or(|(a, b)| (a..=b).contains(&port))
            })
        };
        let internet = "203.0.113.7/32";
        for z in &zs {
            let (sm, nat) = (z.sagemaker.to_string(), z.nat.to_string());
            for port in [443, 80] {
                // Request: SageMaker instance → internet host, through the NAT gateway, then the endpoint.
                assert!(allows(Tier::Sagemaker, true, internet, port));
                assert!(allows(Tier::Nat, false, &sm, port), "NAT in from {sm}:{port}");
                assert!(allows(Tier::Nat, true, internet, port));
                assert!(allows(Tier::Firewall, false, &nat, port), "firewall in from {nat}:{port}");
                assert!(allows(Tier::Firewall, true, internet, port));
            }
            for port in [1024, 32768, 60999, 65535] {
                // Return: internet host → NAT gateway's port (edge route to the endpoint), then the instance's.
                assert!(allows(Tier::Firewall, false, internet, port));
                assert!(allows(Tier::Firewall, true, &nat, port));
                assert!(allows(Tier::Nat, false, internet, port));
                assert!(allows(Tier::Nat, true, &sm, port));
                assert!(allows(Tier::Sagemaker, false, internet, port));
            }
            // Not from the internet to the service ports, nor from elsewhere in the VPC to the firewall.
            assert!(!allows(Tier::Nat, false, internet, 443) && !allows(Tier::Firewall, false, internet, 443));
            assert!(!allows(Tier::Firewall, false, &sm, 443), "SageMaker subnets go through the NAT gateway");
            assert!(!allows(Tier::Nat, true, internet, 22) && !allows(Tier::Firewall, true, internet, 22));
        }
        for tier in [Tier::Nat, Tier::Firewall] {
            assert!(tier.entries(&zs).iter().all(|e| e.protocol == "6" && e.ports.is_some()), "{tier:?}: TCP only");
        }
    }
}
