//! Validation of one input file, in two modes:
//! - `validate_stream` (the `validate` command): file scan, then the mapping run chunk by chunk
//!   with every row rule applied and the chunk dropped, so memory stays bounded (a key
//!   fingerprint per row, a few words per household and stratum);
//! - `validate_normalized` (the run driver): the same rules on a frame `normalize` built, with
//!   rows that rules set to `quarantine` taken out of the frame and set aside with their cells.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use super::causes::Cause;
use super::file::{self, FileFacts};
use super::rows::RowChecks;
use super::{header, Findings};
use crate::config::pipeline::{Pipeline, Severity};
use crate::error::Result;
use crate::extract;
use crate::normalize::{normalize_with, Chunks, Normalized, QuarantinedRow, RecordSpec};
use crate::schema::Schema;

/// Rows mapped before the row rules run on them and the chunk is dropped.
const CHUNK_ROWS: usize = 8_192;

/// Rows of one period and their weighted total.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeriodCount {
    pub period: String,
    pub rows: u64,
    pub weighted: f64,
}

/// What validation found in one input file.
#[derive(Debug, Clone, Default)]
pub struct InputReport {
    /// `person` or `emigrant`.
    pub record: String,
    /// The file as messages name it (`archive.zip!member.csv` for a zip member).
    pub file: String,
    pub facts: FileFacts,
    pub rows_read: u64,
    /// False when the file or its header kept the rows from being checked.
    pub rows_checked: bool,
    pub findings: Findings,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
    /// Columns of the business key (empty: the line number is the key).
    pub key_columns: Vec<String>,
    /// Columns in the header (also when the file scan could not count them).
    pub headers: usize,
    /// File-level causes of groups of findings.
    pub causes: Vec<Cause>,
    /// For each duplicated key listed, the line it first occurs on.
    pub duplicate_of: HashMap<String, u64>,
    /// The file's value labels of the columns with unknown codes.
    pub labels: BTreeMap<String, crate::extract::Labels>,
    /// Rows loaded per period, with their weighted total.
    pub periods: Vec<PeriodCount>,
    pub sha256: Option<String>,
}

impl InputReport {
    pub fn rows_with_errors(&self) -> u64 {
        self.findings.rows_with(Severity::Error)
    }

    pub fn rows_quarantined(&self) -> u64 {
        self.findings.rows_with(Severity::Quarantine)
    }

    /// Rows that load but have a warning.
    pub fn rows_with_warnings(&self) -> u64 {
        self.findings.rows_with(Severity::Warning)
    }

    /// Rows that would load (warnings allowed).
    pub fn rows_valid(&self) -> u64 {
        if !self.rows_checked {
            return 0;
        }
        self.rows_read
            .saturating_sub(self.rows_with_errors() + self.rows_quarantined())
    }

    /// No finding of severity error.
    pub fn loadable(&self) -> bool {
        !self.findings.has_errors()
    }
}

/// Validates the input `spec` reads (or `path` instead), streaming.
pub fn validate_stream(
    p: &Pipeline,
    schema: &Schema,
    spec: &RecordSpec,
    path: Option<&Path>,
    cap: u64,
    warehouse: Option<&Path>,
) -> Result<InputReport> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => extract::locate(spec.input, &p.dir)?,
    };
    // The SHA-256 the report names is taken by the first reader of a delimited file as it reads
    // (the others are hashed on a thread of their own while the rows are read).
    let (_request, hashing) = match extract::data::read_whole(&spec.input.kind, &path) {
        true => (Some(crate::runs::hash_when_read(&path)), None),
        false => {
            let path = path.clone();
            let hashing = std::thread::spawn(move || crate::runs::hash_file(&path).is_ok());
            (None, Some(hashing))
        }
    };
    // The file rules scan the bytes on a thread of their own while the rows are mapped. A
    // file whose cells are not all UTF-8 is mapped again, as latin-1, once the scan says so.
    let (scanned, mapped) = std::thread::scope(|s| {
        let scan = s.spawn(|| {
            let mut findings = Findings::with_cap(cap);
            file::scan(p, spec.input, &path, &mut findings).map(|scan| (scan, findings))
        });
        let mapped = map_and_check(p, schema, spec, &path, false, cap, warehouse);
        let scanned = scan
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (scanned, mapped)
    });
    let (scan, findings) = scanned?;
    let mut report = InputReport {
        record: spec.record.record.clone(),
        file: path.display().to_string(),
        rows_read: scan.facts.rows,
        facts: scan.facts.clone(),
        rows_checked: false,
        findings,
        ..Default::default()
    };
    if scan.stop {
        report.notes.push(
            "the rows were not checked: the file cannot be read as it is (see the file findings)"
                .into(),
        );
        let _ = hashing.map(|h| h.join());
        super::context::enrich(&mut report, spec, &path);
        return Ok(report);
    }
    let (n, part) = match scan.read_as_latin1 {
        false => mapped?,
        true => {
            report.notes.push("cells that are not valid UTF-8 were found: the rows were checked reading the file as latin-1".into());
            map_and_check(p, schema, spec, &path, true, cap, warehouse)?
        }
    };
    report.findings.merge(part.findings);
    report.notes.extend(part.notes);
    report.periods = part.periods;
    report.headers = part.headers;
    finish_report(&mut report, n);
    let _ = hashing.map(|h| h.join());
    super::context::enrich(&mut report, spec, &path);
    Ok(report)
}

/// The mapping run chunk by chunk with the row rules on each chunk (as latin-1 when `latin1`),
/// then the header rules; the header and row rules' findings, notes, periods and header width
/// come back in a report of their own, to follow the file rules' findings.
fn map_and_check(
    p: &Pipeline,
    schema: &Schema,
    spec: &RecordSpec,
    path: &Path,
    latin1: bool,
    cap: u64,
    warehouse: Option<&Path>,
) -> Result<(Normalized, InputReport)> {
    let mut input = spec.input.clone();
    if latin1 {
        input.encoding = Some("latin-1".into());
    }
    // The rows are checked and dropped chunk by chunk; their replicate weights are checked as
    // they are mapped and not kept.
    let spec = RecordSpec {
        input: &input,
        keep_replicates: false,
        ..*spec
    };
    let mut checks = RowChecks::new(p, &spec, schema);
    let mut sink = |n: &mut Normalized| {
        checks.check(&n.frame, &mut n.findings);
        n.frame.clear_rows();
        n.quarantined.clear();
        checks.take_error().map_or(Ok(()), Err)
    };
    let chunks = Chunks {
        rows: CHUNK_ROWS,
        sink: &mut sink,
    };
    let mut n = normalize_with(p, schema, &spec, Some(path), cap, Some(chunks))?;
    let mut part = InputReport {
        findings: Findings::with_cap(cap),
        ..Default::default()
    };
    header::check(p, &spec, &n.headers, &mut part.findings);
    part.notes = checks.finish(&n.frame, &mut n.findings, warehouse);
    part.periods = checks.periods();
    part.headers = n.headers.len();
    Ok((n, part))
}

fn finish_report(report: &mut InputReport, n: Normalized) {
    report.file = n.display.display().to_string();
    report.rows_checked = n.rows_read > 0 || report.facts.rows == 0;
    if report.rows_checked {
        report.rows_read = n.rows_read;
    } else {
        report.notes.push(
            "the rows were not checked: the columns the pipeline maps are not all in the header (see missing_column)"
                .into(),
        );
    }
    report.findings.merge(n.findings);
}

/// The run driver's validation of one input whose rows stream past chunk by chunk: file and
/// header rules, the row rules on each chunk (rows they set to `quarantine` leave the chunk, and
/// are set aside with their cells, read back from the input, at the end) and the comparison with
/// the warehouse. [`validate_normalized`] is the same on a whole frame.
pub struct RunChecks<'a> {
    p: &'a Pipeline,
    spec: &'a RecordSpec<'a>,
    checks: RowChecks<'a>,
    rows: Findings,
    /// Rows set aside by the row rules: line, key, rule, message.
    hits: Vec<(u64, String, &'static str, String)>,
    /// Rows of the frame that stayed, over every chunk.
    pub loaded: u64,
}

/// The file rules' outcome, found on a thread of its own while the rows are read.
pub struct FileRules(Result<file::FileScan>, Findings);

/// Runs the file rules (bytes: encoding, delimiter, line ends, size) on the input at `path`.
pub fn file_rules(p: &Pipeline, spec: &RecordSpec, path: &Path, cap: u64) -> FileRules {
    let mut findings = Findings::with_cap(cap);
    let scan = file::scan(p, spec.input, path, &mut findings);
    FileRules(scan, findings)
}

impl<'a> RunChecks<'a> {
    pub fn new(p: &'a Pipeline, spec: &'a RecordSpec<'a>, schema: &'a Schema, cap: u64) -> Self {
        RunChecks {
            p,
            spec,
            checks: RowChecks::new(p, spec, schema),
            rows: Findings::with_cap(cap),
            hits: Vec::new(),
            loaded: 0,
        }
    }

    /// Applies the row rules to the rows of `n.frame`; the rows they set aside leave it.
    pub fn chunk(&mut self, n: &mut Normalized) {
        let hits = self.checks.check(&n.frame, &mut self.rows);
        if !hits.is_empty() {
            let mut keep = vec![true; n.frame.len()];
            for q in hits {
                keep[q.row] = false;
                self.hits.push((
                    n.frame.line.at(q.row),
                    n.frame.key.str(q.row).to_string(),
                    q.rule,
                    q.message,
                ));
            }
            n.frame.retain(&keep);
        }
        self.loaded += n.frame.len() as u64;
    }

    /// The end of the input: the rules over all rows, the findings of a whole pass (file,
    /// header, rows), the rows set aside with their cells; returns this input's report.
    pub fn finish(
        mut self,
        file: FileRules,
        n: &mut Normalized,
        warehouse: Option<&Path>,
    ) -> Result<InputReport> {
        if let Some(e) = self.checks.take_error() {
            return Err(e);
        }
        let FileRules(scan, mut findings) = file;
        let scan = scan?;
        header::check(self.p, self.spec, &n.headers, &mut findings);
        findings.merge(self.rows);
        let notes = self.checks.finish(&n.frame, &mut findings, warehouse);
        set_aside(self.spec, n, self.hits)?;
        n.findings.merge(findings);
        let rows_checked = n.rows_read > 0 || scan.facts.rows == 0;
        let mut report = InputReport {
            record: self.spec.record.record.clone(),
            file: n.display.display().to_string(),
            facts: scan.facts,
            rows_read: n.rows_read,
            rows_checked,
            findings: n.findings.clone(),
            notes,
            periods: self.checks.periods(),
            headers: n.headers.len(),
            ..Default::default()
        };
        super::context::enrich(&mut report, self.spec, &n.path);
        Ok(report)
    }
}

/// The run driver's hook, after `normalize` of one whole input: [`RunChecks`] on the frame as one
/// chunk (the file's bytes are scanned on a thread of their own meanwhile). Every finding is
/// added to `n.findings`.
pub fn validate_normalized(
    p: &Pipeline,
    schema: &Schema,
    spec: &RecordSpec,
    n: &mut Normalized,
    warehouse: Option<&Path>,
) -> Result<InputReport> {
    let cap = n.findings.cap;
    let mut checks = RunChecks::new(p, spec, schema, cap);
    let path = n.path.clone();
    let file = std::thread::scope(|s| {
        let scan = s.spawn(|| file_rules(p, spec, &path, cap));
        checks.chunk(n);
        scan.join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    checks.finish(file, n, warehouse)
}

/// Appends the rows set aside by the row rules (line, key, rule, message) to the quarantined
/// rows, with their cells read back from the input, in file order.
fn set_aside(
    spec: &RecordSpec,
    n: &mut Normalized,
    hits: Vec<(u64, String, &'static str, String)>,
) -> Result<()> {
    if hits.is_empty() {
        return Ok(());
    }
    let mut by_line: HashMap<u64, (String, &'static str, String)> = hits
        .into_iter()
        .map(|(line, key, rule, message)| (line, (key, rule, message)))
        .collect();
    let mut src = extract::open(spec.input, &n.path)?;
    let mut cells = Vec::new();
    // Read up to the last row set aside.
    while !by_line.is_empty() {
        let Some(line) = src.next_into(&mut cells)? else {
            break;
        };
        if let Some((key, rule, message)) = by_line.remove(&line) {
            n.quarantined.push(QuarantinedRow {
                cells: cells.clone(),
                line,
                key,
                rule: rule.to_string(),
                message,
            });
        }
    }
    Ok(())
}
