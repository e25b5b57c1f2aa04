//! The defect corpus: the clean Thai synthetic upload (and the Armenian one where a rule needs
//! its separate birth and citizenship columns) with one defect injected at a time; each must be
//! reported with the right rule, line and column, and the exit code must follow its severity.
use migstat::config::pipeline::Severity;
use migstat::validate::report::Report;

use super::{assert_found, of_rule, validate_bytes, Upload};

const THA: &str = "tha_lfs_synth.toml";
const ARM: &str = "arm_lfs_synth.toml";

fn keep(s: String) -> String {
    s
}

/// Validates the Thai upload after `doctor`, the pipeline edited by `edit`.
fn tha(test: &str, doctor: impl Fn(&mut Upload), edit: &dyn Fn(String) -> String) -> Report {
    let mut u = Upload::tha();
    doctor(&mut u);
    validate_bytes(test, THA, u.text("\n").as_bytes(), edit)
}

fn errors(r: &Report) -> u64 {
    r.summary.errors
}

/// A line of the Thai file whose row satisfies `pred`.
fn line_where(pred: impl Fn(&dyn Fn(&str) -> String) -> bool) -> u64 {
    Upload::tha().find(pred)
}

#[test]
fn the_clean_upload_has_no_errors_and_no_warnings() {
    let r = tha("clean", |_| {}, &keep);
    assert_eq!(r.exit_code, 0);
    assert_eq!(
        (r.summary.errors, r.summary.warnings, r.summary.quarantined),
        (0, 0, 0)
    );
    assert_eq!(r.summary.rows_read, 4000 + 64);
    assert_eq!(r.summary.rows_valid, r.summary.rows_read);
}

// Level 0: the file.

#[test]
fn an_empty_file_is_an_error() {
    let r = validate_bytes("empty", THA, b"", &keep);
    assert_found(&r, "empty_file", None, "");
}

#[test]
fn a_header_without_rows_is_an_error() {
    let u = Upload::tha();
    let r = validate_bytes(
        "header-only",
        THA,
        (u.header.join(",") + "\n").as_bytes(),
        &keep,
    );
    assert_eq!(of_rule(&r, "empty_file").len(), 1);
    assert_eq!(r.exit_code, 1);
}

#[test]
fn latin1_bytes_in_a_utf8_file_are_reported_with_line_column_and_key() {
    let mut text = Upload::tha().text("\n").into_bytes();
    // Line 7's NATION cell becomes "TH\xc9" (latin-1 É).
    let line_start = text
        .split(|&b| b == b'\n')
        .take(6)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let line_end = line_start + text[line_start..].iter().position(|&b| b == b'\n').unwrap();
    let row = String::from_utf8(text[line_start..line_end].to_vec()).unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    let mut bytes = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        if i == Upload::tha().col("NATION") {
            bytes.extend_from_slice(b"TH\xc9");
        } else {
            bytes.extend_from_slice(c.as_bytes());
        }
    }
    text.splice(line_start..line_end, bytes);
    let r = validate_bytes("latin1", THA, &text, &keep);
    assert_found(&r, "encoding", Some(7), "NATION");
    let f = of_rule(&r, "encoding")[0];
    assert_eq!(
        f.key.as_deref(),
        Some(format!("{}-{}", cells[0], cells[1]).as_str())
    );
    assert_eq!(r.exit_code, 1);
    // The rows were still checked (as latin-1): the cell is also an unknown citizenship.
    assert_found(&r, "unknown_code", Some(7), "NATION");
}

#[test]
fn a_utf16_file_is_refused_with_a_reason() {
    let text = Upload::tha().text("\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let r = validate_bytes("utf16", THA, &bytes, &keep);
    assert_found(&r, "encoding", Some(1), "");
    assert!(of_rule(&r, "encoding")[0].message.contains("UTF-16"));
    assert!(!r.inputs[0].rows_checked);
}

#[test]
fn utf8_text_in_a_file_declared_latin1_is_suspect() {
    let mut u = Upload::tha();
    u.add_column("COMMENT", "Chiang Mai – ok");
    let edit = |s: String| s.replacen("encoding = \"utf-8\"", "encoding = \"latin-1\"", 1);
    let r = validate_bytes("suspect", THA, u.text("\n").as_bytes(), &edit);
    assert_eq!(of_rule(&r, "encoding_suspect").len(), 1);
    assert_eq!(of_rule(&r, "encoding_suspect")[0].line, Some(2));
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_file_split_by_another_delimiter_is_an_error() {
    let text = Upload::tha().text("\n").replace(',', ";");
    let r = validate_bytes("delimiter", THA, text.as_bytes(), &keep);
    assert_eq!(of_rule(&r, "delimiter").len(), 1);
    assert!(of_rule(&r, "delimiter")[0].message.contains("\";\""));
    assert_eq!(r.exit_code, 1);
}

#[test]
fn mixed_line_ends_are_information_only() {
    let u = Upload::tha();
    let text = u.text("\n").replacen('\n', "\r\n", 10);
    let r = validate_bytes("mixed-eol", THA, text.as_bytes(), &keep);
    assert_eq!(of_rule(&r, "line_endings").len(), 1);
    assert_eq!(
        r.inputs[0].file_facts.line_endings.as_deref(),
        Some("mixed")
    );
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_truncated_last_line_is_reported() {
    let text = Upload::tha().text("\n");
    let cut = &text[..text.len() - 200];
    let r = validate_bytes("truncated", THA, cut.as_bytes(), &keep);
    assert_found(&r, "truncated_file", Some(4001), "");
    assert!(of_rule(&r, "row_width")
        .iter()
        .any(|f| f.line == Some(4001)));
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_file_larger_than_the_pipeline_expects_is_a_warning() {
    let edit = |s: String| s + "\n[validation]\nmax_file_mb = 0.5\n";
    let r = tha("size", |_| {}, &edit);
    assert_eq!(of_rule(&r, "file_size").len(), 1);
    assert_eq!(r.exit_code, 0);
}

// Level 1: structure.

#[test]
fn a_missing_mapped_column_is_an_error() {
    let rename = |u: &mut Upload| {
        let c = u.col("SEX");
        u.header[c] = "GENDER_X".into();
    };
    let r = tha("missing-col", rename, &keep);
    assert_found(&r, "missing_column", Some(1), "SEX");
    assert!(!r.inputs[0].rows_checked);
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_duplicate_header_is_an_error() {
    let r = tha("dup-header", |u| u.add_column("Sex", "1"), &keep);
    assert_found(&r, "duplicate_header", Some(1), "Sex");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_blank_header_is_a_warning() {
    let r = tha("blank-header", |u| u.add_column("", "x"), &keep);
    assert_found(&r, "blank_header", Some(1), "#44");
    assert_eq!(errors(&r), 0);
}

#[test]
fn an_unused_column_is_information() {
    let r = tha("extra-col", |u| u.add_column("INTERVIEWER", "7"), &keep);
    assert_found(&r, "unexpected_column", Some(1), "INTERVIEWER");
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_missing_replicate_weight_column_breaks_the_declared_count() {
    let drop_last = |u: &mut Upload| {
        let c = u.col("REPWT20");
        u.header.remove(c);
        for r in &mut u.rows {
            r.remove(c);
        }
    };
    let r = tha("replicates", drop_last, &keep);
    assert_found(&r, "replicate_count", Some(1), "REPWT*");
    assert_eq!(of_rule(&r, "replicate_count")[0].value, "19");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_row_with_too_few_cells_is_an_error() {
    let r = tha("short-row", |u| drop(u.rows[8].pop()), &keep);
    assert_found(&r, "row_width", Some(10), "");
    assert_eq!(r.inputs[0].rows_with_errors, 1);
}

#[test]
fn a_row_with_too_many_cells_is_an_error() {
    let r = tha("long-row", |u| u.rows[9].push("x".into()), &keep);
    assert_eq!(of_rule(&r, "row_width")[0].line, Some(11));
    assert_eq!(of_rule(&r, "row_width")[0].value, "44 cells");
}

#[test]
fn shifted_columns_show_as_cells_in_the_wrong_place() {
    // One cell lost early in line 12 and a blank added at the end: every later cell moves left.
    let shift = |u: &mut Upload| {
        let c = u.col("STRATUM");
        let row = &mut u.rows[10];
        row.remove(c);
        row.push(String::new());
    };
    let r = tha("shifted", shift, &keep);
    // SEX now holds the age.
    assert_found(&r, "unknown_code", Some(12), "SEX");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_line_of_spaces_is_a_blank_row() {
    let r = tha("blank-row", |u| u.rows.insert(20, vec!["  ".into()]), &keep);
    let f = of_rule(&r, "row_width");
    assert_eq!(f[0].line, Some(22));
    assert!(f[0].message.contains("blank line"));
}

#[test]
fn empty_lines_do_not_shift_the_line_numbers() {
    let doctor = |u: &mut Upload| {
        u.rows.insert(3, vec![String::new()]);
        u.set(31, "SEX", "5");
    };
    let mut u = Upload::tha();
    doctor(&mut u);
    let r = validate_bytes("empty-line", THA, u.text("\n").as_bytes(), &keep);
    assert_found(&r, "unknown_code", Some(31), "SEX");
}

// Level 2: cells.

#[test]
fn a_non_numeric_age_is_a_type_error() {
    let r = tha("bad-age", |u| u.set(14, "AGE", "4o"), &keep);
    assert_found(&r, "bad_number", Some(14), "AGE");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_malformed_weight_is_a_type_error() {
    let r = tha("bad-weight", |u| u.set(15, "WEIGHT", "1.2.3"), &keep);
    assert_found(&r, "bad_number", Some(15), "WEIGHT");
}

#[test]
fn a_code_typo_in_one_row_is_an_unknown_code() {
    let r = tha("typo", |u| u.set(16, "SEX", "3"), &keep);
    assert_found(&r, "unknown_code", Some(16), "SEX");
    assert_eq!(of_rule(&r, "unknown_code").len(), 1);
    assert_eq!(r.inputs[0].rows_with_errors, 1);
    assert_eq!(r.inputs[0].rows_valid, 3999);
}

#[test]
fn a_blank_required_value_is_missing() {
    let r = tha("blank-sex", |u| u.set(17, "SEX", ""), &keep);
    assert_found(&r, "missing_value", Some(17), "SEX");
}

#[test]
fn a_blank_key_is_missing() {
    let r = tha("blank-key", |u| u.set(18, "MEMBER", ""), &keep);
    assert_found(&r, "missing_value", Some(18), "MEMBER");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn an_age_out_of_range_is_quarantined_as_the_pipeline_says() {
    let r = tha("age-range", |u| u.set(19, "AGE", "130"), &keep);
    assert_found(&r, "out_of_range", Some(19), "AGE");
    assert_eq!(
        of_rule(&r, "out_of_range")[0].severity,
        Severity::Quarantine
    );
    assert_eq!(r.inputs[0].rows_quarantined, 1);
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_weight_of_zero_is_an_error_by_default() {
    let r = tha("weight-0", |u| u.set(20, "WEIGHT", "0"), &keep);
    assert_found(&r, "weight_zero", Some(20), "WEIGHT");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_pipeline_may_lower_a_zero_weight_to_a_warning() {
    // A household of one, so that no other member carries another weight.
    let u = Upload::tha();
    let alone = (3..4001)
        .find(|&l| u.get(l, "MEMBER") == "1" && u.get(l + 1, "MEMBER") == "1")
        .expect("a one-person household");
    let edit = |s: String| s.replacen("[rules]\n", "[rules]\nweight_zero = \"warning\"\n", 1);
    let r = tha("weight-0-warn", |u| u.set(alone, "WEIGHT", "0"), &edit);
    assert_found(&r, "weight_zero", Some(alone), "WEIGHT");
    assert_eq!(of_rule(&r, "weight_zero")[0].severity, Severity::Warning);
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_negative_weight_is_an_error() {
    let r = tha("weight-neg", |u| u.set(21, "WEIGHT", "-5"), &keep);
    assert_found(&r, "weight_negative", Some(21), "WEIGHT");
}

#[test]
fn an_impossible_quarter_is_a_bad_time() {
    let r = tha("quarter", |u| u.set(22, "QTR", "7"), &keep);
    assert_found(&r, "bad_time", Some(22), "QTR");
}

#[test]
fn a_duplicated_row_repeats_the_business_key() {
    let dup = |u: &mut Upload| {
        let row = u.rows[3].clone();
        u.rows.insert(4, row);
    };
    let r = tha("dup-row", dup, &keep);
    assert_found(&r, "duplicate_key", Some(6), "HH_ID+MEMBER");
    let u = Upload::tha();
    let key = format!("{}-{}", u.get(5, "HH_ID"), u.get(5, "MEMBER"));
    assert_eq!(
        of_rule(&r, "duplicate_key")[0].key.as_deref(),
        Some(key.as_str())
    );
}

// Level 3: within a record.

#[test]
fn an_employed_person_without_activity_is_reported() {
    let line = line_where(|c| c("LFS") == "1" && !c("IND_DIV").is_empty());
    let r = tha("no-activity", |u| u.set(line, "IND_DIV", ""), &keep);
    assert_found(&r, "employed_job_missing", Some(line), "IND_DIV");
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_child_with_a_labour_force_status_is_reported() {
    let line = line_where(|c| c("AGE").parse::<i64>().unwrap() < 15);
    let r = tha("child-lfs", |u| u.set(line, "LFS", "2"), &keep);
    assert_found(&r, "below_working_age_lfs", Some(line), "LFS");
}

#[test]
fn an_arrival_after_the_survey_year_is_an_error() {
    let line = line_where(|c| c("YEAR") == "2023");
    let r = tha("arrival-late", |u| u.set(line, "ARRIVE_YR", "2024"), &keep);
    assert_found(&r, "arrival_after_survey", Some(line), "ARRIVE_YR");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn an_arrival_before_birth_is_an_error() {
    let line = line_where(|c| c("YEAR") == "2023" && c("AGE") == "20");
    let r = tha("arrival-early", |u| u.set(line, "ARRIVE_YR", "1990"), &keep);
    assert_found(&r, "arrival_before_birth", Some(line), "ARRIVE_YR");
}

#[test]
fn a_foreign_born_person_born_in_the_survey_country_is_an_error() {
    let mut u = Upload::read("sample_data/synth/arm_lfs_synth_persons.csv");
    let line = u.find(|c| c("born_arm") == "2");
    u.set(line, "birth_country", "ARM");
    let r = validate_bytes("born-here", ARM, u.text("\n").as_bytes(), &keep);
    assert_found(&r, "foreign_born_in_country", Some(line), "birth_country");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_citizen_of_another_country_is_an_error() {
    let mut u = Upload::read("sample_data/synth/arm_lfs_synth_persons.csv");
    let line = u.find(|c| c("citizenship") == "1");
    u.set(line, "citizenship_country", "RUS");
    let r = validate_bytes("citizen", ARM, u.text("\n").as_bytes(), &keep);
    assert_found(
        &r,
        "citizen_foreign_country",
        Some(line),
        "citizenship_country",
    );
}

#[test]
fn an_amount_without_remittances_is_reported() {
    let line = line_where(|c| c("REMIT") == "2");
    let r = tha("remit", |u| u.set(line, "REMIT_AMT", "5000"), &keep);
    assert_found(&r, "remittance_without_receipt", Some(line), "REMIT_AMT");
    assert_eq!(r.exit_code, 0);
}

// Level 4: across records.

/// A line holding the second member of a household.
fn second_member() -> u64 {
    line_where(|c| c("MEMBER") == "2")
}

#[test]
fn a_household_split_across_strata_is_an_error() {
    let line = second_member();
    let r = tha("hh-stratum", |u| u.set(line, "STRATUM", "99"), &keep);
    assert_found(&r, "household_design", Some(line), "STRATUM");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_household_member_with_another_weight_is_an_error() {
    let line = second_member();
    let r = tha("hh-weight", |u| u.set(line, "WEIGHT", "123.4"), &keep);
    assert_found(&r, "household_weight", Some(line), "WEIGHT");
}

#[test]
fn a_stratum_with_one_psu_is_a_lonely_psu() {
    let one_psu = |u: &mut Upload| {
        for line in 2..4002 {
            if u.get(line, "STRATUM") == "3" && u.get(line, "YEAR") == "2023" {
                u.set(line, "EA", "1");
            }
        }
    };
    let r = tha("lonely", one_psu, &keep);
    let f = of_rule(&r, "lonely_psu");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].column.as_deref(), Some("EA"));
    assert!(f[0].message.contains("stratum 3") && f[0].message.contains("2023Q4"));
    assert_eq!(r.exit_code, 0);
}

#[test]
fn psu_ids_repeated_across_strata_without_nesting_are_a_bad_design() {
    let edit = |s: String| s.replacen("nest = true", "nest = false", 1);
    let r = tha("nest", |_| {}, &edit);
    let f = of_rule(&r, "bad_design");
    assert!(!f.is_empty());
    assert_eq!(f[0].column.as_deref(), Some("EA"));
    assert_eq!(r.exit_code, 1);
}

// Level 5: against the previous period in the warehouse.

#[test]
fn jumps_against_the_previous_period_are_warnings() {
    let wh = crate::common::run_into("validate-plausibility", &["pipelines/tha_lfs_synth.toml"]);
    let mut u = Upload::tha();
    let mut employed = 0;
    for line in 2..4002 {
        let next = if u.get(line, "YEAR") == "2023" {
            "2"
        } else {
            "3"
        };
        u.set(line, "YEAR", "2024");
        u.set(line, "QTR", next);
        let w: f64 = u.get(line, "WEIGHT").parse().unwrap();
        u.set(line, "WEIGHT", &format!("{:.4}", w * 1.5));
        if u.get(line, "LFS") == "1" {
            if employed % 2 == 0 {
                u.set(line, "LFS", "2");
            }
            employed += 1;
        }
    }
    let dir = crate::common::temp_dir("validate-plausibility-upload");
    let input = dir.join("next.csv");
    std::fs::write(&input, u.text("\n")).unwrap();
    let p = super::pipeline_for(&dir, THA, &input, &keep);
    let mut a = super::args(&p);
    a.warehouse = Some(wh.clone());
    let r = migstat::validate::command::validate(&a).expect("validated");
    let pop = of_rule(&r, "population_change");
    assert_eq!(pop.len(), 2, "{pop:?}");
    assert!(pop[0].message.starts_with("2024Q2") && pop[0].message.contains("in 2024Q1"));
    // 2024Q3 is the weighted 2024Q1 again, times 1.5.
    assert!(pop[1].message.starts_with("2024Q3"), "{}", pop[1].message);
    assert!(
        pop[1].message.contains("+50.0% against"),
        "{}",
        pop[1].message
    );
    assert_eq!(of_rule(&r, "unemployment_rate_change").len(), 2);
    assert_eq!(r.exit_code, 0);
    // The same upload without a warehouse is not compared.
    a.warehouse = None;
    let r = migstat::validate::command::validate(&a).expect("validated");
    assert!(of_rule(&r, "population_change").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&wh);
}
