//! The validation report: one model, serialised as JSON with a stable schema
//! (`docs/validation-report.md`), rendered as terminal text (`text.rs`) and as one
//! self-contained HTML page (`html.rs`).
pub mod html;
pub mod text;

use std::path::Path;

use serde::Serialize;

use super::file::FileFacts;
use super::input::InputReport;
use super::rules::{self, Level, REGISTRY};
use super::Finding;
use crate::config::pipeline::{Pipeline, Severity};
use crate::error::{MigError, Result};

/// The `format` of every report this version writes; bumped only on an incompatible change.
pub const FORMAT: &str = "migstat-validation-report/1";

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
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub level: Level,
    pub severity: Severity,
    pub checks: &'static str,
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
                checks: r.checks,
            })
            .collect();
        Self::assemble(pipeline, inputs, rules)
    }

    /// A report on `inputs` of any kind of pipeline.
    pub fn assemble(pipeline: PipelineRef, inputs: &[InputReport], rules: Vec<RuleInfo>) -> Self {
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
        Report {
            format: FORMAT,
            migstat_version: crate::VERSION,
            pipeline,
            loadable,
            exit_code: if loadable { 0 } else { 1 },
            summary: s,
            inputs,
            rules,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the report to `path` in the format its extension names (`.json`, `.html`,
    /// `.htm`, `.txt`).
    pub fn write(&self, path: &Path) -> Result<()> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let body = match ext.as_str() {
            "json" => self.to_json(),
            "html" | "htm" => html::render(self),
            "txt" => text::render(self, false),
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
        for name in ["validation.json", "validation.html", "validation.txt"] {
            self.write(&run_dir.join(name))?;
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
        findings: listed.into_iter().map(finding_out).collect(),
        max_per_rule: r.findings.cap,
        notes: r.notes.clone(),
    }
}

fn finding_out(f: &Finding) -> FindingOut {
    let opt = |s: &str| (!s.is_empty() && s != "-").then(|| s.to_string());
    FindingOut {
        rule: f.rule.clone(),
        severity: f.severity,
        line: (f.line > 0).then_some(f.line),
        key: opt(&f.key),
        column: opt(&f.column),
        value: f.value.clone(),
        message: f.message.clone(),
    }
}
