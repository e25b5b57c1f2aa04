//! Rendering a query result: a table for people (every row up to a stated limit), CSV and JSON
//! for other programs (every number at full precision), Parquet for anything that reads it back.
//! A reader that goes away (`migstat query … | head -1`) ends the output quietly.
use std::io::Write;
use std::path::Path;

use polars::prelude::{AnyValue, DataFrame, ParquetCompression, ParquetWriter};

use super::QueryFormat;
use crate::error::{MigError, Result};

/// Writes `df` to `out` in `format` (Parquet needs a file: see [`write_file`]); the table shows at
/// most `limit` rows (`None`: all). A closed pipe is not an error: the output just ends.
pub fn write(
    df: &mut DataFrame,
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
fn write_table(
    df: &mut DataFrame,
    limit: Option<usize>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    df.rechunk_mut();
    let shown = limit.map_or(df.height(), |l| l.min(df.height()));
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut rows: Vec<Vec<Cell>> = Vec::with_capacity(shown);
    for row in 0..shown {
        let cells = df.columns().iter().map(|c| cell(c.get(row)));
        rows.push(
            cells
                .collect::<Result<_>>()
                .map_err(std::io::Error::other)?,
        );
    }
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
    footer(out, df.height(), shown)
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
pub fn write_file(df: &mut DataFrame, format: QueryFormat, path: &Path) -> Result<()> {
    crate::export::atomic::write_file(path, |w| match format {
        // Snappy, like the warehouse: every Parquet reader has it.
        QueryFormat::Parquet => ParquetWriter::new(w)
            .with_compression(ParquetCompression::Snappy)
            .finish(df)
            .map(|_| ())
            .map_err(|e| MigError::Other(format!("{}: writing Parquet: {e}", path.display()))),
        _ => write(df, format, None, w),
    })
}

fn write_csv(df: &mut DataFrame, out: &mut dyn Write) -> std::io::Result<()> {
    df.rechunk_mut();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(df.get_column_names().iter().map(|n| n.as_str()))
        .map_err(io_error)?;
    let mut record: Vec<String> = Vec::with_capacity(df.width());
    for row in 0..df.height() {
        record.clear();
        for col in df.columns() {
            record.push(csv_cell(
                &cell(col.get(row)).map_err(std::io::Error::other)?,
            ));
        }
        w.write_record(&record).map_err(io_error)?;
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
        write(&mut frame(), QueryFormat::Csv, None, &mut out).expect("csv");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "indicator,obs_value,n,x\n\"A,B\",0.30000000000000004,1,NaN\n\"C\"\"D\",,2,0.000000001\n"
        );
    }

    #[test]
    fn json_is_an_array_of_objects_in_column_order() {
        let mut out = Vec::new();
        write(&mut frame(), QueryFormat::Json, None, &mut out).expect("json");
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
        write(&mut frame(), QueryFormat::Table, Some(1), &mut out).expect("table");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("indicator  obs_value"), "{text}");
        assert!(lines[2].contains("0.30000000000000004"), "{text}");
        assert!(lines[3].contains("1 more row; use --limit"), "{text}");
        let mut all = Vec::new();
        write(&mut frame(), QueryFormat::Table, None, &mut all).expect("table");
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
            write(&mut frame(), f, None, &mut ClosedPipe).expect("quiet");
        }
    }

    #[test]
    fn parquet_needs_a_file() {
        let mut out = Vec::new();
        let err = write(&mut frame(), QueryFormat::Parquet, None, &mut out).expect_err("no file");
        assert!(err.to_string().contains("--out"), "{err}");
    }
}
