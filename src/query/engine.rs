//! polars' SQL over lazy Parquet scans of the warehouse's tables (cargo feature `query`).
use std::path::Path;

use polars::prelude::{DataFrame, HiveOptions, LazyFrame, PlRefPath, PolarsError, ScanArgsParquet};
use polars::sql::{extract_table_identifiers, SQLContext};

use super::tables::{self, Table};
use crate::error::{MigError, Result};

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
