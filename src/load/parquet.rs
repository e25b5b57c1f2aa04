//! Writing Arrow record batches as Parquet with migstat's key-value metadata.
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::{MigError, Result};

/// The metadata every Parquet file of the warehouse carries.
pub struct FileMeta<'a> {
    pub run_id: &'a str,
    pub schema_version: &'a str,
}

pub fn write(path: &Path, batch: &RecordBatch, meta: &FileMeta) -> Result<()> {
    let io = |e: std::io::Error| MigError::io(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = File::create(path).map_err(io)?;
    let kv = vec![
        KeyValue::new("migstat.version".into(), crate::VERSION.to_string()),
        KeyValue::new(
            "migstat.schema_version".into(),
            meta.schema_version.to_string(),
        ),
        KeyValue::new("migstat.run_id".into(), meta.run_id.to_string()),
    ];
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(kv))
        .set_created_by(format!("migstat {}", crate::VERSION))
        .build();
    let pq = |e: parquet::errors::ParquetError| MigError::Other(format!("{}: {e}", path.display()));
    let mut w =
        ArrowWriter::try_new(file, Arc::clone(batch.schema_ref()), Some(props)).map_err(pq)?;
    w.write(batch).map_err(pq)?;
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(io)?;
    Ok(())
}
