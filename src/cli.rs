//! The command line: parsed arguments only; each command hands off to the library.
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{MigError, Result};
use crate::logging::{self, AroundBar, LogFormat};
use crate::pipeline::{self, Outcome, RunOptions};

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
    /// Validate an upload against its pipeline: exit 0 loadable, 1 errors found, 2 could not check.
    Validate(crate::validate::ValidateArgs),
    /// SQL over the warehouse's tables by folder name (observations, microdata, catalog_indicators, …).
    Query(crate::query::QueryArgs),
    /// Write the observations as ILOSTAT bulk-download CSV or SDMX-CSV files.
    Export(crate::export::ExportArgs),
    /// Mirror statistics: survey migrants by origin and destination beside bilateral migrant stocks.
    Mirror(crate::mirror::MirrorArgs),
    /// One self-contained HTML page per area: charts of migrants' and natives' rates, pyramid, …
    Report(crate::report::ReportArgs),
    /// Design-based estimates for any table (CSV or Parquet), with SEs, CVs and bounds.
    Estimate(crate::estimate::cli::EstimateArgs),
    /// Generate synthetic pilot labour force surveys (ARM, EGY, ECU, THA) with the migration module.
    Synth(crate::synth::SynthArgs),
    /// List the runs recorded in a warehouse.
    Runs(RunsArgs),
    /// Restore what a run replaced and remove what it added.
    Rollback(RollbackArgs),
    /// Prune old run folders, rollback copies, quarantined rows and downloads.
    Gc(GcArgs),
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Print the manifests as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    pub run_id: String,
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Remove what belongs to runs older than this many days.
    #[arg(long, default_value_t = 30)]
    pub older_than_days: u64,
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
    /// Write microdata and emigrants under this folder instead of the warehouse.
    #[arg(long)]
    pub microdata_dir: Option<PathBuf>,
    /// Findings listed per rule in the run's validation report.
    #[arg(long, default_value_t = 100)]
    pub max_per_rule: u64,
    /// Run even when inputs, pipeline, schemas and version are unchanged since the last run.
    #[arg(long)]
    pub force: bool,
    /// Say what would run; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait for another run holding the warehouse lock instead of failing at once.
    #[arg(long)]
    pub wait: bool,
    /// Print a machine-readable summary of the batch as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Pipelines run at once (default: one per core); pipelines that could write the same files
    /// always run one after another.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Events (each pipeline's start, skip, finish) on stderr: `text` lines or `json` lines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
        Command::Runs(a) => runs(a, out),
        Command::Validate(a) => crate::validate::run(&a, out),
        Command::Query(a) => crate::query::run(&a, out),
        Command::Export(a) => crate::export::run(&a, out),
        Command::Mirror(a) => crate::mirror::run(&a, out),
        Command::Report(a) => crate::report::run(&a, out),
        Command::Estimate(a) => {
            crate::estimate::cli::run(&a, out, err).map_err(|e| MigError::Other(format!("{e:#}")))
        }
        Command::Synth(a) => {
            crate::synth::run(&a, out).map_err(|e| MigError::Other(format!("{e:#}")))?;
            Ok(0)
        }
        Command::Rollback(a) => {
            crate::runs::rollback(&a.warehouse, &a.run_id, out)?;
            Ok(0)
        }
        Command::Gc(a) => {
            let n = crate::runs::gc(&a.warehouse, a.older_than_days, out)?;
            let _ = writeln!(out, "{n} entries removed");
            Ok(0)
        }
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
        schemas: a.schemas,
        no_microdata: a.no_microdata,
        microdata_dir: a.microdata_dir,
        cap: a.max_per_rule,
        force: a.force,
        dry_run: a.dry_run,
        wait: a.wait,
        jobs: a.jobs,
        ..RunOptions::new(a.warehouse)
    };
    let mut sink = std::io::sink();
    let bar = logging::progress(a.pipelines.len());
    let mut log = AroundBar {
        inner: if a.json { &mut sink } else { &mut *out },
        bar: bar.as_ref(),
    };
    let events = logging::dispatch(a.log_format, bar.clone());
    let outcomes = tracing::dispatcher::with_default(&events, || {
        crate::batch::run_batch(&a.pipelines, &opts, &mut log, bar.as_ref())
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let log = log.inner;
    let outcomes = outcomes?;
    let mut worst = 0;
    for o in &outcomes {
        match o {
            Outcome::Ran(s) if !a.json => {
                let _ = writeln!(log, "{}: done in {:.2} s", s.pipeline, s.seconds);
            }
            Outcome::Failed {
                exit_code,
                error,
                pipeline,
            } => {
                let _ = writeln!(err, "error: {pipeline}: {error}");
                worst = worst.max(*exit_code);
            }
            _ => {}
        }
    }
    if a.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&outcomes).unwrap_or_default()
        );
    }
    Ok(worst)
}

fn runs(a: RunsArgs, out: &mut dyn Write) -> Result<i32> {
    let all = crate::runs::list(&a.warehouse);
    if a.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&all).unwrap_or_default()
        );
        return Ok(0);
    }
    let _ = writeln!(
        out,
        "{:<26} {:<22} {:<12} {:>10} {:>10} {:>6}",
        "run", "pipeline", "status", "rows read", "loaded", "files"
    );
    for m in all {
        let files = m.files_added.len() + m.files_replaced.len();
        let _ = writeln!(
            out,
            "{:<26} {:<22} {:<12} {:>10} {:>10} {:>6}",
            m.run_id, m.pipeline_id, m.status, m.rows_read, m.rows_loaded, files
        );
    }
    Ok(0)
}

fn check(a: CheckArgs, out: &mut dyn Write) -> Result<i32> {
    let mut code = 0;
    for p in &a.pipelines {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let loaded = if crate::remit::is_remittance_pipeline(&text) {
            crate::remit::config::load(p).map(|_| ())
        } else {
            pipeline::load_pipeline(p, a.schemas.as_deref()).map(|_| ())
        };
        match loaded {
            Ok(()) => {
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
