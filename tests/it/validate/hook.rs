//! The run driver's hook (`validate_normalized`): the same findings as the streaming check, and
//! rows that a rule set to `quarantine` leave the frame and are set aside with their cells, so
//! that rows read = rows loaded + rows quarantined.
use migstat::normalize::{normalize, RecordSpec};
use migstat::validate::{validate_normalized, Report};

use super::{args, pipeline_for, Upload};
use crate::common::temp_dir;

const AMOUNT_LINES: [u64; 2] = [40, 41];

/// The Thai upload with remittance amounts on lines that received none.
fn upload(dir: &std::path::Path, edit: &dyn Fn(String) -> String) -> std::path::PathBuf {
    let mut u = Upload::tha();
    for line in AMOUNT_LINES {
        assert_eq!(u.get(line, "REMIT"), "2");
        u.set(line, "REMIT_AMT", "5000");
    }
    u.set(50, "SEX", "4");
    let input = dir.join("upload.csv");
    std::fs::write(&input, u.text("\n")).unwrap();
    pipeline_for(dir, "tha_lfs_synth.toml", &input, edit)
}

#[test]
fn quarantined_rows_leave_the_frame_with_their_cells() {
    let dir = temp_dir("validate-hook");
    let to_quarantine = |s: String| {
        s.replacen(
            "[rules]\n",
            "[rules]\nremittance_without_receipt = \"quarantine\"\n",
            1,
        )
    };
    let path = upload(&dir, &to_quarantine);
    let (p, schema) = migstat::pipeline::load_pipeline(&path, None).unwrap();
    let spec = RecordSpec::person(&p, &schema);
    let mut n = normalize(&p, &schema, &spec, None, 100).unwrap();
    let mapped = n.frame.len();
    let report = validate_normalized(&p, &schema, &spec, &mut n, None).unwrap();
    assert_eq!(n.frame.len(), mapped - 2);
    let lines: Vec<u64> = n.quarantined.iter().map(|q| q.line).collect();
    assert_eq!(lines, AMOUNT_LINES);
    let q = &n.quarantined[0];
    assert_eq!(q.rule, "remittance_without_receipt");
    assert_eq!(q.cells[Upload::tha().col("REMIT_AMT")], "5000");
    assert_eq!(q.cells.len(), 43);
    assert!(!n.frame.line.iter().any(|l| AMOUNT_LINES.contains(&l)));
    // Every row is accounted for: loaded, quarantined, or rejected for an error (line 50).
    assert_eq!(
        n.rows_read,
        n.frame.len() as u64 + n.quarantined.len() as u64 + 1
    );
    assert_eq!(report.rows_quarantined(), 2);
    assert_eq!(n.findings.rules["remittance_without_receipt"].count, 2);
    assert!(n.findings.has_errors());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn streaming_and_the_run_hook_find_the_same() {
    let dir = temp_dir("validate-same");
    let path = upload(&dir, &|s| s);
    let streamed = migstat::validate::command::validate(&args(&path)).unwrap();
    let (p, schema) = migstat::pipeline::load_pipeline(&path, None).unwrap();
    let spec = RecordSpec::person(&p, &schema);
    let mut n = normalize(&p, &schema, &spec, None, 100).unwrap();
    let input = validate_normalized(&p, &schema, &spec, &mut n, None).unwrap();
    let full = Report::new(&p, &[input]);
    let json = |r: &Report| serde_json::to_value(&r.inputs[0].findings).unwrap();
    assert_eq!(json(&streamed), json(&full));
    assert_eq!(streamed.inputs[0].rows_valid, full.inputs[0].rows_valid);
    let _ = std::fs::remove_dir_all(&dir);
}
