//! Upload validation: the defect corpus (`defects_file.rs`, `defects_rows.rs`: a clean synthetic
//! upload with one defect injected at a time, each reported with its rule, line and column), the
//! shipped samples
//! (`samples.rs`: every pipeline loadable, the StatCan month clean), the reports in their three
//! formats (`reports.rs`) and the run driver's hook with quarantine (`hook.rs`).
mod defects_file;
mod defects_rows;
mod hook;
mod reports;
mod samples;

use std::path::{Path, PathBuf};

use migstat::validate::report::{FindingOut, Report};
use migstat::validate::ValidateArgs;

use crate::common::{repo, temp_dir};

/// A delimited upload held as cells, to be doctored and written out.
#[derive(Clone)]
pub struct Upload {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Upload {
    pub fn read(rel: &str) -> Self {
        let text = std::fs::read_to_string(repo().join(rel)).expect("sample");
        let mut lines = text
            .lines()
            .map(|l| l.split(',').map(str::to_string).collect());
        Upload {
            header: lines.next().expect("header"),
            rows: lines.collect(),
        }
    }

    /// The clean Thai synthetic person file.
    pub fn tha() -> Self {
        Self::read("sample_data/synth/tha_lfs_synth_persons.csv")
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// The value of `column` on physical `line` (header = 1).
    pub fn get(&self, line: u64, column: &str) -> &str {
        &self.rows[line as usize - 2][self.col(column)]
    }

    pub fn set(&mut self, line: u64, column: &str, value: &str) {
        let c = self.col(column);
        self.rows[line as usize - 2][c] = value.to_string();
    }

    /// The first line whose row satisfies `pred` (cells by column name).
    pub fn find(&self, pred: impl Fn(&dyn Fn(&str) -> String) -> bool) -> u64 {
        let i = self
            .rows
            .iter()
            .position(|r| pred(&|c: &str| r[self.col(c)].clone()))
            .expect("a row matching the predicate");
        i as u64 + 2
    }

    /// Adds a column with the same value on every row.
    pub fn add_column(&mut self, name: &str, value: &str) {
        self.header.push(name.to_string());
        for r in &mut self.rows {
            r.push(value.to_string());
        }
    }

    pub fn text(&self, eol: &str) -> String {
        let mut out = self.header.join(",") + eol;
        for r in &self.rows {
            out.push_str(&r.join(","));
            out.push_str(eol);
        }
        out
    }
}

/// A pipeline from `pipelines/` reading `input` (its roster stays the shipped one), with its
/// text edited by `edit`.
pub fn pipeline_for(
    dir: &Path,
    name: &str,
    input: &Path,
    edit: &dyn Fn(String) -> String,
) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines").join(name)).expect("pipeline");
    // Uploads here are CSV edits of the CSV samples, also for surveys that ship as SPSS/Stata.
    let text = text
        .replacen("type = \"spss\"", "type = \"csv\"", 1)
        .replacen("type = \"stata\"", "type = \"csv\"", 1);
    let samples = repo().join("sample_data");
    let mut first = true;
    let text: String = text
        .lines()
        .map(|l| match l.strip_prefix("path = \"../sample_data/") {
            Some(_) if std::mem::take(&mut first) => {
                format!("path = {:?}\n", input.display().to_string())
            }
            Some(rest) => format!(
                "path = {:?}\n",
                format!("{}/{}", samples.display(), rest.trim_end_matches('"'))
            ),
            None => format!("{l}\n"),
        })
        .collect();
    let p = dir.join(name);
    std::fs::write(&p, edit(text)).expect("write pipeline");
    p
}

pub fn args(pipeline: &Path) -> ValidateArgs {
    ValidateArgs {
        pipeline: pipeline.to_path_buf(),
        input: None,
        report: None,
        max_per_rule: 100,
        warehouse: None,
        schemas: None,
        limit: Vec::new(),
        color: migstat::validate::command::Colour::Never,
        lang: migstat::validate::messages::Lang::En,
    }
}

/// Writes `bytes` as the input of a copy of pipeline `name` and validates it.
pub fn validate_bytes(
    test: &str,
    name: &str,
    bytes: &[u8],
    edit: &dyn Fn(String) -> String,
) -> Report {
    let dir = temp_dir(&format!("validate-{test}"));
    let input = dir.join("upload.csv");
    std::fs::write(&input, bytes).expect("write upload");
    let p = pipeline_for(&dir, name, &input, edit);
    let report = migstat::validate::command::validate(&args(&p)).expect("validation ran");
    let _ = std::fs::remove_dir_all(&dir);
    report
}

/// The person file's findings of `rule`.
pub fn of_rule<'a>(r: &'a Report, rule: &str) -> Vec<&'a FindingOut> {
    r.inputs[0]
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .collect()
}

/// Asserts that `rule` was reported at `line` (None: not tied to a line) and `column` ("": not
/// tied to a column).
pub fn assert_found(r: &Report, rule: &str, line: Option<u64>, column: &str) {
    let column = (!column.is_empty()).then_some(column);
    let hit = of_rule(r, rule)
        .into_iter()
        .any(|f| f.line == line && f.column.as_deref() == column);
    assert!(
        hit,
        "{rule} at line {line:?}, column {column:?} not reported:\n{}",
        migstat::validate::report::text::render(r, false, migstat::validate::messages::Lang::En)
    );
}

pub const THA: &str = "tha_lfs_synth.toml";
pub const ARM: &str = "arm_lfs_synth.toml";

pub fn keep(s: String) -> String {
    s
}

/// Validates the Thai upload after `doctor`, the pipeline edited by `edit`.
pub fn tha(test: &str, doctor: impl Fn(&mut Upload), edit: &dyn Fn(String) -> String) -> Report {
    let mut u = Upload::tha();
    doctor(&mut u);
    validate_bytes(test, THA, u.text("\n").as_bytes(), edit)
}

/// A line of the Thai file whose row satisfies `pred`.
pub fn line_where(pred: impl Fn(&dyn Fn(&str) -> String) -> bool) -> u64 {
    Upload::tha().find(pred)
}
