//! The finishing step: from merged sums to an estimate and its variance, SE, CV and bounds.
//!
//! A total is `Ŷ = Σ w·y` of one cell; a ratio `R̂ = Ŷ/X̂` of two (a mean is a ratio to the count
//! of persons, a proportion a mean of an indicator). Taylor: the PSU totals of the score —
//! `t_p(y)` for a total, `(t_p(y) − R̂·t_p(x)) / X̂` for a ratio — go through the stratified
//! ultimate-cluster formula (`variance.rs`), plus the later stages of a multistage design with
//! fpc (`generic/multistage.rs`). Replicates: the replicate estimates `Ŷ_r` or `Ŷ_r/X̂_r` go
//! through `v = scale · Σ rscale_r (θ_r − θ̄)²` (`replicate.rs`).
use crate::estimate::generic::multistage::{later_stage_variance_totals, Stage};
use crate::estimate::replicate::{replicate_variance_detail, ReplicateSpec};
use crate::estimate::tdist::t_quantile_975;
use crate::estimate::variance::{taylor_variance, taylor_variance_sparse, PsuLayout};

/// How variances are finished.
#[derive(Clone, Copy)]
pub enum Finish<'a> {
    /// No design: estimates without variance.
    None,
    Taylor {
        layout: &'a PsuLayout,
        /// [`PsuLayout::stratum_sizes`].
        sizes: &'a [usize],
        /// Later stages (multistage with fpc), empty otherwise.
        stages: &'a [Stage],
    },
    Replicate(&'a ReplicateSpec),
}

/// What a replicate whose denominator is zero contributes to a ratio's variance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroReplicate {
    /// The full-sample ratio (no deviation around the estimate): the cube's rule.
    Estimate,
    /// Nothing: the replicate is left out, as R does (`migstat estimate`).
    Drop,
}

/// PSU totals of one cell, those of PSUs not listed being 0.
#[derive(Clone, Copy, Debug)]
pub enum PsuTotals<'a> {
    /// Every PSU `0..n` of the layout is visited in order (the cube's dense sums, stored
    /// sparsely: `psus` ascending, with their totals in `vals`).
    Listed {
        n: usize,
        psus: &'a [u32],
        vals: &'a [f64],
    },
    /// Only the PSUs the cell touches are visited (`migstat estimate`'s domains).
    Sparse(&'a [(u32, f64)]),
}

/// The merged sums of one cell.
#[derive(Clone, Copy, Debug)]
pub struct Sums<'a> {
    pub est: f64,
    pub n: u64,
    /// `Σ w_r·y` per replicate.
    pub reps: &'a [f64],
    pub psu: PsuTotals<'a>,
    /// Unit totals of each later stage, ascending by unit.
    pub stages: &'a [Vec<(u32, f64)>],
}

/// A finished estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    pub est: f64,
    pub var: Option<f64>,
    /// Unweighted rows (a ratio's are those of its denominator).
    pub n: u64,
    /// Replicates that gave no estimate and were left out.
    pub dropped: usize,
}

impl Cell {
    /// Standard error.
    pub fn se(&self) -> Option<f64> {
        self.var.map(f64::sqrt)
    }

    /// Coefficient of variation in percent (none without a variance or for a zero estimate).
    pub fn cv(&self) -> Option<f64> {
        self.var
            .and_then(|v| (self.est != 0.0).then(|| v.sqrt() / self.est.abs() * 100.0))
    }

    /// 95 % bounds `est ± t(df) · se` (none without a variance or degrees of freedom).
    pub fn bounds(&self, df: Option<f64>) -> Option<(f64, f64)> {
        let se = self.se()?;
        let q = t_quantile_975(df?);
        Some((self.est - q * se, self.est + q * se))
    }
}

impl Finish<'_> {
    /// A total and its variance.
    pub fn total(&self, s: &Sums) -> Cell {
        let (var, dropped) = match *self {
            Finish::None => (None, 0),
            Finish::Taylor {
                layout,
                sizes,
                stages,
            } => {
                let v = match s.psu {
                    PsuTotals::Listed { n, psus, vals } => {
                        taylor_variance(layout, &dense(n, psus, vals))
                    }
                    PsuTotals::Sparse(t) => taylor_variance_sparse(layout, sizes, t),
                };
                (Some(v + later(stages, s.stages)), 0)
            }
            Finish::Replicate(spec) => {
                let d = replicate_variance_detail(spec, s.est, s.reps);
                (Some(d.variance), d.dropped)
            }
        };
        Cell {
            est: s.est,
            var,
            n: s.n,
            dropped,
        }
    }

    /// The ratio `y/x` and its variance; `None` when `X̂` is 0.
    pub fn ratio(&self, y: &Sums, x: &Sums, zero: ZeroReplicate) -> Option<Cell> {
        let (ty, tx) = (y.est, x.est);
        if tx == 0.0 {
            return None;
        }
        let r = ty / tx;
        let score = |a: f64, b: f64| (a - r * b) / tx;
        let (var, dropped) = match *self {
            Finish::None => (None, 0),
            Finish::Taylor {
                layout,
                sizes,
                stages,
            } => {
                let v = match (y.psu, x.psu) {
                    (
                        PsuTotals::Listed { n, psus, vals },
                        PsuTotals::Listed {
                            n: m,
                            psus: psus_x,
                            vals: vals_x,
                        },
                    ) if n == m => {
                        let mut z = dense(n, psus, vals);
                        for (a, b) in z.iter_mut().zip(dense(n, psus_x, vals_x)) {
                            *a = score(*a, b);
                        }
                        taylor_variance(layout, &z)
                    }
                    (a, b) => {
                        let z = union(&sparse(a), &sparse(b), score);
                        taylor_variance_sparse(layout, sizes, &z)
                    }
                };
                let z_stages: Vec<Vec<(u32, f64)>> = y
                    .stages
                    .iter()
                    .zip(x.stages)
                    .map(|(a, b)| union(a, b, score))
                    .collect();
                (Some(v + later(stages, &z_stages)), 0)
            }
            Finish::Replicate(spec) => {
                let reps: Vec<f64> = y
                    .reps
                    .iter()
                    .zip(x.reps)
                    .map(|(a, b)| match zero {
                        ZeroReplicate::Estimate if *b == 0.0 => r,
                        _ => a / b,
                    })
                    .collect();
                let d = replicate_variance_detail(spec, r, &reps);
                (Some(d.variance), d.dropped)
            }
        };
        Some(Cell {
            est: r,
            var,
            n: x.n,
            dropped,
        })
    }
}

fn later(stages: &[Stage], totals: &[Vec<(u32, f64)>]) -> f64 {
    if stages.is_empty() {
        0.0
    } else {
        later_stage_variance_totals(stages, totals)
    }
}

fn sparse(t: PsuTotals) -> Vec<(u32, f64)> {
    match t {
        PsuTotals::Sparse(s) => s.to_vec(),
        PsuTotals::Listed { n, psus, vals } => dense(n, psus, vals)
            .into_iter()
            .enumerate()
            .map(|(p, v)| (p as u32, v))
            .collect(),
    }
}

/// The totals of every PSU `0..n` (0 where none is listed).
fn dense(n: usize, psus: &[u32], vals: &[f64]) -> Vec<f64> {
    let mut t = vec![0.0; n];
    for (&p, &v) in psus.iter().zip(vals) {
        if let Some(slot) = t.get_mut(p as usize) {
            *slot = v;
        }
    }
    t
}

/// `f(a_u, b_u)` over the units of two ascending lists (a unit missing from one has 0 there).
fn union(a: &[(u32, f64)], b: &[(u32, f64)], f: impl Fn(f64, f64) -> f64) -> Vec<(u32, f64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let (u, va, vb) = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                i += 1;
                j += 1;
                (x.0, x.1, y.1)
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                i += 1;
                (x.0, x.1, 0.0)
            }
            (Some(x), None) => {
                i += 1;
                (x.0, x.1, 0.0)
            }
            (_, Some(y)) => {
                j += 1;
                (y.0, 0.0, y.1)
            }
            (None, None) => break,
        };
        out.push((u, f(va, vb)));
    }
    out
}
