//! Fixed chunks and the fixed merge tree. The rows of an estimation are put in PSU order
//! (file order within a PSU; blocks of rows without PSUs), cut into chunks of whole PSUs of at
//! least [`CHUNK_ROWS`] rows, numbered `0..n`; chunk `i`'s state is merged by [`tree`]: the
//! states of chunks `lo..mid` and `mid..hi`, `mid = lo + (hi − lo)/2`, earlier first. Both depend
//! only on the data, so the sums are bit-identical for any number of threads — and for a
//! distributed engine that computes the chunks' states elsewhere and calls [`merge_in_order`].
use std::ops::Range;

use super::cells::CellMap;
use super::state::{Chunk, ChunkKey, InMemory, InOrder, MergeError, State};

/// Rows per chunk of work: the unit of parallelism (fixed, so results do not depend on threads).
pub const CHUNK_ROWS: usize = 32_768;

/// Rows per block when there are no PSUs (blocks play the part of PSUs in chunking).
const BLOCK_ROWS: usize = 4096;

/// Everything one in-memory estimation reads (columns indexed by row id).
pub struct Input<'a, M: CellMap> {
    /// Rows to aggregate, in file order.
    pub rows: &'a [u32],
    pub weight: &'a [f64],
    /// Replicate weights (`None`: no replicate sums).
    pub reps: Option<&'a dyn RepRows>,
    /// First-stage PSU of each row (`None`: no Taylor sums).
    pub psu: Option<&'a [u32]>,
    /// Unit of each row at each later stage.
    pub stages: &'a [&'a [u32]],
    pub cells: &'a M,
}

/// Replicate weights by row id, however they are kept: the input of [`accumulate`].
pub trait RepRows: Sync {
    /// Number of replicates.
    fn count(&self) -> usize;
    /// The columns, indexed by row id, when they are held in memory (read without a copy).
    fn in_memory(&self) -> Option<&[Vec<f64>]> {
        None
    }
    /// Replicate by replicate, the weights of `rows` in their order: `cols[k][i]` is replicate
    /// `k` of `rows[i]`.
    fn gather(&self, rows: &[u32], cols: &mut Vec<Vec<f64>>) -> Result<(), String>;
}

impl RepRows for Vec<Vec<f64>> {
    fn count(&self) -> usize {
        self.len()
    }
    fn in_memory(&self) -> Option<&[Vec<f64>]> {
        Some(self)
    }
    fn gather(&self, rows: &[u32], cols: &mut Vec<Vec<f64>>) -> Result<(), String> {
        cols.resize_with(self.len(), Vec::new);
        for (col, rep) in cols.iter_mut().zip(self) {
            col.clear();
            for &r in rows {
                col.push(
                    *rep.get(r as usize)
                        .ok_or("a row without replicate weights")?,
                );
            }
        }
        Ok(())
    }
}

/// The rows in visiting order and the chunks, as ranges of that order.
pub fn plan(rows: &[u32], psu: Option<&[u32]>) -> (Vec<u32>, Vec<Range<usize>>) {
    let Some(psu) = psu else {
        let units: Vec<Range<usize>> = (0..rows.len())
            .step_by(BLOCK_ROWS)
            .map(|s| s..(s + BLOCK_ROWS).min(rows.len()))
            .collect();
        return (rows.to_vec(), group(&units));
    };
    // Counting sort of the rows by PSU, keeping file order within a PSU.
    let n_psu = rows
        .iter()
        .map(|&r| psu[r as usize] as usize + 1)
        .max()
        .unwrap_or(0);
    let mut start = vec![0usize; n_psu + 1];
    for &r in rows {
        start[psu[r as usize] as usize + 1] += 1;
    }
    for i in 0..n_psu {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; rows.len()];
    for &r in rows {
        let p = psu[r as usize] as usize;
        order[fill[p]] = r;
        fill[p] += 1;
    }
    let units: Vec<Range<usize>> = (0..n_psu)
        .filter(|&p| start[p + 1] > start[p])
        .map(|p| start[p]..start[p + 1])
        .collect();
    (order, group(&units))
}

/// Consecutive units grouped until a chunk holds at least `CHUNK_ROWS` rows.
fn group(units: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut first: Option<usize> = None;
    let mut rows = 0;
    for u in units {
        let s = *first.get_or_insert(u.start);
        rows += u.end - u.start;
        if rows >= CHUNK_ROWS {
            out.push(s..u.end);
            first = None;
            rows = 0;
        }
    }
    if let (Some(s), Some(last)) = (first, units.last()) {
        out.push(s..last.end);
    }
    out
}

/// The state of every row of `input`: chunks updated in parallel, merged by [`tree`]. Fails
/// only when replicate weights kept in a file cannot be read back.
pub fn accumulate<M: CellMap>(input: &Input<M>) -> Result<State, String> {
    let (order, chunks) = plan(input.rows, input.psu);
    let n_cells = input.cells.n_cells();
    let n_reps = input.reps.map_or(0, |r| r.count());
    let n_stages = input.stages.len();
    let leaf = |i: usize| -> Result<State, String> {
        let key = ChunkKey {
            first: i as u32,
            end: i as u32 + 1,
        };
        let mut state = State::new(n_cells, n_reps, n_stages, key);
        let chunk = Chunk {
            rows: &order[chunks[i].clone()],
            weight: input.weight,
            psu: input.psu,
            stages: input.stages,
        };
        match input.reps {
            None => state.update(input.cells, &chunk, &mut InMemory(&[])),
            Some(reps) => match reps.in_memory() {
                Some(cols) => state.update(input.cells, &chunk, &mut InMemory(cols)),
                None => {
                    let mut cols = Vec::new();
                    reps.gather(chunk.rows, &mut cols)?;
                    state.update(input.cells, &chunk, &mut InOrder(&cols))
                }
            },
        }?;
        Ok(state)
    };
    let join = |a: Result<State, String>, b: Result<State, String>| Ok(a?.merge_adjacent(b?));
    tree(chunks.len(), &leaf, &join)
        .unwrap_or_else(|| Ok(State::new(n_cells, n_reps, n_stages, ChunkKey::default())))
}

/// Fixed-shape binary tree over `0..n` (leaves computed in parallel): the same additions in
/// the same order for any thread count. `None` when `n == 0`.
pub fn tree<T: Send>(
    n: usize,
    leaf: &(impl Fn(usize) -> T + Sync),
    join: &(impl Fn(T, T) -> T + Sync),
) -> Option<T> {
    fn go<T: Send>(
        lo: usize,
        hi: usize,
        leaf: &(impl Fn(usize) -> T + Sync),
        join: &(impl Fn(T, T) -> T + Sync),
    ) -> T {
        if hi - lo == 1 {
            return leaf(lo);
        }
        let mid = lo + (hi - lo) / 2;
        let (a, b) = rayon::join(|| go(lo, mid, leaf, join), || go(mid, hi, leaf, join));
        join(a, b)
    }
    (n > 0).then(|| go(0, n, leaf, join))
}

/// Merges the states of chunks `0..n` (in chunk order) by the same tree as [`accumulate`], so
/// states computed elsewhere finish to the same bits.
pub fn merge_in_order(states: Vec<State>) -> Result<Option<State>, MergeError> {
    let mut slots: Vec<std::sync::Mutex<Option<State>>> = states
        .into_iter()
        .map(|s| std::sync::Mutex::new(Some(s)))
        .collect();
    let take = |i: usize| -> Result<State, MergeError> {
        slots[i]
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .ok_or_else(|| MergeError(format!("state {i} is missing")))
    };
    let join = |a: Result<State, MergeError>, b: Result<State, MergeError>| a?.merge(b?);
    let merged = tree(slots.len(), &take, &join).transpose();
    slots.clear();
    merged
}
