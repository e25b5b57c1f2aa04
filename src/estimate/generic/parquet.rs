//! Parquet input for `migstat estimate`: the wanted top-level columns, read with the low-level
//! typed column reader, row groups in parallel (rayon, one file handle each) and stitched back
//! in file order.
//! Integers, floats, decimals, booleans and UTF-8 strings are supported.

use std::fs::File;
use std::path::Path;

use parquet::basic::ConvertedType;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;
use rayon::prelude::*;

use super::table::{read_error, Builder, Column, LoadAs};
use crate::estimate::error::EstimateError;

/// One column of one row group, nulls kept in place.
enum Chunk {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

fn open(path: &Path) -> Result<SerializedFileReader<File>, EstimateError> {
    let file = File::open(path).map_err(|e| read_error(path, e))?;
    SerializedFileReader::new(file).map_err(|e| read_error(path, e))
}

/// Names of the flat (non-repeated) leaf columns, in file order.
pub fn header(path: &Path) -> Result<Vec<String>, EstimateError> {
    let reader = open(path)?;
    let schema = reader.metadata().file_metadata().schema_descr();
    Ok(schema
        .columns()
        .iter()
        .filter(|c| c.max_rep_level() == 0)
        .map(|c| c.path().string())
        .collect())
}

/// Load the wanted columns: `(rows, columns)` in the order of `wanted`.
pub fn load(
    path: &Path,
    wanted: &[(String, LoadAs)],
) -> Result<(usize, Vec<Column>), EstimateError> {
    let reader = open(path)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let mut leaves = Vec::with_capacity(wanted.len());
    for (name, _) in wanted {
        let i = (0..schema.num_columns())
            .find(|&i| {
                schema.column(i).path().string() == *name && schema.column(i).max_rep_level() == 0
            })
            .ok_or_else(|| read_error(path, format!("no flat column `{name}`")))?;
        leaves.push(i);
    }
    let n_groups = reader.num_row_groups();
    let groups: Vec<Vec<Chunk>> = (0..n_groups)
        .into_par_iter()
        .map(|g| read_group(g, &leaves, path))
        .collect::<Result<_, _>>()?;
    let mut builders: Vec<Builder> = wanted.iter().map(|(_, m)| Builder::new(*m)).collect();
    let mut rows = 0usize;
    for group in groups {
        let offset = rows;
        rows += group.first().map_or(0, chunk_len);
        for ((chunk, b), (name, _)) in group.into_iter().zip(&mut builders).zip(wanted) {
            append(b, chunk, path, name, offset)?;
        }
    }
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
        Chunk::Text(v) => v.len(),
    }
}

fn append(
    b: &mut Builder,
    chunk: Chunk,
    path: &Path,
    name: &str,
    offset: usize,
) -> Result<(), EstimateError> {
    match chunk {
        Chunk::Float(v) => v.into_iter().for_each(|x| b.push_f64(x)),
        Chunk::Int(v) => {
            for x in v {
                match (x, &mut *b) {
                    (None, b) => b.push_missing(),
                    (Some(i), Builder::Numeric(values)) => values.push(i as f64),
                    (Some(i), b) => {
                        let _ = b.push_str(&i.to_string());
                    }
                }
            }
        }
        Chunk::Text(v) => {
            for (row, x) in v.into_iter().enumerate() {
                let s = x.unwrap_or_default();
                b.push_str(&s).map_err(|()| EstimateError::NotNumeric {
                    path: path.to_path_buf(),
                    row: offset + row + 1,
                    column: name.to_string(),
                    value: s.clone(),
                })?;
            }
        }
    }
    Ok(())
}

/// Row group `g`, through a reader of its own: readers of one `File` share its offset.
fn read_group(g: usize, leaves: &[usize], path: &Path) -> Result<Vec<Chunk>, EstimateError> {
    let reader = open(path)?;
    let group = reader.get_row_group(g).map_err(|e| read_error(path, e))?;
    let n = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
    let mut out = Vec::with_capacity(leaves.len());
    for &i in leaves {
        let descr = group.metadata().column(i).column_descr_ptr();
        let col = group
            .get_column_reader(i)
            .map_err(|e| read_error(path, e))?;
        out.push(read_column(col, &descr, n).map_err(|e| read_error(path, e))?);
    }
    Ok(out)
}

fn read_column(col: ColumnReader, descr: &ColumnDescriptor, n: usize) -> Result<Chunk, String> {
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
        ColumnReader::ByteArrayColumnReader(r) => Chunk::Text(
            read_values(r, n, def)?
                .into_iter()
                .map(|x| x.map(|b| String::from_utf8_lossy(b.data()).into_owned()))
                .collect(),
        ),
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
    let mut records = 0usize;
    while records < n {
        let (got, _, _) = r
            .read_records(n - records, Some(&mut defs), None, &mut values)
            .map_err(|e| e.to_string())?;
        if got == 0 {
            break;
        }
        records += got;
    }
    if records != n {
        return Err(format!("expected {n} rows in a row group, read {records}"));
    }
    if max_def == 0 {
        return Ok(values.into_iter().map(Some).collect());
    }
    let mut it = values.into_iter();
    Ok(defs
        .into_iter()
        .map(|d| if d == max_def { it.next() } else { None })
        .collect())
}
