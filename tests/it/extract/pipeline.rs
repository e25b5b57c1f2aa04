//! Whole runs: the StatCan pipeline on the same 300 rows shipped as `.sav`, `.dta`, `.xlsx`,
//! Parquet and over HTTP gives the observations of the CSV run; SPSS and Stata runs map sex by
//! its value labels. A truncated file stops the run and loads nothing.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use migstat::extract::write::{self, Format};

use super::server::{Reply, Server};
use arrow_array::{Int64Array, RecordBatch};

use crate::common::{migstat, parquet_files, read_batches, read_observations, repo, temp_dir, Obs};

/// The header and first `n` rows of the StatCan month.
fn statcan_head(n: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let zip = repo().join("sample_data/statcan/2024-01-CSV.zip");
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip).expect("zip")).expect("zip");
    let mut text = String::new();
    a.by_name("pub0124.csv")
        .expect("member")
        .read_to_string(&mut text)
        .expect("read");
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>());
    let headers = lines.next().expect("header");
    (headers, lines.take(n).collect())
}

/// The shipped pipeline `shipped` as `dir/name.toml`, reading `input` (TOML lines for
/// `[input]`, in place of its own); `edit` (section, line) may give a line's replacement.
fn rewritten(
    shipped: &str,
    dir: &Path,
    name: &str,
    input: &str,
    edit: &dyn Fn(&str, &str) -> Option<String>,
) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines").join(shipped)).expect("pipeline");
    let mut out = String::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with('[') {
            section = line;
        }
        let skip = section == "[input]"
            && ["type", "path", "member", "encoding", "delimiter"]
                .iter()
                .any(|k| line.starts_with(k));
        if skip {
            continue;
        }
        if let Some(new) = edit(section, line) {
            out.push_str(&new);
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line == "[input]" {
            out.push_str(input);
            out.push('\n');
        }
    }
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, out).expect("write pipeline");
    p
}

/// The StatCan pipeline reading `input` (TOML lines for `[input]`), sex mapped by label or code.
fn pipeline(dir: &Path, name: &str, input: &str, sex_by_label: bool) -> PathBuf {
    rewritten("can_lfs_pumf.toml", dir, name, input, &|section, line| {
        (section == "[fields.sex]" && sex_by_label && line.starts_with("codes"))
            .then(|| "labels = { Male = \"SEX_M\", Female = \"SEX_F\" }".to_string())
    })
}

/// Runs a pipeline into `wh`; returns (exit code, stdout + stderr).
fn run(p: &Path, wh: &Path) -> (i32, String) {
    let out = migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Every observation of a warehouse, in a stable order.
fn observations(wh: &Path) -> Vec<Obs> {
    let mut obs: Vec<Obs> = parquet_files(&wh.join("observations"))
        .iter()
        .flat_map(|f| read_observations(f))
        .collect();
    obs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    obs
}

/// The 300 rows written in `format`, sex labelled.
fn write_head(format: Format, path: &Path) {
    let (headers, rows) = statcan_head(300);
    let mut labels = BTreeMap::new();
    labels.insert(
        "SEX".to_string(),
        BTreeMap::from([("1".into(), "Male".into()), ("2".into(), "Female".into())]),
    );
    let numeric = vec![true; headers.len()];
    write::write(format, path, &headers, rows.into_iter(), &labels, &numeric).expect("write");
}

/// The CSV run's observations; with `sex_as_labels`, the SEX cells hold `Male`/`Female` and
/// the pipeline maps them by label.
fn csv_observations(dir: &Path, sex_as_labels: bool) -> Vec<Obs> {
    let (headers, rows) = statcan_head(300);
    let sex = headers.iter().position(|h| h == "SEX").expect("SEX");
    let mut text = headers.join(",") + "\n";
    for mut r in rows {
        if sex_as_labels {
            r[sex] = if r[sex] == "1" { "Male" } else { "female " }.to_string();
        }
        text += &(r.join(",") + "\n");
    }
    let name = if sex_as_labels { "labels" } else { "csv" };
    let csv = dir.join(format!("{name}.csv"));
    std::fs::write(&csv, text).expect("csv");
    let input = format!("type = \"csv\"\npath = {:?}", csv);
    let p = pipeline(dir, name, &input, sex_as_labels);
    let wh = dir.join(format!("wh-{name}"));
    let (code, out) = run(&p, &wh);
    assert_eq!(code, 0, "{out}");
    observations(&wh)
}

#[test]
fn every_format_gives_the_observations_of_the_csv_run() {
    let dir = temp_dir("formats-run");
    let want = csv_observations(&dir, false);
    assert!(want.len() > 100, "{}", want.len());
    let cases = [
        (Format::Spss, "spss", true),
        (Format::Stata, "stata", true),
        (Format::Excel, "excel", false),
        (Format::Parquet, "parquet", false),
    ];
    for (format, kind, by_label) in cases {
        let file = dir.join(format!("head.{}", format.extension()));
        write_head(format, &file);
        let input = format!("type = {kind:?}\npath = {:?}", file);
        let p = pipeline(&dir, kind, &input, by_label);
        let wh = dir.join(format!("wh-{kind}"));
        let (code, out) = run(&p, &wh);
        assert_eq!(code, 0, "{kind}: {out}");
        assert!(out.contains("read 300 rows, loaded 300"), "{kind}: {out}");
        assert!(
            observations(&wh) == want,
            "{kind}: observations differ from the CSV run"
        );
    }
}

/// Cells that hold the label itself (a CSV exported with labels) map by label too, whatever
/// their case and surrounding spaces.
#[test]
fn csv_cells_holding_labels_map_by_label() {
    let dir = temp_dir("labels-run");
    assert!(csv_observations(&dir, true) == csv_observations(&dir, false));
}

#[test]
fn truncated_sav_stops_the_run_and_loads_nothing() {
    let dir = temp_dir("truncated-run");
    let good = dir.join("good.sav");
    write_head(Format::Spss, &good);
    let bad = dir.join("bad.sav");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(&bad, &bytes[..bytes.len() - 1000]).expect("write");
    let p = pipeline(
        &dir,
        "bad",
        &format!("type = \"spss\"\npath = {:?}", bad),
        true,
    );
    let wh = dir.join("wh");
    let (code, out) = run(&p, &wh);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&*bad.to_string_lossy()) && out.contains("truncated"),
        "{out}"
    );
    assert!(parquet_files(&wh).is_empty(), "something was loaded");
}

/// A `url` input is downloaded into the pipeline's cache folder, then revalidated (304).
#[test]
fn url_input_is_fetched_then_revalidated() {
    let dir = temp_dir("url-run");
    let sav = dir.join("served.sav");
    write_head(Format::Spss, &sav);
    let body = std::fs::read(&sav).expect("read");
    let reply = Reply::File {
        etag: "\"2024-01\"".into(),
        body,
    };
    let server = Server::start(vec![reply.clone(), reply]);
    let input = format!(
        "type = \"spss\"\nurl = \"{}/lfs/pub0124.sav\"\ncache_dir = \"cache\"\ntimeout_secs = 10",
        server.url
    );
    let p = pipeline(&dir, "url", &input, true);
    for wh in ["wh1", "wh2"] {
        let (code, out) = run(&p, &dir.join(wh));
        assert_eq!(code, 0, "{wh}: {out}");
    }
    let statuses: Vec<u16> = server.finish().into_iter().map(|r| r.1).collect();
    assert_eq!(statuses, [200, 304]);
    let cached = std::fs::read_dir(dir.join("cache")).expect("cache").count();
    assert_eq!(cached, 2, "the file and its record");
}

#[test]
fn check_reports_misused_input_keys_and_unknown_label_codes() {
    let dir = temp_dir("check-keys");
    let csv = dir.join("x.csv");
    std::fs::write(&csv, "a\n1\n").expect("csv");
    let input = format!(
        "type = \"csv\"\npath = {csv:?}\nsheet = \"Data\"\nexpected_sha256 = \"abc\"\nrange = \"A1\""
    );
    let p = pipeline(&dir, "keys", &input, true);
    let text = std::fs::read_to_string(&p)
        .expect("read")
        .replace("\"SEX_F\" }", "\"SEX_Z\" }");
    std::fs::write(&p, text).expect("write");
    let out = migstat(&["check", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        "input.sheet: applies to excel inputs only",
        "input.range: applies to excel inputs only",
        "input.range: \"A1\" is not a cell range",
        "input.expected_sha256: applies to inputs with a `url`",
        "input.expected_sha256: \"abc\" is not 64 hexadecimal digits",
        "fields.sex.labels.Female: \"SEX_Z\" is not a code of sex",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let url_only = pipeline(
        &dir,
        "url",
        "type = \"spss\"\nurl = \"https://example.org/x.sav\"",
        true,
    );
    let out = migstat(&["check", url_only.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a run of the Thai pipeline left: exit code, findings (rule, severity, line, key,
/// column, value, message) of the person file, observations, microdata (its `line` column
/// apart) and quarantined rows (their `line` apart).
struct Outcome {
    code: i32,
    findings: Vec<Vec<String>>,
    observations: Vec<Obs>,
    microdata: Vec<RecordBatch>,
    microdata_lines: Vec<i64>,
    quarantined: Vec<Vec<String>>,
    quarantined_lines: Vec<i64>,
}

/// Runs the Thai synthetic pipeline on `input` (its `[input]` lines) into `wh`. A typed
/// file numbers its rows from 1 below the header, a text file by line: `offset` (1 for
/// Parquet, SPSS and Stata, 0 for CSV and Excel) is added to every line to compare them.
fn thai_outcome(dir: &Path, name: &str, input: &str, offset: i64) -> Outcome {
    let roster = repo().join("sample_data/synth/tha_lfs_synth_roster.csv");
    let p = rewritten("tha_lfs_synth.toml", dir, name, input, &|section, line| {
        (section == "[roster.input]" && line.starts_with("path"))
            .then(|| format!("path = {:?}", roster))
    });
    let wh = dir.join(format!("wh-{name}"));
    let (code, text) = run(&p, &wh);
    assert!(code == 0 || code == 1, "{name}: {text}");
    let json = std::fs::read_dir(wh.join("runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path().join("validation.json"))
        .find(|p| p.exists())
        .expect("validation.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("read")).expect("json");
    let person = &json["inputs"][0];
    assert_eq!(person["record"], "person", "{name}");
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(line) => (line + offset).to_string(),
            None => n.to_string(),
        },
        v => v.to_string(),
    };
    let findings = person["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            [
                "rule", "severity", "line", "key", "column", "value", "message",
            ]
            .iter()
            .map(|k| s(&f[k]))
            .collect()
        })
        .collect();
    let (mut microdata, mut microdata_lines) = (Vec::new(), Vec::new());
    for f in parquet_files(&wh.join("microdata")) {
        for b in read_batches(&f) {
            let i = b.schema().index_of("line").expect("line");
            let lines = b
                .column(i)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("i64");
            microdata_lines.extend(lines.values().iter().map(|l| l + offset));
            let keep: Vec<usize> = (0..b.num_columns()).filter(|&c| c != i).collect();
            microdata.push(b.project(&keep).expect("project"));
        }
    }
    let (mut quarantined, mut quarantined_lines) = (Vec::new(), Vec::new());
    for e in walk(&wh.join("quarantine")) {
        let mut r = csv::Reader::from_path(&e).expect("quarantine csv");
        let headers = r.headers().expect("header").clone();
        let at = headers
            .iter()
            .position(|h| h == "line")
            .expect("line column");
        for row in r.records() {
            let row = row.expect("row");
            quarantined_lines.push(row[at].parse::<i64>().expect("line") + offset);
            let cells = row.iter().enumerate().filter(|(c, _)| *c != at);
            quarantined.push(cells.map(|(_, v)| v.to_string()).collect());
        }
    }
    Outcome {
        code,
        findings,
        observations: observations(&wh),
        microdata,
        microdata_lines,
        quarantined,
        quarantined_lines,
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A typed file (numbers stored as numbers: Parquet doubles, SPSS and Stata numeric
/// variables, Excel number cells) gives the warehouse, the findings and the quarantine of its
/// CSV export, which writes each number as its shortest decimal. The Thai sample carries 20
/// replicate weights, a derived field and quarantine rules; defects are planted in number
/// columns: an age out of range and a negative wage (quarantined), then a negative weight, an
/// unknown sex code and a blank replicate weight (errors: nothing loads, the findings compare).
#[test]
fn a_typed_file_gives_the_warehouse_of_its_csv_export() {
    let dir = temp_dir("typed-like-csv");
    let mut r = csv::Reader::from_path(repo().join("sample_data/synth/tha_lfs_synth_persons.csv"))
        .expect("sample");
    let headers: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|x| x.expect("row").iter().map(String::from).collect())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let numeric: Vec<bool> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .all(|r| r[c].is_empty() || r[c].parse::<f64>().is_ok())
        })
        .collect();
    assert!(numeric[col("WEIGHT")] && numeric[col("REPWT20")] && numeric[col("SEX")]);
    assert!(!numeric[col("BIRTH_CTRY")]);
    let cases = [
        (Format::Parquet, "parquet", 1),
        (Format::Spss, "spss", 1),
        (Format::Stata, "stata", 1),
        (Format::Excel, "excel", 0),
    ];
    for (defects, errors) in [("quarantined", false), ("rejected", true)] {
        let mut rows = rows.clone();
        rows[4][col("AGE")] = "250".into();
        rows[8][col("WAGE_DAY")] = "-10".into();
        if errors {
            rows[12][col("WEIGHT")] = "-2.5".into();
            rows[20][col("SEX")] = "7".into();
            rows[30][col("REPWT3")] = String::new();
        }
        // The CSV export: each number as its shortest decimal (`0.0000` → `0`).
        let export: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&numeric)
                    .map(|(v, &num)| match v.parse::<f64>() {
                        Ok(x) if num => migstat::extract::number_cell(x),
                        _ => v.clone(),
                    })
                    .collect()
            })
            .collect();
        let csv = dir.join(format!("{defects}.csv"));
        let mut w = csv::Writer::from_path(&csv).expect("csv");
        w.write_record(&headers).expect("header");
        for r in &export {
            w.write_record(r).expect("row");
        }
        w.flush().expect("flush");
        let input = format!("type = \"csv\"\npath = {csv:?}");
        let want = thai_outcome(&dir, &format!("{defects}-csv"), &input, 0);
        assert_eq!(want.code, i32::from(errors), "{defects}");
        assert_eq!(
            want.findings.len(),
            if errors { 5 } else { 2 },
            "{:?}",
            want.findings
        );
        if !errors {
            assert_eq!(want.quarantined.len(), 2);
            assert!(!want.observations.is_empty() && !want.microdata.is_empty());
        }
        for (format, kind, offset) in cases {
            let file = dir.join(format!("{defects}.{}", format.extension()));
            let labels = BTreeMap::new();
            write::write(
                format,
                &file,
                &headers,
                rows.clone().into_iter(),
                &labels,
                &numeric,
            )
            .expect("write");
            let input = format!("type = {kind:?}\npath = {file:?}");
            let got = thai_outcome(&dir, &format!("{defects}-{kind}"), &input, offset);
            let case = format!("{defects}, {kind}");
            assert_eq!(got.code, want.code, "{case}");
            assert_eq!(got.findings, want.findings, "{case}");
            assert_eq!(got.quarantined, want.quarantined, "{case}");
            assert_eq!(got.quarantined_lines, want.quarantined_lines, "{case}");
            assert_eq!(got.microdata_lines, want.microdata_lines, "{case}");
            assert!(
                got.observations == want.observations,
                "{case}: observations"
            );
            assert!(got.microdata == want.microdata, "{case}: microdata");
        }
    }
}
