//! What a report needs beyond the findings to speak the file's language: the file's value labels
//! of the columns with unknown codes, the line each duplicated key first occurs on, the file's
//! SHA-256, and the file-level causes (`causes`). Read after the rules have run, from the file
//! itself, only for what the findings name (nothing when there is nothing to explain).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::causes::{self, Context};
use super::input::InputReport;
use crate::extract::{self, Labels};
use crate::normalize::RecordSpec;

/// Fills `report`'s key columns, labels, duplicate origins, causes and SHA-256 for `path`.
pub fn enrich(report: &mut InputReport, spec: &RecordSpec, path: &Path) {
    report.key_columns = spec.input.key.clone();
    report.sha256 = crate::runs::hash_file(path).ok().map(|h| h.sha256);
    let coded: Vec<String> = report
        .findings
        .groups
        .keys()
        .filter(|(rule, _)| rule == "unknown_code")
        .map(|(_, c)| c.clone())
        .collect();
    if !coded.is_empty() {
        report.labels = file_labels(spec, path, &coded);
    }
    let dups: HashSet<String> = report
        .findings
        .listed
        .iter()
        .filter(|f| f.rule == "duplicate_key")
        .map(|f| f.value.clone())
        .collect();
    if !dups.is_empty() && !spec.input.key.is_empty() {
        report.duplicate_of = first_lines(spec, path, &dups);
    }
    let cx = Context {
        spec,
        findings: &report.findings,
        columns: report.facts.columns.max(report.headers),
        rows_read: report.rows_read,
        labels: &report.labels,
    };
    report.causes = causes::find(&cx);
}

/// The file's value labels of `columns` (those that have any).
fn file_labels(spec: &RecordSpec, path: &Path, columns: &[String]) -> BTreeMap<String, Labels> {
    let Ok(src) = extract::open(spec.input, path) else {
        return BTreeMap::new();
    };
    columns
        .iter()
        .filter_map(|c| {
            let i = src.column(std::slice::from_ref(c))?;
            let labels = src.labels(i)?;
            (!labels.is_empty()).then(|| (c.clone(), labels.clone()))
        })
        .collect()
}

/// The first line on which each of `keys` occurs (keys as the mapping forms them: the key
/// columns' trimmed cells joined by `-`).
fn first_lines(spec: &RecordSpec, path: &Path, keys: &HashSet<String>) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(mut src) = extract::open(spec.input, path) else {
        return out;
    };
    let cols: Option<Vec<usize>> = spec
        .input
        .key
        .iter()
        .map(|k| src.column(std::slice::from_ref(k)))
        .collect();
    let Some(cols) = cols else { return out };
    let mut cells = Vec::new();
    while let Ok(Some(line)) = src.next_into(&mut cells) {
        let key: Vec<&str> = cols
            .iter()
            .map(|&i| cells.get(i).map_or("", |c| c.trim()))
            .collect();
        let key = key.join("-");
        if keys.contains(&key) {
            out.entry(key).or_insert(line);
            if out.len() == keys.len() {
                break;
            }
        }
    }
    out
}
