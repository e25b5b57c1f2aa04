//! Delimited text: plain, gzip-compressed, or a member of a zip archive (StatCan ships
//! `pubMMYY.csv` inside the month's zip). Encoding is declared or detected (UTF-8 with or
//! without BOM, else latin-1); the delimiter is declared or sniffed from the header line.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::data::{limit_of, limit_of_csv, open_data, Data};
use super::limits::Limits;
use super::{BatchSize, TextBatch};
use crate::error::{MigError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Latin1,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Latin1 => "latin-1",
        }
    }
}

/// A delimited file opened for streaming.
pub struct CsvSource {
    /// What error messages call the file (`archive.zip!member.csv` for a zip member).
    pub display: PathBuf,
    pub headers: Vec<String>,
    pub encoding: Encoding,
    pub delimiter: u8,
    /// Size of the data in bytes (uncompressed member size for a zip).
    pub size: u64,
    body: Body,
    shared: Arc<Shared>,
    /// Rows parsed and not yet handed out by `next_into`.
    pending: TextBatch,
    pending_at: usize,
}

/// What a block's parser needs besides the bytes.
struct Shared {
    display: PathBuf,
    headers: Vec<String>,
    encoding: Encoding,
    delimiter: u8,
}

/// How to open a delimited input: the zip member glob, the declared encoding and delimiter, and
/// the bounds of the work.
pub struct CsvSpec<'a> {
    pub member: Option<&'a str>,
    pub encoding: Option<&'a str>,
    pub delimiter: Option<&'a str>,
    pub limits: &'a Limits,
}

impl CsvSource {
    /// Opens `path` (`.zip` with `member` glob, `.gz`, or plain text) with the default limits.
    pub fn open(
        path: &Path,
        member: Option<&str>,
        encoding: Option<&str>,
        delimiter: Option<&str>,
    ) -> Result<Self> {
        let limits = Limits::default();
        let spec = CsvSpec {
            member,
            encoding,
            delimiter,
            limits: &limits,
        };
        Self::open_bounded(path, &spec)
    }

    /// Opens `path` as `spec` says; a limit crossed is an error naming it.
    pub fn open_bounded(path: &Path, spec: &CsvSpec) -> Result<Self> {
        let unreadable = |msg: String| MigError::Unreadable {
            path: path.to_path_buf(),
            msg,
        };
        let Data {
            reader: mut raw,
            display,
            size,
        } = open_data(path, spec.member, spec.limits)?;
        let mut head = Vec::with_capacity(65536);
        (&mut raw)
            .take(65536)
            .read_to_end(&mut head)
            .map_err(|e| read_error(&display, e))?;
        if head.is_empty() {
            return Err(MigError::Data {
                path: display,
                line: 1,
                column: "-".into(),
                msg: "the file is empty: a header line was expected".into(),
            });
        }
        let encoding = choose_encoding(spec.encoding, &head).map_err(unreadable)?;
        let delimiter = choose_delimiter(spec.delimiter, &head).map_err(unreadable)?;
        let start = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        let mut eof = head.len() < 65536;
        head.drain(..start);
        let (headers, offset) = loop {
            let found = header_record(&head, delimiter).map_err(|e| {
                limit_of_csv(&e).map_or_else(
                    || unreadable(format!("cannot read the header: {e}")),
                    MigError::from,
                )
            })?;
            match found {
                // The header ends inside what was read, or the data end with it.
                Some((fields, end)) if end < head.len() || eof => break (fields, end),
                None if eof => return Err(unreadable("the file is empty".into())),
                // A header longer than what was read so far: read as much again.
                _ => {
                    let more = head.len().max(65536);
                    let got = (&mut raw)
                        .take(more as u64)
                        .read_to_end(&mut head)
                        .map_err(|e| read_error(&display, e))?;
                    eof = got < more;
                }
            }
        };
        let headers = headers
            .iter()
            .map(|f| decode(encoding, f).map(|s| s.trim().to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| MigError::Data {
                path: display.clone(),
                line: 1,
                column: "-".into(),
                msg: format!("header is not valid {}: {e}", encoding.name()),
            })?;
        let line =
            1 + memchr::memchr_iter(b'\n', &head[..offset]).count() as u64 + u64::from(false);
        head.drain(..offset);
        let body = Body {
            reader: raw,
            display: display.clone(),
            buf: head,
            pos: 0,
            line,
            eof,
            delimiter,
            longest: longest_record(spec.limits),
        };
        let shared = Arc::new(Shared {
            display: display.clone(),
            headers: headers.clone(),
            encoding,
            delimiter,
        });
        Ok(CsvSource {
            display,
            headers,
            encoding,
            delimiter,
            size,
            body,
            shared,
            pending: TextBatch::default(),
            pending_at: 0,
        })
    }
}

/// A header's cells as bytes, and the offset where the data after it start.
type HeaderRecord = (Vec<Vec<u8>>, usize);

/// The first record of `head` (BOM removed) and the offset where the data after it start;
/// `None` when there is no record.
fn header_record(
    head: &[u8],
    delimiter: u8,
) -> std::result::Result<Option<HeaderRecord>, ::csv::Error> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(head);
    let mut record = ::csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record)? {
        return Ok(None);
    }
    let end = reader.position().byte() as usize;
    Ok(Some((record.iter().map(<[u8]>::to_vec).collect(), end)))
}

/// An error reading the data: the limit it crossed, or the I/O error.
fn read_error(display: &Path, e: std::io::Error) -> MigError {
    limit_of(&e).map_or_else(
        || MigError::Unreadable {
            path: display.to_path_buf(),
            msg: format!("cannot read: {e}"),
        },
        MigError::from,
    )
}

impl super::RowSource for CsvSource {
    fn display(&self) -> &Path {
        &self.display
    }

    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn size(&self) -> u64 {
        self.size
    }

    /// Reads the next record into `cells`; returns its line number, or `None` at the end.
    /// Cells that are not valid in the file's encoding are an error naming line and column.
    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>> {
        while self.pending_at == self.pending.len() {
            self.pending.clear();
            self.pending_at = 0;
            match self.body.next_block(BatchSize::default())? {
                Some(block) => self.pending = self.shared.parse(block)?,
                None => return Ok(None),
            }
        }
        let r = self.pending_at;
        self.pending_at += 1;
        let width = self.pending.width(r);
        cells.truncate(width);
        while cells.len() < width {
            cells.push(String::new());
        }
        for (i, cell) in cells.iter_mut().enumerate() {
            cell.clear();
            cell.push_str(&self.pending.cell(r, i));
        }
        Ok(Some(self.pending.line(r)))
    }

    /// Rows of the next blocks, parsed on this thread.
    fn next_batch(&mut self, batch: &mut TextBatch, size: BatchSize) -> Result<usize> {
        let first = batch.len();
        while batch.len() == first {
            let Some(job) = self.next_job(size)? else {
                break;
            };
            batch.append(&job()?);
        }
        Ok(batch.len() - first)
    }

    /// The next block of whole records, cut here (record boundaries found with quotes and
    /// embedded line breaks taken into account), parsed and decoded by the job on any thread.
    fn next_job(&mut self, size: BatchSize) -> Result<Option<super::ReadJob>> {
        let Some(block) = self.body.next_block(size)? else {
            return Ok(None);
        };
        let shared = self.shared.clone();
        Ok(Some(Box::new(move || shared.parse(block))))
    }
}

/// The data after the header, read in blocks that end at a record boundary.
pub(crate) struct Body {
    reader: Box<dyn Read>,
    /// What errors call the data.
    display: PathBuf,
    /// Bytes read; those from `pos` on are not handed out yet and start a record.
    buf: Vec<u8>,
    pos: usize,
    /// Line of `buf[0]`.
    line: u64,
    eof: bool,
    delimiter: u8,
    /// Bytes a record may span before it is taken for a quote never closed.
    longest: usize,
}

/// A piece of the data made of whole records, with the line it starts on.
pub(crate) struct Block {
    pub bytes: Vec<u8>,
    pub line: u64,
}

/// The most bytes one record may take: every column at the cell bound, within 16–256 MiB.
pub(crate) fn longest_record(limits: &Limits) -> usize {
    let most = limits.max_cell_bytes.saturating_mul(limits.max_columns);
    most.clamp(16 << 20, 256 << 20) as usize
}

impl Body {
    /// The blocks of `reader` (the data of `display`) from its start (line 1).
    pub(crate) fn new(
        reader: Box<dyn Read>,
        display: &Path,
        delimiter: u8,
        limits: &Limits,
    ) -> Body {
        Body {
            reader,
            display: display.to_path_buf(),
            buf: Vec::new(),
            pos: 0,
            line: 1,
            eof: false,
            delimiter,
            longest: longest_record(limits),
        }
    }

    pub(crate) fn next_block(&mut self, size: BatchSize) -> Result<Option<Block>> {
        let target = size.bytes.max(1);
        loop {
            let left = &self.buf[self.pos..];
            if left.is_empty() && self.eof {
                return Ok(None);
            }
            let cut = if left.len() >= target || self.eof {
                split(left, self.delimiter, size.rows.max(1), target)
            } else {
                None
            };
            let cut = match cut {
                Some(cut) => cut,
                None if self.eof => left.len(),
                None => {
                    if left.len() > self.longest {
                        return Err(MigError::Data {
                            path: self.display.clone(),
                            line: self.line,
                            column: "-".into(),
                            msg: format!(
                                "a record starting here runs past {} bytes: a quote is probably not closed",
                                super::limits::grouped(self.longest)
                            ),
                        });
                    }
                    self.fill(target)?;
                    continue;
                }
            };
            let bytes = left[..cut].to_vec();
            self.pos += cut;
            let line = self.line;
            self.line += memchr::memchr_iter(b'\n', &bytes).count() as u64;
            return Ok(Some(Block { bytes, line }));
        }
    }

    /// Reads about `target` more bytes (fewer at the end of the data), after moving what is
    /// left to the front of the buffer.
    fn fill(&mut self, target: usize) -> Result<()> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        let want = target.max(self.buf.len()).max(1 << 16);
        let got = (&mut self.reader)
            .take(want as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| read_error(&self.display, e))?;
        if got < want {
            self.eof = true;
        }
        Ok(())
    }
}

/// Bytes a block has at least (unless the batch size asks for less) before its row bound counts.
const MIN_BLOCK: usize = 64 << 10;

/// Where to cut `buf` (which starts a record): after the last line feed that ends a record
/// within the first `rows` records and about `target` bytes; `None` when no record ends in it.
/// The quote rules are the CSV parser's: a quote opens a quoted cell only at the start of a
/// cell, `""` inside one is a quote, and delimiters and line breaks inside one are text.
fn split(buf: &[u8], delimiter: u8, rows: usize, target: usize) -> Option<usize> {
    // The row bound counts only from 64 KiB on: a run of blank lines is not many small blocks.
    let least = target.min(MIN_BLOCK);
    let limit = buf.len().min(target);
    if memchr::memchr(b'"', &buf[..limit]).is_none() {
        // No quote: every line feed ends a record.
        let mut last = None;
        for (n, i) in memchr::memchr_iter(b'\n', &buf[..limit]).enumerate() {
            last = Some(i + 1);
            if n + 1 >= rows && i + 1 >= least {
                break;
            }
        }
        if last.is_some() {
            return last;
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Start,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut st = St::Start;
    let (mut last, mut records) = (None, 0usize);
    for (i, &b) in buf.iter().enumerate() {
        st = match st {
            St::Quoted if b == b'"' => St::QuoteInQuoted,
            St::Quoted => St::Quoted,
            St::Start if b == b'"' => St::Quoted,
            St::QuoteInQuoted if b == b'"' => St::Quoted,
            _ if b == delimiter => St::Start,
            _ if b == b'\n' => {
                last = Some(i + 1);
                records += 1;
                if (records >= rows && i + 1 >= least) || i + 1 >= target {
                    return last;
                }
                St::Start
            }
            _ if b == b'\r' => St::Start,
            _ => St::Unquoted,
        };
    }
    last
}

impl Shared {
    /// Parses and decodes one block's records. A UTF-8 block without any quote character (most
    /// survey files) is valid text as a whole and split at its delimiters and line breaks in
    /// place; any other goes through the CSV parser record by record.
    fn parse(&self, mut block: Block) -> Result<TextBatch> {
        if self.encoding == Encoding::Utf8
            && self.delimiter.is_ascii()
            && memchr::memchr(b'"', &block.bytes).is_none()
        {
            match String::from_utf8(block.bytes) {
                Ok(text) => return Ok(TextBatch::from_unquoted(text, block.line, self.delimiter)),
                // Not UTF-8: the parser names the cell.
                Err(e) => block.bytes = e.into_bytes(),
            }
        }
        self.parse_records(&block)
    }

    /// Parses and decodes one block record by record with the CSV parser.
    fn parse_records(&self, block: &Block) -> Result<TextBatch> {
        let mut reader = block.reader(self.delimiter);
        let mut record = ::csv::ByteRecord::new();
        let mut batch = TextBatch::default();
        loop {
            let got = reader
                .read_byte_record(&mut record)
                .map_err(|e| MigError::Data {
                    path: self.display.clone(),
                    line: block.line + e.position().map_or(1, |p| p.line()).max(1) - 1,
                    column: "-".into(),
                    msg: format!("unreadable record: {e}"),
                })?;
            if !got {
                return Ok(batch);
            }
            let line = block.record_line(&reader, &record);
            batch.begin_row(line);
            if self.encoding == Encoding::Utf8 && batch.push_utf8_record(&record) {
                continue;
            }
            for (i, f) in record.iter().enumerate() {
                if let Err(e) = decode_into(self.encoding, f, batch.cell_buffer()) {
                    return Err(MigError::Data {
                        path: self.display.clone(),
                        line,
                        column: self.headers.get(i).map_or_else(
                            || format!("#{}", i + 1),
                            |h| super::limits::clip(h).into_owned(),
                        ),
                        msg: format!("text is not valid {}: {e}", self.encoding.name()),
                    });
                }
                batch.end_cell();
            }
        }
    }
}

impl Block {
    /// The parser over this block's bytes (no header; rows of any width).
    pub(crate) fn reader(&self, delimiter: u8) -> ::csv::Reader<&[u8]> {
        ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .from_reader(&self.bytes[..])
    }

    /// The physical line the record `reader` just read starts on. The parser's line count after
    /// a record includes the line break of an LF line but not yet the `\n` of a CRLF line (it
    /// takes that when it reads on), counts skipped blank lines, and counts line breaks inside
    /// quoted cells; so: the block's first line, plus the lines counted after the record, less
    /// the breaks inside it, less its own `\n` when that was taken already.
    pub(crate) fn record_line(
        &self,
        reader: &::csv::Reader<&[u8]>,
        record: &::csv::ByteRecord,
    ) -> u64 {
        let end = reader.position();
        let own_lf = end.byte() > 0 && self.bytes.get(end.byte() as usize - 1) == Some(&b'\n');
        let inside = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
        let counted = end.line().saturating_sub(inside + u64::from(own_lf)).max(1);
        self.line + counted - 1
    }
}

/// Appends `bytes` decoded to `out`.
fn decode_into(enc: Encoding, bytes: &[u8], out: &mut String) -> std::result::Result<(), String> {
    match enc {
        Encoding::Utf8 => out.push_str(std::str::from_utf8(bytes).map_err(|e| e.to_string())?),
        Encoding::Latin1 => out.extend(bytes.iter().map(|&b| b as char)),
    }
    Ok(())
}

fn decode(enc: Encoding, bytes: &[u8]) -> std::result::Result<String, String> {
    match enc {
        Encoding::Utf8 => std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|e| e.to_string()),
        Encoding::Latin1 => Ok(bytes.iter().map(|&b| b as char).collect()),
    }
}

fn choose_encoding(declared: Option<&str>, head: &[u8]) -> std::result::Result<Encoding, String> {
    match declared.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("utf-8") | Some("utf8") => Ok(Encoding::Utf8),
        Some("latin-1") | Some("latin1") | Some("iso-8859-1") => Ok(Encoding::Latin1),
        None | Some("auto") => Ok(match std::str::from_utf8(head) {
            Ok(_) => Encoding::Utf8,
            // A multi-byte character cut at the end of the sample is still UTF-8.
            Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 >= head.len() => {
                Encoding::Utf8
            }
            Err(_) => Encoding::Latin1,
        }),
        Some(other) => Err(format!(
            "unknown encoding {other:?}: expected utf-8, latin-1 or auto"
        )),
    }
}

fn choose_delimiter(declared: Option<&str>, head: &[u8]) -> std::result::Result<u8, String> {
    if let Some(d) = declared {
        // The one rule `check` applies too.
        return crate::config::pipeline::delimiter_byte(d).map_err(|e| format!("delimiter {e}"));
    }
    let first = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let best = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first.iter().filter(|&&b| b == *d).count())
        .unwrap_or(b',');
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::RowSource;

    fn lines_of(name: &str, text: &str) -> Vec<(u64, String)> {
        let path = std::env::temp_dir().join(format!("migstat-csv-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write");
        let mut src = CsvSource::open(&path, None, Some("utf-8"), Some(",")).expect("open");
        let mut cells = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = src.next_into(&mut cells).expect("row") {
            out.push((line, cells[0].clone()));
        }
        let _ = std::fs::remove_file(&path);
        out
    }

    fn rows(b: &TextBatch) -> Vec<(u64, Vec<String>)> {
        (0..b.len()).map(|r| (b.line(r), b.row_cells(r))).collect()
    }

    /// Random quote-free blocks — cells empty, blank, multibyte; records ended by LF, CRLF, a
    /// lone CR or the end of the block; blank and whitespace lines among them — split in place
    /// give the rows, cells and line numbers the CSV parser gives.
    #[test]
    fn unquoted_blocks_split_in_place_read_as_the_csv_parser_reads_them() {
        let cells = ["a", "bc", " ", "", "é", "日本", "1.5", "  x  ", "\t"];
        let ends = ["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \n", "\r\r\n"];
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        for delimiter in [b',', b';', b'\t'] {
            for _ in 0..2_000 {
                let mut text = String::new();
                if next(4) == 0 {
                    text.push_str(ends[next(ends.len())]);
                }
                for _ in 0..next(7) {
                    for c in 0..1 + next(5) {
                        if c > 0 {
                            text.push(delimiter as char);
                        }
                        text.push_str(cells[next(cells.len())]);
                    }
                    text.push_str(ends[next(ends.len())]);
                }
                if next(2) == 0 {
                    text.push_str("last");
                    text.push(delimiter as char);
                }
                let first = 1 + next(100) as u64;
                let shared = Shared {
                    display: PathBuf::from("t.csv"),
                    headers: Vec::new(),
                    encoding: Encoding::Utf8,
                    delimiter,
                };
                let block = Block {
                    bytes: text.clone().into_bytes(),
                    line: first,
                };
                let parsed = shared.parse_records(&block).expect("parse");
                let split = TextBatch::from_unquoted(text.clone(), first, delimiter);
                assert_eq!(rows(&split), rows(&parsed), "{text:?}");
                let block = Block {
                    bytes: text.clone().into_bytes(),
                    line: first,
                };
                assert_eq!(rows(&shared.parse(block).expect("parse")), rows(&parsed));
            }
        }
    }

    /// A batch split in place takes appended rows after its own (`next_batch` appends blocks).
    #[test]
    fn rows_appended_to_a_batch_split_in_place_follow_its_rows() {
        let mut b = TextBatch::from_unquoted("a,b\r\nc\n".into(), 3, b',');
        let mut more = TextBatch::default();
        more.push_row(9, ["x", "", "z"]);
        b.append(&more);
        b.append(&TextBatch::from_unquoted("\nq,r".into(), 10, b','));
        let want: Vec<(u64, Vec<String>)> = vec![
            (3, vec!["a".into(), "b".into()]),
            (4, vec!["c".into()]),
            (9, vec!["x".into(), "".into(), "z".into()]),
            (11, vec!["q".into(), "r".into()]),
        ];
        assert_eq!(rows(&b), want);
        b.pop_row();
        assert_eq!(rows(&b), want[..3]);
    }

    #[test]
    fn line_numbers_are_physical_lines_for_lf_crlf_blank_lines_and_quoted_breaks() {
        let want = |v: &[(u64, &str)]| -> Vec<(u64, String)> {
            v.iter().map(|(l, s)| (*l, s.to_string())).collect()
        };
        assert_eq!(
            lines_of("lf", "h,i\n1,2\n3,4\n"),
            want(&[(2, "1"), (3, "3")])
        );
        assert_eq!(
            lines_of("crlf", "h,i\r\n1,2\r\n3,4\r\n"),
            want(&[(2, "1"), (3, "3")])
        );
        assert_eq!(
            lines_of("blank", "h,i\n1,2\n\n3,4"),
            want(&[(2, "1"), (4, "3")])
        );
        assert_eq!(
            lines_of("quoted", "h,i\r\n\"a\r\nb\",2\r\n\r\n5,6\r\n7,8"),
            want(&[(2, "a\r\nb"), (5, "5"), (6, "7")])
        );
    }
}
