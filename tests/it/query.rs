//! `migstat query`: results equal the same SQL run by DuckDB over the same Parquet files (the
//! tables registered by the same folder names), and errors name the tables a warehouse has.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use migstat::query::{discover, run, QueryArgs, QueryFormat};
use serde_json::Value;

use crate::common::{migstat, read_batches};

/// A Python with duckdb and pyarrow: `MIGSTAT_PYTHON` (as `make test` sets it), else this
/// checkout's `.venv`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MIGSTAT_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = crate::common::repo().join(".venv/bin/python");
    assert!(
        venv.is_file(),
        "no Python with duckdb/pyarrow: run `make test` (it creates .venv) or set MIGSTAT_PYTHON"
    );
    venv
}

/// Runs `python -c script args…`; panics with Python's message when it fails; returns stdout.
pub fn run_python(script: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One warehouse for the query and export tests, built once per test run through the binary:
/// a monthly survey (CAN), a quarterly one (FRA), a synthetic one with an emigrant roster (ARM), and
/// the World Bank's remittance and migrant-stock tables.
pub fn warehouse() -> &'static Path {
    static WH: OnceLock<PathBuf> = OnceLock::new();
    WH.get_or_init(|| {
        let wh = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("query-export-warehouse");
        let _ = std::fs::remove_dir_all(&wh);
        let whs = wh.to_string_lossy().to_string();
        let out = migstat(&[
            "run",
            "pipelines/can_lfs_pumf.toml",
            "pipelines/fra_eu_lfs_puf.toml",
            "pipelines/arm_lfs_synth.toml",
            "pipelines/wb_remittances_received.toml",
            "pipelines/wb_bilateral_remittances.toml",
            "pipelines/wb_bilateral_migrant_stocks.toml",
            "--warehouse",
            &whs,
        ]);
        assert!(
            out.status.success(),
            "migstat run failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        wh
    })
}

fn args(sql: &str, wh: &Path, format: QueryFormat, out: Option<PathBuf>) -> QueryArgs {
    QueryArgs {
        sql: sql.to_string(),
        warehouse: wh.to_path_buf(),
        format,
        out,
        limit: migstat::query::DEFAULT_LIMIT,
    }
}

/// Our result as JSON rows.
fn ours(sql: &str) -> Vec<serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    let code = run(&args(sql, warehouse(), QueryFormat::Json, None), &mut out)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_slice(&out).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| r.as_object().expect("object").clone())
        .collect()
}

const DUCKDB: &str = r#"
import sys, json, duckdb
tables = json.loads(sys.argv[1])
con = duckdb.connect()
for name, folder in tables.items():
    con.execute(f"create view {name} as select * from read_parquet('{folder}/**/*.parquet', hive_partitioning = false)")
cur = con.execute(sys.argv[2])
cols = [d[0] for d in cur.description]
rows = [dict(zip(cols, r)) for r in cur.fetchall()]
print(json.dumps({"columns": cols, "rows": rows}, default=str))
"#;

/// DuckDB's result for the same SQL, with the same tables by the same names.
pub fn duckdb(sql: &str) -> (Vec<String>, Vec<serde_json::Map<String, Value>>) {
    let wh = warehouse();
    let tables: serde_json::Map<String, Value> = discover(wh)
        .expect("tables")
        .into_iter()
        .map(|t| {
            let folder = match t.name.strip_prefix("catalog_") {
                Some(c) => wh.join("catalog").join(c),
                None => wh.join(&t.name),
            };
            (t.name, Value::String(folder.to_string_lossy().into()))
        })
        .collect();
    let out = run_python(DUCKDB, &[&Value::Object(tables).to_string(), sql]);
    let v: Value = serde_json::from_slice(&out).expect("duckdb json");
    let cols = v["columns"].as_array().expect("columns").iter();
    let cols = cols.map(|c| c.as_str().unwrap_or("").to_string()).collect();
    let rows = v["rows"].as_array().expect("rows").iter();
    (
        cols,
        rows.map(|r| r.as_object().expect("row").clone()).collect(),
    )
}

/// Equal values: numbers to 1e-12 relative (sums may add in another order), the rest exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn assert_same_as_duckdb(sql: &str) -> usize {
    let got = ours(sql);
    let (cols, want) = duckdb(sql);
    assert_eq!(got.len(), want.len(), "{sql}: row counts differ");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let gk: Vec<&String> = g.keys().collect();
        assert_eq!(gk.len(), cols.len(), "{sql}: columns {gk:?} vs {cols:?}");
        for c in &cols {
            let (gv, wv) = (&g[c.as_str()], &w[c.as_str()]);
            assert!(
                same(gv, wv),
                "{sql}\nrow {i}, column {c}: migstat {gv} vs duckdb {wv}"
            );
        }
    }
    want.len()
}

const QUERIES: [&str; 16] = [
    // Aggregation over every observation file.
    "SELECT ref_area, indicator, count(*) AS n, sum(obs_value) AS total, min(time) AS first, \
     max(time) AS last FROM observations GROUP BY ref_area, indicator ORDER BY ref_area, indicator",
    // Filter, LIKE, projection of every kind of column.
    "SELECT ref_area, source, time, sex, classif1, classif2, obs_value, obs_status, sample_count, \
     se, cv, note_indicator FROM observations WHERE indicator = 'MST_TUNE_SEX_AGE_CBR_RT' \
     AND classif1 LIKE 'AGE_YTHADULT%' ORDER BY ref_area, time, sex, classif1, classif2",
    // Self-join: a participation rate recomputed from its numerator and denominator.
    "SELECT n.ref_area, n.time, n.sex, n.classif1, n.classif2, 100 * n.obs_value / d.obs_value AS rate \
     FROM observations n JOIN observations d ON n.ref_area = d.ref_area AND n.time = d.time \
     AND n.sex = d.sex AND n.classif1 = d.classif1 AND n.classif2 = d.classif2 \
     WHERE n.indicator = 'MST_TEAP_SEX_AGE_CBR_NB' AND d.indicator = 'MST_XWAP_SEX_AGE_CBR_NB' \
     AND d.obs_value > 0 ORDER BY 1, 2, 3, 4, 5",
    // Microdata: persons and weighted totals per area and period.
    "SELECT ref_area, time, count(*) AS persons, sum(weight) AS weighted FROM microdata \
     GROUP BY ref_area, time ORDER BY ref_area, time",
    // CTE, CASE, COALESCE, HAVING.
    "WITH s AS (SELECT ref_area, coalesce(obs_status, '') AS status, count(*) AS n \
     FROM observations GROUP BY ref_area, coalesce(obs_status, '') HAVING count(*) > 0) \
     SELECT ref_area, CASE WHEN status = '' THEN 'ok' ELSE status END AS status, n FROM s \
     ORDER BY ref_area, status",
    // A catalog table joined for labels.
    "SELECT o.indicator, i.label, i.unit, count(*) AS n FROM observations o \
     JOIN catalog_indicators i ON o.indicator = i.code GROUP BY o.indicator, i.label, i.unit \
     ORDER BY o.indicator",
    // IN, BETWEEN, LIMIT and OFFSET.
    "SELECT ref_area, time, indicator, obs_value FROM observations \
     WHERE sex IN ('SEX_M', 'SEX_F') AND obs_value BETWEEN 10 AND 500 \
     ORDER BY ref_area, time, indicator, sex, classif1, classif2 LIMIT 25 OFFSET 5",
    // UNION ALL over two tables.
    "SELECT 'microdata' AS t, ref_area, count(*) AS n FROM microdata GROUP BY ref_area \
     UNION ALL SELECT 'emigrants' AS t, ref_area, count(*) AS n FROM emigrants GROUP BY ref_area \
     ORDER BY t, ref_area",
    // Window functions.
    "SELECT ref_area, time, sex, obs_value, \
     row_number() OVER (PARTITION BY ref_area, time ORDER BY obs_value DESC) AS r, \
     sum(obs_value) OVER (PARTITION BY ref_area, time) AS s \
     FROM observations WHERE indicator = 'MST_TEMP_SEX_ECO_CBR_NB' AND classif1 = 'ECO_SECTOR_TOTAL' \
     AND classif2 = 'CBR_BIR_TOTAL' ORDER BY ref_area, time, r, sex",
    // IN (subquery), FILTER, count(DISTINCT), avg.
    "SELECT ref_area, count(DISTINCT indicator) AS indicators, avg(obs_value) AS mean, \
     count(*) FILTER (WHERE obs_status = 'U') AS unreliable FROM observations \
     WHERE indicator IN (SELECT code FROM catalog_indicators WHERE unit = 'percent') \
     GROUP BY ref_area ORDER BY ref_area",
    // The World Bank tables: aggregates kept apart by kind, a bilateral join with a catalog.
    "SELECT ref_area_kind, time, count(*) AS n, sum(obs_value) AS usd FROM remittances \
     GROUP BY ref_area_kind, time ORDER BY ref_area_kind, time",
    "SELECT b.ref_area, b.counterpart_area, a.label, b.obs_value, s.obs_value AS stock \
     FROM remittances_bilateral b \
     LEFT JOIN catalog_ref_areas a ON a.ref_area = b.counterpart_area \
     JOIN migrant_stocks_bilateral s ON s.ref_area = b.counterpart_area \
     AND s.counterpart_area = b.ref_area AND s.time = b.time \
     WHERE b.ref_area IN ('MEX', 'PHL', 'ARM') AND b.counterpart_area_kind = 'country' \
     AND b.obs_value > 0 ORDER BY b.ref_area, b.obs_value DESC, b.counterpart_area",
    // rank() and dense_rank(), EXISTS.
    "SELECT ref_area, time, sex, obs_value, \
     rank() OVER (PARTITION BY ref_area ORDER BY obs_value DESC) AS r, \
     dense_rank() OVER (PARTITION BY ref_area ORDER BY obs_value DESC) AS d \
     FROM observations o WHERE indicator = 'MST_TEAP_SEX_AGE_CBR_NB' AND obs_value IS NOT NULL \
     AND EXISTS (SELECT 1 FROM microdata m WHERE m.ref_area = o.ref_area) \
     ORDER BY ref_area, r, d, time, sex, classif1, classif2",
    // INTERSECT and EXCEPT.
    "SELECT ref_area FROM observations INTERSECT SELECT ref_area FROM microdata \
     EXCEPT SELECT ref_area FROM emigrants ORDER BY ref_area",
    // docs/warehouse.md, worked query 5, as printed there.
    "SELECT ref_area, obs_value / 1000000000 AS usd_billions FROM remittances \
     WHERE indicator = 'BX.TRF.PWKR.CD.DT' AND time = '2020' AND ref_area_kind = 'country' \
     AND obs_value IS NOT NULL ORDER BY obs_value DESC, ref_area LIMIT 10",
    "SELECT b.counterpart_area AS sender, a.label, b.obs_value AS usd_millions \
     FROM remittances_bilateral b LEFT JOIN catalog_ref_areas a ON a.ref_area = b.counterpart_area \
     WHERE b.ref_area = 'MEX' AND b.counterpart_area_kind = 'country' AND b.obs_value > 0 \
     ORDER BY b.obs_value DESC, sender LIMIT 5",
];

#[test]
#[cfg_attr(not(feature = "query"), ignore = "needs --features query")]
fn query_results_equal_duckdb_on_the_same_files() {
    let mut nonempty = 0;
    for sql in QUERIES {
        if assert_same_as_duckdb(sql) > 0 {
            nonempty += 1;
        }
    }
    assert_eq!(nonempty, QUERIES.len(), "every query should return rows");
}

#[test]
#[cfg_attr(not(feature = "query"), ignore = "needs --features query")]
fn tables_are_the_warehouse_folders() {
    let names: Vec<String> = discover(warehouse())
        .expect("tables")
        .into_iter()
        .map(|t| t.name)
        .collect();
    for t in [
        "observations",
        "microdata",
        "emigrants",
        "catalog_indicators",
    ] {
        assert!(names.contains(&t.to_string()), "{t} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n == "runs" || n.starts_with('.')));
}

#[test]
#[cfg_attr(not(feature = "query"), ignore = "needs --features query")]
fn an_unknown_table_is_named_with_the_tables_there_are() {
    let mut out = Vec::new();
    let sql = "SELECT * FROM observation";
    let err = run(&args(sql, warehouse(), QueryFormat::Table, None), &mut out)
        .expect_err("unknown table");
    let msg = err.to_string();
    assert_eq!(err.exit_code(), 2);
    assert!(msg.contains("unknown table observation"), "{msg}");
    assert!(
        msg.contains("observations") && msg.contains("microdata"),
        "{msg}"
    );
}

#[test]
#[cfg_attr(not(feature = "query"), ignore = "needs --features query")]
fn a_sql_error_exits_2_with_the_engine_message() {
    let mut out = Vec::new();
    for sql in ["SELEC 1", "SELECT no_such_column FROM observations"] {
        let err =
            run(&args(sql, warehouse(), QueryFormat::Csv, None), &mut out).expect_err("bad sql");
        assert_eq!(err.exit_code(), 2, "{sql}");
        assert!(err.to_string().contains("tables in"), "{sql}: {err}");
    }
}

#[test]
#[cfg_attr(not(feature = "query"), ignore = "needs --features query")]
fn parquet_and_csv_outputs_read_back() {
    let dir = crate::common::temp_dir("query-out");
    let sql = "SELECT ref_area, indicator, count(*) AS n FROM observations \
               GROUP BY ref_area, indicator ORDER BY ref_area, indicator";
    let pq = dir.join("r.parquet");
    let mut log = Vec::new();
    run(
        &args(sql, warehouse(), QueryFormat::Parquet, Some(pq.clone())),
        &mut log,
    )
    .expect("parquet");
    let rows: usize = read_batches(&pq).iter().map(|b| b.num_rows()).sum();
    let csv_path = dir.join("r.csv");
    run(
        &args(sql, warehouse(), QueryFormat::Csv, Some(csv_path.clone())),
        &mut log,
    )
    .expect("csv");
    let mut rdr = csv::Reader::from_path(&csv_path).expect("csv");
    assert_eq!(
        rdr.headers().expect("header").iter().collect::<Vec<_>>(),
        ["ref_area", "indicator", "n"]
    );
    assert_eq!(rdr.records().count(), rows);
    assert_eq!(rows, ours(sql).len());
    let leftovers = std::fs::read_dir(&dir).expect("dir").count();
    assert_eq!(leftovers, 2, "temporary files left behind");
    let mut table = Vec::new();
    run(
        &args(sql, warehouse(), QueryFormat::Table, None),
        &mut table,
    )
    .expect("table");
    assert!(String::from_utf8_lossy(&table).contains("ref_area"));
    let _ = std::fs::remove_dir_all(dir);
}
