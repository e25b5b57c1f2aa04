//! Rendering a query result: a table for people (every row up to a stated limit), CSV and JSON
//! for other programs (every number at full precision), Parquet for anything that reads it back.
//! A reader that goes away (`migstat query … | head -1`) ends the output quietly.
use std::io::Write;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use super::engine::Answer;
use super::QueryFormat;
use crate::error::{MigError, Result};

/// Writes `df` to `out` in `format` (Parquet needs a file: see [`write_file`]); the table shows at
/// most `limit` rows (`None`: all). A closed pipe is not an error: the output just ends.
pub fn write(
    df: &Answer,
    format: QueryFormat,
    limit: Option<usize>,
    out: &mut dyn Write,
) -> Result<()> {
    let res = match format {
        QueryFormat::Table => write_table(df, limit, out),
        QueryFormat::Csv => write_csv(df, out),
        QueryFormat::Json => write_json(df, out),
        QueryFormat::Parquet => {
            return Err(MigError::Other(
                "--format parquet writes a file: add --out FILE".into(),
            ))
        }
    };
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| MigError::Other(format!("writing the result: {e}"))),
    }
}

/// An aligned table: header, rule, the first `limit` rows (numbers right-aligned), then a line
/// that says how many rows there are and, when cut, how many were left out.
fn write_table(df: &Answer, limit: Option<usize>, out: &mut dyn Write) -> std::io::Result<()> {
    let height = df.rows();
    let shown = limit.map_or(height, |l| l.min(height));
    let names = names(df);
    let rows: Vec<Vec<Cell>> = cells(df).take(shown).collect();
    let text: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(table_cell).collect())
        .collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|i| {
            let w = text.iter().map(|r| r[i].chars().count());
            w.chain([names[i].chars().count()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String], right: &dyn Fn(usize) -> bool| -> String {
        let padded = cells
            .iter()
            .zip(widths.iter().copied())
            .enumerate()
            .map(|(i, (c, w))| match right(i) {
                true => format!("{c:>w$}"),
                false => format!("{c:<w$}"),
            });
        padded.collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(&names, &|_| false))?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", line(&rule, &|_| false))?;
    for (r, t) in rows.iter().zip(&text) {
        writeln!(
            out,
            "{}",
            line(t, &|i| matches!(r[i], Cell::Number(_) | Cell::NonFinite(_)))
        )?;
    }
    footer(out, height, shown)
}

fn footer(out: &mut dyn Write, total: usize, shown: usize) -> std::io::Result<()> {
    let plural = |n: usize| if n == 1 { "row" } else { "rows" };
    match total - shown {
        0 => writeln!(out, "({total} {})", plural(total)),
        more => writeln!(
            out,
            "({total} {}, {shown} shown; {more} more {}; use --limit N, or --limit 0 for all)",
            plural(total),
            plural(more)
        ),
    }
}

fn table_cell(c: &Cell) -> String {
    match c {
        Cell::Null => "null".into(),
        other => csv_cell(other),
    }
}

/// Writes `df` to `path` in `format`; the file appears whole or not at all.
pub fn write_file(df: &Answer, format: QueryFormat, path: &Path) -> Result<()> {
    crate::export::atomic::write_file(path, |w| match format {
        // Snappy, like the warehouse: every Parquet reader has it.
        QueryFormat::Parquet => write_parquet(df, w)
            .map_err(|e| MigError::Other(format!("{}: writing Parquet: {e}", path.display()))),
        _ => write(df, format, None, w),
    })
}

fn write_parquet(
    df: &Answer,
    w: &mut dyn Write,
) -> std::result::Result<(), parquet::errors::ParquetError> {
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut buf = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut buf, df.schema.clone(), Some(props))?;
    for b in &df.batches {
        writer.write(b)?;
    }
    writer.close()?;
    w.write_all(&buf)
        .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
}

fn names(df: &Answer) -> Vec<String> {
    df.schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The result's rows as cells, in order.
fn cells(df: &Answer) -> impl Iterator<Item = Vec<Cell>> + '_ {
    df.batches.iter().flat_map(|b| {
        (0..b.num_rows()).map(move |r| b.columns().iter().map(|c| cell(c, r)).collect())
    })
}

fn write_csv(df: &Answer, out: &mut dyn Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(names(df)).map_err(io_error)?;
    for row in cells(df) {
        w.write_record(row.iter().map(csv_cell)).map_err(io_error)?;
    }
    w.flush()
}

/// The I/O error inside a CSV error (so a closed pipe stays recognisable).
fn io_error(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// A JSON array with one object per row, keys in column order.
fn write_json(df: &Answer, out: &mut dyn Write) -> std::io::Result<()> {
    let keys: Vec<String> = names(df).iter().map(|n| json_string(n)).collect();
    write!(out, "[")?;
    for (row, values) in cells(df).enumerate() {
        write!(out, "{}\n  {{", if row == 0 { "" } else { "," })?;
        for (i, (key, v)) in keys.iter().zip(&values).enumerate() {
            write!(out, "{}{key}: {}", if i == 0 { "" } else { ", " }, v.json())?;
        }
        write!(out, "}}")?;
    }
    writeln!(out, "{}]", if df.rows() == 0 { "" } else { "\n" })
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

/// Row `r` of column `a`.
fn cell(a: &ArrayRef, r: usize) -> Cell {
    use arrow_array::types::*;
    if a.is_null(r) {
        return Cell::Null;
    }
    macro_rules! int {
        ($t:ty) => {
            Cell::Number(a.as_primitive::<$t>().value(r).to_string())
        };
    }
    match a.data_type() {
        DataType::Boolean => Cell::Bool(a.as_boolean().value(r)),
        DataType::Utf8 => Cell::Text(a.as_string::<i32>().value(r).to_string()),
        DataType::LargeUtf8 => Cell::Text(a.as_string::<i64>().value(r).to_string()),
        DataType::Utf8View => Cell::Text(a.as_string_view().value(r).to_string()),
        DataType::Float64 => float(a.as_primitive::<Float64Type>().value(r)),
        DataType::Float32 => float(f64::from(a.as_primitive::<Float32Type>().value(r))),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::List(_) | DataType::LargeList(_) => {
            let items = match a.data_type() {
                DataType::List(_) => a.as_list::<i32>().value(r),
                _ => a.as_list::<i64>().value(r),
            };
            Cell::List((0..items.len()).map(|i| cell(&items, i)).collect())
        }
        DataType::Decimal128(..) | DataType::Decimal256(..) => Cell::Number(display(a, r)),
        _ => Cell::Text(display(a, r)),
    }
}

/// Arrow's own rendering of a value (dates, times, decimals, …).
fn display(a: &ArrayRef, r: usize) -> String {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default())
        .map(|f| f.value(r).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn frame() -> Answer {
        let batch = RecordBatch::try_from_iter([
            (
                "indicator",
                Arc::new(StringArray::from(vec!["A,B", "C\"D"])) as ArrayRef,
            ),
            (
                "obs_value",
                Arc::new(Float64Array::from(vec![Some(0.1 + 0.2), None])),
            ),
            ("n", Arc::new(Int64Array::from(vec![1i64, 2]))),
            ("x", Arc::new(Float64Array::from(vec![f64::NAN, 1e-9]))),
        ])
        .expect("batch");
        Answer {
            schema: batch.schema(),
            batches: vec![batch],
        }
    }

    #[test]
    fn csv_quotes_text_and_keeps_every_digit() {
        let mut out = Vec::new();
        write(&frame(), QueryFormat::Csv, None, &mut out).expect("csv");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "indicator,obs_value,n,x\n\"A,B\",0.30000000000000004,1,NaN\n\"C\"\"D\",,2,0.000000001\n"
        );
    }

    #[test]
    fn json_is_an_array_of_objects_in_column_order() {
        let mut out = Vec::new();
        write(&frame(), QueryFormat::Json, None, &mut out).expect("json");
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
    fn the_table_states_its_limit() {
        let mut out = Vec::new();
        write(&frame(), QueryFormat::Table, Some(1), &mut out).expect("table");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("indicator  obs_value"), "{text}");
        assert!(lines[2].contains("0.30000000000000004"), "{text}");
        assert!(lines[3].contains("1 more row; use --limit"), "{text}");
        let mut all = Vec::new();
        write(&frame(), QueryFormat::Table, None, &mut all).expect("table");
        let all = String::from_utf8(all).expect("utf8");
        assert!(all.contains("null") && all.ends_with("(2 rows)\n"), "{all}");
    }

    /// A writer whose reader has gone away.
    struct ClosedPipe;
    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_output_quietly() {
        for f in [QueryFormat::Table, QueryFormat::Csv, QueryFormat::Json] {
            write(&frame(), f, None, &mut ClosedPipe).expect("quiet");
        }
    }

    #[test]
    fn parquet_needs_a_file() {
        let mut out = Vec::new();
        let err = write(&frame(), QueryFormat::Parquet, None, &mut out).expect_err("no file");
        assert!(err.to_string().contains("--out"), "{err}");
    }
}
