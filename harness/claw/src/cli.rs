//! `krill claw export|import|info`: claw.py's command line, plus limits, `--merge` and `--json`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{ExportOptions, ImportOptions, Limits, export, import, info, parse_size};

/// Arguments of `krill claw`.
#[derive(clap::Args, Debug, Clone)]
#[command(about = "Save and restore agent context as .claw archives (compatible with claw.py)")]
pub struct ClawArgs {
    #[command(subcommand)]
    pub command: ClawCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ClawCommand {
    /// Pack a directory into a .claw archive. Packs its `context/` folder if it has one,
    /// otherwise the directory itself (minus generated root files).
    Export {
        /// Directory to pack.
        source_dir: PathBuf,
        /// Output file (default: <directory name>.claw in the current directory; `.claw` is
        /// appended when missing).
        output: Option<PathBuf>,
        /// Compression threads (default: all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Deflate level for every file, 1 (fastest) to 9 (smallest); without it the level is
        /// chosen per file (docs/claw.md).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=9))]
        level: Option<u8>,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Leave claw.py out of the archive even when it is available.
        #[arg(long)]
        without_claw_py: bool,
    },
    /// Unpack a .claw archive into a directory (refuses hostile or broken archives).
    Import {
        /// Archive to unpack.
        claw_file: PathBuf,
        /// Target directory (default: the current directory). Must be missing or empty unless
        /// --merge is given.
        target_dir: Option<PathBuf>,
        /// Unpack into a non-empty directory, replacing same-named files (claw.py's behaviour).
        #[arg(long)]
        merge: bool,
        /// fsync everything before moving it into place (survives power loss, slower).
        #[arg(long)]
        fsync: bool,
        /// Largest total uncompressed size accepted (e.g. 64G).
        #[arg(long, value_parser = parse_size)]
        max_total_bytes: Option<u64>,
        /// Largest number of entries accepted.
        #[arg(long)]
        max_entries: Option<u64>,
        /// Largest compression ratio accepted for one entry (zip bomb guard).
        #[arg(long)]
        max_ratio: Option<u64>,
        /// Extraction threads (default: all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Show an archive's manifest and entries without extracting.
    Info {
        claw_file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `krill claw ...`, printing to stdout.
pub fn run(args: ClawArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    run_with_output(args, &mut stdout.lock())
}

/// Default output name, as claw.py picks it: `<basename of source>.claw` in the current directory.
fn default_output(source: &Path) -> anyhow::Result<PathBuf> {
    let abs =
        std::path::absolute(source).with_context(|| format!("resolving {}", source.display()))?;
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "context".into());
    Ok(PathBuf::from(format!("{name}.claw")))
}

/// Runs `krill claw ...`, printing to `out` (tests capture it).
pub fn run_with_output(args: ClawArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    match args.command {
        ClawCommand::Export {
            source_dir,
            output,
            threads,
            level,
            no_progress,
            without_claw_py,
        } => {
            let mut output = match output {
                Some(o) => o,
                None => default_output(&source_dir)?,
            };
            if !output.to_string_lossy().ends_with(".claw") {
                let mut s = output.into_os_string();
                s.push(".claw");
                output = PathBuf::from(s);
            }
            let mut opts = ExportOptions {
                threads,
                level: level.map_or(crate::DEFAULT_LEVEL, crate::Level::Fixed),
                progress: !no_progress,
                ..ExportOptions::default()
            };
            if without_claw_py {
                opts.claw_py = None;
                opts.note_missing_claw_py = false;
            }
            let summary = export(&source_dir, &output, &opts)?;
            for w in &summary.warnings {
                eprintln!("krill claw: warning: {w}");
            }
            writeln!(out, "Exported: {}", summary.output.display())?;
            writeln!(
                out,
                "  format:  {} v{}",
                summary.manifest.format, summary.manifest.version
            )?;
            writeln!(
                out,
                "  files:   {} context file(s)",
                summary.manifest.context_files.len()
            )?;
            writeln!(
                out,
                "  size:    {} bytes read, {} bytes written",
                summary.bytes_read, summary.archive_bytes
            )?;
        }
        ClawCommand::Import {
            claw_file,
            target_dir,
            merge,
            fsync,
            max_total_bytes,
            max_entries,
            max_ratio,
            threads,
            no_progress,
        } => {
            let defaults = Limits::default();
            let limits = Limits {
                max_total_bytes: max_total_bytes.unwrap_or(defaults.max_total_bytes),
                max_entries: max_entries.unwrap_or(defaults.max_entries),
                max_ratio: max_ratio.unwrap_or(defaults.max_ratio),
                ..defaults
            };
            let target = match target_dir {
                Some(t) => t,
                None => std::env::current_dir().context("finding the current directory")?,
            };
            let opts = ImportOptions {
                limits,
                progress: !no_progress,
                threads,
                merge,
                durable: fsync,
            };
            let summary = import(&claw_file, &target, &opts)?;
            for w in &summary.warnings {
                eprintln!("krill claw: warning: {w}");
            }
            writeln!(out, "Imported: {}", claw_file.display())?;
            if let Some(m) = &summary.manifest {
                writeln!(out, "  format:  {} v{}", m.format, m.version)?;
                writeln!(out, "  created: {}", m.created_at)?;
                writeln!(out, "  files:   {} context file(s)", m.context_files.len())?;
            }
            writeln!(
                out,
                "  into:    {}{}",
                summary.target.display(),
                if summary.merged { " (merged)" } else { "" }
            )?;
        }
        ClawCommand::Info { claw_file, json } => {
            let report = info(&claw_file)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &report)?;
                writeln!(out)?;
                return Ok(());
            }
            writeln!(out, "Archive: {}", report.archive.display())?;
            writeln!(out, "  entries: {}", report.entries.len())?;
            match &report.manifest {
                Some(m) => {
                    writeln!(out, "  format:  {} v{}", m.format, m.version)?;
                    writeln!(out, "  created: {}", m.created_at)?;
                    writeln!(out, "  files:   {} context file(s)", m.context_files.len())?;
                    writeln!(out, "  generator: {}", m.generated_by)?;
                }
                None => writeln!(out, "  Warning: no manifest.json")?,
            }
            writeln!(out, "\nContents:")?;
            for e in &report.entries {
                writeln!(out, "  {}  ({} bytes)", e.name, e.size)?;
            }
        }
    }
    Ok(())
}
