//! `migstat estimate` against R `survey` 4.1-1: every row of the shared reference files
//! (`reference_estimates.csv`, `reference_estimates_more.csv`) reproduced through
//! `estimate::cli::run` with CSV output, plus the same designs through the library API, the
//! lonely-PSU failure and the input errors of the command.

use std::path::{Path, PathBuf};

use clap::Parser;
use migstat::estimate::cli::{run, EstimateArgs};

/// Relative tolerance on estimates and SEs; absolute where R's SE is 0.
const REL_TOL: f64 = 1e-9;
const ABS_TOL_ZERO_SE: f64 = 1e-12;

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/r-survey")
}

pub fn data(file: &str) -> String {
    data_dir().join(file).to_string_lossy().into_owned()
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(test: &str) -> crate::common::TestDir {
    crate::common::TestDir::new(format!("migstat-estimate-{test}-{}", std::process::id()))
}

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: EstimateArgs,
}

/// Result of one command run.
pub struct RunOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the command with `args` (the file first).
pub fn run_cli(args: &[String]) -> RunOutput {
    let argv = std::iter::once("estimate".to_string()).chain(args.iter().cloned());
    let parsed = Wrapper::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&parsed.args, &mut out, &mut err).expect("writing to memory");
    RunOutput {
        code,
        stdout: String::from_utf8(out).expect("utf-8 output"),
        stderr: String::from_utf8(err).expect("utf-8 errors"),
    }
}

/// One parsed CSV output row.
#[derive(Debug, Clone)]
pub struct Row {
    pub by: Vec<String>,
    pub statistic: String,
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    pub n: u64,
}

/// Run with `--format csv` and parse the rows back.
pub fn run_csv(args: &[String]) -> Vec<Row> {
    let mut all = args.to_vec();
    all.extend(["--format".to_string(), "csv".to_string()]);
    let out = run_cli(&all);
    assert_eq!(out.code, 0, "{all:?}: {}", out.stderr);
    let mut rdr = csv::Reader::from_reader(out.stdout.as_bytes());
    let header = rdr.headers().expect("header").clone();
    let stat = header
        .iter()
        .position(|h| h == "statistic")
        .expect("statistic column");
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().expect("number"));
    rdr.records()
        .map(|r| {
            let r = r.expect("csv row");
            Row {
                by: (0..stat).map(|i| r[i].to_string()).collect(),
                statistic: r[stat].to_string(),
                estimate: num(&r[stat + 1]),
                se: num(&r[stat + 2]),
                n: r[stat + 6].parse().expect("n"),
            }
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Statistic flags, output statistic name and domain label for an R estimator/target pair.
fn estimator_args(estimator: &str, target: &str) -> (Vec<String>, String, Vec<String>) {
    let factor = |kind: &str| {
        let level = target
            .strip_prefix("stype")
            .expect("factor rows are of stype");
        (
            strings(&[&format!("--{kind}"), "stype"]),
            format!("{kind}:stype={level}"),
            vec![],
        )
    };
    match estimator {
        "svytotal" => (
            strings(&["--total", target]),
            format!("total:{target}"),
            vec![],
        ),
        "svymean" => (
            strings(&["--mean", target]),
            format!("mean:{target}"),
            vec![],
        ),
        "svymean(factor)" => factor("mean"),
        "svytotal(factor)" => factor("total"),
        e if e.starts_with("svyratio ") => (
            strings(&["--ratio", target]),
            format!("ratio:{target}"),
            vec![],
        ),
        "svyby(api00 ~ stype, svymean)" => (
            strings(&["--mean", "api00", "--by", "stype"]),
            "mean:api00".to_string(),
            vec![target.to_string()],
        ),
        other => panic!("reference estimator not mapped: {other}"),
    }
}

/// Relative error of `got` against `want` (absolute when `want` is 0).
fn error(got: Option<f64>, want: f64) -> f64 {
    let got = got.unwrap_or(f64::NAN);
    if want == 0.0 {
        let e = got.abs();
        if e <= ABS_TOL_ZERO_SE {
            0.0
        } else {
            e
        }
    } else {
        ((got - want) / want).abs()
    }
}

/// Run one reference row; returns the larger relative error of estimate and SE. A replicate
/// design is checked on a Parquet copy of its file too (the streaming path).
fn check(label: &str, args: Vec<String>, statistic: &str, by: &[String], est: f64, se: f64) -> f64 {
    let mut worst = check_one(label, &args, statistic, by, est, se);
    if args.iter().any(|a| a == "--replicates") {
        let mut on_parquet = args.clone();
        on_parquet[0] = parquet::as_parquet(&args[0]);
        let label = format!("{label} (Parquet)");
        worst = worst.max(check_one(&label, &on_parquet, statistic, by, est, se));
    }
    worst
}

fn check_one(
    label: &str,
    args: &[String],
    statistic: &str,
    by: &[String],
    est: f64,
    se: f64,
) -> f64 {
    let rows = run_csv(args);
    let row = rows
        .iter()
        .find(|r| r.statistic == statistic && r.by == by)
        .unwrap_or_else(|| panic!("{label}: no row {statistic} {by:?} in {rows:?}"));
    let (e1, e2) = (error(row.estimate, est), error(row.se, se));
    assert!(
        e1 <= REL_TOL && e2 <= REL_TOL,
        "{label}: estimate {:?} vs {est} (rel {e1:e}), se {:?} vs {se} (rel {e2:e})",
        row.estimate,
        row.se
    );
    e1.max(e2)
}

fn read_reference(file: &str) -> Vec<csv::StringRecord> {
    let mut rdr = csv::Reader::from_path(data_dir().join(file)).expect("reference file");
    rdr.records().map(|r| r.expect("reference row")).collect()
}

#[test]
fn every_reference_estimate_matches() {
    let rows = read_reference("reference_estimates.csv");
    assert_eq!(rows.len(), 28, "reference_estimates.csv changed");
    let mut worst = 0.0f64;
    for r in &rows {
        let mut args = design_args(&r[0]);
        let (flags, statistic, by) = estimator_args(&r[1], &r[2]);
        args.extend(flags);
        let (est, se) = (r[3].parse().expect("estimate"), r[4].parse().expect("se"));
        let label = format!("{} | {} | {}", &r[0], &r[1], &r[2]);
        worst = worst.max(check(&label, args, &statistic, &by, est, se));
    }
    eprintln!(
        "reference_estimates.csv: {} rows, max relative error {worst:e}",
        rows.len()
    );
}

#[test]
fn every_more_reference_estimate_matches() {
    let rows = read_reference("reference_estimates_more.csv");
    assert_eq!(rows.len(), 25, "reference_estimates_more.csv changed");
    let mut worst = 0.0f64;
    for r in &rows {
        let (args, statistic, by) = case_args(&r[0]);
        let (est, se) = (r[1].parse().expect("estimate"), r[2].parse().expect("se"));
        worst = worst.max(check(&r[0], args, &statistic, &by, est, se));
    }
    eprintln!(
        "reference_estimates_more.csv: {} rows, max relative error {worst:e}",
        rows.len()
    );
}

mod api;
mod designs;
mod errors;
mod parquet;

use designs::{case_args, design_args};

#[test]
fn json_and_table_output_carry_the_csv_numbers() {
    let mut base = design_args("apistrat: id=~1, strata=~stype, weights=~pw, fpc=~fpc");
    base.extend(strings(&["--mean", "api00", "--by", "stype"]));
    let csv_rows = run_csv(&base);
    let mut json_args = base.clone();
    json_args.extend(strings(&["--format", "json"]));
    let out = run_cli(&json_args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    let items = json.as_array().expect("array");
    assert_eq!(items.len(), csv_rows.len());
    for (item, row) in items.iter().zip(&csv_rows) {
        assert_eq!(item["stype"], row.by[0].as_str());
        assert_eq!(item["statistic"], row.statistic.as_str());
        // serde_json's default parser may miss the last bit; the text itself is exact.
        let (est, se) = (row.estimate.expect("estimate"), row.se.expect("se"));
        assert!(out
            .stdout
            .contains(&format!("\"estimate\": {est}, \"se\": {se},")));
        let near =
            |v: &serde_json::Value, x: f64| (v.as_f64().expect("number") - x).abs() <= 1e-15 * x;
        assert!(near(&item["estimate"], est) && near(&item["se"], se));
        assert_eq!(item["n"].as_u64(), Some(row.n));
        assert_eq!(item["df"].as_f64(), Some(197.0));
    }
    let out = run_cli(&base);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + csv_rows.len());
    assert!(lines[0].starts_with("stype  statistic"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("E      mean:api00") && lines[1].contains("674.43"),
        "{}",
        lines[1]
    );
}
