//! Command line: flags are parsed into one type, resolved into `Settings`
//! (validated before any AWS call), then the command runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::aws::{Clients, ConnOptions};
use crate::config::{InvalidInput, RawParams, Settings};
use crate::engine::{self, SkipReason};
use crate::graph::{self, Graph};
use crate::kinds::{Ctx, DownOptions};
use crate::lifecycle;
use crate::progress::{Progress, elapsed};
use crate::state::{self, Identity, State, Status};
use crate::step_id::StepId;

#[derive(Parser, Debug)]
#[command(
    name = "provision",
    version,
    about = "Builds (and removes) a locked-down SageMaker Studio in a private VPC by direct AWS API calls",
    after_help = "Examples:\n  provision up\n  provision --region eu-west-1 up --vpc-cidr 10.9.0.0/16\n  provision outputs --json\n  provision down --purge-efs"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// AWS region (default: the AWS config chain).
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator); S3 then uses path-style addressing.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// State file (default: state/<project>.json).
    #[arg(long, global = true, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// TOML file with parameters (keys as in the spec: vpc_cidr = "10.2.0.0/16", ...).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How many steps may run at once.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Plain line-per-event output even on a terminal (the default when stderr is not one).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Allow a region outside the Network Firewall list of the spec.
    #[arg(long, global = true)]
    pub any_region: bool,
    #[command(flatten)]
    pub params: ParamFlags,
}

/// One flag per stack parameter; each overrides the config file.
#[derive(Args, Debug, Clone, Default)]
pub struct ParamFlags {
    #[arg(long, global = true)]
    pub project: Option<String>,
    #[arg(long, global = true)]
    pub domain_name: Option<String>,
    #[arg(long, global = true)]
    pub user_profile_name: Option<String>,
    #[arg(long, global = true, value_name = "CIDR")]
    pub vpc_cidr: Option<String>,
    #[arg(long, global = true, value_name = "CIDR")]
    pub firewall_subnet_cidr: Option<String>,
    #[arg(long, global = true, value_name = "CIDR")]
    pub nat_subnet_cidr: Option<String>,
    #[arg(long, global = true, value_name = "CIDR")]
    pub sagemaker_subnet_cidr: Option<String>,
    /// Comma-separated domains or .suffixes the firewall lets through.
    #[arg(long, global = true, value_delimiter = ',', value_name = "DOMAINS")]
    pub allowed_domains: Option<Vec<String>>,
    #[arg(long, global = true, value_name = "AZ")]
    pub availability_zone: Option<String>,
    /// Comma-separated zones the stack spans (the first is --availability-zone's).
    #[arg(long, global = true, value_delimiter = ',', value_name = "AZS")]
    pub availability_zones: Option<Vec<String>>,
    /// One firewall subnet CIDR per zone (default: carved from the first).
    #[arg(long, global = true, value_delimiter = ',', value_name = "CIDRS")]
    pub firewall_subnet_cidrs: Option<Vec<String>>,
    /// One NAT subnet CIDR per zone (default: carved from the first).
    #[arg(long, global = true, value_delimiter = ',', value_name = "CIDRS")]
    pub nat_subnet_cidrs: Option<Vec<String>>,
    /// One SageMaker subnet CIDR per zone (default: carved from the first).
    #[arg(long, global = true, value_delimiter = ',', value_name = "CIDRS")]
    pub sagemaker_subnet_cidrs: Option<Vec<String>>,
    /// Comma-separated user profile names, each with its own app (replaces --user-profile-name).
    #[arg(long, global = true, value_delimiter = ',', value_name = "NAMES")]
    pub users: Option<Vec<String>>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the stack, or resume where a failed or killed run stopped.
    #[command(
        after_help = "Examples:\n  provision up\n  provision --region eu-west-1 up --availability-zones eu-west-1a,eu-west-1b"
    )]
    Up,
    /// Remove the stack in reverse dependency order.
    #[command(
        after_help = "Without --purge-efs the EFS with the users' home directories, what it needs (its mount\ntargets, NFS security groups, SageMaker subnet, VPC) and non-empty buckets stay, recorded as\nretained.\n\nExamples:\n  provision down\n  provision down --purge-efs --delete-data"
    )]
    Down {
        /// Also remove SageMaker's EFS (user home directories), its mount targets and NFS security groups.
        #[arg(long)]
        purge_efs: bool,
        /// Also empty and remove non-empty buckets (and the key that encrypts them).
        #[arg(long)]
        delete_data: bool,
    },
    /// Show what `up` (or, with --destroy, `down`) would do, step by step; changes nothing.
    #[command(
        after_help = "Examples:\n  provision plan\n  provision plan --destroy --purge-efs\n  provision plan --json"
    )]
    Plan {
        /// Plan `down` instead of `up`.
        #[arg(long)]
        destroy: bool,
        /// With --destroy: plan `down --purge-efs`.
        #[arg(long, requires = "destroy")]
        purge_efs: bool,
        /// With --destroy: plan `down --delete-data`.
        #[arg(long, requires = "destroy")]
        delete_data: bool,
        #[arg(long)]
        json: bool,
    },
    /// Compare the recorded resources with what exists now (present, missing, changed, retained).
    #[command(after_help = "Exit code 1 when something is missing or drifted.\n\nExample:\n  provision status --json")]
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a presigned URL that opens Studio for a user profile (never stored).
    #[command(after_help = "Example:\n  provision studio-url --expires 600")]
    StudioUrl {
        /// User profile (default: the stack's user_profile_name).
        #[arg(long)]
        user: Option<String>,
        /// Seconds the URL stays valid (5 to 300 for the URL itself; AWS's rule).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i32).range(5..=300))]
        expires: i32,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  provision completions bash > /etc/bash_completion.d/provision")]
    Completions { shell: clap_complete::Shell },
    /// Check every security control of the live stack (one line per control, with evidence).
    #[command(after_help = "Exit code 1 when a control fails.\n\nExample:\n  provision verify --json")]
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Let Studio read JumpStart content (objects tagged SageMaker=true) through the S3 endpoint, or stop it.
    #[command(after_help = "Example:\n  provision jumpstart enable")]
    Jumpstart {
        #[command(subcommand)]
        action: OnOff,
    },
    /// Show or edit the firewall's domain allow-list.
    #[command(
        after_help = "allow/remove change the live rule group and the recorded allowed_domains, so a bare\n`provision up` keeps the edit; an explicit --allowed-domains or config value wins over it,\nand `provision status` shows any difference.\n\nExamples:\n  provision firewall list\n  provision firewall allow pypi.org .pythonhosted.org\n  provision firewall remove .kaggle.com"
    )]
    Firewall {
        #[command(subcommand)]
        action: FirewallAction,
    },
    /// Print the least-privilege IAM policy an operator needs to run provision.
    #[command(after_help = "Example:\n  provision iam-policy > operator-policy.json")]
    IamPolicy,
    /// Print the stack's outputs (the original CloudFormation output keys).
    #[command(after_help = "Examples:\n  provision outputs --json\n  provision outputs SageMakerStudioDomainId")]
    Outputs {
        #[arg(long)]
        json: bool,
        /// Print only this key's raw value.
        key: Option<String>,
    },
}

#[derive(Subcommand, Debug, Clone, Copy)]
pub enum OnOff {
    /// Add the JumpStart statement to the S3 endpoint policy (recorded; `up` keeps it).
    Enable,
    /// Remove it again.
    Disable,
}

#[derive(Subcommand, Debug, Clone)]
pub enum FirewallAction {
    /// Print the domains the firewall lets through.
    List,
    /// Add domains (or .suffixes) to the allow-list.
    Allow {
        #[arg(required = true)]
        domains: Vec<String>,
    },
    /// Remove domains from the allow-list (the last one cannot be removed).
    Remove {
        #[arg(required = true)]
        domains: Vec<String>,
    },
}

/// Exit codes.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

/// An error with its exit code.
#[derive(Debug)]
pub struct Exit(pub i32, pub String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for Exit {}

impl ParamFlags {
    fn to_raw(&self) -> RawParams {
        RawParams {
            project: self.project.clone(),
            domain_name: self.domain_name.clone(),
            user_profile_name: self.user_profile_name.clone(),
            vpc_cidr: self.vpc_cidr.clone(),
            firewall_subnet_cidr: self.firewall_subnet_cidr.clone(),
            nat_subnet_cidr: self.nat_subnet_cidr.clone(),
            sagemaker_subnet_cidr: self.sagemaker_subnet_cidr.clone(),
            allowed_domains: self.allowed_domains.clone(),
            availability_zone: self.availability_zone.clone(),
            region: None,
            users: self.users.clone(),
            availability_zones: self.availability_zones.clone(),
            firewall_subnet_cidrs: self.firewall_subnet_cidrs.clone(),
            nat_subnet_cidrs: self.nat_subnet_cidrs.clone(),
            sagemaker_subnet_cidrs: self.sagemaker_subnet_cidrs.clone(),
        }
    }
}

fn default_state_path(project: &str) -> PathBuf {
    Path::new("state").join(format!("{project}.json"))
}

/// Resolves parameters: recorded ones (state), then the config file, then
/// flags. Returns settings, state path and SDK config. No AWS call is made.
async fn resolve(g: &Global) -> Result<(Settings, PathBuf, aws_config::SdkConfig)> {
    let invalid = |msg: String| Exit(EXIT_INVALID, msg);
    let mut from_file = match &g.config {
        Some(p) => RawParams::from_file(p).map_err(invalid)?,
        None => RawParams::default(),
    };
    let flags = g.params.to_raw();
    let project = flags
        .project
        .clone()
        .or(from_file.project.clone())
        .unwrap_or_else(|| crate::config::DEFAULT_PROJECT.to_string());
    let path = g.state.clone().unwrap_or_else(|| default_state_path(&project));
    // The recorded parameters are the base, so a bare re-run means "same stack".
    let recorded = match state::read(&path) {
        Ok(Some(doc)) => {
            serde_json::from_value::<RawParams>(serde_json::Value::Object(doc.params.into_iter().collect()))
                .unwrap_or_default()
        }
        Ok(None) => RawParams::default(),
        Err(e) => return Err(e),
    };
    if g.region.is_some() {
        from_file.region = g.region.clone();
    }
    let given = from_file.clone().overlay(flags.clone());
    let mut raw = recorded.overlay(from_file).overlay(flags);
    // Recorded per-zone CIDRs follow the zones: when the zones now given are
    // fewer, keep the CIDRs of those zones (the dropped zone is then refused
    // by name, not by a CIDR count).
    let zones = raw.availability_zones.as_ref().map(Vec::len).unwrap_or(1);
    for (list, from_user) in [
        (&mut raw.firewall_subnet_cidrs, given.firewall_subnet_cidrs.is_some()),
        (&mut raw.nat_subnet_cidrs, given.nat_subnet_cidrs.is_some()),
        (&mut raw.sagemaker_subnet_cidrs, given.sagemaker_subnet_cidrs.is_some()),
    ] {
        if let Some(l) = list
            && !from_user
        {
            l.truncate(zones);
        }
    }
    let conn =
        ConnOptions { region: raw.region.clone(), profile: g.profile.clone(), endpoint_url: g.endpoint_url.clone() };
    let sdk = crate::aws::load(&conn).await;
    if raw.region.is_none() {
        raw.region = sdk.region().map(|r| r.to_string());
    }
    let settings = Settings::resolve(raw, g.any_region).map_err(|e: InvalidInput| invalid(e.to_string()))?;
    let sdk = if sdk.region().map(|r| r.as_ref()) == Some(settings.region.as_str()) {
        sdk
    } else {
        crate::aws::load(&ConnOptions { region: Some(settings.region.clone()), ..conn }).await
    };
    Ok((settings, path, sdk))
}

/// How a command uses the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `up`: lock, create if absent, record the parameters.
    Create,
    /// Mutating commands on an existing stack: lock.
    Write,
    /// Read-only commands: no lock, nothing written.
    Read,
    /// Like `Read`, and a missing state file is an empty stack (`plan`).
    ReadOrEmpty,
}

/// Resolves parameters, asks STS for the account, opens the state for the
/// stack (refusing a foreign one) and builds the context every command uses.
pub async fn connect(g: &Global, access: Access, down: DownOptions) -> Result<Arc<Ctx>> {
    let (settings, path, sdk) = resolve(g).await?;
    let clients = Clients::new(&sdk);
    let account = clients.account().await?;
    let who = Identity { stack: settings.stack(), region: &settings.region, account: &account };
    let state = match access {
        Access::Read => State::open_read(&path, &who, false)?,
        Access::ReadOrEmpty => State::open_read(&path, &who, true)?,
        _ => State::open(&path, &who, access == Access::Create)?,
    };
    Ok(Arc::new(Ctx { aws: clients, s: Arc::new(settings), state, account, down }))
}

pub async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let opts = RunOptions { parallelism: g.parallelism as usize, progress: !g.no_progress };
    match cli.command {
        Command::Outputs { json, ref key } => outputs(g, json, key.as_deref()).await,
        Command::Up => up(connect(g, Access::Create, DownOptions::default()).await?, opts).await,
        Command::Down { purge_efs, delete_data } => {
            let down = DownOptions { purge_efs, delete_data };
            teardown(connect(g, Access::Write, down).await?, opts).await
        }
        Command::Verify { json } => {
            crate::controls::verify(connect(g, Access::Read, DownOptions::default()).await?, json).await
        }
        Command::Jumpstart { ref action } => {
            let enable = matches!(action, OnOff::Enable);
            crate::controls::jumpstart(connect(g, Access::Write, DownOptions::default()).await?, enable).await
        }
        Command::Firewall { ref action } => {
            // Bad domains are refused before any AWS call.
            if let FirewallAction::Allow { domains } | FirewallAction::Remove { domains } = action {
                crate::controls::check_domains(domains)?;
            }
            let access = if matches!(action, FirewallAction::List) { Access::Read } else { Access::Write };
            crate::controls::firewall(connect(g, access, DownOptions::default()).await?, action).await
        }
        Command::IamPolicy => crate::controls::iam_policy(),
        Command::Plan { destroy, purge_efs, delete_data, json } => {
            let down = DownOptions { purge_efs, delete_data };
            crate::inspect::plan(connect(g, Access::ReadOrEmpty, down).await?, destroy, json).await
        }
        Command::Status { json } => {
            crate::inspect::status(connect(g, Access::Read, DownOptions::default()).await?, json).await
        }
        Command::StudioUrl { ref user, expires } => {
            let ctx = connect(g, Access::Read, DownOptions::default()).await?;
            studio_url(ctx, user.clone(), expires).await
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "provision",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

/// First Ctrl-C: start nothing new, let running steps finish and record.
/// Second: exit at once (every transition is already persisted).
fn stop_on_ctrl_c() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ninterrupt: starting nothing new; waiting for running steps to finish and record (Ctrl-C again to exit now)"
            );
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupt: exiting now; the state file is consistent, `provision up` resumes");
                std::process::exit(EXIT_INTERRUPTED);
            }
        }
    });
    rx
}

/// Refuses to act when the state records steps the parameters no longer
/// produce (a zone or user dropped from the parameters): provision does not
/// remove parts of a live stack, and acting on a partial graph would orphan them.
pub fn refuse_dropped_parts(ctx: &Ctx, graph: &Graph) -> Result<()> {
    let dropped: Vec<String> =
        ctx.state.doc().steps.into_keys().filter(|id| !graph.contains(id) && !graph::is_teardown_only(id)).collect();
    if dropped.is_empty() {
        return Ok(());
    }
    Err(Exit(
        EXIT_INVALID,
        format!(
            "the state {} records {} that the parameters no longer include ({}). Removing a zone or a user from a live stack is not supported: put it back in availability_zones / users, or remove the whole stack with `provision down`",
            ctx.state.path().display(),
            if dropped.len() == 1 { "a step".to_string() } else { format!("{} steps", dropped.len()) },
            dropped.join(", ")
        ),
    )
    .into())
}

async fn up(ctx: Arc<Ctx>, opts: RunOptions) -> Result<()> {
    let graph = graph::build(&ctx.s);
    refuse_dropped_parts(&ctx, &graph)?;
    // Only now do these parameters become the stack's record.
    let params = ctx.s.as_map();
    ctx.state.update(|d| d.params = params)?;
    let total = graph.steps.len();
    let recorded =
        graph.steps.iter().filter(|s| ctx.state.record(&s.id).and_then(|r| r.status) == Some(Status::Ready)).count();
    eprintln!(
        "provision up: stack {} in {} (account {}), {recorded} of {total} steps recorded as ready (checking them), state {}",
        ctx.stack(),
        ctx.s.region,
        ctx.account,
        ctx.state.path().display()
    );
    let started = Instant::now();
    let stop = stop_on_ctrl_c();
    let edges = graph.edges();
    let (out, changed) = run_graph(&ctx, &graph, &edges, &opts, stop, true).await;
    report(&graph, out, started, "up", total)?;
    if changed == 0 {
        println!(
            "Stack {} is up to date: all {total} resources exist as recorded ({}). Nothing to do.",
            ctx.stack(),
            ctx.state.path().display()
        );
    } else {
        println!(
            "Stack {} is up ({changed} of {total} steps changed, {:.1}s). `provision outputs` shows its ids.",
            ctx.stack(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

async fn teardown(ctx: Arc<Ctx>, opts: RunOptions) -> Result<()> {
    let graph = graph::build_teardown(&ctx.s);
    refuse_dropped_parts(&ctx, &graph)?;
    let edges = graph.reversed_edges();
    eprintln!(
        "provision down{}{}: stack {} in {} (account {}), state {}",
        if ctx.down.purge_efs { " --purge-efs" } else { "" },
        if ctx.down.delete_data { " --delete-data" } else { "" },
        ctx.stack(),
        ctx.s.region,
        ctx.account,
        ctx.state.path().display()
    );
    let started = Instant::now();
    let stop = stop_on_ctrl_c();
    let (out, _) = run_graph(&ctx, &graph, &edges, &opts, stop, false).await;
    report(&graph, out, started, "down", graph.steps.len())?;
    let kept: Vec<(String, state::Record)> =
        ctx.state.doc().steps.into_iter().filter(|(_, r)| r.status == Some(Status::Retained)).collect();
    if kept.is_empty() {
        println!("Stack {} is gone ({:.1}s).", ctx.stack(), started.elapsed().as_secs_f64());
    } else {
        println!(
            "Stack {} removed except what holds data ({:.1}s); kept:",
            ctx.stack(),
            started.elapsed().as_secs_f64()
        );
        for (step, r) in kept {
            println!("  {step:<18} {:<28} {}", r.id.unwrap_or_default(), r.note.unwrap_or_default());
        }
    }
    Ok(())
}

/// Runs every step of `graph` (up or down) with progress; returns the
/// engine's outcome and how many steps changed something.
async fn run_graph(
    ctx: &Arc<Ctx>,
    graph: &Graph,
    edges: &[Vec<usize>],
    opts: &RunOptions,
    stop: tokio::sync::watch::Receiver<bool>,
    forward: bool,
) -> (engine::Outcome<anyhow::Error>, usize) {
    let total = edges.len();
    let progress = Progress::start(total, opts.progress);
    let ticker = {
        let p = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                p.refresh();
            }
        })
    };
    let finished = Arc::new(AtomicUsize::new(0));
    let changed = Arc::new(AtomicUsize::new(0));
    let out = engine::run(edges, &HashSet::new(), opts.parallelism, stop, |i| {
        let (ctx, step, progress) = (ctx.clone(), graph.steps[i].clone(), progress.clone());
        let (finished, changed) = (finished.clone(), changed.clone());
        crate::progress::STEP.scope(step.id.to_string(), async move {
            let t = Instant::now();
            progress.begin(step.id.as_str());
            let r = if forward {
                lifecycle::up_step(ctx.clone(), step.clone()).await.map(|a| a.as_str())
            } else {
                lifecycle::down_step(ctx.clone(), step.clone()).await
            };
            let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
            match &r {
                Ok("unchanged" | "absent") => progress.skip(step.id.as_str()),
                Ok(what) => {
                    changed.fetch_add(1, Ordering::SeqCst);
                    let id = ctx.state.record(&step.id).and_then(|r| r.id).unwrap_or_default();
                    progress.end(
                        step.id.as_str(),
                        &format!("[{n:>2}/{total}] {:<24} {what:<9} {id} ({})", step.id, elapsed(t.elapsed())),
                    );
                }
                Err(e) => progress.end(step.id.as_str(), &format!("[{n:>2}/{total}] {:<24} FAILED    {e:#}", step.id)),
            }
            r.map(|_| ())
        })
    })
    .await;
    ticker.abort();
    progress.finish();
    (out, changed.load(Ordering::SeqCst))
}

/// How `up`/`down` run.
pub struct RunOptions {
    pub parallelism: usize,
    /// Live view when stderr is a terminal.
    pub progress: bool,
}

/// Prints root causes (and what was skipped because of them); errors out
/// with the right exit code when the run did not complete.
fn report(
    graph: &Graph,
    out: engine::Outcome<anyhow::Error>,
    started: Instant,
    verb: &str,
    planned: usize,
) -> Result<()> {
    if out.ok() {
        return Ok(());
    }
    let upstream = out.skipped.iter().filter(|(_, w)| *w == SkipReason::UpstreamFailed).count();
    let stopped = out.skipped.iter().filter(|(_, w)| *w == SkipReason::Stopped).count();
    let mut msg = String::new();
    for (i, e) in &out.failed {
        msg.push_str(&format!("step {} failed: {e:#}\n", graph.steps[*i].id));
    }
    msg.push_str(&format!(
        "{verb}: {} of {planned} steps done, {} failed, {upstream} skipped (upstream failed), {stopped} not started, after {:.1}s. \
         The state file records everything done; run `provision {verb}` again to resume.",
        out.succeeded.len(),
        out.failed.len(),
        started.elapsed().as_secs_f64()
    ));
    let code = if out.failed.is_empty() { EXIT_INTERRUPTED } else { EXIT_FAILED };
    Err(Exit(code, msg).into())
}

async fn studio_url(ctx: Arc<Ctx>, user: Option<String>, expires: i32) -> Result<()> {
    let domain = ctx
        .state
        .id(&StepId::DOMAIN)
        .map_err(|_| Exit(EXIT_FAILED, "the stack has no SageMaker domain yet: run `provision up` first".into()))?;
    let user = user.unwrap_or_else(|| ctx.s.user_profile_name.clone());
    let out = ctx
        .aws
        .sagemaker
        .create_presigned_domain_url()
        .domain_id(&domain)
        .user_profile_name(&user)
        .expires_in_seconds(expires)
        .send()
        .await
        .map_err(crate::error::aws)
        .with_context(|| format!("creating a presigned URL for user profile {user} in domain {domain}"))?;
    println!("{}", out.authorized_url().context("CreatePresignedDomainUrl returned no URL")?);
    Ok(())
}

/// The original stack's output keys, read from the state file (no AWS call).
pub fn output_values(doc: &state::StateDoc) -> Vec<(&'static str, Option<String>)> {
    let id = |s: StepId| doc.steps.get(s.as_str()).and_then(|r| r.id.clone());
    // The primary user profile's id is "{domain}/{name}".
    let user = id(StepId::USER).and_then(|u| u.split_once('/').map(|(_, name)| name.to_string()));
    let mut values = vec![
        ("VPCId", id(StepId::VPC)),
        ("S3VPCEndpointId", id(StepId::VPCE_S3)),
        ("SageMakerStudioSubnetId", id(StepId::SUBNET_SAGEMAKER)),
        ("SageMakerStudioSecurityGroupId", id(StepId::SG_SAGEMAKER)),
        ("SageMakerExecutionRoleArn", id(StepId::IAM_ROLE)),
        ("KMSKeyEBSArn", id(StepId::KMS_EBS)),
        ("KMSKeyS3bucketsArn", id(StepId::KMS_S3)),
        ("SageMakerS3bucketData", id(StepId::BUCKET_DATA)),
        ("SageMakerS3bucketModels", id(StepId::BUCKET_MODELS)),
        ("SageMakerStudioDomainId", id(StepId::DOMAIN)),
        ("UserProfileName", user),
    ];
    // A stack across several zones also lists every zone's SageMaker subnet.
    let mut zones: Vec<(&String, String)> = doc
        .steps
        .iter()
        .filter(|(k, _)| {
            StepId::recorded(k.as_str()).is_zone_of(&StepId::SUBNET_SAGEMAKER)
                && *k != StepId::SUBNET_SAGEMAKER.as_str()
        })
        .filter_map(|(k, r)| r.id.clone().map(|id| (k, id)))
        .collect();
    zones.sort();
    if !zones.is_empty()
        && let Some(first) = id(StepId::SUBNET_SAGEMAKER)
    {
        let all: Vec<String> = std::iter::once(first).chain(zones.into_iter().map(|(_, id)| id)).collect();
        values.push(("SageMakerStudioSubnetIds", Some(all.join(","))));
    }
    values
}

async fn outputs(g: &Global, json: bool, key: Option<&str>) -> Result<()> {
    let project = g
        .params
        .project
        .clone()
        .or_else(|| g.config.as_ref().and_then(|p| RawParams::from_file(p).ok()).and_then(|r| r.project));
    let path = g
        .state
        .clone()
        .unwrap_or_else(|| default_state_path(project.as_deref().unwrap_or(crate::config::DEFAULT_PROJECT)));
    let doc = state::read(&path)?
        .with_context(|| format!("no state file at {}: run `provision up` first", path.display()))?;
    let values = output_values(&doc);
    if let Some(k) = key {
        match values.iter().find(|(name, _)| *name == k) {
            Some((_, Some(v))) => println!("{v}"),
            Some((_, None)) => bail!("output {k} has no value yet (the resource does not exist)"),
            None => {
                let known: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
                return Err(Exit(EXIT_INVALID, format!("unknown output key '{k}'; keys: {}", known.join(", "))).into());
            }
        }
        return Ok(());
    }
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            values.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), serde_json::Value::String(v)))).collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (k, v) in values {
            println!("{k:<32} {}", v.unwrap_or_else(|| "-".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_has_help_with_an_example() {
        let cmd = super::Cli::command();
        cmd.clone().debug_assert();
        for sub in cmd.get_subcommands() {
            let after = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(sub.get_about().is_some(), "{} has no description", sub.get_name());
            assert!(after.contains("Example"), "{} --help has no example", sub.get_name());
        }
    }
}
