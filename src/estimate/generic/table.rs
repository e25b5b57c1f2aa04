//! The in-memory table behind `migstat estimate`: only the columns the estimate needs, each
//! loaded as numbers (weights, fpc, replicate weights), as exact keys (strata, PSUs, domains) or
//! inferred (analysis variables: numeric, else a factor). A file is Parquet when it starts with
//! the `PAR1` magic bytes, and its columns are decoded by `parquet.rs`; every other file is read
//! by the reader `extract` gives a pipeline input of its type ([`extract::input_type`]: SPSS,
//! Stata, Excel by their extension, delimited text otherwise, with its encoding and delimiter
//! detected, plain, `.gz` or zipped), batches parsed on the pool and taken in file order. A
//! typed file's numbers are taken as they are.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::design::usable_weight;
use super::parquet;
use crate::estimate::error::EstimateError;
use crate::extract::limits::{clip, Limits};
use crate::extract::{self, BatchSize, RowSource, TextBatch, Value};
use crate::normalize::reps::{self, Replicates};
use crate::normalize::value::{short_decimal, trim};

/// How a file other than Parquet is read: its reader's limits (`docs/limits.md`, the command
/// line's `--limit`) and, for a workbook, the sheet (default: the first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    pub limits: Limits,
    pub sheet: Option<String>,
}

/// Code of a missing value in a [`Categorical`].
pub const MISSING: u32 = u32::MAX;

/// How a column is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadAs {
    /// Every value must be a number; empty or `NA` is missing (NaN).
    Numeric,
    /// Values are labels compared exactly as written (ids beyond 2^53 stay distinct).
    Key,
    /// Numeric if every value is a number (or empty / `NA`), otherwise a factor.
    Inferred,
    /// A replicate weight nothing else reads: a number. From a file other than Parquet the
    /// replicate weights of a row are kept side by side in a store that goes to a file of its
    /// own past 32 MiB ([`RepStore`]), not as columns.
    Replicate,
}

/// The replicate weights of a file other than Parquet, row by row (`normalize::reps`: in
/// memory up to a bound, then in an unlinked file in the temporary folder), with what loading
/// them found.
#[derive(Debug)]
pub struct RepStore {
    /// The columns, in the order of each row's weights.
    pub columns: Vec<String>,
    pub weights: Replicates,
    /// Per column, its first weight that is missing, infinite or negative: (row from 0, value).
    pub bad: Vec<Option<(usize, f64)>>,
}

/// A column of labels: one code per row into `levels` (first-appearance order), or [`MISSING`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Categorical {
    pub codes: Vec<u32>,
    pub levels: Vec<String>,
}

/// One loaded column.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Numbers, NaN where missing.
    Numeric(Vec<f64>),
    /// Labels.
    Categorical(Categorical),
}

/// The columns of one input file that an estimate uses.
#[derive(Debug)]
pub struct Table {
    pub path: PathBuf,
    pub n_rows: usize,
    columns: HashMap<String, Column>,
    /// The columns loaded as [`LoadAs::Replicate`] from a file other than Parquet.
    reps: Option<RepStore>,
}

/// Collects one column's values, interning labels.
pub(crate) enum Builder {
    Numeric(Vec<f64>),
    Labels {
        codes: Vec<u32>,
        index: HashMap<String, u32>,
        levels: Vec<String>,
    },
}

impl Builder {
    pub(crate) fn new(mode: LoadAs) -> Self {
        match mode {
            LoadAs::Numeric | LoadAs::Replicate => Self::Numeric(Vec::new()),
            LoadAs::Key | LoadAs::Inferred => Self::Labels {
                codes: Vec::new(),
                index: HashMap::new(),
                levels: Vec::new(),
            },
        }
    }

    /// Add a textual value; `Err(())` when a numeric column meets text.
    pub(crate) fn push_str(&mut self, raw: &str) -> Result<(), ()> {
        let s = trim(raw);
        match self {
            Self::Numeric(v) => v.push(parse_number(s).ok_or(())?),
            Self::Labels {
                codes,
                index,
                levels,
            } => {
                codes.push(intern(index, levels, s));
            }
        }
        Ok(())
    }

    /// Add values given as codes into `levels` ([`MISSING`] for none), each level handled
    /// once; `Err(i)` names the first position whose text a numeric column cannot take.
    pub(crate) fn push_levels(&mut self, codes: &[u32], levels: &[String]) -> Result<(), usize> {
        match self {
            Self::Numeric(values) => {
                let numbers: Vec<Option<f64>> =
                    levels.iter().map(|l| parse_number(l.trim())).collect();
                values.reserve(codes.len());
                for (i, &c) in codes.iter().enumerate() {
                    match numbers.get(c as usize) {
                        None => values.push(f64::NAN),
                        Some(Some(x)) => values.push(*x),
                        Some(None) => return Err(i),
                    }
                }
            }
            Self::Labels {
                codes: out,
                index,
                levels: global,
            } => {
                let map: Vec<u32> = levels
                    .iter()
                    .map(|l| intern(index, global, l.trim()))
                    .collect();
                out.extend(
                    codes
                        .iter()
                        .map(|&c| map.get(c as usize).copied().unwrap_or(MISSING)),
                );
            }
        }
        Ok(())
    }

    /// Appends the values of `part`, a builder of the rows that follow; `Err((i, label))`
    /// names the first of its positions whose label a numeric column cannot take.
    fn append(&mut self, part: Builder) -> Result<(), (usize, String)> {
        match (self, part) {
            (Self::Numeric(mine), Self::Numeric(more)) => mine.extend(more),
            (me, Self::Numeric(more)) => more.into_iter().for_each(|x| me.push_f64(x)),
            (me, Self::Labels { codes, levels, .. }) => {
                me.push_levels(&codes, &levels).map_err(|i| {
                    let label = codes.get(i).and_then(|&c| levels.get(c as usize));
                    (i, label.cloned().unwrap_or_default())
                })?
            }
        }
        Ok(())
    }

    pub(crate) fn push_f64(&mut self, v: f64) {
        match self {
            Self::Numeric(values) => values.push(v),
            Self::Labels { .. } if v.is_nan() => self.push_missing(),
            Self::Labels { .. } => {
                let _ = self.push_str(&v.to_string());
            }
        }
    }

    pub(crate) fn push_missing(&mut self) {
        match self {
            Self::Numeric(v) => v.push(f64::NAN),
            Self::Labels { codes, .. } => codes.push(MISSING),
        }
    }

    pub(crate) fn finish(self, mode: LoadAs) -> Column {
        match self {
            Self::Numeric(v) => Column::Numeric(v),
            Self::Labels { codes, levels, .. } => {
                let cat = Categorical { codes, levels };
                if mode == LoadAs::Inferred {
                    if let Some(values) = cat.as_numbers() {
                        return Column::Numeric(values);
                    }
                }
                Column::Categorical(cat)
            }
        }
    }
}

/// Code of the trimmed label `s` in `levels` (added when new); [`MISSING`] when empty.
fn intern(index: &mut HashMap<String, u32>, levels: &mut Vec<String>, s: &str) -> u32 {
    if s.is_empty() {
        return MISSING;
    }
    if let Some(&c) = index.get(s) {
        return c;
    }
    let c = levels.len() as u32;
    index.insert(s.to_string(), c);
    levels.push(s.to_string());
    c
}

/// A number, or NaN for an empty or `NA` cell; `None` for text. `s` is trimmed.
pub(super) fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty() || s == "NA" {
        return Some(f64::NAN);
    }
    // A plain decimal (a survey's weights) read off its bytes, the bits `parse` gives.
    short_decimal(s.as_bytes()).or_else(|| s.parse::<f64>().ok())
}

impl Categorical {
    /// The values as numbers when every level is numeric (`NA` counts as missing).
    pub fn as_numbers(&self) -> Option<Vec<f64>> {
        let by_level: Option<Vec<f64>> = self.levels.iter().map(|l| parse_number(l)).collect();
        let by_level = by_level?;
        Some(
            self.codes
                .iter()
                .map(|&c| by_level.get(c as usize).copied().unwrap_or(f64::NAN))
                .collect(),
        )
    }

    /// Level label of code `c` (empty for missing).
    pub fn label(&self, c: u32) -> &str {
        self.levels.get(c as usize).map_or("", String::as_str)
    }
}

impl Table {
    /// True when the file starts with Parquet's magic bytes.
    pub fn is_parquet(path: &Path) -> Result<bool, EstimateError> {
        regular_file(path)?;
        let mut magic = [0u8; 4];
        let mut f = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
        let n = f.read(&mut magic).map_err(|e| read_error(path, e))?;
        Ok(n == 4 && &magic == b"PAR1")
    }

    /// Column names of the file, in file order.
    /// A name given twice is an error: which column is meant cannot be told.
    pub fn header(path: &Path, reading: &Reading) -> Result<Vec<String>, EstimateError> {
        let names = if Self::is_parquet(path)? {
            parquet::header(path)?
        } else {
            open_rows(path, reading)?
                .headers()
                .iter()
                .map(|h| clean_header(h))
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(EstimateError::DuplicateColumn {
                path: path.to_path_buf(),
                column: crate::extract::limits::clip(dup).into_owned(),
            });
        }
        Ok(names)
    }

    /// Load the `wanted` columns (a name may appear once; the first mode wins over none).
    pub fn load(
        path: &Path,
        wanted: &[(String, LoadAs)],
        reading: &Reading,
    ) -> Result<Self, EstimateError> {
        let names = Self::header(path, reading)?;
        for (name, _) in wanted {
            if !names.iter().any(|n| n == name) {
                return Err(missing_column(path, name, &names));
            }
        }
        let (n_rows, columns, reps) = if Self::is_parquet(path)? {
            let (n, columns) = parquet::load(path, wanted)?;
            let named = wanted.iter().map(|(n, _)| n.clone()).zip(columns).collect();
            (n, named, None)
        } else {
            load_rows(path, &names, wanted, reading)?
        };
        if n_rows == 0 {
            return Err(EstimateError::NoRows {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            n_rows,
            columns,
            reps,
        })
    }

    /// The store of replicate weights when it holds exactly `columns`, in that order (taken
    /// out of the table). A store of other columns is turned into columns, read back from it
    /// once, and `None` is returned.
    pub fn take_reps(&mut self, columns: &[String]) -> Result<Option<RepStore>, EstimateError> {
        let Some(mut store) = self.reps.take() else {
            return Ok(None);
        };
        if store.columns == columns {
            return Ok(Some(store));
        }
        let rows: Vec<u32> = (0..self.n_rows as u32).collect();
        let mut cols = Vec::new();
        store
            .weights
            .columns_into(&rows, &mut cols)
            .map_err(|e| store_error(&store.weights, e))?;
        for (name, col) in store.columns.drain(..).zip(cols) {
            self.columns.insert(name, Column::Numeric(col));
        }
        Ok(None)
    }

    /// The column `name` as loaded.
    pub fn column(&self, name: &str) -> Result<&Column, EstimateError> {
        self.columns
            .get(name)
            .ok_or_else(|| missing_column(&self.path, name, &[]))
    }

    /// The column as numbers; a factor column is an error naming its first non-numeric row.
    pub fn numeric(&self, name: &str) -> Result<Cow<'_, [f64]>, EstimateError> {
        match self.column(name)? {
            Column::Numeric(v) => Ok(Cow::Borrowed(v)),
            Column::Categorical(cat) => cat.as_numbers().map(Cow::Owned).ok_or_else(|| {
                let row = cat
                    .codes
                    .iter()
                    .position(|&c| parse_number(cat.label(c)).is_none())
                    .unwrap_or(0);
                EstimateError::NotNumeric {
                    path: self.path.clone(),
                    row: row + 1,
                    column: name.to_string(),
                    value: clip(cat.label(cat.codes.get(row).copied().unwrap_or(MISSING)))
                        .into_owned(),
                }
            }),
        }
    }

    /// The column as numbers, as [`Table::numeric`] gives it, moved out of the table when it is
    /// numeric (no copy: with 80 replicate weights, the table's largest part); the table no
    /// longer has it.
    pub fn take_numeric(&mut self, name: &str) -> Result<Vec<f64>, EstimateError> {
        if let Some(Column::Numeric(_)) = self.columns.get(name) {
            if let Some(Column::Numeric(v)) = self.columns.remove(name) {
                return Ok(v);
            }
        }
        self.numeric(name).map(Cow::into_owned)
    }

    /// The column as labels (numbers become their shortest decimal text).
    pub fn categorical(&self, name: &str) -> Result<Cow<'_, Categorical>, EstimateError> {
        match self.column(name)? {
            Column::Categorical(c) => Ok(Cow::Borrowed(c)),
            Column::Numeric(v) => {
                let mut b = Builder::new(LoadAs::Key);
                v.iter().for_each(|&x| b.push_f64(x));
                match b.finish(LoadAs::Key) {
                    Column::Categorical(c) => Ok(Cow::Owned(c)),
                    Column::Numeric(_) => Ok(Cow::Owned(Categorical::default())),
                }
            }
        }
    }
}

/// Refuses what is not a regular file (a directory, a FIFO, `/dev/zero`) before opening it.
fn regular_file(path: &Path) -> Result<(), EstimateError> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(read_error(path, "not a regular file"))
    }
}

fn clean_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_string()
}

pub(crate) fn read_error(path: &Path, e: impl std::fmt::Display) -> EstimateError {
    EstimateError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

pub(super) fn missing_column(path: &Path, name: &str, names: &[String]) -> EstimateError {
    let mut available: Vec<std::borrow::Cow<str>> =
        names.iter().map(|n| clip(n)).take(30).collect();
    if names.len() > 30 {
        available.push("…".into());
    }
    EstimateError::MissingColumn {
        path: path.to_path_buf(),
        column: clip(name).into_owned(),
        available: available.join(", "),
    }
}

/// The reader of a file that is not Parquet, as a pipeline input of its type would open it with
/// `reading`'s limits and sheet and every other key unset.
fn open_rows(path: &Path, reading: &Reading) -> Result<Box<dyn RowSource>, EstimateError> {
    extract::file_input(path)
        .and_then(|mut input| {
            input.limits = reading.limits;
            input.sheet.clone_from(&reading.sheet);
            extract::open(&input, path)
        })
        .map_err(|e| EstimateError::Input(e.to_string()))
}

/// The wanted columns of one batch of rows.
struct Part {
    rows: usize,
    /// The columns not kept in the store.
    columns: Vec<Builder>,
    /// The replicate weights of each row, side by side.
    reps: Vec<f64>,
    /// Per replicate, its first weight that is missing, infinite or negative (row in the part).
    bad_reps: Vec<Option<(usize, f64)>>,
    /// Why the batch cannot be loaded, at its `rows`-th row (0-based).
    bad: Option<Bad>,
}

enum Bad {
    /// A row of another width than the header.
    Width { line: u64, cells: usize },
    /// Wanted column `column`'s text, which a numeric column cannot take.
    NotNumeric { column: usize, value: String },
}

/// Reads the wanted columns of a file of any other format than Parquet: the reader's batches
/// are parsed and their columns built on the pool, then appended in file order. Blank lines
/// are skipped; a row of another width than the header is an error naming its line. Rows are
/// counted from 1 after the header, blank lines left out.
fn load_rows(
    path: &Path,
    names: &[String],
    wanted: &[(String, LoadAs)],
    reading: &Reading,
) -> Result<Loaded, EstimateError> {
    let index: Vec<usize> = wanted
        .iter()
        .map(|(w, _)| names.iter().position(|n| n == w).unwrap_or(usize::MAX))
        .collect();
    let modes: Vec<LoadAs> = wanted.iter().map(|(_, m)| *m).collect();
    let mut builders: Vec<Builder> = modes.iter().map(|m| Builder::new(*m)).collect();
    let stored: Vec<usize> = (0..wanted.len())
        .filter(|&k| modes[k] == LoadAs::Replicate)
        .collect();
    let mut store = RepStore {
        columns: stored.iter().map(|&k| wanted[k].0.clone()).collect(),
        weights: Replicates::new(stored.len(), None, reps::memory_bound()),
        bad: vec![None; stored.len()],
    };
    let mut src = open_rows(path, reading)?;
    let width = src.headers().len();
    // Blank lines are a thing of delimited text; a typed file's row is a row.
    let text = extract::input_type(path) == "csv";
    let input = |e: crate::error::MigError| EstimateError::Input(e.to_string());
    let mut rows = 0usize;
    let size = BatchSize::default();
    extract::ordered::in_order(
        || src.next_job(size).map_err(input),
        |_, job| {
            job()
                .map(|batch| part(&batch, (width, text), &index, &modes, stored.len()))
                .map_err(input)
        },
        |part| {
            let part = part?;
            let at = rows + part.rows + 1;
            match part.bad {
                Some(Bad::Width { line, cells }) => {
                    return Err(width_error(path, line, cells, width))
                }
                Some(Bad::NotNumeric { column, value }) => {
                    return Err(not_numeric(path, at, &wanted[column].0, &value))
                }
                None => {}
            }
            for (k, (b, more)) in builders.iter_mut().zip(part.columns).enumerate() {
                b.append(more)
                    .map_err(|(i, label)| not_numeric(path, rows + i + 1, &wanted[k].0, &label))?;
            }
            if !stored.is_empty() {
                for w in part.reps.chunks_exact(stored.len()) {
                    store
                        .weights
                        .push(w)
                        .map_err(|e| store_error(&store.weights, e))?;
                }
                for (first, more) in store.bad.iter_mut().zip(part.bad_reps) {
                    *first = first.or(more.map(|(i, x)| (rows + i, x)));
                }
            }
            rows += part.rows;
            Ok(())
        },
    )?;
    let columns = wanted
        .iter()
        .zip(builders)
        .filter(|((_, m), _)| *m != LoadAs::Replicate)
        .map(|((name, m), b)| (name.clone(), b.finish(*m)))
        .collect();
    if stored.is_empty() {
        return Ok((rows, columns, None));
    }
    store
        .weights
        .seal()
        .map_err(|e| store_error(&store.weights, e))?;
    Ok((rows, columns, Some(store)))
}

/// Rows, the columns by name, and the replicate weights kept in a store.
type Loaded = (usize, HashMap<String, Column>, Option<RepStore>);

/// An error of the replicate weights' store (a full disk), naming its folder.
pub(crate) fn store_error(store: &Replicates, e: std::io::Error) -> EstimateError {
    EstimateError::Input(format!(
        "{}: cannot keep the replicate weights in this folder: {e} (the folder is the \
         temporary one, TMPDIR; it needs rows × replicates × 8 bytes)",
        store.folder().display()
    ))
}

/// The wanted columns of `batch`, up to its first row that cannot be loaded.
/// `shape` is the header's width and whether the file is delimited text (whose blank lines are
/// skipped).
fn part(
    batch: &TextBatch,
    shape: (usize, bool),
    index: &[usize],
    modes: &[LoadAs],
    n_reps: usize,
) -> Part {
    let (width, text) = shape;
    let mut out = Part {
        rows: 0,
        columns: modes.iter().map(|m| Builder::new(*m)).collect(),
        reps: Vec::with_capacity(batch.len() * n_reps),
        bad_reps: vec![None; n_reps],
        bad: None,
    };
    for r in 0..batch.len() {
        let cells = batch.width(r);
        if text && blank_line(batch, r) {
            continue;
        }
        if cells != width {
            out.bad = Some(Bad::Width {
                line: batch.line(r),
                cells,
            });
            return out;
        }
        let mut slot = 0;
        for (k, b) in out.columns.iter_mut().enumerate() {
            let value = batch.value(r, index[k]);
            if modes[k] == LoadAs::Replicate {
                let x = match value {
                    Value::Number(x) => Some(x),
                    Value::Text(text) => parse_number(trim(text)),
                };
                let Some(x) = x else {
                    out.bad = Some(Bad::NotNumeric {
                        column: k,
                        value: value.text().into_owned(),
                    });
                    return out;
                };
                if !usable_weight(x) && out.bad_reps[slot].is_none() {
                    out.bad_reps[slot] = Some((out.rows, x));
                }
                out.reps.push(x);
                slot += 1;
                continue;
            }
            match value {
                Value::Number(x) => b.push_f64(x),
                Value::Text(text) => {
                    if b.push_str(text).is_err() {
                        out.bad = Some(Bad::NotNumeric {
                            column: k,
                            value: text.to_string(),
                        });
                        return out;
                    }
                }
            }
        }
        out.rows += 1;
    }
    out
}

/// Whether row `r` is a blank line (one empty cell), which delimited text skips.
fn blank_line(batch: &TextBatch, r: usize) -> bool {
    batch.width(r) == 1 && batch.cell(r, 0).trim().is_empty()
}

/// A row of `cells` cells at `line`, where the header has `width`.
fn width_error(path: &Path, line: u64, cells: usize, width: usize) -> EstimateError {
    read_error(
        path,
        format!(
            "line {line} has {cells} cells where the header has {width} (a delimiter or quote \
             out of place?)"
        ),
    )
}

fn not_numeric(path: &Path, row: usize, column: &str, value: &str) -> EstimateError {
    EstimateError::NotNumeric {
        path: path.to_path_buf(),
        row,
        column: column.to_string(),
        value: clip(value).into_owned(),
    }
}

/// The `wanted` columns of a file other than Parquet as Arrow columns, a batch of rows at a
/// time, in file order, for the partial of one of several files (`partial.rs`): a column whose
/// cells in the batch are all numbers (or blank) as doubles, any other as its texts (a blank
/// cell null either way). Blank lines of delimited text are skipped; a row of another width
/// than the header is an error naming its line.
pub(super) fn text_batches(
    path: &Path,
    reading: &Reading,
    wanted: &[String],
    mut each: impl FnMut(&[arrow_array::ArrayRef]) -> Result<(), EstimateError>,
) -> Result<(), EstimateError> {
    use arrow_array::{ArrayRef, Float64Array, StringArray};
    let names = Table::header(path, reading)?;
    let index = wanted
        .iter()
        .map(|w| {
            names
                .iter()
                .position(|n| n == w)
                .ok_or_else(|| missing_column(path, w, &names))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    let mut src = open_rows(path, reading)?;
    let width = src.headers().len();
    let text = extract::input_type(path) == "csv";
    let input = |e: crate::error::MigError| EstimateError::Input(e.to_string());
    let mut batch = TextBatch::default();
    let mut rows: Vec<usize> = Vec::new();
    loop {
        batch.clear();
        if src
            .next_batch(&mut batch, BatchSize::default())
            .map_err(input)?
            == 0
        {
            return Ok(());
        }
        rows.clear();
        for r in 0..batch.len() {
            let cells = batch.width(r);
            if text && blank_line(&batch, r) {
                continue;
            }
            if cells != width {
                return Err(width_error(path, batch.line(r), cells, width));
            }
            rows.push(r);
        }
        let columns: Vec<ArrayRef> = index
            .iter()
            .map(|&c| {
                let numbers: Option<Vec<Option<f64>>> = (rows.iter())
                    .map(|&r| match batch.value(r, c) {
                        Value::Number(x) => Some(Some(x)),
                        Value::Text(t) if t.trim().is_empty() => Some(None),
                        Value::Text(_) => None,
                    })
                    .collect();
                match numbers {
                    Some(v) => std::sync::Arc::new(Float64Array::from(v)) as ArrayRef,
                    None => std::sync::Arc::new(StringArray::from_iter(rows.iter().map(|&r| {
                        let t = batch.value(r, c).text();
                        (!t.trim().is_empty()).then_some(t)
                    }))),
                }
            })
            .collect();
        each(&columns)?;
    }
}
