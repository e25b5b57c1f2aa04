//! `migstat query`: SQL over the warehouse's tables, by their folder names (`observations`,
//! `microdata`, `catalog_indicators`, …), with polars' SQL engine. Each table is a lazy scan of its
//! Parquet files, so a query reads only the columns and row groups it needs.
pub mod output;
pub mod tables;

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, HiveOptions, LazyFrame, PlRefPath, PolarsError, ScanArgsParquet};
use polars::sql::{extract_table_identifiers, SQLContext};

use crate::error::{MigError, Result};
pub use tables::{discover, Table};

/// How a query result is written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueryFormat {
    /// An aligned table for reading (at most --limit rows; the last line says how many there are).
    #[default]
    Table,
    /// CSV with a header; numbers at full precision, null as an empty field.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// A Parquet file (needs --out).
    Parquet,
}

#[derive(clap::Args, Debug, Clone)]
pub struct QueryArgs {
    /// The SQL query, e.g. "SELECT indicator, count(*) FROM observations GROUP BY indicator".
    pub sql: String,
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
    /// Write the result to this file (whole or not at all) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rows the table view shows (0: all); CSV, JSON and Parquet always hold every row.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
}

/// Rows the table view shows unless `--limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 200;

/// Runs the query and writes its result; returns the exit code (0).
pub fn run(args: &QueryArgs, out: &mut dyn Write) -> Result<i32> {
    if args.format == QueryFormat::Parquet && args.out.is_none() {
        return Err(MigError::Other(
            "--format parquet writes a file: add --out FILE".into(),
        ));
    }
    let tables = discover(&args.warehouse)?;
    let mut df = execute(&tables, &args.sql, &args.warehouse)?;
    match &args.out {
        Some(path) => {
            output::write_file(&mut df, args.format, path)?;
            writeln!(out, "{} rows written to {}", df.height(), path.display())
                .map_err(|e| MigError::Other(format!("writing to standard output: {e}")))?;
        }
        None => {
            let limit = (args.limit > 0).then_some(args.limit);
            output::write(&mut df, args.format, limit, out)?
        }
    }
    Ok(0)
}

/// Runs `sql` over `tables` and collects the result. `warehouse` only names the folder in errors.
pub fn execute(tables: &[Table], sql: &str, warehouse: &Path) -> Result<DataFrame> {
    let mut ctx = SQLContext::new();
    for t in tables {
        ctx.register(&t.name, scan(t)?);
    }
    ctx.execute(sql)
        .and_then(LazyFrame::collect)
        .map_err(|e| query_error(&e, sql, tables, warehouse))
}

/// A lazy scan of a table's files. Folder names carry no `key=value` columns, so hive
/// partitioning stays off; a file written before a column was added reads it as null.
fn scan(t: &Table) -> Result<LazyFrame> {
    let paths = t
        .files
        .iter()
        .map(|p| {
            p.to_str()
                .map(PlRefPath::new)
                .ok_or_else(|| MigError::Unreadable {
                    path: p.clone(),
                    msg: "the path is not valid UTF-8".into(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let opts = ScanArgsParquet {
        hive_options: HiveOptions::new_disabled(),
        allow_missing_columns: true,
        ..Default::default()
    };
    LazyFrame::scan_parquet_files(paths.into(), opts).map_err(|e| MigError::Unreadable {
        path: t.files.first().cloned().unwrap_or_default(),
        msg: format!("table {}: {e}", t.name),
    })
}

/// A user-facing error: the unknown tables when that is the problem, else polars' message; both
/// list the tables the warehouse has.
fn query_error(e: &PolarsError, sql: &str, tables: &[Table], warehouse: &Path) -> MigError {
    let have = tables::names(tables);
    let wh = warehouse.display();
    let msg = e.to_string();
    if msg.contains("was not found") {
        let unknown: Vec<String> = extract_table_identifiers(sql, false, true)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !tables.iter().any(|t| &t.name == n))
            .collect();
        if !unknown.is_empty() {
            return MigError::Other(format!(
                "unknown table {}: the warehouse {wh} has {have}",
                unknown.join(", ")
            ));
        }
    }
    MigError::Other(format!(
        "the query failed: {}\n(tables in {wh}: {have})",
        shorten(msg.trim())
    ))
}

/// polars quotes whole syntax trees in some messages: keep their start and end.
fn shorten(msg: &str) -> String {
    const HEAD: usize = 160;
    const TAIL: usize = 80;
    let chars: Vec<char> = msg.chars().collect();
    if chars.len() <= HEAD + TAIL + 20 {
        return msg.to_string();
    }
    let head: String = chars[..HEAD].iter().collect();
    let tail: String = chars[chars.len() - TAIL..].iter().collect();
    format!("{head} … {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_keep_their_start_and_end() {
        assert_eq!(shorten("short"), "short");
        let long = format!("expression {} is not currently supported", "x".repeat(2000));
        let s = shorten(&long);
        assert!(s.starts_with("expression xxx") && s.ends_with("is not currently supported"));
        assert!(s.chars().count() < 300);
    }
}
