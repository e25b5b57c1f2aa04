//! Results do not depend on the number of threads: the same bits with 1, 2 and 3 threads, for
//! every shipped pipeline (all of the warehouse's Parquet tables), for the cube on a generated
//! survey large enough to span many chunks (Taylor and replicate SEs), and for
//! `migstat estimate` on such a file as CSV (Taylor; replicates in the store of row weights,
//! here within its 32 MiB in memory) and as Parquet (replicates streamed by row group).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use migstat::estimate::core::chunks::CHUNK_ROWS;
use migstat::estimate::indicators::estimate_frame;
use migstat::normalize::{normalize, RecordSpec};
use migstat::pipeline::load_pipeline;
use migstat::synth::{CountryArg, Format, SynthArgs};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::common::{parquet_files, read_batches, repo, shipped_pipelines, temp_dir};

fn migstat_threads(threads: usize, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .current_dir(repo())
        .output()
        .expect("run migstat")
}

/// Every Parquet table of a warehouse (not the run records), as record batches by path.
pub(crate) fn tables(wh: &Path) -> BTreeMap<PathBuf, Vec<RecordBatch>> {
    parquet_files(wh)
        .into_iter()
        .filter(|p| !p.starts_with(wh.join("runs")))
        .map(|p| {
            (
                p.strip_prefix(wh).expect("inside").to_path_buf(),
                read_batches(&p),
            )
        })
        .collect()
}

#[test]
fn every_shipped_pipeline_gives_the_same_warehouse_on_1_and_2_threads() {
    let pipelines = shipped_pipelines();
    assert!(pipelines.len() >= 6);
    for p in pipelines {
        let name = p.file_stem().expect("name").to_string_lossy().to_string();
        let mut seen = Vec::new();
        for threads in [1, 2] {
            let wh = temp_dir(&format!("threads-{name}-{threads}"));
            let out = migstat_threads(
                threads,
                &[
                    "run",
                    p.to_str().expect("path"),
                    "--warehouse",
                    wh.to_str().expect("path"),
                ],
            );
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            seen.push(tables(&wh));
            let _ = std::fs::remove_dir_all(wh);
        }
        assert!(!seen[0].is_empty(), "{name}: no tables");
        assert_eq!(seen[0], seen[1], "{name}: 1 and 2 threads differ");
    }
}

/// A run that writes no microdata keeps no replicate weights under Taylor SEs and forgets the
/// rows' keys and household ids before the cube: every other table is the same, to the bit, as
/// the run that writes them.
#[test]
fn every_shipped_pipeline_gives_the_same_tables_without_microdata() {
    let mut with_microdata = 0;
    for p in shipped_pipelines() {
        let name = p.file_stem().expect("name").to_string_lossy().to_string();
        let mut seen = Vec::new();
        for extra in [None, Some("--no-microdata")] {
            let wh = temp_dir(&format!("no-microdata-{name}-{}", seen.len()));
            let mut args = vec![
                "run",
                p.to_str().expect("path"),
                "--warehouse",
                wh.to_str().expect("path"),
            ];
            args.extend(extra);
            let out = migstat_threads(2, &args);
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut t = tables(&wh);
            let micro = t.len();
            t.retain(|path, _| !(path.starts_with("microdata") || path.starts_with("emigrants")));
            seen.push((t, micro));
        }
        assert!(!seen[0].0.is_empty(), "{name}: no tables");
        assert_eq!(seen[0].0, seen[1].0, "{name}: the tables differ");
        assert_eq!(seen[1].0.len(), seen[1].1, "{name}: microdata written");
        with_microdata += usize::from(seen[0].1 > seen[0].0.len());
    }
    assert!(
        with_microdata >= 5,
        "{with_microdata} pipelines wrote microdata"
    );
}

/// A generated Thai survey of `persons` with 200 strata × 4 PSUs and 20 replicate weights.
fn generated(persons: u64) -> crate::common::TestDir {
    let dir = temp_dir(&format!("threads-synth-{persons}"));
    let args = SynthArgs {
        parts: None,
        country: CountryArg::Tha,
        persons,
        seed: 3,
        out: dir.to_path_buf(),
        strata: Some(200),
        psus_per_stratum: 4,
        replicates: Some(20),
        format: Format::Csv,
    };
    migstat::synth::run(&args, &mut std::io::sink()).expect("synth");
    dir
}

#[test]
fn the_cube_is_bit_identical_for_any_thread_count_across_many_chunks() {
    let dir = generated(140_000);
    let text =
        std::fs::read_to_string(repo().join("pipelines/tha_lfs_synth.toml")).expect("pipeline");
    let text = text.replace("../sample_data/synth/", &format!("{}/", dir.display()));
    let schemas = repo().join("schemas");
    for variance in ["taylor", "replicate"] {
        let path = dir.join(format!("tha_{variance}.toml"));
        let body = text.replace(
            "variance = \"taylor\"",
            &format!("variance = \"{variance}\""),
        );
        std::fs::write(&path, body).expect("pipeline copy");
        let (pl, schema) = load_pipeline(&path, Some(&schemas)).expect("pipeline");
        let norm = normalize(&pl, &schema, &RecordSpec::person(&pl, &schema), None, 10)
            .expect("normalise");
        // Each of the two quarters spans at least three chunks of the core.
        for t in 0..norm.frame.times.len() as u32 {
            let rows = norm.frame.time.iter().filter(|&&x| x == t).count();
            assert!(rows > 2 * CHUNK_ROWS, "{rows} rows in period {t}");
        }
        let runs: Vec<String> = [1, 2, 3]
            .iter()
            .map(|&t| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .expect("pool");
                let cube = pool
                    .install(|| estimate_frame(&norm.frame, &pl, &pl.design, &schema, None, None))
                    .expect("cube");
                assert!(cube
                    .observations
                    .iter()
                    .any(|o| o.se.is_some_and(|s| s > 0.0)));
                format!("{:?}", cube.observations)
            })
            .collect();
        assert_eq!(runs[0], runs[1], "{variance}: 1 and 2 threads differ");
        assert_eq!(runs[0], runs[2], "{variance}: 1 and 3 threads differ");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The generated persons file reduced to what the estimate command reads, as CSV and as
/// Parquet (row groups of 5,000 rows).
fn estimate_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut rdr = csv::Reader::from_path(dir.join("tha_lfs_synth_persons.csv")).expect("csv");
    let header = rdr.headers().expect("header").clone();
    let keep: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            ["STRATUM", "EA", "WEIGHT", "SEX", "AGE", "LFS"].contains(h) || h.starts_with("REPWT")
        })
        .map(|(i, _)| i)
        .collect();
    let names: Vec<String> = keep.iter().map(|&i| header[i].to_string()).collect();
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| {
            let r = r.expect("row");
            keep.iter().map(|&i| r[i].to_string()).collect()
        })
        .collect();
    let csv_path = dir.join("est.csv");
    let mut w = csv::Writer::from_path(&csv_path).expect("csv out");
    w.write_record(&names).expect("header");
    for r in &rows {
        w.write_record(r).expect("row");
    }
    w.flush().expect("flush");
    let columns: Vec<(String, ArrayRef)> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let numbers: Option<Vec<Option<f64>>> = rows
                .iter()
                .map(|r| match r[j].trim() {
                    "" => Some(None),
                    v => v.parse().ok().map(Some),
                })
                .collect();
            let array: ArrayRef = match numbers {
                Some(v) if name != "STRATUM" && name != "EA" => {
                    Arc::new(Float64Array::from_iter(v))
                }
                _ => Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r[j]))),
            };
            (name.clone(), array)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let pq_path = dir.join("est.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(5_000))
        .build();
    let file = std::fs::File::create(&pq_path).expect("parquet out");
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    (csv_path, pq_path)
}

#[test]
fn estimate_is_bit_identical_for_any_thread_count_across_many_chunks() {
    let dir = generated(80_000);
    let (csv_path, pq_path) = estimate_inputs(&dir);
    let rows = std::fs::read_to_string(&csv_path)
        .expect("csv")
        .lines()
        .count()
        - 1;
    assert!(
        rows > 2 * CHUNK_ROWS,
        "{rows} rows: fewer than three chunks"
    );
    let stats = [
        "--total", "LFS", "--mean", "AGE", "--mean", "SEX", "--ratio", "LFS/AGE", "--by", "SEX",
        "--format", "csv",
    ];
    let taylor = [
        "--weight", "WEIGHT", "--strata", "STRATUM", "--psu", "EA", "--nest",
    ];
    let reps = [
        "--weight",
        "WEIGHT",
        "--replicates",
        "REPWT*",
        "--method",
        "bootstrap",
    ];
    let cases: Vec<(&Path, &[&str])> = vec![
        (&csv_path, &taylor),
        (&csv_path, &reps),
        (&pq_path, &taylor),
        (&pq_path, &reps),
    ];
    for (file, design) in cases {
        let mut args = vec!["estimate", file.to_str().expect("path")];
        args.extend_from_slice(design);
        args.extend_from_slice(&stats);
        let outs: Vec<String> = [1, 2, 3]
            .iter()
            .map(|&t| {
                let out = migstat_threads(t, &args);
                assert!(
                    out.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8(out.stdout).expect("utf-8")
            })
            .collect();
        assert!(outs[0].lines().count() > 5, "{}", outs[0]);
        assert_eq!(outs[0], outs[1], "{args:?}: 1 and 2 threads differ");
        assert_eq!(outs[0], outs[2], "{args:?}: 1 and 3 threads differ");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Replicate weights kept in a file (here every row spills at once) give the same warehouse as
/// weights kept in memory; a full disk while they are written fails the run (exit 2) and leaves
/// the warehouse as it was.
#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn replicate_weights_spilled_to_a_file_give_the_same_warehouse() {
    let p = repo().join("pipelines/tha_lfs_synth.toml");
    let p = p.to_str().expect("path");
    let run = |wh: &Path, env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_migstat"));
        cmd.args(["run", p, "--warehouse", wh.to_str().expect("path")])
            .args(extra)
            .current_dir(repo());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run migstat")
    };
    let dir = temp_dir("spill");
    let (memory, spilled) = (dir.join("memory"), dir.join("spilled"));
    let out = run(&memory, &[], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.join("steps.log");
    let out = run(
        &spilled,
        &[
            ("MIGSTAT_SPILL_BYTES", "1"),
            ("MIGSTAT_FAILPOINT_LOG", log.to_str().expect("path")),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spills = std::fs::read_to_string(&log)
        .expect("steps")
        .lines()
        .filter(|l| *l == "spill")
        .count();
    assert!(spills > 1000, "only {spills} spills");
    let want = tables(&memory);
    assert!(want.keys().any(|k| k.starts_with("microdata")), "{want:?}");
    assert_eq!(
        tables(&spilled),
        want,
        "spilled and in-memory weights differ"
    );
    // A full disk at the 5th spill, found as the block is handed over or as its thread writes
    // it: exit 2, the warehouse as the first run left it.
    for fault in ["spill:5:enospc", "spill.write:5:enospc"] {
        let out = run(
            &spilled,
            &[("MIGSTAT_SPILL_BYTES", "1"), ("MIGSTAT_FAILPOINT", fault)],
            &["--force"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fault}: {err}");
        assert!(err.contains("No space left on device"), "{fault}: {err}");
        assert_eq!(tables(&spilled), want, "{fault}");
        assert!(crate::common::no_staging(&spilled), "{fault}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
