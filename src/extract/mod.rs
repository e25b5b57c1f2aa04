//! Extract: open what offices ship and hand rows of text cells, with their line numbers, to
//! normalisation. One reader per format, chosen by the pipeline input's `type`; each implements
//! `RowSource`. An input with a `url` is fetched first (`http.rs`, cached by `cache.rs`) and then
//! opened like a local file. `write/` holds the matching writers (test fixtures, `synth`).
pub mod batch;
pub mod cache;
pub mod csv;
pub mod data;
pub mod excel;
pub mod guard;
pub mod http;
pub mod limits;
pub mod ordered;
pub mod parquet;
pub mod spss;
pub mod stata;
pub mod workbook;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use self::batch::{BatchSize, Cells, TextBatch, Value};
pub use self::csv::{CsvSource, Encoding};
pub use self::excel::ExcelSource;
pub use self::parquet::ParquetSource;
pub use self::spss::SpssSource;
pub use self::stata::StataSource;
use crate::config::pipeline::Input;
use crate::error::{MigError, Result};

/// Value labels of one column: code (as the reader writes the cell) → label.
pub type Labels = BTreeMap<String, String>;

/// Reading that may run on a worker thread: parsing and decoding a block of the input that
/// was cut off it on the reading thread.
pub type ReadJob = Box<dyn FnOnce() -> Result<TextBatch> + Send>;

/// A stream of rows of text cells under a header.
pub trait RowSource {
    /// What messages call the input (`archive.zip!member.csv` for a zip member).
    fn display(&self) -> &Path;
    fn headers(&self) -> &[String];
    /// Size of the data in bytes (uncompressed when known).
    fn size(&self) -> u64;
    /// Reads the next row into `cells`; returns its line (or row) number, `None` at the end.
    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>>;
    /// Appends rows to `batch` until it is full (`size`) or the input ends; returns the rows
    /// appended (0 at the end). Readers that can fill a batch without a `String` per cell
    /// override it.
    fn next_batch(&mut self, batch: &mut TextBatch, size: BatchSize) -> Result<usize> {
        let mut cells = Vec::new();
        let mut n = 0;
        while !batch.is_full(size) {
            let Some(line) = self.next_into(&mut cells)? else {
                break;
            };
            batch.push_row(line, cells.iter().map(String::as_str));
            n += 1;
        }
        Ok(n)
    }
    /// The next rows as a job that any thread may run (`None` at the end). Readers whose work
    /// can be split (delimited text) cut a block here and leave its parsing to the job; the
    /// others read a batch here.
    fn next_job(&mut self, size: BatchSize) -> Result<Option<ReadJob>> {
        let mut batch = TextBatch::default();
        if self.next_batch(&mut batch, size)? == 0 {
            return Ok(None);
        }
        Ok(Some(Box::new(move || Ok(batch))))
    }
    /// Value labels of a column (code → label), for formats that carry them.
    fn labels(&self, _column: usize) -> Option<&BTreeMap<String, String>> {
        None
    }
    /// Position of a column by any of its names, compared case-insensitively.
    fn column(&self, names: &[String]) -> Option<usize> {
        names.iter().find_map(|n| {
            self.headers()
                .iter()
                .position(|h| h.eq_ignore_ascii_case(n.trim()))
        })
    }
}

/// A reader of a typed format (Parquet, SPSS, Stata, Excel): it appends its rows to a batch
/// itself, numbers as numbers ([`TextBatch::push_number`]), and [`typed_next_into`] and
/// [`typed_next_batch`] make its `RowSource` methods of that.
trait TypedRows {
    /// Appends the next row to `batch` (begun with [`TextBatch::begin_row`]); its line (case,
    /// sheet row) number, `None` at the end. On an error the caller drops a row begun.
    fn push_next(&mut self, batch: &mut TextBatch) -> Result<Option<u64>>;
}

/// `RowSource::next_into` of a typed reader: the row's cells as text (numbers printed).
fn typed_next_into(src: &mut impl TypedRows, cells: &mut Vec<String>) -> Result<Option<u64>> {
    let mut batch = TextBatch::default();
    let line = src.push_next(&mut batch)?;
    cells.clear();
    if line.is_some() {
        cells.extend(batch.row_cells(0));
    }
    Ok(line)
}

/// `RowSource::next_batch` of a typed reader.
fn typed_next_batch(
    src: &mut impl TypedRows,
    batch: &mut TextBatch,
    size: BatchSize,
) -> Result<usize> {
    let mut n = 0;
    while !batch.is_full(size) {
        let rows = batch.len();
        match src.push_next(batch) {
            Ok(Some(_)) => n += 1,
            Ok(None) => break,
            Err(e) => {
                if batch.len() > rows {
                    batch.pop_row();
                }
                return Err(e);
            }
        }
    }
    Ok(n)
}

/// Input types a pipeline may declare.
pub const INPUT_TYPES: &[&str] = &["csv", "stata", "spss", "excel", "parquet"];

/// The input type of a data file, by its extension (what `migstat init` drafts and what
/// `migstat estimate` reads a file as): delimited text when no other type claims it.
pub fn input_type(path: &Path) -> &'static str {
    let name = path.to_string_lossy().to_ascii_lowercase();
    match name.rsplit('.').next().unwrap_or("") {
        "sav" | "zsav" => "spss",
        "dta" => "stata",
        "xlsx" | "xls" | "xlsm" | "ods" => "excel",
        "parquet" => "parquet",
        _ => "csv",
    }
}

/// The input a bare data file is: its [`input_type`], every other key as a pipeline leaves it
/// unset (encoding and delimiter detected, a zip's only `.csv`, the first sheet, the default
/// limits).
pub fn file_input(path: &Path) -> Result<Input> {
    let kind = input_type(path);
    toml::from_str(&format!("type = {kind:?}\npath = \"\""))
        .map_err(|e| MigError::Other(format!("{}: {e}", path.display())))
}

/// The local file of an input: its `path` resolved against `base` (the pipeline's folder), or,
/// for an input with a `url`, the copy fetched into the cache (downloaded only when the server
/// says it changed). Within one process a URL is asked for once: a run reads one snapshot.
pub fn locate(input: &Input, base: &Path) -> Result<PathBuf> {
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    match &input.url {
        None => Ok(resolve(&input.path)),
        Some(url) => {
            let spec = http::FetchSpec {
                url,
                expected_sha256: input.expected_sha256.as_deref(),
                timeout: std::time::Duration::from_secs(input.timeout_secs.unwrap_or(60)),
                retries: input.retries.unwrap_or(3),
                cache_dir: input
                    .cache_dir
                    .as_deref()
                    .map(resolve)
                    .unwrap_or_else(cache::default_dir),
                target: (!input.path.is_empty()).then(|| resolve(&input.path)),
            };
            static FETCHED: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
            let key = format!("{url} {} {:?}", spec.cache_dir.display(), spec.target);
            if let Some(done) = FETCHED.lock().ok().and_then(|m| m.get(&key).cloned()) {
                return Ok(done);
            }
            let file = http::fetch(&spec)?;
            if let Ok(mut m) = FETCHED.lock() {
                m.insert(key, file.clone());
            }
            Ok(file)
        }
    }
}

/// Opens the local file `path` with the reader of the input's type, bounded by the input's
/// limits (`limits.rs`): a header or row beyond them is an error naming the limit.
pub fn open(input: &Input, path: &Path) -> Result<Box<dyn RowSource>> {
    let inner = open_unbounded(input, path)?;
    Ok(Box::new(limits::Bounded::wrap(inner, input.limits)?))
}

fn open_unbounded(input: &Input, path: &Path) -> Result<Box<dyn RowSource>> {
    let enc = input.encoding.as_deref();
    let limits = &input.limits;
    if input.kind != "csv" {
        limits::check_file_size(limits, path)?;
    }
    match input.kind.as_str() {
        "csv" => Ok(Box::new(CsvSource::open_bounded(
            path,
            &csv::CsvSpec {
                member: input.member.as_deref(),
                encoding: enc,
                delimiter: input.delimiter.as_deref(),
                limits,
            },
        )?)),
        "stata" => Ok(Box::new(StataSource::open(path, enc)?)),
        "spss" => Ok(Box::new(SpssSource::open(path, enc)?)),
        "excel" => Ok(Box::new(ExcelSource::open_bounded(
            path,
            &excel::SheetSpec {
                sheet: input.sheet.clone(),
                header_row: input.header_row,
                range: input.range.clone(),
            },
            limits,
        )?)),
        "parquet" => Ok(Box::new(ParquetSource::open(path)?)),
        other => Err(MigError::Other(format!(
            "{}: input type {other:?} is not supported (expected one of: {})",
            path.display(),
            INPUT_TYPES.join(", ")
        ))),
    }
}

/// A number as a cell: integers without a decimal point (`3`, not `3.0`), others in the
/// shortest form that reads back to the same value.
pub fn number_cell(x: f64) -> String {
    match whole(x) {
        Some(i) => i.to_string(),
        None => format!("{x}"),
    }
}

/// `x` as an integer when it is whole and below 10^15 in size (what [`number_cell`] prints
/// without a decimal point, and what reads as an integer or a code); `None` otherwise, and for
/// NaN and ±∞.
pub fn whole(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
}

#[cfg(test)]
mod tests {
    use super::number_cell;

    #[test]
    fn types_follow_the_extension() {
        use super::input_type;
        use std::path::Path;
        assert_eq!(input_type(Path::new("a/b.SAV")), "spss");
        assert_eq!(input_type(Path::new("x.dta")), "stata");
        assert_eq!(input_type(Path::new("x.csv.zip")), "csv");
        assert_eq!(input_type(Path::new("x.csv.gz")), "csv");
        assert_eq!(input_type(Path::new("x.parquet")), "parquet");
    }

    #[test]
    fn numbers_print_as_codes() {
        assert_eq!(number_cell(3.0), "3");
        assert_eq!(number_cell(-0.0), "0");
        assert_eq!(number_cell(2.5), "2.5");
        assert_eq!(number_cell(0.1), "0.1");
        assert_eq!(number_cell(1e20), "100000000000000000000");
    }
}
