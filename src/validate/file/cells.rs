//! The row pass of the file scan: every cell that is not valid in the file's encoding (with
//! line, column and business key), the last row (cut off?), the line ends, and text declared
//! latin-1 that reads as UTF-8. Counts only: nothing of the file is kept.
use std::io::Read;
use std::path::Path;

use super::super::{finding, Findings};
use crate::config::pipeline::{Input, Pipeline};
use crate::error::{MigError, Result};
use crate::extract::csv::{Block, Body};
use crate::extract::ordered::in_order;
use crate::extract::{BatchSize, CsvSource, Encoding};
use crate::validate::Finding;

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
    /// Counts the line ends of the next bytes (a `\r` at the end of one piece and a `\n` at
    /// the start of the next are one CRLF). Only the line-end bytes are visited.
    fn feed(&mut self, bytes: &[u8]) {
        let Some(&end) = bytes.last() else {
            return;
        };
        let mut prev = 0usize;
        for i in memchr::memchr2_iter(b'\r', b'\n', bytes) {
            // A `\r` pending from before this byte ends as CR unless this byte is its `\n`.
            let crlf = self.prev_cr && i == prev && bytes[i] == b'\n';
            if self.prev_cr && !crlf {
                self.cr += 1;
            }
            match bytes[i] {
                b'\n' if crlf => self.crlf += 1,
                b'\n' => self.lf += 1,
                _ => {}
            }
            self.prev_cr = bytes[i] == b'\r';
            prev = i + 1;
        }
        if self.prev_cr && prev < bytes.len() {
            self.cr += 1;
            self.prev_cr = false;
        }
        self.last = Some(end);
    }

    /// Adds the counts of the next piece of the data (which starts after a line feed).
    fn add(&mut self, next: &Ends) {
        self.crlf += next.crlf;
        self.lf += next.lf;
        self.cr += next.cr;
        if next.prev_cr {
            self.cr += 1;
        }
        if next.last.is_some() {
            self.last = next.last;
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

/// What the scan of one block found.
#[derive(Default)]
struct Part {
    rows: u64,
    last: Option<(u64, usize)>,
    bad_utf8: bool,
    non_ascii: Option<u64>,
    all_utf8: bool,
    ends: Ends,
    found: Vec<Finding>,
}

impl Part {
    /// Takes in the part of the next block; its findings go to `findings` at once.
    fn add(&mut self, next: Part, findings: &mut Findings) {
        self.rows += next.rows;
        if next.last.is_some() {
            self.last = next.last;
        }
        self.bad_utf8 |= next.bad_utf8;
        if self.non_ascii.is_none() {
            self.non_ascii = next.non_ascii;
        }
        self.all_utf8 &= next.all_utf8;
        self.ends.add(&next.ends);
        for f in next.found {
            findings.push(f);
        }
    }
}

/// The row pass: cells not valid in the encoding, the last row, line ends.
pub struct RowScan<'a> {
    p: &'a Pipeline,
    headers: &'a [String],
    utf8: bool,
    declared_latin1: bool,
    key_cols: Vec<usize>,
    delimiter: u8,
    limits: crate::extract::limits::Limits,
    ends: Ends,
    pub rows: u64,
    pub bad_utf8: bool,
    /// Non-ASCII cells seen, and whether all of them were valid UTF-8 (first line seen).
    non_ascii: Option<u64>,
    all_utf8: bool,
    last: (u64, usize),
}

impl<'a> RowScan<'a> {
    pub fn new(p: &'a Pipeline, input: &Input, src: &'a CsvSource, declared_latin1: bool) -> Self {
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
            limits: input.limits,
            ends: Ends::default(),
            rows: 0,
            bad_utf8: false,
            non_ascii: None,
            all_utf8: true,
            last: (0, 0),
        }
    }

    /// Reads `body` (the header and the rows, after `skip` bytes of BOM): cut into blocks of
    /// whole records on this thread, each block scanned on the pool, the results taken in order.
    pub fn run(
        &mut self,
        mut body: Box<dyn Read>,
        skip: usize,
        findings: &mut Findings,
        path: &Path,
    ) -> Result<()> {
        let unreadable = |e: std::io::Error| MigError::io(path, e);
        std::io::copy(&mut (&mut body).take(skip as u64), &mut std::io::sink())
            .map_err(unreadable)?;
        let mut blocks = Body::new(body, path, self.delimiter, &self.limits);
        let this = &*self;
        let mut seen = Part {
            all_utf8: true,
            ..Part::default()
        };
        in_order(
            || blocks.next_block(BatchSize::default()),
            |seq, block| this.scan(&block, seq == 0, path),
            |part| {
                seen.add(part?, findings);
                Ok(())
            },
        )?;
        self.rows = seen.rows;
        if let Some(last) = seen.last {
            self.last = last;
        }
        self.bad_utf8 = seen.bad_utf8;
        self.non_ascii = seen.non_ascii;
        self.all_utf8 = seen.all_utf8;
        self.ends = seen.ends;
        self.ends.finish();
        Ok(())
    }

    pub fn ends_name(&self) -> &'static str {
        self.ends.name()
    }

    /// Scans the records of one block (the first block starts with the header).
    fn scan(&self, block: &Block, first: bool, path: &Path) -> Result<Part> {
        let mut part = Part {
            all_utf8: true,
            ..Part::default()
        };
        part.ends.feed(&block.bytes);
        if let Some((rows, last)) = plain_records(&block.bytes, self.delimiter, first) {
            // Nothing to decode and nothing quoted: only the records' count and the last one.
            part.rows = rows;
            part.last = last.map(|(start, cells)| {
                let before = memchr::memchr_iter(b'\n', &block.bytes[..start]).count();
                (block.line + before as u64, cells)
            });
            return Ok(part);
        }
        let mut reader = block.reader(self.delimiter);
        let mut record = ::csv::ByteRecord::new();
        let mut header = first;
        let cannot = |e: ::csv::Error| MigError::Unreadable {
            path: path.to_path_buf(),
            msg: format!("cannot read: {e}"),
        };
        while reader.read_byte_record(&mut record).map_err(cannot)? {
            if !std::mem::take(&mut header) {
                let line = block.record_line(&reader, &record);
                self.record(&record, line, &mut part);
            }
        }
        Ok(part)
    }

    fn record(&self, record: &::csv::ByteRecord, line: u64, part: &mut Part) {
        // `plain_records` stands for this on blocks without quotes or non-ASCII bytes.
        part.rows += 1;
        part.last = Some((line, record.len()));
        if record.as_slice().is_ascii() {
            return;
        }
        for (i, cell) in record.iter().enumerate() {
            if cell.is_ascii() {
                continue;
            }
            let valid = std::str::from_utf8(cell).is_ok();
            if self.declared_latin1 {
                part.non_ascii.get_or_insert(line);
                part.all_utf8 &= valid;
            } else if self.utf8 && !valid {
                part.bad_utf8 = true;
                let column = self
                    .headers
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let key = self.key(record, line);
                let value = String::from_utf8_lossy(cell).to_string();
                let msg = "the cell is not valid UTF-8 (the file is read as UTF-8): it was probably saved as latin-1 or Windows-1252; save the file as UTF-8, or set input.encoding = \"latin-1\"";
                part.found.push(finding(
                    self.p,
                    "encoding",
                    line,
                    &key,
                    &column,
                    value,
                    msg.into(),
                ));
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
    pub fn conclude(&self, findings: &mut Findings) {
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

/// The records of a block that holds no quote and only ASCII bytes, as the CSV parser reads
/// them (its line ends are `\r`, `\n` and `\r\n`; blank lines are skipped): how many (the first
/// left out when it is the header), and where the last starts with its number of cells.
/// `None` for any other block, which the parser reads.
fn plain_records(
    bytes: &[u8],
    delimiter: u8,
    header: bool,
) -> Option<(u64, Option<(usize, usize)>)> {
    if memchr::memchr(b'"', bytes).is_some() || !bytes.is_ascii() {
        return None;
    }
    let (mut rows, mut last, mut header, mut start) = (0u64, None, header, 0usize);
    let ends = memchr::memchr2_iter(b'\r', b'\n', bytes).chain(std::iter::once(bytes.len()));
    for end in ends {
        if end > start && !std::mem::take(&mut header) {
            rows += 1;
            last = Some((start, end));
        }
        start = end + 1;
    }
    let last = last.map(|(s, e)| (s, memchr::memchr_iter(delimiter, &bytes[s..e]).count() + 1));
    Some((rows, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the parser path of `scan` finds: records, and the last one's line and cells.
    fn parsed(bytes: &[u8], first_line: u64, header: bool) -> (u64, Option<(u64, usize)>) {
        let block = Block {
            bytes: bytes.to_vec(),
            line: first_line,
        };
        let mut reader = block.reader(b',');
        let mut record = ::csv::ByteRecord::new();
        let (mut rows, mut last, mut header) = (0, None, header);
        while reader.read_byte_record(&mut record).unwrap() {
            if !std::mem::take(&mut header) {
                rows += 1;
                last = Some((block.record_line(&reader, &record), record.len()));
            }
        }
        (rows, last)
    }

    #[test]
    fn plain_blocks_are_counted_as_the_parser_reads_them() {
        // Every text of up to 7 bytes over an alphabet of cells, delimiters and line ends.
        let alphabet = [b'a', b',', b' ', b'\r', b'\n'];
        let mut checked = 0;
        for len in 0..=7u32 {
            for code in 0..alphabet.len().pow(len) {
                let mut c = code;
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        let b = alphabet[c % alphabet.len()];
                        c /= alphabet.len();
                        b
                    })
                    .collect();
                for header in [false, true] {
                    let (rows, last) = plain_records(&text, b',', header).unwrap();
                    let last = last.map(|(start, cells)| {
                        (
                            7 + memchr::memchr_iter(b'\n', &text[..start]).count() as u64,
                            cells,
                        )
                    });
                    assert_eq!(
                        (rows, last),
                        parsed(&text, 7, header),
                        "{:?} header {header}",
                        String::from_utf8_lossy(&text)
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 190_000);
        assert!(plain_records(b"a,\"b\"\n", b',', false).is_none());
        assert!(plain_records("a,é\n".as_bytes(), b',', false).is_none());
    }

    /// The byte-by-byte rule `feed` must agree with, whatever the pieces.
    fn by_bytes(pieces: &[&[u8]]) -> (u64, u64, u64) {
        let (mut crlf, mut lf, mut cr, mut prev_cr) = (0, 0, 0, false);
        for &b in pieces.concat().iter() {
            match b {
                b'\n' if prev_cr => crlf += 1,
                b'\n' => lf += 1,
                _ if prev_cr => cr += 1,
                _ => {}
            }
            prev_cr = b == b'\r';
        }
        (crlf, lf, cr + u64::from(prev_cr))
    }

    #[test]
    fn line_ends_agree_with_a_byte_by_byte_count_at_every_cut() {
        let text: &[u8] = b"a\r\nb\rc\n\r\r\n\n\rx\r\r\ny\n\r";
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                let pieces = [&text[..cut], &text[cut..cut2], &text[cut2..]];
                let mut e = Ends::default();
                for p in pieces {
                    e.feed(p);
                }
                e.finish();
                assert_eq!(
                    (e.crlf, e.lf, e.cr),
                    by_bytes(&pieces),
                    "cuts {cut}, {cut2}"
                );
            }
        }
    }

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
}
