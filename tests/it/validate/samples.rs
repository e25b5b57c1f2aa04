//! The shipped samples: every pipeline's sample is loadable, and the real StatCan month is clean
//! (CRLF line ends, blank cells meaning "not applicable", upper-case headers).
use super::{args, of_rule};
use crate::common::{repo, shipped_pipelines};

#[test]
fn every_shipped_pipeline_validates_with_exit_0() {
    let pipelines = shipped_pipelines();
    assert!(pipelines.len() >= 6);
    for p in pipelines {
        let mut out = Vec::new();
        let code = migstat::validate::run(&args(&p), &mut out).expect("validated");
        let text = String::from_utf8_lossy(&out);
        assert_eq!(code, 0, "{}:\n{text}", p.display());
        assert!(text.contains("Loadable"), "{text}");
    }
}

#[test]
fn the_statcan_month_is_clean() {
    let p = repo().join("pipelines/can_lfs_pumf.toml");
    let r = migstat::validate::command::validate(&args(&p)).expect("validated");
    let input = &r.inputs[0];
    assert_eq!(input.rows_read, 109_278);
    assert_eq!(input.rows_valid, 109_278);
    assert_eq!(input.file_facts.line_endings.as_deref(), Some("CRLF"));
    assert_eq!(
        (r.summary.errors, r.summary.warnings, r.summary.quarantined),
        (0, 0, 0)
    );
    // Only information: the PUMF columns the pipeline does not use.
    assert!(input.counts.iter().all(|c| c.rule == "unexpected_column"));
    assert!(of_rule(&r, "unexpected_column")
        .iter()
        .any(|f| f.column.as_deref() == Some("PROV")));
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_missing_input_or_an_invalid_pipeline_cannot_be_checked() {
    let p = repo().join("pipelines/tha_lfs_synth.toml");
    let mut a = args(&p);
    a.input = Some(repo().join("sample_data/no-such-file.csv"));
    let e = migstat::validate::run(&a, &mut Vec::new()).expect_err("missing file");
    assert_eq!(e.exit_code(), 2);
    let dir = crate::common::temp_dir("validate-bad-pipeline");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[pipeline]\nid = 1\n").unwrap();
    let e = migstat::validate::run(&args(&bad), &mut Vec::new()).expect_err("bad pipeline");
    assert_eq!(e.exit_code(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
