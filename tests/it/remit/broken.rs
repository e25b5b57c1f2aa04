//! Broken and doctored World Bank inputs: a clear error naming the file, the sheet, the row and
//! the column, and nothing loaded; or, for data-quality problems, a warning in the run report.
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

use super::xlsx;
use super::{
    opts, read_rows, run_with, sample, table_rows, validation, BILATERAL, PAID, RECEIVED,
    REMIT_XLSX, STOCKS,
};
use crate::common::{parquet_files, repo, temp_dir};
use migstat::error::MigError;

const PAID_CSV: &str = "API_BM.TRF.PWKR.CD.DT_DS2_en_csv_v2_3012027.csv";

/// A copy of a shipped pipeline in `dir` reading the shipped file by absolute path, with `set`
/// lines (`key = value`) replacing or adding keys.
fn pipeline_copy(dir: &Path, shipped: &str, set: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(shipped)).expect("pipeline");
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        if let Some(rel) = line.strip_prefix("path = ") {
            let abs = repo().join("pipelines").join(rel.trim_matches('"'));
            out.push_str(&format!("path = {:?}\n", abs.to_string_lossy()));
        } else if !set.iter().any(|(k, _)| *k == key) {
            out.push_str(line);
            out.push('\n');
        }
    }
    for (k, v) in set {
        out.push_str(&format!("{k} = {v}\n"));
    }
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, out).expect("write pipeline");
    p
}

fn nothing_loaded(wh: &Path) {
    for t in [
        "remittances",
        "remittances_bilateral",
        "migrant_stocks_bilateral",
    ] {
        assert!(parquet_files(&wh.join(t)).is_empty(), "{t} was loaded");
    }
    assert!(crate::common::no_staging(wh), "staging left behind");
}

#[test]
fn wrong_sheet_names_are_clear_errors_and_nothing_is_loaded() {
    let dir = temp_dir("wb-wrong-sheet");
    let wh = dir.join("wh");
    let cases = [
        (
            BILATERAL,
            "sheet",
            "\"Bilateral_Remittances_2018\"",
            "\"Bilateral_Remittances_2017\", \"remshare\"",
        ),
        (
            RECEIVED,
            "metadata_sheet",
            "\"Metadata - Country\"",
            "\"Metadata - Countries\"",
        ),
        (RECEIVED, "sheet", "\"data\"", "\"Data\""),
    ];
    for (shipped, key, value, listed) in cases {
        let p = pipeline_copy(&dir, shipped, &[(key, value)]);
        let (r, log) = run_with(&p, &opts(&wh));
        let e = r.expect_err("wrong sheet");
        let msg = e.to_string();
        assert!(
            matches!(e, MigError::Unreadable { .. }) && e.exit_code() == 2,
            "{msg}"
        );
        assert!(
            msg.contains(&format!("no sheet named {value}")) && msg.contains(listed),
            "{msg}\n{log}"
        );
        nothing_loaded(&wh);
    }
    // The third-party sheet of the stock matrix is no bilateral matrix of known names.
    let p = pipeline_copy(&dir, STOCKS, &[("sheet", "\"countries-comparison\"")]);
    let (r, _) = run_with(&p, &opts(&wh));
    let e = r.expect_err("countries-comparison is not a matrix");
    assert!(
        e.exit_code() == 1 && e.to_string().contains("countries-comparison"),
        "{e}"
    );
    nothing_loaded(&wh);
}

#[test]
fn an_unknown_name_is_an_error_naming_file_sheet_row_and_column() {
    let dir = temp_dir("wb-unknown-name");
    let doctored = dir.join("remit_doctored.xlsx");
    xlsx::rewrite(&sample(REMIT_XLSX), &doctored, &|name, text| {
        if name == "xl/sharedStrings.xml" {
            text.replace("<t>Swaziland</t>", "<t>Atlantis</t>")
        } else {
            text
        }
    });
    let at: Vec<String> = xlsx::cells(&doctored, "Bilateral_Remittances_2017")
        .into_iter()
        .filter(|(_, v)| v == "Atlantis")
        .map(|(r, _)| r)
        .collect();
    assert_eq!(at.len(), 2, "{at:?}");
    let mut o = opts(&dir.join("wh"));
    o.input = Some(doctored);
    let (r, _) = run_with(&repo().join(BILATERAL), &o);
    let e = r.expect_err("unknown name");
    let msg = e.to_string();
    assert!(
        matches!(e, MigError::Rejected(_)) && e.exit_code() == 1,
        "{msg}"
    );
    assert!(
        msg.contains("remit_doctored.xlsx") && msg.contains("Atlantis"),
        "{msg}"
    );
    let run = std::fs::read_dir(dir.join("wh/runs"))
        .expect("runs")
        .next()
        .expect("run")
        .expect("dir");
    let report = std::fs::read_to_string(run.path().join("validation.txt")).expect("report");
    for r in &at {
        let col: String = r.chars().take_while(char::is_ascii_alphabetic).collect();
        let row = &r[col.len()..];
        let want = format!(
            ":{row}: [error] unknown_name (key Atlantis, column {col} of sheet \
             \"Bilateral_Remittances_2017\", value \"Atlantis\")"
        );
        assert!(report.contains(&want), "{want}\n{report}");
    }
    let manifest = std::fs::read_to_string(run.path().join("manifest.json")).expect("manifest");
    assert!(manifest.contains("\"status\": \"rejected\""), "{manifest}");
    nothing_loaded(&dir.join("wh"));
}

#[test]
fn world_sums_on_the_real_matrices() {
    let dir = temp_dir("wb-world-sums");
    let (r, _) = run_with(&repo().join(STOCKS), &opts(&dir.join("a")));
    let s = r.expect("stocks");
    assert!(!validation(&dir.join("a"), &s).contains("world_sum"));
    let (r, _) = run_with(&repo().join(BILATERAL), &opts(&dir.join("b")));
    let s = r.expect("remittances");
    let report = validation(&dir.join("b"), &s);
    // The "-" cells hide amounts the WORLD row counts: Israel's and Lebanon's columns differ.
    assert!(
        report.contains(
            "column \"Israel\" (ISR): the cells add up to 989.1758, the WORLD total says 990.3752"
        ),
        "{report}"
    );
    assert!(report.contains("column \"Lebanon\" (LBN)"), "{report}");
    assert!(report.contains("world_sum (warning): 3"), "{report}");
    assert!(
        !report.contains("row \""),
        "no row differs in the shipped file:\n{report}"
    );
}

/// United States -> Mexico plus 1000: that row and that column no longer add up.
#[test]
fn a_doctored_row_is_caught_by_the_world_sums() {
    let dir = temp_dir("wb-world-sums-doctored");
    let (v, at) = xlsx::lookup(
        &sample(REMIT_XLSX),
        "Bilateral_Remittances_2017",
        "United States",
        "Mexico",
    );
    let doctored = dir.join("remit_doctored.xlsx");
    xlsx::rewrite(&sample(REMIT_XLSX), &doctored, &|name, text| {
        if name.starts_with("xl/worksheets/sheet1") {
            xlsx::set_number(text, &at, v + 1000.0)
        } else {
            text
        }
    });
    let mut o = opts(&dir.join("c"));
    o.input = Some(doctored);
    let (r, _) = run_with(&repo().join(BILATERAL), &o);
    let s = r.expect("warnings do not stop the run");
    let report = validation(&dir.join("c"), &s);
    assert!(
        report.contains("row \"United States\" (USA): the cells add up to"),
        "{report}"
    );
    assert!(
        report.contains("column \"Mexico\" (MEX): the cells add up to"),
        "{report}"
    );
    assert!(report.contains("difference 1000.0000"), "{report}");
}

/// The paid CSV with `edit(fields)` applied to the row of `code` (fields as the csv crate reads
/// them; the row is written back fully quoted with the trailing empty column).
fn doctored_csv(dir: &Path, code: &str, edit: &dyn Fn(&[String], &mut Vec<String>)) -> PathBuf {
    let text = std::fs::read_to_string(sample(PAID_CSV)).expect("csv");
    let fields = |line: &str| -> Vec<String> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        r.records()
            .next()
            .expect("line")
            .expect("csv")
            .iter()
            .map(String::from)
            .collect()
    };
    let header = text
        .lines()
        .find(|l| l.contains("\"Country Code\""))
        .map(fields)
        .expect("header");
    let key = format!(",\"{code}\",");
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !l.contains(&key) {
                return l.to_string();
            }
            let mut f = fields(l);
            edit(&header, &mut f);
            let quoted: Vec<String> = f.iter().map(|x| format!("\"{x}\"")).collect();
            quoted.join(",")
        })
        .collect();
    let p = dir.join(PAID_CSV);
    std::fs::write(&p, out.join("\n") + "\n").expect("write");
    p
}

fn set_year(year: &'static str, value: fn(f64) -> String) -> impl Fn(&[String], &mut Vec<String>) {
    move |h, f| {
        let i = h.iter().position(|x| x == year).expect("year");
        let prev: f64 = f[i - 1].parse().expect("previous year");
        f[i] = value(prev);
    }
}

#[test]
fn a_fall_by_three_quarters_is_flagged_naming_country_and_year() {
    let dir = temp_dir("wb-yoy");
    let (r, _) = run_with(&repo().join(PAID), &opts(&dir.join("a")));
    let s = r.expect("paid");
    let report = validation(&dir.join("a"), &s);
    assert!(report.contains("yoy_fall (warning): 74"), "{report}");
    assert!(!report.contains("MEX (Mexico, country) 2019"), "{report}");
    let input = doctored_csv(
        &dir,
        "MEX",
        &set_year("2019", |prev| format!("{}", prev * 0.1)),
    );
    let mut o = opts(&dir.join("b"));
    o.input = Some(input);
    let (r, log) = run_with(&repo().join(PAID), &o);
    let s = r.expect("a fall is a warning, not an error");
    let report = validation(&dir.join("b"), &s);
    assert!(report.contains("yoy_fall (warning): 75"), "{report}");
    assert!(
        report.contains("MEX (Mexico, country) 2019: BM.TRF.PWKR.CD.DT fell by 90.0% from"),
        "{report}"
    );
    // Mexico no longer adds up to the World value for 2019.
    assert!(report.contains("2019: the World value"), "{report}");
    assert!(
        log.contains("75 year-on-year falls of 75% or more"),
        "{log}"
    );
    let rows = table_rows(&dir.join("b"), "remittances");
    let mex = rows
        .iter()
        .find(|r| r.area == "MEX" && r.time == "2019")
        .expect("MEX 2019");
    assert!(
        mex.note
            .as_deref()
            .is_some_and(|n| n.contains("fell by 90.0% from 2018")),
        "{mex:?}"
    );
}

#[test]
fn broken_wdi_csv_files_are_clear_errors() {
    let dir = temp_dir("wb-broken-csv");
    let wh = dir.join("wh");
    let run = |bytes: &[u8]| {
        let p = dir.join("broken.csv");
        std::fs::write(&p, bytes).expect("write");
        let mut o = opts(&wh);
        o.input = Some(p);
        run_with(&repo().join(PAID), &o).0
    };
    let good = std::fs::read(sample(PAID_CSV)).expect("csv");
    let text = String::from_utf8(good.clone()).expect("utf-8");
    let head: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
    let e = run(head.as_bytes()).expect_err("no header");
    assert!(
        e.to_string()
            .contains("no header row starting with \"Country Name\""),
        "{e}"
    );
    let wrong = text.replacen("\"BM.TRF.PWKR.CD.DT\"", "\"BX.TRF.PWKR.CD.DT\"", 1);
    let e = run(wrong.as_bytes()).expect_err("indicator");
    assert!(
        e.to_string()
            .contains("broken.csv:6: column 4: the file holds indicator \"BX.TRF.PWKR.CD.DT\""),
        "{e}"
    );
    let mut latin = good.clone();
    let at = text.find("\"Afghanistan\"").expect("AFG") + 2;
    latin[at] = 0xE9;
    let e = run(&latin).expect_err("not UTF-8");
    assert!(
        e.to_string().contains("broken.csv:8") && e.exit_code() == 1,
        "{e}"
    );
    let unknown = text.replacen("\"ABW\"", "\"ABX\"", 1);
    let e = run(unknown.as_bytes()).expect_err("unknown code");
    assert!(matches!(e, MigError::Rejected(_)), "{e}");
    assert!(
        e.to_string()
            .contains("broken.csv:6: column 2: unknown area code \"ABX\""),
        "{e}"
    );
    nothing_loaded(&wh);
}

/// A text cell where a number should be is a null with a note, and the counts reconcile.
#[test]
fn a_text_cell_in_a_wdi_csv_is_a_null_with_a_note() {
    let dir = temp_dir("wb-text-cell");
    let wh = dir.join("wh");
    let dots = doctored_csv(&dir, "MEX", &set_year("2019", |_| "..".to_string()));
    let mut o = opts(&wh);
    o.input = Some(dots);
    let (r, log) = run_with(&repo().join(PAID), &o);
    let s = r.expect("text cell");
    let rows = table_rows(&wh, "remittances");
    let mex = rows
        .iter()
        .find(|r| r.area == "MEX" && r.time == "2019")
        .expect("MEX 2019");
    assert!(mex.value.is_none() && mex.note.as_deref().is_some_and(|n| n.contains("\"..\"")));
    assert_eq!(s.inputs[0].rows_read, rows.len() as u64);
    assert!(
        log.contains(&format!(
            "read {} cells = {} values + 1 nulls",
            rows.len(),
            rows.len() - 1
        )),
        "{log}"
    );
}

#[test]
fn an_invalid_pipeline_lists_every_problem() {
    let dir = temp_dir("wb-bad-pipeline");
    let p = dir.join("p.toml");
    std::fs::write(
        &p,
        "[remittances]\ntype = \"wdi_csv\"\npath = \"missing.csv\"\nunit = \"USD\"\n\
         source = \"WDI\"\nsheet = \"Data\"\n",
    )
    .expect("write");
    let (r, _) = run_with(&p, &opts(&dir.join("wh")));
    let e = r.expect_err("invalid");
    let msg = e.to_string();
    assert_eq!(e.exit_code(), 2, "{msg}");
    for want in [
        "remittances.sheet: unknown key for type wdi_csv",
        "remittances.indicator: missing",
        "remittances.source: \"WDI\" must be TYPE:id",
        "remittances.path:",
    ] {
        assert!(msg.contains(want), "{want}: {msg}");
    }
    assert!(
        !dir.join("wh").exists(),
        "an invalid pipeline writes nothing"
    );
}

#[test]
fn published_files_carry_metadata_and_a_rerun_keeps_unchanged_bytes() {
    let wh = temp_dir("wb-rerun");
    let (first, _) = run_with(&repo().join(BILATERAL), &opts(&wh));
    let first = first.expect("first run");
    let (second, _) = run_with(&repo().join(BILATERAL), &opts(&wh));
    let second = second.expect("second run");
    assert_ne!(first.run_id, second.run_id);
    let files = parquet_files(&wh);
    assert_eq!(
        files,
        vec![wh.join("remittances_bilateral/WB_Bilateral_Remittance_Estimates_2017.parquet")]
    );
    let reader =
        SerializedFileReader::new(std::fs::File::open(&files[0]).expect("open")).expect("parquet");
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
    // The second run found the same data: the first run's file (and its bytes) stays.
    assert_eq!(get("migstat.run_id"), Some(first.run_id.clone()));
    assert_eq!(
        get("migstat.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(get("migstat.schema_version").as_deref(), Some("1.0.0"));
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(wh.join("runs").join(&second.run_id).join("manifest.json"))
            .expect("manifest"),
    )
    .expect("json");
    assert_eq!(m["status"], "ok");
    assert_eq!(m["rows_read"].as_u64(), Some(215 * 215));
    let v = &m["validation"];
    assert_eq!(
        v["values"]
            .as_u64()
            .zip(v["nulls_noted"].as_u64())
            .map(|(v, n)| v + n),
        Some(215 * 215)
    );
    assert_eq!(
        m["files_unchanged"][0],
        "remittances_bilateral/WB_Bilateral_Remittance_Estimates_2017.parquet"
    );
    assert_eq!(read_rows(&files[0]).len(), 215 * 215);
    assert!(crate::common::no_staging(&wh), "staging left behind");
}
