//! `migstat run --engine ballista://HOST:PORT`: the catalogue's cube state computed on the
//! cluster. The client plans the period's chunks as the embedded engine does (`core::chunks`:
//! rows in PSU order, chunks of whole PSUs), writes each chunk's rows in that order as one
//! Parquet file — weight, PSU, population mask, the breakdowns' fine codes, the values summed and
//! the replicate weights, the columns the cube's cells read — under a folder every executor can
//! read, and runs one job per chunk: the aggregate `migstat_cube(spec, columns…)` folds the
//! chunk's rows into the core's `State` exactly as `core::accumulate`'s leaf does. The client
//! merges the states by the same fixed tree (`merge_in_order`), so the result is the embedded
//! engine's to the last bit. The chunk files are removed when the states are back.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, Float64Array, PrimitiveArray, RecordBatch,
    UInt32Array, UInt64Array,
};
use arrow_schema::DataType;
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{ident, lit, DataFrame, ParquetReadOptions};
use serde::{Deserialize, Serialize};

use super::client::{job_timeout, session};
use crate::estimate::core::chunks::plan;
use crate::estimate::core::state::{Chunk, InMemory};
use crate::estimate::core::{merge_in_order, ChunkKey, Input, State};
use crate::estimate::cube::{CubeCells, CubeEngine, TableSpec};
use crate::estimate::dims::Fine;
use crate::normalize::frame::Nullable;

/// The aggregate's name in plans.
pub const NAME: &str = "migstat_cube";

/// What a chunk's job needs besides its columns: the cube's tables over the chunk file's
/// columns (`d{j}` breakdown codes, `v{k}` values) and the chunk's number.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CubeSpec {
    pub chunk: u32,
    pub n_cells: usize,
    pub n_reps: usize,
    pub taylor: bool,
    pub n_dims: usize,
    pub n_values: usize,
    pub tables: Vec<TableDesc>,
}

/// One table of the cube, its columns named by position in the chunk file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableDesc {
    pub pop_bit: u64,
    pub value: Option<usize>,
    /// (breakdown column, stride, cap: see `DimPlan::cap`).
    pub dims: Vec<(usize, usize, u32)>,
    pub offset: usize,
}

impl CubeSpec {
    /// The chunk file's columns, in the order the aggregate takes them.
    fn columns(&self) -> Vec<String> {
        let mut c = vec!["w".to_string()];
        if self.taylor {
            c.push("psu".into());
        }
        c.push("mask".into());
        c.extend((0..self.n_dims).map(|j| format!("d{j}")));
        c.extend((0..self.n_values).map(|k| format!("v{k}")));
        c.extend((0..self.n_reps).map(|r| format!("r{r}")));
        c
    }
}

/// `--engine` of `migstat run`: the scheduler's address and the folder the chunk files go to.
pub struct Cluster {
    pub address: String,
    pub dir: PathBuf,
}

impl CubeEngine for Cluster {
    fn accumulate(&self, input: &Input<CubeCells>) -> Result<State, String> {
        let dir = unique_dir(&self.dir)?;
        let result = self.run(input, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

/// A fresh folder for one period's chunk files under `base`.
fn unique_dir(base: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(base).map_err(|e| format!("--engine-dir {}: {e}", base.display()))?;
    for n in 0..10_000u32 {
        let dir = base.join(format!("cube-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!("no free folder name under {}", base.display()))
}

impl Cluster {
    fn run(&self, input: &Input<CubeCells>, dir: &Path) -> Result<State, String> {
        let (order, chunks) = plan(input.rows, input.psu);
        let cells = input.cells;
        let n_reps = input.reps.map_or(0, |r| r.count());
        // The distinct breakdown and value columns the tables read (tables share them).
        let mut dim_cols: Vec<Fine> = Vec::new();
        let mut value_cols: Vec<&Nullable<f64>> = Vec::new();
        let tables: Vec<TableDesc> = cells
            .tables
            .iter()
            .map(|t| TableDesc {
                pop_bit: t.pop_bit,
                value: t
                    .value
                    .map(|v| position(&mut value_cols, v, |a, b| std::ptr::eq(a, b))),
                dims: t
                    .dims
                    .iter()
                    .map(|&(d, s, cap)| (position(&mut dim_cols, d, Fine::same), s, cap))
                    .collect(),
                offset: t.offset,
            })
            .collect();
        let spec = |chunk: usize| CubeSpec {
            chunk: chunk as u32,
            n_cells: cells.n_cells,
            n_reps,
            taylor: input.psu.is_some(),
            n_dims: dim_cols.len(),
            n_values: value_cols.len(),
            tables: tables.clone(),
        };
        let mut jobs = Vec::with_capacity(chunks.len());
        for (i, range) in chunks.iter().enumerate() {
            let rows = &order[range.clone()];
            let path = dir.join(format!("chunk-{i:06}.parquet"));
            write_chunk(&path, rows, input, &dim_cols, &value_cols)?;
            jobs.push((path, spec(i)));
        }
        if jobs.is_empty() {
            return Ok(State::new(cells.n_cells, n_reps, 0, ChunkKey::default()));
        }
        let states = run_jobs(&self.address, jobs)?;
        merge_in_order(states)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no state came back".to_string())
    }
}

/// Index of `col` among `cols` (the same column: `same`), added when new.
fn position<T: Copy>(cols: &mut Vec<T>, col: T, same: impl Fn(T, T) -> bool) -> usize {
    match cols.iter().position(|&c| same(c, col)) {
        Some(i) => i,
        None => {
            cols.push(col);
            cols.len() - 1
        }
    }
}

fn write_chunk(
    path: &Path,
    rows: &[u32],
    input: &Input<CubeCells>,
    dims: &[Fine],
    values: &[&Nullable<f64>],
) -> Result<(), String> {
    let pick = |c: &[f64]| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|&r| c[r as usize]),
        ))
    };
    let mut cols: Vec<(String, ArrayRef)> = vec![("w".into(), pick(input.weight))];
    if let Some(psu) = input.psu {
        cols.push((
            "psu".into(),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|&r| psu[r as usize]),
            )),
        ));
    }
    let masks = input.cells.masks;
    cols.push((
        "mask".into(),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|&r| masks[r as usize]),
        )),
    ));
    for (j, d) in dims.iter().enumerate() {
        cols.push((
            format!("d{j}"),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|&r| d.at(r as usize)),
            )),
        ));
    }
    for (k, v) in values.iter().enumerate() {
        cols.push((
            format!("v{k}"),
            Arc::new(Float64Array::from_iter(
                rows.iter().map(|&r| v.get(r as usize)),
            )),
        ));
    }
    if let Some(reps) = input.reps {
        let mut gathered = Vec::new();
        reps.gather(rows, &mut gathered)?;
        for (k, rep) in gathered.into_iter().enumerate() {
            cols.push((format!("r{k}"), Arc::new(Float64Array::from(rep))));
        }
    }
    let batch = RecordBatch::try_from_iter(cols).map_err(|e| e.to_string())?;
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    w.write(&batch)
        .and_then(|_| w.close().map(|_| ()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// One job per chunk file; the states in chunk order.
fn run_jobs(address: &str, jobs: Vec<(PathBuf, CubeSpec)>) -> Result<Vec<State>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let cluster = |m: String| format!("Ballista cluster at {address}: {m}");
    runtime.block_on(async {
        let ctx = session(address).map_err(|e| cluster(e.to_string()))?;
        let f = cube_state();
        let mut plans: Vec<DataFrame> = Vec::with_capacity(jobs.len());
        for (path, spec) in &jobs {
            let name = path.to_str().ok_or("a chunk path is not UTF-8")?;
            let json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
            let mut args = vec![lit(json)];
            args.extend(spec.columns().iter().map(ident));
            let df = ctx
                .read_parquet(name, ParquetReadOptions::default())
                .await
                .and_then(|df| df.aggregate(vec![], vec![f.call(args).alias("state")]))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            plans.push(df);
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, df) in plans.into_iter().enumerate() {
            set.spawn(async move { (i, df.collect().await) });
        }
        let mut states: Vec<Option<State>> = vec![None; jobs.len()];
        let wait = async {
            while let Some(joined) = set.join_next().await {
                let (i, result) = joined.map_err(|e| cluster(e.to_string()))?;
                let batches =
                    result.map_err(|e| cluster(format!("chunk {}: {e}", jobs[i].0.display())))?;
                let state = batches
                    .iter()
                    .filter_map(|b| b.column(0).as_any().downcast_ref::<BinaryArray>())
                    .flat_map(|a| (0..a.len()).filter(|&r| !a.is_null(r)).map(|r| a.value(r)))
                    .map(decode)
                    .collect::<Result<Vec<State>, String>>()?;
                let [state] = <[State; 1]>::try_from(state)
                    .map_err(|v| cluster(format!("{} states for one chunk", v.len())))?;
                states[i] = Some(state);
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(job_timeout(), wait).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(cluster(format!(
                    "the jobs did not finish within {} s (MIGSTAT_ENGINE_TIMEOUT)",
                    job_timeout().as_secs()
                )))
            }
        }
        states
            .into_iter()
            .enumerate()
            .map(|(i, s)| s.ok_or_else(|| cluster(format!("no state for chunk {i}"))))
            .collect()
    })
}

/// A state as bytes: its JSON (sums as their bits), deflated (most cells of a chunk are zero).
fn encode(state: &State) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(state).map_err(|e| e.to_string())?;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&json).map_err(|e| e.to_string())?;
    z.finish().map_err(|e| e.to_string())
}

fn decode(bytes: &[u8]) -> Result<State, String> {
    let mut json = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("a state: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("a state: {e}"))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CubeState {
    signature: Signature,
}

/// The aggregate, for registering on the client, the scheduler and each executor.
pub fn cube_state() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(CubeState {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
}

fn failed(m: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{NAME}: {m}"))
}

impl AggregateUDFImpl for CubeState {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let spec: CubeSpec = super::udaf::spec_argument(&args, NAME)?;
        let n_cols = spec.columns().len();
        Ok(Box::new(ChunkAccumulator {
            spec,
            columns: vec![Vec::new(); n_cols],
            states: Vec::new(),
        }))
    }
}

/// Buffers the chunk's columns (one chunk is tens of thousands of rows), then folds them into
/// one state as `core::accumulate`'s leaf does.
#[derive(Debug)]
struct ChunkAccumulator {
    spec: CubeSpec,
    columns: Vec<Vec<ArrayRef>>,
    /// States merged in from other accumulators (encoded).
    states: Vec<Vec<u8>>,
}

impl ChunkAccumulator {
    fn fold(&mut self) -> DfResult<Option<Vec<u8>>> {
        let rows: usize = self
            .columns
            .first()
            .map_or(0, |c| c.iter().map(|a| a.len()).sum());
        if rows == 0 {
            return Ok(None);
        }
        let cols = std::mem::take(&mut self.columns);
        let mut it = cols.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let w = primitive::<Float64Type>(next(), "a weight column")?;
        let psu = if self.spec.taylor {
            Some(primitive::<UInt32Type>(next(), "the PSU column")?)
        } else {
            None
        };
        let masks = primitive::<UInt64Type>(next(), "the mask column")?;
        let dims: Vec<UInt32Array> = (0..self.spec.n_dims)
            .map(|_| primitive::<UInt32Type>(next(), "a code column"))
            .collect::<DfResult<_>>()?;
        let values: Vec<Nullable<f64>> = (0..self.spec.n_values)
            .map(|_| primitive::<Float64Type>(next(), "a value column").map(|a| a.iter().collect()))
            .collect::<DfResult<_>>()?;
        // In memory as the core's replicate source takes them: one vector per replicate.
        let reps: Vec<Vec<f64>> = (0..self.spec.n_reps)
            .map(|_| {
                primitive::<Float64Type>(next(), "a weight column").map(|a| a.values().to_vec())
            })
            .collect::<DfResult<_>>()?;
        let tables: Vec<TableSpec> = self
            .spec
            .tables
            .iter()
            .map(|t| TableSpec {
                pop_bit: t.pop_bit,
                value: t.value.map(|k| &values[k]),
                dims: t
                    .dims
                    .iter()
                    .map(|&(j, s, cap)| (Fine::Index(&dims[j].values()[..]), s, cap))
                    .collect(),
                offset: t.offset,
            })
            .collect();
        let cells = CubeCells {
            masks: masks.values(),
            tables: &tables,
            n_cells: self.spec.n_cells,
        };
        let key = ChunkKey {
            first: self.spec.chunk,
            end: self.spec.chunk + 1,
        };
        let mut state = State::new(self.spec.n_cells, self.spec.n_reps, 0, key);
        let ids: Vec<u32> = (0..rows as u32).collect();
        let chunk = Chunk {
            rows: &ids,
            weight: w.values(),
            psu: psu.as_ref().map(|p| &p.values()[..]),
            stages: &[],
        };
        state
            .update(&cells, &chunk, &mut InMemory(&reps))
            .map_err(failed)?;
        log::info!("{NAME}: state of chunk {} ({rows} rows)", self.spec.chunk);
        encode(&state).map(Some).map_err(failed)
    }

    fn take(&mut self) -> DfResult<ScalarValue> {
        let mut all = std::mem::take(&mut self.states);
        all.extend(self.fold()?);
        match all.len() {
            0 => Ok(ScalarValue::Binary(None)),
            1 => Ok(ScalarValue::Binary(all.pop())),
            n => Err(failed(format!(
                "chunk {} came in {n} parts",
                self.spec.chunk
            ))),
        }
    }
}

fn concat(parts: Vec<ArrayRef>) -> DfResult<ArrayRef> {
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    datafusion::arrow::compute::concat(&refs).map_err(failed)
}

/// The chunk's batches of one column as one array of type `T` (`what` names it in the error).
fn primitive<T: ArrowPrimitiveType>(
    parts: Vec<ArrayRef>,
    what: &str,
) -> DfResult<PrimitiveArray<T>> {
    let a = concat(parts)?;
    a.as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .cloned()
        .ok_or_else(|| failed(format!("{what} is not {}", T::DATA_TYPE)))
}

impl Accumulator for ChunkAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let cols = values.get(1..).unwrap_or_default();
        if cols.len() != self.columns.len() {
            return Err(failed(format!(
                "{} columns given for {}",
                cols.len(),
                self.columns.len()
            )));
        }
        if cols.first().is_none_or(|a| a.is_empty()) {
            return Ok(());
        }
        for (buf, a) in self.columns.iter_mut().zip(cols) {
            buf.push(Arc::clone(a));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        self.take()
    }

    fn size(&self) -> usize {
        let buffered: usize = self
            .columns
            .iter()
            .flatten()
            .map(|a| a.get_array_memory_size())
            .sum();
        std::mem::size_of::<Self>() + buffered + self.states.iter().map(Vec::len).sum::<usize>()
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![self.take()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        for bytes in super::udaf::binary_states(states, NAME)? {
            self.states.push(bytes.to_vec());
        }
        Ok(())
    }
}
