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

/// Writes a Parquet file (see the module documentation for what it holds), 64 Ki rows at a
/// time: memory does not grow with the rows.
pub fn write_parquet(
    path: &Path,
    headers: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    _labels: &ColumnLabels,
    numeric: &[bool],
) -> Result<()> {
    let tmp = temp_path(path);
    let written = write_rows(path, &tmp, headers, rows, numeric);
    finish(&tmp, path, written)
}

const ROWS_PER_GROUP: usize = 1 << 16;

fn write_rows(
    path: &Path,
    tmp: &Path,
    headers: &[String],
    mut rows: impl Iterator<Item = Vec<String>>,
    numeric: &[bool],
) -> Result<()> {
    let failed = |msg: String| MigError::Data {
        path: path.to_path_buf(),
        line: 1,
        column: "-".into(),
        msg: format!("cannot write Parquet: {msg}"),
    };
    let fields: Vec<Field> = headers
        .iter()
        .zip(numeric)
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
    let file = File::create(tmp).map_err(|e| failed(e.to_string()))?;
    let mut writer =
        ArrowWriter::try_new(file, schema.clone(), None).map_err(|e| failed(e.to_string()))?;
    let mut done: u64 = 0;
    loop {
        let chunk: Vec<Vec<String>> = rows.by_ref().take(ROWS_PER_GROUP).collect();
        if chunk.is_empty() && done > 0 {
            break;
        }
        let n = chunk.len() as u64;
        // Checked and parsed a group at a time; lines counted from the file's first row.
        let table = Table::new(path, headers, chunk.into_iter(), numeric).map_err(|e| match e {
            MigError::Data {
                path,
                line,
                column,
                msg,
            } if line > 1 => MigError::Data {
                path,
                line: line + done,
                column,
                msg,
            },
            e => e,
        })?;
        let columns: Vec<ArrayRef> = (0..headers.len())
            .map(|c| column(&table.rows, c, numeric[c]))
            .collect();
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| failed(e.to_string()))?;
        writer.write(&batch).map_err(|e| failed(e.to_string()))?;
        done += n;
        if n < ROWS_PER_GROUP as u64 {
            break;
        }
    }
    writer.close().map_err(|e| failed(e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn rows(n: usize, bad: Option<usize>) -> impl Iterator<Item = Vec<String>> {
        (0..n).map(move |i| {
            let y = if Some(i) == bad {
                "x".to_string()
            } else {
                i.to_string()
            };
            vec![format!("id{i}"), y]
        })
    }

    #[test]
    fn rows_are_written_a_group_at_a_time_and_errors_keep_their_line() {
        let dir = std::env::temp_dir().join(format!("migstat-wpq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.parquet");
        let headers = vec!["ID".to_string(), "Y".to_string()];
        let numeric = [false, true];
        let n = ROWS_PER_GROUP + 1234;
        write_parquet(
            &path,
            &headers,
            rows(n, None),
            &Default::default(),
            &numeric,
        )
        .expect("write");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
            .expect("reader");
        assert_eq!(reader.metadata().file_metadata().num_rows(), n as i64);
        let bad = ROWS_PER_GROUP + 7;
        let err = write_parquet(
            &path,
            &headers,
            rows(n, Some(bad)),
            &Default::default(),
            &numeric,
        )
        .expect_err("a bad number");
        match err {
            MigError::Data { line, column, .. } => {
                assert_eq!((line, column.as_str()), (bad as u64 + 2, "Y"));
            }
            e => panic!("{e}"),
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
