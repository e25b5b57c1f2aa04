//! `migstat export` on its own: `cargo run --example export -- --format ilostat-csv --out DIR`.
use clap::Parser;
use migstat::export::{run, ExportArgs};

#[derive(Parser)]
#[command(about = "ILOSTAT and SDMX CSV files from the warehouse")]
struct Cli {
    #[command(flatten)]
    args: ExportArgs,
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
