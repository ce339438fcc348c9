//! The internet gateway's attachment to the VPC (`igw.attach`; id
//! `{igw}|{vpc}`).

use anyhow::{Result, anyhow};
use async_trait::async_trait;

use super::{Ctx, DRAIN_BOUND, Health, Kind, gone_or, is_dependency_violation};
use crate::error::{aws, has_code};
use crate::retry::{CONSISTENCY_BOUND, is_eventual_consistency};
use crate::step_id::StepId;
use crate::wait::retry_while;

/// This kind's entry in the latency profile (`crate::latency`).
const PROFILE: &str = "ec2.igw_attach";

#[derive(Debug)]
pub struct IgwAttachment {
    pub vpc: StepId,
    pub igw: StepId,
}

impl IgwAttachment {
    /// The attachment exists if the gateway is attached to our VPC.
    async fn attached(&self, ctx: &Ctx) -> Result<Option<String>> {
        let (igw, vpc) = (ctx.state.id(&self.igw)?, ctx.state.id(&self.vpc)?);
        let to_vpc =
            |g: &aws_sdk_ec2::types::InternetGateway| g.attachments().iter().any(|a| a.vpc_id() == Some(vpc.as_str()));
        let attached = match super::internet_gateway::listed(ctx).await? {
            Some(all) => all.iter().filter(|g| g.internet_gateway_id() == Some(igw.as_str())).any(to_vpc),
            None => {
                let out =
                    ctx.aws.ec2.describe_internet_gateways().internet_gateway_ids(&igw).send().await.map_err(aws)?;
                out.internet_gateways().iter().any(to_vpc)
            }
        };
        Ok(attached.then(|| format!("{igw}|{vpc}")))
    }
}

fn split(id: &str) -> Result<(&str, &str)> {
    id.split_once('|').ok_or_else(|| anyhow!("malformed attachment id '{id}' (want igw|vpc)"))
}

#[async_trait]
impl Kind for IgwAttachment {
    fn name(&self) -> &'static str {
        "internet gateway attachment"
    }

    fn profile(&self) -> Option<&'static str> {
        Some(PROFILE)
    }

    fn needs(&self) -> Vec<StepId> {
        vec![self.vpc.clone(), self.igw.clone()]
    }

    async fn find(&self, ctx: &Ctx, _me: &StepId) -> Result<Option<String>> {
        self.attached(ctx).await
    }

    async fn create(&self, ctx: &Ctx, _me: &StepId, _token: &str) -> Result<String> {
        let (igw, vpc) = (ctx.state.id(&self.igw)?, ctx.state.id(&self.vpc)?);
        let r = retry_while(CONSISTENCY_BOUND, is_eventual_consistency, || async {
            ctx.aws.ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.map_err(aws)
        })
        .await;
        match r {
            Err(e) if has_code(&e, &["Resource.AlreadyAssociated"]) => {}
            r => {
                r?;
            }
        }
        Ok(format!("{igw}|{vpc}"))
    }

    async fn health(&self, ctx: &Ctx, _me: &StepId, id: &str) -> Result<Health> {
        Ok(Health::found(self.attached(ctx).await?.as_deref(), id))
    }

    /// Detaching fails with DependencyViolation while the VPC still has
    /// mapped public addresses (the NAT gateway's EIP); it drains after NAT
    /// deletion.
    async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let (igw, vpc) = split(id)?;
        let r = retry_while(DRAIN_BOUND, is_dependency_violation, || async {
            ctx.aws.ec2.detach_internet_gateway().internet_gateway_id(igw).vpc_id(vpc).send().await.map_err(aws)
        })
        .await;
        gone_or(r, &["Gateway.NotAttached"])
    }
}
