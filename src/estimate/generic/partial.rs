//! One table split over several files (Parquet, or any format a pipeline reads): each file's
//! rows are folded, in file order, into
//! a [`Partial`] — the estimation core's [`State`] plus the labels its local ids stand for
//! (domains, factor levels, strata, PSUs) — and the partials are merged in file order on the
//! client. The same [`FileAccumulator`] runs here (one thread per file, `estimate FILES…`) and on
//! Ballista executors (`--engine ballista://…`, as the `migstat_partial` aggregate), so the two
//! give the same bits. A file is cut into chunks of [`CHUNK_ROWS`] rows counted from its first row,
//! whatever the size of the batches that bring them, and chunk states are merged in order.
//!
//! Against one file holding the same rows, results agree to rounding (within 1e-12 relative):
//! the single-file engine cuts its chunks by PSU over the whole table, which a file-by-file pass
//! cannot do without first shuffling every row.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use super::design::{usable_weight, WeightSource};
use super::domains::{level_ranks, sort_by_ranks, Cells};
use super::estimators::finish_all;
use super::parquet::{is_text, numbers, texts};
use super::table::{parse_number, text_batches, Categorical, Reading, Table, MISSING};
use super::targets::{Statistic, Target};
use super::{Outcome, Request};
use crate::estimate::core::state::{Chunk, InMemory, UnitSums};
use crate::estimate::core::{self, CellMap, ChunkKey, Finish, State};
use crate::estimate::error::EstimateError;
use crate::estimate::replicate::{ReplicateMethod, ReplicateSpec};
use crate::extract::parquet::iso_date;
use crate::normalize::value::trim;

/// Rows per chunk of a file (counted from the file's first row).
pub const CHUNK_ROWS: usize = 65_536;

/// What every file's pass computes: the columns by role, as plain names (sent to executors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Sampling weight column (`None`: every row weighs 1).
    pub weight: Option<String>,
    pub strata: Option<String>,
    /// First-stage PSU column (Taylor designs).
    pub psu: Option<String>,
    pub nest: bool,
    pub by: Vec<String>,
    pub stats: Vec<Stat>,
    pub replicates: Vec<String>,
}

/// A requested statistic by column names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stat {
    Total(String),
    Mean(String),
    Ratio(String, String),
}

impl Spec {
    /// The partial-state spec of `request`, or why the request needs the single-file engine.
    pub fn of(request: &Request) -> Result<Spec, EstimateError> {
        let d = &request.design;
        let refuse = |what: &str| {
            Err(EstimateError::Usage(format!(
                "{what} is not supported with several input files or --engine (use one file)"
            )))
        };
        if !d.fpc.is_empty() {
            return refuse("--fpc");
        }
        if d.psu.len() > 1 {
            return refuse("a multistage design (several --psu columns)");
        }
        let replicates = match &d.replicates {
            Some(r) => {
                if r.method == ReplicateMethod::Jkn && r.rscales.is_none() {
                    return refuse("--method jkn without --rscales");
                }
                r.columns.clone()
            }
            None => {
                if d.psu.is_empty() {
                    return refuse("a Taylor design without --psu (every row its own PSU)");
                }
                Vec::new()
            }
        };
        Ok(Spec {
            weight: match &d.weight {
                WeightSource::Column(c) => Some(c.clone()),
                WeightSource::One => None,
            },
            strata: d.strata.clone(),
            psu: if replicates.is_empty() {
                d.psu.first().cloned()
            } else {
                None
            },
            nest: d.nest,
            by: request.by.clone(),
            stats: request
                .statistics
                .iter()
                .map(|s| match s {
                    Statistic::Total(c) => Stat::Total(c.clone()),
                    Statistic::Mean(c) => Stat::Mean(c.clone()),
                    Statistic::Ratio(n, x) => Stat::Ratio(n.clone(), x.clone()),
                })
                .collect(),
            replicates,
        })
    }

    /// Every column the pass reads, each once, in the order the accumulator takes them.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |c: &String| {
            if !out.contains(c) {
                out.push(c.clone());
            }
        };
        self.weight.iter().for_each(&mut add);
        self.strata.iter().for_each(&mut add);
        self.psu.iter().for_each(&mut add);
        self.by.iter().for_each(&mut add);
        for s in &self.stats {
            match s {
                Stat::Total(c) | Stat::Mean(c) => add(c),
                Stat::Ratio(n, x) => {
                    add(n);
                    add(x);
                }
            }
        }
        self.replicates.iter().for_each(&mut add);
        out
    }
}

/// What stopped a file's pass (the client turns it into the error naming the file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Problem {
    BadWeight {
        column: String,
        row: u64,
        value: u64,
    },
    Missing {
        column: String,
        row: u64,
        role: String,
    },
    NotNumeric {
        column: String,
        row: u64,
        value: String,
    },
    PsuInTwoStrata {
        psu: String,
        column: String,
        first: String,
        second: String,
    },
    Column {
        column: String,
        problem: String,
    },
}

/// A cell of a partial: (domain, statistic, factor level or [`MISSING`], side: 0 numerator,
/// 1 denominator).
pub type CellKey = (u32, u32, u32, u8);

/// One file's partial state and the labels of its local ids (each in first-appearance order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    pub rows: u64,
    /// Per statistic: whether its column is a factor (text).
    pub factor: Vec<bool>,
    /// Per by-column: its levels.
    pub by_levels: Vec<Vec<String>>,
    /// Domains as codes into `by_levels`.
    pub domains: Vec<Vec<u32>>,
    /// Per statistic: the factor's levels (empty for numbers).
    pub levels: Vec<Vec<String>>,
    pub strata: Vec<String>,
    /// PSUs: (stratum code, label).
    pub psus: Vec<(u32, String)>,
    pub cells: Vec<CellKey>,
    pub state: State,
    pub problem: Option<Problem>,
}

/// Labels interned in first-appearance order, with caches for integer and float keys.
#[derive(Default)]
struct Dict {
    index: HashMap<String, u32>,
    ints: HashMap<i64, u32>,
    floats: HashMap<u64, u32>,
    labels: Vec<String>,
}

impl Dict {
    fn code(&mut self, s: &str) -> u32 {
        let s = s.trim();
        if s.is_empty() {
            return MISSING;
        }
        if let Some(&c) = self.index.get(s) {
            return c;
        }
        let c = self.labels.len() as u32;
        self.index.insert(s.to_string(), c);
        self.labels.push(s.to_string());
        c
    }

    /// Codes of a column's values, labelled as the single-file reader labels them (integers as
    /// written, booleans as 0 and 1, floats by Rust's shortest form, text trimmed; empty or
    /// null is [`MISSING`]).
    fn codes(&mut self, a: &dyn Array) -> Result<Vec<u32>, String> {
        let n = a.len();
        let mut out = Vec::with_capacity(n);
        macro_rules! ints {
            ($t:ty) => {{
                let p = a.as_primitive::<$t>();
                for i in 0..n {
                    if p.is_null(i) {
                        out.push(MISSING);
                        continue;
                    }
                    let v = p.value(i) as i64;
                    let c = match self.ints.get(&v) {
                        Some(&c) => c,
                        None => {
                            let c = self.code(&v.to_string());
                            self.ints.insert(v, c);
                            c
                        }
                    };
                    out.push(c);
                }
            }};
        }
        match a.data_type() {
            DataType::Int8 => ints!(Int8Type),
            DataType::Int16 => ints!(Int16Type),
            DataType::Int32 => ints!(Int32Type),
            DataType::Int64 => ints!(Int64Type),
            DataType::UInt8 => ints!(UInt8Type),
            DataType::UInt16 => ints!(UInt16Type),
            DataType::UInt32 => ints!(UInt32Type),
            DataType::UInt64 => {
                let p = a.as_primitive::<UInt64Type>();
                for i in 0..n {
                    out.push(if p.is_null(i) {
                        MISSING
                    } else {
                        self.code(&p.value(i).to_string())
                    });
                }
            }
            DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
                for x in numbers(a)? {
                    if x.is_nan() {
                        out.push(MISSING);
                        continue;
                    }
                    let c = match self.floats.get(&x.to_bits()) {
                        Some(&c) => c,
                        None => {
                            let c = self.code(&x.to_string());
                            self.floats.insert(x.to_bits(), c);
                            c
                        }
                    };
                    out.push(c);
                }
            }
            DataType::Boolean => {
                let b = a.as_boolean();
                for i in 0..n {
                    out.push(if b.is_null(i) {
                        MISSING
                    } else {
                        self.code(if b.value(i) { "1" } else { "0" })
                    });
                }
            }
            DataType::Date32 => {
                let d = a.as_primitive::<Date32Type>();
                for i in 0..n {
                    out.push(if d.is_null(i) {
                        MISSING
                    } else {
                        self.code(&iso_date(i64::from(d.value(i))))
                    });
                }
            }
            _ => {
                for s in texts(a)? {
                    out.push(s.map_or(MISSING, |s| self.code(s)));
                }
            }
        }
        Ok(out)
    }
}

/// A numeric column as f64 (null → NaN). Text must parse as numbers (empty or `NA` → NaN);
/// `Err((row, value))` names the first that does not.
fn numbers_or_text(a: &dyn Array) -> Result<Vec<f64>, Result<(usize, String), String>> {
    if !is_text(a.data_type()) {
        return numbers(a).map_err(Err);
    }
    let mut out = Vec::with_capacity(a.len());
    for (i, s) in texts(a).map_err(Err)?.into_iter().enumerate() {
        let t = trim(s.unwrap_or(""));
        match parse_number(t) {
            Some(x) => out.push(x),
            None => return Err(Ok((i, t.to_string()))),
        }
    }
    Ok(out)
}

/// The rows of the chunk being filled: design values and each row's (cell, y) entries.
#[derive(Default)]
struct Buffer {
    weight: Vec<f64>,
    psu: Vec<u32>,
    reps: Vec<Vec<f64>>,
    entries: Vec<(u32, f64)>,
    ends: Vec<u32>,
}

struct BufferCells<'a> {
    n_cells: usize,
    entries: &'a [(u32, f64)],
    ends: &'a [u32],
}

impl CellMap for BufferCells<'_> {
    fn n_cells(&self) -> usize {
        self.n_cells
    }
    fn for_each(&self, row: usize, f: &mut impl FnMut(u32, f64)) {
        let from = if row == 0 {
            0
        } else {
            self.ends[row - 1] as usize
        };
        for &(c, y) in &self.entries[from..self.ends[row] as usize] {
            f(c, y);
        }
    }
}

/// Folds one file's rows, batch by batch, into its [`Partial`].
pub struct FileAccumulator {
    spec: Spec,
    names: Vec<String>,
    rows: u64,
    factor: Vec<Option<bool>>,
    by: Vec<Dict>,
    domains: HashMap<Vec<u32>, u32>,
    domain_list: Vec<Vec<u32>>,
    levels: Vec<Dict>,
    strata: Dict,
    psu_labels: Dict,
    psus: HashMap<(u32, u32), u32>,
    psu_list: Vec<(u32, String)>,
    cells: HashMap<CellKey, u32>,
    cell_list: Vec<CellKey>,
    buffer: Buffer,
    state: State,
    chunks: u32,
    problem: Option<Problem>,
}

impl FileAccumulator {
    pub fn new(spec: Spec) -> Self {
        let n_reps = spec.replicates.len();
        FileAccumulator {
            names: spec.columns(),
            rows: 0,
            factor: vec![None; spec.stats.len()],
            by: spec.by.iter().map(|_| Dict::default()).collect(),
            domains: HashMap::new(),
            domain_list: Vec::new(),
            levels: spec.stats.iter().map(|_| Dict::default()).collect(),
            strata: Dict::default(),
            psu_labels: Dict::default(),
            psus: HashMap::new(),
            psu_list: Vec::new(),
            cells: HashMap::new(),
            cell_list: Vec::new(),
            buffer: Buffer {
                reps: vec![Vec::new(); n_reps],
                ..Buffer::default()
            },
            state: State::new(0, n_reps, 0, ChunkKey::default()),
            chunks: 0,
            problem: None,
            spec,
        }
    }

    /// The columns [`FileAccumulator::update`] takes, in order.
    pub fn columns(&self) -> &[String] {
        &self.names
    }

    fn at(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap_or(0)
    }

    fn cell(&mut self, key: CellKey) -> u32 {
        if let Some(&c) = self.cells.get(&key) {
            return c;
        }
        let c = self.cell_list.len() as u32;
        self.cells.insert(key, c);
        self.cell_list.push(key);
        c
    }

    /// Adds a batch of rows (columns in [`FileAccumulator::columns`] order). After a problem
    /// the remaining rows are not read: the partial reports the problem.
    pub fn update(&mut self, columns: &[ArrayRef]) -> Result<(), String> {
        if self.problem.is_some() {
            return Ok(());
        }
        if columns.len() != self.names.len() {
            return Err(format!(
                "{} columns given for the {} the estimate reads",
                columns.len(),
                self.names.len()
            ));
        }
        // A dictionary-encoded column (a pandas categorical) as its values.
        let columns: Vec<ArrayRef> = columns
            .iter()
            .map(|c| match c.as_any_dictionary_opt() {
                Some(d) => arrow_select::take::take(d.values().as_ref(), d.keys(), None)
                    .map_err(|e| e.to_string()),
                None => Ok(c.clone()),
            })
            .collect::<Result<_, _>>()?;
        let n = columns.first().map_or(0, |c| c.len());
        let mut from = 0;
        while from < n {
            let room = CHUNK_ROWS - self.buffer.weight.len();
            let take = room.min(n - from);
            let slice: Vec<ArrayRef> = columns.iter().map(|c| c.slice(from, take)).collect();
            if let Err(p) = self.add(&slice) {
                self.problem = Some(p);
                return Ok(());
            }
            from += take;
            self.rows += take as u64;
            if self.buffer.weight.len() == CHUNK_ROWS {
                self.flush();
            }
        }
        Ok(())
    }

    fn numeric_column(&self, cols: &[ArrayRef], name: &str) -> Result<Vec<f64>, Problem> {
        numbers_or_text(cols[self.at(name)].as_ref()).map_err(|e| match e {
            Ok((i, value)) => Problem::NotNumeric {
                column: name.to_string(),
                row: self.rows + i as u64 + 1,
                value,
            },
            Err(problem) => Problem::Column {
                column: name.to_string(),
                problem,
            },
        })
    }

    fn add(&mut self, cols: &[ArrayRef]) -> Result<(), Problem> {
        let n = cols.first().map_or(0, |c| c.len());
        let row_no = |i: usize| self.rows + i as u64 + 1;
        let column_problem = |column: &str, problem: String| Problem::Column {
            column: column.to_string(),
            problem,
        };
        // Weights: present, finite, non-negative.
        let mut weighted: Vec<(String, Vec<f64>)> = Vec::new();
        if let Some(w) = self.spec.weight.clone() {
            weighted.push((w.clone(), self.numeric_column(cols, &w)?));
        }
        for r in self.spec.replicates.clone() {
            weighted.push((r.clone(), self.numeric_column(cols, &r)?));
        }
        for (name, w) in &weighted {
            if let Some(i) = w.iter().position(|&x| !usable_weight(x)) {
                return Err(Problem::BadWeight {
                    column: name.clone(),
                    row: row_no(i),
                    value: w[i].to_bits(),
                });
            }
        }
        // Strata and PSUs.
        let strata = match self.spec.strata.clone() {
            Some(c) => {
                let codes = self
                    .strata
                    .codes(cols[self.at(&c)].as_ref())
                    .map_err(|e| column_problem(&c, e))?;
                if let Some(i) = codes.iter().position(|&x| x == MISSING) {
                    return Err(Problem::Missing {
                        column: c,
                        row: row_no(i),
                        role: "stratum".into(),
                    });
                }
                codes
            }
            None => {
                if self.strata.labels.is_empty() {
                    self.strata.code("(all)");
                }
                vec![0; n]
            }
        };
        let mut psu_ids = Vec::new();
        if let Some(c) = self.spec.psu.clone() {
            let codes = self
                .psu_labels
                .codes(cols[self.at(&c)].as_ref())
                .map_err(|e| column_problem(&c, e))?;
            psu_ids.reserve(n);
            for (i, (&p, &h)) in codes.iter().zip(&strata).enumerate() {
                if p == MISSING {
                    return Err(Problem::Missing {
                        column: c,
                        row: row_no(i),
                        role: "PSU".into(),
                    });
                }
                let key = if self.spec.nest { (h, p) } else { (0, p) };
                let next = self.psu_list.len() as u32;
                let id = *self.psus.entry(key).or_insert(next);
                if id == next {
                    self.psu_list
                        .push((h, self.psu_labels.labels[p as usize].clone()));
                } else if self.psu_list[id as usize].0 != h {
                    return Err(Problem::PsuInTwoStrata {
                        psu: self.psu_labels.labels[p as usize].clone(),
                        column: c,
                        first: self.strata.labels[self.psu_list[id as usize].0 as usize].clone(),
                        second: self.strata.labels[h as usize].clone(),
                    });
                }
                psu_ids.push(id);
            }
        }
        // Domains.
        let mut by_codes = Vec::with_capacity(self.spec.by.len());
        for (j, c) in self.spec.by.clone().iter().enumerate() {
            let a = cols[self.at(c)].clone();
            by_codes.push(
                self.by[j]
                    .codes(a.as_ref())
                    .map_err(|e| column_problem(c, e))?,
            );
        }
        let mut domain = vec![MISSING; n];
        let mut key = vec![0u32; by_codes.len()];
        'rows: for (i, d) in domain.iter_mut().enumerate() {
            for (k, codes) in key.iter_mut().zip(&by_codes) {
                if codes[i] == MISSING {
                    continue 'rows;
                }
                *k = codes[i];
            }
            *d = match self.domains.get(&key[..]) {
                Some(&d) => d,
                None => {
                    let d = self.domain_list.len() as u32;
                    self.domains.insert(key.clone(), d);
                    self.domain_list.push(key.clone());
                    d
                }
            };
        }
        // Analysis values: numbers, or a factor's level codes.
        enum Vals {
            Num(Vec<f64>),
            Level(Vec<u32>),
            Ratio(Vec<f64>, Vec<f64>),
        }
        let mut values = Vec::with_capacity(self.spec.stats.len());
        for (s, stat) in self.spec.stats.clone().iter().enumerate() {
            let v = match stat {
                Stat::Ratio(num, den) => {
                    let y = self.numeric_column(cols, num)?;
                    let x = self.numeric_column(cols, den)?;
                    self.factor[s] = Some(false);
                    Vals::Ratio(y, x)
                }
                Stat::Total(c) | Stat::Mean(c) => {
                    let a = cols[self.at(c)].clone();
                    if a.null_count() == a.len() {
                        // Nothing here: of whichever kind the column is.
                        values.push(match self.factor[s] {
                            Some(true) => Vals::Level(vec![MISSING; a.len()]),
                            _ => Vals::Num(vec![f64::NAN; a.len()]),
                        });
                        continue;
                    }
                    // A text column whose first value (blank and NA aside) is a number holds
                    // numbers (a word further on is an error naming its row); any other is a
                    // factor. Files of text, and typed ones storing numbers as text, read as
                    // the single-file engine reads them, whatever their batches.
                    let mut text = is_text(a.data_type());
                    let mut read = None;
                    if text && self.factor[s] != Some(true) {
                        let cells = texts(a.as_ref()).map_err(|e| column_problem(c, e))?;
                        let first = (cells.into_iter().flatten().map(str::trim))
                            .find(|t| !t.is_empty() && *t != "NA");
                        if first.is_none() && self.factor[s].is_none() {
                            // Only blanks and NA so far: missing, the kind still open.
                            values.push(Vals::Num(vec![f64::NAN; a.len()]));
                            continue;
                        }
                        let numeric = self.factor[s] == Some(false)
                            || first.is_some_and(|t| parse_number(t).is_some());
                        if numeric {
                            text = false;
                            read = Some(self.numeric_column(cols, c)?);
                        }
                    }
                    if self.factor[s].is_some_and(|f| f != text) {
                        return Err(column_problem(c, "changes type within the file".into()));
                    }
                    self.factor[s] = Some(text);
                    match (text, read) {
                        (true, _) => Vals::Level(
                            self.levels[s]
                                .codes(a.as_ref())
                                .map_err(|e| column_problem(c, e))?,
                        ),
                        (false, Some(v)) => Vals::Num(v),
                        (false, None) => {
                            Vals::Num(numbers(a.as_ref()).map_err(|e| column_problem(c, e))?)
                        }
                    }
                }
            };
            values.push(v);
        }
        // Each row's (cell, y) entries and its design values, into the chunk buffer.
        let stats = self.spec.stats.clone();
        for i in 0..n {
            let d = domain[i];
            if d != MISSING {
                for (s, (stat, v)) in stats.iter().zip(&values).enumerate() {
                    let s = s as u32;
                    let mean = matches!(stat, Stat::Mean(_));
                    match v {
                        Vals::Num(y) if !y[i].is_nan() => {
                            let c = self.cell((d, s, MISSING, 0));
                            self.buffer.entries.push((c, y[i]));
                            if mean {
                                let c = self.cell((d, s, MISSING, 1));
                                self.buffer.entries.push((c, 1.0));
                            }
                        }
                        Vals::Ratio(y, x) if !(y[i].is_nan() || x[i].is_nan()) => {
                            let c = self.cell((d, s, MISSING, 0));
                            self.buffer.entries.push((c, y[i]));
                            let c = self.cell((d, s, MISSING, 1));
                            self.buffer.entries.push((c, x[i]));
                        }
                        Vals::Level(l) if l[i] != MISSING => {
                            let c = self.cell((d, s, l[i], 0));
                            self.buffer.entries.push((c, 1.0));
                            if mean {
                                let c = self.cell((d, s, MISSING, 1));
                                self.buffer.entries.push((c, 1.0));
                            }
                        }
                        _ => {}
                    }
                }
            }
            self.buffer.ends.push(self.buffer.entries.len() as u32);
        }
        let mut weighted = weighted.into_iter();
        match self.spec.weight {
            Some(_) => self
                .buffer
                .weight
                .extend(weighted.next().map(|w| w.1).unwrap_or_default()),
            None => self.buffer.weight.extend(std::iter::repeat_n(1.0, n)),
        }
        for (buf, (_, w)) in self.buffer.reps.iter_mut().zip(weighted) {
            buf.extend(w);
        }
        self.buffer.psu.extend(psu_ids);
        Ok(())
    }

    /// Folds the buffered chunk into the file's state.
    fn flush(&mut self) {
        let n = self.buffer.weight.len();
        if n == 0 {
            return;
        }
        let n_cells = self.cell_list.len();
        let n_reps = self.spec.replicates.len();
        let key = ChunkKey {
            first: self.chunks,
            end: self.chunks + 1,
        };
        let mut state = State::new(n_cells, n_reps, 0, key);
        let rows: Vec<u32> = (0..n as u32).collect();
        let cells = BufferCells {
            n_cells,
            entries: &self.buffer.entries,
            ends: &self.buffer.ends,
        };
        let chunk = Chunk {
            rows: &rows,
            weight: &self.buffer.weight,
            psu: self.spec.psu.as_ref().map(|_| self.buffer.psu.as_slice()),
            stages: &[],
        };
        // Every buffered row has its weights, so the update cannot fail.
        let _ = state.update(&cells, &chunk, &mut InMemory(&self.buffer.reps));
        let done = std::mem::replace(&mut self.state, State::new(0, 0, 0, key));
        self.state = grow(done, n_cells).merge_adjacent(state);
        self.chunks += 1;
        let reps = std::mem::take(&mut self.buffer.reps);
        self.buffer = Buffer {
            reps: reps
                .into_iter()
                .map(|mut r| {
                    r.clear();
                    r
                })
                .collect(),
            ..Buffer::default()
        };
    }

    /// The file's partial (the rows of a last, short chunk folded in).
    pub fn finish(mut self) -> Partial {
        self.flush();
        let n_cells = self.cell_list.len();
        Partial {
            rows: self.rows,
            factor: self.factor.iter().map(|f| f.unwrap_or(false)).collect(),
            by_levels: self.by.into_iter().map(|d| d.labels).collect(),
            domains: self.domain_list,
            levels: self.levels.into_iter().map(|d| d.labels).collect(),
            strata: self.strata.labels,
            psus: self.psu_list,
            cells: self.cell_list,
            state: grow(self.state, n_cells),
            problem: self.problem,
        }
    }
}

/// `state` with room for `n_cells` cells (new cells have zero sums).
fn grow(mut state: State, n_cells: usize) -> State {
    if state.n_cells < n_cells {
        state.n_cells = n_cells;
        state.wsum.resize(n_cells, 0.0);
        state.count.resize(n_cells, 0);
        state.reps.resize(n_cells * state.n_reps, 0.0);
    }
    state
}

/// Interns labels in first-appearance order over the partials, in file order.
#[derive(Default)]
struct Global {
    index: HashMap<String, u32>,
    labels: Vec<String>,
}

impl Global {
    fn code(&mut self, s: &str) -> u32 {
        if let Some(&c) = self.index.get(s) {
            return c;
        }
        let c = self.labels.len() as u32;
        self.index.insert(s.to_string(), c);
        self.labels.push(s.to_string());
        c
    }

    /// Rank of each level as the single-file engine sorts them.
    fn ranks(&self) -> Vec<usize> {
        level_ranks(&Categorical {
            codes: Vec::new(),
            levels: self.labels.clone(),
        })
    }
}

/// The error a file's problem stands for.
fn problem_error(path: &Path, p: &Problem) -> EstimateError {
    match p.clone() {
        Problem::BadWeight { column, row, value } => {
            super::design::bad_weight(path, row as usize, &column, f64::from_bits(value))
        }
        Problem::Missing { column, row, role } => EstimateError::MissingDesignValue {
            path: path.to_path_buf(),
            row: row as usize,
            column,
            role: if role == "PSU" { "PSU" } else { "stratum" },
        },
        Problem::NotNumeric { column, row, value } => EstimateError::NotNumeric {
            path: path.to_path_buf(),
            row: row as usize,
            column,
            value,
        },
        Problem::PsuInTwoStrata {
            psu,
            column,
            first,
            second,
        } => EstimateError::PsuInTwoStrata {
            psu,
            column,
            first,
            second,
        },
        Problem::Column { column, problem } => EstimateError::Read {
            path: path.to_path_buf(),
            message: format!("column `{column}` {problem}"),
        },
    }
}

/// Merges the files' partials (in file order) and finishes them as the single-file engine does.
pub fn combine(
    paths: &[PathBuf],
    spec: &Spec,
    request: &Request,
    partials: &[Partial],
) -> Result<Outcome, EstimateError> {
    for (path, p) in paths.iter().zip(partials) {
        if let Some(problem) = &p.problem {
            return Err(problem_error(path, problem));
        }
    }
    if partials.iter().all(|p| p.rows == 0) {
        return Err(EstimateError::NoRows {
            path: paths.first().cloned().unwrap_or_default(),
        });
    }
    let live: Vec<&Partial> = partials.iter().filter(|p| p.rows > 0).collect();
    let live_paths: Vec<&PathBuf> = paths
        .iter()
        .zip(partials)
        .filter(|(_, p)| p.rows > 0)
        .map(|(path, _)| path)
        .collect();
    // Column types agree over the files.
    let factor = live[0].factor.clone();
    for (p, path) in live.iter().zip(&live_paths) {
        if let Some(s) = (0..factor.len()).find(|&s| p.factor[s] != factor[s]) {
            return Err(EstimateError::Read {
                path: path.to_path_buf(),
                message: format!(
                    "column `{}` is {} here but {} in {}",
                    stat_column(&spec.stats[s]),
                    kind(p.factor[s]),
                    kind(factor[s]),
                    live_paths[0].display()
                ),
            });
        }
    }
    // Global dictionaries, first appearance in file order.
    let mut by: Vec<Global> = spec.by.iter().map(|_| Global::default()).collect();
    let mut levels: Vec<Global> = spec.stats.iter().map(|_| Global::default()).collect();
    let mut strata = Global::default();
    let mut psus: HashMap<(u32, String), u32> = HashMap::new();
    let mut psu_stratum: Vec<u32> = Vec::new();
    let mut psu_label: Vec<String> = Vec::new();
    let mut maps = Vec::with_capacity(live.len());
    for p in &live {
        let by_maps: Vec<Vec<u32>> = p
            .by_levels
            .iter()
            .zip(&mut by)
            .map(|(ls, g)| ls.iter().map(|l| g.code(l)).collect())
            .collect();
        let level_maps: Vec<Vec<u32>> = p
            .levels
            .iter()
            .zip(&mut levels)
            .map(|(ls, g)| ls.iter().map(|l| g.code(l)).collect())
            .collect();
        let strata_map: Vec<u32> = p.strata.iter().map(|s| strata.code(s)).collect();
        let mut psu_map = Vec::with_capacity(p.psus.len());
        for (h, label) in &p.psus {
            let h = strata_map[*h as usize];
            let key = (if spec.nest { h } else { 0 }, label.clone());
            let next = psu_stratum.len() as u32;
            let id = *psus.entry(key).or_insert(next);
            if id == next {
                psu_stratum.push(h);
                psu_label.push(label.clone());
            } else if psu_stratum[id as usize] != h {
                return Err(EstimateError::PsuInTwoStrata {
                    psu: label.clone(),
                    column: spec.psu.clone().unwrap_or_default(),
                    first: strata.labels[psu_stratum[id as usize] as usize].clone(),
                    second: strata.labels[h as usize].clone(),
                });
            }
            psu_map.push(id);
        }
        maps.push((by_maps, level_maps, psu_map));
    }
    // Domains: every combination that occurs, sorted as the single-file engine sorts them.
    let by_ranks: Vec<Vec<usize>> = by.iter().map(Global::ranks).collect();
    let mut domain_index: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut domain_keys: Vec<Vec<u32>> = Vec::new();
    let mut domain_maps = Vec::with_capacity(live.len());
    for (p, (by_maps, _, _)) in live.iter().zip(&maps) {
        let m: Vec<u32> = p
            .domains
            .iter()
            .map(|d| {
                let key: Vec<u32> = d
                    .iter()
                    .zip(by_maps)
                    .map(|(&c, map)| map[c as usize])
                    .collect();
                let next = domain_keys.len() as u32;
                let id = *domain_index.entry(key.clone()).or_insert(next);
                if id == next {
                    domain_keys.push(key);
                }
                id
            })
            .collect();
        domain_maps.push(m);
    }
    if spec.by.is_empty() && domain_keys.is_empty() {
        domain_keys.push(Vec::new());
    }
    let order = sort_by_ranks(&domain_keys, &by_ranks);
    let mut domain_pos = vec![0u32; domain_keys.len()];
    for (pos, &d) in order.iter().enumerate() {
        domain_pos[d] = pos as u32;
    }
    let cells = Cells {
        labels: order
            .iter()
            .map(|&d| {
                domain_keys[d]
                    .iter()
                    .zip(&by)
                    .map(|(&c, g)| g.labels[c as usize].clone())
                    .collect()
            })
            .collect(),
        rows: vec![Vec::new(); order.len()],
    };
    // Targets: statistics in order, a factor's levels sorted.
    let mut targets: Vec<Target<'static>> = Vec::new();
    // Per statistic: its first target, and per global level its target offset.
    let mut first_target = Vec::with_capacity(spec.stats.len());
    let mut level_target: Vec<Vec<u32>> = Vec::with_capacity(spec.stats.len());
    for (s, stat) in spec.stats.iter().enumerate() {
        first_target.push(targets.len() as u32);
        let (name, what, total) = match stat {
            Stat::Total(c) => (c.clone(), "total", true),
            Stat::Mean(c) => (c.clone(), "mean", false),
            Stat::Ratio(n, d) => {
                targets.push(Target::described(format!("ratio:{n}/{d}"), false, false));
                level_target.push(Vec::new());
                continue;
            }
        };
        if !factor[s] {
            targets.push(Target::described(format!("{what}:{name}"), total, false));
            level_target.push(Vec::new());
            continue;
        }
        let ranks = levels[s].ranks();
        let mut sorted: Vec<usize> = (0..levels[s].labels.len()).collect();
        sorted.sort_by_key(|&l| ranks[l]);
        let mut at = vec![0u32; sorted.len()];
        for (k, &l) in sorted.iter().enumerate() {
            at[l] = k as u32;
            targets.push(Target::described(
                format!("{what}:{name}={}", levels[s].labels[l]),
                total,
                true,
            ));
        }
        level_target.push(at);
    }
    let n_t = targets.len();
    let n_cells = order.len() * n_t * 2;
    // Each partial in global cells and PSUs, then merged in file order.
    let mut states = Vec::with_capacity(live.len());
    for (i, (p, (_, level_maps, psu_map))) in live.iter().zip(&maps).enumerate() {
        let globals: Vec<Vec<u32>> = p
            .cells
            .iter()
            .map(|&(d, s, l, side)| {
                let dg = domain_pos[domain_maps[i][d as usize] as usize] as usize;
                let s = s as usize;
                let ts: Vec<u32> = if level_target[s].is_empty() {
                    vec![first_target[s]]
                } else if l == MISSING {
                    // A factor mean's denominator serves every level's target.
                    (0..level_target[s].len() as u32)
                        .map(|k| first_target[s] + k)
                        .collect()
                } else {
                    vec![first_target[s] + level_target[s][level_maps[s][l as usize] as usize]]
                };
                ts.into_iter()
                    .map(|t| ((dg * n_t + t as usize) * 2 + side as usize) as u32)
                    .collect()
            })
            .collect();
        let key = ChunkKey {
            first: i as u32,
            end: i as u32 + 1,
        };
        states.push(remap(&p.state, &globals, psu_map, n_cells, key));
    }
    let mut state = core::merge_in_order(states)
        .map_err(|e| EstimateError::Usage(e.to_string()))?
        .unwrap_or_else(|| State::new(n_cells, spec.replicates.len(), 0, ChunkKey::default()));
    // A factor level's mean counts every row of its denominator, as the single-file engine does.
    for (s, stat) in spec.stats.iter().enumerate() {
        if matches!(stat, Stat::Mean(_)) && !level_target[s].is_empty() {
            for d in 0..order.len() {
                for k in 0..level_target[s].len() {
                    let c = (d * n_t + first_target[s] as usize + k) * 2;
                    state.count[c] = state.count[c + 1];
                }
            }
        }
    }
    let design = &request.design;
    let (rows, warnings) = match &design.replicates {
        Some(r) => {
            let n_reps = r.columns.len();
            let rspec =
                ReplicateSpec::new(r.method, n_reps, r.rho, r.scale, r.rscales.clone(), r.mse)?;
            let n_strata = if design.strata.is_some() {
                strata.labels.len()
            } else {
                1
            };
            let df = match r.method {
                ReplicateMethod::Jkn => n_reps as f64 - n_strata as f64,
                _ => n_reps as f64 - 1.0,
            };
            finish_all(state, &Finish::Replicate(&rspec), df, &cells, &targets)
        }
        None => {
            let (layout, _) = core::layout::first_stage(
                &psu_stratum,
                Some(strata.labels.len()),
                design.lonely,
                |h| strata.labels[h as usize].clone(),
            );
            layout.check_lonely()?;
            let sizes = layout.stratum_sizes();
            let finish = Finish::Taylor {
                layout: &layout,
                sizes: &sizes,
                stages: &[],
            };
            finish_all(state, &finish, layout.design_df(), &cells, &targets)
        }
    };
    let mut outcome = Outcome { rows, warnings };
    super::blank_non_finite(&mut outcome);
    Ok(outcome)
}

fn kind(factor: bool) -> &'static str {
    if factor {
        "text"
    } else {
        "numeric"
    }
}

fn stat_column(s: &Stat) -> &str {
    match s {
        Stat::Total(c) | Stat::Mean(c) | Stat::Ratio(c, _) => c,
    }
}

/// A partial's state in global cells (a local cell may stand for several) and global PSUs.
fn remap(
    local: &State,
    globals: &[Vec<u32>],
    psu_map: &[u32],
    n_cells: usize,
    key: ChunkKey,
) -> State {
    let n_reps = local.n_reps;
    let mut out = State::new(n_cells, n_reps, 0, key);
    for (c, gs) in globals.iter().enumerate() {
        for &g in gs {
            let g = g as usize;
            out.wsum[g] = local.wsum[c];
            out.count[g] = local.count[c];
            out.reps[g * n_reps..(g + 1) * n_reps]
                .copy_from_slice(&local.reps[c * n_reps..(c + 1) * n_reps]);
        }
    }
    let mut psus: Vec<UnitSums> = local
        .psus
        .iter()
        .map(|(u, sums)| {
            let mut cs: Vec<(u32, f64)> = sums
                .iter()
                .flat_map(|&(c, v)| globals[c as usize].iter().map(move |&g| (g, v)))
                .collect();
            cs.sort_by_key(|&(c, _)| c);
            (psu_map[*u as usize], cs)
        })
        .collect();
    psus.sort_by_key(|(u, _)| *u);
    out.psus = psus;
    out
}

/// `estimate` over several files on this machine: one [`FileAccumulator`] per file (files in
/// parallel), merged in file order.
pub fn estimate_files(paths: &[PathBuf], request: &Request) -> Result<Outcome, EstimateError> {
    use rayon::prelude::*;
    let spec = Spec::of(request)?;
    let partials: Vec<Partial> = paths
        .par_iter()
        .map(|p| read_partial(p, &spec, &request.reading))
        .collect::<Result<_, _>>()?;
    combine(paths, &spec, request, &partials)
}

/// One file's partial, read batch by batch: a Parquet file by the Parquet reader, any other
/// through the reader a pipeline's input of its type gets (with `reading`'s limits and sheet).
pub fn read_partial(path: &Path, spec: &Spec, reading: &Reading) -> Result<Partial, EstimateError> {
    use crate::extract::parquet::ParquetFile;
    let read = |m: String| EstimateError::Read {
        path: path.to_path_buf(),
        message: m,
    };
    let mut acc = FileAccumulator::new(spec.clone());
    let names = acc.columns().to_vec();
    if !Table::is_parquet(path)? {
        text_batches(path, reading, &names, |cols| acc.update(cols).map_err(read))?;
        return Ok(acc.finish());
    }
    let damaged = || read(crate::extract::guard::damaged("Parquet file"));
    crate::extract::guard::catch(
        || {
            let file = ParquetFile::open(path).map_err(read)?;
            let leaves: Vec<usize> = names
                .iter()
                .map(|n| {
                    file.index(n).ok_or_else(|| EstimateError::MissingColumn {
                        path: path.to_path_buf(),
                        column: n.clone(),
                        available: file.names().join(", "),
                    })
                })
                .collect::<Result<_, _>>()?;
            file.check(&leaves).map_err(read)?;
            for batch in file.batches(Some(&leaves), 8192).map_err(read)? {
                let batch = batch.map_err(|e| read(e.to_string()))?;
                let bs = batch.schema();
                let cols: Vec<ArrayRef> = names
                    .iter()
                    .map(|n| bs.index_of(n).map(|i| batch.column(i).clone()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| read(e.to_string()))?;
                acc.update(&cols).map_err(read)?;
            }
            Ok(acc.finish())
        },
        damaged,
    )
}

/// The input files of `estimate FILE…`: files as given; a folder stands for its `*.parquet`
/// files and a pattern with `*`, `?` or `[` for the files it matches, each sorted by name.
pub fn resolve_inputs(given: &[PathBuf]) -> Result<Vec<PathBuf>, EstimateError> {
    let mut out = Vec::new();
    for g in given {
        let s = g.to_string_lossy();
        if g.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(g)
                .map_err(|e| EstimateError::Read {
                    path: g.clone(),
                    message: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(EstimateError::Read {
                    path: g.clone(),
                    message: "the folder holds no .parquet files".into(),
                });
            }
            out.extend(files);
        } else if !g.exists() && s.contains(['*', '?', '[']) {
            let pattern = glob::glob(&s)
                .map_err(|e| EstimateError::Usage(format!("input pattern `{s}`: {e}")))?;
            let mut files: Vec<PathBuf> = pattern
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(EstimateError::Usage(format!("no file matches `{s}`")));
            }
            out.extend(files);
        } else {
            out.push(g.clone());
        }
    }
    Ok(out)
}
