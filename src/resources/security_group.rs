//! The stack's two security groups: `sg.sagemaker` (all traffic from itself)
//! and `sg.vpce` (TLS from `sg.sagemaker`, everything from the VPC CIDR).

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};

use super::{Ctx, DRAIN_BOUND, is_dependency_violation};
use crate::error::{aws, gone_ok, has_code};
use crate::graph::{SgRole, Spec, Step};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::wait::retry_while;

pub const SAGEMAKER_DESCRIPTION: &str =
    "security group for SageMaker notebook instance, training jobs and hosting endpoint";
pub const VPCE_DESCRIPTION: &str = "Allow TLS for VPC Endpoint";

fn role(step: &Step) -> SgRole {
    match step.spec {
        Spec::SecurityGroup(r) => r,
        _ => unreachable!("security_group called for {}", step.id),
    }
}

pub fn name(ctx: &Ctx, role: SgRole) -> String {
    match role {
        SgRole::Sagemaker => format!("sg-sagemaker-{}", ctx.s.project),
        SgRole::Vpce => format!("sg-vpce-{}", ctx.s.project),
    }
}

pub async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    let out = ctx
        .aws
        .ec2
        .describe_security_groups()
        .set_filters(Some(ctx.ec2_tag_filters(&step.id)))
        .send()
        .await
        .map_err(aws)?;
    Ok(out.security_groups().iter().find_map(|g| g.group_id().map(str::to_string)))
}

pub async fn create(ctx: &Ctx, step: &Step) -> Result<String> {
    let role = role(step);
    let vpc = ctx.state.id("vpc")?;
    let name = name(ctx, role);
    let description = match role {
        SgRole::Sagemaker => SAGEMAKER_DESCRIPTION,
        SgRole::Vpce => VPCE_DESCRIPTION,
    };
    let out = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
        ctx.aws
            .ec2
            .create_security_group()
            .group_name(&name)
            .description(description)
            .vpc_id(&vpc)
            .tag_specifications(ctx.ec2_tags(ResourceType::SecurityGroup, &step.id, Some(&name)))
            .send()
            .await
            .map_err(aws)
    })
    .await?;
    out.group_id().map(str::to_string).context("CreateSecurityGroup returned no GroupId")
}

fn from_group(group: &str) -> UserIdGroupPair {
    UserIdGroupPair::builder().group_id(group).build()
}

/// The ingress rules; a rule that already exists (resumed run) is fine.
/// The ingress rules the stack specifies for a group.
pub fn rules(ctx: &Ctx, role: SgRole, id: &str) -> Result<Vec<IpPermission>> {
    Ok(match role {
        SgRole::Sagemaker => {
            vec![IpPermission::builder().ip_protocol("-1").user_id_group_pairs(from_group(id)).build()]
        }
        SgRole::Vpce => vec![
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .user_id_group_pairs(from_group(&ctx.state.id("sg.sagemaker")?))
                .build(),
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip(ctx.s.vpc_cidr.to_string()).build())
                .build(),
        ],
    })
}

/// Exactly the specified ingress rules: missing ones are added (a rule that
/// already exists, on a resumed run, is fine), others are revoked.
pub async fn settle(ctx: &Ctx, role: SgRole, id: &str) -> Result<()> {
    let rules = rules(ctx, role, id)?;
    let want: std::collections::BTreeSet<String> = rules.iter().flat_map(super::drift::rule_strings).collect();
    let g = ctx.aws.ec2.describe_security_groups().group_ids(id).send().await.map_err(aws)?;
    let extra: Vec<IpPermission> = g
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| super::drift::rule_strings(p).iter().any(|r| !want.contains(r)))
        .cloned()
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

pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    delete_group(ctx, id).await
}

/// Deletes a group, waiting out DependencyViolation while ENIs drain.
pub async fn delete_group(ctx: &Ctx, id: &str) -> Result<()> {
    let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
        ctx.aws.ec2.delete_security_group().group_id(id).send().await.map_err(aws)
    })
    .await;
    gone_ok(r)
}
