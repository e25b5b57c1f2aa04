//! Writing Arrow record batches as Parquet with migstat's key-value metadata. A file is encoded
//! once; its *data region* (everything before the footer, which alone holds the run id) is its
//! content, so a rerun that produces the same data leaves the existing file and its bytes in
//! place. Two data regions are compared byte for byte, in pieces, stopping at the first
//! difference (a rerun of 2M persons compares 1.3 GB of microdata this way).
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::error::{MigError, Result};

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
    /// Whether the file at `path` exists and holds the same data (its footer aside).
    pub fn same_data_as(&self, path: &Path) -> bool {
        let mut rest = data_region(&self.bytes);
        compare_region(path, rest.len() as u64, &mut |piece| {
            // The lengths are equal, so every piece fits in what is left.
            let (head, tail) = rest.split_at(piece.len().min(rest.len()));
            rest = tail;
            head == piece
        })
    }
}

/// The data region of a file's bytes: between the leading magic and the footer
/// (`<footer><u32 len>PAR1`); all of them when they are not Parquet.
pub fn data_region(bytes: &[u8]) -> &[u8] {
    let n = bytes.len();
    let (start, end) = region(n as u64, &bytes[n.saturating_sub(8)..]);
    &bytes[start as usize..end as usize]
}

/// Whether the files at `a` and `b` both exist and hold the same data (footers aside).
pub fn same_data(a: &Path, b: &Path) -> bool {
    let Some((mut fa, len)) = open_region(a) else {
        return false;
    };
    let mut mine = vec![0u8; PIECE.min(len as usize)];
    compare_region(b, len, &mut |piece| {
        let m = &mut mine[..piece.len()];
        fa.read_exact(m).is_ok() && m == piece
    })
}

/// Bytes read at a time when data regions are compared.
const PIECE: usize = 1 << 20;

/// The file at `path` positioned at the start of its data region, and the region's length
/// (`None` when it cannot be opened or read).
fn open_region(path: &Path) -> Option<(File, u64)> {
    let mut f = File::open(path).ok()?;
    let n = f.metadata().ok()?.len();
    let mut tail = vec![0u8; n.min(8) as usize];
    f.seek(SeekFrom::Start(n - tail.len() as u64)).ok()?;
    f.read_exact(&mut tail).ok()?;
    let (start, end) = region(n, &tail);
    f.seek(SeekFrom::Start(start)).ok()?;
    Some((f, end - start))
}

/// Whether the data region of the file at `path` is `len` bytes long and `same` accepts each of
/// its pieces, handed out in order: stops at the first piece refused.
fn compare_region(path: &Path, len: u64, same: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let Some((mut f, n)) = open_region(path) else {
        return false;
    };
    if n != len {
        return false;
    }
    let mut buf = vec![0u8; PIECE.min(len as usize)];
    let mut left = len;
    while left > 0 {
        let k = (left as usize).min(PIECE);
        if f.read_exact(&mut buf[..k]).is_err() || !same(&buf[..k]) {
            return false;
        }
        left -= k as u64;
    }
    true
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

/// A Parquet file written batch by batch as the batches come (fsynced at the end): the file is
/// never held whole in memory, only the row group being written.
///
/// The columns of each batch are encoded in parallel on the worker pool (one column writer per
/// leaf column, as `ArrowWriter` keeps them), then a full row group's column chunks are
/// appended in column order: the same row groups, pages and bytes as `ArrowWriter` writes on
/// one thread.
pub struct BatchWriter {
    path: std::path::PathBuf,
    schema: SchemaRef,
    out: SerializedFileWriter<std::io::BufWriter<File>>,
    factory: parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory,
    group: Group,
}

impl BatchWriter {
    /// Creates the file (and its folder).
    pub fn create(path: &Path, schema: SchemaRef, meta: &FileMeta) -> Result<BatchWriter> {
        let io = |e: std::io::Error| MigError::io(path, e);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = File::create(path).map_err(io)?;
        let props = properties(&schema, meta);
        let w = ArrowWriter::try_new(
            std::io::BufWriter::new(file),
            Arc::clone(&schema),
            Some(props),
        )
        .map_err(pq)?;
        let (out, factory) = w.into_serialized_writer().map_err(pq)?;
        Ok(BatchWriter {
            path: path.to_path_buf(),
            schema,
            out,
            factory,
            group: Group::default(),
        })
    }

    /// Appends the rows of `batch`; a full row group is closed and written.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let writers = match self.group.writers.as_mut() {
                Some(w) => w,
                None => self.group.writers.insert(
                    self.factory
                        .create_column_writers(self.group.index)
                        .map_err(pq)?,
                ),
            };
            let take = (ROW_GROUP_ROWS - self.group.rows).min(batch.num_rows());
            encode_columns(writers, &self.schema, &batch.slice(0, take))?;
            self.group.rows += take;
            if self.group.rows == ROW_GROUP_ROWS {
                self.group.close(&mut self.out)?;
            }
            batch = batch.slice(take, batch.num_rows() - take);
        }
        Ok(())
    }

    /// Writes the last row group and the footer, and fsyncs the file.
    pub fn finish(mut self) -> Result<()> {
        let io = |e: std::io::Error| MigError::io(&self.path, e);
        self.group.close(&mut self.out)?;
        let file = self.out.into_inner().map_err(pq)?;
        let file = file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    }
}

/// The row group being written: its column writers (none before its first row) and rows.
#[derive(Default)]
struct Group {
    writers: Option<Vec<ArrowColumnWriter>>,
    rows: usize,
    index: usize,
}

impl Group {
    /// Closes the column writers in parallel and appends their chunks as the next row group.
    fn close<W: std::io::Write + Send>(&mut self, out: &mut SerializedFileWriter<W>) -> Result<()> {
        let Some(writers) = self.writers.take() else {
            return Ok(());
        };
        let chunks = writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<parquet::errors::Result<Vec<_>>>()
            .map_err(pq)?;
        let mut rg = out.next_row_group().map_err(pq)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut rg).map_err(pq)?;
        }
        rg.close().map_err(pq)?;
        self.rows = 0;
        self.index += 1;
        Ok(())
    }
}

/// Encodes the columns of `batch` into `writers` (one per leaf column), in parallel.
fn encode_columns(
    writers: &mut [ArrowColumnWriter],
    schema: &SchemaRef,
    batch: &RecordBatch,
) -> Result<()> {
    let mut leaves = Vec::with_capacity(writers.len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        leaves.extend(compute_leaves(field, column).map_err(pq)?);
    }
    if leaves.len() != writers.len() {
        return Err(MigError::Other(format!(
            "encoding Parquet: {} leaf columns for {} column writers",
            leaves.len(),
            writers.len()
        )));
    }
    writers
        .par_iter_mut()
        .zip(leaves.par_iter())
        .try_for_each(|(w, leaf)| w.write(leaf))
        .map_err(pq)
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

    /// A file shaped like Parquet: magic, `data`, a footer of `footer` bytes, its length, magic.
    fn shaped(data: &[u8], footer: &[u8]) -> Vec<u8> {
        let mut v = b"PAR1".to_vec();
        v.extend(data);
        v.extend(footer);
        v.extend((footer.len() as u32).to_le_bytes());
        v.extend(b"PAR1");
        v
    }

    /// Data regions are compared in pieces of a MiB: equal data under other footers is the same
    /// data; a difference in any piece (the last byte of a later one too), another length or a
    /// missing file is not. Both ways of comparing (in memory against a file, two files) agree.
    #[test]
    fn data_regions_are_compared_piece_by_piece_footers_aside() {
        let dir = std::env::temp_dir().join(format!("migstat-pq-same-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let data: Vec<u8> = (0..3 * PIECE + 17).map(|i| (i % 251) as u8).collect();
        let mut last_differs = data.clone();
        *last_differs.last_mut().expect("byte") ^= 1;
        let mut first_differs = data.clone();
        first_differs[0] ^= 1;
        let old = shaped(&data, b"run 1");
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            (
                "same data, other footer",
                shaped(&data, b"run 2 of many"),
                true,
            ),
            ("same bytes", old.clone(), true),
            ("last byte differs", shaped(&last_differs, b"run 1"), false),
            (
                "first byte differs",
                shaped(&first_differs, b"run 1"),
                false,
            ),
            ("shorter", shaped(&data[..data.len() - 1], b"run 1"), false),
            (
                "longer",
                shaped(&[data.as_slice(), b"x"].concat(), b"run 1"),
                false,
            ),
            ("not parquet", b"not a parquet file at all".to_vec(), false),
        ];
        let old_path = dir.join("old");
        std::fs::write(&old_path, &old).expect("write");
        for (name, bytes, same) in cases {
            let path = dir.join("new");
            std::fs::write(&path, &bytes).expect("write");
            assert_eq!(same_data(&old_path, &path), same, "{name}: two files");
            assert_eq!(
                same_data(&path, &old_path),
                same,
                "{name}: two files, swapped"
            );
            let enc = Encoded { bytes };
            assert_eq!(enc.same_data_as(&old_path), same, "{name}: in memory");
        }
        let text = dir.join("text");
        std::fs::write(&text, b"plain text").expect("write");
        let enc = Encoded {
            bytes: b"plain text".to_vec(),
        };
        assert!(enc.same_data_as(&text), "a short file is its own data");
        let missing = dir.join("missing");
        assert!(!same_data(&old_path, &missing) && !same_data(&missing, &old_path));
        assert!(!enc.same_data_as(&missing));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Batches of a microdata-like table: text (dictionary-encoded), nullable integers, floats
    /// and a list of floats per row, `rows` rows cut into batches of `step`.
    fn microdata_like(rows: usize, step: usize) -> (SchemaRef, Vec<RecordBatch>) {
        use arrow_array::builder::{Float64Builder, ListBuilder};
        use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
        use arrow_schema::{Field, Schema};
        let item = Arc::new(Field::new("item", DataType::Float64, false));
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("sex", DataType::Utf8, true),
            Field::new("age", DataType::Int64, true),
            Field::new("weight", DataType::Float64, false),
            Field::new("replicate_weights", DataType::List(Arc::clone(&item)), true),
        ]));
        let batches = (0..rows)
            .step_by(step)
            .map(|start| {
                let r: Vec<usize> = (start..(start + step).min(rows)).collect();
                let mut lists =
                    ListBuilder::new(Float64Builder::new()).with_field(Arc::clone(&item));
                for &i in &r {
                    if i % 97 == 0 {
                        lists.append_null();
                    } else {
                        let w: Vec<f64> = (0..5).map(|k| (i * 7 + k) as f64 / 3.0).collect();
                        lists.values().append_slice(&w);
                        lists.append(true);
                    }
                }
                let cols: Vec<ArrayRef> = vec![
                    Arc::new(StringArray::from_iter_values(
                        r.iter().map(|i| format!("k{i}")),
                    )),
                    Arc::new(StringArray::from_iter(
                        r.iter().map(|i| (i % 5 != 0).then(|| ["1", "2"][i % 2])),
                    )),
                    Arc::new(Int64Array::from_iter(
                        r.iter().map(|&i| (i % 11 != 0).then_some((i % 90) as i64)),
                    )),
                    Arc::new(Float64Array::from_iter_values(
                        r.iter().map(|&i| 100.0 + i as f64 / 7.0),
                    )),
                    Arc::new(lists.finish()),
                ];
                RecordBatch::try_new(Arc::clone(&schema), cols).expect("batch")
            })
            .collect();
        (schema, batches)
    }

    /// The columns encoded in parallel give the bytes `ArrowWriter` writes on one thread: row
    /// groups cut at the same rows (batches that straddle a boundary, a last partial group),
    /// and an empty file.
    #[test]
    fn parallel_columns_write_the_bytes_of_one_thread() {
        let dir = std::env::temp_dir().join(format!("migstat-pq-par-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let meta = FileMeta {
            run_id: "R1",
            schema_version: "1.0",
        };
        for (rows, step) in [(2 * ROW_GROUP_ROWS + 12_345, 50_000), (1000, 300), (0, 1)] {
            let (schema, batches) = microdata_like(rows, step);
            let mut one = ArrowWriter::try_new(
                Vec::new(),
                Arc::clone(&schema),
                Some(properties(&schema, &meta)),
            )
            .expect("writer");
            for b in &batches {
                one.write(b).expect("write");
            }
            let expected = one.into_inner().expect("close");
            let path = dir.join(format!("{rows}.parquet"));
            let mut w = BatchWriter::create(&path, schema, &meta).expect("create");
            for b in &batches {
                w.push(b).expect("push");
            }
            w.finish().expect("finish");
            let got = std::fs::read(&path).expect("read");
            assert!(got == expected, "{rows} rows: the bytes differ");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
