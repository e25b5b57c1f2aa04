//! Bad input: a clear error naming file, line, column and what was expected; exit 1 for data
//! problems, 2 when the file cannot be read; the warehouse exactly as before.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{migstat, pipeline_for, snapshot_without, statcan_head, temp_dir};

/// Every file of a warehouse with its bytes (the run reports and migstat's own `.migstat/`
/// state — lock holder, journal — excepted).
fn snapshot(wh: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot_without(wh, &["runs", ".migstat"])
}

/// Runs a defective copy against a warehouse holding a good run; returns (exit code, stderr).
fn run_defect(name: &str, edit: impl Fn(String) -> String, extra: &str) -> (i32, String) {
    let dir = temp_dir(name);
    let good = dir.join("good.csv");
    std::fs::write(&good, statcan_head(300)).expect("write");
    let wh = dir.join("wh");
    let p = pipeline_for(&dir, &good, "");
    let out = migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = snapshot(&wh);
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, edit(statcan_head(300))).expect("write");
    let p = pipeline_for(&dir, &bad, extra);
    let out = migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert_eq!(before, snapshot(&wh), "{name}: the warehouse changed");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Replaces the cell of `column` on data line `line` (1 = first data row).
fn set_cell(text: String, line: usize, column: &str, value: &str) -> String {
    let mut rows: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let col = rows[0].split(',').position(|h| h == column).expect(column);
    let mut cells: Vec<String> = rows[line].split(',').map(str::to_string).collect();
    cells[col] = value.to_string();
    rows[line] = cells.join(",");
    rows.join("\r\n")
}

#[test]
fn unparsable_weight_names_file_line_column() {
    let (code, err) = run_defect("bad-weight", |t| set_cell(t, 7, "FINALWT", "12x"), "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.csv:8: column FINALWT"), "{err}");
    assert!(err.contains("a number was expected"), "{err}");
}

#[test]
fn unknown_code_is_an_error_with_the_expected_codes() {
    let (code, err) = run_defect("bad-code", |t| set_cell(t, 12, "IMMIG", "7"), "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.csv:13: column IMMIG"), "{err}");
    assert!(err.contains("expected one of 1, 2, 3"), "{err}");
}

#[test]
fn missing_mapped_column_is_reported_at_the_header() {
    let (code, err) = run_defect("bad-column", |t| t.replacen("IMMIG", "IMMIGRANT", 1), "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.csv:1: column IMMIG"), "{err}");
    assert!(err.contains("is not in the file"), "{err}");
}

#[test]
fn missing_file_exits_2() {
    let dir = temp_dir("missing-file");
    let out = migstat(&[
        "run",
        "pipelines/can_lfs_pumf.toml",
        "--input",
        "/nonexistent/pub0124.csv",
        "--warehouse",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/pub0124.csv") && err.contains("cannot open"),
        "{err}"
    );
    assert!(!dir.join("observations").exists());
}

#[test]
fn quarantined_rows_are_set_aside_and_counts_reconcile() {
    let dir = temp_dir("quarantine");
    let csv = dir.join("q.csv");
    let text = set_cell(set_cell(statcan_head(300), 3, "IMMIG", "8"), 9, "IMMIG", "");
    std::fs::write(&csv, text).expect("write");
    let p = pipeline_for(&dir, &csv, "");
    let p_text = std::fs::read_to_string(&p).expect("read").replace(
        "codes = { 1 = \"CBR_BIR_FOREIGN\"",
        "on_invalid = \"quarantine\"\ncodes = { 1 = \"CBR_BIR_FOREIGN\"",
    );
    std::fs::write(&p, p_text).expect("write");
    let wh = dir.join("wh");
    let out = migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("read 300 rows, loaded 298, quarantined 2"),
        "{stdout}"
    );
    let qdir = std::fs::read_dir(wh.join("quarantine"))
        .expect("quarantine")
        .next()
        .expect("run")
        .expect("entry")
        .path();
    let q = std::fs::read_to_string(qdir.join("q.csv")).expect("quarantine csv");
    let mut rdr = csv::Reader::from_reader(q.as_bytes());
    let h = rdr.headers().expect("h").clone();
    assert_eq!(
        h.iter().skip(h.len() - 4).collect::<Vec<_>>(),
        ["line", "key", "rule", "message"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][h.len() - 4], "4");
    assert_eq!(&rows[0][h.len() - 2], "unknown_code");
    assert_eq!(&rows[1][h.len() - 2], "missing_value");
    let run = std::fs::read_dir(wh.join("runs"))
        .expect("runs")
        .next()
        .expect("run")
        .expect("e")
        .path();
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(m["rows_read"], 300);
    assert_eq!(m["rows_loaded"], 298);
    assert_eq!(m["rows_quarantined"], 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_reports_every_problem_with_its_key_path() {
    let dir = temp_dir("check");
    let csv = dir.join("x.csv");
    std::fs::write(&csv, statcan_head(5)).expect("write");
    let extra = "\n[fields.nonsense]\ncolumn = \"X\"\n\n[fields.cct]\ncolumn = \"IMMIG\"\ncodes = { 1 = \"CCT_CIT_MARTIAN\" }\ncolour = \"red\"\n";
    let p = pipeline_for(&dir, &csv, extra);
    let text = std::fs::read_to_string(&p)
        .expect("r")
        .replace("ref_area = \"CAN\"", "ref_area = \"Canada\"");
    std::fs::write(&p, text).expect("w");
    let out = migstat(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let s = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "fields.cct.colour: unknown key",
        "fields.nonsense: \"nonsense\" is not a field of the person record",
        "fields.cct.codes.1: \"CCT_CIT_MARTIAN\" is not a code of cct",
        "pipeline.ref_area: \"Canada\" is not an ISO 3166-1 alpha-3 code",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A Taylor run that writes no microdata keeps no replicate weights (nothing reads them), yet
/// reads and checks every one: a bad weight is found and its row left out as when they are
/// kept. A replicate design keeps them whatever is written.
#[test]
fn replicate_weights_nothing_reads_are_checked_but_not_kept() {
    use migstat::normalize::{normalize, RecordSpec};
    let dir = temp_dir("unread-replicates");
    let shipped = crate::common::repo().join("sample_data/synth/tha_lfs_synth_persons.csv");
    let text = std::fs::read_to_string(shipped).expect("sample");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let col = lines[0]
        .split(',')
        .position(|h| h == "REPWT7")
        .expect("REPWT7");
    // Line 6 has a word for a weight; lines 7 and 8 numbers written unusually (padded, with an
    // exponent), which read as numbers.
    for (line, cell) in [(5, "n/a"), (6, " 1.5 "), (7, "1e2")] {
        let mut cells: Vec<String> = lines[line].split(',').map(str::to_string).collect();
        cells[col] = cell.into();
        lines[line] = cells.join(",");
    }
    let bad = dir.join("persons.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let (p, schema) = migstat::pipeline::load_pipeline(
        &crate::common::repo().join("pipelines/tha_lfs_synth.toml"),
        None,
    )
    .expect("pipeline");
    let read = |microdata: bool| {
        let spec = RecordSpec::person(&p, &schema).replicates_read_by(microdata);
        normalize(&p, &schema, &spec, Some(&bad), 1000).expect("normalize")
    };
    let (kept, unread) = (read(true), read(false));
    assert_eq!(kept.frame.reps.count(), 20);
    assert_eq!(unread.frame.reps.count(), 0);
    assert_eq!(unread.frame.rep_names.len(), 20);
    for n in [&kept, &unread] {
        // The row is left out of the frame (its cells are set aside for the quarantine later).
        assert_eq!(n.rows_loaded() + 1, n.rows_read);
        let f = n
            .findings
            .listed
            .iter()
            .find(|f| f.column == "REPWT7")
            .expect("a finding on REPWT7");
        assert_eq!((f.line, f.value.as_str()), (6, "n/a"));
    }
    assert_eq!(kept.frame.weight, unread.frame.weight);
    let (ecu, ecu_schema) = migstat::pipeline::load_pipeline(
        &crate::common::repo().join("pipelines/ecu_lfs_synth.toml"),
        None,
    )
    .expect("pipeline");
    let spec = RecordSpec::person(&ecu, &ecu_schema).replicates_read_by(false);
    let n = normalize(&ecu, &ecu_schema, &spec, None, 1000).expect("normalize");
    assert_eq!(n.frame.reps.count(), n.frame.rep_names.len());
    assert!(n.frame.reps.count() > 0);
}
