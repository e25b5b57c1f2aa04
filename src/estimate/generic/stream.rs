//! Replicate-weight estimates straight from a Parquet file, the replicate weights never held
//! in memory. The other columns (sampling weight, domains, analysis variables, strata) are
//! loaded as usual; then every (replicate column, row group) chunk is decoded on its own into a
//! reused buffer and folded at once into per-cell sums `Σw_r·y` and `Σw_r·x`. Partial sums are
//! added in row-group order, so the results do not depend on the number of threads; memory is
//! the loaded columns plus one chunk per thread and `cells × targets × 2` sums per chunk.

use std::path::Path;

use rayon::prelude::*;

use super::design::{
    bad_weight, derives_rscales, replicate_spec, sampling_weights, ReplicateRequest,
};
use super::domains::{self, Cells};
use super::estimators::{assemble, replicate_from_sums};
use super::parquet::{read_numbers, ParquetFile};
use super::table::{missing_column, read_error, Table};
use super::targets::{self, Target};
use super::{Outcome, Request};
use crate::estimate::error::EstimateError;

/// Row of no cell.
const NO_CELL: u32 = u32::MAX;

/// What one chunk of one replicate column contributes.
struct Partial {
    /// `(Σw·y, Σw·x)` per (cell, target), interleaved.
    sums: Vec<f64>,
    /// First row (in the file) whose weight is missing, infinite or negative, with the value.
    bad: Option<(usize, f64)>,
    /// First row the replicate deletes (weight 0, sampling weight positive).
    deleted: Option<usize>,
}

/// Reusable decode buffers of one thread.
#[derive(Default)]
struct Scratch {
    defs: Vec<i16>,
    values: Vec<f64>,
}

/// Estimate `request` (whose design has replicate weights `req`) on the Parquet file `path`.
pub fn estimate(
    path: &Path,
    request: &Request,
    req: &ReplicateRequest,
) -> Result<Outcome, EstimateError> {
    let file = ParquetFile::open(path)?;
    let leaves: Vec<usize> = req
        .columns
        .iter()
        .map(|c| {
            file.leaf(c)
                .ok_or_else(|| missing_column(path, c, &file.names()))
        })
        .collect::<Result<_, _>>()?;
    let mut others = request.clone();
    others.design.replicates = None;
    let table = Table::load(path, &others.columns())?;
    let weights = sampling_weights(&table, &request.design)?;
    let early = if derives_rscales(req) {
        None
    } else {
        Some(replicate_spec(&table, &request.design, req, |_| None)?)
    };
    let cells = domains::cells(&table, &request.by)?;
    let columns = targets::analysis_columns(&table, &request.statistics)?;
    let targets = targets::targets(&request.statistics, &columns)?;
    let row_cell = cell_of_row(&cells, table.n_rows);
    let dense = Dense::new(&row_cell, cells.rows.len(), &targets);
    let width = dense.width();

    let group_rows = file.group_rows();
    let starts: Vec<usize> = group_rows
        .iter()
        .scan(0usize, |acc, &n| {
            let s = *acc;
            *acc += n;
            Some(s)
        })
        .collect();
    if group_rows.iter().sum::<usize>() != table.n_rows {
        return Err(read_error(
            path,
            "row groups do not add up to the file's rows",
        ));
    }
    let derive = derives_rscales(req);
    let fold = |k: usize, g: usize, s: &mut Scratch| -> Result<Partial, String> {
        let (col, descr) = file.column(g, leaves[k])?;
        read_numbers(col, &descr, group_rows[g], &mut s.defs, &mut s.values)?;
        let start = starts[g];
        let w = &s.values;
        // Finite and non-negative (NaN fails both comparisons), in a form that vectorises.
        let usable = |x: f64| (0.0..=f64::MAX).contains(&x);
        let bad = if w.iter().fold(true, |ok, &x| ok & usable(x)) {
            None
        } else {
            w.iter()
                .position(|&x| !usable(x))
                .map(|i| (start + i, w[i]))
        };
        let deleted = if derive {
            (0..w.len())
                .find(|&i| w[i] == 0.0 && weights[start + i] > 0.0)
                .map(|i| start + i)
        } else {
            None
        };
        let mut sums = vec![0.0; width];
        if bad.is_none() {
            dense.fold(&mut sums, w, start);
        }
        Ok(Partial { sums, bad, deleted })
    };
    let per_column: Vec<Vec<Partial>> = (0..leaves.len())
        .into_par_iter()
        .map(|k| {
            (0..group_rows.len())
                .into_par_iter()
                .map_init(Scratch::default, |s, g| fold(k, g, s))
                .collect::<Result<Vec<Partial>, String>>()
        })
        .collect::<Result<_, String>>()
        .map_err(|e| read_error(path, e))?;

    let mut rep_sums: Vec<Vec<f64>> = Vec::with_capacity(per_column.len());
    let mut deleted = Vec::with_capacity(per_column.len());
    for (k, parts) in per_column.into_iter().enumerate() {
        if let Some((row, x)) = parts.iter().find_map(|p| p.bad) {
            return Err(bad_weight(path, row + 1, &req.columns[k], x));
        }
        deleted.push(parts.iter().find_map(|p| p.deleted));
        let mut total = vec![0.0; width];
        for p in parts {
            total.iter_mut().zip(&p.sums).for_each(|(t, s)| *t += s);
        }
        rep_sums.push(total);
    }
    let (spec, df) = match early {
        Some(done) => done,
        None => replicate_spec(&table, &request.design, req, |k| deleted[k])?,
    };

    let mut full = vec![0.0; width];
    dense.fold(&mut full, &weights, 0);
    let mut rows = Vec::with_capacity(cells.rows.len() * targets.len());
    let mut warnings = Vec::new();
    for (c, labels) in cells.labels.iter().enumerate() {
        for (t, target) in targets.iter().enumerate() {
            let at = (c * targets.len() + t) * 2;
            let (est, w) = assemble(
                labels.clone(),
                target,
                (full[at], full[at + 1]),
                dense.counts[at / 2],
                df,
                |theta| {
                    replicate_from_sums(
                        &spec,
                        target,
                        theta,
                        rep_sums.iter().map(|s| (s[at], s[at + 1])),
                    )
                },
            );
            rows.push(est);
            warnings.extend(w);
        }
    }
    Ok(Outcome { rows, warnings })
}

/// Cell of each row ([`NO_CELL`] outside every cell).
fn cell_of_row(cells: &Cells, n_rows: usize) -> Vec<u32> {
    let mut of_row = vec![NO_CELL; n_rows];
    for (c, rows) in cells.rows.iter().enumerate() {
        for &r in rows {
            of_row[r as usize] = c as u32;
        }
    }
    of_row
}

/// Per-row values of every target laid out for the fold: rows outside every cell go to an
/// extra "no cell" slot, and a missing `y` or `x` contributes 0 to both sums (as the in-memory
/// estimator leaves such rows out).
struct Dense {
    /// Cell of each row, `n_cells` for none.
    cell: Vec<u32>,
    /// `y` per target and row.
    ys: Vec<Vec<f64>>,
    /// `x` per target and row; `None` for totals, whose `Σw·x` is not used.
    xs: Vec<Option<Vec<f64>>>,
    /// Unweighted rows behind each (cell, target), counted as the in-memory estimator counts
    /// them (a factor level's total counts the rows at the level).
    counts: Vec<u64>,
    n_cells: usize,
}

impl Dense {
    fn new(row_cell: &[u32], n_cells: usize, targets: &[Target<'_>]) -> Self {
        let (n, n_t) = (row_cell.len(), targets.len());
        let mut ys = Vec::with_capacity(n_t);
        let mut xs = Vec::with_capacity(n_t);
        let mut counts = vec![0u64; n_cells * n_t];
        for (t, target) in targets.iter().enumerate() {
            let mut y_side = vec![0.0; n];
            let mut x_side = (!target.is_total()).then(|| vec![0.0; n]);
            for (i, &c) in row_cell.iter().enumerate() {
                let (y, x) = (target.y.at(i), target.x.at(i));
                if c == NO_CELL || y.is_nan() || x.is_nan() {
                    continue;
                }
                y_side[i] = y;
                if let Some(xv) = &mut x_side {
                    xv[i] = x;
                }
                if !(target.counts_level_only() && y == 0.0) {
                    counts[c as usize * n_t + t] += 1;
                }
            }
            ys.push(y_side);
            xs.push(x_side);
        }
        let cell = row_cell
            .iter()
            .map(|&c| if c == NO_CELL { n_cells as u32 } else { c })
            .collect();
        Self {
            cell,
            ys,
            xs,
            counts,
            n_cells,
        }
    }

    /// Length of one set of sums: `(Σw·y, Σw·x)` per (cell, target), the no-cell slot included.
    fn width(&self) -> usize {
        (self.n_cells + 1) * self.ys.len() * 2
    }

    /// Add the weighted sums of rows `start..start + w.len()` to `sums` (of [`Self::width`]).
    /// Rows are spread over four interleaved partial sums, which keeps consecutive rows of
    /// one cell from waiting on each other, then added in a fixed order.
    fn fold(&self, sums: &mut [f64], w: &[f64], start: usize) {
        const LANES: usize = 4;
        let width = self.width();
        let n_t = self.ys.len();
        let mut lanes = vec![0.0; LANES * width];
        let cell = &self.cell[start..start + w.len()];
        for t in 0..n_t {
            let y = &self.ys[t][start..start + w.len()];
            for (j, ((&wi, &c), &yi)) in w.iter().zip(cell).zip(y).enumerate() {
                lanes[(j % LANES) * width + (c as usize * n_t + t) * 2] += wi * yi;
            }
            if let Some(x) = &self.xs[t] {
                let x = &x[start..start + w.len()];
                for (j, ((&wi, &c), &xi)) in w.iter().zip(cell).zip(x).enumerate() {
                    lanes[(j % LANES) * width + (c as usize * n_t + t) * 2 + 1] += wi * xi;
                }
            }
        }
        for (k, s) in sums.iter_mut().enumerate() {
            *s += ((lanes[k] + lanes[width + k]) + lanes[2 * width + k]) + lanes[3 * width + k];
        }
    }
}
