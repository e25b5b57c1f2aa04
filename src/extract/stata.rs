//! Stata `.dta` files, every release the `dta` crate reads (102–119; offices ship 114–119).
//! Value labels are read before the rows (the reader seeks to them), so the recode step can map
//! by label. System missing `.` and the extended missing values `.a`–`.z` (Stata's user-defined
//! missing) come out as blank cells. `strL` long strings are resolved through their table.
//! Dates stay the numbers Stata stores (days or milliseconds since 1960).
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use dta::stata::dta::dta_error::DtaError;
use dta::stata::dta::dta_reader::DtaReader;
use dta::stata::dta::long_string_table::LongStringTable;
use dta::stata::dta::record_reader::RecordReader;
use dta::stata::dta::value::Value;
use dta::stata::dta::value_label_table::ValueLabelTable;
use dta::stata::dta::variable::Variable;

use super::{number_cell, Labels};
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
        let mut long = chars.seek_long_strings().map_err(unreadable)?;
        let mut long_strings = LongStringTable::for_reading();
        long.read_remaining_into(&mut long_strings)
            .map_err(unreadable)?;
        let mut vl = long.into_value_label_reader().map_err(unreadable)?;
        let mut table = ValueLabelTable::new();
        vl.read_remaining_into(&mut table).map_err(unreadable)?;
        let records = vl.seek_records().map_err(unreadable)?;
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

/// The text of one value; missing values of every kind are blank.
fn cell(v: &Value<'_>, long: &LongStringTable, enc: &'static encoding_rs::Encoding) -> String {
    match v {
        Value::Byte(b) => b.present().map(|x| x.to_string()).unwrap_or_default(),
        Value::Int(i) => i.present().map(|x| x.to_string()).unwrap_or_default(),
        Value::Long(l) => l.present().map(|x| x.to_string()).unwrap_or_default(),
        Value::Float(f) => f.present().map(float_cell).unwrap_or_default(),
        Value::Double(d) => d.present().map(number_cell).unwrap_or_default(),
        Value::String(s) => s.to_string(),
        Value::LongStringRef(r) => long
            .get(r)
            .and_then(|s| s.data_str(enc).map(|t| t.into_owned()))
            .unwrap_or_default(),
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
        cells.clear();
        cells.extend(
            record
                .values()
                .iter()
                .map(|v| cell(v, &self.long_strings, self.encoding)),
        );
        self.row = row;
        Ok(Some(row))
    }

    fn labels(&self, column: usize) -> Option<&BTreeMap<String, String>> {
        self.labels.get(column).and_then(Option::as_ref)
    }
}
