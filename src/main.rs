//! `provision`'s binary: parse, run, print the error chain once, exit with a code.

use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = provision::commands::Cli::parse();
    if let Err(e) = provision::commands::run(args).await {
        eprintln!("error: {e:#}");
        std::process::exit(provision::error::exit_code(&e));
    }
}
