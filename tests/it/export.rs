//! `migstat export`: the files re-read by a separate parser (the `csv` crate for ILOSTAT CSV,
//! Python's `csv` module for SDMX-CSV) give back the observations: counts per indicator, values to
//! the last bit, statuses, notes and period forms.
use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::Array;
use migstat::export::{run, ExportArgs, ExportFormat};
use serde_json::Value;

use crate::common::{parquet_files, read_batches, temp_dir};
use crate::query::{run_python, warehouse};

/// Runs the export into a fresh folder; returns the folder and the summary it printed.
pub fn export(
    wh: &Path,
    format: ExportFormat,
    labels: bool,
    name: &str,
) -> (crate::common::TestDir, String) {
    let out = temp_dir(name);
    let args = ExportArgs {
        format,
        out: out.to_path_buf(),
        warehouse: wh.to_path_buf(),
        labels,
        filter: Default::default(),
        digits: None,
    };
    let mut log = Vec::new();
    let code = run(&args, &mut log).unwrap_or_else(|e| panic!("export: {e}"));
    assert_eq!(code, 0);
    (out, String::from_utf8_lossy(&log).into_owned())
}

/// The series key and the exported fields of one observation, as text.
type Key = (String, String, String, String, String, String, String);

#[derive(Debug, PartialEq)]
struct Fields {
    value: Option<f64>,
    status: String,
    notes: [String; 3],
}

fn opt(v: Option<&str>) -> String {
    v.unwrap_or("").to_string()
}

/// Every observation of the warehouse, read with arrow-rs, by key.
fn observations(wh: &Path) -> BTreeMap<Key, Fields> {
    let mut all = BTreeMap::new();
    for f in parquet_files(&wh.join("observations")) {
        for b in read_batches(&f) {
            let s = |n: &str| -> Vec<Option<String>> {
                let c = b.column_by_name(n).expect(n);
                let c = c
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .expect(n);
                (0..c.len())
                    .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
                    .collect()
            };
            let v = b.column_by_name("obs_value").expect("obs_value");
            let v = v
                .as_any()
                .downcast_ref::<arrow_array::Float64Array>()
                .expect("f64");
            let cols: Vec<Vec<Option<String>>> = [
                "ref_area",
                "source",
                "indicator",
                "sex",
                "classif1",
                "classif2",
                "time",
                "obs_status",
                "note_classif",
                "note_indicator",
                "note_source",
            ]
            .iter()
            .map(|n| s(n))
            .collect();
            let values = (0..b.num_rows()).map(|i| v.is_valid(i).then(|| v.value(i)));
            for (i, value) in values.enumerate() {
                let t = |k: usize| opt(cols[k][i].as_deref());
                let key = (t(0), t(1), t(2), t(3), t(4), t(5), t(6));
                let fields = Fields {
                    value,
                    status: t(7),
                    notes: [t(8), t(9), t(10)],
                };
                assert!(
                    all.insert(key, fields).is_none(),
                    "duplicate key in warehouse"
                );
            }
        }
    }
    all
}

fn parse_value(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| s.parse::<f64>().expect("a number"))
}

/// Re-reads every ILOSTAT CSV with the csv crate; checks file names against the period forms.
fn read_ilostat(dir: &Path) -> (BTreeMap<Key, Fields>, BTreeMap<String, Vec<String>>) {
    let mut rows = BTreeMap::new();
    let mut headers = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("out dir").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        assert!(
            name.ends_with(".csv") && !name.starts_with('.'),
            "stray file {name}"
        );
        let mut rdr = csv::Reader::from_path(e.path()).expect("csv");
        let h: Vec<String> = rdr
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let at = |n: &str| h.iter().position(|c| c == n);
        for rec in rdr.records() {
            let rec = rec.expect("record");
            let get = |n: &str| at(n).map(|i| rec[i].to_string()).unwrap_or_default();
            let suffix = match get("time").len() {
                4 => "_A.csv",
                6 => "_Q.csv",
                _ => "_M.csv",
            };
            assert_eq!(
                name,
                format!("{}{suffix}", get("indicator")),
                "{}",
                get("time")
            );
            let key = (
                get("ref_area"),
                get("source"),
                get("indicator"),
                get("sex"),
                get("classif1"),
                get("classif2"),
                get("time"),
            );
            let fields = Fields {
                value: parse_value(&get("obs_value")),
                status: get("obs_status"),
                notes: [
                    get("note_classif"),
                    get("note_indicator"),
                    get("note_source"),
                ],
            };
            assert!(rows.insert(key, fields).is_none(), "{name}: duplicate row");
        }
        headers.insert(name, h);
    }
    (rows, headers)
}

fn per_indicator<V>(m: &BTreeMap<Key, V>) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for k in m.keys() {
        *c.entry(k.2.clone()).or_insert(0) += 1;
    }
    c
}

#[test]
fn ilostat_csv_gives_back_every_observation() {
    let wh = warehouse();
    let want = observations(wh);
    let (dir, log) = export(wh, ExportFormat::IlostatCsv, false, "export-ilostat");
    let (got, headers) = read_ilostat(&dir);
    assert_eq!(per_indicator(&got), per_indicator(&want));
    assert_eq!(got, want, "values, statuses or notes differ");
    assert!(
        log.contains(&format!("{} observations written", want.len())),
        "{log}"
    );
    let with = |k: fn(&Key) -> &String| -> Vec<String> {
        want.keys()
            .filter(|key| !k(key).is_empty())
            .map(|key| key.2.clone())
            .collect()
    };
    let (c1, c2) = (with(|k| &k.4), with(|k| &k.5));
    for (name, h) in &headers {
        let ind = &name[..name.len() - 6];
        let has = |c: &str| h.iter().any(|x| x == c);
        assert_eq!(h[..4], ["ref_area", "source", "indicator", "sex"], "{name}");
        assert_eq!(has("classif1"), c1.iter().any(|i| i == ind), "{name}");
        assert_eq!(has("classif2"), c2.iter().any(|i| i == ind), "{name}");
        assert!(!h.iter().any(|c| c.ends_with(".label")), "{name}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ilostat_labels_follow_their_code_columns() {
    let (dir, _) = export(warehouse(), ExportFormat::IlostatCsv, true, "export-labels");
    let path = dir.join("MST_TEAP_SEX_AGE_CBR_RT_M.csv");
    let mut rdr = csv::Reader::from_path(&path).expect("CAN's monthly dataset");
    let h: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        h,
        [
            "ref_area",
            "ref_area.label",
            "source",
            "source.label",
            "indicator",
            "indicator.label",
            "sex",
            "sex.label",
            "classif1",
            "classif1.label",
            "classif2",
            "classif2.label",
            "time",
            "obs_value",
            "obs_status",
            "obs_status.label",
            "note_classif",
            "note_classif.label",
            "note_indicator",
            "note_indicator.label",
            "note_source",
            "note_source.label",
        ]
    );
    for rec in rdr.records() {
        let r = rec.expect("record");
        assert_eq!(&r[1], "Canada");
        assert!(["Total", "Male", "Female"].contains(&&r[7]), "{}", &r[7]);
        assert!(r[9].starts_with("Age ("), "{}", &r[9]);
        assert!(r[11].starts_with("Place of birth: "), "{}", &r[11]);
        assert!(r[5].starts_with("Labour force participation rate"));
        assert!(r[21].contains("Micro data processing"), "{}", &r[21]);
        assert_eq!(r[14].is_empty(), r[15].is_empty());
    }
    let _ = std::fs::remove_dir_all(dir);
}

const SDMX_READER: &str = r#"
import sys, csv, json, glob, os
out = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.csv"))):
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        out[os.path.basename(path)] = {"header": r.fieldnames, "rows": list(r)}
print(json.dumps(out))
"#;

/// Re-reads every SDMX-CSV file with Python's csv module.
fn read_sdmx(dir: &Path) -> serde_json::Map<String, Value> {
    let out = run_python(SDMX_READER, &[dir.to_str().expect("utf8")]);
    let v: Value = serde_json::from_slice(&out).expect("json");
    v.as_object().expect("object").clone()
}

/// Each indicator's unit as the warehouse's `catalog/indicators` table states it.
fn catalog_units(wh: &Path) -> BTreeMap<String, String> {
    let mut units = BTreeMap::new();
    for f in parquet_files(&wh.join("catalog/indicators")) {
        for b in read_batches(&f) {
            let col = |n: &str| {
                b.column_by_name(n)
                    .expect(n)
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .expect(n)
                    .clone()
            };
            let (code, unit) = (col("code"), col("unit"));
            for i in 0..b.num_rows() {
                units.insert(code.value(i).to_string(), unit.value(i).to_string());
            }
        }
    }
    units
}

/// `2024M01` for `2024-01`, `2024Q1` for `2024-Q1`, with the frequency it must come with.
fn ilostat_time(period: &str) -> (String, &'static str) {
    match period.len() {
        4 => (period.to_string(), "A"),
        7 if period.as_bytes()[5] == b'Q' => (period.replace("-Q", "Q"), "Q"),
        7 => (period.replace('-', "M"), "M"),
        _ => panic!("bad TIME_PERIOD {period}"),
    }
}

/// The warehouse's `obs_status` behind SDMX's pair: `A`/`F` none, `U`/`F` unreliable, `Q`/`C`
/// suppressed (CL_OBS_STATUS, CL_CONF_STATUS).
fn warehouse_status(obs: &str, conf: &str) -> String {
    match (obs, conf) {
        ("A", "F") => String::new(),
        ("U", "F") => "U".into(),
        ("Q", "C") => "S".into(),
        other => panic!("unexpected OBS_STATUS/CONF_STATUS pair {other:?}"),
    }
}

#[test]
fn sdmx_csv_gives_back_every_observation() {
    let wh = warehouse();
    let want = observations(wh);
    let units = catalog_units(wh);
    let (dir, _) = export(wh, ExportFormat::SdmxCsv, false, "export-sdmx");
    let mut got = BTreeMap::new();
    for (name, file) in read_sdmx(&dir) {
        let h: Vec<&str> = file["header"]
            .as_array()
            .expect("header")
            .iter()
            .map(|c| c.as_str().expect("name"))
            .collect();
        assert_eq!(
            h[..5],
            ["DATAFLOW", "REF_AREA", "FREQ", "MEASURE", "SEX"],
            "{name}"
        );
        let tp = h
            .iter()
            .position(|c| *c == "TIME_PERIOD")
            .expect("TIME_PERIOD");
        assert_eq!(
            h[tp + 1..],
            [
                "OBS_VALUE",
                "OBS_STATUS",
                "CONF_STATUS",
                "UNIT_MEASURE",
                "UNIT_MULT",
                "SOURCE",
                "NOTE_CLASSIF",
                "NOTE_INDICATOR",
                "NOTE_SOURCE",
                "LOWER_BOUND",
                "UPPER_BOUND"
            ],
            "{name}"
        );
        let dims: Vec<&str> = h[5..tp].to_vec();
        for row in file["rows"].as_array().expect("rows") {
            let g = |c: &str| row[c].as_str().unwrap_or("").to_string();
            let ind = name
                .trim_start_matches("DF_")
                .trim_end_matches(".csv")
                .to_string();
            assert_eq!(g("DATAFLOW"), format!("ILO:DF_{ind}(1.0)"));
            assert_eq!(
                g("MEASURE"),
                format!("{}{}", &ind[..9], &ind[ind.len() - 2..])
            );
            let unit = match units.get(&ind).map(String::as_str) {
                Some("thousands") => ("PS", "3"),
                Some("percent") => ("PT", "0"),
                Some("local currency") => ("LCU", "0"),
                other => panic!("{ind}: unit {other:?} in catalog/indicators"),
            };
            assert_eq!(
                (g("UNIT_MEASURE").as_str(), g("UNIT_MULT").as_str()),
                unit,
                "{ind}"
            );
            let (time, freq) = ilostat_time(&g("TIME_PERIOD"));
            assert_eq!(g("FREQ"), freq);
            let c = |k: usize| dims.get(k).map(|d| g(d)).unwrap_or_default();
            for (k, d) in dims.iter().enumerate() {
                assert!(
                    c(k).starts_with(&format!("{d}_")),
                    "{name}: {d} holds {}",
                    c(k)
                );
            }
            let key = (g("REF_AREA"), g("SOURCE"), ind, g("SEX"), c(0), c(1), time);
            let fields = Fields {
                value: parse_value(&g("OBS_VALUE")),
                status: warehouse_status(&g("OBS_STATUS"), &g("CONF_STATUS")),
                notes: [g("NOTE_CLASSIF"), g("NOTE_INDICATOR"), g("NOTE_SOURCE")],
            };
            assert!(got.insert(key, fields).is_none(), "{name}: duplicate row");
        }
    }
    assert_eq!(per_indicator(&got), per_indicator(&want));
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(dir);
}
