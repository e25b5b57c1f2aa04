//! Totals, means and ratios per domain cell with their standard errors.
//!
//! Each statistic is a ratio `Ŷ/X̂` (a total has no denominator, a mean has `x = 1`; a factor
//! column gives one indicator `y` per level). Rows outside the cell, or with a missing value,
//! score zero — they stay in the design. Taylor scores are `w(y − R̂x)/X̂` (ratio) or `wy`
//! (total), summed per PSU; replicate estimates re-weight the same rows.

use rayon::prelude::*;

use super::design::{Design, TaylorDesign, VarianceMethod};
use super::domains::Cells;
use super::multistage::later_stage_variance;
use super::targets::Target;
use crate::estimate::replicate::{replicate_variance_detail, ReplicateSpec};
use crate::estimate::tdist::t_quantile_975;
use crate::estimate::variance::taylor_variance_sparse;

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

/// Rows of one cell that enter one statistic, with their values.
struct Contributing {
    rows: Vec<u32>,
    y: Vec<f64>,
    x: Vec<f64>,
    n: u64,
}

/// Per-thread scratch: PSU totals with the list of PSUs touched.
struct PsuScratch {
    acc: Vec<f64>,
    seen: Vec<bool>,
    touched: Vec<u32>,
}

/// Estimate every target in every cell (cells outer, targets inner); warnings are returned as
/// sentences.
pub fn estimate_all(
    design: &Design,
    cells: &Cells,
    targets: &[Target<'_>],
) -> (Vec<Estimate>, Vec<String>) {
    let n_psu = match &design.method {
        VarianceMethod::Taylor(t) => t.layout.n_psu(),
        VarianceMethod::Replicate(_) => 0,
    };
    let jobs: Vec<(usize, usize)> = (0..cells.rows.len())
        .flat_map(|c| (0..targets.len()).map(move |t| (c, t)))
        .collect();
    let results: Vec<(Estimate, Vec<String>)> = jobs
        .par_iter()
        .map_init(
            || PsuScratch {
                acc: vec![0.0; n_psu],
                seen: vec![false; n_psu],
                touched: Vec::new(),
            },
            |scratch, &(c, t)| one_cell(design, cells, c, &targets[t], scratch),
        )
        .collect();
    let mut rows = Vec::with_capacity(results.len());
    let mut warnings = Vec::new();
    for (e, w) in results {
        rows.push(e);
        warnings.extend(w);
    }
    (rows, warnings)
}

fn one_cell(
    design: &Design,
    cells: &Cells,
    c: usize,
    target: &Target<'_>,
    scratch: &mut PsuScratch,
) -> (Estimate, Vec<String>) {
    let by = cells.labels[c].clone();
    let data = contributing(&cells.rows[c], target);
    let (y_hat, x_hat) = weighted_sums(&data, &design.weights);
    assemble(
        by,
        target,
        (y_hat, x_hat),
        data.n,
        design.df,
        |theta| match &design.method {
            VarianceMethod::Taylor(t) => (
                taylor(t, &design.weights, &data, target, theta, x_hat, scratch),
                0,
            ),
            VarianceMethod::Replicate(r) => replicate_from_sums(
                &r.spec,
                target,
                theta,
                r.weights.iter().map(|wr| weighted_sums(&data, wr)),
            ),
        },
    )
}

/// One result row from the cell's weighted sums `(Σwy, Σwx)`, its unweighted count and a
/// variance function of the estimate returning `(variance, replicates left out)`.
pub(super) fn assemble(
    by: Vec<String>,
    target: &Target<'_>,
    (y_hat, x_hat): (f64, f64),
    n: u64,
    df: f64,
    variance: impl FnOnce(f64) -> (f64, usize),
) -> (Estimate, Vec<String>) {
    let mut warnings = Vec::new();
    let theta = if target.is_total() {
        Some(y_hat)
    } else if x_hat != 0.0 {
        Some(y_hat / x_hat)
    } else {
        warnings.push(format!(
            "{}{}: the denominator is zero, so the estimate is left empty",
            target.label,
            cell_suffix(&by)
        ));
        None
    };
    let variance = theta.map(|theta| {
        let (v, dropped) = variance(theta);
        if dropped > 0 {
            warnings.push(format!(
                "{}{}: {dropped} replicate(s) gave no estimate and were left out",
                target.label,
                cell_suffix(&by)
            ));
        }
        v
    });
    let est = finish(by, target.label.clone(), theta, variance, n, df);
    (est, warnings)
}

/// Replicate variance from each replicate's sums `(Σw_r·y, Σw_r·x)`: `(variance, dropped)`.
pub(super) fn replicate_from_sums(
    spec: &ReplicateSpec,
    target: &Target<'_>,
    theta: f64,
    sums: impl Iterator<Item = (f64, f64)>,
) -> (f64, usize) {
    let thetas: Vec<f64> = sums
        .map(|(y, x)| if target.is_total() { y } else { y / x })
        .collect();
    let d = replicate_variance_detail(spec, theta, &thetas);
    (d.variance, d.dropped)
}

fn cell_suffix(by: &[String]) -> String {
    if by.is_empty() {
        String::new()
    } else {
        format!(" in cell {}", by.join(", "))
    }
}

fn contributing(rows: &[u32], target: &Target<'_>) -> Contributing {
    let mut out = Contributing {
        rows: Vec::with_capacity(rows.len()),
        y: Vec::with_capacity(rows.len()),
        x: Vec::with_capacity(rows.len()),
        n: 0,
    };
    for &r in rows {
        let i = r as usize;
        let (y, x) = (target.y.at(i), target.x.at(i));
        if y.is_nan() || x.is_nan() {
            continue;
        }
        if !target.counts_level_only() || y != 0.0 {
            out.n += 1;
        }
        out.rows.push(r);
        out.y.push(y);
        out.x.push(x);
    }
    out
}

fn weighted_sums(data: &Contributing, w: &[f64]) -> (f64, f64) {
    let mut y = 0.0;
    let mut x = 0.0;
    for (k, &r) in data.rows.iter().enumerate() {
        let wi = w[r as usize];
        y += wi * data.y[k];
        x += wi * data.x[k];
    }
    (y, x)
}

fn taylor(
    design: &TaylorDesign,
    w: &[f64],
    data: &Contributing,
    target: &Target<'_>,
    theta: f64,
    x_hat: f64,
    scratch: &mut PsuScratch,
) -> f64 {
    let scores: Vec<f64> = data
        .rows
        .iter()
        .enumerate()
        .map(|(k, &r)| {
            let wi = w[r as usize];
            if target.is_total() {
                wi * data.y[k]
            } else {
                wi * (data.y[k] - theta * data.x[k]) / x_hat
            }
        })
        .collect();
    for (&r, &s) in data.rows.iter().zip(&scores) {
        let p = design.psu_of_row[r as usize] as usize;
        if !scratch.seen[p] {
            scratch.seen[p] = true;
            scratch.touched.push(p as u32);
        }
        scratch.acc[p] += s;
    }
    let entries: Vec<(u32, f64)> = scratch
        .touched
        .drain(..)
        .map(|p| {
            scratch.seen[p as usize] = false;
            (p, std::mem::take(&mut scratch.acc[p as usize]))
        })
        .collect();
    let mut v = taylor_variance_sparse(&design.layout, &design.sizes, &entries);
    if !design.later.is_empty() {
        v += later_stage_variance(&design.later, &data.rows, &scores);
    }
    v
}

fn finish(
    by: Vec<String>,
    statistic: String,
    theta: Option<f64>,
    variance: Option<f64>,
    n: u64,
    df: f64,
) -> Estimate {
    // Values that are not finite stay so here: `estimate_table` blanks them with a warning.
    let estimate = theta;
    let se = variance.map(|v| v.max(0.0).sqrt());
    let cv = match (estimate, se) {
        (Some(t), Some(s)) if t != 0.0 => Some(100.0 * s / t.abs()),
        _ => None,
    };
    let q = t_quantile_975(df);
    let bound = |sign: f64| match (estimate, se) {
        (Some(t), Some(s)) => Some(t + sign * q * s),
        _ => None,
    };
    Estimate {
        by,
        statistic,
        estimate,
        se,
        cv,
        lower: bound(-1.0),
        upper: bound(1.0),
        n,
        df,
    }
}
