//! The command line: parsed arguments only; each command hands off to the library.
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::batch::summary::{iso_now, BatchSummary};
use crate::error::{MigError, Result};
use crate::load::commit::recover_if_free;
use crate::load::lock::Wait;
use crate::logging::{self, AroundBar, LogFormat};
use crate::pipeline::{Job, RunOptions};
use crate::runs::{GcOptions, RollbackOptions};

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
    #[command(
        after_help = "Environment (a flag always wins): MIGSTAT_WAREHOUSE (--warehouse), \
        MIGSTAT_LOG_FORMAT (--log-format), MIGSTAT_METRICS_FILE (--metrics-file), \
        MIGSTAT_CACHE_DIR (where downloaded inputs are kept).\n\
        Exit codes: 0 done or skipped, 1 a data problem in a pipeline (nothing of it loaded), \
        2 could not run, 75 the warehouse is busy (retry later)."
    )]
    Run(RunArgs),
    /// Check pipeline files: every problem at once, with its key path.
    Check(CheckArgs),
    /// Write a commented draft pipeline from a data file's header and value labels.
    Init(crate::config::init::InitArgs),
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
    /// Design-based estimates for any table (CSV, SPSS, Stata, Excel, Parquet), with SEs, CVs
    /// and bounds.
    Estimate(crate::estimate::cli::EstimateArgs),
    /// Start a Ballista scheduler or executor that knows migstat's aggregate (`--engine`).
    Cluster(crate::cluster::ClusterArgs),
    /// Generate synthetic pilot labour force surveys (ARM, EGY, ECU, THA) with the migration module.
    Synth(crate::synth::SynthArgs),
    /// List the runs recorded in a warehouse.
    Runs(RunsArgs),
    /// Restore what a run replaced and remove what it added.
    Rollback(RollbackArgs),
    /// Prune old run folders, rollback copies, quarantined rows and downloads.
    Gc(GcArgs),
    /// The upload service for country statisticians: sign-in, upload, validation report, accept.
    Serve(crate::serve::ServeArgs),
    /// Manage the upload service's tokens: add (prints the token once), list, revoke.
    Token(crate::serve::TokenArgs),
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[arg(long, default_value = "warehouse", env = "MIGSTAT_WAREHOUSE")]
    pub warehouse: PathBuf,
    /// Print the manifests as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only this pipeline's runs (its id).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only runs with this status.
    #[arg(long, value_parser = ["ok", "failed", "rejected", "rolled-back"])]
    pub status: Option<String>,
    /// Only runs started at or after this UTC date or time (`2026-12-01`, `2026-12-01T06:00:00Z`).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

/// Waiting for the warehouse lock held by another process.
#[derive(Args, Debug, Clone, Copy)]
pub struct WaitArgs {
    /// Wait for another process holding the warehouse lock instead of exiting 75 at once.
    #[arg(long)]
    pub wait: bool,
    /// Wait at most this many seconds for the lock, then exit 75 (implies --wait).
    #[arg(long, value_name = "SECS")]
    pub wait_timeout: Option<u64>,
}

impl WaitArgs {
    fn get(self) -> Wait {
        Wait::from_flags(self.wait, self.wait_timeout)
    }
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    pub run_id: String,
    #[arg(long, default_value = "warehouse", env = "MIGSTAT_WAREHOUSE")]
    pub warehouse: PathBuf,
    /// Undo the later runs that changed the same files too, newest first.
    #[arg(long)]
    pub cascade: bool,
    /// List every file that would be restored or removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    #[arg(long, default_value = "warehouse", env = "MIGSTAT_WAREHOUSE")]
    pub warehouse: PathBuf,
    /// Remove what belongs to runs older than this many days.
    #[arg(long, default_value_t = 30)]
    pub older_than_days: u64,
    /// Successful runs kept per pipeline whatever their age, with their rollback copies (at
    /// least 1: a pipeline's latest successful run is never removed).
    #[arg(long, default_value_t = 1)]
    pub keep: usize,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Pipeline files (pipelines/*.toml).
    #[arg(required_unless_present = "inbox")]
    pub pipelines: Vec<PathBuf>,
    /// Run every accepted upload of the upload service's folder (`serve --uploads`) not yet run.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["pipelines", "input"])]
    pub inbox: Option<PathBuf>,
    /// Read this file instead of the pipeline's input (e.g. another StatCan month's zip).
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[arg(long, default_value = "warehouse", env = "MIGSTAT_WAREHOUSE")]
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
    /// Language of the run's text and HTML validation reports: en, fr or es.
    #[arg(long, value_enum, default_value_t = crate::validate::messages::Lang::En)]
    pub lang: crate::validate::messages::Lang,
    /// Compute the indicator cube's sums on a Ballista cluster (`ballista://HOST:PORT`, the
    /// scheduler); the results are the same bits. Builds with the `ballista` feature.
    #[arg(long, value_name = "ballista://HOST:PORT")]
    pub engine: Option<String>,
    /// With --engine: folder for the cube's chunk files, read by every executor at the same
    /// path [default: <warehouse>/.migstat/engine].
    #[arg(long, value_name = "DIR", requires = "engine")]
    pub engine_dir: Option<PathBuf>,
    /// Run even when inputs, pipeline, schemas and version are unchanged since the last run.
    #[arg(long)]
    pub force: bool,
    /// Say what would run; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print a machine-readable summary of the batch as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Raise or lower an input limit for this run (e.g. `max_cell_bytes=200000`; keys and
    /// defaults in docs/limits.md); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    pub limit: Vec<String>,
    /// Pipelines run at once (default: one per core); pipelines that could write the same files
    /// always run one after another.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Events on stderr (each pipeline's start, skip, finish, errors, the batch summary):
    /// `text` lines, or `json` lines (then every stderr line is one JSON object).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "MIGSTAT_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Write Prometheus metrics (textfile collector format) here, atomically, after the batch.
    #[arg(long, value_name = "PATH", env = "MIGSTAT_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[arg(required_unless_present = "reference")]
    pub pipelines: Vec<PathBuf>,
    /// Print the reference of every pipeline key (docs/pipeline-reference.md) and exit.
    #[arg(long)]
    pub reference: bool,
    #[arg(long)]
    pub schemas: Option<PathBuf>,
}

/// Runs a parsed command; returns the exit code.
pub fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    match cli.command {
        Command::Run(a) => run(a, out, err),
        Command::Check(a) => check(a, out),
        Command::Init(a) => crate::config::init::run(&a, out),
        Command::Runs(a) => runs(a, out),
        Command::Validate(a) => crate::validate::run(&a, out),
        Command::Query(a) => {
            recover_if_free(&a.warehouse)?;
            crate::query::run(&a, out)
        }
        Command::Export(a) => {
            recover_if_free(&a.warehouse)?;
            crate::export::run(&a, out)
        }
        Command::Mirror(a) => crate::mirror::run(&a, out),
        Command::Report(a) => {
            recover_if_free(&a.warehouse)?;
            crate::report::run(&a, out)
        }
        Command::Estimate(a) => {
            crate::estimate::cli::run(&a, out, err).map_err(|e| MigError::Other(format!("{e:#}")))
        }
        Command::Cluster(a) => {
            crate::cluster::run(&a, err).map_err(|e| MigError::Other(format!("{e:#}")))
        }
        Command::Synth(a) => {
            crate::synth::run(&a, out).map_err(|e| MigError::Other(format!("{e:#}")))?;
            Ok(0)
        }
        Command::Rollback(a) => {
            let o = RollbackOptions {
                cascade: a.cascade,
                dry_run: a.dry_run,
                wait: a.wait.get(),
            };
            crate::runs::rollback(&a.warehouse, &a.run_id, &o, out)?;
            Ok(0)
        }
        Command::Serve(a) => crate::serve::run(&a, out, err),
        Command::Token(a) => crate::serve::tokens::run(&a, out),
        Command::Gc(a) => {
            let o = GcOptions {
                older_than_days: a.older_than_days,
                keep: a.keep,
                dry_run: a.dry_run,
                wait: a.wait.get(),
            };
            let n = crate::runs::gc(&a.warehouse, &o, out)?;
            let verb = if a.dry_run {
                "would be removed"
            } else {
                "removed"
            };
            let _ = writeln!(out, "{n} entries {verb}");
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
        wait: a.wait.get(),
        jobs: a.jobs,
        limits: a.limit,
        lang: a.lang,
        engine: a
            .engine
            .as_deref()
            .map(crate::cluster::parse_engine)
            .transpose()
            .map_err(MigError::Other)?,
        engine_dir: a.engine_dir,
        ..RunOptions::new(a.warehouse)
    };
    if let Some(dir) = &a.inbox {
        return crate::serve::inbox::run(dir, &opts, out);
    }
    let mut sink = std::io::sink();
    let bar = logging::progress(a.pipelines.len());
    let mut log = AroundBar {
        inner: if a.json { &mut sink } else { &mut *out },
        bar: bar.as_ref(),
    };
    let events = logging::dispatch(a.log_format, bar.clone());
    let batch = crate::pipeline::new_run_id("batch");
    let started = iso_now();
    let summary = tracing::dispatcher::with_default(&events, || {
        let summary = crate::batch::run_batch(&a.pipelines, &opts, &batch, &mut log, bar.as_ref())
            .unwrap_or_else(|e| {
                tracing::error!(event = "error", batch = %batch, error = %logging::one_line(&e.to_string()), "{}", logging::one_line(&e.to_string()));
                BatchSummary::refused(&batch, &started, e.exit_code(), e.to_string())
            });
        for l in summary.pipelines.iter().filter(|l| l.outcome == "failed") {
            let msg = l.error.clone().unwrap_or_default();
            tracing::error!(
                event = "error", batch = %batch, pipeline = %l.file, pipeline_id = %l.pipeline,
                run_id = l.run_id.as_deref().unwrap_or(""), exit_code = l.exit_code,
                "{}", logging::one_line(&msg)
            );
        }
        if let Some(path) = &a.metrics_file {
            let history = crate::runs::list(&opts.warehouse);
            let text = crate::batch::metrics::render(&summary, &history);
            if let Err(e) = crate::batch::metrics::write(path, &text) {
                tracing::warn!(event = "warning", batch = %batch, "metrics file not written: {e}");
            }
        }
        tracing::info!(
            event = "summary", batch = %batch, status = summary.status,
            exit_code = summary.exit_code, pipelines = summary.pipelines.len(),
            failed = summary.pipelines.iter().filter(|l| l.outcome == "failed").count(),
            "batch {}", summary.status
        );
        summary
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let log = log.inner;
    for l in &summary.pipelines {
        if l.outcome == "ran" && !a.json {
            let _ = writeln!(log, "{}: done in {:.2} s", l.pipeline, l.seconds);
        }
    }
    if a.log_format == LogFormat::Text {
        let failures = summary.pipelines.iter().filter(|l| l.outcome == "failed");
        let lines = failures.map(|l| format!("{}: {}", l.file, l.error.as_deref().unwrap_or("")));
        for msg in lines.chain(summary.error.clone()) {
            let _ = writeln!(err, "error: {}", logging::indented(&msg));
        }
    }
    if a.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    }
    Ok(summary.exit_code)
}

fn runs(a: RunsArgs, out: &mut dyn Write) -> Result<i32> {
    recover_if_free(&a.warehouse)?;
    let since = a.since.as_deref().map(stamp_of).transpose()?;
    let status = a.status.as_deref().map(|s| s.replace('-', " "));
    let mut all = crate::runs::list(&a.warehouse);
    all.reverse();
    all.retain(|m| {
        a.pipeline.as_ref().is_none_or(|p| &m.pipeline_id == p)
            && status.as_ref().is_none_or(|s| &m.status == s)
            && since
                .as_ref()
                .is_none_or(|t| m.started.as_str() >= t.as_str())
    });
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
        "{:<26} {:<22} {:<12} {:>10} {:>10} {:>11} {:>6}  reason",
        "run", "pipeline", "status", "rows read", "loaded", "quarantined", "files"
    );
    for m in all {
        let files = m.files_added.len() + m.files_replaced.len();
        let _ = writeln!(
            out,
            "{:<26} {:<22} {:<12} {:>10} {:>10} {:>11} {:>6}  {}",
            m.run_id,
            m.pipeline_id,
            m.status,
            m.rows_read,
            m.rows_loaded,
            m.rows_quarantined,
            files,
            match m.error.as_deref() {
                Some(e) => logging::one_line(e).into_owned(),
                None => m.reason.clone(),
            }
        );
    }
    Ok(0)
}

/// `2026-12-01` or `2026-12-01T06:00:00Z` (or `20261201T060000Z`) as a run stamp.
fn stamp_of(s: &str) -> Result<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let ok = matches!(digits.len(), 8 | 12 | 14) && s.len() <= 25;
    if !ok {
        return Err(MigError::Other(format!(
            "--since {s:?}: expected a UTC date or time such as 2026-12-01 or 2026-12-01T06:00:00Z"
        )));
    }
    let mut d = digits;
    while d.len() < 14 {
        d.push('0');
    }
    Ok(format!("{}T{}Z", &d[..8], &d[8..14]))
}

fn check(a: CheckArgs, out: &mut dyn Write) -> Result<i32> {
    if a.reference {
        let _ = write!(out, "{}", crate::config::reference::render());
        return Ok(0);
    }
    let mut code = 0;
    for p in &a.pipelines {
        match Job::load(p, a.schemas.as_deref()) {
            Ok(job) => {
                // The header too: every mapped column, with the nearest one when it is missing.
                let missing = match &job.kind {
                    crate::pipeline::Kind::Survey(pl, schema) => {
                        crate::config::check::check_columns(pl, schema)
                    }
                    _ => Vec::new(),
                };
                if missing.is_empty() {
                    let _ = writeln!(out, "{}: ok", p.display());
                } else {
                    let e = MigError::Pipeline {
                        path: p.clone(),
                        problems: missing,
                    };
                    let _ = writeln!(out, "{e}");
                    code = 2;
                }
            }
            Err(e) => {
                let _ = writeln!(out, "{e}");
                code = 2;
            }
        }
    }
    Ok(code)
}
