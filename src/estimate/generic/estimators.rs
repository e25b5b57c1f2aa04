//! Totals, means and ratios per domain cell with their standard errors, through the estimation
//! core: each (domain, target) is a numerator cell `Σw·y` and, for a mean or ratio, a
//! denominator cell `Σw·x` (a mean has `x = 1`; a factor column gives one indicator `y` per
//! level). Rows outside the domain, or with a missing value, count in neither — they stay in the
//! design (their PSUs, strata and replicates).

use rayon::prelude::*;

use super::design::{Design, VarianceMethod};
use super::domains::Cells;
use super::targets::Target;
use crate::estimate::core::{self, Cell, CellMap, Finish, PsuTotals, State, Sums, ZeroReplicate};

/// One result row.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Labels of the domain cell, one per by-column.
    pub by: Vec<String>,
    /// e.g. `total:enroll`, `mean:stype=E`, `ratio:api.stu/enroll`.
    pub statistic: String,
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    /// Coefficient of variation in percent.
    pub cv: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Unweighted rows contributing (for a mean or ratio, those of the denominator).
    pub n: u64,
    pub df: f64,
}

/// Row of no domain.
const NO_DOMAIN: u32 = u32::MAX;

/// The cells of `migstat estimate`: `(domain × target) × {numerator, denominator}`.
pub struct DomainCells<'a> {
    /// Domain of each row ([`NO_DOMAIN`] for none).
    domain: Vec<u32>,
    n_domains: usize,
    targets: &'a [Target<'a>],
}

impl<'a> DomainCells<'a> {
    pub fn new(cells: &Cells, n_rows: usize, targets: &'a [Target<'a>]) -> Self {
        let mut domain = vec![NO_DOMAIN; n_rows];
        for (c, rows) in cells.rows.iter().enumerate() {
            for &r in rows {
                domain[r as usize] = c as u32;
            }
        }
        DomainCells {
            domain,
            n_domains: cells.rows.len(),
            targets,
        }
    }

    /// Numerator cell of target `t` in domain `d`; the denominator is the next one.
    fn cell(&self, d: usize, t: usize) -> usize {
        (d * self.targets.len() + t) * 2
    }
}

impl CellMap for DomainCells<'_> {
    fn n_cells(&self) -> usize {
        self.n_domains * self.targets.len() * 2
    }

    fn for_each(&self, r: usize, f: &mut impl FnMut(u32, f64)) {
        let d = self.domain[r];
        if d == NO_DOMAIN {
            return;
        }
        for (t, target) in self.targets.iter().enumerate() {
            let (y, x) = (target.y.at(r), target.x.at(r));
            if y.is_nan() || x.is_nan() {
                continue;
            }
            let c = self.cell(d as usize, t) as u32;
            // A factor level's total counts the rows at the level.
            if !(target.counts_level_only() && y == 0.0) {
                f(c, y);
            }
            if !target.is_total() {
                f(c + 1, x);
            }
        }
    }
}

/// Estimate every target in every cell (cells outer, targets inner); warnings are returned as
/// sentences. Fails only when a replicate column lacks some row's weight.
pub fn estimate_all(
    design: &Design,
    cells: &Cells,
    targets: &[Target<'_>],
) -> Result<(Vec<Estimate>, Vec<String>), String> {
    let n_rows = design.weights.len();
    let map = DomainCells::new(cells, n_rows, targets);
    let rows: Vec<u32> = (0..n_rows as u32).collect();
    let (state, finish) = match &design.method {
        VarianceMethod::Taylor(t) => {
            let stages: Vec<&[u32]> = t.later.iter().map(|s| s.unit_of_row.as_slice()).collect();
            // Every row its own PSU (no later stages then): the state would keep a list of sums
            // a row. It keeps none, and the finish reads each row's sums from the cell map
            // (`row_units`). The chunks are the same (PSUs of one row, or blocks of rows, cut at
            // the same rows), so are the bits.
            let rows_are_psus = t.rows_are_psus;
            let input = core::Input {
                rows: &rows,
                weight: &design.weights,
                reps: None,
                psu: (!rows_are_psus).then_some(&t.psu_of_row[..]),
                stages: &stages,
                cells: &map,
            };
            let finish = Finish::Taylor {
                layout: &t.layout,
                sizes: &t.sizes,
                stages: &t.later,
            };
            let state = core::accumulate(&input)?;
            if rows_are_psus {
                let units = row_units(&map, &design.weights);
                return Ok(finish_cells(
                    state, units, &finish, design.df, cells, targets,
                ));
            }
            (state, finish)
        }
        VarianceMethod::Replicate(r) => {
            let input = core::Input {
                rows: &rows,
                weight: &design.weights,
                reps: Some(&r.weights),
                psu: None,
                stages: &[],
                cells: &map,
            };
            (core::accumulate(&input)?, Finish::Replicate(&r.spec))
        }
    };
    Ok(finish_all(state, &finish, design.df, cells, targets))
}

/// Per-cell unit totals of a state's PSUs or stage units, ascending by unit: each cell's list
/// made as long as it will be, then filled as the units' lists are used up and freed (with
/// every row a PSU, the two are most of what an estimate holds).
fn by_cell(units: Vec<core::state::UnitSums>, n_cells: usize) -> Vec<Vec<(u32, f64)>> {
    let mut len = vec![0usize; n_cells];
    for (_, sums) in &units {
        for &(c, _) in sums {
            len[c as usize] += 1;
        }
    }
    let mut out: Vec<Vec<(u32, f64)>> = len.into_iter().map(Vec::with_capacity).collect();
    for (u, sums) in units {
        for (c, v) in sums {
            out[c as usize].push((u, v));
        }
    }
    out
}

/// Per-cell PSU totals when every row is its own PSU (its id the row's), ascending: what the
/// state's per-PSU lists would give, a row's entries of one cell added from 0 in their order.
fn row_units(map: &DomainCells, weight: &[f64]) -> Vec<Vec<(u32, f64)>> {
    let n_cells = map.n_cells();
    let mut len = vec![0usize; n_cells];
    for r in 0..weight.len() {
        map.for_each(r, &mut |c, _| len[c as usize] += 1);
    }
    let mut out: Vec<Vec<(u32, f64)>> = len.into_iter().map(Vec::with_capacity).collect();
    let mut row: Vec<(u32, f64)> = Vec::new();
    for (r, &w) in weight.iter().enumerate() {
        row.clear();
        map.for_each(r, &mut |c, y| row.push((c, w * y)));
        row.sort_by_key(|e| e.0);
        for same in row.chunk_by(|a, b| a.0 == b.0) {
            let mut v = 0.0;
            for &(_, x) in same {
                v += x;
            }
            out[same[0].0 as usize].push((r as u32, v));
        }
    }
    out
}

/// The result rows of a merged state.
pub(super) fn finish_all(
    mut state: State,
    finish: &Finish,
    df: f64,
    cells: &Cells,
    targets: &[Target<'_>],
) -> (Vec<Estimate>, Vec<String>) {
    let psus = by_cell(std::mem::take(&mut state.psus), state.n_cells);
    finish_cells(state, psus, finish, df, cells, targets)
}

/// The result rows of a merged state whose PSU totals are `psus`, cell by cell.
fn finish_cells(
    mut state: State,
    psus: Vec<Vec<(u32, f64)>>,
    finish: &Finish,
    df: f64,
    cells: &Cells,
    targets: &[Target<'_>],
) -> (Vec<Estimate>, Vec<String>) {
    let n_cells = state.n_cells;
    let stages: Vec<Vec<Vec<(u32, f64)>>> = std::mem::take(&mut state.stages)
        .into_iter()
        .map(|s| by_cell(s, n_cells))
        .collect();
    let per_cell_stages: Vec<Vec<Vec<(u32, f64)>>> =
        (0..if stages.is_empty() { 0 } else { n_cells })
            .map(|c| stages.iter().map(|s| s[c].clone()).collect())
            .collect();
    let none: Vec<Vec<(u32, f64)>> = Vec::new();
    let sums = |c: usize| Sums {
        est: state.wsum[c],
        n: state.count[c],
        reps: &state.reps[c * state.n_reps..(c + 1) * state.n_reps],
        psu: PsuTotals::Sparse(&psus[c]),
        stages: per_cell_stages.get(c).unwrap_or(&none),
    };
    let n_t = targets.len();
    let results: Vec<(Estimate, Vec<String>)> = (0..cells.rows.len() * n_t)
        .into_par_iter()
        .map(|j| {
            let (d, t) = (j / n_t, j % n_t);
            let target = &targets[t];
            let c = (d * n_t + t) * 2;
            let cell = if target.is_total() {
                Some(finish.total(&sums(c)))
            } else {
                finish.ratio(&sums(c), &sums(c + 1), ZeroReplicate::Drop)
            };
            let n = if target.is_total() {
                state.count[c]
            } else {
                state.count[c + 1]
            };
            row(cells.labels[d].clone(), target, cell, n, df)
        })
        .collect();
    let mut rows = Vec::with_capacity(results.len());
    let mut warnings = Vec::new();
    for (e, w) in results {
        rows.push(e);
        warnings.extend(w);
    }
    (rows, warnings)
}

/// One result row and its warnings from a finished cell (`None`: the denominator is zero).
fn row(
    by: Vec<String>,
    target: &Target<'_>,
    cell: Option<Cell>,
    n: u64,
    df: f64,
) -> (Estimate, Vec<String>) {
    let mut warnings = Vec::new();
    let suffix = if by.is_empty() {
        String::new()
    } else {
        format!(" in cell {}", by.join(", "))
    };
    match &cell {
        None => warnings.push(format!(
            "{}{suffix}: the denominator is zero, so the estimate is left empty",
            target.label
        )),
        Some(c) if c.dropped > 0 => warnings.push(format!(
            "{}{suffix}: {} replicate(s) gave no estimate and were left out",
            target.label, c.dropped
        )),
        Some(_) => {}
    }
    // Values that are not finite stay so here: `estimate_table` blanks them with a warning.
    let bounds = cell.and_then(|c| c.bounds(Some(df)));
    let est = Estimate {
        by,
        statistic: target.label.clone(),
        estimate: cell.map(|c| c.est),
        se: cell.and_then(|c| c.se()),
        cv: cell.and_then(|c| c.cv()),
        lower: bounds.map(|b| b.0),
        upper: bounds.map(|b| b.1),
        n,
        df,
    };
    (est, warnings)
}
