//! `krill-stand-in`: the LLM-provider stand-in as a server process (for container tests).

use std::net::SocketAddr;

use clap::Parser;
use krill_stand_in::Script;

#[derive(Parser)]
#[command(
    name = "krill-stand-in",
    version,
    about = "LLM-provider stand-in for krill's tests: a scripted OpenAI-compatible model server"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", env = "KRILL_STAND_IN_LISTEN")]
    listen: SocketAddr,
    /// Model id served at /v1/models [default: the library's Script].
    #[arg(long)]
    model: Option<String>,
    /// Workspace-relative path the scripted `write` tool call creates.
    #[arg(long)]
    file_path: Option<String>,
    /// Content of that file.
    #[arg(long)]
    file_content: Option<String>,
    /// The final text answer after the tool result.
    #[arg(long)]
    final_text: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The defaults live in one place, the library, where the tests read what to expect.
    let default = Script::default();
    let script = Script {
        model: args.model.unwrap_or(default.model),
        file_path: args.file_path.unwrap_or(default.file_path),
        file_content: args.file_content.unwrap_or(default.file_content),
        final_text: args.final_text.unwrap_or(default.final_text),
    };
    let server = krill_stand_in::serve(args.listen, script);
    tokio::select! {
        result = server => result?,
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    Ok(())
}

/// PID 1 in a container gets SIGTERM, not SIGINT; exit promptly on either.
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}
