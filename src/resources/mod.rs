//! One file per AWS resource kind. Each offers the same four verbs:
//!
//! - `find`: the resource a crashed create may have made, by its
//!   `provision:stack`/`provision:step` tags or its unique name;
//! - `create`: the one create call; returns the id, which is recorded at once.
//!   Where the API takes a ClientToken (NAT gateway, endpoints, route tables)
//!   it sends the token recorded with the intent, so a repeated create after
//!   a lost answer gets the same resource back;
//! - `settle`: idempotent follow-up calls (attributes, rules, policies) and
//!   the wait until the resource is usable; safe to repeat after a crash;
//! - `delete`: delete and wait until gone; "already gone" is success.
//!
//! This module holds the context they share and the per-step lifecycle
//! (`up_step`, `down_step`) the engine calls; it knows the graph's `Spec`
//! but not its edges.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::aws::Clients;
use crate::config::Settings;
use crate::graph::{KeyRole, Spec, Step};
use crate::state::{State, Status};

pub mod check;
pub mod drift;
pub mod efs;
pub mod eip;
pub mod firewall;
pub mod iam;
pub mod igw;
pub mod kms;
pub mod nat;
pub mod route;
pub mod route_table;
pub mod s3;
pub mod sagemaker;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

pub const TAG_STACK: &str = "provision:stack";
pub const TAG_STEP: &str = "provision:step";

/// How far `down` goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    pub purge_efs: bool,
    pub delete_data: bool,
}

pub struct Ctx {
    pub aws: Clients,
    pub s: Arc<Settings>,
    pub state: State,
    pub account: String,
    pub down: DownOptions,
}

impl Ctx {
    pub fn stack(&self) -> &str {
        self.s.stack()
    }

    /// `provision:stack`, `provision:step` and, when given, `Name`.
    pub fn tags(&self, step: &str, name: Option<&str>) -> Vec<(String, String)> {
        let mut t = vec![(TAG_STACK.to_string(), self.stack().to_string()), (TAG_STEP.to_string(), step.to_string())];
        if let Some(n) = name {
            t.push(("Name".to_string(), n.to_string()));
        }
        t
    }

    /// The recorded ids of several steps (a resource spanning every zone).
    pub fn ids(&self, steps: &[String]) -> Result<Vec<String>> {
        steps.iter().map(|s| self.state.id(s)).collect()
    }

    /// EC2 tag specifications for a create call.
    pub fn ec2_tags(
        &self,
        rt: aws_sdk_ec2::types::ResourceType,
        step: &str,
        name: Option<&str>,
    ) -> aws_sdk_ec2::types::TagSpecification {
        let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(rt);
        for (k, v) in self.tags(step, name) {
            b = b.tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
        }
        b.build()
    }

    /// EC2 filters that find a resource by its stack and step tags.
    pub fn ec2_tag_filters(&self, step: &str) -> Vec<aws_sdk_ec2::types::Filter> {
        use aws_sdk_ec2::types::Filter;
        vec![
            Filter::builder().name(format!("tag:{TAG_STACK}")).values(self.stack()).build(),
            Filter::builder().name(format!("tag:{TAG_STEP}")).values(step).build(),
        ]
    }
}

pub fn ec2_filter(name: &str, value: impl Into<String>) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name(name).values(value).build()
}

/// How long teardown keeps retrying DependencyViolation while ENIs and
/// attachments drain (they go away asynchronously; cloud-nuke #285,
/// terraform-provider-aws #26090). Real-world time, scaled.
pub const DRAIN_BOUND: Duration = Duration::from_secs(20 * 60);

pub fn is_dependency_violation(e: &anyhow::Error) -> bool {
    crate::error::has_code(e, &["DependencyViolation"])
}

/// What `up` did for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Recorded, checked, present: nothing done.
    Unchanged,
    Created,
    /// Found the resource of an interrupted create and took it over.
    Adopted,
    /// Recorded but gone (deleted out of band): created again.
    Recreated,
    /// Recorded but failed: deleted and created again.
    Replaced,
    /// Created earlier; waited until usable (a resumed wait).
    Resumed,
    /// Present, but changed out of band: put back as specified.
    Restored,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Created => "created",
            Action::Adopted => "adopted",
            Action::Recreated => "recreated",
            Action::Replaced => "replaced",
            Action::Resumed => "ready",
            Action::Restored => "restored",
        }
    }
}

/// Creates (or adopts, or resumes) the resource of `step` and waits until it
/// is usable. Each transition is in the state before the next call. A
/// resource recorded as ready (or retained by `down`) is checked first: one
/// deleted out of band is created again, one in a failed state replaced.
pub async fn up_step(ctx: Arc<Ctx>, step: Step) -> Result<Action> {
    let mut rec = ctx.state.record(&step.id);
    let mut action = None;
    if let Some(r) = rec.as_ref().filter(|r| matches!(r.status, Some(Status::Ready | Status::Retained)))
        && let Some(id) = r.id.clone()
    {
        let health = check::check(&ctx, &step, &id)
            .await
            .with_context(|| format!("checking {} {id} ({})", step.kind_name(), step.id))?;
        match health {
            check::Health::Present => {
                if r.status == Some(Status::Retained) {
                    ctx.state.ready(&step.id, &[])?;
                    ctx.state.note(&step.id, None)?;
                }
                return restore_drift(&ctx, &step, &id).await;
            }
            check::Health::Missing => {
                tracing::warn!(step = %step.id, %id, "recorded resource no longer exists; creating it again");
                eprintln!(
                    "{}: {} {id} no longer exists (deleted out of band?); creating it again",
                    step.id,
                    step.kind_name()
                );
                action = Some(Action::Recreated);
            }
            check::Health::Failed(why) => {
                eprintln!("{}: {} {id} is in a failed state ({why}); replacing it", step.id, step.kind_name());
                delete(&ctx, &step, &id)
                    .await
                    .with_context(|| format!("deleting failed {} {id} ({})", step.kind_name(), step.id))?;
                action = Some(Action::Replaced);
            }
        }
        ctx.state.reset(&step.id)?;
        rec = None;
    }
    // An intent without an id: an earlier create may have taken effect
    // without its answer reaching us — or may still be in flight. Let it
    // land, then look before creating again.
    let interrupted = rec.as_ref().is_some_and(|r| r.token.is_some());
    let last_intent = rec.as_ref().and_then(|r| r.intent_ms);
    let id = match rec.and_then(|r| r.id) {
        Some(id) => {
            action.get_or_insert(Action::Resumed);
            id
        }
        None => {
            let found = if interrupted {
                let_in_flight_land(last_intent).await;
                find(&ctx, &step)
                    .await
                    .with_context(|| format!("looking for an existing {} ({})", step.kind_name(), step.id))?
            } else {
                None
            };
            let id = match found {
                Some(id) => {
                    tracing::info!(step = %step.id, %id, "adopted existing resource");
                    action.get_or_insert(Action::Adopted);
                    id
                }
                None => {
                    let token = ctx.state.intent(&step.id, Some(uuid::Uuid::new_v4().to_string()))?;
                    let created = create(&ctx, &step, &token.unwrap_or_default()).await;
                    if let Err(e) = &created
                        && crate::error::code(e).is_some()
                    {
                        // AWS answered: nothing of this call is still in flight.
                        ctx.state.answered(&step.id)?;
                    }
                    let id = created.with_context(|| format!("creating {} ({})", step.kind_name(), step.id))?;
                    action.get_or_insert(Action::Created);
                    id
                }
            };
            ctx.state.created(&step.id, &id, &[])?;
            id
        }
    };
    settle(&ctx, &step, &id).await.with_context(|| format!("waiting for {} {id} ({})", step.kind_name(), step.id))?;
    ctx.state.ready(&step.id, &[])?;
    Ok(action.unwrap_or(Action::Created))
}

/// Waits until a create call recorded at `intent_ms` can no longer land
/// (`IN_FLIGHT_BOUND` after it was sent), so that looking for its resource
/// is conclusive: a killed run's request may still be processed after the
/// next run has started.
async fn let_in_flight_land(intent_ms: Option<u64>) {
    let Some(sent) = intent_ms else { return };
    let bound = crate::wait::scaled(crate::retry::IN_FLIGHT_BOUND);
    let since = Duration::from_millis(crate::state::now_ms().saturating_sub(sent));
    if since < bound {
        let rest = bound - since;
        tracing::info!("waiting {rest:?} for a create call an interrupted run left in flight");
        crate::progress::waiting("an interrupted create call to land");
        crate::engine::idle(tokio::time::sleep(rest)).await;
    }
}

/// Puts back what drifted on the resources the stack owns outright: the
/// security groups' rules, the bucket settings and policy, the S3 endpoint
/// policy. (Routes that point elsewhere are recreated through `check`; the
/// firewall allow-list is `provision firewall`'s to change and `status`'s to
/// report.)
/// The drift `up` would put back for this step (empty: none, or not a kind
/// `up` restores). Read-only.
pub async fn restorable_drift(ctx: &Ctx, step: &Step, id: &str) -> Result<Vec<String>> {
    if !matches!(
        step.spec,
        Spec::SecurityGroup(_)
            | Spec::Bucket { .. }
            | Spec::VpceGateway { .. }
            | Spec::VpceInterface { .. }
            | Spec::Firewall { .. }
            | Spec::Domain { .. }
    ) {
        return Ok(Vec::new());
    }
    drift::drift(ctx, step, id).await.with_context(|| format!("reading {} {id} ({})", step.kind_name(), step.id))
}

async fn restore_drift(ctx: &Ctx, step: &Step, id: &str) -> Result<Action> {
    let changes = restorable_drift(ctx, step, id).await?;
    if changes.is_empty() {
        return Ok(Action::Unchanged);
    }
    eprintln!("{}: {} {id} does not match the stack ({}); updating it", step.id, step.kind_name(), changes.join("; "));
    let missing = drift::missing_members(ctx, step, id).await?;
    match &step.spec {
        Spec::Firewall { .. } => firewall::associate_subnets(ctx, step, id, missing).await,
        Spec::VpceInterface { .. } => vpc_endpoint::extend(ctx, id, missing, Vec::new()).await,
        Spec::VpceGateway { .. } => {
            async {
                vpc_endpoint::extend(ctx, id, Vec::new(), missing).await?;
                vpc_endpoint::reset_s3_policy(ctx, id).await
            }
            .await
        }
        Spec::Domain { .. } => sagemaker::add_subnets(ctx, id, missing).await,
        _ => settle(ctx, step, id).await,
    }
    .with_context(|| format!("restoring {} {id} ({})", step.kind_name(), step.id))?;
    Ok(Action::Restored)
}

/// Why `down` keeps this step's resource, if it does.
async fn keep_reason(ctx: &Ctx, step: &Step, id: &str) -> Result<Option<String>> {
    let purge = ctx.down.purge_efs;
    let keep_data = !ctx.down.delete_data;
    Ok(match (&step.spec, step.id.as_str()) {
        (Spec::EfsMountTargets | Spec::EfsFileSystem | Spec::NfsSecurityGroups, _) if !purge => {
            Some("SageMaker home directories (EFS); remove with `provision down --purge-efs`".into())
        }
        (Spec::Vpc | Spec::Subnet { .. }, _)
            if (step.id == "vpc" || step.id.starts_with("subnet.sagemaker")) && !purge && efs_recorded(ctx) =>
        {
            Some("the retained EFS needs it; remove with `provision down --purge-efs`".into())
        }
        (Spec::Bucket { .. }, _) if keep_data && !bucket_empty(ctx, id).await? => Some(BUCKET_KEPT.into()),
        (Spec::KmsKey(KeyRole::S3), _) | (Spec::KmsAlias { .. }, "kms.s3.alias")
            if keep_data && data_kept(ctx).await? =>
        {
            Some("it encrypts a retained bucket; remove with `provision down --delete-data`".into())
        }
        _ => None,
    })
}

const BUCKET_KEPT: &str = "bucket holds data; remove with `provision down --delete-data`";

fn efs_recorded(ctx: &Ctx) -> bool {
    ctx.state.record("efs.file_system").is_some_and(|r| r.id.is_some())
}

async fn bucket_empty(ctx: &Ctx, name: &str) -> Result<bool> {
    s3::is_empty(ctx, name).await.with_context(|| format!("checking whether bucket {name} is empty"))
}

/// A recorded bucket holds data (so it, and the key that encrypts it, stay).
/// Asked of the buckets themselves, not of their steps' progress, so the
/// key and alias steps decide the same way whenever they run.
async fn data_kept(ctx: &Ctx) -> Result<bool> {
    for step in ["bucket.data", "bucket.models"] {
        if let Some(name) = ctx.state.record(step).and_then(|r| r.id)
            && !bucket_empty(ctx, &name).await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The resource `down` would act on for `step`, and why it would keep it
/// (None: delete). `Ok(None)`: nothing recorded and nothing found. Read-only.
/// `wait_in_flight`: first let a create an interrupted run left in flight
/// land (`down`; `plan` only reports what it sees now).
pub async fn teardown_decision(
    ctx: &Ctx,
    step: &Step,
    wait_in_flight: bool,
) -> Result<Option<(String, Option<String>)>> {
    let rec = ctx.state.record(&step.id);
    let id = match rec.as_ref().and_then(|r| r.id.clone()) {
        Some(id) => Some(id),
        None => {
            // Never recorded, or a create whose answer was lost: look for it.
            let interrupted = rec.as_ref().is_some_and(|r| r.status == Some(Status::Creating));
            let discoverable =
                matches!(step.spec, Spec::EfsMountTargets | Spec::EfsFileSystem | Spec::NfsSecurityGroups);
            if interrupted || discoverable {
                if interrupted && wait_in_flight {
                    let_in_flight_land(rec.as_ref().and_then(|r| r.intent_ms)).await;
                }
                find(ctx, step).await.with_context(|| format!("looking for {} ({})", step.kind_name(), step.id))?
            } else {
                None
            }
        }
    };
    let Some(id) = id else { return Ok(None) };
    let why = keep_reason(ctx, step, &id).await?;
    Ok(Some((id, why)))
}

/// Deletes the resource of `step` (if it exists) and forgets it, or marks it
/// retained when `down` keeps it. Returns what happened: "deleted", "kept"
/// or "absent" (nothing to do).
pub async fn down_step(ctx: Arc<Ctx>, step: Step) -> Result<&'static str> {
    match teardown_decision(&ctx, &step, true).await? {
        None => {
            if ctx.state.record(&step.id).is_some() {
                ctx.state.forget(&step.id)?;
            }
            Ok("absent")
        }
        Some((id, Some(why))) => {
            ctx.state.set(&step.id, Status::Retained, Some(&id), &[])?;
            ctx.state.note(&step.id, Some(why))?;
            Ok("kept")
        }
        Some((id, None)) => {
            ctx.state.set(&step.id, Status::Deleting, Some(&id), &[])?;
            delete(&ctx, &step, &id)
                .await
                .with_context(|| format!("deleting {} {id} ({})", step.kind_name(), step.id))?;
            ctx.state.forget(&step.id)?;
            Ok("deleted")
        }
    }
}

/// `find` for read-only callers (`plan`).
pub async fn find_existing(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    find(ctx, step).await
}

async fn find(ctx: &Ctx, step: &Step) -> Result<Option<String>> {
    match &step.spec {
        Spec::Vpc => vpc::find(ctx, step).await,
        Spec::Subnet { .. } => subnet::find(ctx, step).await,
        Spec::SecurityGroup(_) => security_group::find(ctx, step).await,
        Spec::Eip { .. } => eip::find(ctx, step).await,
        Spec::InternetGateway => igw::find(ctx, step).await,
        Spec::IgwAttach => igw::find_attachment(ctx).await,
        Spec::NatGateway { .. } => nat::find(ctx, step).await,
        Spec::RuleGroup | Spec::FirewallPolicy | Spec::Firewall { .. } => firewall::find(ctx, step).await,
        Spec::RouteTable { .. } => route_table::find(ctx, step).await,
        Spec::RouteTableAssoc { .. } => route_table::find_assoc(ctx, step).await,
        Spec::Route { .. } => route::find(ctx, step).await,
        Spec::VpceGateway { .. } | Spec::VpceInterface { .. } => vpc_endpoint::find(ctx, step).await,
        Spec::KmsKey(_) => kms::find_key(ctx, step).await,
        Spec::KmsAlias { .. } => kms::find_alias(ctx, step).await,
        Spec::Bucket { .. } => s3::find(ctx, step).await,
        Spec::IamPolicy => iam::find_policy(ctx).await,
        Spec::IamRole => iam::find_role(ctx).await,
        Spec::Domain { .. } => sagemaker::find_domain(ctx).await,
        Spec::UserProfile { name } => sagemaker::find_user(ctx, name).await,
        Spec::App { user } => sagemaker::find_app(ctx, user).await,
        Spec::EfsMountTargets | Spec::EfsFileSystem => efs::find(ctx).await,
        Spec::NfsSecurityGroups => efs::find_nfs_groups(ctx).await,
    }
}

async fn create(ctx: &Ctx, step: &Step, token: &str) -> Result<String> {
    match &step.spec {
        Spec::Vpc => vpc::create(ctx, step).await,
        Spec::Subnet { .. } => subnet::create(ctx, step).await,
        Spec::SecurityGroup(_) => security_group::create(ctx, step).await,
        Spec::Eip { .. } => eip::create(ctx, step).await,
        Spec::InternetGateway => igw::create(ctx, step).await,
        Spec::IgwAttach => igw::attach(ctx).await,
        Spec::NatGateway { .. } => nat::create(ctx, step, token).await,
        Spec::RuleGroup => firewall::create_rule_group(ctx, step).await,
        Spec::FirewallPolicy => firewall::create_policy(ctx, step).await,
        Spec::Firewall { .. } => firewall::create_firewall(ctx, step).await,
        Spec::RouteTable { .. } => route_table::create(ctx, step, token).await,
        Spec::RouteTableAssoc { .. } => route_table::associate(ctx, step).await,
        Spec::Route { .. } => route::create(ctx, step).await,
        Spec::VpceGateway { .. } | Spec::VpceInterface { .. } => vpc_endpoint::create(ctx, step, token).await,
        Spec::KmsKey(_) => kms::create_key(ctx, step).await,
        Spec::KmsAlias { .. } => kms::create_alias(ctx, step).await,
        Spec::Bucket { .. } => s3::create(ctx, step).await,
        Spec::IamPolicy => iam::create_policy(ctx, step).await,
        Spec::IamRole => iam::create_role(ctx, step).await,
        Spec::Domain { .. } => sagemaker::create_domain(ctx, step).await,
        Spec::UserProfile { name } => sagemaker::create_user(ctx, step, name).await,
        Spec::App { user } => sagemaker::create_app(ctx, step, user).await,
        Spec::EfsMountTargets | Spec::EfsFileSystem | Spec::NfsSecurityGroups => {
            anyhow::bail!("{} is created by SageMaker, not by provision", step.id)
        }
    }
}

async fn settle(ctx: &Ctx, step: &Step, id: &str) -> Result<()> {
    match &step.spec {
        Spec::Vpc => vpc::settle(ctx, id).await,
        Spec::SecurityGroup(role) => security_group::settle(ctx, *role, id).await,
        Spec::NatGateway { .. } => nat::wait_available(ctx, id).await,
        Spec::Firewall { .. } => firewall::wait_ready(ctx, step, id).await,
        Spec::VpceGateway { .. } | Spec::VpceInterface { .. } => vpc_endpoint::wait_available(ctx, id).await,
        Spec::KmsKey(role) => kms::settle_key(ctx, *role, id).await,
        Spec::Bucket { .. } => s3::settle(ctx, step, id).await,
        Spec::IamRole => iam::settle_role(ctx, id).await,
        Spec::Domain { .. } => sagemaker::wait_domain(ctx, id).await,
        Spec::UserProfile { .. } => sagemaker::wait_user(ctx, id).await,
        Spec::App { .. } => sagemaker::wait_app(ctx, id).await,
        _ => Ok(()),
    }
}

async fn delete(ctx: &Ctx, step: &Step, id: &str) -> Result<()> {
    match &step.spec {
        Spec::Vpc => vpc::delete(ctx, id).await,
        Spec::Subnet { .. } => subnet::delete(ctx, id).await,
        Spec::SecurityGroup(_) => security_group::delete(ctx, id).await,
        Spec::Eip { .. } => eip::delete(ctx, id).await,
        Spec::InternetGateway => igw::delete(ctx, id).await,
        Spec::IgwAttach => igw::detach(ctx, id).await,
        Spec::NatGateway { .. } => nat::delete(ctx, id).await,
        Spec::RuleGroup => firewall::delete_rule_group(ctx, id).await,
        Spec::FirewallPolicy => firewall::delete_policy(ctx, id).await,
        Spec::Firewall { .. } => firewall::delete_firewall(ctx, id).await,
        Spec::RouteTable { .. } => route_table::delete(ctx, id).await,
        Spec::RouteTableAssoc { .. } => route_table::disassociate(ctx, id).await,
        Spec::Route { .. } => route::delete(ctx, id).await,
        Spec::VpceGateway { .. } | Spec::VpceInterface { .. } => vpc_endpoint::delete(ctx, id).await,
        Spec::KmsKey(_) => kms::delete_key(ctx, id).await,
        Spec::KmsAlias { .. } => kms::delete_alias(ctx, id).await,
        Spec::Bucket { .. } => s3::delete(ctx, id).await,
        Spec::IamPolicy => iam::delete_policy(ctx, id).await,
        Spec::IamRole => iam::delete_role(ctx, id).await,
        Spec::Domain { .. } => sagemaker::delete_domain(ctx, id).await,
        Spec::UserProfile { .. } => sagemaker::delete_user(ctx, id).await,
        Spec::App { .. } => sagemaker::delete_app(ctx, id).await,
        Spec::EfsMountTargets => efs::delete_mount_targets(ctx, id).await,
        Spec::EfsFileSystem => efs::delete_file_system(ctx, id).await,
        Spec::NfsSecurityGroups => efs::delete_nfs_groups(ctx, id).await,
    }
}
