//! `migstat run` with several pipelines: JSON log lines for schedulers (one event per pipeline
//! start, skip and finish), and a parallel batch that writes the same warehouse as running the
//! pipelines one at a time.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{data_digest, migstat, temp_dir};

const BATCH: [&str; 5] = [
    "pipelines/can_lfs_pumf.toml",
    "pipelines/fra_eu_lfs_puf.toml",
    "pipelines/arm_lfs_synth.toml",
    "pipelines/wb_remittances_paid.toml",
    "pipelines/wb_bilateral_remittances.toml",
];

fn run(pipelines: &[&str], wh: &Path, extra: &[&str]) -> (String, String) {
    let whs = wh.to_string_lossy().to_string();
    let mut args = vec!["run"];
    args.extend_from_slice(pipelines);
    args.extend(["--warehouse", &whs]);
    args.extend_from_slice(extra);
    let out = migstat(&args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Every stderr line as a JSON object (a line that is not one fails the test).
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn field<'a>(e: &'a Value, k: &str) -> &'a str {
    e[k].as_str().unwrap_or_else(|| panic!("no {k} in {e}"))
}

#[test]
fn json_logs_give_one_event_per_pipeline_start_skip_and_finish() {
    let wh = temp_dir("batch-json-logs");
    let pipelines = &BATCH[3..];
    let (stdout, stderr) = run(pipelines, &wh, &["--log-format", "json", "--json"]);
    let summary: Value = serde_json::from_str(&stdout).expect("--json summary on stdout");
    let events = json_lines(&stderr);
    // A start and a finish per pipeline, then the batch's summary event.
    assert_eq!(events.len(), 2 * pipelines.len() + 1, "{stderr}");
    assert_eq!(field(events.last().unwrap(), "event"), "summary");
    let batch = field(&events[0], "batch");
    assert_eq!(field(&summary, "batch"), batch);
    for (p, s) in pipelines
        .iter()
        .zip(summary["pipelines"].as_array().expect("pipelines"))
    {
        let mine: Vec<&Value> = events.iter().filter(|e| e["pipeline"] == *p).collect();
        let kinds: Vec<&str> = mine.iter().map(|e| field(e, "event")).collect();
        assert_eq!(kinds, ["start", "finish"], "{p}: {stderr}");
        let finish = mine[1];
        assert_eq!(field(finish, "status"), "ok");
        assert_eq!(field(finish, "level"), "INFO");
        assert_eq!(field(finish, "batch"), batch);
        assert_eq!(field(finish, "run_id"), field(s, "run_id"));
        assert_eq!(field(finish, "pipeline_id"), field(s, "pipeline"));
        let loaded = s["rows_loaded"].as_u64().expect("rows_loaded");
        assert!(loaded > 0);
        assert_eq!(finish["rows"].as_u64(), Some(loaded), "{finish}");
        assert!(finish["seconds"].as_f64().is_some_and(|s| s >= 0.0));
        assert!(!field(finish, "timestamp").is_empty());
    }

    // Nothing changed: a skip event per pipeline, with the run it is unchanged since.
    let (_, stderr) = run(pipelines, &wh, &["--log-format", "json"]);
    let events = json_lines(&stderr);
    let skips: Vec<&Value> = events.iter().filter(|e| e["event"] == "skip").collect();
    assert_eq!(skips.len(), pipelines.len(), "{stderr}");
    for s in skips {
        assert_eq!(field(s, "status"), "unchanged");
        assert!(!field(s, "since_run").is_empty());
    }

    // Text logs: one line per event, naming the pipeline; no progress bar outside a terminal.
    let (_, stderr) = run(pipelines, &wh, &["--force"]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2 * pipelines.len() + 1, "{stderr}");
    assert!(
        lines[lines.len() - 1].contains(" INFO batch ok "),
        "{stderr}"
    );
    assert!(lines.iter().all(|l| !l.contains('\r')), "{stderr}");
    for p in pipelines {
        let field = format!("pipeline={p}");
        let mine: Vec<&&str> = lines
            .iter()
            .filter(|l| l.split_whitespace().any(|w| w == field))
            .collect();
        assert_eq!(mine.len(), 2, "{p}: {stderr}");
        assert!(mine[0].contains(" INFO pipeline started "), "{stderr}");
        assert!(mine[1].contains(" INFO pipeline finished "), "{stderr}");
        assert!(mine[1].contains(" status=\"ok\" "), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(wh);
}

/// Every file of the warehouse outside `runs/` and hidden folders, by path with the run id taken
/// out of quarantine paths: Parquet files by the hash of their data region (their footer holds the
/// run id), other files by their bytes.
fn contents(wh: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![wh.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(wh).expect("inside").to_path_buf();
            let top = rel.iter().next().and_then(|t| t.to_str()).unwrap_or("");
            if top == "runs" || top.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let key = match top {
                "quarantine" => rel.iter().skip(2).collect::<PathBuf>(),
                _ => rel,
            };
            let value = match p.extension().is_some_and(|x| x == "parquet") {
                true => data_digest(&p).expect("hash"),
                false => String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned(),
            };
            out.insert(key.display().to_string(), value);
        }
    }
    out
}

#[test]
fn a_parallel_batch_writes_the_same_warehouse_as_one_pipeline_at_a_time() {
    let parallel = temp_dir("batch-parallel");
    let (stdout, _) = run(&BATCH, &parallel, &["--jobs", "4"]);
    let one_by_one = temp_dir("batch-one-by-one");
    for p in BATCH {
        run(&[p], &one_by_one, &[]);
    }
    let (a, b) = (contents(&parallel), contents(&one_by_one));
    assert!(a.keys().any(|k| k.starts_with("observations/ARM/")));
    assert!(a.keys().any(|k| k.starts_with("remittances_bilateral/")));
    assert!(a.keys().any(|k| k.starts_with("catalog/sources/")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert_eq!(a, b);
    assert!(crate::common::no_staging(&parallel), "staging left behind");

    // The log comes in command-line order, whichever pipeline finished first.
    let starts: Vec<usize> = ["can_lfs_pumf", "fra_eu_lfs_puf", "arm_lfs_synth"]
        .iter()
        .map(|id| stdout.find(&format!("pipeline {id} (")).expect(id))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    let _ = std::fs::remove_dir_all(parallel);
    let _ = std::fs::remove_dir_all(one_by_one);
}
