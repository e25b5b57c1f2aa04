//! Parquet files (as written by pandas, polars, R's arrow, DuckDB or Spark), read with the arrow
//! reader. [`ParquetFile`] is the one way migstat opens a Parquet input: a pipeline's source
//! streams it batch by batch ([`ParquetSource`]); `migstat estimate` decodes the columns it needs
//! row group by row group on the pool ([`ParquetFile::group`]), or batch by batch for one of
//! several files ([`ParquetFile::batches`]).
//!
//! A pipeline's source turns the columns into cells. Integers (up to 2^53 in size; larger ones
//! as their digits) and double-precision floats go into the batch as numbers; booleans, strings
//! (plain, large, view and dictionary-encoded, such as pandas categoricals), decimals,
//! single-precision floats (as the decimal they were written as) and dates (`Date32`, as ISO
//! dates) as text; nulls are blank. A column of any other type (timestamps, lists, structs) is
//! an error naming it, raised when the file is opened.
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, SchemaRef};
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use super::guard;
use super::{number_cell, BatchSize, ReadJob, TextBatch};
use crate::error::{MigError, Result};

/// An open Parquet file: one handle and one parsed footer with its Arrow schema, shared by every
/// thread that reads it.
pub struct ParquetFile {
    file: File,
    /// Bytes, as the file was opened.
    size: u64,
    meta: ArrowReaderMetadata,
}

impl ParquetFile {
    /// Opens `path` and parses its footer; the message says what went wrong.
    pub fn open(path: &Path) -> std::result::Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let size = file
            .metadata()
            .map_err(|e| format!("cannot open: {e}"))?
            .len();
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| format!("not a readable Parquet file: {e}"))?;
        Ok(Self { file, size, meta })
    }

    /// The Arrow schema: one field a top-level column, in file order.
    pub fn schema(&self) -> &SchemaRef {
        self.meta.schema()
    }

    /// Top-level column names, in file order.
    pub fn names(&self) -> Vec<String> {
        self.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Position of the top-level column `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.schema().fields().iter().position(|f| f.name() == name)
    }

    /// Rows of each row group, in file order.
    pub fn group_rows(&self) -> Vec<usize> {
        let groups = self.meta.metadata().row_groups();
        groups
            .iter()
            .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
            .collect()
    }

    /// `Err` naming the first of `columns` whose type migstat does not read.
    pub fn check(&self, columns: &[usize]) -> std::result::Result<(), String> {
        let fields = self.schema().fields();
        match columns
            .iter()
            .filter_map(|&c| fields.get(c))
            .find(|f| !supported(f.data_type()))
        {
            None => Ok(()),
            Some(f) => Err(format!(
                "column {} has type {} which migstat does not read (expected numbers, \
                 booleans, strings, decimals or dates)",
                f.name(),
                f.data_type()
            )),
        }
    }

    /// The rows of `columns` (every column when `None`), `rows` at a time, in file order;
    /// each batch's columns in file order.
    pub fn batches(
        &self,
        columns: Option<&[usize]>,
        rows: usize,
    ) -> std::result::Result<ParquetRecordBatchReader, String> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| format!("cannot open: {e}"))?;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone());
        if let Some(columns) = columns {
            let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
            builder = builder.with_projection(mask);
        }
        builder
            .with_batch_size(rows.max(1))
            .build()
            .map_err(|e| format!("not a readable Parquet file: {e}"))
    }

    /// Row group `g`'s `columns`, in the order asked. Each column chunk is fetched with one
    /// positioned read (no shared file offset), so threads can decode groups side by side.
    pub fn group(&self, g: usize, columns: &[usize]) -> std::result::Result<Vec<ArrayRef>, String> {
        let meta = self.meta.metadata();
        let width = self.schema().fields().len();
        if g >= meta.num_row_groups() || columns.iter().any(|&c| c >= width) {
            return Err(format!("no row group {g} with columns {columns:?}"));
        }
        let group = meta.row_group(g);
        let schema = meta.file_metadata().schema_descr();
        let mut roots: Vec<usize> = columns.to_vec();
        roots.sort_unstable();
        roots.dedup();
        let size = self.size;
        let mut chunks = Vec::new();
        for leaf in 0..schema.num_columns() {
            if roots
                .binary_search(&schema.get_column_root_idx(leaf))
                .is_ok()
            {
                let (start, len) = group.column(leaf).byte_range();
                // A chunk the footer places past the file's end is not read (nor allocated).
                if start.checked_add(len).is_none_or(|end| end > size) {
                    return Err(format!(
                        "row group {g}: a column chunk of {len} bytes at offset {start} lies \
                         past the file's end ({size} bytes)"
                    ));
                }
                let mut buf = vec![0u8; usize::try_from(len).map_err(|e| e.to_string())?];
                (self.file.read_exact_at(&mut buf, start)).map_err(|e| e.to_string())?;
                chunks.push((start, Bytes::from(buf)));
            }
        }
        chunks.sort_by_key(|c| c.0);
        let rows = usize::try_from(group.num_rows()).unwrap_or(0);
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            GroupBytes(chunks),
            self.meta.clone(),
        );
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let reader = builder
            .with_row_groups(vec![g])
            .with_projection(mask)
            .with_batch_size(rows.max(1))
            .build()
            .map_err(|e| e.to_string())?;
        let mut got: Vec<RecordBatch> = Vec::new();
        for batch in reader {
            got.push(batch.map_err(|e| e.to_string())?);
        }
        let read: usize = got.iter().map(RecordBatch::num_rows).sum();
        if read != rows || got.len() > 1 {
            return Err(format!("expected {rows} rows in a row group, read {read}"));
        }
        let Some(batch) = got.pop() else {
            let fields = self.schema().fields();
            return Ok(columns
                .iter()
                .map(|&c| arrow_array::new_empty_array(fields[c].data_type()))
                .collect());
        };
        Ok(columns
            .iter()
            .map(|c| {
                batch
                    .column(roots.binary_search(c).expect("projected"))
                    .clone()
            })
            .collect())
    }
}

/// The column chunks of one row group, each with its file offset, served to the page reader.
struct GroupBytes(Vec<(u64, Bytes)>);

impl GroupBytes {
    /// The bytes from file offset `start` to the end of the chunk holding it, when that holds
    /// `length` of them.
    fn from(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let i = self.0.partition_point(|c| c.0 <= start);
        let found = i.checked_sub(1).and_then(|i| {
            let (at, data) = &self.0[i];
            let from = usize::try_from(start - at).ok()?;
            (from.checked_add(length)? <= data.len()).then(|| data.slice(from..))
        });
        found.ok_or_else(|| {
            ParquetError::EOF(format!(
                "bytes {start}..{} lie outside the column chunks read",
                start.saturating_add(length as u64)
            ))
        })
    }
}

impl Length for GroupBytes {
    fn len(&self) -> u64 {
        self.0.last().map_or(0, |(at, d)| at + d.len() as u64)
    }
}

impl ChunkReader for GroupBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.from(start, 0)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        Ok(self.from(start, length)?.slice(..length))
    }
}

/// A Parquet file opened for streaming its rows.
pub struct ParquetSource {
    display: PathBuf,
    headers: Vec<String>,
    size: u64,
    batches: ParquetRecordBatchReader,
    /// The current batch, shared with the jobs that turn its rows into cells.
    batch: Option<Arc<Loaded>>,
    /// The next row of `batch` to hand out.
    at: usize,
    row: u64,
}

/// A decoded batch with its dictionary columns' keys and value texts worked out once.
struct Loaded {
    batch: RecordBatch,
    dictionaries: Vec<Option<Dictionary>>,
}

struct Dictionary {
    /// Each row's index into `texts` (0 for a null row, which is blank).
    keys: Vec<usize>,
    texts: Vec<String>,
}

impl Loaded {
    /// Appends rows `rows` of the batch, the first as a row of `line`: each column is looked
    /// at once for its type and nulls, then the rows are filled cell by cell.
    fn push_rows(&self, rows: std::ops::Range<usize>, line: u64, batch: &mut TextBatch) {
        let cols: Vec<Col> = (self.batch.columns().iter().zip(&self.dictionaries))
            .map(|(a, d)| Col::of(a, d.as_ref(), rows.clone()))
            .collect();
        batch.reserve_cells(rows.len() * cols.len());
        for (n, i) in rows.clone().enumerate() {
            batch.begin_row(line + n as u64);
            for c in &cols {
                c.push(i - rows.start, i, batch);
            }
        }
    }
}

/// One column of the rows a job turns into cells, its type resolved once.
enum Col<'a> {
    /// Doubles, for the rows at hand (indexed from their first).
    Double(Vec<f64>, Option<&'a NullBuffer>),
    /// Integers of any width, widened for the rows at hand (indexed from their first).
    Int(Vec<i64>, Option<&'a NullBuffer>),
    Utf8(&'a arrow_array::StringArray),
    Dictionary(&'a Dictionary, Option<&'a NullBuffer>),
    /// Everything else, printed cell by cell ([`cell_text`]).
    Other(&'a ArrayRef),
}

impl<'a> Col<'a> {
    fn of(
        a: &'a ArrayRef,
        dictionary: Option<&'a Dictionary>,
        rows: std::ops::Range<usize>,
    ) -> Self {
        fn ints<T: arrow_array::ArrowPrimitiveType>(
            a: &ArrayRef,
            rows: std::ops::Range<usize>,
        ) -> Vec<i64>
        where
            T::Native: Into<i64>,
        {
            // Every width here fits an i64 (UInt64 columns are `Other`, printed).
            let v = &a.as_primitive::<T>().values()[rows];
            v.iter().map(|x| (*x).into()).collect()
        }
        let nulls = a.nulls();
        match (a.data_type(), dictionary) {
            (_, Some(d)) => Col::Dictionary(d, nulls),
            // Copied for the rows at hand, a column at a time: the row-by-row walk below then
            // reads them from cache, not from a hundred columns' lines at once.
            (DataType::Float64, _) => Col::Double(
                a.as_primitive::<Float64Type>().values()[rows].to_vec(),
                nulls,
            ),
            (DataType::Int8, _) => Col::Int(ints::<Int8Type>(a, rows), nulls),
            (DataType::Int16, _) => Col::Int(ints::<Int16Type>(a, rows), nulls),
            (DataType::Int32, _) => Col::Int(ints::<Int32Type>(a, rows), nulls),
            (DataType::Int64, _) => Col::Int(ints::<Int64Type>(a, rows), nulls),
            (DataType::UInt8, _) => Col::Int(ints::<UInt8Type>(a, rows), nulls),
            (DataType::UInt16, _) => Col::Int(ints::<UInt16Type>(a, rows), nulls),
            (DataType::UInt32, _) => Col::Int(ints::<UInt32Type>(a, rows), nulls),
            (DataType::Utf8, _) => Col::Utf8(a.as_string::<i32>()),
            _ => Col::Other(a),
        }
    }

    /// Appends the cell of row `i` of the batch (`k`-th of the job's rows).
    #[inline]
    fn push(&self, k: usize, i: usize, batch: &mut TextBatch) {
        let null = |n: Option<&NullBuffer>| n.is_some_and(|n| n.is_null(i));
        match self {
            Col::Double(v, n) if !null(*n) => batch.push_number(v[k]),
            Col::Int(v, n) if !null(*n) => {
                if v[k].unsigned_abs() <= 1 << 53 {
                    batch.push_number(v[k] as f64)
                } else {
                    batch.push_cell(&v[k].to_string())
                }
            }
            Col::Utf8(a) if !a.is_null(i) => batch.push_cell(a.value(i)),
            Col::Dictionary(d, n) if !null(*n) => {
                let text = d.keys.get(i).and_then(|&k| d.texts.get(k));
                batch.push_cell(text.map_or("", String::as_str))
            }
            Col::Other(a) if !a.is_null(i) => batch.push_cell(&cell_text(a, i)),
            _ => batch.push_cell(""),
        }
    }
}

impl ParquetSource {
    /// Opens `path`; a file the parquet crate panics on is `Unreadable` (see `guard.rs`).
    pub fn open(path: &Path) -> Result<Self> {
        guard::guarded(path, "Parquet file", || Self::load(path))
    }

    fn load(path: &Path) -> Result<Self> {
        let unreadable = |msg: String| MigError::Unreadable {
            path: path.to_path_buf(),
            msg,
        };
        let file = ParquetFile::open(path).map_err(unreadable)?;
        let size = file.size;
        let all: Vec<usize> = (0..file.schema().fields().len()).collect();
        file.check(&all).map_err(unreadable)?;
        Ok(ParquetSource {
            display: path.to_path_buf(),
            headers: file.names(),
            size,
            batches: file.batches(None, 8192).map_err(unreadable)?,
            batch: None,
            at: 0,
            row: 0,
        })
    }

    /// Loads the next non-empty batch; `false` at the end. Decoding runs under the guard.
    fn load_batch(&mut self) -> Result<bool> {
        let display = self.display.clone();
        guard::guarded(&display, "Parquet file", || self.decode_batch())
    }

    fn decode_batch(&mut self) -> Result<bool> {
        loop {
            let Some(batch) = self.batches.next() else {
                return Ok(false);
            };
            let batch: RecordBatch = batch.map_err(|e| MigError::Unreadable {
                path: self.display.clone(),
                msg: format!("rows after {} cannot be read: {e}", self.row),
            })?;
            if batch.num_rows() == 0 {
                continue;
            }
            let dictionaries = batch
                .columns()
                .iter()
                .map(|a| {
                    a.as_any_dictionary_opt().map(|d| Dictionary {
                        keys: d.normalized_keys(),
                        texts: column_cells(d.values()),
                    })
                })
                .collect();
            self.batch = Some(Arc::new(Loaded {
                batch,
                dictionaries,
            }));
            self.at = 0;
            return Ok(true);
        }
    }
}

fn supported(t: &DataType) -> bool {
    use DataType::*;
    match t {
        Boolean
        | Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Float32
        | Float64
        | Utf8
        | LargeUtf8
        | Utf8View
        | Date32
        | Decimal128(_, _)
        | Null => true,
        Dictionary(_, v) => supported(v),
        _ => false,
    }
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (proleptic Gregorian).
pub(crate) fn iso_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The text of a non-null cell (types were checked when the file was opened).
fn cell_text(a: &ArrayRef, i: usize) -> String {
    match a.data_type() {
        DataType::Boolean => a.as_boolean().value(i).to_string(),
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).to_string(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).to_string(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).to_string(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).to_string(),
        DataType::Float32 => format!("{}", a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => number_cell(a.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => a.as_string_view().value(i).to_string(),
        DataType::Date32 => iso_date(i64::from(a.as_primitive::<Date32Type>().value(i))),
        DataType::Decimal128(_, _) => a.as_primitive::<Decimal128Type>().value_as_string(i),
        _ => String::new(),
    }
}

/// The cells of a dictionary's values as text.
fn column_cells(a: &ArrayRef) -> Vec<String> {
    if let Some(dict) = a.as_any_dictionary_opt() {
        let values = column_cells(dict.values());
        return dict
            .normalized_keys()
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if a.is_null(i) {
                    String::new()
                } else {
                    values.get(*k).cloned().unwrap_or_default()
                }
            })
            .collect();
    }
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                String::new()
            } else {
                cell_text(a, i)
            }
        })
        .collect()
}

impl super::RowSource for ParquetSource {
    fn display(&self) -> &Path {
        &self.display
    }

    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>> {
        super::typed_next_into(self, cells)
    }

    fn next_batch(&mut self, batch: &mut TextBatch, size: BatchSize) -> Result<usize> {
        super::typed_next_batch(self, batch, size)
    }

    /// The reading thread decodes; turning rows into cells is the job's (up to `size.rows`
    /// rows of the decoded batch, which the job shares).
    fn next_job(&mut self, size: BatchSize) -> Result<Option<ReadJob>> {
        let Some(loaded) = self.current()? else {
            return Ok(None);
        };
        let (at, first) = (self.at, self.row + 1);
        let n = (loaded.batch.num_rows() - at).min(size.rows.max(1));
        self.at += n;
        self.row += n as u64;
        Ok(Some(Box::new(move || {
            let mut batch = TextBatch::default();
            loaded.push_rows(at..at + n, first, &mut batch);
            Ok(batch)
        })))
    }
}

impl ParquetSource {
    /// The batch holding the next row, decoding the next one when this one is used up;
    /// `None` at the end.
    fn current(&mut self) -> Result<Option<Arc<Loaded>>> {
        let len = self.batch.as_ref().map_or(0, |l| l.batch.num_rows());
        if self.at >= len && !self.load_batch()? {
            return Ok(None);
        }
        Ok(self.batch.clone())
    }
}

impl super::TypedRows for ParquetSource {
    fn push_next(&mut self, batch: &mut TextBatch) -> Result<Option<u64>> {
        let Some(loaded) = self.current()? else {
            return Ok(None);
        };
        self.row += 1;
        loaded.push_rows(self.at..self.at + 1, self.row, batch);
        self.at += 1;
        Ok(Some(self.row))
    }
}

#[cfg(test)]
mod tests {
    use super::{iso_date, ParquetFile};

    /// A footer that places a column chunk past the file's end (the data cut out, the footer
    /// kept) is an error naming it; nothing of the size it claims is allocated.
    #[test]
    fn a_column_chunk_past_the_end_is_an_error() {
        use arrow_array::{ArrayRef, Float64Array, RecordBatch};
        let values: Vec<f64> = (0..5000).map(f64::from).collect();
        let column = std::sync::Arc::new(Float64Array::from(values)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("x", column)]).expect("batch");
        let mut bytes = Vec::new();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let n = bytes.len();
        let footer_len =
            u32::from_le_bytes(bytes[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
        let cut = [&bytes[..4], &bytes[n - 8 - footer_len..]].concat();
        let path = std::env::temp_dir().join(format!("migstat-cut-{}.parquet", std::process::id()));
        std::fs::write(&path, &cut).expect("write");
        let file = ParquetFile::open(&path).expect("the footer reads");
        let err = file.group(0, &[0]).expect_err("the chunk is gone");
        assert!(err.contains("past the file's end"), "{err}");
        // Whole, the same file reads.
        std::fs::write(&path, &bytes).expect("write");
        let file = ParquetFile::open(&path).expect("open");
        assert_eq!(file.group(0, &[0]).expect("group")[0].len(), 5000);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn dates_from_days() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(19_813), "2024-03-31");
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(iso_date(11_016), "2000-02-29");
    }
}
