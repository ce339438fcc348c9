//! The stack's two security groups: `sg.sagemaker` (all traffic from
//! itself) and `sg.vpce` (TLS from `sg.sagemaker`, everything from the VPC
//! CIDR). Exactly the specified ingress rules: `settle` adds what is
//! missing and revokes the rest, so drift is restored by `up`.

use std::collections::BTreeSet;

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};

use super::leftover_enis::{Blocked, delete_draining};
use super::{Ctx, Health, Kind};
use crate::error::{aws, gone_ok, has_code};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.security_group";

pub const SAGEMAKER_DESCRIPTION: &str =
    "security group for SageMaker notebook instance, training jobs and hosting endpoint";
pub const VPCE_DESCRIPTION: &str = "Allow TLS for VPC Endpoint";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SgRole {
    /// All traffic from itself.
    Sagemaker,
    /// TLS from the SageMaker group, everything from the VPC CIDR.
    Vpce { sagemaker: StepId },
}

/// Every SecurityGroup in the region, read once per read-only pass (`Reads`,
/// paginated); `None` outside one.
pub async fn listed(ctx: &Ctx) -> Result<Option<Arc<Vec<aws_sdk_ec2::types::SecurityGroup>>>> {
    super::ec2_tagged::listed(ctx).await
}

#[derive(Debug)]
pub struct SecurityGroup {
    pub vpc: StepId,
    pub role: SgRole,
}

impl SecurityGroup {
    fn group_name(&self, ctx: &Ctx) -> String {
        match self.role {
            SgRole::Sagemaker => format!("sg-sagemaker-{}", ctx.s.project),
            SgRole::Vpce { .. } => format!("sg-vpce-{}", ctx.s.project),
        }
    }

    /// The ingress rules the stack specifies for the group `id`.
    fn rules(&self, ctx: &Ctx, id: &str) -> Result<Vec<IpPermission>> {
        ingress_rules(ctx, &self.role, id)
    }

    async fn live_rules(&self, ctx: &Ctx, id: &str) -> Result<Option<Vec<IpPermission>>> {
        if let Some(all) = listed(ctx).await? {
            return Ok(all.iter().find(|g| g.group_id() == Some(id)).map(|g| g.ip_permissions().to_vec()));
        }
        let g = ctx.aws.ec2.describe_security_groups().group_ids(id).send().await.map_err(aws)?;
        Ok(g.security_groups().first().map(|g| g.ip_permissions().to_vec()))
    }
}

/// The ingress rules the stack specifies for its group `id` of `role`.
pub fn ingress_rules(ctx: &Ctx, role: &SgRole, id: &str) -> Result<Vec<IpPermission>> {
    let from_group = |g: &str| UserIdGroupPair::builder().group_id(g).build();
    Ok(match role {
        SgRole::Sagemaker => {
            vec![IpPermission::builder().ip_protocol("-1").user_id_group_pairs(from_group(id)).build()]
        }
        SgRole::Vpce { sagemaker } => vec![
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .user_id_group_pairs(from_group(&ctx.state.id(sagemaker)?))
                .build(),
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip(ctx.s.vpc_cidr.to_string()).build())
                .build(),
        ],
    })
}

/// The egress rule AWS gives every group it creates in a VPC without IPv6
/// (all traffic to 0.0.0.0/0), which the tool leaves as it is: the spec
/// names no egress rule.
pub fn default_egress() -> Vec<IpPermission> {
    vec![IpPermission::builder().ip_protocol("-1").ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build()).build()]
}

/// "proto port from source" for each source of an ingress rule (group,
/// IPv4 or IPv6 range, prefix list): `tcp 443 from sg-1`, `all traffic from
/// 10.2.0.0/16`.
pub fn rule_strings(p: &IpPermission) -> Vec<String> {
    peer_strings(p, "from")
}

/// "proto port to destination" for each destination of an egress rule.
pub fn egress_strings(p: &IpPermission) -> Vec<String> {
    peer_strings(p, "to")
}

fn peer_strings(p: &IpPermission, dir: &str) -> Vec<String> {
    let proto = match p.ip_protocol().unwrap_or_default() {
        "-1" => "all traffic",
        other => other,
    };
    let ports = match (p.from_port(), p.to_port()) {
        (Some(f), Some(t)) if proto != "all traffic" && f == t => format!(" {f}"),
        (Some(f), Some(t)) if proto != "all traffic" => format!(" {f}-{t}"),
        _ => String::new(),
    };
    let peers = p
        .user_id_group_pairs()
        .iter()
        .map(|g| g.group_id().unwrap_or_default())
        .chain(p.ip_ranges().iter().map(|r| r.cidr_ip().unwrap_or_default()))
        .chain(p.ipv6_ranges().iter().map(|r| r.cidr_ipv6().unwrap_or_default()))
        .chain(p.prefix_list_ids().iter().map(|l| l.prefix_list_id().unwrap_or_default()));
    peers.map(|peer| format!("{proto}{ports} {dir} {peer}")).collect()
}

/// Deletes a group of the stack's VPC `vpc` (its step), waiting out
/// DependencyViolation while ENIs drain and sweeping the leftover ENIs that
/// use the group each time (`leftover_enis`).
pub async fn delete_group(ctx: &Ctx, vpc: &StepId, id: &str) -> Result<()> {
    let vpc = ctx.state.id(vpc).ok();
    let r = delete_draining(ctx, vpc.as_deref(), Blocked::Group(id), || async {
        ctx.aws.ec2.delete_security_group().group_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}

/// The security groups nothing the state records that refer to one of
/// `groups` in a rule, one line each: DeleteSecurityGroup fails with
/// DependencyViolation while another group's rule references the group
/// (EC2 API reference, DeleteSecurityGroup: "If you attempt to delete a
/// security group that ... is referenced by another security group in the
/// same VPC, the operation fails with DependencyViolation"), and
/// `provision` may not edit another's group.
pub async fn foreign_references(ctx: &Ctx, groups: &[String]) -> Result<Vec<String>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let ours = super::recorded_ids(ctx);
    let mut out = Vec::new();
    for (filter, way) in [("ip-permission.group-id", "an ingress"), ("egress.ip-permission.group-id", "an egress")] {
        let f = aws_sdk_ec2::types::Filter::builder().name(filter).set_values(Some(groups.to_vec())).build();
        let found = ctx.aws.ec2.describe_security_groups().filters(f).send().await.map_err(aws)?;
        for g in found.security_groups() {
            let id = g.group_id().unwrap_or_default();
            if ours.iter().any(|o| o == id) || groups.iter().any(|o| o == id) {
                continue;
            }
            let refs: Vec<&str> = groups
                .iter()
                .filter(|ours| {
                    let rules = if way == "an ingress" { g.ip_permissions() } else { g.ip_permissions_egress() };
                    rules
                        .iter()
                        .flat_map(|p| p.user_id_group_pairs())
                        .any(|pair| pair.group_id() == Some(ours.as_str()))
                })
                .map(String::as_str)
                .collect();
            out.push(format!(
                "security group {id} ({}) refers to {} in {way} rule",
                g.group_name().unwrap_or_default(),
                refs.join(", ")
            ));
        }
    }
    Ok(out)
}

#[async_trait]
impl Kind for SecurityGroup {
    fn name(&self) -> &'static str {
        "security group"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        match &self.role {
            SgRole::Sagemaker => vec![self.vpc.clone()],
            SgRole::Vpce { sagemaker } => vec![self.vpc.clone(), sagemaker.clone()],
        }
    }

    /// Kept with what runs behind it (the domain's `sg.sagemaker`).
    fn keeps(&self) -> Vec<StepId> {
        vec![self.vpc.clone()]
    }

    async fn find(&self, ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
        super::ec2_tagged::first_owned::<aws_sdk_ec2::types::SecurityGroup>(ctx, me).await
    }

    /// By its `provision:stack`/`provision:step` tags.
    async fn list_owned(&self, ctx: &Ctx, me: &StepId) -> Result<Option<Vec<String>>> {
        Ok(Some(super::ec2_tagged::owned::<aws_sdk_ec2::types::SecurityGroup>(ctx, me).await?))
    }

    async fn create(&self, ctx: &Ctx, me: &StepId, _token: &str) -> Result<String> {
        let vpc = ctx.state.id(&self.vpc)?;
        let name = self.group_name(ctx);
        let description = match self.role {
            SgRole::Sagemaker => SAGEMAKER_DESCRIPTION,
            SgRole::Vpce { .. } => VPCE_DESCRIPTION,
        };
        let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws
                .ec2
                .create_security_group()
                .group_name(&name)
                .description(description)
                .vpc_id(&vpc)
                .tag_specifications(ctx.ec2_tags(ResourceType::SecurityGroup, me, Some(&name)))
                .send()
                .await
                .map_err(aws)
        })
        .await?;
        out.group_id().map(str::to_string).context("CreateSecurityGroup returned no GroupId")
    }

    /// Exactly the specified ingress rules: missing ones are added (a rule
    /// that already exists, on a resumed run, is fine), others are revoked.
    /// A group CreateSecurityGroup just returned may not be describable yet:
    /// InvalidGroup.NotFound is retried within the consistency bound (EC2 API
    /// reference, "Eventual consistency in the Amazon EC2 API"; terraform-provider-aws
    /// WaitSecurityGroupCreated polls through NotFound, internal/service/ec2/wait.go).
    async fn settle(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<()> {
        let rules = self.rules(ctx, id)?;
        let want: BTreeSet<String> = rules.iter().flat_map(rule_strings).collect();
        let live = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || self.live_rules(ctx, id)).await?;
        let extra: Vec<IpPermission> = live
            .unwrap_or_default()
            .into_iter()
            .filter(|p| rule_strings(p).iter().any(|r| !want.contains(r)))
            .collect();
        if !extra.is_empty() {
            ctx.aws
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(extra))
                .send()
                .await
                .map_err(aws)
                .context("revoking ingress rules the stack does not specify")?;
        }
        for rule in rules {
            let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
                ctx.aws
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(id)
                    .ip_permissions(rule.clone())
                    .send()
                    .await
                    .map_err(aws)
            })
            .await;
            match r {
                Err(e) if has_code(&e, &["InvalidPermission.Duplicate"]) => {}
                r => {
                    r.context("adding an ingress rule")?;
                }
            }
        }
        Ok(())
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        if let Some(all) = listed(ctx).await? {
            return Ok(super::health_in(all.iter(), |x| x.group_id(), id));
        }
        let r = ctx.aws.ec2.describe_security_groups().group_ids(id).send().await.map_err(aws);
        Health::of_describe(r, |o| !o.security_groups().is_empty())
    }

    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        delete_group(ctx, &self.vpc, id).await
    }

    async fn drift(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Vec<String>> {
        let Some(live) = self.live_rules(ctx, id).await? else { return Ok(Vec::new()) };
        let actual: BTreeSet<String> = live.iter().flat_map(rule_strings).collect();
        let want: BTreeSet<String> = self.rules(ctx, id)?.iter().flat_map(rule_strings).collect();
        let mut out: Vec<String> = actual.difference(&want).map(|r| format!("ingress rule added: {r}")).collect();
        out.extend(want.difference(&actual).map(|r| format!("ingress rule removed: {r}")));
        Ok(out)
    }

    fn restores_drift(&self) -> bool {
        true
    }
}

/// How the stack proves an EC2 resource of this kind its own by its tags (`ec2_tagged`).
#[async_trait::async_trait]
impl super::ec2_tagged::Tagged for aws_sdk_ec2::types::SecurityGroup {
    const LISTING: &'static str = "ec2:DescribeSecurityGroups";
    async fn all(ctx: &Ctx) -> Result<Vec<Self>> {
        ctx.aws
            .ec2
            .describe_security_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(crate::error::aws)
    }
    async fn filtered(ctx: &Ctx, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Self>> {
        let out = ctx
            .aws
            .ec2
            .describe_security_groups()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(crate::error::aws)?;
        Ok(out.security_groups().to_vec())
    }
    fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
        Self::tags(self)
    }
    fn id(&self) -> Option<&str> {
        self.group_id()
    }
}
