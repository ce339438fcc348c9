//! The commands, one file each. `args` holds the clap types; `resolve`
//! resolves parameters once (project, region, config file, state store,
//! settings); `connect` opens the state; `run` is what `up` and `down`
//! share. Nothing below this layer imports from it.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;

mod app;
pub mod args;
mod connect;
mod cost;
mod day_two;
mod down;
mod firewall;
mod iam_policy;
mod import;
mod jumpstart;
mod outputs;
mod plan;
mod resolve;
mod run;
mod state_cmd;
mod status;
mod studio_url;
mod up;
mod verify;

pub use args::{Cli, Command, FirewallAction, OnOff, StateAction};
pub use outputs::output_values;

use connect::{Access, connect};
use resolve::Invocation;
use run::RunOptions;

use crate::error::{EXIT_INTERRUPTED, EXIT_INVALID, Exit};
use crate::kinds::{Ctx, DownOptions};

/// Runs a command on a locked state, and releases the lock whatever the
/// outcome: success, failure, or — for commands without a Ctrl-C handling
/// of their own (`up` and `down` have one) — a Ctrl-C, which stops the
/// command where it is and exits 130.
async fn locked<F, Fut>(ctx: Arc<Ctx>, own_ctrl_c: bool, f: F) -> Result<()>
where
    F: FnOnce(Arc<Ctx>) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let state = ctx.state.clone();
    let r = if own_ctrl_c {
        f(ctx).await
    } else {
        tokio::select! {
            r = f(ctx) => r,
            _ = tokio::signal::ctrl_c() => Err(Exit(EXIT_INTERRUPTED, "interrupted: stopped where it was; the state records what was done".into()).into()),
        }
    };
    let released = state.release();
    match (r, released) {
        (Err(e), Err(u)) => {
            eprintln!("warning: {u:#}");
            Err(e)
        }
        (r, Ok(())) => r,
        (Ok(()), Err(u)) => Err(u),
    }
}

/// Resolves the parameters and opens the state (`resolve`, `connect`).
async fn open(g: &args::Global, access: Access, down: DownOptions, verb: &str) -> Result<Arc<Ctx>> {
    connect(&Invocation::new(g)?.resolve().await?, access, down, verb).await
}

/// Runs the parsed command line.
pub async fn run(mut cli: Cli) -> Result<()> {
    cli.global.fold_switches();
    let g = &cli.global;
    let verb = cli.command.verb();
    let opts = |json| RunOptions { parallelism: g.parallelism as usize, progress: !g.no_progress, json };
    let none = DownOptions::default;
    match cli.command {
        Command::Outputs { json, ref key } => outputs::outputs(&Invocation::new(g)?, json, key.as_deref()).await,
        Command::Up { strict, adopt, json, yes } => {
            // Pre-flight reads only: nothing is written, not even the state, and the lock is not taken,
            // until it passes. A run holding the lock now is named at once; one that took it during
            // the pre-flight explains what the pre-flight found (its creations), so it is named instead.
            // The state is read once here, before the lock, and once more under it.
            let resolved = Invocation::new(g)?.resolve().await?;
            let probe = connect(&resolved, Access::ReadOrEmpty, none(), verb).await?;
            probe.state.refuse_if_locked()?;
            probe.state.refuse_if_unwritable()?;
            let checked = up::preflight(&probe, strict, adopt).await;
            if checked.is_err() {
                probe.state.refuse_if_locked()?;
            }
            checked?;
            drop(probe);
            let mut ctx = connect(&resolved, Access::Create, none(), verb).await?;
            if let Some(c) = Arc::get_mut(&mut ctx) {
                c.adopt = adopt;
            }
            locked(ctx, true, |ctx| up::up(ctx, opts(json), adopt, yes)).await
        }
        Command::Down { purge_efs, delete_data, yes, json } => {
            let down = DownOptions { purge_efs, delete_data };
            // Without a state, what the stack's tags say exists is gathered first (`down.rs`).
            let ctx = open(g, Access::WriteOrScratch, down, verb).await?;
            locked(ctx, true, |ctx| down::down(ctx, opts(json), yes)).await
        }
        Command::Verify { json } => verify::run(&*open(g, Access::Read, none(), verb).await?, json).await,
        Command::Jumpstart { action: OnOff::Status } => {
            jumpstart::status(&*open(g, Access::Read, none(), verb).await?).await
        }
        Command::Jumpstart { ref action } => {
            let enable = matches!(action, OnOff::Enable);
            locked(open(g, Access::Write, none(), verb).await?, false, |ctx| async move {
                jumpstart::run(&ctx, enable).await
            })
            .await
        }
        Command::Firewall { ref action } => {
            // Bad domains are refused before any AWS call.
            if let FirewallAction::Allow { domains } | FirewallAction::Remove { domains } = action {
                firewall::check_domains(domains, matches!(action, FirewallAction::Allow { .. }))?;
            }
            if matches!(action, FirewallAction::List) {
                return firewall::run(&*open(g, Access::Read, none(), verb).await?, action).await;
            }
            locked(open(g, Access::Write, none(), verb).await?, false, |ctx| async move {
                firewall::run(&ctx, action).await
            })
            .await
        }
        Command::IamPolicy { explain } => iam_policy::iam_policy(&Invocation::new(g)?, explain).await,
        Command::Import { verbose } => {
            locked(open(g, Access::WriteOrScratch, none(), verb).await?, false, |ctx| import::import(ctx, verbose))
                .await
        }
        Command::Plan { destroy, purge_efs, delete_data, strict, json } => {
            let down = DownOptions { purge_efs, delete_data };
            plan::plan(open(g, Access::ReadOrEmpty, down, verb).await?, destroy, strict, json).await
        }
        Command::Cost { json, ref assume } => cost::cost(&Invocation::new(g)?, json, assume).await,
        Command::Status { json } => status::status(open(g, Access::Read, none(), verb).await?, json).await,
        Command::StudioUrl { ref user, space, expires } => {
            let ctx = open(g, Access::Read, none(), verb).await?;
            studio_url::studio_url(ctx, user.clone(), space, expires).await
        }
        Command::Start { ref user } => {
            let user = user.clone();
            locked(open(g, Access::Write, none(), verb).await?, false, |ctx| app::start(ctx, user)).await
        }
        Command::Stop { ref user } => {
            let user = user.clone();
            locked(open(g, Access::Write, none(), verb).await?, false, |ctx| app::stop(ctx, user)).await
        }
        Command::ForceUnlock { ref lock_id } => state_cmd::force_unlock(&Invocation::new(g)?, lock_id),
        Command::State { ref action } => state_cmd::run(&Invocation::new(g)?, action).await,
        Command::Man { ref command } => {
            // clap_mangen: NAME, SYNOPSIS, OPTIONS and SUBCOMMANDS from the clap definitions;
            // a command's page is provision-COMMAND(1), as provision(1)'s SUBCOMMANDS names it.
            let mut cli = <Cli as clap::CommandFactory>::command();
            cli.build();
            let page = match command {
                None => cli,
                Some(name) => {
                    // clap's getters by path (`Command::get_name(c)`): a method call of a getter reads
                    // as an AWS operation to operations.rs's scan of the code.
                    use clap::Command as C;
                    let Some(sub) = cli.find_subcommand(name) else {
                        let names: Vec<&str> =
                            C::get_subcommands(&cli).map(C::get_name).filter(|n| *n != "help").collect();
                        return Err(Exit(
                            EXIT_INVALID,
                            format!("man: no command '{name}' (one of {})", names.join(", ")),
                        )
                        .into());
                    };
                    // clap names commands by `&'static str` (without its `string` feature):
                    // one page per process, so the name lives as long as the process anyway.
                    let page_name: &'static str = format!("provision-{}", C::get_name(sub)).leak();
                    sub.clone().name(page_name).version(env!("CARGO_PKG_VERSION"))
                }
            };
            // A write error is what `println!` makes of it, a panic: a closed pipe (`| head`) then
            // ends the process as SIGPIPE would, quietly, as for `completions` (main.rs).
            clap_mangen::Man::new(page)
                .render(&mut std::io::stdout())
                .unwrap_or_else(|e| panic!("failed printing to stdout: {e}"));
            Ok(())
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
