//! A batch of pipelines on one warehouse, under one lock. Pipelines that write disjoint files run
//! in parallel; those that could touch the same files (same area and source, same remittance file,
//! same URL, same pipeline id) run one after another in command-line order. Whatever the order
//! they finish in, their log lines, their outcomes and the catalog refresh follow the order of the
//! command line. One tracing event marks each pipeline's start, skip or finish.
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::ProgressBar;

use crate::error::Result;
use crate::load::lock::Lock;
use crate::load::parquet::FileMeta;
use crate::load::{catalog, Warehouse};
use crate::pipeline::{new_run_id, run_one, Outcome, RanWith, RunOptions, KEEP_ROLLBACK};
use crate::runs;

/// Runs several pipelines on one warehouse under its lock, then refreshes the catalog.
/// `progress`, when given, advances by one per pipeline (the CLI shows it on terminals only).
pub fn run_batch(
    paths: &[PathBuf],
    opts: &RunOptions,
    log: &mut dyn Write,
    progress: Option<&ProgressBar>,
) -> Result<Vec<Outcome>> {
    let command = format!(
        "migstat run {}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _lock = match opts.dry_run {
        true => None,
        false => Some(Lock::acquire(&opts.warehouse, &command, opts.wait)?),
    };
    let wh = Warehouse::new(&opts.warehouse);
    if !opts.dry_run {
        wh.clean_staging();
    }
    let batch = new_run_id("batch");
    let groups = groups(paths);
    let ran = match groups.len() > 1 && opts.jobs != Some(1) {
        false => paths
            .iter()
            .map(|p| run_entry(p, opts, &batch, log, progress))
            .collect(),
        true => run_parallel(paths, &groups, opts, &batch, log, progress),
    };
    let mut outcomes = Vec::new();
    let mut sources = catalog::existing_sources(&opts.warehouse);
    let mut schema_for_catalog = None;
    for (outcome, source) in ran {
        if let Some((src, schema)) = source {
            sources.insert(src.source.clone(), src);
            schema_for_catalog.get_or_insert(schema);
        }
        outcomes.push(outcome);
    }
    if let (Some(schema), false) = (schema_for_catalog, opts.dry_run) {
        let run_id = new_run_id("catalog");
        let mut staged = wh.stage(&run_id)?;
        let meta = FileMeta {
            run_id: &run_id,
            schema_version: &schema.person.version,
        };
        catalog::stage(&mut staged, &schema, &sources, &meta)?;
        staged.publish()?;
        runs::prune_rollback(&opts.warehouse, KEEP_ROLLBACK);
    }
    Ok(outcomes)
}

/// A pipeline's log and outcome, filled by the worker that ran it.
type Slot = Mutex<Option<(Vec<u8>, RanWith)>>;

/// Runs the groups on `--jobs` threads (default: one per core); each group in order. Every
/// pipeline logs into its own buffer; the buffers are written out in command-line order.
fn run_parallel(
    paths: &[PathBuf],
    groups: &[Vec<usize>],
    opts: &RunOptions,
    batch: &str,
    log: &mut dyn Write,
    progress: Option<&ProgressBar>,
) -> Vec<RanWith> {
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
                            let ran = run_entry(&paths[i], opts, batch, &mut buf, progress);
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
            (Vec::new(), (failed(path, 2, error), None))
        });
        let _ = log.write_all(&buf);
        out.push(ran);
    }
    out
}

fn failed(path: &Path, exit_code: i32, error: String) -> Outcome {
    Outcome::Failed {
        pipeline: path.display().to_string(),
        exit_code,
        error,
    }
}

/// Runs one pipeline file (survey or remittance) and records its events.
fn run_entry(
    path: &Path,
    opts: &RunOptions,
    batch: &str,
    log: &mut dyn Write,
    progress: Option<&ProgressBar>,
) -> RanWith {
    let file = path.display().to_string();
    tracing::info!(event = "start", batch, pipeline = %file, "pipeline started");
    if let Some(bar) = progress {
        bar.set_message(file.clone());
    }
    let started = Instant::now();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let result = if crate::remit::is_remittance_pipeline(&text) {
        crate::remit::run_outcome(path, opts, log).map(|o| (o, None))
    } else {
        run_one(path, opts, log)
    };
    let ran = result.unwrap_or_else(|e| {
        let _ = writeln!(log, "{}: error: {e}", path.display());
        (failed(path, e.exit_code(), e.to_string()), None)
    });
    event(&ran.0, &file, batch, started.elapsed().as_secs_f64());
    if let Some(bar) = progress {
        bar.inc(1);
    }
    ran
}

/// The tracing event that closes a pipeline: `skip` or `finish` with its status.
fn event(outcome: &Outcome, file: &str, batch: &str, seconds: f64) {
    match outcome {
        Outcome::Ran(s) => {
            let rows: u64 = s.inputs.iter().map(|i| i.rows_loaded).sum();
            let quarantined: u64 = s.inputs.iter().map(|i| i.rows_quarantined).sum();
            tracing::info!(
                event = "finish", batch, pipeline = %file, pipeline_id = %s.pipeline,
                run_id = %s.run_id, status = "ok", rows, quarantined,
                files_written = s.files_written.len(), seconds, "pipeline finished"
            );
        }
        Outcome::Skipped {
            pipeline,
            since_run,
        } => tracing::info!(
            event = "skip", batch, pipeline = %file, pipeline_id = %pipeline,
            status = "unchanged", since_run = %since_run, seconds, "pipeline skipped: unchanged"
        ),
        Outcome::WouldRun { pipeline } => tracing::info!(
            event = "finish", batch, pipeline = %file, pipeline_id = %pipeline,
            status = "would_run", seconds, "pipeline would run (dry run)"
        ),
        Outcome::Failed {
            exit_code, error, ..
        } => tracing::error!(
            event = "finish", batch, pipeline = %file, status = "failed", exit_code,
            error = %error, seconds, "pipeline failed"
        ),
    }
}

/// Pipelines that may touch the same files, as groups of indexes into `paths` (each group in
/// command-line order, groups ordered by their first pipeline).
pub fn groups(paths: &[PathBuf]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(BTreeSet<String>, Vec<usize>)> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let keys = conflict_keys(path);
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

/// What a pipeline file writes or fetches that another pipeline could share: its id, its area and
/// source (the survey tables' file names), its remittance file, every URL. A file that cannot be
/// read as TOML gets a key of its own (it will fail on its own).
fn conflict_keys(path: &Path) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let parsed = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok());
    let Some(doc) = parsed else {
        keys.insert(format!("file:{}", path.display()));
        return keys;
    };
    let get = |table: &str, key: &str| {
        doc.get(table)
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if let Some(id) = get("pipeline", "id") {
        keys.insert(format!("id:{id}"));
    }
    if let (Some(area), Some(source)) = (get("pipeline", "ref_area"), get("pipeline", "source")) {
        keys.insert(format!("survey:{area}:{source}"));
    }
    if doc.contains_key("remittances") {
        // A remittance pipeline's id is its file stem.
        let stem = path.file_stem().unwrap_or_default();
        keys.insert(format!("id:{}", stem.to_string_lossy()));
    }
    if let Some(file) = get("remittances", "path") {
        let stem = Path::new(&file).file_stem().unwrap_or_default();
        keys.insert(format!("remittances:{}", stem.to_string_lossy()));
    }
    urls(&toml::Value::Table(doc), &mut keys);
    if keys.is_empty() {
        keys.insert(format!("file:{}", path.display()));
    }
    keys
}

/// Every `url = "…"` anywhere in the file.
fn urls(v: &toml::Value, keys: &mut BTreeSet<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match (k.as_str(), v.as_str()) {
                    ("url", Some(u)) => {
                        keys.insert(format!("url:{u}"));
                    }
                    _ => urls(v, keys),
                }
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|v| urls(v, keys)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn pipelines_sharing_an_area_and_source_or_a_url_run_in_one_group() {
        let dir = std::env::temp_dir().join(format!("migstat-groups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let survey = |id: &str, area: &str, url: &str| {
            format!(
                "[pipeline]\nid = \"{id}\"\nref_area = \"{area}\"\nsource = \"BA:X\"\n\
                 [input]\nurl = \"{url}\"\n"
            )
        };
        let paths = [
            write(&dir, "a.toml", &survey("a", "CAN", "https://x/1")),
            write(&dir, "b.toml", &survey("b", "FRA", "https://x/2")),
            write(&dir, "c.toml", &survey("c", "CAN", "https://x/3")),
            write(&dir, "d.toml", &survey("d", "ARM", "https://x/2")),
            write(
                &dir,
                "e.toml",
                "[remittances]\npath = \"../w/API_BX.xls\"\n",
            ),
            write(
                &dir,
                "f.toml",
                "[remittances]\npath = \"../w/API_BM.csv\"\n",
            ),
            write(&dir, "g.toml", "not = [toml"),
            write(
                &dir,
                "h.toml",
                "[remittances]\npath = \"../other/API_BX.xls\"\n",
            ),
        ];
        assert_eq!(
            groups(&paths),
            [vec![0, 2], vec![1, 3], vec![4, 7], vec![5], vec![6]]
        );
        let twice = [paths[1].clone(), paths[1].clone()];
        assert_eq!(groups(&twice), [vec![0, 1]]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
