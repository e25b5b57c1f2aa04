//! Stata `.dta` (release 118, little-endian, UTF-8) through the `dta` crate: numeric columns as
//! doubles (blank = system missing `.`), text columns as fixed strings of up to 2045 bytes.
//! The crate offers no public way to build value-label sets, so the `<value_labels>` section is
//! written here after the crate has finished the file: the empty section it leaves is replaced by
//! one `<lbl>` table per labelled numeric column, and the two `<map>` offsets that follow it are
//! updated. Stata labels integers only; labels of text columns are not written.
use std::collections::BTreeMap;
use std::path::Path;

use dta::stata::dta::byte_order::ByteOrder;
use dta::stata::dta::dta_error::DtaError;
use dta::stata::dta::dta_writer::DtaWriter;
use dta::stata::dta::header::Header;
use dta::stata::dta::release::Release;
use dta::stata::dta::schema::Schema;
use dta::stata::dta::value::Value;
use dta::stata::dta::variable::Variable;
use dta::stata::dta::variable_type::VariableType;
use dta::stata::missing_value::MissingValue;
use dta::stata::stata_double::StataDouble;

use super::{finish, temp_path, Cell, ColumnLabels, Table};
use crate::error::{MigError, Result};

const EMPTY_TAIL: &[u8] = b"<value_labels></value_labels></stata_dta>";

/// Writes a Stata `.dta` file (see the module documentation for what it holds).
pub fn write_stata(
    path: &Path,
    headers: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    labels: &ColumnLabels,
    numeric: &[bool],
) -> Result<()> {
    let table = Table::new(path, headers, rows, numeric)?;
    let tmp = temp_path(path);
    let fail = |msg: String| MigError::Data {
        path: path.to_path_buf(),
        line: 1,
        column: "-".into(),
        msg,
    };
    let written = write_dta(&tmp, &table, labels)
        .map_err(|e| fail(format!("cannot write Stata data: {e}")))
        .and_then(|()| {
            let sets = label_tables(&table, labels).map_err(fail)?;
            append_labels(&tmp, &sets)
        });
    finish(&tmp, path, written)
}

fn write_dta(
    path: &Path,
    table: &Table,
    labels: &ColumnLabels,
) -> std::result::Result<(), DtaError> {
    let header = Header::builder(Release::V118, ByteOrder::LittleEndian)
        .dataset_label("migstat")
        .build();
    let mut schema = Schema::builder();
    for (c, name) in table.headers.iter().enumerate() {
        let var = if table.numeric[c] {
            let v = Variable::builder(VariableType::Double, name).format("%10.0g");
            if labels.get(name).is_some_and(|s| !s.is_empty()) {
                v.value_label_name(name)
            } else {
                v
            }
        } else {
            let w = table.text_width(c).min(usize::from(u16::MAX)) as u16;
            Variable::builder(VariableType::FixedString(w), name).format(format!("%{w}s"))
        };
        schema = schema.add_variable(var);
    }
    let mut records = DtaWriter::new()
        .from_path(path)?
        .write_header(header)?
        .write_schema(schema.build()?)?
        .into_record_writer()?;
    let mut values = Vec::with_capacity(table.headers.len());
    for row in &table.rows {
        values.clear();
        values.extend(row.iter().map(|cell| match cell {
            Cell::Num(Some(x)) => Value::Double(StataDouble::Present(*x)),
            Cell::Num(None) => Value::Double(StataDouble::Missing(MissingValue::System)),
            Cell::Text(s) => Value::string(s),
        }));
        records.write_record(&values)?;
    }
    records
        .into_long_string_writer()?
        .into_value_label_writer()?
        .finish()?;
    Ok(())
}

/// The `<lbl>` sections of the labelled numeric columns.
fn label_tables(table: &Table, labels: &ColumnLabels) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (c, name) in table.headers.iter().enumerate() {
        let Some(set) = labels
            .get(name)
            .filter(|s| !s.is_empty() && table.numeric[c])
        else {
            continue;
        };
        let mut entries: BTreeMap<i32, &str> = BTreeMap::new();
        for (code, label) in set {
            let v = code.trim().parse::<i32>().map_err(|_| {
                format!(
                    "column {name}: label code {code:?} is not an integer (Stata labels integers)"
                )
            })?;
            entries.insert(v, label);
        }
        let mut txt = Vec::new();
        let mut offsets = Vec::new();
        for label in entries.values() {
            offsets.push(txt.len() as u32);
            txt.extend_from_slice(label.as_bytes());
            txt.push(0);
        }
        let mut body = Vec::new();
        body.extend((entries.len() as u32).to_le_bytes());
        body.extend((txt.len() as u32).to_le_bytes());
        offsets.iter().for_each(|o| body.extend(o.to_le_bytes()));
        entries.keys().for_each(|v| body.extend(v.to_le_bytes()));
        body.extend(&txt);
        let mut lbl_name = name.as_bytes()[..name.len().min(128)].to_vec();
        lbl_name.resize(129 + 3, 0);
        out.extend_from_slice(b"<lbl>");
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(lbl_name);
        out.extend(body);
        out.extend_from_slice(b"</lbl>");
    }
    Ok(out)
}

/// Puts `sets` into the empty value-label section and updates the map's last two offsets.
fn append_labels(path: &Path, sets: &[u8]) -> Result<()> {
    if sets.is_empty() {
        return Ok(());
    }
    let mut bytes = std::fs::read(path).map_err(|e| MigError::io(path, e))?;
    let unexpected = || {
        MigError::Other(format!(
            "{}: the Stata writer left a layout this code does not know; value labels not written",
            path.display()
        ))
    };
    if !bytes.ends_with(EMPTY_TAIL) {
        return Err(unexpected());
    }
    let map = bytes
        .windows(5)
        .take(4096)
        .position(|w| w == b"<map>")
        .ok_or_else(unexpected)?
        + 5;
    let open = bytes.len() - EMPTY_TAIL.len() + b"<value_labels>".len();
    bytes.truncate(open);
    bytes.extend_from_slice(sets);
    bytes.extend_from_slice(b"</value_labels>");
    let close = bytes.len() as u64;
    bytes.extend_from_slice(b"</stata_dta>");
    let end = bytes.len() as u64;
    for (slot, offset) in [(12, close), (13, end)] {
        let at = map + slot * 8;
        bytes
            .get_mut(at..at + 8)
            .ok_or_else(unexpected)?
            .copy_from_slice(&offset.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|e| MigError::io(path, e))
}
