//! The accumulator's state: plain data, one per chunk of rows, merged in a fixed order.
//!
//! Per cell: `Σ w·y` and the unweighted count; per (cell, replicate): `Σ w_r·y`; for Taylor
//! designs, per first-stage PSU (whose stratum the design knows) the non-zero cell sums `Σ w·y`,
//! and the same per unit of every later stage of a multistage design with fpc. A state covers the
//! chunks `key.first..key.end` of one estimation; [`State::merge`] appends the state of the next
//! chunks. Sums are added in the order the rows were visited, so a fixed chunking and a fixed
//! merge order (see `chunks.rs`) give bit-identical results for any number of threads.
use serde::{Deserialize, Serialize};

use super::cells::CellMap;
use super::exact;

/// The chunks a state covers, `first..end`. Chunk numbers are fixed by the data (see
/// `chunks::plan`), never by the thread count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkKey {
    pub first: u32,
    pub end: u32,
}

/// A sampling unit (PSU, or unit of a later stage) with its cells' sums, ascending by cell.
pub type UnitSums = (u32, Vec<(u32, f64)>);

/// Partial sums of one or more consecutive chunks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub key: ChunkKey,
    pub n_cells: usize,
    pub n_reps: usize,
    /// `Σ w·y` per cell.
    #[serde(with = "exact::floats")]
    pub wsum: Vec<f64>,
    /// Rows per cell.
    pub count: Vec<u64>,
    /// `reps[cell * n_reps + r] = Σ w_r·y`.
    #[serde(with = "exact::floats")]
    pub reps: Vec<f64>,
    /// First-stage PSUs, ascending, with their cells' `Σ w·y` (Taylor designs only).
    #[serde(with = "exact::units")]
    pub psus: Vec<UnitSums>,
    /// Units of each later stage, ascending (multistage designs with fpc only).
    #[serde(with = "exact::stages")]
    pub stages: Vec<Vec<UnitSums>>,
}

/// Why two states cannot be merged (they belong to different estimations, or are not adjacent).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot merge estimation states: {0}")]
pub struct MergeError(pub String);

/// The rows of one chunk and the design columns they are read from (indexed by row id).
pub struct Chunk<'a> {
    /// Row ids, in visiting order (sorted by PSU here when the chunk is not).
    pub rows: &'a [u32],
    pub weight: &'a [f64],
    /// First-stage PSU of each row (Taylor designs).
    pub psu: Option<&'a [u32]>,
    /// Unit of each row at each later stage.
    pub stages: &'a [&'a [u32]],
}

/// Where the replicate weights of a chunk come from: columns in memory, decoded from a file one
/// column at a time, or gathered for the chunk's rows.
pub trait RepSource {
    /// Number of replicates (0: none).
    fn count(&self) -> usize;
    /// Replicate `k`'s weights for the chunk.
    fn column(&mut self, k: usize) -> Result<RepCol<'_>, String>;
}

/// One replicate's weights as a [`RepSource`] gives them.
pub enum RepCol<'a> {
    /// Indexed by row id: row `r`'s weight is `col[r - base]`.
    ById(&'a [f64], usize),
    /// In the chunk's visiting order: `col[i]` is the weight of `rows[i]`.
    InOrder(&'a [f64]),
}

/// Replicate weight columns held in memory, indexed by row id.
pub struct InMemory<'a>(pub &'a [Vec<f64>]);

impl RepSource for InMemory<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn column(&mut self, k: usize) -> Result<RepCol<'_>, String> {
        Ok(RepCol::ById(&self.0[k], 0))
    }
}

/// Replicate weight columns gathered for one chunk, in its visiting order.
pub struct InOrder<'a>(pub &'a [Vec<f64>]);

impl RepSource for InOrder<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn column(&mut self, k: usize) -> Result<RepCol<'_>, String> {
        Ok(RepCol::InOrder(&self.0[k]))
    }
}

impl State {
    /// The empty state of chunks `key` (the identity of [`State::merge`]).
    pub fn new(n_cells: usize, n_reps: usize, n_stages: usize, key: ChunkKey) -> Self {
        State {
            key,
            n_cells,
            n_reps,
            wsum: vec![0.0; n_cells],
            count: vec![0; n_cells],
            reps: vec![0.0; n_cells * n_reps],
            psus: Vec::new(),
            stages: vec![Vec::new(); n_stages],
        }
    }

    /// Adds the rows of `chunk`. Rows are visited PSU by PSU (file order within a PSU); each
    /// row adds `w·y` to every cell `cells` names for it, `w_r·y` per replicate.
    pub fn update<M: CellMap, R: RepSource>(
        &mut self,
        cells: &M,
        chunk: &Chunk,
        reps: &mut R,
    ) -> Result<(), String> {
        // Rows not in PSU order are sorted (stably); `perm[i]` is the position in `chunk.rows`
        // of the i-th row visited, for weights given in the chunk's order.
        let (sorted, perm);
        let rows = match chunk.psu {
            Some(p) if !chunk.rows.is_sorted_by_key(|&r| p[r as usize]) => {
                let mut idx: Vec<u32> = (0..chunk.rows.len() as u32).collect();
                idx.sort_by_key(|&i| p[chunk.rows[i as usize] as usize]);
                sorted = idx
                    .iter()
                    .map(|&i| chunk.rows[i as usize])
                    .collect::<Vec<u32>>();
                perm = Some(idx);
                &sorted[..]
            }
            _ => {
                perm = None;
                chunk.rows
            }
        };
        let mut entries: Vec<(u32, f64)> = Vec::with_capacity(rows.len() * 2);
        let mut ends: Vec<usize> = Vec::with_capacity(rows.len());
        for &r in rows {
            cells.for_each(r as usize, &mut |c, y| entries.push((c, y)));
            ends.push(entries.len());
        }
        self.add_weighted(chunk, rows, &entries, &ends);
        self.add_replicates(rows, perm.as_deref(), &entries, &ends, reps)
    }

    /// Sums of the sampling weight: per cell, per PSU, per later-stage unit.
    fn add_weighted(
        &mut self,
        chunk: &Chunk,
        rows: &[u32],
        entries: &[(u32, f64)],
        ends: &[usize],
    ) {
        let mut scratch = if chunk.psu.is_some() {
            vec![0.0; self.n_cells]
        } else {
            Vec::new()
        };
        let mut touched: Vec<u32> = Vec::new();
        let mut unit_entries: Vec<Vec<(u32, u32, f64)>> = vec![Vec::new(); chunk.stages.len()];
        let mut i = 0;
        while i < rows.len() {
            let j = match chunk.psu {
                None => rows.len(),
                Some(p) => {
                    let u = p[rows[i] as usize];
                    i + rows[i..]
                        .iter()
                        .take_while(|&&r| p[r as usize] == u)
                        .count()
                }
            };
            for k in i..j {
                let r = rows[k] as usize;
                let w = chunk.weight[r];
                let from = if k == 0 { 0 } else { ends[k - 1] };
                for &(c, y) in &entries[from..ends[k]] {
                    let cell = c as usize;
                    self.wsum[cell] += w * y;
                    self.count[cell] += 1;
                    if chunk.psu.is_some() {
                        if scratch[cell] == 0.0 {
                            touched.push(c);
                        }
                        scratch[cell] += w * y;
                    }
                    for (s, units) in chunk.stages.iter().enumerate() {
                        unit_entries[s].push((units[r], c, w * y));
                    }
                }
            }
            if let Some(p) = chunk.psu {
                touched.sort_unstable();
                touched.dedup();
                let sums = touched
                    .iter()
                    .map(|&c| (c, std::mem::take(&mut scratch[c as usize])))
                    .collect();
                touched.clear();
                self.psus.push((p[rows[i] as usize], sums));
            }
            i = j;
        }
        for (s, mut list) in unit_entries.into_iter().enumerate() {
            list.sort_by_key(|&(u, c, _)| (u, c));
            let mut units: Vec<UnitSums> = Vec::new();
            for (u, c, v) in list {
                match units.last_mut() {
                    Some((lu, cs)) if *lu == u => match cs.last_mut() {
                        Some((lc, lv)) if *lc == c => *lv += v,
                        _ => cs.push((c, v)),
                    },
                    _ => units.push((u, vec![(c, v)])),
                }
            }
            let done = std::mem::take(&mut self.stages[s]);
            self.stages[s] = merge_units(done, units);
        }
    }

    /// Replicate sums, one replicate column at a time (each sum still adds its rows in
    /// visiting order, so the result equals a row-by-row pass).
    fn add_replicates<R: RepSource>(
        &mut self,
        rows: &[u32],
        perm: Option<&[u32]>,
        entries: &[(u32, f64)],
        ends: &[usize],
        reps: &mut R,
    ) -> Result<(), String> {
        let n_reps = self.n_reps;
        if n_reps == 0 || entries.is_empty() {
            return Ok(());
        }
        if reps.count() != n_reps {
            return Err(format!(
                "{} replicate weight columns for a state of {n_reps}",
                reps.count()
            ));
        }
        // A run of consecutive rows (a row group) reads its weights as one slice.
        let contiguous =
            !rows.is_empty() && rows.windows(2).all(|w| w[0].checked_add(1) == Some(w[1]));
        for k in 0..n_reps {
            let missing = || format!("replicate {} lacks weights for the chunk's rows", k + 1);
            let slot = |c: u32| c as usize * n_reps + k;
            let (col, base) = match reps.column(k)? {
                RepCol::InOrder(w) => {
                    let w = w.get(..rows.len()).ok_or_else(missing)?;
                    match perm {
                        None => self.add_in_order(w, entries, ends, k),
                        Some(perm) => {
                            let w: Vec<f64> = perm.iter().map(|&i| w[i as usize]).collect();
                            self.add_in_order(&w, entries, ends, k)
                        }
                    }
                    continue;
                }
                RepCol::ById(col, base) => (col, base),
            };
            if contiguous {
                let first = (rows[0] as usize).checked_sub(base).ok_or_else(missing)?;
                let w = col.get(first..first + rows.len()).ok_or_else(missing)?;
                self.add_in_order(w, entries, ends, k);
                continue;
            }
            let mut from = 0;
            for (&r, &end) in rows.iter().zip(ends) {
                let b = (r as usize)
                    .checked_sub(base)
                    .and_then(|i| col.get(i))
                    .copied()
                    .ok_or_else(missing)?;
                for &(c, y) in &entries[from..end] {
                    self.reps[slot(c)] += b * y;
                }
                from = end;
            }
        }
        Ok(())
    }

    /// Replicate `k`'s sums from its weights in visiting order (`w[i]` for the i-th row).
    fn add_in_order(&mut self, w: &[f64], entries: &[(u32, f64)], ends: &[usize], k: usize) {
        let n_reps = self.n_reps;
        let mut from = 0;
        for (&b, &end) in w.iter().zip(ends) {
            for &(c, y) in &entries[from..end] {
                self.reps[c as usize * n_reps + k] += b * y;
            }
            from = end;
        }
    }

    /// Whether the state is well formed (a state read from elsewhere is checked before use):
    /// one sum per cell and replicate, units ascending, cells in range and ascending.
    pub fn check(&self) -> Result<(), MergeError> {
        let bad = |m: String| Err(MergeError(m));
        if self.wsum.len() != self.n_cells || self.count.len() != self.n_cells {
            return bad(format!(
                "{} cells but {} sums",
                self.n_cells,
                self.wsum.len()
            ));
        }
        if Some(self.reps.len()) != self.n_cells.checked_mul(self.n_reps) {
            return bad(format!("{} replicate sums", self.reps.len()));
        }
        if self.key.first > self.key.end {
            return bad(format!("chunks {}..{}", self.key.first, self.key.end));
        }
        for units in std::iter::once(&self.psus).chain(&self.stages) {
            let ascending = units.windows(2).all(|w| w[0].0 < w[1].0);
            let cells_ok = units.iter().all(|(_, cs)| {
                cs.windows(2).all(|w| w[0].0 < w[1].0)
                    && cs.last().is_none_or(|c| (c.0 as usize) < self.n_cells)
            });
            if !(ascending && cells_ok) {
                return bad("unit or cell sums out of order or out of range".into());
            }
        }
        Ok(())
    }

    /// Appends `later`, the state of the chunks that follow `self`'s.
    pub fn merge(self, later: State) -> Result<State, MergeError> {
        self.check()?;
        later.check()?;
        let same = self.n_cells == later.n_cells
            && self.n_reps == later.n_reps
            && self.stages.len() == later.stages.len();
        if !same {
            return Err(MergeError(format!(
                "shapes differ ({} cells × {} replicates × {} stages, and {} × {} × {})",
                self.n_cells,
                self.n_reps,
                self.stages.len(),
                later.n_cells,
                later.n_reps,
                later.stages.len()
            )));
        }
        if self.key.end != later.key.first {
            return Err(MergeError(format!(
                "chunks {}..{} are not followed by chunks {}..{}",
                self.key.first, self.key.end, later.key.first, later.key.end
            )));
        }
        Ok(self.merge_adjacent(later))
    }

    /// [`State::merge`] of two states known to have the same shape and to be adjacent.
    pub(crate) fn merge_adjacent(mut self, later: State) -> State {
        for (a, b) in self.wsum.iter_mut().zip(&later.wsum) {
            *a += b;
        }
        for (a, b) in self.count.iter_mut().zip(&later.count) {
            *a += b;
        }
        for (a, b) in self.reps.iter_mut().zip(&later.reps) {
            *a += b;
        }
        self.psus = merge_units(self.psus, later.psus);
        for (a, b) in self.stages.iter_mut().zip(later.stages) {
            *a = merge_units(std::mem::take(a), b);
        }
        self.key.end = later.key.end;
        self
    }
}

impl State {
    /// The same sums in another cell layout: old cell `c` becomes `map[c]` of `n_cells` (a
    /// layout that grew, e.g. by age intervals met in a later chunk). `map` must be increasing,
    /// so that the units' cell lists stay ascending; new cells hold nothing.
    pub fn relabel(self, map: &[u32], n_cells: usize) -> State {
        debug_assert!(map.len() == self.n_cells && map.windows(2).all(|w| w[0] < w[1]));
        let n_reps = self.n_reps;
        let mut out = State::new(n_cells, n_reps, self.stages.len(), self.key);
        for (c, &to) in map.iter().enumerate() {
            let to = to as usize;
            out.wsum[to] = self.wsum[c];
            out.count[to] = self.count[c];
            out.reps[to * n_reps..(to + 1) * n_reps]
                .copy_from_slice(&self.reps[c * n_reps..(c + 1) * n_reps]);
        }
        out.psus = relabel_units(self.psus, map);
        out.stages = self
            .stages
            .into_iter()
            .map(|s| relabel_units(s, map))
            .collect();
        out
    }
}

/// A unit list with its cells renamed by `map` (increasing: the cells stay ascending).
fn relabel_units(list: Vec<UnitSums>, map: &[u32]) -> Vec<UnitSums> {
    list.into_iter()
        .map(|(u, cells)| {
            (
                u,
                cells
                    .into_iter()
                    .map(|(c, v)| (map[c as usize], v))
                    .collect(),
            )
        })
        .collect()
}

/// Two ascending unit lists as one; a unit in both (a PSU split between chunks) gets the sums of
/// both, earlier first. Disjoint ascending lists are simply concatenated.
fn merge_units(a: Vec<UnitSums>, b: Vec<UnitSums>) -> Vec<UnitSums> {
    if a.last().zip(b.first()).is_none_or(|(x, y)| x.0 < y.0) {
        let mut a = a;
        a.extend(b);
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(x), Some(y)) if x.0 == y.0 => {
                let (u, xs) = a.next().unwrap_or_default();
                let (_, ys) = b.next().unwrap_or_default();
                out.push((u, merge_cells(xs, ys)));
                continue;
            }
            (Some(x), Some(y)) => x.0 < y.0,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

/// Two ascending (cell, sum) lists as one, adding the sums of a cell in both (`a`'s first).
/// When every cell of `b` is in `a` — a PSU met again in a later chunk, once its cells are
/// known — the sums are added into `a` where they are; otherwise the union is built in a list
/// of exactly its length. Merging chunk after chunk into one state therefore neither copies
/// every list again nor leaves room unused in it (a file not sorted by PSU meets every PSU
/// in every chunk).
fn merge_cells(mut a: Vec<(u32, f64)>, b: Vec<(u32, f64)>) -> Vec<(u32, f64)> {
    let (mut i, mut union) = (0, a.len());
    for y in &b {
        while a.get(i).is_some_and(|x| x.0 < y.0) {
            i += 1;
        }
        if a.get(i).is_some_and(|x| x.0 == y.0) {
            i += 1;
        } else {
            union += 1;
        }
    }
    if union == a.len() {
        let mut i = 0;
        for y in b {
            while a[i].0 < y.0 {
                i += 1;
            }
            a[i].1 += y.1;
            i += 1;
        }
        return a;
    }
    let mut out = Vec::with_capacity(union);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                out.push((x.0, x.1 + y.1));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                out.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                out.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                out.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merging cell lists gives the sums a map gives, with the same bits (each cell's sums
    /// added `a`'s first), whether `b`'s cells are all in `a` (added in place) or not (a new
    /// list, exactly as long as the union).
    #[test]
    fn merged_cell_lists_are_the_union_with_sums_added_in_order() {
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        let (mut in_place, mut rebuilt) = (0, 0);
        for round in 0..2000 {
            let span = 1 + next() % 40;
            fn list(next: &mut impl FnMut() -> u64, span: u64, keep: u64) -> Vec<(u32, f64)> {
                let mut out = Vec::new();
                for c in 0..span {
                    let (r, v) = (next(), next());
                    if r % 100 < keep {
                        out.push((c as u32, (v % 1000) as f64 / 7.0));
                    }
                }
                out
            }
            let a = list(&mut next, span, 70);
            // Every other round, `b` takes only cells of `a`.
            let b: Vec<(u32, f64)> = if round % 2 == 0 {
                let mut out = Vec::new();
                for &(c, _) in &a {
                    let (r, v) = (next(), next());
                    if r % 2 == 0 {
                        out.push((c, (v % 1000) as f64 / 3.0));
                    }
                }
                out
            } else {
                list(&mut next, span, 50)
            };
            let mut want = std::collections::BTreeMap::new();
            for &(c, v) in &a {
                want.insert(c, v);
            }
            for &(c, v) in &b {
                *want.entry(c).or_insert(0.0) += v;
            }
            let subset = b.iter().all(|y| a.iter().any(|x| x.0 == y.0));
            let a_ptr = a.as_ptr();
            let got = merge_cells(a, b);
            let want: Vec<(u32, f64)> = want.into_iter().collect();
            assert_eq!(got.len(), want.len(), "round {round}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1.to_bits()), (w.0, w.1.to_bits()), "round {round}");
            }
            if subset {
                assert_eq!(got.as_ptr(), a_ptr, "round {round}: added in place");
                in_place += 1;
            } else {
                assert_eq!(
                    got.capacity(),
                    got.len(),
                    "round {round}: no room left over"
                );
                rebuilt += 1;
            }
        }
        assert!(
            in_place > 500 && rebuilt > 500,
            "{in_place} in place, {rebuilt} rebuilt"
        );
    }
}
