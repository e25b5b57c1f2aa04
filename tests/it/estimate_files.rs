//! `migstat estimate` over one table split into several Parquet files (`synth --parts`): the
//! files, their folder and a glob give the same bits; against the same rows in one file, every
//! estimate and SE agrees within 1e-12 relative (the chunks differ, so the additions' order
//! does); bad values name the part file and its row. `pub` helpers serve `cluster.rs`.
use std::path::{Path, PathBuf};

use crate::common::{migstat, temp_dir, TestDir};

/// Generated Thai persons (24,000 rows, 12 strata × 6 PSUs, 80 bootstrap replicates) in one
/// Parquet file and as `parts` files: `(single file, folder of parts)`.
pub fn split_survey(name: &str, persons: u64, parts: u32) -> (TestDir, PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let synth = |out: &Path, parts: Option<u32>| {
        let persons = persons.to_string();
        let mut args = vec![
            "synth",
            "--country",
            "THA",
            "--persons",
            &persons,
            "--strata",
            "12",
            "--psus-per-stratum",
            "6",
            "--replicates",
            "80",
            "--format",
            "parquet",
            "--out",
            out.to_str().expect("path"),
        ];
        let n = parts.map(|p| p.to_string());
        if let Some(n) = &n {
            args.extend(["--parts", n]);
        }
        let o = migstat(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    synth(&dir.join("one"), None);
    synth(&dir.join("parts"), Some(parts));
    let one = dir.join("one/tha_lfs_synth_persons.parquet");
    let parts = dir.join("parts/tha_lfs_synth_persons");
    (dir, one, parts)
}

/// The Taylor and the replicate request the tests run, as `estimate` flags after the input.
pub fn designs() -> Vec<(&'static str, Vec<&'static str>)> {
    let common = ["--weight", "WEIGHT", "--by", "SEX", "--format", "csv"];
    let stats = ["--mean", "AGE", "--total", "REMIT", "--mean", "BIRTH_CTRY"];
    let mut taylor: Vec<&str> = vec!["--strata", "STRATUM", "--psu", "EA", "--nest"];
    taylor.extend(common);
    taylor.extend(stats);
    taylor.extend(["--ratio", "REMIT_AMT/WEIGHT"]);
    let mut reps: Vec<&str> = vec!["--replicates", "REPWT*", "--method", "bootstrap"];
    reps.extend(common);
    reps.extend(stats);
    vec![("taylor", taylor), ("replicate", reps)]
}

/// `migstat estimate INPUTS… FLAGS…` → stdout, asserting success.
pub fn estimate(inputs: &[&Path], flags: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_migstat"));
    cmd.arg("estimate");
    cmd.args(inputs);
    cmd.args(flags);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run migstat");
    assert!(
        o.status.success(),
        "estimate {inputs:?} {flags:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// Every cell of two CSV outputs: labels and counts equal, numbers within `rel` relative.
pub fn assert_close(a: &str, b: &str, rel: f64, what: &str) {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(la.len(), lb.len(), "{what}: row counts differ\n{a}\n{b}");
    assert!(la.len() > 4, "{what}: too few rows\n{a}");
    let mut compared = 0;
    for (ra, rb) in la.iter().zip(&lb) {
        for (x, y) in ra.split(',').zip(rb.split(',')) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => {
                    let scale = p.abs().max(q.abs()).max(f64::MIN_POSITIVE);
                    assert!(
                        (p - q).abs() / scale <= rel,
                        "{what}: {p} and {q} differ by more than {rel} relative\n{ra}\n{rb}"
                    );
                    compared += 1;
                }
                _ => assert_eq!(x, y, "{what}: labels differ\n{ra}\n{rb}"),
            }
        }
    }
    assert!(compared > 20, "{what}: only {compared} numbers compared");
}

#[test]
fn a_table_split_over_parquet_files_gives_the_one_file_results() {
    let (dir, one, parts) = split_survey("files", 24_000, 8);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&parts)
        .expect("parts")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    let glob = parts.join("part-*.parquet");
    for (name, flags) in designs() {
        let single = estimate(&[&one], &flags, &[]);
        let folder = estimate(&[&parts], &flags, &[]);
        assert!(folder.contains("mean:BIRTH_CTRY="), "{name}: {folder}");
        assert!(folder.lines().count() > 8, "{name}: {folder}");
        let listed: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        assert_eq!(
            estimate(&listed, &flags, &[]),
            folder,
            "{name}: files vs folder"
        );
        assert_eq!(
            estimate(&[&glob], &flags, &[]),
            folder,
            "{name}: glob vs folder"
        );
        assert_close(&single, &folder, 1e-12, name);
        // SEs are there and not zero.
        assert!(
            folder.lines().skip(1).all(|l| l
                .split(',')
                .nth(3)
                .is_some_and(|se| se.parse::<f64>().is_ok_and(|x| x > 0.0))),
            "{name}: {folder}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The Parquet parts of `parts` as CSV files (`part-N.csv`) in `out`, written by pyarrow.
fn parts_as_csv(parts: &Path, out: &Path) {
    const SCRIPT: &str = r#"
import sys, pathlib, pyarrow.parquet as pq, pyarrow.csv as pc
out = pathlib.Path(sys.argv[2]); out.mkdir()
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.parquet")):
    pc.write_csv(pq.read_table(p), out / (p.stem + ".csv"))
"#;
    let o = std::process::Command::new(super::interop::python())
        .args([
            "-c",
            SCRIPT,
            parts.to_str().expect("path"),
            out.to_str().expect("path"),
        ])
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_table_split_over_csv_and_parquet_files_gives_the_parquet_parts_results() {
    let (dir, _, parts) = split_survey("files-csv", 6_000, 4);
    let csv = dir.join("csv");
    parts_as_csv(&parts, &csv);
    let mut mixed: Vec<PathBuf> = vec![csv.join("part-000.csv"), csv.join("part-001.csv")];
    mixed.extend(["part-002.parquet", "part-003.parquet"].map(|p| parts.join(p)));
    assert!(mixed.iter().all(|p| p.is_file()), "{mixed:?}");
    let mixed: Vec<&Path> = mixed.iter().map(PathBuf::as_path).collect();
    let glob = csv.join("*.csv");
    for (name, flags) in designs() {
        let from_parquet = estimate(&[&parts], &flags, &[]);
        assert_eq!(
            estimate(&[&glob], &flags, &[]),
            from_parquet,
            "{name}: CSV parts"
        );
        assert_eq!(
            estimate(&mixed, &flags, &[]),
            from_parquet,
            "{name}: mixed parts"
        );
    }
}

#[test]
fn a_bad_weight_in_one_part_names_that_file_and_row() {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch};
    use std::sync::Arc;
    let dir = temp_dir("files-bad");
    let write = |name: &str, w: Vec<f64>| {
        let n = w.len();
        let batch = RecordBatch::try_from_iter([
            ("W", Arc::new(Float64Array::from(w)) as ArrayRef),
            (
                "Y",
                Arc::new(Float64Array::from(
                    (0..n).map(|i| i as f64).collect::<Vec<_>>(),
                )),
            ),
            (
                "P",
                Arc::new(Float64Array::from(
                    (0..n).map(|i| (i % 3) as f64).collect::<Vec<_>>(),
                )),
            ),
        ])
        .expect("batch");
        let f = std::fs::File::create(dir.join(name)).expect("create");
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
    };
    write("a.parquet", vec![1.0; 10]);
    let mut bad = vec![2.0; 10];
    bad[6] = -1.0;
    write("b.parquet", bad);
    let flags = ["--weight", "W", "--psu", "P", "--total", "Y"];
    let d = dir.to_str().expect("path");
    let o = migstat(&[&["estimate", d][..], &flags].concat());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("b.parquet") && err.contains("row 7") && err.contains("`W`"),
        "{err}"
    );
    // A CSV among several inputs is read as they are: its bad weight (after a blank line, which
    // is no row) and a row of another width are named by file, and row or line.
    let csv = dir.join("c.csv");
    std::fs::write(&csv, "W,Y,P\n1,2,3\n\n2,5,1\n-1,2,1\n").expect("csv");
    let a = dir.join("a.parquet");
    let inputs = [a.to_str().expect("path"), csv.to_str().expect("path")];
    let o = migstat(&[&["estimate"][..], &inputs, &flags].concat());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("c.csv") && err.contains("row 3") && err.contains("`W`"),
        "{err}"
    );
    std::fs::write(&csv, "W,Y,P\n1,2,3\n2,5\n").expect("csv");
    let o = migstat(&[&["estimate"][..], &inputs, &flags].concat());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("c.csv") && err.contains("line 3"), "{err}");
    std::fs::write(&csv, "W,Y,P\n1,2,3\n2,5,1\n").expect("csv");
    let o = migstat(&[&["estimate"][..], &inputs, &flags].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Past the first batches a column read as numbers meets a word: named by row. Blank at
    // first, then numbers, it is numbers.
    let rows = |y: &dyn Fn(usize) -> String| {
        let body: String = (1..=1500)
            .map(|i| format!("1,{},{}\n", y(i), i % 3))
            .collect();
        format!("W,Y,P\n{body}")
    };
    std::fs::write(
        &csv,
        rows(&|i| {
            if i == 1400 {
                "abc".into()
            } else {
                i.to_string()
            }
        }),
    )
    .expect("csv");
    let o = migstat(&[&["estimate"][..], &inputs, &flags].concat());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("c.csv") && err.contains("row 1400") && err.contains("abc"),
        "{err}"
    );
    std::fs::write(
        &csv,
        rows(&|i| {
            if i < 1100 {
                String::new()
            } else {
                i.to_string()
            }
        }),
    )
    .expect("csv");
    let o = migstat(&[&["estimate"][..], &inputs, &flags].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let want = (1100..=1500).sum::<usize>() + 45;
    assert!(out.contains(&format!("{want}")), "{want}: {out}");
    let _ = std::fs::remove_dir_all(dir);
}
