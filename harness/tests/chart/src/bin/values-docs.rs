//! `values-docs`: writes `values.schema.json` and the values table of the chart's README from
//! `values.schema.yaml` and `values.yaml` (see the `values_docs` module). Run it through
//! `scripts/chart/values-docs`.

use clap::Parser;
use krill_chart_tests::values_docs;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Generate values.schema.json and the README values table of charts/krill")]
struct Args {
    /// Write nothing; fail when a generated file differs from what would be written.
    #[arg(long)]
    check: bool,
    /// The chart directory (default: charts/krill of this repository, or $KRILL_CHART).
    #[arg(long)]
    chart: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let chart = args.chart.unwrap_or_else(krill_chart_tests::chart_dir);
    // Print `/repo/charts/krill/...` rather than `/repo/harness/tests/chart/../../../charts/...`.
    let chart = chart.canonicalize().unwrap_or(chart);
    let generated = match values_docs::generate(&chart) {
        Ok(generated) => generated,
        Err(err) => {
            eprintln!("values-docs: {err}");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        let stale = generated.stale();
        if stale.is_empty() {
            return ExitCode::SUCCESS;
        }
        for path in stale {
            eprintln!(
                "values-docs: {} is not what values.schema.yaml and values.yaml give; run scripts/chart/values-docs",
                path.display()
            );
        }
        return ExitCode::FAILURE;
    }
    match generated.write() {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("values-docs: {err}");
            ExitCode::FAILURE
        }
    }
}
