//! File rules (level 0) on the bytes of a delimited upload: empty file, encoding, delimiter,
//! line ends, a cut-off last line, size.
//!
//! `extract::csv` decides the encoding (declared, else UTF-8 with or without BOM when the first
//! 64 KiB are UTF-8, else latin-1) and the delimiter (declared, else the commonest of `, ; TAB |`
//! in the header line), and stops at the first cell that is not valid text. This scan takes its
//! decisions and reads the whole file once more, keeping nothing but counts, so that every bad
//! cell is reported with its line, column and key and the rows can still be checked (read as
//! latin-1).
mod cells;

use std::io::{Cursor, Read};
use std::path::Path;

use super::{finding, Findings};
use crate::config::pipeline::{Input, Pipeline};
use crate::error::{MigError, Result};
use crate::extract::csv::CsvSpec;
use crate::extract::data::{limit_of, open_data};
use crate::extract::{limits, CsvSource};
use cells::RowScan;

const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const HEAD: u64 = 65536;

/// What the scan learnt about the file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileFacts {
    /// Bytes on disk (for a zip, the archive).
    pub size_bytes: u64,
    pub encoding: Option<String>,
    pub bom: bool,
    pub delimiter: Option<String>,
    /// `LF`, `CRLF`, `CR`, `mixed` or `none` (a single line without a break).
    pub line_endings: Option<String>,
    pub columns: usize,
    /// Data rows (records after the header).
    pub rows: u64,
}

#[derive(Debug, Clone, Default)]
pub struct FileScan {
    pub facts: FileFacts,
    /// The rows cannot be checked: the file is empty, UTF-16, or not split by its delimiter.
    pub stop: bool,
    /// Cells that are not valid UTF-8 were found: map the rows as latin-1 to check the rest.
    pub read_as_latin1: bool,
}

/// Scans `path` (the input `input` of pipeline `p`), adding findings; an error means the file
/// cannot be read at all.
pub fn scan(p: &Pipeline, input: &Input, path: &Path, findings: &mut Findings) -> Result<FileScan> {
    let meta = std::fs::metadata(path).map_err(|e| MigError::Unreadable {
        path: path.to_path_buf(),
        msg: format!("cannot open: {e}"),
    })?;
    let mut out = FileScan::default();
    out.facts.size_bytes = meta.len();
    let limit = p.validation.max_file_mb;
    if meta.len() as f64 > limit * 1e6 {
        let mb = meta.len() as f64 / 1e6;
        let msg = format!(
            "the file has {mb:.0} MB, more than the {limit} MB this pipeline expects (validation.max_file_mb): is it the right file?"
        );
        let value = format!("{mb:.0} MB");
        findings.push(finding(p, "file_size", 0, "", "", value, msg));
    }
    if input.kind == "csv" {
        scan_csv(p, input, path, findings, &mut out)?;
    }
    Ok(out)
}

fn scan_csv(
    p: &Pipeline,
    input: &Input,
    path: &Path,
    findings: &mut Findings,
    out: &mut FileScan,
) -> Result<()> {
    let mut data = open_data(path, input.member.as_deref(), &input.limits)?.reader;
    let mut head = Vec::new();
    (&mut data)
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| limit_of(&e).map_or_else(|| MigError::io(path, e), MigError::from))?;
    out.facts.bom = head.starts_with(BOM);
    if refuse(p, &head, findings) {
        out.stop = true;
        return Ok(());
    }
    let declared = input.encoding.as_deref().map(str::to_ascii_lowercase);
    let mut encoding = input.encoding.clone();
    if matches!(declared.as_deref(), Some("utf-8" | "utf8")) && !header_is_utf8(&head) {
        let msg = "the header line is not valid UTF-8 although the pipeline says utf-8: save the file as UTF-8, or set input.encoding = \"latin-1\"";
        findings.push(finding(p, "encoding", 1, "", "", String::new(), msg.into()));
        out.read_as_latin1 = true;
        encoding = Some("latin-1".into());
    }
    let (member, delimiter) = (input.member.as_deref(), input.delimiter.as_deref());
    let spec = CsvSpec {
        member,
        encoding: encoding.as_deref(),
        delimiter,
        limits: &input.limits,
    };
    let src = CsvSource::open_bounded(path, &spec)?;
    limits::check_headers(&input.limits, &src.display, &src.headers)?;
    out.facts.encoding = Some(src.encoding.name().to_string());
    out.facts.delimiter = Some(delimiter_name(src.delimiter));
    out.facts.columns = src.headers.len();
    if wrong_delimiter(p, &src, &head, findings) {
        out.stop = true;
        return Ok(());
    }
    let skip = if out.facts.bom { BOM.len() } else { 0 };
    let body: Box<dyn Read> = Box::new(Cursor::new(head).chain(data));
    let mut rows = RowScan::new(p, input, &src, declared.as_deref() == Some("latin-1"));
    rows.run(body, skip, findings, path)?;
    out.read_as_latin1 |= rows.bad_utf8;
    out.facts.rows = rows.rows;
    out.facts.line_endings = Some(rows.ends_name().to_string());
    rows.conclude(findings);
    Ok(())
}

/// Files whose rows cannot be read at all: empty, or UTF-16.
fn refuse(p: &Pipeline, head: &[u8], findings: &mut Findings) -> bool {
    let msg = if head.is_empty() {
        findings.push(finding(
            p,
            "empty_file",
            0,
            "",
            "-",
            String::new(),
            "the file is empty (0 bytes): a header line and data rows were expected".into(),
        ));
        return true;
    } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8 (in Excel: \"CSV UTF-8\")"
    } else if first_line(head).contains(&0) {
        "the header line holds NUL bytes: the file is UTF-16 or binary, not delimited text; save it as UTF-8 CSV"
    } else {
        return false;
    };
    findings.push(finding(
        p,
        "encoding",
        1,
        "",
        "-",
        String::new(),
        msg.into(),
    ));
    true
}

fn first_line(head: &[u8]) -> &[u8] {
    head.split(|&b| b == b'\n').next().unwrap_or(head)
}

/// Whether the header line is UTF-8 (a character cut at the end of the sample counts as UTF-8).
fn header_is_utf8(head: &[u8]) -> bool {
    let line = first_line(head);
    let line = line.strip_prefix(BOM).unwrap_or(line);
    match std::str::from_utf8(line) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && line.len() == head.len(),
    }
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        d => (d as char).to_string(),
    }
}

/// A header of one column that holds another delimiter: the file is split by something else.
fn wrong_delimiter(p: &Pipeline, src: &CsvSource, head: &[u8], findings: &mut Findings) -> bool {
    if src.headers.len() != 1 {
        return false;
    }
    let line = first_line(head);
    let Some((other, n)) = [b',', b';', b'\t', b'|']
        .into_iter()
        .filter(|&d| d != src.delimiter)
        .map(|d| (d, line.iter().filter(|&&b| b == d).count()))
        .max_by_key(|x| x.1)
        .filter(|x| x.1 > 0)
    else {
        return false;
    };
    let (used, other) = (delimiter_name(src.delimiter), delimiter_name(other));
    findings.push(finding(p, "delimiter", 1, "", "-", used.clone(), format!(
        "the header line has no {used:?} but {n} {other:?}: the file seems to be {other:?}-separated; set input.delimiter = {other:?} or save the file with {used:?}"
    )));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_cut_in_a_character_is_still_utf8() {
        assert!(header_is_utf8("a,é\n".as_bytes()));
        assert!(!header_is_utf8(b"a,\xe9\nb"));
        assert!(header_is_utf8(&"a,é".as_bytes()[..3]));
    }
}
