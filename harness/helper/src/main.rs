//! `krill`: the in-pod helper. `krill run` is the container's entrypoint (under tini).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, Subcommand};

use krill_helper::offsite::{ObjectRef, Offsite, OffsiteError, SyncReport};
use krill_helper::paths::{KrillName, Paths, Settings};
use krill_helper::retention::Retention;
use krill_helper::run::Plan;
use krill_helper::snapshot::{SnapshotOptions, SnapshotOutcome, SnapshotReport};
use krill_helper::space::SpaceGuard;
use krill_helper::watch::{self, Event, Schedule, parse_duration, parse_interval};
use krill_helper::{compile_cache, credentials, first_start, manual_restore, snapshot};

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
        /// Re-apply /krill/context once for this id: a volume remembers the last id it acted on,
        /// so a setting left in place never restores again on the next restart.
        #[arg(long, env = "KRILL_REAPPLY_CONTEXT", value_name = "ID")]
        reapply_context: Option<String>,
    },
    /// What `run` does before the exec, without the exec: for an init container running as root.
    Prepare {
        #[arg(long, env = "KRILL_FORCE_RESTORE", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
        force_restore: bool,
        #[arg(long, env = "KRILL_REAPPLY_CONTEXT", value_name = "ID")]
        reapply_context: Option<String>,
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
        /// Delete this krill's oldest snapshots until the rest take at most SIZE (4096, 512M, 5Gi);
        /// never the one just written.
        #[arg(long, env = "KRILL_SNAPSHOT_MAX_TOTAL_SIZE", value_name = "SIZE", value_parser = krill_claw::parse_size)]
        max_total_size: Option<u64>,
        /// Skip the snapshot (with a log line) when writing it would leave less than this share of
        /// the volume free. 0 still skips one that cannot fit.
        #[arg(long, env = "KRILL_SNAPSHOT_MIN_FREE_PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
        min_free_percent: u8,
        /// Write a snapshot even if nothing changed since the last one.
        #[arg(long, conflicts_with = "every")]
        force: bool,
        /// Keep running: a snapshot every DURATION (30s, 15m, 6h, 1d) until SIGTERM or SIGINT,
        /// which take one last snapshot and exit 0. One JSON outcome per line on stdout.
        #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
        every: Option<Duration>,
        /// With --every: the first snapshot DURATION after start [default: 2m].
        #[arg(long, value_name = "DURATION", requires = "every", value_parser = parse_duration)]
        first_after: Option<Duration>,
    },
    /// Download the initClaw named by KRILL_INIT_CLAW_OBJECT from its bucket, verified against its
    /// SHA-256, to where the next `krill run` restores it from; only when that start will restore
    /// (first start, or a new reapply id). The chart's init container, the one that holds the
    /// bucket's credentials.
    FetchInitClaw {
        /// `s3://BUCKET/KEY.claw`, or `s3://BUCKET/[PREFIX/]RELEASE/KRILL/latest`.
        #[arg(long, env = "KRILL_INIT_CLAW_OBJECT")]
        object: String,
        #[arg(long, env = "KRILL_REAPPLY_CONTEXT", value_name = "ID")]
        reapply_context: Option<String>,
    },
    /// Restore a .claw into this krill's volume. The gateway must be stopped (or run this as an init step).
    Restore {
        /// The archive to restore: a file, or an object in a bucket (`s3://BUCKET/KEY.claw`,
        /// `s3://BUCKET/[PREFIX/]RELEASE/KRILL/latest`; KRILL_OBJECT_STORE_* and AWS_* say how to
        /// reach it), downloaded onto the volume and checked against its SHA-256 first.
        archive: PathBuf,
    },
    /// Pack, unpack and inspect .claw archives.
    Claw(krill_claw::cli::ClawArgs),
    /// Serve the krills' credentials (the chart's `<fullname>-keeper` Deployment): each pod that
    /// proves who it is with its projected token gets its own, nothing else.
    Keeper {
        /// The release's keeper config (the chart's ConfigMap `<fullname>-keeper`).
        #[arg(
            long,
            env = "KRILL_KEEPER_CONFIG",
            default_value = "/krill/keeper/keeper.json"
        )]
        config: PathBuf,
        /// Address to listen on.
        #[arg(long, env = "KRILL_KEEPER_LISTEN", default_value = "0.0.0.0:8080")]
        listen: std::net::SocketAddr,
    },
}

fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

fn main() -> ExitCode {
    // kube's client brings rustls' ring provider and object_store's aws-lc-rs: with both compiled
    // in, rustls cannot pick one by itself and the first TLS connection panics (the keeper did).
    // An error only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
            reapply_context,
        } => {
            let credentials = credentials::from_keeper(&env)?;
            let plan = Plan::with_credentials(&env, credentials.as_ref())?;
            plan.ensure_gateway_token()?;
            if dry_run {
                print!("{}", plan.describe());
                return Ok(());
            }
            let lock = plan.prepare(force_restore, reapply_context.as_deref())?;
            // Only ever a slower start when it fails, so it is said and not fatal.
            match compile_cache::seed(&plan.paths, plan.launch.run_as) {
                Ok(seeded) => eprintln!("krill: {seeded}"),
                Err(e) => eprintln!("krill: warning: {e}; the gateway compiles without it"),
            }
            Err(plan.launch.exec(lock).into())
        }
        Command::Prepare {
            force_restore,
            reapply_context,
        } => {
            let plan = Plan::from_env(&env)?;
            drop(plan.prepare(force_restore, reapply_context.as_deref())?);
            eprintln!(
                "krill: prepared {} for {}",
                plan.paths.data.display(),
                plan.name.as_str()
            );
            Ok(())
        }
        Command::Snapshot {
            out,
            keep,
            max_total_size,
            min_free_percent,
            force,
            every,
            first_after,
        } => {
            let name = KrillName::from_env(&env)?;
            let paths = Paths::from_env(&env);
            let options = SnapshotOptions {
                out_dir: out,
                retention: Retention {
                    keep,
                    max_total_bytes: max_total_size,
                },
                force,
                space: SpaceGuard { min_free_percent },
            };
            let Some(every) = every else {
                let report = snapshot::snapshot(&paths, &name, &options)?;
                print_report(&report);
                if let Some(offsite) = Offsite::from_env(&env)? {
                    let report = offsite.sync(&options.out_dir, &name)?;
                    print_sync(&Ok(report));
                }
                return Ok(());
            };
            // Before anything else starts a thread (see stop_signals).
            let stop = watch::stop_signals()?;
            // A bucket that cannot be used is said at start and after every round, and local
            // snapshots go on: they are the krill's first line of defence.
            let offsite = Offsite::from_env(&env).transpose();
            match &offsite {
                Some(Ok(o)) => eprintln!("krill: copies go to {}", o.describe()),
                Some(Err(e)) => eprintln!(
                    "krill: error: copies off the node are configured but cannot be made: {}",
                    describe(&anyhow::anyhow!("{e}"))
                ),
                None => {}
            }
            let schedule = Schedule {
                first_after: first_after.unwrap_or(Duration::from_secs(120)),
                every,
            };
            eprintln!(
                "krill: snapshots of {} into {} every {}s, the first in {}s; SIGTERM takes a last one",
                name.as_str(),
                options.out_dir.display(),
                schedule.every.as_secs(),
                schedule.first_after.as_secs()
            );
            let signal = watch::watch(&paths, &name, &options, schedule, &stop, &mut |event| {
                let round_over = !matches!(event, Event::Stopping { .. });
                print_event(event);
                match (&offsite, round_over) {
                    (Some(Ok(o)), true) => print_sync(&o.sync(&options.out_dir, &name)),
                    (Some(Err(e)), true) => eprintln!(
                        "krill: error: no copy off the node: {}",
                        describe(&anyhow::anyhow!("{e}"))
                    ),
                    _ => {}
                }
            });
            let why = signal.map_or("the signal thread ended".to_owned(), |s| s.to_string());
            eprintln!("krill: snapshot loop stopped ({why})");
            Ok(())
        }
        Command::FetchInitClaw {
            object,
            reapply_context,
        } => {
            let object = ObjectRef::parse(&object)?;
            let paths = Paths::from_env(&env);
            if !first_start::restore_due(&paths, false, reapply_context.as_deref()) {
                eprintln!(
                    "krill: {} was set up before and no new reapplyContext asks for a restore: \
                     {object} is not needed",
                    paths.data.display()
                );
                return Ok(());
            }
            let offsite = Offsite::from_env(&env)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "KRILL_INIT_CLAW_OBJECT={object} but no bucket is configured \
                     (KRILL_OBJECT_STORE_BUCKET; the chart's snapshots.objectStore)"
                )
            })?;
            let dest = paths.fetched_init_claw();
            let bookkeeping = paths.bookkeeping();
            std::fs::create_dir_all(&bookkeeping)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", bookkeeping.display()))?;
            let downloaded = offsite.fetch(&object, &dest)?;
            eprintln!(
                "krill: fetched s3://{}/{} ({} bytes, SHA-256 {} verified) to {}",
                downloaded.bucket,
                downloaded.key,
                downloaded.bytes,
                downloaded.sha256,
                dest.display()
            );
            println!("{}", serde_json::to_string(&downloaded)?);
            Ok(())
        }
        Command::Restore { archive } => {
            let paths = Paths::from_env(&env);
            let settings = Settings::from_env(&env)?;
            let Some(object) = archive.to_str().filter(|a| a.starts_with("s3://")) else {
                let summary = manual_restore::restore_stopped(&paths, &settings, &archive)?;
                println!("{}", serde_json::to_string(&summary)?);
                return Ok(());
            };
            let object = ObjectRef::parse(object)?;
            let offsite = Offsite::from_env(&env)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "{object}: no bucket is configured (KRILL_OBJECT_STORE_BUCKET and the AWS_* \
                     credentials; in a pod, the snapshot container has them)"
                )
            })?;
            let bookkeeping = paths.bookkeeping();
            std::fs::create_dir_all(&bookkeeping)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", bookkeeping.display()))?;
            let download = bookkeeping.join("fetched-restore.claw");
            let downloaded = offsite.fetch(&object, &download)?;
            eprintln!(
                "krill: fetched s3://{}/{} ({} bytes, SHA-256 {} verified)",
                downloaded.bucket, downloaded.key, downloaded.bytes, downloaded.sha256
            );
            let restored = manual_restore::restore_stopped(&paths, &settings, &download);
            let _ = std::fs::remove_file(&download);
            println!("{}", serde_json::to_string(&restored?)?);
            Ok(())
        }
        Command::Claw(args) => krill_claw::cli::run(args),
        Command::Keeper { config, listen } => {
            let config = krill_keeper::config::KeeperConfig::load(&config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(krill_keeper::server::serve(config, listen))?;
            Ok(())
        }
    }
}

fn print_event(event: Event) {
    match event {
        Event::Snapshot { report, .. } => print_report(&report),
        Event::Failed {
            error,
            last,
            retry_in,
        } => {
            let when = match retry_in {
                Some(after) => format!("trying again in {}s", after.as_secs()),
                None if last => "it was the last one before exiting".to_owned(),
                None => String::new(),
            };
            let error = describe(&anyhow::Error::new(error));
            eprintln!("krill: snapshot failed: {error}; {when}");
            // Each attempt gets its line on stdout, a failure too.
            println!(
                "{}",
                serde_json::json!({"outcome": "failed", "error": error, "last": last})
            );
        }
        Event::Stopping { signal } => {
            let why = signal.map_or("the signal thread ended".to_owned(), |s| s.to_string());
            eprintln!("krill: {why}: one last snapshot before exiting");
        }
    }
}

/// One round's copy off the node: a line on stderr (loud when it failed), its JSON on stdout.
fn print_sync(result: &Result<SyncReport, OffsiteError>) {
    match result {
        Ok(SyncReport::Uploaded { uploaded, deleted }) => eprintln!(
            "krill: copied to s3://{}/{} ({} bytes in {} parts, SHA-256 {}), {} old copies deleted",
            uploaded.bucket,
            uploaded.key,
            uploaded.bytes,
            uploaded.parts,
            uploaded.sha256,
            deleted.len()
        ),
        Ok(SyncReport::UpToDate { key }) => eprintln!("krill: the bucket holds {key} already"),
        Ok(SyncReport::NothingLocal) => {}
        Err(error) => {
            // One log line: S3 error documents quoted in the message carry newlines.
            let error = describe(&anyhow::anyhow!("{error}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!(
                "krill: ERROR: the copy off the node failed: {error}; the local snapshots are \
                 kept, and the next round tries again"
            );
            println!(
                "{}",
                serde_json::json!({"offsite": "failed", "error": error})
            );
            return;
        }
    }
    if let Ok(report) = result
        && let Ok(json) = serde_json::to_string(report)
    {
        println!("{json}");
    }
}

/// The report's human lines on stderr, its JSON (one line) on stdout.
fn print_report(report: &SnapshotReport) {
    for leftover in &report.leftovers_removed {
        eprintln!(
            "krill: removed {}, left by a snapshot that was killed",
            leftover.display()
        );
    }
    match &report.outcome {
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
        SnapshotOutcome::SkippedLowSpace(low) => eprintln!("krill: {low}"),
    }
    match serde_json::to_string(report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("krill: error: the outcome does not serialise: {e}"),
    }
}
