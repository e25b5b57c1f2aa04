//! DataFusion's SQL over the warehouse's tables (cargo feature `query`): each table is a
//! listing of its Parquet files, read lazily (only the columns and row groups a query needs).
//! Its schema is the union of its files' schemas, so a file written before a column was added
//! reads it as null. The same engine serves `--engine ballista://…` (`cluster/`).
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::tables::{self, Table};
use crate::error::{MigError, Result};

/// A query's result: its columns and rows.
pub struct Answer {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Answer {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Runs `sql` over `tables` and collects the result. `warehouse` only names the folder in errors.
pub fn execute(tables: &[Table], sql: &str, warehouse: &Path) -> Result<Answer> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| MigError::Other(format!("cannot start the query runtime: {e}")))?;
    runtime.block_on(async {
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
        for t in tables {
            register(&ctx, t).await?;
        }
        let failed = |e: DataFusionError| query_error(&ctx, &e, sql, tables, warehouse);
        let df = ctx.sql(sql).await.map_err(failed)?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(failed)?;
        Ok(Answer { schema, batches })
    })
}

/// The table over its files, with the union of their schemas (metadata left out: files of
/// different runs carry different key-value metadata).
async fn register(ctx: &SessionContext, t: &Table) -> Result<()> {
    let unreadable = |p: &Path, msg: String| MigError::Unreadable {
        path: p.to_path_buf(),
        msg: format!("table {}: {msg}", t.name),
    };
    let mut schemas = Vec::with_capacity(t.files.len());
    let mut urls = Vec::with_capacity(t.files.len());
    for p in &t.files {
        let file = std::fs::File::open(p).map_err(|e| unreadable(p, e.to_string()))?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| unreadable(p, e.to_string()))?;
        let fields: Vec<Field> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(Default::default()))
            .collect();
        schemas.push(Schema::new(fields));
        let name = p
            .to_str()
            .ok_or_else(|| unreadable(p, "the path is not valid UTF-8".into()))?;
        urls.push(ListingTableUrl::parse(name).map_err(|e| unreadable(p, e.to_string()))?);
    }
    let first = t.files.first().cloned().unwrap_or_default();
    let schema = Schema::try_merge(schemas)
        .map_err(|e| unreadable(&first, format!("its files disagree: {e}")))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(Arc::new(schema));
    let table = ListingTable::try_new(config).map_err(|e| unreadable(&first, e.to_string()))?;
    ctx.register_table(t.name.as_str(), Arc::new(table))
        .map_err(|e| unreadable(&first, e.to_string()))?;
    Ok(())
}

/// A user-facing error: the unknown tables when that is the problem, else DataFusion's
/// message; both list the tables the warehouse has.
fn query_error(
    ctx: &SessionContext,
    e: &DataFusionError,
    sql: &str,
    tables: &[Table],
    warehouse: &Path,
) -> MigError {
    let have = tables::names(tables);
    let wh = warehouse.display();
    let state = ctx.state();
    let unknown: Vec<String> = state
        .sql_to_statement(sql, &datafusion::config::Dialect::Generic)
        .ok()
        .and_then(|s| state.resolve_table_references(&s).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.table().to_string())
        .filter(|n| !tables.iter().any(|t| &t.name == n))
        .collect();
    if !unknown.is_empty() {
        return MigError::Other(format!(
            "unknown table {}: the warehouse {wh} has {have}",
            unknown.join(", ")
        ));
    }
    let msg = e.to_string();
    MigError::Other(format!(
        "the query failed: {}\n(tables in {wh}: {have})",
        shorten(msg.trim())
    ))
}

/// Some engine messages quote whole plans: keep their start and end.
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
