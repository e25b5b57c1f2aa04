//! A batch of pipelines on one warehouse, under one lock. Each pipeline file is loaded once; two
//! different files that would write the same files (same area and source, same remittance table
//! file, same id) are an error before anything runs. Pipelines run in parallel, except those
//! fetching the same URL (or the same file listed twice), which run one after another in
//! command-line order; each run commits on its own, whole (`load/commit.rs`). Whatever the order
//! they finish in, their log lines and outcomes follow the command line. One tracing event marks
//! each pipeline's start, skip or finish.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::ProgressBar;

pub mod metrics;
pub mod summary;

use crate::error::{MigError, Result};
use crate::load::commit;
use crate::load::lock::{state_dir, Lock};
use crate::logging::one_line;
use crate::pipeline::{run_job, Job, Outcome, RunOptions};
use summary::{BatchSummary, PipelineLine};

/// A pipeline file of the batch: loaded once, or the error that kept it from loading.
type Entry = std::result::Result<Job, MigError>;

/// Runs several pipelines on one warehouse under its lock (each committed whole as it ends), as
/// batch `batch`. `progress`, when given, advances by one per pipeline (the CLI shows it on
/// terminals only). An error is a batch that could not start (busy, conflicting pipelines).
pub fn run_batch(
    paths: &[PathBuf],
    opts: &RunOptions,
    batch: &str,
    log: &mut dyn Write,
    progress: Option<&ProgressBar>,
) -> Result<BatchSummary> {
    let started = summary::iso_now();
    let entries: Vec<Entry> = paths
        .iter()
        .map(|p| {
            let mut job = Job::load(p, opts.schemas.as_deref())?;
            job.override_limits(&opts.limits)?;
            Ok(job)
        })
        .collect();
    check_outputs(paths, &entries)?;
    let command = format!(
        "migstat run {}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _lock = lock_for_run(opts, &command, log)?;
    let groups = groups(paths, &entries);
    let ran = match groups.len() > 1 && opts.jobs != Some(1) {
        false => paths
            .iter()
            .zip(&entries)
            .map(|(p, e)| run_entry(p, e, opts, batch, log, progress))
            .collect(),
        true => run_parallel(paths, &entries, &groups, opts, batch, log, progress),
    };
    Ok(BatchSummary::of(batch, &started, ran))
}

/// Takes the warehouse lock for runs (none for a dry run), then finishes or undoes an
/// interrupted commit, logging what recovery did.
pub fn lock_for_run(opts: &RunOptions, command: &str, log: &mut dyn Write) -> Result<Option<Lock>> {
    if opts.dry_run {
        return Ok(None);
    }
    let lock = Lock::acquire(&opts.warehouse, command, opts.wait)?;
    for line in commit::recover(&opts.warehouse)? {
        let _ = writeln!(log, "recovery: {line}");
    }
    if let Some(md) = &opts.microdata_dir {
        let _ = std::fs::remove_dir_all(state_dir(md).join("staging"));
    }
    Ok(Some(lock))
}

/// Two different pipeline files of one batch that would write the same files (or share an id)
/// are an error naming both, before anything runs.
fn check_outputs(paths: &[PathBuf], entries: &[Entry]) -> Result<()> {
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    for (i, e) in entries.iter().enumerate() {
        let Ok(job) = e else { continue };
        for key in job.outputs() {
            match owner.get(&key) {
                Some(&j) if !same(&paths[i], &paths[j]) => {
                    return Err(MigError::Other(format!(
                        "{} and {} would both write {key}: run them in separate batches, or \
                         give one of them another id, area or source",
                        paths[j].display(),
                        paths[i].display()
                    )));
                }
                _ => {
                    owner.insert(key, i);
                }
            }
        }
    }
    Ok(())
}

/// A pipeline's log and outcome, filled by the worker that ran it.
type Slot = Mutex<Option<(Vec<u8>, PipelineLine)>>;

/// Runs the groups on `--jobs` threads (default: one per core); each group in order. Every
/// pipeline logs into its own buffer; the buffers are written out in command-line order.
fn run_parallel(
    paths: &[PathBuf],
    entries: &[Entry],
    groups: &[Vec<usize>],
    opts: &RunOptions,
    batch: &str,
    log: &mut dyn Write,
    progress: Option<&ProgressBar>,
) -> Vec<PipelineLine> {
    let slots: Vec<Slot> = paths.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = opts.jobs.unwrap_or(cores).clamp(1, groups.len());
    // Events go to the subscriber the caller set, on every worker thread.
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
                        for &i in group {
                            let mut buf = Vec::new();
                            let ran =
                                run_entry(&paths[i], &entries[i], opts, batch, &mut buf, progress);
                            if let Ok(mut slot) = slots[i].lock() {
                                *slot = Some((buf, ran));
                            }
                        }
                    }
                })
            });
        }
    });
    let mut out = Vec::new();
    for (slot, path) in slots.into_iter().zip(paths) {
        let (buf, ran) = slot.into_inner().ok().flatten().unwrap_or_else(|| {
            // A worker panicked: the pipeline's outcome is lost, say so rather than guess.
            let error = "the pipeline's worker thread panicked".to_string();
            let file = path.display().to_string();
            (
                Vec::new(),
                PipelineLine::new(&file, &failed(path, None, 2, error), 0.0),
            )
        });
        let _ = log.write_all(&buf);
        out.push(ran);
    }
    out
}

fn failed(path: &Path, run_id: Option<String>, exit_code: i32, error: String) -> Outcome {
    Outcome::Failed {
        pipeline: path.display().to_string(),
        run_id,
        exit_code,
        error,
    }
}

/// Runs one pipeline file (any kind) and records its events.
fn run_entry(
    path: &Path,
    entry: &Entry,
    opts: &RunOptions,
    batch: &str,
    log: &mut dyn Write,
    progress: Option<&ProgressBar>,
) -> PipelineLine {
    let file = path.display().to_string();
    tracing::info!(event = "start", batch, pipeline = %file, "pipeline started");
    if let Some(bar) = progress {
        bar.set_message(file.clone());
    }
    let started = Instant::now();
    let result = match entry {
        Ok(job) => run_job(job, opts, log),
        Err(e) => Err(clone_error(e)),
    };
    let ran = result.unwrap_or_else(|e| {
        let _ = writeln!(log, "{}: error: {e}", path.display());
        let run_id = match &e {
            MigError::InRun { run_id, .. } => Some(run_id.clone()),
            _ => None,
        };
        let pipeline = match entry {
            Ok(job) => job.id().to_string(),
            Err(_) => file.clone(),
        };
        Outcome::Failed {
            pipeline,
            run_id,
            exit_code: e.exit_code(),
            error: e.to_string(),
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    event(&ran, &file, batch, seconds);
    if let Some(bar) = progress {
        bar.inc(1);
    }
    PipelineLine::new(&file, &ran, seconds)
}

/// The load error of a pipeline file again, with its exit code (errors are not `Clone`).
fn clone_error(e: &MigError) -> MigError {
    match e.exit_code() {
        1 => MigError::Rejected(e.to_string()),
        _ => MigError::Other(e.to_string()),
    }
}

/// The tracing event that closes a pipeline: `skip` or `finish` with its status.
fn event(outcome: &Outcome, file: &str, batch: &str, seconds: f64) {
    match outcome {
        Outcome::Ran(s) => {
            let rows: u64 = s.inputs.iter().map(|i| i.rows_loaded).sum();
            let quarantined: u64 = s.inputs.iter().map(|i| i.rows_quarantined).sum();
            tracing::info!(
                event = "finish", batch, pipeline = %file, pipeline_id = %s.pipeline,
                run_id = %s.run_id, status = "ok", reason = %one_line(&s.reason), rows,
                quarantined, files_written = s.files_written.len(), seconds, "pipeline finished"
            );
        }
        Outcome::Skipped {
            pipeline,
            since_run,
            reason,
        } => tracing::info!(
            event = "skip", batch, pipeline = %file, pipeline_id = %pipeline,
            status = "unchanged", reason = %reason, since_run = %since_run, seconds,
            "pipeline skipped: unchanged"
        ),
        Outcome::WouldRun { pipeline, reason } => tracing::info!(
            event = "finish", batch, pipeline = %file, pipeline_id = %pipeline,
            status = "would_run", reason = %one_line(reason), seconds, "pipeline would run (dry run)"
        ),
        Outcome::Failed {
            pipeline,
            run_id,
            exit_code,
            error,
        } => tracing::error!(
            event = "finish", batch, pipeline = %file, pipeline_id = %pipeline,
            run_id = run_id.as_deref().unwrap_or(""), status = "failed", exit_code,
            error = %one_line(error), seconds, "pipeline failed"
        ),
    }
}

/// Pipelines that may touch the same things, as groups of indexes into `paths` (each group in
/// command-line order, groups ordered by their first pipeline): the same file listed twice, or
/// pipelines fetching the same URL.
pub fn groups(paths: &[PathBuf], entries: &[Entry]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(BTreeSet<String>, Vec<usize>)> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let mut keys: BTreeSet<String> = BTreeSet::new();
        let file = path.canonicalize().unwrap_or_else(|_| path.clone());
        keys.insert(format!("file:{}", file.display()));
        if let Ok(job) = &entries[i] {
            keys.extend(job.urls().into_iter().map(|u| format!("url:{u}")));
        }
        let mut merged = (keys, vec![i]);
        let mut k = 0;
        while k < groups.len() {
            if groups[k].0.is_disjoint(&merged.0) {
                k += 1;
                continue;
            }
            let (keys, members) = groups.remove(k);
            merged.0.extend(keys);
            merged.1.extend(members);
        }
        merged.1.sort_unstable();
        groups.push(merged);
    }
    groups.sort_by_key(|(_, m)| m[0]);
    groups.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_twice_runs_in_one_group_and_other_files_apart() {
        let dir = std::env::temp_dir().join(format!("migstat-groups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let paths: Vec<PathBuf> = ["a.toml", "b.toml", "a.toml"]
            .iter()
            .map(|n| {
                let p = dir.join(n);
                std::fs::write(&p, "not = [toml").expect("write");
                p
            })
            .collect();
        let entries: Vec<Entry> = paths.iter().map(|p| Job::load(p, None)).collect();
        assert!(entries.iter().all(|e| e.is_err()));
        assert_eq!(groups(&paths, &entries), [vec![0, 2], vec![1]]);
        assert!(check_outputs(&paths, &entries).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
