//! Stata `.dta` files, every release the `dta` crate reads (102–119; offices ship 114–119).
//! Value labels are read before the rows (the reader seeks to them), so the recode step can map
//! by label. System missing `.` and the extended missing values `.a`–`.z` (Stata's user-defined
//! missing) come out as blank cells. `strL` long strings are resolved through their table.
//! Dates stay the numbers Stata stores (days or milliseconds since 1960).
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use dta::stata::dta::byte_order::ByteOrder;
use dta::stata::dta::dta_error::DtaError;
use dta::stata::dta::dta_reader::DtaReader;
use dta::stata::dta::long_string_table::LongStringTable;
use dta::stata::dta::record_reader::RecordReader;
use dta::stata::dta::release::Release;
use dta::stata::dta::value::Value;
use dta::stata::dta::value_label_table::ValueLabelTable;
use dta::stata::dta::variable::Variable;

use super::{BatchSize, Labels, TextBatch};
use crate::error::{MigError, Result};

/// A Stata file opened for streaming its observations.
pub struct StataSource {
    display: PathBuf,
    headers: Vec<String>,
    labels: Vec<Option<Labels>>,
    size: u64,
    records: RecordReader<BufReader<File>>,
    long_strings: LongStringTable,
    encoding: &'static encoding_rs::Encoding,
    row: u64,
}

impl StataSource {
    /// Opens `path`; `encoding` (`utf-8`, `latin-1`) overrides what the file declares.
    pub fn open(path: &Path, encoding: Option<&str>) -> Result<Self> {
        let unreadable = |e: DtaError| MigError::Unreadable {
            path: path.to_path_buf(),
            msg: format!("not a readable Stata file: {e}"),
        };
        let file = File::open(path).map_err(|e| MigError::Unreadable {
            path: path.to_path_buf(),
            msg: format!("cannot open: {e}"),
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = DtaReader::new();
        if let Some(enc) = encoding_override(encoding) {
            reader = reader.encoding(enc);
        }
        let chars = reader
            .from_file(file)
            .read_header()
            .and_then(|h| h.read_schema())
            .map_err(unreadable)?;
        let (release, order) = (chars.header().release(), chars.header().byte_order());
        if release.is_xml_like() {
            let big = order == ByteOrder::BigEndian;
            check_label_tables(path, release, big).map_err(|msg| MigError::Unreadable {
                path: path.to_path_buf(),
                msg: format!("not a readable Stata file: {msg}"),
            })?;
        }
        let mut long = chars.seek_long_strings().map_err(unreadable)?;
        let mut long_strings = LongStringTable::for_reading();
        long.read_remaining_into(&mut long_strings)
            .map_err(unreadable)?;
        let mut vl = long.into_value_label_reader().map_err(unreadable)?;
        let mut table = ValueLabelTable::new();
        vl.read_remaining_into(&mut table).map_err(unreadable)?;
        let records = vl.seek_records().map_err(unreadable)?;
        if records.header().release().is_xml_like() && !ends_with(path, b"</stata_dta>") {
            return Err(MigError::Unreadable {
                path: path.to_path_buf(),
                msg: "not a readable Stata file: it does not end with </stata_dta> \
                      (is it truncated?)"
                    .into(),
            });
        }
        let vars = records.schema().variables();
        let headers = vars.iter().map(|v| v.name().to_string()).collect();
        let labels = vars.iter().map(|v| column_labels(v, &table)).collect();
        let encoding = records.encoding();
        Ok(StataSource {
            display: path.to_path_buf(),
            headers,
            labels,
            size,
            records,
            long_strings,
            encoding,
            row: 0,
        })
    }
}

/// Releases 117+: every `<lbl>` table must fit in the value-label section, which the `<map>`
/// locates. A damaged length would otherwise be allocated in full before the read fails.
fn check_label_tables(path: &Path, release: Release, big: bool) -> std::result::Result<(), String> {
    let io = |e: std::io::Error| format!("cannot read: {e}");
    let mut f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut head = Vec::new();
    (&mut f).take(4096).read_to_end(&mut head).map_err(io)?;
    let at = head
        .windows(5)
        .position(|w| w == b"<map>")
        .ok_or("no <map> section")?
        + 5;
    let word = |b: &[u8], i: usize, n: usize| -> Option<u64> {
        let b = b.get(i..i + n)?;
        let v = b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        Some(if big {
            v
        } else {
            v.swap_bytes() >> (64 - 8 * n)
        })
    };
    let (start, end) = match (word(&head, at + 11 * 8, 8), word(&head, at + 12 * 8, 8)) {
        (Some(s), Some(e)) if s <= e && e <= len => (s, e),
        _ => return Err("the <map> points outside the file (is it truncated?)".into()),
    };
    if end - start > 1 << 28 {
        return Ok(());
    }
    let mut section = vec![0u8; (end - start) as usize];
    f.seek(SeekFrom::Start(start)).map_err(io)?;
    f.read_exact(&mut section).map_err(io)?;
    let name = if release >= Release::V118 { 129 } else { 33 };
    let mut pos = b"<value_labels>".len();
    while section.get(pos..).is_some_and(|s| s.starts_with(b"<lbl>")) {
        let n = word(&section, pos + 5, 4).unwrap_or(u64::MAX);
        let next = (pos as u64 + 5 + 4 + name + 3 + 6).saturating_add(n);
        if next > section.len() as u64 {
            return Err(format!(
                "the value-label table at byte {} claims {n} bytes, more than its section \
                 holds (is the file damaged?)",
                start + pos as u64
            ));
        }
        pos = next as usize;
    }
    Ok(())
}

/// Whether the file's last bytes are `tail` (releases 117+ close with `</stata_dta>`).
fn ends_with(path: &Path, tail: &[u8]) -> bool {
    let read = || -> std::io::Result<bool> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        if len < tail.len() as u64 {
            return Ok(false);
        }
        f.seek(SeekFrom::Start(len - tail.len() as u64))?;
        let mut buf = vec![0u8; tail.len()];
        f.read_exact(&mut buf)?;
        Ok(buf == tail)
    };
    read().unwrap_or(false)
}

/// A variable's value labels keyed by the cell text of the code.
fn column_labels(var: &Variable, table: &ValueLabelTable) -> Option<Labels> {
    let set = table.get(var.value_label_name())?;
    let entries = set.entries().iter();
    Some(
        entries
            .map(|e| (e.value().to_string(), e.label().to_string()))
            .collect(),
    )
}

fn encoding_override(name: Option<&str>) -> Option<&'static encoding_rs::Encoding> {
    match name.map(|n| n.trim().to_ascii_lowercase()).as_deref() {
        Some("utf-8" | "utf8") => Some(encoding_rs::UTF_8),
        Some("latin-1" | "latin1" | "windows-1252" | "cp1252") => Some(encoding_rs::WINDOWS_1252),
        _ => None,
    }
}

/// Appends one value: integers and doubles as numbers, a single-precision number as its own
/// shortest text (the decimal it was written as), strings as text; missing values of every
/// kind are blank.
fn push_cell(
    v: &Value<'_>,
    long: &LongStringTable,
    enc: &'static encoding_rs::Encoding,
    batch: &mut TextBatch,
) {
    let number = match v {
        Value::Byte(b) => b.present().map(f64::from),
        Value::Int(i) => i.present().map(f64::from),
        Value::Long(l) => l.present().map(f64::from),
        Value::Double(d) => d.present(),
        Value::Float(f) => {
            return batch.push_cell(&f.present().map(float_cell).unwrap_or_default())
        }
        Value::String(s) => return batch.push_cell(s),
        Value::LongStringRef(r) => {
            let text = long
                .get(r)
                .and_then(|s| s.data_str(enc).map(|t| t.into_owned()));
            return batch.push_cell(text.as_deref().unwrap_or(""));
        }
    };
    match number {
        Some(x) => batch.push_number(x),
        None => batch.push_cell(""),
    }
}

/// A single-precision number in its own shortest form (`0.1`, not `0.10000000149011612`).
fn float_cell(x: f32) -> String {
    if x.fract() == 0.0 && x.abs() < 1e7 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl super::RowSource for StataSource {
    fn display(&self) -> &Path {
        &self.display
    }

    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>> {
        super::typed_next_into(self, cells)
    }

    fn next_batch(&mut self, batch: &mut TextBatch, size: BatchSize) -> Result<usize> {
        super::typed_next_batch(self, batch, size)
    }

    fn labels(&self, column: usize) -> Option<&BTreeMap<String, String>> {
        self.labels.get(column).and_then(Option::as_ref)
    }
}

impl super::TypedRows for StataSource {
    fn push_next(&mut self, batch: &mut TextBatch) -> Result<Option<u64>> {
        let row = self.row + 1;
        let record = self
            .records
            .read_record()
            .map_err(|e| MigError::Unreadable {
                path: self.display.clone(),
                msg: format!("observation {row} cannot be read (is the file truncated?): {e}"),
            })?;
        let Some(record) = record else {
            return Ok(None);
        };
        batch.begin_row(row);
        for v in record.values() {
            push_cell(v, &self.long_strings, self.encoding, batch);
        }
        self.row = row;
        Ok(Some(row))
    }
}
