//! Header rules (level 1): duplicate and blank column names, columns the pipeline does not use,
//! and the number of replicate-weight columns against the design's `replicate_count`. Names
//! are compared without case, as the mapping does (`SEX` and `sex` are one column). Missing
//! mapped columns are reported by the mapping itself (`missing_column`).
use std::collections::{BTreeMap, HashSet};

use super::{finding, Findings};
use crate::config::pipeline::Pipeline;
use crate::normalize::RecordSpec;

/// Checks the header of the input `spec` reads.
pub fn check(p: &Pipeline, spec: &RecordSpec, headers: &[String], findings: &mut Findings) {
    duplicates_and_blanks(p, headers, findings);
    let used = used_columns(spec);
    let patterns = replicate_prefixes(&spec.design.replicates);
    for h in headers {
        let lower = h.to_ascii_lowercase();
        if h.trim().is_empty() || used.contains(&lower) || matches_any(&patterns, &lower) {
            continue;
        }
        findings.push(finding(
            p,
            "unexpected_column",
            1,
            "",
            h,
            String::new(),
            format!("column {h} is not used by the pipeline: it is not loaded"),
        ));
    }
    replicate_count(p, spec, headers, findings);
}

fn duplicates_and_blanks(p: &Pipeline, headers: &[String], findings: &mut Findings) {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        if h.trim().is_empty() {
            findings.push(finding(
                p,
                "blank_header",
                1,
                "",
                &format!("#{}", i + 1),
                String::new(),
                format!(
                    "column {} of {} has no name: its cells cannot be mapped (a delimiter at the end of the header line?)",
                    i + 1,
                    headers.len()
                ),
            ));
            continue;
        }
        match first.get(&h.to_ascii_lowercase()) {
            Some(&j) => findings.push(finding(
                p,
                "duplicate_header",
                1,
                "",
                h,
                String::new(),
                format!(
                    "column {h} occurs twice (columns {} and {}): only the first would be read; rename or remove one",
                    j + 1,
                    i + 1
                ),
            )),
            None => {
                first.insert(h.to_ascii_lowercase(), i);
            }
        }
    }
}

/// Every column name the spec reads (lower case), alternatives included.
fn used_columns(spec: &RecordSpec) -> HashSet<String> {
    let mut used: Vec<String> = spec.input.key.clone();
    used.extend(spec.input.household.clone());
    let t = spec.time;
    used.extend(
        [&t.year, &t.quarter, &t.month]
            .into_iter()
            .flatten()
            .cloned(),
    );
    let d = spec.design;
    used.extend(
        [&d.weight, &d.strata, &d.psu, &d.fpc]
            .into_iter()
            .flatten()
            .cloned(),
    );
    used.extend(d.replicates.iter().filter(|r| !r.ends_with('*')).cloned());
    for map in spec.fields.values() {
        used.extend(map.column.as_ref().map(|c| c.names()).unwrap_or_default());
        used.extend(map.columns.iter().cloned());
    }
    used.into_iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect()
}

/// `PREFIX*` replicate patterns, lower case.
fn replicate_prefixes(spec: &[String]) -> Vec<String> {
    spec.iter()
        .filter_map(|s| s.strip_suffix('*'))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// A replicate column: the prefix followed by digits only (as `normalize::design` reads them).
fn matches_any(prefixes: &[String], lower: &str) -> bool {
    prefixes.iter().any(|p| {
        lower.len() > p.len()
            && lower.starts_with(p.as_str())
            && lower[p.len()..].bytes().all(|b| b.is_ascii_digit())
    })
}

fn replicate_count(p: &Pipeline, spec: &RecordSpec, headers: &[String], findings: &mut Findings) {
    let Some(want) = spec.design.replicate_count else {
        return;
    };
    let reps = &spec.design.replicates;
    let prefixes = replicate_prefixes(reps);
    let named: HashSet<String> = reps
        .iter()
        .filter(|r| !r.ends_with('*'))
        .map(|r| r.to_ascii_lowercase())
        .collect();
    let found = headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .filter(|h| named.contains(h) || matches_any(&prefixes, h))
        .count();
    if found == want {
        return;
    }
    let what = reps.join(", ");
    findings.push(finding(
        p,
        "replicate_count",
        1,
        "",
        &what,
        found.to_string(),
        format!(
            "the design declares {want} replicate weights but the file has {found} columns matching {what}: set design.replicate_count (and the scale) to the file's, or send the file with {want}"
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicate_columns_are_prefix_and_digits() {
        let pre = replicate_prefixes(&["REPWT*".to_string()]);
        assert!(matches_any(&pre, "repwt12"));
        assert!(!matches_any(&pre, "repwt"));
        assert!(!matches_any(&pre, "repwt_a"));
    }
}
