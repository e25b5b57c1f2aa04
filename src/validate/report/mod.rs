//! The validation report: one model, serialised as JSON with a stable schema
//! (`docs/validation-report.md`), rendered as terminal text (`text.rs`) and as one
//! self-contained HTML page (`html.rs`).
pub mod html;
pub mod text;

use std::path::Path;

use serde::Serialize;

use super::causes::{self, Cause, ValueCount};
use super::file::FileFacts;
use super::findings::Group;
use super::input::{InputReport, PeriodCount};
use super::messages::{render, Lang};
use super::rules::{self, Level, REGISTRY};
use super::Finding;
use crate::config::pipeline::{Pipeline, Severity};
use crate::error::{MigError, Result};

/// The `format` of every report this version writes; bumped only on an incompatible change.
pub const FORMAT: &str = "migstat-validation-report/1";

/// Distinct values shown per group (the rest are counted in `more_values`).
pub const GROUP_VALUES_SHOWN: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub migstat_version: &'static str,
    pub pipeline: PipelineRef,
    /// No finding of severity error: the upload can be loaded.
    pub loadable: bool,
    /// 0 loadable, 1 errors found.
    pub exit_code: i32,
    pub summary: Summary,
    pub inputs: Vec<InputOut>,
    /// Every rule with its severity in this pipeline.
    pub rules: Vec<RuleInfo>,
    /// When, by which version, on which pipeline and files, and the periods found.
    pub audit: Audit,
}

impl Report {
    /// The report as the upload service shows it to a statistician: files named by their names,
    /// never by where the server keeps them (`upload` is shown as `shown_as`, the name the file
    /// had on the statistician's computer; other files by their last path component).
    pub fn without_server_paths(&mut self, upload: &std::path::Path, shown_as: &str) {
        let upload = upload.display().to_string();
        let name = |path: &str| -> String {
            if path == upload {
                return shown_as.to_string();
            }
            std::path::Path::new(path)
                .file_name()
                .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
        };
        self.pipeline.file = name(&self.pipeline.file);
        self.audit.pipeline_file = name(&self.audit.pipeline_file);
        for i in &mut self.audit.inputs {
            i.name = name(&i.name);
        }
        for i in &mut self.inputs {
            i.file = name(&i.file);
            for n in &mut i.notes {
                *n = n.replace(&upload, shown_as);
            }
            for f in &mut i.findings {
                f.message = f.message.replace(&upload, shown_as);
            }
        }
    }
}

/// The audit context of a report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    /// UTC time the report was made (`2026-12-02T06:00:00Z`).
    pub generated_at: String,
    pub migstat_version: String,
    pub pipeline_id: String,
    pub pipeline_file: String,
    pub pipeline_sha256: Option<String>,
    pub inputs: Vec<AuditInput>,
    /// Rows of the person file per period and their weighted total.
    pub periods: Vec<PeriodCount>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditInput {
    pub record: String,
    pub name: String,
    pub size_bytes: u64,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineRef {
    pub id: String,
    pub name: String,
    pub file: String,
    pub source: String,
    pub ref_area: String,
}

/// Rows and findings over all inputs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub rows_read: u64,
    pub rows_valid: u64,
    pub rows_with_errors: u64,
    pub rows_quarantined: u64,
    pub rows_with_warnings: u64,
    pub errors: u64,
    pub quarantined: u64,
    pub warnings: u64,
    pub infos: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputOut {
    pub record: String,
    pub file: String,
    pub file_facts: FileFacts,
    pub rows_checked: bool,
    pub rows_read: u64,
    pub rows_valid: u64,
    pub rows_with_errors: u64,
    pub rows_quarantined: u64,
    pub rows_with_warnings: u64,
    /// Findings per rule, in rule order.
    pub counts: Vec<RuleCountOut>,
    /// Listed findings (at most `max_per_rule` a rule), in rule order then line order.
    pub findings: Vec<FindingOut>,
    pub max_per_rule: u64,
    pub notes: Vec<String>,
    /// Every finding grouped by rule and column, in rule order.
    pub groups: Vec<GroupOut>,
    /// File-level causes, each named once.
    pub causes: Vec<Cause>,
    /// Columns of the business key (empty: the line number is the key).
    pub key_columns: Vec<String>,
}

/// Every finding of one rule in one column.
#[derive(Debug, Clone, Serialize)]
pub struct GroupOut {
    pub rule: String,
    pub severity: Severity,
    pub column: Option<String>,
    pub count: u64,
    pub first_line: Option<u64>,
    pub last_line: Option<u64>,
    /// The business key of the first finding (null for files without ids).
    pub first_key: Option<String>,
    /// The most frequent values (at most 10), with their counts and file labels.
    pub values: Vec<ValueCount>,
    /// Distinct values not shown in `values`.
    pub more_values: u64,
    /// The group's message in English (`rule.<id>` of the message catalogue).
    pub message: String,
    /// The `kind` of the cause in `causes` that explains the group.
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCountOut {
    pub rule: String,
    pub severity: Severity,
    pub count: u64,
    pub listed: u64,
    pub not_listed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingOut {
    pub rule: String,
    pub severity: Severity,
    /// Line in the file (header = 1); null for findings about the whole file or a period.
    pub line: Option<u64>,
    pub key: Option<String>,
    pub column: Option<String>,
    pub value: String,
    pub message: String,
    /// For a duplicated key: the line the key first occurs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    /// The file's value label of `value` (SPSS, Stata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub level: Level,
    pub severity: Severity,
    pub checks: &'static str,
}

impl FindingOut {
    /// The finding's message in `lang`: its own English message, or the catalogue's text of
    /// its rule with its column and value.
    pub fn message_in(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.message.clone();
        }
        let column = self.column.clone().unwrap_or_default();
        render(
            lang,
            &format!("rule.{}", self.rule),
            &[("column", &column), ("value", &self.value)],
        )
    }
}

impl GroupOut {
    /// The group's message in `lang`, naming its one value or, with several, the first.
    pub fn message_in(&self, lang: Lang) -> String {
        let column = self.column.clone().unwrap_or_default();
        let value = match self.values.as_slice() {
            [one] if self.more_values == 0 => one.value.clone(),
            [first, ..] => format!("{}, …", first.value),
            [] => String::new(),
        };
        render(
            lang,
            &format!("rule.{}", self.rule),
            &[("column", &column), ("value", &value)],
        )
    }
}

impl Report {
    pub fn new(p: &Pipeline, inputs: &[InputReport]) -> Self {
        let pipeline = PipelineRef {
            id: p.pipeline.id.clone(),
            name: p.pipeline.name.clone(),
            file: p.file.display().to_string(),
            source: p.pipeline.source.clone(),
            ref_area: p.pipeline.ref_area.clone(),
        };
        let rules = REGISTRY
            .iter()
            .map(|r| RuleInfo {
                id: r.id,
                level: r.level,
                severity: rules::severity(p, r.id, None),
                checks: r.checks(Lang::En),
            })
            .collect();
        let mut report = Self::assemble(pipeline, inputs, rules);
        report.audit.pipeline_sha256 = crate::runs::hash_file(&p.file).ok().map(|h| h.sha256);
        report
    }

    /// A report on `inputs` of any kind of pipeline.
    pub fn assemble(pipeline: PipelineRef, inputs: &[InputReport], rules: Vec<RuleInfo>) -> Self {
        let raw = inputs;
        let inputs: Vec<InputOut> = inputs.iter().map(input_out).collect();
        let mut s = Summary::default();
        for i in &inputs {
            s.rows_read += i.rows_read;
            s.rows_valid += i.rows_valid;
            s.rows_with_errors += i.rows_with_errors;
            s.rows_quarantined += i.rows_quarantined;
            s.rows_with_warnings += i.rows_with_warnings;
            for c in &i.counts {
                *match c.severity {
                    Severity::Error => &mut s.errors,
                    Severity::Quarantine => &mut s.quarantined,
                    Severity::Warning => &mut s.warnings,
                    Severity::Info => &mut s.infos,
                } += c.count;
            }
        }
        let loadable = s.errors == 0;
        let audit = Audit {
            generated_at: iso_time(&crate::load::warehouse::now_stamp()),
            migstat_version: crate::VERSION.to_string(),
            pipeline_id: pipeline.id.clone(),
            pipeline_file: pipeline.file.clone(),
            pipeline_sha256: None,
            inputs: inputs
                .iter()
                .zip(raw)
                .map(|(i, r)| AuditInput {
                    record: i.record.clone(),
                    name: i.file.clone(),
                    size_bytes: i.file_facts.size_bytes,
                    sha256: r.sha256.clone(),
                })
                .collect(),
            periods: raw.first().map(|r| r.periods.clone()).unwrap_or_default(),
        };
        Report {
            format: FORMAT,
            migstat_version: crate::VERSION,
            pipeline,
            loadable,
            exit_code: if loadable { 0 } else { 1 },
            summary: s,
            inputs,
            rules,
            audit,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the report to `path` in the format its extension names (`.json`, `.html`,
    /// `.htm`, `.txt`).
    pub fn write(&self, path: &Path) -> Result<()> {
        self.write_in(path, Lang::En)
    }

    /// `write`, with the text and HTML in `lang` (the JSON keeps its English messages and
    /// carries every parameter).
    pub fn write_in(&self, path: &Path, lang: Lang) -> Result<()> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let body = match ext.as_str() {
            "json" => self.to_json(),
            "html" | "htm" => html::render(self, lang),
            "txt" => text::render(self, false, lang),
            _ => {
                return Err(MigError::Other(format!(
                    "{}: the report's format follows its extension: use .json, .html or .txt",
                    path.display()
                )))
            }
        };
        std::fs::write(path, body).map_err(|e| MigError::io(path, e))
    }

    /// Writes `validation.json`, `validation.html` and `validation.txt` into a run's folder.
    pub fn write_run_files(&self, run_dir: &Path) -> Result<()> {
        self.write_run_files_in(run_dir, Lang::En)
    }

    /// `write_run_files`, the text and HTML in `lang`.
    pub fn write_run_files_in(&self, run_dir: &Path, lang: Lang) -> Result<()> {
        for name in ["validation.json", "validation.html", "validation.txt"] {
            self.write_in(&run_dir.join(name), lang)?;
        }
        Ok(())
    }
}

fn input_out(r: &InputReport) -> InputOut {
    let order = |rule: &str| {
        REGISTRY
            .iter()
            .position(|x| x.id == rule)
            .unwrap_or(usize::MAX)
    };
    let mut counts: Vec<RuleCountOut> = r
        .findings
        .rules
        .iter()
        .map(|(rule, c)| RuleCountOut {
            rule: rule.clone(),
            severity: c.severity.unwrap_or(Severity::Info),
            count: c.count,
            listed: c.listed,
            not_listed: c.count - c.listed,
        })
        .collect();
    counts.sort_by_key(|c| order(&c.rule));
    let mut listed: Vec<&Finding> = r.findings.listed.iter().collect();
    listed.sort_by_key(|f| (order(&f.rule), f.line));
    let mut groups: Vec<GroupOut> = r
        .findings
        .groups
        .iter()
        .map(|((rule, column), g)| group_out(r, rule, column, g))
        .collect();
    groups.sort_by_key(|g| (order(&g.rule), g.first_line));
    InputOut {
        record: r.record.clone(),
        file: r.file.clone(),
        file_facts: r.facts.clone(),
        rows_checked: r.rows_checked,
        rows_read: r.rows_read,
        rows_valid: r.rows_valid(),
        rows_with_errors: r.rows_with_errors(),
        rows_quarantined: r.rows_quarantined(),
        rows_with_warnings: r.rows_with_warnings(),
        counts,
        findings: listed.into_iter().map(|f| finding_out(r, f)).collect(),
        max_per_rule: r.findings.cap,
        notes: r.notes.clone(),
        groups,
        causes: r.causes.clone(),
        key_columns: r.key_columns.clone(),
    }
}

/// `20261202T061630Z` as `2026-12-02T06:16:30Z` (other text as it is).
fn iso_time(stamp: &str) -> String {
    let b = stamp.as_bytes();
    if b.len() != 16 || b[8] != b'T' || !stamp.is_ascii() {
        return stamp.to_string();
    }
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty() && s != "-").then(|| s.to_string())
}

/// The file's label of `value` in `column`, when it has one.
fn label(r: &InputReport, column: &str, value: &str) -> Option<String> {
    causes::label_of(r.labels.get(column)?, value).cloned()
}

fn finding_out(r: &InputReport, f: &Finding) -> FindingOut {
    FindingOut {
        rule: f.rule.clone(),
        severity: f.severity,
        line: (f.line > 0).then_some(f.line),
        key: opt(&f.key),
        column: opt(&f.column),
        value: f.value.clone(),
        message: f.message.clone(),
        duplicate_of: (f.rule == "duplicate_key")
            .then(|| r.duplicate_of.get(&f.value).copied())
            .flatten()
            .filter(|&l| l != f.line),
        label: label(r, &f.column, &f.value),
    }
}

fn group_out(r: &InputReport, rule: &str, column: &str, g: &Group) -> GroupOut {
    let top = g.top_values();
    let shown = top.len().min(GROUP_VALUES_SHOWN);
    let values: Vec<ValueCount> = top[..shown]
        .iter()
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, n)| ValueCount {
            value: v.to_string(),
            count: *n,
            label: label(r, column, v),
        })
        .collect();
    let more = (top.len() - shown) as u64 + u64::from(g.untracked > 0);
    let cause = r
        .causes
        .iter()
        .find(|c| c.rule == rule && c.column.as_deref().is_none_or(|c| c == column))
        .map(|c| c.kind.to_string());
    let mut out = GroupOut {
        rule: rule.to_string(),
        severity: g.severity.unwrap_or(Severity::Info),
        column: opt(column),
        count: g.count,
        first_line: (g.first_line > 0).then_some(g.first_line),
        last_line: (g.last_line > 0).then_some(g.last_line),
        first_key: opt(&g.first_key).filter(|k| *k != g.first_line.to_string()),
        values,
        more_values: more,
        message: String::new(),
        cause,
    };
    out.message = out.message_in(Lang::En);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_read_as_iso_times() {
        assert_eq!(super::iso_time("20261202T061630Z"), "2026-12-02T06:16:30Z");
        assert_eq!(super::iso_time("now"), "now");
    }
}
