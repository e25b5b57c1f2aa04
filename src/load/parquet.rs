//! Writing Arrow record batches as Parquet with migstat's key-value metadata. A file is encoded
//! once; its *data region* (everything before the footer, which alone holds the run id) identifies
//! its content, so a rerun that produces the same data leaves the existing file and its bytes in
//! place.
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::{MigError, Result};
use crate::schema::fnv_hex;

/// The metadata every Parquet file of the warehouse carries.
pub struct FileMeta<'a> {
    pub run_id: &'a str,
    pub schema_version: &'a str,
}

/// A batch encoded as a Parquet file in memory.
pub struct Encoded {
    pub bytes: Vec<u8>,
}

impl Encoded {
    /// Hash of the data region: identical data written by any run gives the same hash.
    pub fn content_hash(&self) -> String {
        fnv_hex(std::iter::once(data_region(&self.bytes)))
    }
}

/// Bytes between the leading magic and the footer (`<footer><u32 len>PAR1`).
fn data_region(bytes: &[u8]) -> &[u8] {
    let n = bytes.len();
    if n < 12 || &bytes[n - 4..] != b"PAR1" {
        return bytes;
    }
    let meta =
        u32::from_le_bytes([bytes[n - 8], bytes[n - 7], bytes[n - 6], bytes[n - 5]]) as usize;
    let end = n.saturating_sub(8 + meta).max(4);
    &bytes[4..end]
}

/// Encodes a batch with migstat's metadata. Floating-point columns skip dictionary encoding
/// (replicate weights and weights are nearly all distinct).
pub fn encode(batch: &RecordBatch, meta: &FileMeta) -> Result<Encoded> {
    let kv = vec![
        KeyValue::new("migstat.version".into(), crate::VERSION.to_string()),
        KeyValue::new(
            "migstat.schema_version".into(),
            meta.schema_version.to_string(),
        ),
        KeyValue::new("migstat.run_id".into(), meta.run_id.to_string()),
    ];
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(kv))
        .set_created_by(format!("migstat {}", crate::VERSION));
    for f in batch.schema_ref().fields() {
        let path = match f.data_type() {
            DataType::Float64 => ColumnPath::from(f.name().as_str()),
            DataType::List(item) => {
                ColumnPath::from(vec![f.name().clone(), "list".into(), item.name().clone()])
            }
            _ => continue,
        };
        props = props.set_column_dictionary_enabled(path, false);
    }
    let pq = |e: parquet::errors::ParquetError| MigError::Other(format!("encoding Parquet: {e}"));
    let mut w = ArrowWriter::try_new(
        Vec::new(),
        Arc::clone(batch.schema_ref()),
        Some(props.build()),
    )
    .map_err(pq)?;
    w.write(batch).map_err(pq)?;
    Ok(Encoded {
        bytes: w.into_inner().map_err(pq)?,
    })
}

/// The content hash of an existing file (`None` when it does not exist or cannot be read).
pub fn existing_hash(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(fnv_hex(std::iter::once(data_region(&bytes))))
}

/// Writes encoded bytes to `path`, fsynced.
pub fn write(path: &Path, enc: &Encoded) -> Result<()> {
    let io = |e: std::io::Error| MigError::io(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = std::fs::File::create(path).map_err(io)?;
    std::io::Write::write_all(&mut f, &enc.bytes).map_err(io)?;
    f.sync_all().map_err(io)
}
