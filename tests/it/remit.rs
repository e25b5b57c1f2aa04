//! World Bank remittance pipelines on the shipped files: spot values read from the xlsx by an
//! independent path (its XML, no calamine, no crosswalk), aggregates kept apart from countries,
//! text and blank cells, non-country codes; goldens in `golden.rs`, broken and doctored inputs
//! (wrong sheets, unknown names, year-on-year falls, WORLD sums) in `broken.rs`.
mod broken;
mod golden;
mod xlsx;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array, StringArray};
use migstat::error::MigError;
use migstat::pipeline::{RunOptions, RunSummary};

use crate::common::{parquet_files, read_batches, repo, temp_dir};

const RECEIVED: &str = "pipelines/wb_remittances_received.toml";
const PAID: &str = "pipelines/wb_remittances_paid.toml";
const BILATERAL: &str = "pipelines/wb_bilateral_remittances.toml";
const STOCKS: &str = "pipelines/wb_bilateral_migrant_stocks.toml";

fn opts(wh: &Path) -> RunOptions {
    RunOptions {
        cap: 1000,
        ..RunOptions::new(wh)
    }
}

fn run_with(pipeline: &Path, o: &RunOptions) -> (Result<RunSummary, MigError>, String) {
    let mut log = Vec::new();
    let r = migstat::pipeline::run_file(pipeline, o, &mut log);
    (r, String::from_utf8_lossy(&log).into_owned())
}

/// Runs a shipped pipeline into a fresh warehouse; panics with the log on failure.
fn run_ok(name: &str, pipeline: &str) -> (crate::common::TestDir, RunSummary, String) {
    let wh = temp_dir(name);
    let (r, log) = run_with(&repo().join(pipeline), &opts(&wh));
    match r {
        Ok(s) => (wh, s, log),
        Err(e) => panic!("{pipeline} failed: {e}\n{log}"),
    }
}

fn validation(wh: &Path, s: &RunSummary) -> String {
    std::fs::read_to_string(wh.join("runs").join(&s.run_id).join("validation.txt"))
        .expect("validation.txt")
}

/// One row of a remittance table read back from Parquet.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    area: String,
    counterpart: Option<String>,
    time: String,
    value: Option<f64>,
    note: Option<String>,
    kind: String,
    counterpart_kind: Option<String>,
    indicator: String,
    unit: String,
    vintage: Option<String>,
}

fn strs(b: &arrow_array::RecordBatch, name: &str) -> Vec<Option<String>> {
    let Some(a) = b.column_by_name(name) else {
        return vec![None; b.num_rows()];
    };
    let a = a.as_any().downcast_ref::<StringArray>().expect("utf8");
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect()
}

fn read_rows(path: &Path) -> Vec<Row> {
    let mut out = Vec::new();
    for b in read_batches(path) {
        let col = |n: &str| strs(&b, n);
        let (area, cp, time, note) = (
            col("ref_area"),
            col("counterpart_area"),
            col("time"),
            col("note"),
        );
        let (kind, cpk, ind, unit, vin) = (
            col("ref_area_kind"),
            col("counterpart_area_kind"),
            col("indicator"),
            col("unit"),
            col("vintage"),
        );
        let v = b.column_by_name("obs_value").expect("obs_value");
        let v = v.as_any().downcast_ref::<Float64Array>().expect("f64");
        for i in 0..b.num_rows() {
            out.push(Row {
                area: area[i].clone().unwrap_or_default(),
                counterpart: cp[i].clone(),
                time: time[i].clone().unwrap_or_default(),
                value: (!v.is_null(i)).then(|| v.value(i)),
                note: note[i].clone(),
                kind: kind[i].clone().unwrap_or_default(),
                counterpart_kind: cpk[i].clone(),
                indicator: ind[i].clone().unwrap_or_default(),
                unit: unit[i].clone().unwrap_or_default(),
                vintage: vin[i].clone(),
            });
        }
    }
    out
}

fn table_rows(wh: &Path, table: &str) -> Vec<Row> {
    let files = parquet_files(&wh.join(table));
    assert_eq!(
        files.len(),
        1,
        "one file per source file in {table}: {files:?}"
    );
    read_rows(&files[0])
}

fn sample(file: &str) -> PathBuf {
    repo().join("sample_data/worldbank").join(file)
}

const REMIT_XLSX: &str = "WB_Bilateral_Remittance_Estimates_2017.xlsx";
const STOCKS_XLSX: &str = "WB_Bilateral_Estimates_Migrant_Stocks_2017.xlsx";

fn cell<'a>(rows: &'a [Row], area: &str, counterpart: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.area == area && r.counterpart.as_deref() == Some(counterpart))
        .unwrap_or_else(|| panic!("no cell {counterpart} -> {area}"))
}

#[test]
fn spot_united_states_to_mexico_2017_read_independently() {
    let (want, at) = xlsx::lookup(
        &sample(REMIT_XLSX),
        "Bilateral_Remittances_2017",
        "United States",
        "Mexico",
    );
    // About US$ 30 billion, the corridor's published 2017 estimate.
    assert!((want - 30_019.187).abs() < 0.001, "{at}: {want}");
    let (wh, _, _) = run_ok("wb-spot-remit", BILATERAL);
    let rows = table_rows(&wh, "remittances_bilateral");
    let got = cell(&rows, "MEX", "USA");
    assert_eq!(got.value, Some(want), "cell {at}");
    assert_eq!(got.kind, "country");
    assert_eq!(got.unit, "USD_MN");
    // The other direction is a different cell.
    assert!(cell(&rows, "USA", "MEX")
        .value
        .is_some_and(|v| (v - 1_774.017).abs() < 0.001));
}

#[test]
fn spot_mexico_born_living_in_the_united_states_read_independently() {
    let (want, at) = xlsx::lookup(
        &sample(STOCKS_XLSX),
        "Bilateral_Migration_2017",
        "Mexico",
        "United States",
    );
    assert_eq!(want, 11_573_680.0, "{at}");
    let (wh, _, _) = run_ok("wb-spot-stocks", STOCKS);
    let rows = table_rows(&wh, "migrant_stocks_bilateral");
    let got = cell(&rows, "USA", "MEX");
    assert_eq!(got.value, Some(want), "cell {at}");
    assert_eq!(got.unit, "PERSONS");
    let (world, _) = xlsx::lookup(
        &sample(STOCKS_XLSX),
        "Bilateral_Migration_2017",
        "World",
        "World",
    );
    assert_eq!(cell(&rows, "WLD", "WLD").value, Some(world));
    assert_eq!(
        cell(&rows, "WLD", "WLD").counterpart_kind.as_deref(),
        Some("world")
    );
}

/// `schemas/wb_aggregates.csv`: code → kind, read here with the csv crate.
fn aggregate_list() -> BTreeMap<String, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(repo().join("schemas/wb_aggregates.csv"))
        .expect("aggregates");
    rdr.records()
        .map(|r| r.expect("row"))
        .map(|r| (r[0].to_string(), r[2].to_string()))
        .collect()
}

/// Codes with an empty Region in the workbook's metadata sheet, read directly with calamine.
fn regionless_codes() -> Vec<String> {
    use calamine::{open_workbook_auto, Reader};
    let xls = sample("API_BX.TRF.PWKR.CD.DT_DS2_en_excel_v2_6000901.xls");
    let mut wb = open_workbook_auto(xls).expect("xls");
    let range = wb.worksheet_range("Metadata - Countries").expect("sheet");
    range
        .rows()
        .skip(1)
        .filter(|r| r[1].to_string().trim().is_empty())
        .map(|r| r[0].to_string())
        .collect()
}

#[test]
fn aggregates_are_tagged_and_never_mixed_with_countries() {
    let aggs = aggregate_list();
    let regionless = regionless_codes();
    assert_eq!(regionless.len(), 48);
    for (pipeline, name) in [(RECEIVED, "wb-agg-received"), (PAID, "wb-agg-paid")] {
        let (wh, _, _) = run_ok(name, pipeline);
        let rows = table_rows(&wh, "remittances");
        for r in &rows {
            match aggs.get(&r.area) {
                Some(kind) => assert_eq!(&r.kind, kind, "{}", r.area),
                None => assert_eq!(r.kind, "country", "{}", r.area),
            }
        }
        for code in &regionless {
            assert!(
                rows.iter().any(|r| &r.area == code && r.kind != "country"),
                "{code}"
            );
        }
        for year in ["1990", "2017", "2020"] {
            let sum = |keep: &dyn Fn(&Row) -> bool| -> f64 {
                rows.iter()
                    .filter(|r| r.time == year && keep(r))
                    .filter_map(|r| r.value)
                    .sum()
            };
            let world = sum(&|r| r.area == "WLD");
            let countries = sum(&|r| r.kind == "country");
            let everything = sum(&|_| true);
            assert!(
                (countries - world).abs() <= 1e-6 * world,
                "{pipeline} {year}"
            );
            assert!(
                everything > 4.0 * world,
                "{pipeline} {year}: {everything} vs {world}"
            );
        }
    }
}

#[test]
fn text_and_blank_cells_are_null_with_a_note() {
    let (wh, s, _) = run_ok("wb-dash", BILATERAL);
    let rows = table_rows(&wh, "remittances_bilateral");
    let nulls: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r.value.is_none())
        .map(|r| {
            (
                r.area.as_str(),
                r.counterpart.as_deref().unwrap_or(""),
                r.note.as_deref().unwrap_or(""),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = nulls.iter().map(|n| (n.0, n.1)).collect();
    assert_eq!(
        pairs,
        [
            ("IND", "PAK"),
            ("ISR", "LBN"),
            ("LBN", "ISR"),
            ("PAK", "IND")
        ]
    );
    assert!(
        nulls.iter().all(|n| n.2.contains("holds \"-\"")),
        "{nulls:?}"
    );
    let report = validation(&wh, &s);
    assert!(report.contains("text_cell (info): 4"), "{report}");
    let (wh, _, _) = run_ok("wb-blank", STOCKS);
    let rows = table_rows(&wh, "migrant_stocks_bilateral");
    let blank: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.value.is_none())
        .map(|r| (r.area.as_str(), r.counterpart.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(blank, [("ARE", "IRN"), ("ARE", "XKX")]);
    assert!(rows
        .iter()
        .filter(|r| r.value.is_none())
        .all(|r| r.note.as_deref().is_some_and(|n| n.contains("blank"))));
    assert!(rows.iter().all(|r| r.value.is_some() || r.note.is_some()));
}

#[test]
fn non_country_rows_and_columns_keep_their_codes() {
    let (wh, _, _) = run_ok("wb-other", STOCKS);
    let rows = table_rows(&wh, "migrant_stocks_bilateral");
    for (code, kind) in [("XON", "other"), ("XOS", "other"), ("WLD", "world")] {
        assert!(
            rows.iter().any(|r| r.area == code && r.kind == kind),
            "{code} across"
        );
        assert!(
            rows.iter().any(|r| r.counterpart.as_deref() == Some(code)
                && r.counterpart_kind.as_deref() == Some(kind)),
            "{code} down"
        );
    }
    // Old spellings resolved: Swaziland, Macedonia FYR, Czech Republic, Turkey, Vietnam, Faeroe.
    for code in ["SWZ", "MKD", "CZE", "TUR", "VNM", "FRO", "PRK"] {
        assert!(rows.iter().any(|r| r.area == code), "{code}");
    }
    // Algeria is DZA (the third-party sheet's ARE is never used).
    let (world, _) = xlsx::lookup(
        &sample(STOCKS_XLSX),
        "Bilateral_Migration_2017",
        "World",
        "Algeria",
    );
    assert_eq!(cell(&rows, "DZA", "WLD").value, Some(world));
    assert_ne!(cell(&rows, "ARE", "WLD").value, Some(world));
}

#[test]
fn pipelines_are_told_apart_by_their_remittances_table() {
    for p in [RECEIVED, PAID, BILATERAL, STOCKS] {
        let job = migstat::pipeline::Job::load(&repo().join(p), None).expect("pipeline");
        assert!(
            matches!(job.kind, migstat::pipeline::Kind::Remittance(..)),
            "{p}"
        );
        // The survey pipeline loader refuses them.
        assert!(
            migstat::pipeline::load_pipeline(&repo().join(p), None).is_err(),
            "{p}"
        );
    }
    for p in [
        "pipelines/can_lfs_pumf.toml",
        "pipelines/fra_eu_lfs_puf.toml",
    ] {
        let job = migstat::pipeline::Job::load(&repo().join(p), None).expect("pipeline");
        assert!(
            matches!(job.kind, migstat::pipeline::Kind::Survey(..)),
            "{p}"
        );
    }
}
