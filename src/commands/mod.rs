//! The commands, one file each. `args` holds the clap types; `connect`
//! resolves parameters and opens the state; `run` is what `up` and `down`
//! share. Nothing below this layer imports from it.

use std::sync::Arc;

use anyhow::Result;

mod app;
pub mod args;
mod connect;
mod down;
mod firewall;
mod iam_policy;
mod import;
mod jumpstart;
mod outputs;
mod plan;
mod run;
mod status;
mod studio_url;
mod up;
mod verify;

pub use args::{Cli, Command, FirewallAction, OnOff};
pub use outputs::output_values;

use connect::{Access, connect};
use run::RunOptions;

use crate::kinds::DownOptions;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let opts = RunOptions { parallelism: g.parallelism as usize, progress: !g.no_progress };
    match cli.command {
        Command::Outputs { json, ref key } => outputs::outputs(g, json, key.as_deref()).await,
        Command::Up { strict, adopt } => {
            // Pre-flight reads only: nothing is written, not even the state file, until it passes.
            let probe = connect(g, Access::ReadOrEmpty, DownOptions::default()).await?;
            up::preflight(&probe, strict, adopt).await?;
            drop(probe);
            let mut ctx = connect(g, Access::Create, DownOptions::default()).await?;
            if let Some(c) = Arc::get_mut(&mut ctx) {
                c.adopt = adopt;
            }
            up::up(ctx, opts, adopt).await
        }
        Command::Down { purge_efs, delete_data, yes } => {
            let down = DownOptions { purge_efs, delete_data };
            down::down(connect(g, Access::WriteOrScratch, down).await?, opts, yes).await
        }
        Command::Verify { json } => verify::run(&*connect(g, Access::Read, DownOptions::default()).await?, json).await,
        Command::Jumpstart { action: OnOff::Status } => {
            jumpstart::status(&*connect(g, Access::Read, DownOptions::default()).await?).await
        }
        Command::Jumpstart { ref action } => {
            let enable = matches!(action, OnOff::Enable);
            jumpstart::run(&*connect(g, Access::Write, DownOptions::default()).await?, enable).await
        }
        Command::Firewall { ref action } => {
            // Bad domains are refused before any AWS call.
            if let FirewallAction::Allow { domains } | FirewallAction::Remove { domains } = action {
                firewall::check_domains(domains)?;
            }
            let access = if matches!(action, FirewallAction::List) { Access::Read } else { Access::Write };
            firewall::run(&*connect(g, access, DownOptions::default()).await?, action).await
        }
        Command::IamPolicy => iam_policy::iam_policy(),
        Command::Import => import::import(connect(g, Access::WriteOrScratch, DownOptions::default()).await?).await,
        Command::Plan { destroy, purge_efs, delete_data, strict, json } => {
            let down = DownOptions { purge_efs, delete_data };
            plan::plan(connect(g, Access::ReadOrEmpty, down).await?, destroy, strict, json).await
        }
        Command::Status { json } => status::status(connect(g, Access::Read, DownOptions::default()).await?, json).await,
        Command::StudioUrl { ref user, space, expires } => {
            let ctx = connect(g, Access::Read, DownOptions::default()).await?;
            studio_url::studio_url(ctx, user.clone(), space, expires).await
        }
        Command::Start { ref user } => {
            app::start(connect(g, Access::Write, DownOptions::default()).await?, user.clone()).await
        }
        Command::Stop { ref user } => {
            app::stop(connect(g, Access::Write, DownOptions::default()).await?, user.clone()).await
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
