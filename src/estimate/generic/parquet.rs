//! Parquet input for `migstat estimate`: the wanted top-level columns, read with the low-level
//! typed column reader, row groups in parallel and stitched back in file order. Each column
//! chunk is fetched with one positioned read (no shared file offset), so one open file and one
//! parsed footer serve every thread.
//! Integers, floats, decimals, booleans and UTF-8 strings are supported.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use parquet::basic::ConvertedType;
use parquet::column::reader::{get_column_reader, ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, FileReader, Length, SerializedFileReader};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::schema::types::ColumnDescriptor;

use super::table::{read_error, Builder, Column, LoadAs, MISSING};
use crate::estimate::error::EstimateError;

/// One column of one row group, nulls kept in place.
pub(super) enum Chunk {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    /// Text as codes into the chunk's own levels ([`MISSING`] where null).
    Text {
        codes: Vec<u32>,
        levels: Vec<String>,
    },
}

/// One column chunk's bytes, read with a single positioned read, served to the page reader at
/// their file offsets.
struct ChunkBytes {
    start: u64,
    data: Bytes,
}

impl Length for ChunkBytes {
    fn len(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

impl ChunkReader for ChunkBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let from = self.offset(start, 0)?;
        Ok(self.data.slice(from..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let from = self.offset(start, length)?;
        Ok(self.data.slice(from..from + length))
    }
}

impl ChunkBytes {
    /// Position of file offset `start` in the buffer, when `length` bytes from there are held.
    fn offset(&self, start: u64, length: usize) -> parquet::errors::Result<usize> {
        start
            .checked_sub(self.start)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| {
                o.checked_add(length)
                    .is_some_and(|end| end <= self.data.len())
            })
            .ok_or_else(|| {
                ParquetError::EOF(format!(
                    "bytes {start}..{} lie outside the column chunk",
                    start + length as u64
                ))
            })
    }
}

/// An open Parquet file: its handle and parsed footer, shared by every reading thread.
pub(super) struct ParquetFile {
    file: File,
    meta: Arc<ParquetMetaData>,
}

impl ParquetFile {
    pub(super) fn open(path: &Path) -> Result<Self, EstimateError> {
        let file = File::open(path).map_err(|e| read_error(path, e))?;
        let handle = file.try_clone().map_err(|e| read_error(path, e))?;
        let reader = SerializedFileReader::new(handle).map_err(|e| read_error(path, e))?;
        let meta = Arc::new(reader.metadata().clone());
        Ok(Self { file, meta })
    }

    /// Names of the flat (non-repeated) leaf columns, in file order.
    pub(super) fn names(&self) -> Vec<String> {
        let schema = self.meta.file_metadata().schema_descr();
        schema
            .columns()
            .iter()
            .filter(|c| c.max_rep_level() == 0)
            .map(|c| c.path().string())
            .collect()
    }

    /// Leaf index of the flat column `name`.
    pub(super) fn leaf(&self, name: &str) -> Option<usize> {
        let schema = self.meta.file_metadata().schema_descr();
        (0..schema.num_columns()).find(|&i| {
            schema.column(i).path().string() == name && schema.column(i).max_rep_level() == 0
        })
    }

    /// Rows of each row group, in file order.
    pub(super) fn group_rows(&self) -> Vec<usize> {
        self.meta
            .row_groups()
            .iter()
            .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
            .collect()
    }

    /// The column reader of leaf `leaf` in row group `g`, with its descriptor.
    pub(super) fn column(
        &self,
        g: usize,
        leaf: usize,
    ) -> Result<(ColumnReader, Arc<ColumnDescriptor>), String> {
        let group = self.meta.row_group(g);
        let meta = group.column(leaf);
        let (start, len) = meta.byte_range();
        let mut buf = vec![0u8; usize::try_from(len).map_err(|e| e.to_string())?];
        read_at(&self.file, &mut buf, start).map_err(|e| e.to_string())?;
        let chunk = Arc::new(ChunkBytes {
            start,
            data: Bytes::from(buf),
        });
        let rows = usize::try_from(group.num_rows()).unwrap_or(0);
        let pages =
            SerializedPageReader::new(chunk, meta, rows, None).map_err(|e| e.to_string())?;
        let descr = meta.column_descr_ptr();
        Ok((get_column_reader(descr.clone(), Box::new(pages)), descr))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

/// Names of the flat (non-repeated) leaf columns, in file order.
pub fn header(path: &Path) -> Result<Vec<String>, EstimateError> {
    Ok(ParquetFile::open(path)?.names())
}

/// Load the wanted columns: `(rows, columns)` in the order of `wanted`.
pub fn load(
    path: &Path,
    wanted: &[(String, LoadAs)],
) -> Result<(usize, Vec<Column>), EstimateError> {
    let file = ParquetFile::open(path)?;
    let leaves = wanted
        .iter()
        .map(|(name, _)| {
            file.leaf(name)
                .ok_or_else(|| read_error(path, format!("no flat column `{name}`")))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    // Row groups are decoded on the pool, a few at a time, and appended in file order as they
    // come back: memory holds the columns and the groups in flight, not every group decoded.
    let group_rows = file.group_rows();
    let mut next_group = 0..group_rows.len();
    let mut builders: Vec<Builder> = wanted.iter().map(|(_, m)| Builder::new(*m)).collect();
    let mut rows = 0usize;
    crate::extract::ordered::in_order(
        || Ok(next_group.next()),
        |_, g| {
            leaves
                .iter()
                .map(|&leaf| {
                    let (col, descr) = file.column(g, leaf)?;
                    read_column(col, &descr, group_rows[g])
                })
                .collect::<Result<Vec<Chunk>, String>>()
        },
        |group| {
            let group = group.map_err(|e| read_error(path, e))?;
            let offset = rows;
            rows += group.first().map_or(0, chunk_len);
            for ((chunk, b), (name, _)) in group.into_iter().zip(&mut builders).zip(wanted) {
                append(b, chunk, path, name, offset)?;
            }
            Ok(())
        },
    )?;
    let columns = builders
        .into_iter()
        .zip(wanted)
        .map(|(b, (_, m))| b.finish(*m))
        .collect();
    Ok((rows, columns))
}

fn chunk_len(c: &Chunk) -> usize {
    match c {
        Chunk::Float(v) => v.len(),
        Chunk::Int(v) => v.len(),
        Chunk::Text { codes, .. } => codes.len(),
    }
}

fn append(
    b: &mut Builder,
    chunk: Chunk,
    path: &Path,
    name: &str,
    offset: usize,
) -> Result<(), EstimateError> {
    match (chunk, &mut *b) {
        (Chunk::Float(v), Builder::Numeric(values)) => values.extend_from_slice(&v),
        (Chunk::Float(v), b) => {
            let (codes, levels) = intern(v.iter().map(|x| (!x.is_nan()).then_some(x.to_bits())));
            let levels: Vec<String> = levels
                .iter()
                .map(|&x| f64::from_bits(x).to_string())
                .collect();
            let _ = b.push_levels(&codes, &levels); // a label column takes any text
        }
        (Chunk::Int(v), Builder::Numeric(values)) => {
            values.extend(v.iter().map(|x| x.map_or(f64::NAN, |i| i as f64)));
        }
        (Chunk::Int(v), b) => {
            let (codes, levels) = intern(v.iter().copied());
            let levels: Vec<String> = levels.iter().map(i64::to_string).collect();
            let _ = b.push_levels(&codes, &levels); // a label column takes any text
        }
        (Chunk::Text { codes, levels }, b) => {
            if let Err(row) = b.push_levels(&codes, &levels) {
                return Err(EstimateError::NotNumeric {
                    path: path.to_path_buf(),
                    row: offset + row + 1,
                    column: name.to_string(),
                    value: levels[codes[row] as usize].clone(),
                });
            }
        }
    }
    Ok(())
}

/// Codes into first-appearance levels of `values` (`None` is [`MISSING`]). Columns with few
/// levels (sex, age bands, country groups) are matched by a scan of the levels, others hashed.
fn intern<K: std::hash::Hash + Eq + Copy>(
    values: impl Iterator<Item = Option<K>>,
) -> (Vec<u32>, Vec<K>) {
    const SCAN: usize = 16;
    let mut index: HashMap<K, u32> = HashMap::new();
    let mut levels: Vec<K> = Vec::new();
    let codes = values
        .map(|v| {
            let Some(k) = v else { return MISSING };
            if levels.len() <= SCAN {
                if let Some(c) = levels.iter().position(|l| *l == k) {
                    return c as u32;
                }
                levels.push(k);
                let c = (levels.len() - 1) as u32;
                if levels.len() > SCAN {
                    index.extend(levels.iter().enumerate().map(|(i, l)| (*l, i as u32)));
                }
                return c;
            }
            *index.entry(k).or_insert_with(|| {
                levels.push(k);
                (levels.len() - 1) as u32
            })
        })
        .collect();
    (codes, levels)
}

pub(super) fn read_column(
    col: ColumnReader,
    descr: &ColumnDescriptor,
    n: usize,
) -> Result<Chunk, String> {
    let def = descr.max_def_level();
    let decimal =
        (descr.converted_type() == ConvertedType::DECIMAL).then(|| 10f64.powi(descr.type_scale()));
    let chunk = match col {
        ColumnReader::DoubleColumnReader(r) => Chunk::Float(floats(read_values(r, n, def)?, |x| x)),
        ColumnReader::FloatColumnReader(r) => {
            Chunk::Float(floats(read_values(r, n, def)?, f64::from))
        }
        ColumnReader::Int32ColumnReader(r) => integers(read_values(r, n, def)?, decimal, i64::from),
        ColumnReader::Int64ColumnReader(r) => integers(read_values(r, n, def)?, decimal, |x| x),
        ColumnReader::BoolColumnReader(r) => Chunk::Int(
            read_values(r, n, def)?
                .into_iter()
                .map(|x| x.map(i64::from))
                .collect(),
        ),
        ColumnReader::ByteArrayColumnReader(r) => {
            let values = read_values(r, n, def)?;
            let (codes, raw) = intern(values.iter().map(|x| x.as_ref().map(|b| b.data())));
            let levels = raw
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            Chunk::Text { codes, levels }
        }
        _ => return Err(format!("column `{}` has an unsupported type", descr.path())),
    };
    Ok(chunk)
}

fn floats<T>(v: Vec<Option<T>>, f: impl Fn(T) -> f64) -> Vec<f64> {
    v.into_iter().map(|x| x.map_or(f64::NAN, &f)).collect()
}

fn integers<T>(v: Vec<Option<T>>, decimal: Option<f64>, f: impl Fn(T) -> i64) -> Chunk {
    match decimal {
        Some(d) => Chunk::Float(
            v.into_iter()
                .map(|x| x.map_or(f64::NAN, |x| f(x) as f64 / d))
                .collect(),
        ),
        None => Chunk::Int(v.into_iter().map(|x| x.map(&f)).collect()),
    }
}

/// All `n` records of a flat column chunk, `None` where null.
fn read_values<T: DataType>(
    mut r: ColumnReaderImpl<T>,
    n: usize,
    max_def: i16,
) -> Result<Vec<Option<T::T>>, String> {
    let mut defs: Vec<i16> = Vec::with_capacity(n);
    let mut values: Vec<T::T> = Vec::with_capacity(n);
    read_all(&mut r, n, &mut defs, &mut values)?;
    if max_def == 0 {
        return Ok(values.into_iter().map(Some).collect());
    }
    let mut it = values.into_iter();
    Ok(defs
        .into_iter()
        .map(|d| if d == max_def { it.next() } else { None })
        .collect())
}

/// Read all `n` records into `defs` and `values` (appended; nulls have no value).
fn read_all<T: DataType>(
    r: &mut ColumnReaderImpl<T>,
    n: usize,
    defs: &mut Vec<i16>,
    values: &mut Vec<T::T>,
) -> Result<(), String> {
    let mut records = 0usize;
    while records < n {
        let (got, _, _) = r
            .read_records(n - records, Some(defs), None, values)
            .map_err(|e| e.to_string())?;
        if got == 0 {
            break;
        }
        records += got;
    }
    if records != n {
        return Err(format!("expected {n} rows in a row group, read {records}"));
    }
    Ok(())
}

/// A numeric column chunk of `n` rows into `out` (NaN where null), reusing `defs` and `out`.
/// Doubles are decoded in place; other numeric types go through [`read_column`].
pub(super) fn read_numbers(
    col: ColumnReader,
    descr: &ColumnDescriptor,
    n: usize,
    defs: &mut Vec<i16>,
    out: &mut Vec<f64>,
) -> Result<(), String> {
    defs.clear();
    out.clear();
    match col {
        ColumnReader::DoubleColumnReader(mut r) => {
            read_all(&mut r, n, defs, out)?;
            let max_def = descr.max_def_level();
            if max_def > 0 && out.len() < n {
                spread_nulls(out, defs, max_def, n);
            }
        }
        other => match read_column(other, descr, n)? {
            Chunk::Float(v) => *out = v,
            Chunk::Int(v) => out.extend(v.iter().map(|x| x.map_or(f64::NAN, |i| i as f64))),
            Chunk::Text { .. } => {
                return Err(format!("column `{}` holds text, not numbers", descr.path()))
            }
        },
    }
    Ok(())
}

/// Move the packed non-null values of `out` to their rows, NaN in the null rows.
fn spread_nulls(out: &mut Vec<f64>, defs: &[i16], max_def: i16, n: usize) {
    let mut j = out.len();
    out.resize(n, f64::NAN);
    for i in (0..n).rev() {
        if defs[i] == max_def {
            j -= 1;
            out[i] = out[j];
        } else {
            out[i] = f64::NAN;
        }
    }
}
