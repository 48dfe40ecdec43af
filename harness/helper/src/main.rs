//! `krill`: the in-pod helper. `krill run` is the container's entrypoint (under tini).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, Subcommand};

use krill_helper::paths::{KrillName, Paths, Settings};
use krill_helper::run::Plan;
use krill_helper::snapshot::{SnapshotOptions, SnapshotOutcome};
use krill_helper::{manual_restore, snapshot};

#[derive(Parser)]
#[command(
    name = "krill",
    version,
    about = "The krill in-pod helper: prepares a krill's volume and config, then runs the OpenClaw gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prepare the volume and config, then exec `openclaw gateway run` (the container entrypoint).
    Run {
        /// Print the rendered config (secrets as ${VAR} references) and the command, then exit.
        #[arg(long)]
        dry_run: bool,
        /// Re-apply /krill/context (init.claw, AGENTS.md) even though this volume was set up before.
        #[arg(long, env = "KRILL_FORCE_RESTORE", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
        force_restore: bool,
    },
    /// What `run` does before the exec, without the exec: for an init container running as root.
    Prepare {
        #[arg(long, env = "KRILL_FORCE_RESTORE", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
        force_restore: bool,
    },
    /// Write a .claw of the workspace and agent state while the gateway keeps running.
    Snapshot {
        /// Directory for the archive.
        #[arg(
            long,
            visible_alias = "output-dir",
            env = "KRILL_SNAPSHOT_DIR",
            default_value = "/krill/snapshots"
        )]
        out: PathBuf,
        /// Keep this many of this krill's snapshots, deleting the oldest.
        #[arg(long, env = "KRILL_SNAPSHOT_KEEP")]
        keep: Option<usize>,
        /// Write a snapshot even if nothing changed since the last one.
        #[arg(long)]
        force: bool,
    },
    /// Restore a .claw into this krill's volume. The gateway must be stopped (or run this as an init step).
    Restore {
        /// The archive to restore.
        archive: PathBuf,
    },
    /// Pack, unpack and inspect .claw archives.
    Claw(krill_claw::cli::ClawArgs),
}

fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("krill: error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause its parent already quotes.
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

fn execute(command: Command) -> Result<()> {
    let env = environment();
    match command {
        Command::Run {
            dry_run,
            force_restore,
        } => {
            let plan = Plan::from_env(&env)?;
            plan.ensure_gateway_token()?;
            if dry_run {
                print!("{}", plan.describe());
                return Ok(());
            }
            let lock = plan.prepare(force_restore)?;
            Err(plan.launch.exec(lock).into())
        }
        Command::Prepare { force_restore } => {
            let plan = Plan::from_env(&env)?;
            drop(plan.prepare(force_restore)?);
            eprintln!(
                "krill: prepared {} for {}",
                plan.paths.data.display(),
                plan.name.as_str()
            );
            Ok(())
        }
        Command::Snapshot { out, keep, force } => {
            let name = KrillName::from_env(&env)?;
            let paths = Paths::from_env(&env);
            let outcome = snapshot::snapshot(
                &paths,
                &name,
                &SnapshotOptions {
                    out_dir: out,
                    keep,
                    force,
                },
            )?;
            match &outcome {
                SnapshotOutcome::Written {
                    path,
                    bytes,
                    files,
                    removed,
                    excluded,
                    ..
                } => {
                    for left_out in excluded {
                        eprintln!(
                            "krill: left out {} ({})",
                            left_out.path,
                            left_out.reason.as_str()
                        );
                    }
                    eprintln!(
                        "krill: wrote {} ({files} files, {bytes} bytes), removed {} old",
                        path.display(),
                        removed.len()
                    );
                }
                SnapshotOutcome::Unchanged { last, .. } => {
                    let last = last
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    eprintln!("krill: nothing changed since {last}; no snapshot written");
                }
            }
            println!("{}", serde_json::to_string(&outcome)?);
            Ok(())
        }
        Command::Restore { archive } => {
            let paths = Paths::from_env(&env);
            let settings = Settings::from_env(&env)?;
            let summary = manual_restore::restore_stopped(&paths, &settings, &archive)?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Claw(args) => krill_claw::cli::run(args),
    }
}
