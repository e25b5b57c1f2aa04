//! Writing Arrow record batches as Parquet with migstat's key-value metadata. A file is encoded
//! once; its *data region* (everything before the footer, which alone holds the run id) identifies
//! its content, so a rerun that produces the same data leaves the existing file and its bytes in
//! place.
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::{MigError, Result};
use crate::schema::{fnv_hex, Fnv};

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
    let (start, end) = region(n as u64, &bytes[n.saturating_sub(8)..]);
    &bytes[start as usize..end as usize]
}

/// Where the data region of `len` bytes ending in `tail` (their last 8 bytes, or all of them
/// when fewer) starts and ends: the whole when it is not a Parquet file.
fn region(len: u64, tail: &[u8]) -> (u64, u64) {
    match tail {
        [a, b, c, d, b'P', b'A', b'R', b'1'] if len >= 12 => {
            let meta = u32::from_le_bytes([*a, *b, *c, *d]) as u64;
            (4, len.saturating_sub(8 + meta).max(4))
        }
        _ => (0, len),
    }
}

/// Encodes a batch with migstat's metadata.
pub fn encode(batch: &RecordBatch, meta: &FileMeta) -> Result<Encoded> {
    let mut w = ArrowWriter::try_new(
        Vec::new(),
        Arc::clone(batch.schema_ref()),
        Some(properties(batch.schema_ref(), meta)),
    )
    .map_err(pq)?;
    w.write(batch).map_err(pq)?;
    Ok(Encoded {
        bytes: w.into_inner().map_err(pq)?,
    })
}

fn pq(e: parquet::errors::ParquetError) -> MigError {
    MigError::Other(format!("encoding Parquet: {e}"))
}

/// Rows of a row group: the writer holds a row group's encoded pages until it closes (with 80
/// replicate weights, about 80 MB for this many rows), and readers split their work by row
/// group (DuckDB writes 122,880 rows to one).
const ROW_GROUP_ROWS: usize = 131_072;

/// migstat's writer settings: Snappy, row groups of [`ROW_GROUP_ROWS`], the key-value metadata, and no dictionary encoding for
/// floating-point columns (replicate weights and weights are nearly all distinct).
fn properties(schema: &SchemaRef, meta: &FileMeta) -> WriterProperties {
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
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(kv))
        .set_created_by(format!("migstat {}", crate::VERSION));
    for f in schema.fields() {
        let path = match f.data_type() {
            DataType::Float64 => ColumnPath::from(f.name().as_str()),
            DataType::List(item) => {
                ColumnPath::from(vec![f.name().clone(), "list".into(), item.name().clone()])
            }
            _ => continue,
        };
        props = props.set_column_dictionary_enabled(path, false);
    }
    props.build()
}

/// Writes the batches `next` hands out, one after another, as one Parquet file at `path`
/// (fsynced): the file is never held whole in memory, only the row group being written.
pub fn write_batches(
    path: &Path,
    schema: SchemaRef,
    meta: &FileMeta,
    next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
) -> Result<()> {
    let io = |e: std::io::Error| MigError::io(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let props = properties(&schema, meta);
    let mut w =
        ArrowWriter::try_new(std::io::BufWriter::new(file), schema, Some(props)).map_err(pq)?;
    while let Some(batch) = next()? {
        w.write(&batch).map_err(pq)?;
    }
    let out = w.into_inner().map_err(pq)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

/// The content hash of an existing file (`None` when it does not exist or cannot be read),
/// read in pieces: the same value as [`Encoded::content_hash`] for the same bytes.
pub fn existing_hash(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.metadata().ok()?.len();
    let mut tail = vec![0u8; n.min(8) as usize];
    f.seek(SeekFrom::Start(n - tail.len() as u64)).ok()?;
    f.read_exact(&mut tail).ok()?;
    let (start, end) = region(n, &tail);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut h = Fnv::default();
    let mut left = end - start;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let k = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..k]).ok()?;
        h.add(&buf[..k]);
        left -= k as u64;
    }
    h.end_part();
    Some(h.hex())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_read_in_pieces_is_the_hash_of_the_bytes() {
        let dir = std::env::temp_dir().join(format!("migstat-pq-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, bytes) in [
            ("short", b"PAR1".to_vec()),
            ("text", b"not a parquet file at all".to_vec()),
            ("parquet", {
                let mut v = b"PAR1".to_vec();
                v.extend(std::iter::repeat_n(7u8, 3_000_000));
                v.extend([1, 2, 3]);
                v.extend(3u32.to_le_bytes());
                v.extend(b"PAR1");
                v
            }),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, &bytes).expect("write");
            let enc = Encoded { bytes };
            assert_eq!(existing_hash(&path), Some(enc.content_hash()), "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
