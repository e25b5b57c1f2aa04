//! Writing Arrow record batches as Parquet with migstat's key-value metadata. Each file also
//! carries `migstat.content_hash`, a hash of its bytes written without the run id, so a rerun that
//! produces the same data leaves the existing file (and its bytes) in place.
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::{MigError, Result};
use crate::schema::fnv_hex;

/// The metadata every Parquet file of the warehouse carries.
pub struct FileMeta<'a> {
    pub run_id: &'a str,
    pub schema_version: &'a str,
}

fn encode(
    batch: &RecordBatch,
    kv: Vec<KeyValue>,
) -> std::result::Result<Vec<u8>, parquet::errors::ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(kv))
        .set_created_by(format!("migstat {}", crate::VERSION))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), Arc::clone(batch.schema_ref()), Some(props))?;
    w.write(batch)?;
    w.into_inner()
}

fn kv(meta: &FileMeta, run_id: &str, content: Option<&str>) -> Vec<KeyValue> {
    let mut kv = vec![
        KeyValue::new("migstat.version".into(), crate::VERSION.to_string()),
        KeyValue::new(
            "migstat.schema_version".into(),
            meta.schema_version.to_string(),
        ),
        KeyValue::new("migstat.run_id".into(), run_id.to_string()),
    ];
    if let Some(c) = content {
        kv.push(KeyValue::new("migstat.content_hash".into(), c.to_string()));
    }
    kv
}

/// The content hash of a batch as migstat would write it.
pub fn content_hash(batch: &RecordBatch, meta: &FileMeta) -> Result<String> {
    let bytes = encode(batch, kv(meta, "", None))
        .map_err(|e| MigError::Other(format!("encoding Parquet: {e}")))?;
    Ok(fnv_hex(std::iter::once(bytes.as_slice())))
}

/// The `migstat.content_hash` of an existing file, if it has one.
pub fn existing_hash(path: &Path) -> Option<String> {
    let reader = SerializedFileReader::new(File::open(path).ok()?).ok()?;
    reader
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == "migstat.content_hash")
        .and_then(|kv| kv.value.clone())
}

/// Writes `batch` to `path` (fsynced) with the metadata and the given content hash.
pub fn write(path: &Path, batch: &RecordBatch, meta: &FileMeta, content: &str) -> Result<()> {
    let io = |e: std::io::Error| MigError::io(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let bytes = encode(batch, kv(meta, meta.run_id, Some(content)))
        .map_err(|e| MigError::Other(format!("{}: {e}", path.display())))?;
    let mut f = File::create(path).map_err(io)?;
    std::io::Write::write_all(&mut f, &bytes).map_err(io)?;
    f.sync_all().map_err(io)
}
