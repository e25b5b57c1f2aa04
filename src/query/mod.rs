//! `migstat query`: SQL over the warehouse's tables, by their folder names (`observations`,
//! `microdata`, `catalog_indicators`, …), with DataFusion's SQL engine (`engine.rs`, `output.rs`).
//! Each table is a lazy scan of its Parquet files, so a query reads only the columns and row groups it
//! needs. The engine is the cargo feature `query` (`make test`, CI and `make release` build it;
//! `make run` does not need it): without it `migstat query` says how to get it. `tables.rs` (the
//! warehouse's tables and files) serves export, mirror and report in every build.
#[cfg(feature = "query")]
mod engine;
#[cfg(feature = "query")]
pub mod output;
pub mod tables;

use std::io::Write;
use std::path::PathBuf;

use crate::error::{MigError, Result};
#[cfg(feature = "query")]
pub use engine::execute;
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
    answer(args, &tables, out)
}

#[cfg(not(feature = "query"))]
fn answer(_: &QueryArgs, _: &[Table], _: &mut dyn Write) -> Result<i32> {
    Err(MigError::Other(
        "this migstat was built without its SQL engine (cargo feature `query`): `make release` \
         or `cargo build --release --features query` builds it; DuckDB, polars, pandas and R read \
         the warehouse directly (docs/warehouse.md)"
            .into(),
    ))
}

#[cfg(feature = "query")]
fn answer(args: &QueryArgs, tables: &[Table], out: &mut dyn Write) -> Result<i32> {
    let df = execute(tables, &args.sql, &args.warehouse)?;
    match &args.out {
        Some(path) => {
            output::write_file(&df, args.format, path)?;
            writeln!(out, "{} rows written to {}", df.rows(), path.display())
                .map_err(|e| MigError::Other(format!("writing to standard output: {e}")))?;
        }
        None => {
            let limit = (args.limit > 0).then_some(args.limit);
            output::write(&df, args.format, limit, out)?
        }
    }
    Ok(0)
}
