//! `provision`'s binary: parse, run, print the error chain once, exit with a code.

#![forbid(unsafe_code)]

use clap::Parser;

/// A closed stdout (`provision status | head -1`) ends the program as it
/// ends other Unix tools: killed by SIGPIPE, quietly. Rust ignores SIGPIPE
/// (so a write to a closed socket is an error, not a death), and `println!`
/// (or clap_complete) then panics on the broken pipe: that panic has
/// `signal_hook` restore the default action and raise the signal (safe
/// code; stable Rust has no `-Z on-broken-pipe`). Every other panic is
/// reported as usual.
fn quiet_on_broken_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // `println!` ("failed printing to stdout: Broken pipe") and
        // clap_complete ("failed to write completion file: ... BrokenPipe").
        if msg.contains("Broken pipe") || msg.contains("BrokenPipe") {
            // The process ends here; should it not, the panic goes on as usual.
            let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGPIPE);
        }
        default(info);
    }));
}

#[tokio::main]
async fn main() {
    // aws-config warns about every credentials provider that had nothing
    // (IMDS off a cloud host, say); the final error says what matters, and
    // RUST_LOG shows the rest.
    quiet_on_broken_stdout();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,aws_config=error".into()),
        )
        // Above the live view while one is drawn (never erased by its next frame).
        .with_writer(provision::progress::log_writer)
        // Colour only on a terminal, and never with NO_COLOR set (no-color.org): pipes and CI logs get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    let args = provision::commands::Cli::parse();
    if let Err(e) = provision::commands::run(args).await {
        // Word-wrapped to the terminal when stderr is one.
        provision::progress::say(&format!("error: {e:#}"));
        std::process::exit(provision::error::exit_code(&e));
    }
}
