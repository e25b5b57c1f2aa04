//! `migstat`: parse the command line, run, map the outcome to the contract's exit codes.
use clap::Parser;

fn main() {
    let cli = migstat::cli::Cli::parse();
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = match migstat::cli::dispatch(cli, &mut out, &mut err) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
