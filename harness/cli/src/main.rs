//! `kubectl-krill`: the krills of a Helm release seen from your machine. Installed on PATH it is
//! also `kubectl krill ...` (kubectl runs any `kubectl-<name>` as a plugin). docs/operations.md
//! describes every command.

mod chat;
mod error;
mod exec;
mod forward;
mod helm;
mod krills;
mod restore;
mod snapshots;
mod status;
mod target;
mod token;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;

use crate::target::{Selector, Target};

#[derive(Parser)]
#[command(
    name = "kubectl-krill",
    bin_name = "kubectl krill",
    version,
    about = "The krills of a Helm release: status, chat, connect, token, logs, exec, snapshots, fetch, restore, scale, pause, resume"
)]
struct Cli {
    /// The Helm release.
    #[arg(long, global = true, env = "KRILL_RELEASE", default_value = "krill")]
    release: String,
    /// The release's namespace.
    #[arg(
        short = 'n',
        long,
        global = true,
        env = "KRILL_NAMESPACE",
        default_value = "krill"
    )]
    namespace: String,
    /// A kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, global = true)]
    context: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// How `scale`, `pause` and `resume` reach the release.
#[derive(clap::Args)]
struct HelmArgs {
    /// The chart the release was installed from (directory, .tgz or repo reference); default
    /// `charts/krill` when run in a krill checkout.
    #[arg(long, env = "KRILL_CHART")]
    chart: Option<String>,
    /// The helm binary.
    #[arg(long, env = "KRILL_HELM", default_value = "helm")]
    helm: PathBuf,
    /// Wait until the change has rolled out (`helm upgrade --wait`).
    #[arg(long)]
    wait: bool,
}

impl HelmArgs {
    fn helm(self) -> helm::Helm {
        helm::Helm {
            bin: self.helm,
            chart: self.chart,
            wait: self.wait,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Every krill of the release: pod, state, readiness, restarts, model, age, last snapshot,
    /// volume use, memory, DNS name.
    Status {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
        /// Refresh until interrupted.
        #[arg(short, long)]
        watch: bool,
        /// Seconds between refreshes with --watch.
        #[arg(long, default_value = "5")]
        interval: u64,
    },
    /// Send one message through a krill's gateway (port-forward, its own token) and print the
    /// answer.
    Chat { name: String, message: String },
    /// Keep a port-forward to a krill's gateway open and print the Control UI's address.
    Connect {
        name: String,
        /// Local port (default: any free one).
        #[arg(short, long, default_value = "0")]
        port: u16,
    },
    /// Print a krill's gateway token (for the Control UI or the OpenAI-compatible endpoint).
    Token { name: String },
    /// A krill's logs (the gateway's, or another container's with -c).
    Logs {
        name: String,
        #[arg(short, long, default_value = krills::GATEWAY_CONTAINER)]
        container: String,
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(long)]
        tail: Option<i64>,
    },
    /// Run a command in a krill's container: `exec NAME -- CMD ARGS...`.
    Exec {
        name: String,
        #[arg(short, long, default_value = krills::GATEWAY_CONTAINER)]
        container: String,
        /// Pass this terminal's stdin to the command (on by default when stdin is not a terminal).
        #[arg(short, long)]
        stdin: bool,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Restore a named krill from a .claw: checked here first, then the krill is paused, `krill
    /// restore` runs on its volume, and the krill is resumed; nothing is changed when the archive
    /// is refused.
    Restore {
        name: String,
        archive: PathBuf,
        #[command(flatten)]
        helm: HelmArgs,
    },
    /// Size the anonymous fleet to N krills (the release's `replicas`); volumes are kept.
    Scale {
        replicas: u32,
        #[command(flatten)]
        helm: HelmArgs,
    },
    /// Stop a named krill, keeping its volume (the release's `krills.<name>.paused`).
    Pause {
        name: String,
        #[command(flatten)]
        helm: HelmArgs,
    },
    /// Start a paused named krill again.
    Resume {
        name: String,
        #[command(flatten)]
        helm: HelmArgs,
    },
    /// List a krill's snapshots (oldest first).
    Snapshots {
        name: String,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Take a snapshot of a krill now (same retention and free-space rules as the sidecar's).
    Snapshot { name: String },
    /// Copy a snapshot (default: the newest) to a local .claw file.
    Fetch {
        name: String,
        snapshot: Option<String>,
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Built together with the rest of the workspace, rustls has two providers compiled in and
    // cannot pick one by itself (see the helper's main).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kubectl krill: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let target = Target::connect(Selector {
        release: cli.release,
        namespace: cli.namespace,
        kubeconfig: cli.kubeconfig,
        context: cli.context,
    })
    .await?;
    match cli.command {
        Command::Status {
            output,
            watch,
            interval,
        } => loop {
            let rows = status::rows(&target).await?;
            let text = match output {
                Output::Table => status::table(&rows),
                Output::Json if watch => serde_json::to_string(&rows)?,
                Output::Json => serde_json::to_string_pretty(&rows)?,
            };
            if watch && matches!(output, Output::Table) && std::io::stdout().is_terminal() {
                // Clear and home, so the table redraws in place.
                print!("\x1b[2J\x1b[H");
            }
            println!("{text}");
            if !watch {
                break;
            }
            tokio::time::sleep(Duration::from_secs(interval.max(1))).await;
        },
        Command::Chat { name, message } => {
            let krill = krills::find(&target, &name).await?;
            println!("{}", chat::turn(&target, &krill, &message).await?);
        }
        Command::Connect { name, port } => {
            let krill = krills::find(&target, &name).await?;
            forward::serve(&target, &krill, port, |address| {
                println!(
                    "krill {} (pod {}): gateway on http://{address}/",
                    krill.name, krill.pod_name
                );
                println!(
                    "Control UI: open http://{address}/ and paste the gateway token into \
                     \"Gateway secret\" (print it with `kubectl krill token {}`)",
                    krill.name
                );
                println!(
                    "OpenAI-compatible API: http://{address}/v1/chat/completions with \
                     `Authorization: Bearer <token>`"
                );
                println!("Ctrl-C ends the port-forward.");
            })
            .await?;
        }
        Command::Token { name } => {
            let krill = krills::find(&target, &name).await?;
            println!("{}", token::read(&target, &krill).await?);
        }
        Command::Logs {
            name,
            container,
            follow,
            tail,
        } => {
            let krill = krills::find(&target, &name).await?;
            let pod = krill.running_pod(target.namespace())?;
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let params = LogParams {
                container: Some(container.clone()),
                follow,
                tail_lines: tail,
                ..LogParams::default()
            };
            let mut lines = Api::<Pod>::namespaced(target.client.clone(), target.namespace())
                .log_stream(&pod_name, &params)
                .await
                .map_err(|e| error::CliError::Exec {
                    name: krill.name.clone(),
                    pod: pod_name.clone(),
                    what: format!("reading the logs of container {container}"),
                    detail: error::kube_message(&e),
                })?
                .lines();
            while let Some(line) = lines
                .try_next()
                .await
                .with_context(|| format!("reading krill {}'s logs", krill.name))?
            {
                println!("{line}");
            }
        }
        Command::Exec {
            name,
            container,
            stdin,
            command,
        } => {
            let krill = krills::find(&target, &name).await?;
            let interactive = stdin || !std::io::stdin().is_terminal();
            let ended = exec::stream(&target, &krill, &container, &command, interactive).await?;
            return Ok(std::process::ExitCode::from(
                u8::try_from(ended.code).unwrap_or(1),
            ));
        }
        Command::Scale { replicas, helm } => {
            let krills = krills::Krills::list(&target).await?;
            if krills.fullname.is_none() {
                return Err(error::CliError::NoRelease {
                    release: target.release().to_owned(),
                    namespace: target.namespace().to_owned(),
                }
                .into());
            }
            helm.helm()
                .set(&target, &[format!("replicas={replicas}")])
                .await?;
            eprintln!(
                "release {}: the fleet is now {replicas} krill(s)",
                target.release()
            );
        }
        Command::Restore {
            name,
            archive,
            helm,
        } => {
            let krill = krills::find(&target, &name).await?;
            let printed = restore::restore(&target, &krill, &archive, &helm.helm()).await?;
            eprint!("{printed}");
            eprintln!("krill {} restored from {}", krill.name, archive.display());
        }
        Command::Pause { name, helm } => set_paused(&target, &name, true, helm).await?,
        Command::Resume { name, helm } => set_paused(&target, &name, false, helm).await?,
        Command::Snapshots { name, output } => {
            let krill = krills::find(&target, &name).await?;
            krill.running_pod(target.namespace())?;
            let probe = snapshots::probe(&target, &krill, Duration::from_secs(30)).await?;
            if !probe.sidecar {
                return Err(error::CliError::SnapshotsOff { name: krill.name }.into());
            }
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&probe.snapshots)?),
                Output::Table => {
                    let now = k8s_openapi::jiff::Timestamp::now().as_second();
                    let mut table = status::new_table(vec!["SNAPSHOT", "AGE", "SIZE"]);
                    for s in &probe.snapshots {
                        table.add_row(vec![
                            s.file.clone(),
                            status::age(now - s.time),
                            status::bytes(s.bytes),
                        ]);
                    }
                    if probe.snapshots.is_empty() {
                        println!(
                            "krill {} has no snapshot yet (`kubectl krill snapshot {}` takes one)",
                            krill.name, krill.name
                        );
                    } else {
                        println!("{table}");
                    }
                }
            }
        }
        Command::Snapshot { name } => {
            let krill = krills::find(&target, &name).await?;
            print!("{}", snapshots::take(&target, &krill).await?);
        }
        Command::Fetch {
            name,
            snapshot,
            output,
        } => {
            let krill = krills::find(&target, &name).await?;
            krill.running_pod(target.namespace())?;
            let probe = snapshots::probe(&target, &krill, Duration::from_secs(30)).await?;
            let chosen = snapshots::pick(&krill, &probe, snapshot.as_deref())?;
            let bytes = snapshots::fetch(&target, &krill, &chosen, &output).await?;
            eprintln!(
                "{} → {} ({})",
                chosen.file,
                output.display(),
                status::bytes(bytes)
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn set_paused(
    target: &Target,
    name: &str,
    paused: bool,
    helm: HelmArgs,
) -> anyhow::Result<()> {
    let krill = krills::find(target, name).await?;
    if krill.kind == krills::Kind::Fleet {
        return Err(error::CliError::FleetPause { name: krill.name }.into());
    }
    let word = if paused { "paused" } else { "running" };
    if krill.paused == paused {
        eprintln!("krill {} is already {word}; nothing changed", krill.name);
        return Ok(());
    }
    helm.helm()
        .set(target, &[format!("krills.{}.paused={paused}", krill.name)])
        .await?;
    eprintln!(
        "krill {} is now {word} (release {})",
        krill.name,
        target.release()
    );
    Ok(())
}
