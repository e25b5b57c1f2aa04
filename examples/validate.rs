//! Runs upload validation on its own: `cargo run --example validate -- PIPELINE [--input FILE]
//! [--report PATH] [--max-per-rule N] [--warehouse DIR]`; exit 0 = loadable, 1 = errors found,
//! 2 = could not check.
use clap::Parser;
use migstat::validate::{run, ValidateArgs};

#[derive(Parser)]
#[command(about = "Check an upload against its pipeline without loading it")]
struct Cli {
    #[command(flatten)]
    args: ValidateArgs,
}

fn main() {
    let cli = Cli::parse();
    let code = match run(&cli.args, &mut std::io::stdout()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
