//! File rules (level 0) on the bytes of a delimited upload: empty file, encoding, delimiter,
//! line ends, a cut-off last line, size.
//!
//! `extract::csv` decides the encoding (declared, else UTF-8 with or without BOM when the first
//! 64 KiB are UTF-8, else latin-1) and the delimiter (declared, else the commonest of `, ; TAB |`
//! in the header line), and stops at the first cell that is not valid text. This scan takes its
//! decisions and reads the whole file once more, keeping nothing but counts, so that every bad
//! cell is reported with its line, column and key and the rows can still be checked (read as
//! latin-1).
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use super::{finding, Findings};
use crate::config::pipeline::{Input, Pipeline};
use crate::error::{MigError, Result};
use crate::extract::csv::{record_line, LastChunk};
use crate::extract::{CsvSource, Encoding};

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
        findings.push(finding(p, "file_size", 0, "", "-", format!("{mb:.0} MB"), format!(
            "the file has {mb:.0} MB, more than the {limit} MB this pipeline expects (validation.max_file_mb): is it the right file?"
        )));
    }
    if input.kind != "csv" {
        return Ok(out);
    }
    let mut data = open_data(path, input.member.as_deref())?;
    let mut head = Vec::new();
    (&mut data)
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| MigError::io(path, e))?;
    out.facts.bom = head.starts_with(BOM);
    if refuse(p, &head, findings) {
        out.stop = true;
        return Ok(out);
    }
    let declared = input.encoding.as_deref().map(str::to_ascii_lowercase);
    let mut encoding = input.encoding.clone();
    if matches!(declared.as_deref(), Some("utf-8" | "utf8")) && !header_is_utf8(&head) {
        let msg = "the header line is not valid UTF-8 although the pipeline says utf-8: save the file as UTF-8, or set input.encoding = \"latin-1\"";
        findings.push(finding(
            p,
            "encoding",
            1,
            "",
            "-",
            String::new(),
            msg.into(),
        ));
        out.read_as_latin1 = true;
        encoding = Some("latin-1".into());
    }
    let src = CsvSource::open(
        path,
        input.member.as_deref(),
        encoding.as_deref(),
        input.delimiter.as_deref(),
    )?;
    out.facts.encoding = Some(src.encoding.name().to_string());
    out.facts.delimiter = Some(delimiter_name(src.delimiter));
    out.facts.columns = src.headers.len();
    if wrong_delimiter(p, &src, &head, findings) {
        out.stop = true;
        return Ok(out);
    }
    let body: Box<dyn Read> = Box::new(Cursor::new(head).chain(data));
    let mut rows = RowScan::new(p, input, &src, declared.as_deref() == Some("latin-1"));
    rows.run(body, findings, path)?;
    out.read_as_latin1 |= rows.bad_utf8;
    out.facts.rows = rows.rows;
    out.facts.line_endings = Some(rows.ends.name().to_string());
    rows.conclude(findings);
    Ok(out)
}

/// The data of the file: plain, gzip-decompressed, or the zip member (as `extract::csv` picks it).
fn open_data(path: &Path, member: Option<&str>) -> Result<Box<dyn Read>> {
    let unreadable = |msg: String| MigError::Unreadable {
        path: path.to_path_buf(),
        msg,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(format!("cannot open: {e}")))?;
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".gz") {
        let gz = flate2::read::MultiGzDecoder::new(BufReader::new(file));
        return Ok(Box::new(BufReader::new(gz)));
    }
    if !name.ends_with(".zip") {
        return Ok(Box::new(BufReader::new(file)));
    }
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| unreadable(format!("not a readable zip archive: {e}")))?;
    let pattern = glob::Pattern::new(member.unwrap_or("*.csv"))
        .map_err(|e| unreadable(format!("bad member pattern: {e}")))?;
    let opts = glob::MatchOptions {
        case_sensitive: false,
        ..Default::default()
    };
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .collect();
    let hits: Vec<&String> = names
        .iter()
        .filter(|n| {
            let base = n.rsplit('/').next().unwrap_or(n);
            pattern.matches_with(base, opts) || pattern.matches_with(n, opts)
        })
        .collect();
    let [one] = hits.as_slice() else {
        return Err(unreadable(format!(
            "{} members match {:?}: name one in the pipeline's input.member",
            hits.len(),
            pattern.as_str()
        )));
    };
    let mut bytes = Vec::new();
    zip.by_name(one)
        .and_then(|mut m| m.read_to_end(&mut bytes).map_err(Into::into))
        .map_err(|e| unreadable(format!("member {one} is damaged: {e}")))?;
    Ok(Box::new(Cursor::new(bytes)))
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

/// Line ends seen in the data.
#[derive(Debug, Default)]
struct Ends {
    crlf: u64,
    lf: u64,
    cr: u64,
    prev_cr: bool,
    last: Option<u8>,
}

impl Ends {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' if self.prev_cr => self.crlf += 1,
                b'\n' => self.lf += 1,
                _ if self.prev_cr => self.cr += 1,
                _ => {}
            }
            self.prev_cr = b == b'\r';
        }
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
    }

    fn finish(&mut self) {
        if self.prev_cr {
            self.cr += 1;
            self.prev_cr = false;
        }
    }

    fn name(&self) -> &'static str {
        match (self.crlf > 0, self.lf > 0, self.cr > 0) {
            (false, false, false) => "none",
            (true, false, false) => "CRLF",
            (false, true, false) => "LF",
            (false, false, true) => "CR",
            _ => "mixed",
        }
    }
}

/// Feeds every byte handed to the CSV parser to `Ends`.
struct Counted<'a, R> {
    inner: R,
    ends: &'a mut Ends,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ends.feed(&buf[..n]);
        Ok(n)
    }
}

/// The row pass: cells not valid in the encoding, the last row, line ends.
struct RowScan<'a> {
    p: &'a Pipeline,
    headers: &'a [String],
    utf8: bool,
    declared_latin1: bool,
    key_cols: Vec<usize>,
    delimiter: u8,
    ends: Ends,
    rows: u64,
    bad_utf8: bool,
    /// Non-ASCII cells seen, and whether all of them were valid UTF-8 (first line seen).
    non_ascii: Option<u64>,
    all_utf8: bool,
    last: (u64, usize),
}

impl<'a> RowScan<'a> {
    fn new(p: &'a Pipeline, input: &Input, src: &'a CsvSource, declared_latin1: bool) -> Self {
        let key_cols = input
            .key
            .iter()
            .filter_map(|k| src.headers.iter().position(|h| h.eq_ignore_ascii_case(k)))
            .collect();
        RowScan {
            p,
            headers: &src.headers,
            utf8: src.encoding == Encoding::Utf8,
            declared_latin1,
            key_cols,
            delimiter: src.delimiter,
            ends: Ends::default(),
            rows: 0,
            bad_utf8: false,
            non_ascii: None,
            all_utf8: true,
            last: (0, 0),
        }
    }

    fn run(&mut self, mut body: Box<dyn Read>, findings: &mut Findings, path: &Path) -> Result<()> {
        let mut bom = [0u8; 3];
        let mut skipped = 0;
        let mut peek = (&mut body).take(3);
        while skipped < 3 {
            match peek
                .read(&mut bom[skipped..])
                .map_err(|e| MigError::io(path, e))?
            {
                0 => break,
                n => skipped += n,
            }
        }
        let rest: Box<dyn Read> = if bom[..skipped] == *BOM {
            body
        } else {
            Box::new(Cursor::new(bom[..skipped].to_vec()).chain(body))
        };
        let mut ends = std::mem::take(&mut self.ends);
        let counted = Counted {
            inner: rest,
            ends: &mut ends,
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .flexible(true)
            .has_headers(false)
            .from_reader(LastChunk::new(counted));
        let mut record = ::csv::ByteRecord::new();
        let mut header = true;
        loop {
            let got = reader
                .read_byte_record(&mut record)
                .map_err(|e| MigError::Unreadable {
                    path: path.to_path_buf(),
                    msg: format!("cannot read: {e}"),
                })?;
            if !got {
                break;
            }
            if std::mem::take(&mut header) {
                continue;
            }
            let line = record_line(&reader, &record);
            self.record(&record, line, findings);
        }
        drop(reader);
        ends.finish();
        self.ends = ends;
        Ok(())
    }

    fn record(&mut self, record: &::csv::ByteRecord, line: u64, findings: &mut Findings) {
        self.rows += 1;
        self.last = (line, record.len());
        for (i, cell) in record.iter().enumerate() {
            if cell.is_ascii() {
                continue;
            }
            let valid = std::str::from_utf8(cell).is_ok();
            if self.declared_latin1 {
                self.non_ascii.get_or_insert(line);
                self.all_utf8 &= valid;
            } else if self.utf8 && !valid {
                self.bad_utf8 = true;
                let column = self
                    .headers
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let key = self.key(record, line);
                let value = String::from_utf8_lossy(cell).to_string();
                findings.push(finding(self.p, "encoding", line, &key, &column, value, format!(
                    "the cell is not valid UTF-8 (the file is read as UTF-8): it was probably saved as latin-1 or Windows-1252; save the file as UTF-8, or set input.encoding = \"latin-1\""
                )));
            }
        }
    }

    /// The business key of a raw record, as the pipeline declares it (the line without one).
    fn key(&self, record: &::csv::ByteRecord, line: u64) -> String {
        if self.key_cols.is_empty() {
            return line.to_string();
        }
        let parts: Vec<String> = self
            .key_cols
            .iter()
            .map(|&i| {
                String::from_utf8_lossy(record.get(i).unwrap_or(b""))
                    .trim()
                    .to_string()
            })
            .collect();
        parts.join("-")
    }

    /// Findings known only at the end: no rows, a cut-off last line, mixed line ends, latin-1
    /// that looks like UTF-8.
    fn conclude(&self, findings: &mut Findings) {
        let p = self.p;
        if self.rows == 0 {
            findings.push(finding(
                p,
                "empty_file",
                0,
                "",
                "-",
                String::new(),
                "the file has a header line but no data rows".into(),
            ));
        }
        let (line, cells) = self.last;
        let open = !matches!(self.ends.last, Some(b'\n' | b'\r'));
        if self.rows > 0 && open && cells < self.headers.len() {
            findings.push(finding(p, "truncated_file", line, "", "-", format!("{cells} cells"), format!(
                "the last line ends without a line break and has {cells} of {} cells: the file seems cut off (an interrupted export or upload?)",
                self.headers.len()
            )));
        }
        if self.ends.name() == "mixed" {
            let e = &self.ends;
            findings.push(finding(p, "line_endings", 0, "", "-", String::new(), format!(
                "the file mixes line ends ({} CRLF, {} LF, {} CR): it was probably assembled from several files; the rows are read all the same",
                e.crlf, e.lf, e.cr
            )));
        }
        if let (Some(first), true) = (self.non_ascii, self.all_utf8) {
            findings.push(finding(p, "encoding_suspect", first, "", "-", String::new(),
                "the pipeline says latin-1 but every accented letter in the file is valid UTF-8 (first on this line): the text would be misread; set input.encoding = \"utf-8\" or \"auto\"".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_named() {
        let mut e = Ends::default();
        e.feed(b"a\r\nb\r");
        e.feed(b"\nc\n");
        e.finish();
        assert_eq!((e.crlf, e.lf, e.cr), (2, 1, 0));
        assert_eq!(e.name(), "mixed");
        let mut e = Ends::default();
        e.feed(b"a\r\nb\r\n");
        assert_eq!(e.name(), "CRLF");
    }

    #[test]
    fn a_header_cut_in_a_character_is_still_utf8() {
        assert!(header_is_utf8("a,é\n".as_bytes()));
        assert!(!header_is_utf8(b"a,\xe9\nb"));
        assert!(header_is_utf8(&"a,é".as_bytes()[..3]));
    }
}
