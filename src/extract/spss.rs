//! SPSS system files: `.sav` (plain or bytecode-compressed) and `.zsav` (zlib blocks), either
//! byte order. Long variable names, very long strings (over 255 bytes, stored as segments) and
//! the file's character encoding are honoured; value labels of numbers and strings are offered to
//! the recode step. System-missing numbers and the variables' user-missing values (up to three
//! values, or a range and one value) come out as blank cells. Dates stay the numbers SPSS stores
//! (seconds since 1582-10-14).
mod cases;
mod dict;
mod ext;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use encoding_rs::Encoding;

use self::cases::Cases;
use self::dict::{trim_end, In, Missing, Var};
use super::{number_cell, BatchSize, Labels, TextBatch};
use crate::error::{MigError, Result};

/// One output column: where its bytes lie in a case and what counts as missing.
struct Column {
    /// 0 for numbers; for strings, the declared width.
    width: usize,
    /// (first slot, bytes used) of each segment (one unless a very long string).
    segments: Vec<(usize, usize)>,
    missing: Missing,
}

/// An SPSS file opened for streaming its cases.
pub struct SpssSource {
    display: PathBuf,
    headers: Vec<String>,
    labels: Vec<Option<Labels>>,
    size: u64,
    columns: Vec<Column>,
    cases: Cases,
    case: Vec<[u8; 8]>,
    encoding: &'static Encoding,
    big: bool,
    ncases: i32,
    row: u64,
}

impl SpssSource {
    /// Opens `path`; `encoding` (`utf-8`, `latin-1`) overrides what the file declares.
    pub fn open(path: &Path, encoding: Option<&str>) -> Result<Self> {
        let unreadable = |e: io::Error| MigError::Unreadable {
            path: path.to_path_buf(),
            msg: match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    "the file ends inside its dictionary (is it truncated?)".to_string()
                }
                io::ErrorKind::InvalidData => format!("not a readable SPSS file: {e}"),
                _ => format!("cannot read: {e}"),
            },
        };
        let file = File::open(path).map_err(unreadable)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut input = In {
            r: BufReader::with_capacity(1 << 16, file),
            big: false,
            pos: 0,
        };
        let mut dict = dict::read(&mut input).map_err(unreadable)?;
        let enc = match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
            Some("utf-8" | "utf8") => encoding_rs::UTF_8,
            Some("latin-1" | "latin1" | "windows-1252") => encoding_rs::WINDOWS_1252,
            _ => dict.encoding,
        };
        let big = input.big;
        let (headers, labels, columns) = columns(std::mem::take(&mut dict.vars), enc, big);
        let cases = Cases::new(input, dict.compression, dict.bias).map_err(unreadable)?;
        Ok(SpssSource {
            display: path.to_path_buf(),
            headers,
            labels,
            size,
            columns,
            cases,
            case: vec![[0u8; 8]; dict.slots],
            encoding: enc,
            big,
            ncases: dict.ncases,
            row: 0,
        })
    }

    fn number(&self, slot: [u8; 8]) -> f64 {
        if self.big {
            f64::from_be_bytes(slot)
        } else {
            f64::from_le_bytes(slot)
        }
    }

    /// Appends the cell of `col` of the case read: a number, or text (blank when missing).
    fn push_cell(&self, col: &Column, batch: &mut TextBatch) {
        let Some(&(first, _)) = col.segments.first() else {
            return batch.push_cell("");
        };
        if col.width == 0 {
            let x = self.number(self.case[first]);
            let m = &col.missing;
            let user = m.values.iter().any(|v| self.number(*v) == x)
                || m.range.is_some_and(|(lo, hi)| lo <= x && x <= hi);
            return if x == -f64::MAX || user || x.is_nan() {
                batch.push_cell("")
            } else {
                batch.push_number(x)
            };
        }
        let mut bytes = Vec::with_capacity(col.width);
        for &(slot, used) in &col.segments {
            let seg = self.case[slot..].iter().flatten().take(used);
            bytes.extend(seg);
        }
        bytes.truncate(col.width);
        let value = trim_end(&bytes);
        if is_missing_string(value, &col.missing) {
            return batch.push_cell("");
        }
        batch.push_cell(&decode(self.encoding, value))
    }
}

/// The header, value labels and byte layout of each output column.
fn columns(
    vars: Vec<Var>,
    enc: &'static Encoding,
    big: bool,
) -> (Vec<String>, Vec<Option<Labels>>, Vec<Column>) {
    let vars = merge_segments(vars);
    let mut headers = Vec::with_capacity(vars.len());
    let mut labels = Vec::with_capacity(vars.len());
    let mut columns = Vec::with_capacity(vars.len());
    for (var, segments) in vars {
        let name = var.long.as_deref().unwrap_or(&var.short);
        headers.push(decode(enc, name).trim().to_string());
        labels.push(column_labels(&var, enc, big));
        columns.push(Column {
            width: var.very_long.unwrap_or(var.width),
            segments,
            missing: var.missing,
        });
    }
    (headers, labels, columns)
}

/// Groups each very long string's segment variables under its first; returns each variable
/// with the (slot, bytes used) of its segments.
fn merge_segments(vars: Vec<Var>) -> Vec<(Var, Vec<(usize, usize)>)> {
    let mut out: Vec<(Var, Vec<(usize, usize)>)> = Vec::with_capacity(vars.len());
    let mut pending = 0usize;
    for var in vars {
        let used = if var.width == 0 {
            8
        } else {
            var.width.min(255)
        };
        if pending > 0 {
            if let Some((_, segs)) = out.last_mut() {
                segs.push((var.slot, used));
                pending -= 1;
                continue;
            }
        }
        pending = var
            .very_long
            .map_or(0, |w| w.div_ceil(252).saturating_sub(1));
        let segs = vec![(var.slot, used)];
        out.push((var, segs));
    }
    out
}

fn is_missing_string(value: &[u8], m: &Missing) -> bool {
    m.values.iter().any(|v| trim_end(v) == value) || m.long.iter().any(|v| trim_end(v) == value)
}

fn decode<'a>(enc: &'static Encoding, bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
    enc.decode_without_bom_handling(bytes).0
}

/// A variable's value labels keyed by the cell text its values read as.
fn column_labels(var: &Var, enc: &'static Encoding, big: bool) -> Option<Labels> {
    if var.labels.is_empty() {
        return None;
    }
    let map: BTreeMap<String, String> = var
        .labels
        .iter()
        .filter_map(|(value, label)| {
            let key = if var.width == 0 {
                let b: [u8; 8] = value.as_slice().try_into().ok()?;
                let x = if big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                number_cell(x)
            } else {
                decode(enc, trim_end(value)).into_owned()
            };
            Some((key, decode(enc, label).into_owned()))
        })
        .collect();
    Some(map)
}

impl super::RowSource for SpssSource {
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

impl super::TypedRows for SpssSource {
    fn push_next(&mut self, batch: &mut TextBatch) -> Result<Option<u64>> {
        let row = self.row + 1;
        let got = self
            .cases
            .read(&mut self.case)
            .map_err(|e| MigError::Unreadable {
                path: self.display.clone(),
                msg: format!("case {row} cannot be read (is the file truncated?): {e}"),
            })?;
        if !got {
            if self.ncases >= 0 && self.row != self.ncases as u64 {
                return Err(MigError::Unreadable {
                    path: self.display.clone(),
                    msg: format!(
                        "the header promises {} cases but the data end after {} \
                         (is the file truncated?)",
                        self.ncases, self.row
                    ),
                });
            }
            return Ok(None);
        }
        batch.begin_row(row);
        for col in &self.columns {
            self.push_cell(col, batch);
        }
        self.row = row;
        Ok(Some(row))
    }
}
