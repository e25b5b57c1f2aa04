//! Runs the synthetic-survey generator on its own: `cargo run --example synth -- --out DIR`.
use clap::Parser;
use migstat::synth::{run, SynthArgs};

#[derive(Parser)]
#[command(about = "Generate synthetic labour force surveys (ARM, EGY, ECU, THA)")]
struct Cli {
    #[command(flatten)]
    args: SynthArgs,
}

fn main() {
    let cli = Cli::parse();
    let started = std::time::Instant::now();
    match run(&cli.args, &mut std::io::stderr()) {
        Ok(paths) => {
            eprintln!("{} files in {:.2?}", paths.len(), started.elapsed());
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
