//! The report in its three formats: JSON with the documented schema, a self-contained HTML page,
//! terminal text with colour only when asked; per rule at most `--max-per-rule` findings listed
//! and the rest counted.
use super::{args, pipeline_for, Upload};
use crate::common::temp_dir;

/// The Thai upload with five code typos and a citizenship that looks like HTML (unknown to both
/// fields read from NATION): 7 unknown codes in 6 rows.
fn defective(dir: &std::path::Path) -> std::path::PathBuf {
    let mut u = Upload::tha();
    for line in [5, 9, 13, 17, 21] {
        u.set(line, "SEX", "9");
    }
    u.set(30, "NATION", "<script>x</script>");
    let input = dir.join("defective.csv");
    std::fs::write(&input, u.text("\n")).unwrap();
    pipeline_for(dir, "tha_lfs_synth.toml", &input, &|s| s)
}

#[test]
fn the_json_report_follows_the_documented_schema() {
    let dir = temp_dir("validate-json");
    let p = defective(&dir);
    let mut a = args(&p);
    a.max_per_rule = 2;
    a.report = Some(dir.join("report.json"));
    let code = migstat::validate::run(&a, &mut Vec::new()).expect("ran");
    assert_eq!(code, 1);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(v["format"], "migstat-validation-report/1");
    assert_eq!(v["loadable"], false);
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["summary"]["rows_read"], 4064);
    assert_eq!(v["summary"]["rows_with_errors"], 6);
    let person = &v["inputs"][0];
    assert_eq!(person["record"], "person");
    assert_eq!(person["file_facts"]["encoding"], "utf-8");
    let counts = person["counts"].as_array().unwrap();
    let codes = counts.iter().find(|c| c["rule"] == "unknown_code").unwrap();
    assert_eq!(
        (
            codes["count"].clone(),
            codes["listed"].clone(),
            codes["not_listed"].clone()
        ),
        (7.into(), 2.into(), 5.into())
    );
    let f = &person["findings"][0];
    for key in [
        "rule", "severity", "line", "key", "column", "value", "message",
    ] {
        assert!(f.get(key).is_some(), "finding without {key}: {f}");
    }
    assert_eq!(f["line"], 5);
    assert_eq!(f["column"], "SEX");
    assert!(v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "lonely_psu" && r["severity"] == "warning"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_html_report_is_one_readable_page() {
    let dir = temp_dir("validate-html");
    let p = defective(&dir);
    let mut a = args(&p);
    a.report = Some(dir.join("report.html"));
    let mut out = Vec::new();
    assert_eq!(migstat::validate::run(&a, &mut out).expect("ran"), 1);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Not loadable"));
    assert!(html.contains("unknown_code"));
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    let said = String::from_utf8(out).unwrap();
    assert!(
        said.contains("NOT loadable") && said.contains("report.html"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn terminal_text_groups_findings_and_colours_only_on_request() {
    let dir = temp_dir("validate-text");
    let p = defective(&dir);
    let mut a = args(&p);
    a.max_per_rule = 3;
    let mut plain = Vec::new();
    migstat::validate::run(&a, &mut plain).expect("ran");
    let plain = String::from_utf8(plain).unwrap();
    assert!(!plain.contains('\u{1b}'));
    // Grouped by rule and column, each listed finding named by its business key.
    assert!(plain.contains("line 5, HH_ID "), "{plain}");
    assert!(
        plain.contains("unknown_code — 5 findings · column SEX · lines 5–21"),
        "{plain}"
    );
    assert!(plain.contains("Value: 9 (5 rows)"), "{plain}");
    assert!(plain.contains("… 2 more not listed"), "{plain}");
    assert!(
        plain.contains("rows: 4,000 read · 3,994 valid · 6 with errors"),
        "{plain}"
    );
    a.color = migstat::validate::command::Colour::Always;
    let mut coloured = Vec::new();
    migstat::validate::run(&a, &mut coloured).expect("ran");
    assert!(String::from_utf8(coloured)
        .unwrap()
        .contains("\u{1b}[1;31m"));
    a.report = Some(dir.join("report.txt"));
    migstat::validate::run(&a, &mut Vec::new()).expect("ran");
    let file = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    assert!(!file.contains('\u{1b}') && file.contains("unknown_code"));
    a.report = Some(dir.join("report.xml"));
    assert_eq!(
        migstat::validate::run(&a, &mut Vec::new())
            .unwrap_err()
            .exit_code(),
        2
    );
    let _ = std::fs::remove_dir_all(&dir);
}
