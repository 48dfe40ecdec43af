//! `cargo run --example claw -- export|import|info ...`: the library CLI without the helper
//! binary, used by scripts/bench/claw.sh so the benchmark does not depend on harness/helper.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    claw: krill_claw::cli::ClawArgs,
}

fn main() -> anyhow::Result<()> {
    krill_claw::cli::run(Cli::parse().claw)
}
