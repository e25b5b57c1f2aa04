//! Validate: what is wrong with an upload, where, how serious it is, and whether it can load.
//!
//! One rule family a file: `file` (bytes: encoding, delimiter, line ends, size), `header`
//! (column names), the mapping in `normalize` (cells: types, ranges, codes, required values,
//! keys), `record` (consistency within a record), `households` (across records), and
//! `plausibility` (against the previous period). `rules` is the registry of every rule's id and
//! default severity; `report` renders the outcome as text, JSON and HTML.
//!
//! Entry points: `validate_stream` (the `validate` command, bounded memory),
//! `validate_normalized` (the run driver, after `normalize`), `Report`.
pub mod causes;
pub mod command;
pub mod context;
pub mod file;
pub mod findings;
pub mod header;
pub mod households;
pub mod input;
pub mod keys;
pub mod messages;
pub mod plausibility;
pub mod record;
pub mod remittances;
pub mod report;
pub mod rows;
pub mod rules;
pub mod seen;

pub use command::{run, ValidateArgs};
pub use findings::{Finding, Findings};
pub use input::{
    file_rules, validate_normalized, validate_stream, FileRules, InputReport, RunChecks,
};
pub use report::Report;

use crate::config::pipeline::Pipeline;

/// A finding of `rule` with the severity pipeline `p` gives it (no field override).
pub(crate) fn finding(
    p: &Pipeline,
    rule: &str,
    line: u64,
    key: &str,
    column: &str,
    value: String,
    message: String,
) -> Finding {
    Finding {
        rule: rule.to_string(),
        severity: rules::severity(p, rule, None),
        line,
        key: key.to_string(),
        column: column.to_string(),
        value,
        message,
    }
}
