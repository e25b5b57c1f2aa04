//! Parquet input for `migstat estimate`: the wanted columns of a file, decoded row group by
//! row group on the pool by the one Parquet reader (`extract::parquet::ParquetFile`) and
//! stitched back in file order; and the turning of Arrow columns into estimate's values, which
//! `stream.rs` (replicate weights) and `partial.rs` (several files) share.
//! Integers, floats, decimals, booleans, dates and strings (plain, large, view, dictionary) are
//! taken; a column of another type is an error naming it.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::Array;
use arrow_schema::DataType;

use super::table::{missing_column, read_error, Builder, Column, LoadAs, MISSING};
use crate::estimate::error::EstimateError;
use crate::extract::parquet::{iso_date, ParquetFile};

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

/// Top-level column names, in file order.
pub fn header(path: &Path) -> Result<Vec<String>, EstimateError> {
    Ok(ParquetFile::open(path)
        .map_err(|e| read_error(path, e))?
        .names())
}

/// Load the wanted columns: `(rows, columns)` in the order of `wanted`.
pub fn load(
    path: &Path,
    wanted: &[(String, LoadAs)],
) -> Result<(usize, Vec<Column>), EstimateError> {
    let file = ParquetFile::open(path).map_err(|e| read_error(path, e))?;
    let leaves = wanted
        .iter()
        .map(|(name, _)| {
            file.index(name)
                .ok_or_else(|| missing_column(path, name, &file.names()))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    file.check(&leaves).map_err(|e| read_error(path, e))?;
    // Row groups are decoded on the pool, a few at a time, and appended in file order as they
    // come back: memory holds the columns and the groups in flight, not every group decoded.
    let group_rows = file.group_rows();
    let mut next_group = 0..group_rows.len();
    let mut builders: Vec<Builder> = wanted.iter().map(|(_, m)| Builder::new(*m)).collect();
    let mut rows = 0usize;
    crate::extract::ordered::in_order(
        || Ok(next_group.next()),
        |_, g| {
            let arrays = file.group(g, &leaves)?;
            (arrays.iter().zip(wanted))
                .map(|(a, (name, _))| chunk(a.as_ref()).map_err(|e| format!("column `{name}` {e}")))
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

/// One column of a row group as estimate's values: numbers as numbers, integers and booleans
/// (0, 1) as integers, everything else as text codes.
pub(super) fn chunk(a: &dyn Array) -> Result<Chunk, String> {
    fn ints<T: arrow_array::ArrowPrimitiveType>(a: &dyn Array) -> Chunk
    where
        T::Native: Into<i64>,
    {
        let p = a.as_primitive::<T>();
        Chunk::Int(
            (0..p.len())
                .map(|i| p.is_valid(i).then(|| p.value(i).into()))
                .collect(),
        )
    }
    fn text<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Chunk {
        let (codes, raw) = intern(values);
        let levels = raw.iter().map(|s| s.to_string()).collect();
        Chunk::Text { codes, levels }
    }
    Ok(match a.data_type() {
        DataType::Float64 | DataType::Float32 | DataType::Decimal128(..) => {
            Chunk::Float(numbers(a)?)
        }
        DataType::Int8 => ints::<Int8Type>(a),
        DataType::Int16 => ints::<Int16Type>(a),
        DataType::Int32 => ints::<Int32Type>(a),
        DataType::Int64 => ints::<Int64Type>(a),
        DataType::UInt8 => ints::<UInt8Type>(a),
        DataType::UInt16 => ints::<UInt16Type>(a),
        DataType::UInt32 => ints::<UInt32Type>(a),
        DataType::UInt64 => {
            let p = a.as_primitive::<UInt64Type>();
            let (codes, raw) = intern((0..p.len()).map(|i| p.is_valid(i).then(|| p.value(i))));
            let levels = raw.iter().map(u64::to_string).collect();
            Chunk::Text { codes, levels }
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            Chunk::Int(
                (0..b.len())
                    .map(|i| b.is_valid(i).then(|| i64::from(b.value(i))))
                    .collect(),
            )
        }
        DataType::Date32 => {
            let p = a.as_primitive::<Date32Type>();
            let (codes, raw) = intern((0..p.len()).map(|i| p.is_valid(i).then(|| p.value(i))));
            let levels = raw.iter().map(|&d| iso_date(i64::from(d))).collect();
            Chunk::Text { codes, levels }
        }
        DataType::Dictionary(..) => {
            let d = a.as_any_dictionary();
            let Chunk::Text {
                codes: value_codes,
                levels,
            } = chunk(d.values().as_ref())?
            else {
                return Err(format!(
                    "holds {}, which is neither numbers nor text",
                    a.data_type()
                ));
            };
            let keys = d.normalized_keys();
            let codes = (0..a.len())
                .map(|i| match a.is_valid(i) {
                    true => value_codes.get(keys[i]).copied().unwrap_or(MISSING),
                    false => MISSING,
                })
                .collect();
            Chunk::Text { codes, levels }
        }
        _ => text(texts(a)?.into_iter()),
    })
}

/// A text column's values (`None` for null).
pub(super) fn texts(a: &dyn Array) -> Result<Vec<Option<&str>>, String> {
    let n = a.len();
    Ok(match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            (0..n)
                .map(|i| (!s.is_null(i)).then(|| s.value(i)))
                .collect()
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            (0..n)
                .map(|i| (!s.is_null(i)).then(|| s.value(i)))
                .collect()
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            (0..n)
                .map(|i| (!s.is_null(i)).then(|| s.value(i)))
                .collect()
        }
        other => return Err(format!("holds {other}, which is neither numbers nor text")),
    })
}

pub(super) fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// A numeric column as f64, null as NaN; booleans as 0 and 1.
pub(super) fn numbers(a: &dyn Array) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    numbers_into(a, &mut out)?;
    Ok(out)
}

/// [`numbers`] into `out` (cleared first).
pub(super) fn numbers_into(a: &dyn Array, out: &mut Vec<f64>) -> Result<(), String> {
    fn prim<T: arrow_array::ArrowPrimitiveType>(
        a: &dyn Array,
        out: &mut Vec<f64>,
        f: impl Fn(T::Native) -> f64,
    ) {
        let p = a.as_primitive::<T>();
        if p.null_count() == 0 {
            out.extend(p.values().iter().map(|&x| f(x)));
        } else {
            out.extend((0..p.len()).map(|i| {
                if p.is_null(i) {
                    f64::NAN
                } else {
                    f(p.value(i))
                }
            }));
        }
    }
    out.clear();
    out.reserve(a.len());
    match a.data_type() {
        DataType::Float64 => prim::<Float64Type>(a, out, |x| x),
        DataType::Float32 => prim::<Float32Type>(a, out, f64::from),
        DataType::Int8 => prim::<Int8Type>(a, out, f64::from),
        DataType::Int16 => prim::<Int16Type>(a, out, f64::from),
        DataType::Int32 => prim::<Int32Type>(a, out, f64::from),
        DataType::Int64 => prim::<Int64Type>(a, out, |x| x as f64),
        DataType::UInt8 => prim::<UInt8Type>(a, out, f64::from),
        DataType::UInt16 => prim::<UInt16Type>(a, out, f64::from),
        DataType::UInt32 => prim::<UInt32Type>(a, out, f64::from),
        DataType::UInt64 => prim::<UInt64Type>(a, out, |x| x as f64),
        DataType::Decimal128(_, scale) => {
            let div = 10f64.powi(i32::from(*scale));
            prim::<Decimal128Type>(a, out, |x| x as f64 / div)
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            out.extend((0..b.len()).map(|i| match b.is_valid(i) {
                true => f64::from(u8::from(b.value(i))),
                false => f64::NAN,
            }));
        }
        other => return Err(format!("holds {other}, not numbers")),
    }
    Ok(())
}
