//! Rendering a query result: a table for people, CSV and JSON for other programs (every number at
//! full precision), Parquet for anything that reads it back.
use std::io::Write;
use std::path::Path;

use polars::prelude::{AnyValue, DataFrame, ParquetCompression, ParquetWriter};

use super::QueryFormat;
use crate::error::{MigError, Result};

/// Writes `df` to `out` in `format` (Parquet needs a file: see [`write_file`]).
pub fn write(df: &mut DataFrame, format: QueryFormat, out: &mut dyn Write) -> Result<()> {
    let res = match format {
        QueryFormat::Table => write!(out, "{df}").and_then(|_| writeln!(out)),
        QueryFormat::Csv => return write_csv(df, out),
        QueryFormat::Json => write_json(df, out),
        QueryFormat::Parquet => {
            return Err(MigError::Other(
                "--format parquet writes a file: add --out FILE".into(),
            ))
        }
    };
    res.map_err(|e| MigError::Other(format!("writing the result: {e}")))
}

/// Writes `df` to `path` in `format`; the file appears whole or not at all.
pub fn write_file(df: &mut DataFrame, format: QueryFormat, path: &Path) -> Result<()> {
    crate::export::atomic::write_file(path, |w| match format {
        // Snappy, like the warehouse: every Parquet reader has it.
        QueryFormat::Parquet => ParquetWriter::new(w)
            .with_compression(ParquetCompression::Snappy)
            .finish(df)
            .map(|_| ())
            .map_err(|e| MigError::Other(format!("{}: writing Parquet: {e}", path.display()))),
        _ => write(df, format, w),
    })
}

fn write_csv(df: &mut DataFrame, out: &mut dyn Write) -> Result<()> {
    df.rechunk_mut();
    let err = |e: csv::Error| MigError::Other(format!("writing the result as CSV: {e}"));
    let mut w = csv::Writer::from_writer(out);
    w.write_record(df.get_column_names().iter().map(|n| n.as_str()))
        .map_err(err)?;
    let mut record: Vec<String> = Vec::with_capacity(df.width());
    for row in 0..df.height() {
        record.clear();
        for col in df.columns() {
            record.push(csv_cell(&cell(col.get(row))?));
        }
        w.write_record(&record).map_err(err)?;
    }
    w.flush()
        .map_err(|e| MigError::Other(format!("writing the result: {e}")))
}

/// A JSON array with one object per row, keys in column order.
fn write_json(df: &mut DataFrame, out: &mut dyn Write) -> std::io::Result<()> {
    df.rechunk_mut();
    let keys: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| json_string(n.as_str()))
        .collect();
    write!(out, "[")?;
    for row in 0..df.height() {
        write!(out, "{}\n  {{", if row == 0 { "" } else { "," })?;
        for (i, (key, col)) in keys.iter().zip(df.columns()).enumerate() {
            let v = cell(col.get(row)).map_err(std::io::Error::other)?;
            write!(out, "{}{key}: {}", if i == 0 { "" } else { ", " }, v.json())?;
        }
        write!(out, "}}")?;
    }
    writeln!(out, "{}]", if df.height() == 0 { "" } else { "\n" })
}

/// One value of a result, in the forms the text outputs need.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    /// A number already written at full precision (`f64`'s shortest exact form).
    Number(String),
    Text(String),
    /// Not a finite number: `NaN`, `inf` (CSV) / `null` (JSON).
    NonFinite(String),
    List(Vec<Cell>),
}

impl Cell {
    fn json(&self) -> String {
        match self {
            Cell::Null | Cell::NonFinite(_) => "null".into(),
            Cell::Bool(b) => b.to_string(),
            Cell::Number(n) => n.clone(),
            Cell::Text(s) => json_string(s),
            Cell::List(items) => {
                let inner: Vec<String> = items.iter().map(Cell::json).collect();
                format!("[{}]", inner.join(", "))
            }
        }
    }
}

fn csv_cell(c: &Cell) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Bool(b) => b.to_string(),
        Cell::Number(s) | Cell::Text(s) | Cell::NonFinite(s) => s.clone(),
        Cell::List(_) => c.json(),
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn float(x: f64) -> Cell {
    if x.is_finite() {
        Cell::Number(format!("{x}"))
    } else {
        Cell::NonFinite(format!("{x}"))
    }
}

fn cell(v: polars::prelude::PolarsResult<AnyValue<'_>>) -> Result<Cell> {
    let v = v.map_err(|e| MigError::Other(format!("reading the result: {e}")))?;
    Ok(match v {
        AnyValue::Null => Cell::Null,
        AnyValue::Boolean(b) => Cell::Bool(b),
        AnyValue::String(s) => Cell::Text(s.to_string()),
        AnyValue::StringOwned(s) => Cell::Text(s.to_string()),
        AnyValue::Float64(x) => float(x),
        AnyValue::Float32(x) => float(f64::from(x)),
        AnyValue::Int8(_)
        | AnyValue::Int16(_)
        | AnyValue::Int32(_)
        | AnyValue::Int64(_)
        | AnyValue::Int128(_)
        | AnyValue::UInt8(_)
        | AnyValue::UInt16(_)
        | AnyValue::UInt32(_)
        | AnyValue::UInt64(_)
        | AnyValue::UInt128(_) => Cell::Number(v.to_string()),
        AnyValue::List(s) => {
            let items: Vec<Cell> = (0..s.len())
                .map(|i| cell(s.get(i)))
                .collect::<Result<_>>()?;
            Cell::List(items)
        }
        other => Cell::Text(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    fn frame() -> DataFrame {
        let a = Column::new("indicator".into(), ["A,B", "C\"D"]);
        let b = Column::new("obs_value".into(), [Some(0.1 + 0.2), None]);
        let c = Column::new("n".into(), [1i64, 2]);
        let d = Column::new("x".into(), [f64::NAN, 1e-9]);
        DataFrame::new_infer_height(vec![a, b, c, d]).expect("frame")
    }

    #[test]
    fn csv_quotes_text_and_keeps_every_digit() {
        let mut out = Vec::new();
        write(&mut frame(), QueryFormat::Csv, &mut out).expect("csv");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "indicator,obs_value,n,x\n\"A,B\",0.30000000000000004,1,NaN\n\"C\"\"D\",,2,0.000000001\n"
        );
    }

    #[test]
    fn json_is_an_array_of_objects_in_column_order() {
        let mut out = Vec::new();
        write(&mut frame(), QueryFormat::Json, &mut out).expect("json");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid json");
        assert_eq!(v[0]["indicator"], "A,B");
        assert_eq!(v[0]["obs_value"], 0.30000000000000004);
        assert_eq!(v[0]["x"], serde_json::Value::Null);
        assert_eq!(v[1]["obs_value"], serde_json::Value::Null);
        assert_eq!(v[1]["n"], 2);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.find("indicator") < text.find("obs_value"));
    }

    #[test]
    fn parquet_needs_a_file() {
        let mut out = Vec::new();
        let err = write(&mut frame(), QueryFormat::Parquet, &mut out).expect_err("no file");
        assert!(err.to_string().contains("--out"), "{err}");
    }
}
