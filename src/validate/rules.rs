//! The rule registry: every validation rule's stable id, level, default severity and what it
//! checks, in one list. Pipelines may change a rule's severity in `[rules]` (or per field with
//! `on_invalid`); ids never change once published (they appear in reports and pipelines).
use crate::config::pipeline::{FieldMap, Pipeline, Severity};

/// Validation levels, after the ESS validation framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 0: the file as bytes (encoding, delimiter, line ends, size).
    File,
    /// 1: header and row shape.
    Structure,
    /// 2: single cells (types, ranges, code lists, required values, keys).
    Cell,
    /// 3: consistency within one record.
    Record,
    /// 4: consistency across records (households, design).
    Dataset,
    /// 5: comparison with the previous period.
    Time,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::File => "file",
            Level::Structure => "structure",
            Level::Cell => "cell",
            Level::Record => "record",
            Level::Dataset => "dataset",
            Level::Time => "time",
        }
    }
}

/// One rule of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub severity: Severity,
    /// Whether a finding of this rule concerns one data row (counted in the row summary).
    pub row: bool,
    /// What the rule checks, in a sentence.
    pub checks: &'static str,
}

const fn rule(
    id: &'static str,
    level: Level,
    severity: Severity,
    row: bool,
    checks: &'static str,
) -> Rule {
    Rule {
        id,
        level,
        severity,
        row,
        checks,
    }
}

use Level::*;
use Severity::{Error, Info, Warning};

/// Every rule, in report order.
#[rustfmt::skip]
pub const REGISTRY: &[Rule] = &[
    rule("empty_file", File, Error, false, "The file has a header line and at least one data row."),
    rule("encoding", File, Error, true, "Every cell is valid text in the file's encoding (UTF-8 with or without BOM, or latin-1); UTF-16 files are refused."),
    rule("encoding_suspect", File, Warning, false, "A file declared latin-1 whose accented letters are valid UTF-8 would be misread."),
    rule("delimiter", File, Error, false, "The header line is split by the declared or detected delimiter."),
    rule("line_endings", File, Info, false, "All lines end the same way (CRLF or LF)."),
    rule("truncated_file", File, Error, true, "The last line is complete: it has all its cells or ends with a line break."),
    rule("file_size", File, Warning, false, "The file is not larger than the pipeline's validation.max_file_mb."),
    rule("missing_column", Structure, Error, false, "Every column the pipeline maps is in the header."),
    rule("duplicate_header", Structure, Error, false, "No column name occurs twice in the header (compared without case)."),
    rule("blank_header", Structure, Warning, false, "No column of the header is unnamed."),
    rule("unexpected_column", Structure, Info, false, "Columns the pipeline does not use are listed."),
    rule("replicate_count", Structure, Error, false, "The number of replicate-weight columns is the design's replicate_count."),
    rule("row_width", Structure, Error, true, "Every row has as many cells as the header; no blank lines."),
    rule("bad_number", Cell, Error, true, "Numeric cells hold numbers (whole numbers where the schema says int)."),
    rule("unknown_code", Cell, Error, true, "Coded cells hold a code the pipeline maps."),
    rule("missing_value", Cell, Error, true, "Required cells (sex, age, coded fields without a blank rule, the key, design columns) are filled."),
    rule("out_of_range", Cell, Error, true, "Numbers lie within the field's min and max (age, year of arrival, amounts)."),
    rule("weight_zero", Cell, Error, true, "The weight is not 0."),
    rule("weight_negative", Cell, Error, true, "The weight is not negative."),
    rule("bad_time", Cell, Error, true, "Year, quarter and month cells form a valid period."),
    rule("duplicate_key", Cell, Error, true, "The business key (household id + person line, REC_NUM, ...) is unique."),
    rule("employed_job_missing", Record, Warning, true, "Employed persons have an economic activity, occupation and status in employment."),
    rule("below_working_age_lfs", Record, Warning, true, "Persons below working age have no labour-force status."),
    rule("arrival_before_birth", Record, Error, true, "The year of arrival is not before the year of birth (survey year - age)."),
    rule("arrival_after_survey", Record, Error, true, "The year of arrival is not after the survey year."),
    rule("foreign_born_in_country", Record, Error, true, "Foreign-born persons have a country of birth other than the survey country."),
    rule("citizen_foreign_country", Record, Error, true, "Citizens have the survey country as country of citizenship."),
    rule("remittance_without_receipt", Record, Warning, true, "Households that received no remittances report no amount."),
    rule("bad_design", Dataset, Error, true, "A PSU lies in one stratum only (unless design.nest numbers PSUs within strata)."),
    rule("household_design", Dataset, Error, true, "Members of a household share its stratum and PSU."),
    rule("household_weight", Dataset, Error, true, "Members of a household share its weight (design.household_weights = true)."),
    rule("lonely_psu", Dataset, Warning, false, "Every stratum has at least 2 PSUs in each period."),
    rule("population_change", Time, Warning, false, "The weighted working-age population changed by at most validation.population_change_pct since the previous period in the warehouse."),
    rule("unemployment_rate_change", Time, Warning, false, "The unemployment rate moved by at most validation.unemployment_rate_change_pp points since the previous period in the warehouse."),
];

/// The rule with id `id`.
pub fn find(id: &str) -> Option<&'static Rule> {
    REGISTRY.iter().find(|r| r.id == id)
}

/// The default severity of `id` (error for an id not in the registry).
pub fn default_severity(id: &str) -> Severity {
    find(id).map_or(Error, |r| r.severity)
}

/// Whether findings of `id` concern one data row.
pub fn is_row_rule(id: &str) -> bool {
    find(id).is_some_and(|r| r.row)
}

/// The severity of `id` in pipeline `p`: the field's `on_invalid`, then `[rules]`, then the
/// registry's default.
pub fn severity(p: &Pipeline, id: &str, field: Option<&FieldMap>) -> Severity {
    p.severity(id, field, default_severity(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_can_be_set_in_pipelines_and_every_settable_rule_exists() {
        for r in REGISTRY {
            assert!(
                crate::config::check::RULES.contains(&r.id),
                "{} is not in config::check::RULES",
                r.id
            );
        }
        for id in crate::config::check::RULES {
            assert!(
                find(id).is_some(),
                "{id} is settable but not in the registry"
            );
        }
    }

    #[test]
    fn ids_are_unique_snake_case_and_explained() {
        let mut ids: Vec<&str> = REGISTRY.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), REGISTRY.len());
        for r in REGISTRY {
            assert!(r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(r.checks.ends_with('.'), "{}", r.id);
        }
    }

    #[test]
    fn defaults_follow_the_contract() {
        assert_eq!(default_severity("weight_zero"), Severity::Error);
        assert_eq!(default_severity("lonely_psu"), Severity::Warning);
        assert_eq!(default_severity("unexpected_column"), Severity::Info);
        assert!(is_row_rule("row_width"));
        assert!(!is_row_rule("missing_column"));
    }
}
