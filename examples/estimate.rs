//! Manual testing of `migstat estimate` before it is wired into the main CLI:
//! `cargo run --example estimate -- FILE --weight pw --mean api00`.

use clap::Parser;
use migstat::estimate::cli::{run, EstimateArgs};

#[derive(Parser)]
#[command(name = "estimate")]
struct Cli {
    #[command(flatten)]
    args: EstimateArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let code = run(&cli.args, &mut std::io::stdout(), &mut std::io::stderr())?;
    std::process::exit(code);
}
