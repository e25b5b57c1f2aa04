//! The rule registry: every validation rule's stable id, level and default severity, in one list
//! (what each rule checks is in the message catalogue, `messages`). Pipelines may change a rule's severity in `[rules]` (or per field with
//! `on_invalid`); ids never change once published (they appear in reports and pipelines).
use super::messages::{self, Lang};
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
}

impl Rule {
    /// What the rule checks, in a sentence (`check.<id>` of the message catalogue).
    pub fn checks(&self, lang: Lang) -> &'static str {
        messages::text(lang, &format!("check.{}", self.id))
    }
}

const fn rule(id: &'static str, level: Level, severity: Severity, row: bool) -> Rule {
    Rule {
        id,
        level,
        severity,
        row,
    }
}

use Level::*;
use Severity::{Error, Info, Warning};

/// Every rule, in report order.
#[rustfmt::skip]
pub const REGISTRY: &[Rule] = &[
    rule("empty_file", File, Error, false),
    rule("encoding", File, Error, true),
    rule("encoding_suspect", File, Warning, false),
    rule("delimiter", File, Error, false),
    rule("line_endings", File, Info, false),
    rule("truncated_file", File, Error, true),
    rule("file_size", File, Warning, false),
    rule("missing_column", Structure, Error, false),
    rule("duplicate_header", Structure, Error, false),
    rule("blank_header", Structure, Warning, false),
    rule("unexpected_column", Structure, Info, false),
    rule("replicate_count", Structure, Error, false),
    rule("row_width", Structure, Error, true),
    rule("bad_number", Cell, Error, true),
    rule("unknown_code", Cell, Error, true),
    rule("missing_value", Cell, Error, true),
    rule("out_of_range", Cell, Error, true),
    rule("weight_zero", Cell, Error, true),
    rule("weight_negative", Cell, Error, true),
    rule("bad_time", Cell, Error, true),
    rule("duplicate_key", Cell, Error, true),
    rule("employed_job_missing", Record, Warning, true),
    rule("below_working_age_lfs", Record, Warning, true),
    rule("arrival_before_birth", Record, Error, true),
    rule("arrival_after_survey", Record, Error, true),
    rule("foreign_born_in_country", Record, Error, true),
    rule("citizen_foreign_country", Record, Error, true),
    rule("remittance_without_receipt", Record, Warning, true),
    rule("bad_design", Dataset, Error, true),
    rule("household_design", Dataset, Error, true),
    rule("household_weight", Dataset, Error, true),
    rule("lonely_psu", Dataset, Warning, false),
    rule("population_change", Time, Warning, false),
    rule("unemployment_rate_change", Time, Warning, false),
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
            for lang in Lang::ALL {
                assert!(r.checks(lang).ends_with('.'), "{}", r.id);
            }
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
