//! Interoperability: every table folder of a warehouse read with DuckDB, with
//! `pyarrow.parquet.read_table(folder)` (what `pandas.read_parquet` does) and with polars, giving
//! the rows migstat wrote. The Python environment comes from `make test` (MIGSTAT_PYTHON).
use std::path::PathBuf;
use std::process::Command;

use crate::common::{parquet_files, read_batches, repo, run_into};

pub(crate) fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MIGSTAT_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv/bin/python");
    assert!(
        venv.is_file(),
        "no Python with duckdb/pyarrow/polars: run `make test` (it creates .venv) or set MIGSTAT_PYTHON"
    );
    venv
}

const SCRIPT: &str = r#"
import sys, json, duckdb, pyarrow.parquet as pq, polars as pl
folder = sys.argv[1]
glob = folder + "/**/*.parquet"
out = {
    "duckdb": duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall()[0][0],
    "pyarrow": pq.read_table(folder).num_rows,
    "polars": pl.scan_parquet(glob).select(pl.len()).collect().item(),
    "columns": pq.read_table(folder).column_names,
}
print(json.dumps(out))
"#;

#[test]
fn every_table_reads_the_same_in_duckdb_pyarrow_and_polars() {
    let wh = run_into(
        "interop",
        &[
            "pipelines/can_lfs_pumf.toml",
            "pipelines/fra_eu_lfs_puf.toml",
            "pipelines/arm_lfs_synth.toml",
            "pipelines/wb_remittances_received.toml",
            "pipelines/wb_remittances_paid.toml",
            "pipelines/wb_bilateral_remittances.toml",
            "pipelines/wb_bilateral_migrant_stocks.toml",
        ],
    );
    let mut tables = 0;
    let mut folders: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&wh).expect("warehouse").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "runs" || name == "quarantine" || name.starts_with('.') {
            continue;
        }
        if name == "catalog" {
            for t in std::fs::read_dir(entry.path()).expect("catalog").flatten() {
                folders.push((
                    format!("catalog/{}", t.file_name().to_string_lossy()),
                    t.path(),
                ));
            }
        } else {
            folders.push((name, entry.path()));
        }
    }
    for (name, folder) in folders {
        let files = parquet_files(&folder);
        let ours: usize = files
            .iter()
            .flat_map(|f| read_batches(f))
            .map(|b| b.num_rows())
            .sum();
        let out = Command::new(python())
            .args(["-c", SCRIPT, folder.to_str().unwrap()])
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        for engine in ["duckdb", "pyarrow", "polars"] {
            assert_eq!(
                v[engine].as_u64(),
                Some(ours as u64),
                "{name}: {engine} read {} rows, migstat wrote {ours}",
                v[engine]
            );
        }
        if name == "observations" {
            let cols: Vec<&str> = v["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(
                &cols[..17],
                &[
                    "ref_area",
                    "source",
                    "indicator",
                    "sex",
                    "classif1",
                    "classif2",
                    "time",
                    "obs_value",
                    "obs_status",
                    "note_classif",
                    "note_indicator",
                    "note_source",
                    "sample_count",
                    "se",
                    "cv",
                    "lower_bound",
                    "upper_bound"
                ]
            );
        }
        tables += 1;
    }
    let names: Vec<String> = std::fs::read_dir(&wh)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(tables >= 11, "only {tables} tables found: {names:?}");
    let _ = std::fs::remove_dir_all(wh);
}
