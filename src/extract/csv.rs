//! Delimited text: plain, gzip-compressed, or a member of a zip archive (StatCan ships
//! `pubMMYY.csv` inside the month's zip). Encoding is declared or detected (UTF-8 with or
//! without BOM, else latin-1); the delimiter is declared or sniffed from the header line.
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use super::data::{limit_of, limit_of_csv, open_data, Data};
use super::limits::Limits;
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
    reader: ::csv::Reader<LastChunk<Box<dyn Read>>>,
    record: ::csv::ByteRecord,
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
        let mut joined: Box<dyn Read> = Box::new(Cursor::new(head).chain(raw));
        if start == 3 {
            let mut bom = [0u8; 3];
            joined
                .read_exact(&mut bom)
                .map_err(|e| unreadable(e.to_string()))?;
        }
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .from_reader(LastChunk::new(joined));
        let mut record = ::csv::ByteRecord::new();
        let got = reader.read_byte_record(&mut record).map_err(|e| {
            limit_of_csv(&e).map_or_else(
                || unreadable(format!("cannot read the header: {e}")),
                MigError::from,
            )
        })?;
        if !got {
            return Err(unreadable("the file is empty".into()));
        }
        let headers = record
            .iter()
            .map(|f| decode(encoding, f).map(|s| s.trim().to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| MigError::Data {
                path: display.clone(),
                line: 1,
                column: "-".into(),
                msg: format!("header is not valid {}: {e}", encoding.name()),
            })?;
        Ok(CsvSource {
            display,
            headers,
            encoding,
            delimiter,
            size,
            reader,
            record,
        })
    }
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
        let got = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| match (limit_of_csv(&e), e.kind()) {
                (Some(hit), _) => hit.into(),
                // The data stop being readable (a damaged zip member or gzip stream).
                (None, ::csv::ErrorKind::Io(io)) => MigError::Unreadable {
                    path: self.display.clone(),
                    msg: format!("cannot read: {io}"),
                },
                (None, _) => MigError::Data {
                    path: self.display.clone(),
                    line: e.position().map(|p| p.line()).unwrap_or(0),
                    column: "-".into(),
                    msg: format!("unreadable record: {e}"),
                },
            })?;
        if !got {
            return Ok(None);
        }
        let line = self.start_line();
        // Reuse the cells' buffers: no allocation per cell once the first rows are read.
        cells.truncate(self.record.len());
        while cells.len() < self.record.len() {
            cells.push(String::new());
        }
        for (i, f) in self.record.iter().enumerate() {
            match decode_into(self.encoding, f, &mut cells[i]) {
                Ok(()) => {}
                Err(e) => {
                    return Err(MigError::Data {
                        path: self.display.clone(),
                        line,
                        column: self.headers.get(i).map_or_else(
                            || format!("#{}", i + 1),
                            |h| super::limits::clip(h).into_owned(),
                        ),
                        msg: format!("text is not valid {}: {e}", self.encoding.name()),
                    })
                }
            }
        }
        Ok(Some(line))
    }
}

impl CsvSource {
    fn start_line(&self) -> u64 {
        record_line(&self.reader, &self.record)
    }
}

/// The physical line the record just read starts on. The parser's line count after a record
/// includes the line break of an LF line but not yet the `\n` of a CRLF line (it takes that when
/// it reads on), counts skipped blank lines, and counts line breaks inside quoted cells; so:
/// lines counted after the record, less the breaks inside it, less its own `\n` when that was
/// taken already.
pub(crate) fn record_line<R: Read>(
    reader: &::csv::Reader<LastChunk<R>>,
    record: &::csv::ByteRecord,
) -> u64 {
    let end = reader.position();
    let inside = record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
    let own_lf = end.byte() > 0 && reader.get_ref().byte_at(end.byte() - 1) == Some(b'\n');
    end.line().saturating_sub(inside + u64::from(own_lf)).max(1)
}

/// A reader that keeps a copy of the chunk it last handed to the CSV parser (whose buffer only
/// ever holds that chunk), so that the byte ending a record can be looked at.
pub(crate) struct LastChunk<R> {
    inner: R,
    chunk: Vec<u8>,
    /// Offset of `chunk[0]` in the stream.
    start: u64,
    /// The byte before `chunk[0]`.
    before: Option<u8>,
}

impl<R> LastChunk<R> {
    pub(crate) fn new(inner: R) -> Self {
        LastChunk {
            inner,
            chunk: Vec::new(),
            start: 0,
            before: None,
        }
    }

    fn byte_at(&self, pos: u64) -> Option<u8> {
        if pos >= self.start {
            self.chunk.get((pos - self.start) as usize).copied()
        } else if pos + 1 == self.start {
            self.before
        } else {
            None
        }
    }
}

impl<R: Read> Read for LastChunk<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.before = self.chunk.last().copied().or(self.before);
            self.start += self.chunk.len() as u64;
            self.chunk.clear();
            self.chunk.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

fn decode_into(enc: Encoding, bytes: &[u8], out: &mut String) -> std::result::Result<(), String> {
    out.clear();
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
        return match d {
            "\\t" | "tab" | "\t" => Ok(b'\t'),
            s if s.len() == 1 => Ok(s.as_bytes()[0]),
            s => Err(format!("delimiter {s:?} must be one character")),
        };
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
