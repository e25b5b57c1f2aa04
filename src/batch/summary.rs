//! The batch summary that `migstat run --json` prints: one object with the batch id, its overall
//! status and exit code, and a line per pipeline (`docs/batch-summary.schema.json`). The exit
//! code it states is the one the process exits with.
use serde::Serialize;

use crate::pipeline::Outcome;

/// One pipeline of the batch.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineLine {
    /// The pipeline's id (its file when the file could not be read).
    pub pipeline: String,
    pub file: String,
    pub run_id: Option<String>,
    /// `ran`, `skipped`, `would_run` or `failed`.
    pub outcome: &'static str,
    /// Why it ran or would run (`first run`, `input changed: …`, `forced (--force)`, …), or why
    /// it was skipped (`unchanged since run …`).
    pub reason: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub files_written: usize,
    pub observations: usize,
    pub seconds: f64,
    pub exit_code: i32,
    pub error: Option<String>,
}

/// The whole batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    pub batch: String,
    /// `ok` (every pipeline ran, was skipped or would run), `failed` (all failed, or the batch
    /// could not start), `partial` (some failed).
    pub status: &'static str,
    pub exit_code: i32,
    pub started: String,
    pub finished: String,
    pub pipelines: Vec<PipelineLine>,
    /// Why the batch could not start (busy warehouse, conflicting pipelines, …).
    pub error: Option<String>,
}

impl PipelineLine {
    pub fn new(file: &str, o: &Outcome, seconds: f64) -> PipelineLine {
        let mut l = PipelineLine {
            pipeline: String::new(),
            file: file.to_string(),
            run_id: None,
            outcome: "ran",
            reason: String::new(),
            rows_read: 0,
            rows_loaded: 0,
            rows_quarantined: 0,
            files_written: 0,
            observations: 0,
            seconds,
            exit_code: 0,
            error: None,
        };
        match o {
            Outcome::Ran(s) => {
                l.pipeline = s.pipeline.clone();
                l.run_id = Some(s.run_id.clone());
                l.reason = s.reason.clone();
                l.rows_read = s.inputs.iter().map(|i| i.rows_read).sum();
                l.rows_loaded = s.inputs.iter().map(|i| i.rows_loaded).sum();
                l.rows_quarantined = s.inputs.iter().map(|i| i.rows_quarantined).sum();
                l.files_written = s.files_written.len();
                l.observations = s.observations.values().sum();
            }
            Outcome::Skipped {
                pipeline,
                since_run,
                ..
            } => {
                l.pipeline = pipeline.clone();
                l.outcome = "skipped";
                l.reason = format!("unchanged since run {since_run}");
            }
            Outcome::WouldRun { pipeline, reason } => {
                l.pipeline = pipeline.clone();
                l.outcome = "would_run";
                l.reason = reason.clone();
            }
            Outcome::Failed {
                pipeline,
                exit_code,
                error,
                run_id,
            } => {
                l.pipeline = pipeline.clone();
                l.outcome = "failed";
                l.run_id = run_id.clone();
                l.exit_code = *exit_code;
                l.error = Some(error.clone());
            }
        }
        l
    }
}

impl BatchSummary {
    /// The summary of pipelines that ran (or were skipped); the exit code is the worst
    /// pipeline's (2 could not run, else 1 a data problem, else 0).
    pub fn of(batch: &str, started: &str, pipelines: Vec<PipelineLine>) -> BatchSummary {
        let failed = pipelines.iter().filter(|p| p.outcome == "failed").count();
        let exit_code = pipelines.iter().map(|p| p.exit_code).max().unwrap_or(0);
        let status = match failed {
            0 => "ok",
            n if n == pipelines.len() => "failed",
            _ => "partial",
        };
        BatchSummary {
            batch: batch.to_string(),
            status,
            exit_code,
            started: started.to_string(),
            finished: iso_now(),
            pipelines,
            error: None,
        }
    }

    /// A batch that could not start.
    pub fn refused(batch: &str, started: &str, exit_code: i32, error: String) -> BatchSummary {
        BatchSummary {
            batch: batch.to_string(),
            status: "failed",
            exit_code,
            started: started.to_string(),
            finished: iso_now(),
            pipelines: Vec::new(),
            error: Some(error),
        }
    }
}

/// The current UTC time as RFC 3339 (`2026-12-01T23:25:26Z`).
pub fn iso_now() -> String {
    let s = crate::load::warehouse::now_stamp();
    iso(&s)
}

/// `20261201T232526Z` as `2026-12-01T23:25:26Z`.
pub fn iso(stamp: &str) -> String {
    if stamp.len() < 16 || !stamp.is_ascii() {
        return stamp.to_string();
    }
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}
