//! Reading warehouse tables by column name with arrow-rs, for the mirror statistics and the
//! report: every Parquet file under a table folder, its batches, and typed cells that read a
//! missing column or a null as `None`.
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use crate::error::Result;
use crate::export::observations::{batches, string_at};

/// Every batch of every Parquet file under `warehouse/<table>` (none when the folder is missing).
pub fn table(warehouse: &Path, table: &str) -> Result<Vec<RecordBatch>> {
    let dir = warehouse.join(table);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for file in crate::query::tables::parquet_files(&dir)? {
        out.extend(batches(&file)?);
    }
    Ok(out)
}

/// A string cell (any Arrow string type); `None` for a null or a column the batch lacks.
pub fn text<'a>(b: &'a RecordBatch, column: &str, i: usize) -> Option<&'a str> {
    string_at(b.column_by_name(column)?.as_ref(), i)
}

/// A float64 (or int64) cell; `None` for a null, another type or a column the batch lacks.
pub fn number(b: &RecordBatch, column: &str, i: usize) -> Option<f64> {
    let c = b.column_by_name(column)?;
    if c.is_null(i) {
        return None;
    }
    match c.data_type() {
        DataType::Float64 => Some(c.as_primitive::<Float64Type>().value(i)),
        DataType::Int64 => Some(c.as_primitive::<Int64Type>().value(i) as f64),
        _ => None,
    }
}
