//! `migstat run --inbox DIR`: loads every accepted upload of the service's uploads folder that
//! has not been run yet, oldest accepted first, each with the pipeline its record names and the
//! stored file as `--input`, through the one driver (`pipeline::run_job`) under the warehouse
//! lock. The outcome (run id, status, exit code, attempts) is written on the upload's record, so
//! an upload that loaded is never run twice. A run that failed for a reason other than its data
//! (exit 2: a full disk, an unreadable file; exit 75: the warehouse busy) is tried again by the
//! next `run --inbox`, up to `ATTEMPTS` runs in all; one rejected by its validation (exit 1) is
//! not, since the same file would be rejected again.
use std::io::Write;
use std::path::Path;

use crate::error::{MigError, Result};
use crate::pipeline::{run_job, Job, Outcome, RunOptions};

use super::store::{RunRecord, Status, Store};

/// Runs tried at most for one upload.
pub const ATTEMPTS: u32 = 3;

/// Runs the inbox; returns the exit code (the highest of its runs', 0 when none were due).
pub fn run(dir: &Path, opts: &RunOptions, log: &mut dyn Write) -> Result<i32> {
    if !dir.is_dir() {
        return Err(MigError::Other(format!(
            "{}: no such uploads folder",
            dir.display()
        )));
    }
    let store = Store::open(dir)?;
    let mut due: Vec<_> = store
        .all()
        .into_iter()
        .filter(|r| r.status == Status::Loadable && r.run.as_ref().is_none_or(RunRecord::retry_due))
        .filter_map(|r| r.accepted.clone().map(|a| (a.time, r.id.clone(), r)))
        .collect();
    due.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    if due.is_empty() {
        let _ = writeln!(log, "inbox {}: no accepted upload to run", dir.display());
        return Ok(0);
    }
    let command = format!("migstat run --inbox {}", dir.display());
    let _lock = crate::batch::lock_for_run(opts, &command, log)?;
    let mut code = 0;
    for (_, id, r) in due {
        let input = dir.join(&r.id).join(&r.file);
        let o = RunOptions {
            input: Some(input),
            ..opts.clone()
        };
        let outcome =
            Job::load(Path::new(&r.pipeline_file), opts.schemas.as_deref()).and_then(|mut job| {
                job.override_limits(&opts.limits)?;
                run_job(&job, &o, log)
            });
        if opts.dry_run {
            continue;
        }
        let mut rec = record(&outcome, &opts.warehouse);
        rec.attempts = r.run.as_ref().map_or(0, |p| p.attempts) + 1;
        code = code.max(rec.exit_code);
        let _ = writeln!(
            log,
            "upload {id} ({}): {}{}{}",
            r.pipeline,
            rec.status,
            rec.run_id
                .as_deref()
                .map(|i| format!(", run {i}"))
                .unwrap_or_default(),
            match (rec.retry_due(), rec.status.as_str()) {
                (true, _) => format!(
                    " (attempt {} of {ATTEMPTS}; the next run --inbox tries again)",
                    rec.attempts
                ),
                (false, "failed") if rec.exit_code != 1 => {
                    format!(" (attempt {} of {ATTEMPTS}; not tried again)", rec.attempts)
                }
                _ => String::new(),
            }
        );
        let _guard = store.lock()?;
        // The records lock is held: `Store::update` would take it again.
        if let Some(mut now) = store.get(&id) {
            now.run = Some(rec);
            store.put(&now)?;
        }
    }
    Ok(code)
}

fn record(outcome: &Result<Outcome>, warehouse: &Path) -> RunRecord {
    let (run_id, status, exit_code, error) = match outcome {
        Ok(Outcome::Ran(s)) => (Some(s.run_id.clone()), "ok", 0, None),
        Ok(Outcome::Skipped { since_run, .. }) => (Some(since_run.clone()), "skipped", 0, None),
        Ok(Outcome::WouldRun { .. }) => (None, "would run", 0, None),
        Ok(Outcome::Failed {
            run_id,
            exit_code,
            error,
            ..
        }) => (run_id.clone(), "failed", *exit_code, Some(error.clone())),
        Err(e) => {
            let run_id = match e {
                MigError::InRun { run_id, .. } => Some(run_id.clone()),
                _ => None,
            };
            (run_id, "failed", e.exit_code(), Some(e.to_string()))
        }
    };
    RunRecord {
        run_id,
        status: status.into(),
        exit_code,
        finished: crate::batch::summary::iso_now(),
        warehouse: warehouse.display().to_string(),
        error,
        attempts: 1,
    }
}
