//! The defect corpus, rows (levels 2 to 5): cells, consistency within a record, households and
//! design, and the previous period in the warehouse; the Armenian upload where a rule needs its
//! separate birth and citizenship columns.
use migstat::config::pipeline::Severity;

use super::{assert_found, keep, line_where, of_rule, tha, validate_bytes, Upload, ARM, THA};

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
    a.warehouse = Some(wh.to_path_buf());
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
