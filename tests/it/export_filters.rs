//! `migstat export` filters and digits against DuckDB over the same warehouse, SDMX's status code
//! lists on real unreliable and suppressed cells, and `migstat query … | head -1` ending quietly.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use migstat::export::{run, ExportArgs, ExportFormat, FilterArgs};
use serde_json::Value;

use crate::common::temp_dir;
use crate::query::{duckdb, warehouse};

/// Area, source, indicator, sex, classif1, classif2, time.
type Key = (String, String, String, String, String, String, String);

fn export(
    filter: FilterArgs,
    format: ExportFormat,
    digits: Option<u32>,
    name: &str,
) -> crate::common::TestDir {
    let out = temp_dir(name);
    let args = ExportArgs {
        format,
        out: out.to_path_buf(),
        warehouse: warehouse().to_path_buf(),
        labels: false,
        filter,
        digits,
    };
    let mut log = Vec::new();
    run(&args, &mut log).unwrap_or_else(|e| panic!("export: {e}"));
    out
}

/// Every row of the ILOSTAT CSV files in `dir`: key → value text.
fn read_ilostat(dir: &Path) -> BTreeMap<Key, String> {
    let mut rows = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let mut r = csv::Reader::from_path(e.path()).expect("csv");
        let h = r.headers().expect("header").clone();
        let at = |name: &str| h.iter().position(|c| c == name);
        for rec in r.records() {
            let rec = rec.expect("record");
            let g = |n: &str| at(n).and_then(|i| rec.get(i)).unwrap_or("").to_string();
            let key = (
                g("ref_area"),
                g("source"),
                g("indicator"),
                g("sex"),
                g("classif1"),
                g("classif2"),
                g("time"),
            );
            assert!(rows.insert(key, g("obs_value")).is_none(), "duplicate row");
        }
    }
    rows
}

/// DuckDB's rows for `WHERE cond`, with `obs_value` as `value_sql` computes it.
fn duckdb_rows(cond: &str, value_sql: &str) -> BTreeMap<Key, Option<f64>> {
    let sql = format!(
        "SELECT ref_area, source, indicator, sex, coalesce(classif1, '') AS c1, \
         coalesce(classif2, '') AS c2, time, {value_sql} AS v FROM observations WHERE {cond}"
    );
    let (_, rows) = duckdb(&sql);
    let s = |r: &serde_json::Map<String, Value>, c: &str| r[c].as_str().unwrap_or("").to_string();
    rows.iter()
        .map(|r| {
            let key = (
                s(r, "ref_area"),
                s(r, "source"),
                s(r, "indicator"),
                s(r, "sex"),
                s(r, "c1"),
                s(r, "c2"),
                s(r, "time"),
            );
            (key, r["v"].as_f64())
        })
        .collect()
}

fn assert_same(got: &BTreeMap<Key, String>, want: &BTreeMap<Key, Option<f64>>) {
    assert!(!want.is_empty(), "the filter should take rows");
    assert_eq!(got.len(), want.len(), "row counts differ");
    for (k, w) in want {
        let g = got.get(k).unwrap_or_else(|| panic!("{k:?} not exported"));
        let g = (!g.is_empty()).then(|| g.parse::<f64>().expect("number"));
        match (g, w) {
            (Some(g), Some(w)) => assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{k:?}: {g} vs {w}"
            ),
            (g, w) => assert_eq!(g, *w, "{k:?}"),
        }
    }
}

#[test]
fn area_indicator_glob_and_time_take_what_duckdb_selects() {
    let filter = FilterArgs {
        ref_areas: vec!["FRA".into()],
        indicators: vec!["MST_TEAP_*".into(), "MST_TUNE_SEX_AGE_CBR_RT".into()],
        sources: vec![],
        time: Some("2010..2011".into()),
    };
    let dir = export(filter, ExportFormat::IlostatCsv, None, "export-filter-fra");
    let want = duckdb_rows(
        "ref_area = 'FRA' AND (indicator LIKE 'MST_TEAP_%' OR indicator = 'MST_TUNE_SEX_AGE_CBR_RT') \
         AND substr(time, 1, 4) BETWEEN '2010' AND '2011'",
        "obs_value",
    );
    assert_same(&read_ilostat(&dir), &want);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn source_and_digits_round_like_duckdb() {
    let filter = FilterArgs {
        sources: vec!["SY:ARM_LFS_SYNTH".into()],
        time: Some("2023Q4..".into()),
        ..FilterArgs::default()
    };
    let dir = export(
        filter,
        ExportFormat::IlostatCsv,
        Some(2),
        "export-filter-arm",
    );
    let want = duckdb_rows(
        "source = 'SY:ARM_LFS_SYNTH' AND time = '2023Q4'",
        "round(obs_value, 2)",
    );
    let got = read_ilostat(&dir);
    assert!(
        got.values()
            .all(|v| v.split_once('.').is_none_or(|(_, d)| d.len() <= 2)),
        "more than 2 decimals"
    );
    assert_same(&got, &want);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_filter_that_takes_nothing_is_an_error() {
    let out = temp_dir("export-filter-none");
    let args = ExportArgs {
        format: ExportFormat::IlostatCsv,
        out: out.to_path_buf(),
        warehouse: warehouse().to_path_buf(),
        labels: false,
        filter: FilterArgs {
            ref_areas: vec!["XXX".into()],
            ..FilterArgs::default()
        },
        digits: None,
    };
    let err = run(&args, &mut Vec::new()).expect_err("nothing matches");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--ref-area XXX"), "{err}");
    let _ = std::fs::remove_dir_all(&args.out);
}

#[test]
fn sdmx_marks_unreliable_and_suppressed_cells_with_the_cross_domain_codes() {
    let (_, counts) = duckdb(
        "SELECT count(*) FILTER (WHERE obs_status = 'U') AS u, \
         count(*) FILTER (WHERE obs_status = 'S') AS s, count(*) AS n \
         FROM observations WHERE ref_area = 'ARM'",
    );
    let n = |c: &str| counts[0][c].as_u64().expect("count") as usize;
    assert!(
        n("u") > 0 && n("s") > 0,
        "the ARM sample needs U and S cells"
    );
    let filter = FilterArgs {
        ref_areas: vec!["ARM".into()],
        ..FilterArgs::default()
    };
    let dir = export(filter, ExportFormat::SdmxCsv, None, "export-filter-sdmx");
    let mut pairs: BTreeMap<(String, String, bool), usize> = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        let mut r = csv::Reader::from_path(e.path()).expect("csv");
        let h = r.headers().expect("header").clone();
        let at = |name: &str| h.iter().position(|c| c == name).expect(name);
        let (o, c, v) = (at("OBS_STATUS"), at("CONF_STATUS"), at("OBS_VALUE"));
        for rec in r.records() {
            let rec = rec.expect("record");
            let key = (rec[o].to_string(), rec[c].to_string(), rec[v].is_empty());
            *pairs.entry(key).or_default() += 1;
        }
    }
    let count = |o: &str, c: &str, empty: bool| {
        pairs
            .get(&(o.into(), c.into(), empty))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(count("U", "F", false), n("u"), "{pairs:?}");
    assert_eq!(count("Q", "C", true), n("s"), "{pairs:?}");
    assert_eq!(pairs.values().sum::<usize>(), n("n"), "{pairs:?}");
    assert_eq!(
        count("A", "F", false) + n("u") + n("s"),
        n("n"),
        "{pairs:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[cfg_attr(not(feature = "query"), ignore = "needs --features query")]
fn query_into_a_closed_pipe_exits_0_quietly() {
    let wh = warehouse().to_string_lossy().to_string();
    for format in ["csv", "table"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_migstat"))
            .args(["query", "SELECT * FROM observations", "--warehouse", &wh])
            .args(["--format", format, "--limit", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).expect("line");
        assert!(first.contains("ref_area"), "{first}");
        // The reader is gone (as after `| head -1`); the rest of the output meets a closed pipe.
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
