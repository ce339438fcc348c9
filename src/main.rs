//! `provision`: builds a locked-down SageMaker Studio in a private VPC by
//! direct AWS API calls, and removes it again. `main` is thin: parse, run,
//! print the error chain once, exit with a code.

mod aws;
mod cli;
mod config;
mod controls;
mod engine;
mod error;
mod graph;
mod inspect;
mod kinds;
mod lifecycle;
mod policy;
mod progress;
mod retry;
mod state;
mod step_id;
mod wait;

use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args).await {
        let code = e.downcast_ref::<cli::Exit>().map(|x| x.0).unwrap_or(cli::EXIT_FAILED);
        eprintln!("error: {e:#}");
        std::process::exit(code);
    }
}
