//! `migstat`: parse the command line, run, map the outcome to the contract's exit codes.
use clap::Parser;

/// Whether errors must be JSON lines: `--log-format json` (or `MIGSTAT_LOG_FORMAT=json`) asks
/// that every line on stderr be one JSON object, even when the command line itself is wrong.
fn json_errors(args: &[String]) -> bool {
    let flag = args
        .windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| a == "--log-format=json");
    let env = std::env::var("MIGSTAT_LOG_FORMAT").is_ok_and(|v| v == "json")
        && !args.iter().any(|a| a.starts_with("--log-format"));
    flag || env
}

fn print_error(json: bool, msg: &str) {
    if json {
        let e = serde_json::json!({
            "timestamp": migstat::batch::summary::iso_now(),
            "level": "ERROR",
            "event": "error",
            "message": msg.trim_end(),
        });
        eprintln!("{e}");
    } else {
        eprintln!("error: {}", migstat::logging::indented(msg));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = json_errors(&args);
    let cli = match migstat::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if json && e.use_stderr() => {
            print_error(json, &e.to_string());
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = match migstat::cli::dispatch(cli, &mut out, &mut err) {
        Ok(c) => c,
        Err(e) => {
            print_error(json, &e.to_string());
            e.exit_code()
        }
    };
    std::process::exit(code);
}
