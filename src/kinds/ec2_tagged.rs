//! What the EC2 kinds whose resources the stack proves its own by tags
//! share (VPC, subnets, security groups, internet gateway, route tables,
//! Elastic IPs, NAT gateways, VPC endpoints, flow logs, network ACLs): the region's
//! listing, read once per read-only pass (`Reads`), and the ids of those
//! whose `provision:stack`/`provision:step` tags say they are a step's.
//! Each resource type says how it is listed, where its tags and id are,
//! and which states count as alive, in its kind's file (`impl Tagged for
//! aws_sdk_ec2::types::Vpc` in `vpc.rs`, ...); `listed`, `owned` and
//! `first_owned` are written once, here.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Tag};

use super::{Ctx, ec2_tag_pairs, owned_in};
use crate::error::aws;
use crate::step_id::StepId;

/// Sets `me`'s tags and Name on the EC2 resource `id` (CreateTags
/// overwrites a key's value: EC2 API reference, CreateTags), for
/// `Kind::retag` when day two moves a zone's records to the first zone's ids.
pub async fn tag_as(ctx: &Ctx, me: &StepId, id: &str, name: &str) -> Result<()> {
    let tags: Vec<Tag> =
        ctx.tags(me, Some(name)).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    ctx.aws.ec2.create_tags().resources(id).set_tags(Some(tags)).send().await.map_err(aws)?;
    Ok(())
}

/// An EC2 resource type the stack proves its own by tags.
#[async_trait]
pub trait Tagged: Send + Sync + Sized + 'static {
    /// The read cache's key of the region's listing (`ec2:DescribeVpcs`).
    const LISTING: &'static str;

    /// Every one of the region (paginated where the API pages).
    async fn all(ctx: &Ctx) -> Result<Vec<Self>>;

    /// Those `filters` (the step's tags, plus `alive_filters`) select.
    async fn filtered(ctx: &Ctx, filters: Vec<Filter>) -> Result<Vec<Self>>;

    fn tags(&self) -> &[Tag];

    fn id(&self) -> Option<&str>;

    /// Whether it counts as existing (a NAT gateway or an endpoint being
    /// deleted, or deleted and still listed, does not).
    fn alive(&self) -> bool {
        true
    }

    /// The server-side filters that select the alive ones.
    fn alive_filters() -> Vec<Filter> {
        Vec::new()
    }
}

/// Every resource of type `T` in the region, read once per read-only pass
/// (`Reads`); `None` outside one.
pub async fn listed<T: Tagged>(ctx: &Ctx) -> Result<Option<Arc<Vec<T>>>> {
    ctx.reads.cached(T::LISTING, || T::all(ctx)).await
}

/// The ids of the alive resources of type `T` whose tags prove them this
/// stack's step `me`: from the pass's listing, else one describe filtered by
/// the step's tags. The tags are checked here too: a filter an endpoint
/// ignores must not adopt another step's resource.
pub async fn owned<T: Tagged>(ctx: &Ctx, me: &StepId) -> Result<Vec<String>> {
    if let Some(all) = listed::<T>(ctx).await? {
        return Ok(owned_in(ctx, me, all.iter().filter(|x| x.alive()), T::tags, T::id));
    }
    let mut filters = ctx.ec2_tag_filters(me);
    filters.extend(T::alive_filters());
    let found = T::filtered(ctx, filters).await?;
    let ours = found.iter().filter(|x| x.alive() && ctx.tagged_as(me, ec2_tag_pairs(x.tags())));
    Ok(ours.filter_map(|x| x.id().map(str::to_string)).collect())
}

/// The first of `owned` (what `find` answers for a create whose answer was lost).
pub async fn first_owned<T: Tagged>(ctx: &Ctx, me: &StepId) -> Result<Option<String>> {
    Ok(owned::<T>(ctx, me).await?.into_iter().next())
}
