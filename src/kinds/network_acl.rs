//! A network ACL per subnet tier (`nacl.sagemaker`, id = network ACL id),
//! associated with that tier's subnet in every zone in place of the VPC's
//! default ACL (which allows all traffic both ways). Its entries allow the
//! flows the stack needs and nothing else; network ACLs are stateless, so
//! each flow's return traffic is an entry of its own, on the ephemeral
//! ports (VPC user guide, "Control subnet traffic with network access
//! control lists", "Ephemeral ports": "allow inbound/outbound traffic on
//! ephemeral ports 1024-65535" for the return of requests made from the
//! subnet, as NAT gateways and the instances of many operating systems use
//! that range).
//!
//! The SageMaker subnets' flows (README, "Network ACLs"):
//! - among the SageMaker subnets of every zone, all traffic: Studio's apps,
//!   the interface endpoints' ENIs (a client may be handed another zone's),
//!   the home EFS's mount targets (NFS), apps to each other (`sg.sagemaker`
//!   admits itself);
//! - out to anywhere on TCP 443 and 80 (the NAT gateway towards the
//!   firewall's allow-list, which judges TLS SNI and HTTP Host; and S3
//!   through the gateway endpoint, whose prefix list an ACL cannot name),
//!   and their return on TCP 1024-65535 from anywhere.
//!
//! DNS to the VPC resolver needs no entry: "Network ACLs do not filter
//! traffic destined to and from the following: Amazon Domain Name Services
//! (DNS), Amazon Dynamic Host Configuration Protocol (DHCP), Amazon EC2
//! instance metadata, ..." (VPC user guide, "Network ACL basics").
//!
//! Everything else meets the ACL's own `*` rule: denied.

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{NetworkAclEntry, PortRange, ResourceType, RuleAction};
use ipnet::Ipv4Net;

use super::{Change, Ctx, DRAIN_BOUND, Health, Kind, Property, is_dependency_violation};
use crate::config::Settings;
use crate::error::{aws, gone_ok};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

impl StepId {
    pub const NACL_SAGEMAKER: StepId = StepId::of("nacl.sagemaker");
}

/// The latency profile's entry: created as fast as a route table.
const PROFILE: &str = "ec2.route_table";

#[derive(Debug)]
pub struct NetworkAcl {
    pub vpc: StepId,
    /// The SageMaker subnet of every zone.
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

/// The stack's entries under the current settings.
pub fn wanted(ctx: &Ctx) -> Vec<Entry> {
    let nets: Vec<Ipv4Net> = ctx.s.zones.iter().map(|z| z.sagemaker).collect();
    sagemaker_entries(&nets)
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

/// How the live ACL differs from the stack's: entries missing, extra or
/// changed, and SageMaker subnets not associated with it.
pub async fn differences(ctx: &Ctx, id: &str, subnets: &[String]) -> Result<Vec<String>> {
    let Some(acl) = described(ctx, id).await? else { return Ok(vec![format!("network ACL {id} not found")]) };
    let live: Vec<Entry> = acl.entries().iter().filter_map(entry_of).collect();
    let want = wanted(ctx);
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
    /// what differs under the same number, delete the rest), then every
    /// SageMaker subnet associated with it.
    async fn converge(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let ec2 = &ctx.aws.ec2;
        let acl = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            described(ctx, id).await?.with_context(|| format!("network ACL {id} not found"))
        })
        .await?;
        let live: Vec<Entry> = acl.entries().iter().filter_map(entry_of).collect();
        let want = wanted(ctx);
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

    /// Its entries and associations follow the zones (each zone's SageMaker
    /// subnet): a zone added or removed changes them in place (`update`:
    /// the entries and associations made the stack's again).
    fn properties(&self, s: &Settings, _me: &StepId) -> Vec<Property> {
        let nets: Vec<String> = s.zones.iter().map(|z| z.sagemaker.to_string()).collect();
        vec![Property::new("SageMaker subnets", "availability_zones", super::property::list(&nets), Change::InPlace)]
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

    /// Its entries and the SageMaker subnets' associations (idempotent).
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
        differences(ctx, id, &ctx.ids(&self.subnets)?).await
    }

    fn restores_drift(&self) -> bool {
        true
    }
}
