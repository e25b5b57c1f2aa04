//! Parquet through arrow-rs: numeric columns as nullable doubles, text columns as nullable
//! strings (blank = null), in one row group per 64 Ki rows. Value labels are not written.
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use super::{finish, temp_path, Cell, ColumnLabels, Table};
use crate::error::{MigError, Result};

/// Writes a Parquet file (see the module documentation for what it holds).
pub fn write_parquet(
    path: &Path,
    headers: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    _labels: &ColumnLabels,
    numeric: &[bool],
) -> Result<()> {
    let table = Table::new(path, headers, rows, numeric)?;
    let tmp = temp_path(path);
    let written = write_table(&table, &tmp).map_err(|msg| MigError::Data {
        path: path.to_path_buf(),
        line: 1,
        column: "-".into(),
        msg: format!("cannot write Parquet: {msg}"),
    });
    finish(&tmp, path, written)
}

fn write_table(table: &Table, path: &Path) -> std::result::Result<(), String> {
    let fields: Vec<Field> = table
        .headers
        .iter()
        .zip(&table.numeric)
        .map(|(h, num)| {
            let ty = if *num {
                DataType::Float64
            } else {
                DataType::Utf8
            };
            Field::new(h, ty, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let file = File::create(path).map_err(|e| e.to_string())?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), None).map_err(|e| e.to_string())?;
    for chunk in table.rows.chunks(1 << 16) {
        let columns: Vec<ArrayRef> = (0..table.headers.len())
            .map(|c| column(chunk, c, table.numeric[c]))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

fn column(rows: &[Vec<Cell>], c: usize, numeric: bool) -> ArrayRef {
    if numeric {
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| match &r[c] {
            Cell::Num(x) => *x,
            Cell::Text(_) => None,
        })))
    } else {
        Arc::new(StringArray::from_iter(rows.iter().map(|r| match &r[c] {
            Cell::Text(s) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        })))
    }
}
