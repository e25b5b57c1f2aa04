//! The command line: parsed arguments only; each command hands off to the library.
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{MigError, Result};
use crate::pipeline::{self, RunOptions};

#[derive(Parser, Debug)]
#[command(
    name = "migstat",
    version,
    about = "Labour-migration statistics from survey microdata to ILOSTAT-shaped Parquet"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Extract, normalise, estimate and load one or more pipelines.
    Run(RunArgs),
    /// Check pipeline files: every problem at once, with its key path.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Pipeline files (pipelines/*.toml).
    #[arg(required = true)]
    pub pipelines: Vec<PathBuf>,
    /// Read this file instead of the pipeline's input (e.g. another StatCan month's zip).
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Schema folder (default: next to the pipelines, else the built-in copy).
    #[arg(long)]
    pub schemas: Option<PathBuf>,
    /// Do not write harmonised microdata (confidential in many offices).
    #[arg(long)]
    pub no_microdata: bool,
    /// Findings listed per rule in the run's validation report.
    #[arg(long, default_value_t = 100)]
    pub max_per_rule: u64,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[arg(required = true)]
    pub pipelines: Vec<PathBuf>,
    #[arg(long)]
    pub schemas: Option<PathBuf>,
}

/// Runs a parsed command; returns the exit code.
pub fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    match cli.command {
        Command::Run(a) => run(a, out, err),
        Command::Check(a) => check(a, out),
    }
}

fn run(a: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    if a.input.is_some() && a.pipelines.len() > 1 {
        return Err(MigError::Other(
            "--input goes with a single pipeline".into(),
        ));
    }
    let opts = RunOptions {
        input: a.input,
        warehouse: a.warehouse,
        schemas: a.schemas,
        no_microdata: a.no_microdata,
        microdata_dir: None,
        cap: a.max_per_rule,
    };
    let mut worst = 0;
    for p in &a.pipelines {
        match pipeline::run(p, &opts, out) {
            Ok(s) => {
                let _ = writeln!(out, "  done in {:.2} s", s.seconds);
            }
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                worst = worst.max(e.exit_code());
            }
        }
    }
    Ok(worst)
}

fn check(a: CheckArgs, out: &mut dyn Write) -> Result<i32> {
    let mut code = 0;
    for p in &a.pipelines {
        match pipeline::load_pipeline(p, a.schemas.as_deref()) {
            Ok(_) => {
                let _ = writeln!(out, "{}: ok", p.display());
            }
            Err(e) => {
                let _ = writeln!(out, "{e}");
                code = 2;
            }
        }
    }
    Ok(code)
}
