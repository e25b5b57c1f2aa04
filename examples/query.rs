//! `migstat query` on its own: `cargo run --example query -- "SELECT …" --warehouse DIR`.
use clap::Parser;
use migstat::query::{run, QueryArgs};

#[derive(Parser)]
#[command(about = "SQL over the warehouse's tables")]
struct Cli {
    #[command(flatten)]
    args: QueryArgs,
}

fn main() {
    let cli = Cli::parse();
    let code = match run(&cli.args, &mut std::io::stdout().lock()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
