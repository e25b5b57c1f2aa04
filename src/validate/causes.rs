//! File-level causes: one fault of the file that explains a whole group of findings, named once
//! — a header shifted by one column (every row one cell off), a wrong delimiter, a value label
//! changed in the file (SPSS/Stata), codes the pipeline does not map, numbers written with a
//! decimal comma. Each cause keeps its parameters so that it can be said in any language.
use std::collections::BTreeMap;

use serde::Serialize;

use super::findings::{Findings, Group};
use super::messages::{grouped, plural, render, Lang};
use crate::config::pipeline::FieldMap;
use crate::extract::Labels;
use crate::normalize::RecordSpec;

/// Findings of a group at least, and the share of rows, for a shifted header.
const SHIFT_MIN_ROWS: u64 = 10;
/// Distinct codes at most for "codes the pipeline does not map".
const UNMAPPED_MAX_CODES: usize = 10;

/// A value and how many findings name it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
    /// The file's value label of the code, when the file carries labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One cause, with what its message needs.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    /// `shifted_header`, `wrong_delimiter`, `changed_label`, `unmapped_code`, `decimal_comma`.
    pub kind: &'static str,
    /// The rule whose findings it explains.
    pub rule: String,
    pub column: Option<String>,
    /// The pipeline field read from the column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The values concerned, with their counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueCount>,
    /// Further parameters of the message (numbers as digits).
    pub params: BTreeMap<String, String>,
    /// The message in English.
    pub message: String,
}

impl Cause {
    fn new(kind: &'static str, rule: &str, column: Option<&str>) -> Self {
        Cause {
            kind,
            rule: rule.to_string(),
            column: column.map(str::to_string),
            field: None,
            values: Vec::new(),
            params: BTreeMap::new(),
            message: String::new(),
        }
    }

    fn param(mut self, k: &str, v: impl ToString) -> Self {
        self.params.insert(k.to_string(), v.to_string());
        self
    }

    fn done(mut self) -> Self {
        self.message = self.render(Lang::En);
        self
    }

    /// The message in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let p = |k: &str| self.params.get(k).cloned().unwrap_or_default();
        let n = |k: &str| p(k).parse::<u64>().unwrap_or(0);
        let column = self.column.clone().unwrap_or_default();
        let key = format!("cause.{}", self.kind);
        match self.kind {
            "shifted_header" => render(
                lang,
                &key,
                &[
                    ("columns", &grouped(lang, n("columns"))),
                    ("rows", &plural(lang, "ui.rows", n("rows"), &[])),
                    ("cells", &plural(lang, "ui.cells", n("cells"), &[])),
                ],
            ),
            "unmapped_code" => {
                let codes: Vec<String> = self
                    .values
                    .iter()
                    .map(|v| format!("{} ({})", v.value, plural(lang, "ui.rows", v.count, &[])))
                    .collect();
                let field = self.field.clone().unwrap_or_default();
                render(
                    lang,
                    &key,
                    &[
                        ("column", &column),
                        ("codes", &codes.join(", ")),
                        ("field", &field),
                    ],
                )
            }
            _ => {
                let owned: Vec<(String, String)> = self
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain([("column".to_string(), column)])
                    .collect();
                let args: Vec<(&str, &str)> = owned
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                render(lang, &key, &args)
            }
        }
    }
}

/// What the causes are looked for in.
pub struct Context<'a> {
    pub spec: &'a RecordSpec<'a>,
    pub findings: &'a Findings,
    pub columns: usize,
    pub rows_read: u64,
    /// The file's value labels of the columns with unknown codes.
    pub labels: &'a BTreeMap<String, Labels>,
}

/// Every cause the findings point to.
pub fn find(cx: &Context) -> Vec<Cause> {
    let mut out = Vec::new();
    for ((rule, column), g) in &cx.findings.groups {
        let cause = match rule.as_str() {
            "row_width" => shifted_header(cx, g),
            "delimiter" => wrong_delimiter(cx),
            "unknown_code" => changed_label(cx, column, g).or_else(|| {
                // Cells misread in another encoding are explained by the encoding findings.
                let misread = cx
                    .findings
                    .groups
                    .contains_key(&("encoding".into(), column.clone()));
                (!misread).then(|| unmapped(cx, column, g)).flatten()
            }),
            "bad_number" => decimal_comma(column, g),
            _ => None,
        };
        out.extend(cause);
    }
    out
}

fn shifted_header(cx: &Context, g: &Group) -> Option<Cause> {
    let (value, n) = *g.top_values().first()?;
    let cells: usize = value.strip_suffix(" cells")?.parse().ok()?;
    let enough = n >= SHIFT_MIN_ROWS && n * 2 >= cx.rows_read && n * 10 >= g.count * 9;
    if !enough || cells.abs_diff(cx.columns) != 1 {
        return None;
    }
    Some(
        Cause::new("shifted_header", "row_width", None)
            .param("columns", cx.columns)
            .param("cells", cells)
            .param("rows", n)
            .done(),
    )
}

fn wrong_delimiter(cx: &Context) -> Option<Cause> {
    let f = cx.findings.listed.iter().find(|f| f.rule == "delimiter")?;
    let other = f
        .message
        .split_once("seems to be \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(d, _)| d.to_string())?;
    Some(
        Cause::new("wrong_delimiter", "delimiter", None)
            .param("used", &f.value)
            .param("other", other)
            .done(),
    )
}

/// The field read from `column`, and its map.
fn field_of<'a>(spec: &'a RecordSpec, column: &str) -> Option<(&'a String, &'a FieldMap)> {
    spec.fields.iter().find(|(_, m)| {
        m.column
            .as_ref()
            .is_some_and(|c| c.names().iter().any(|n| n.eq_ignore_ascii_case(column)))
    })
}

fn label_key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The file's label of `code` (codes compared as the mapping compares them).
pub fn label_of<'a>(labels: &'a Labels, code: &str) -> Option<&'a String> {
    let norm = crate::normalize::value::norm_code(code);
    labels.get(code).or_else(|| {
        labels
            .iter()
            .find(|(k, _)| crate::normalize::value::norm_code(k) == norm)
            .map(|(_, v)| v)
    })
}

fn changed_label(cx: &Context, column: &str, g: &Group) -> Option<Cause> {
    let (field, map) = field_of(cx.spec, column)?;
    let labels = cx.labels.get(column)?;
    if map.labels.is_empty() {
        return None;
    }
    let known: Vec<String> = map.labels.keys().map(|k| label_key(k)).collect();
    let (code, n, label) = g.top_values().into_iter().find_map(|(v, n)| {
        let label = label_of(labels, v)?;
        (!known.contains(&label_key(label))).then(|| (v.to_string(), n, label.clone()))
    })?;
    let mut c = Cause::new("changed_label", "unknown_code", Some(column))
        .param("code", &code)
        .param("label", &label)
        .param(
            "known",
            map.labels.keys().cloned().collect::<Vec<_>>().join(", "),
        );
    c.field = Some(field.clone());
    c.values = vec![ValueCount {
        value: code,
        count: n,
        label: Some(label),
    }];
    Some(c.done())
}

fn unmapped(cx: &Context, column: &str, g: &Group) -> Option<Cause> {
    let values = g.top_values();
    let repeated = g.count >= 2 * values.len() as u64;
    if g.untracked > 0 || values.len() > UNMAPPED_MAX_CODES || !repeated {
        return None;
    }
    let (field, _) = field_of(cx.spec, column)?;
    let mut c = Cause::new("unmapped_code", "unknown_code", Some(column));
    c.field = Some(field.clone());
    c.values = values
        .into_iter()
        .map(|(v, n)| ValueCount {
            value: v.to_string(),
            count: n,
            label: None,
        })
        .collect();
    Some(c.done())
}

/// `12,5`, `-0,25`, `1.234,5`: a number written with a decimal comma.
pub fn is_decimal_comma(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let Some((int, frac)) = s.rsplit_once(',') else {
        return false;
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let int_ok = digits(int)
        || int
            .split('.')
            .enumerate()
            .all(|(i, part)| digits(part) && (i == 0 || part.len() == 3));
    int_ok && digits(frac)
}

fn decimal_comma(column: &str, g: &Group) -> Option<Cause> {
    let values = g.top_values();
    let tracked: u64 = values.iter().map(|v| v.1).sum();
    let comma: u64 = values
        .iter()
        .filter(|v| is_decimal_comma(v.0))
        .map(|v| v.1)
        .sum();
    if comma == 0 || comma * 10 < tracked * 8 {
        return None;
    }
    let example = values.iter().find(|v| is_decimal_comma(v.0))?.0;
    Some(
        Cause::new("decimal_comma", "bad_number", Some(column))
            .param("example", example)
            .done(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_commas_are_recognised() {
        for s in ["12,5", "-0,25", "1.234,5", " 3,0 "] {
            assert!(is_decimal_comma(s), "{s}");
        }
        for s in ["12.5", "12,", ",5", "1,2,3", "abc", "12.34,5", ""] {
            assert!(!is_decimal_comma(s), "{s}");
        }
    }
}
