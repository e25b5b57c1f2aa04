//! Later sampling stages of a multistage design with fpc (R `svyrecvar`, not ultimate cluster):
//! within each unit of stage k−1 the units of stage k are a without-replacement sample, and their
//! variance enters multiplied by the sampling fractions of all earlier stages.
//!
//! `V = V₁ + Σ_{stage k ≥ 2} Σ_{parent p} (Π f of p's ancestors) · (1 − f_p) · n_p/(n_p − 1) ·
//! Σ_{i in p} (t_i − t̄_p)²`; a parent with one sampled unit contributes nothing (R centres that
//! unit at its own mean; a unit taken with certainty has no variance either).

use crate::estimate::variance::LonelyPsu;

/// Below this, `1 − f` counts as zero (as in `variance.rs`).
const CERTAINTY_EPS: f64 = 1e-7;

/// One stage after the first: its units, nested in the units of the stage before.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Unit of each row at this stage (dense, globally unique).
    pub unit_of_row: Vec<u32>,
    /// Parent unit (at the previous stage) of each unit.
    pub unit_parent: Vec<u32>,
    /// Number of units sampled in each parent.
    pub parent_sizes: Vec<usize>,
    /// Sampling fraction of this stage within each parent (0 without fpc).
    pub parent_fraction: Vec<f64>,
    /// Product of the sampling fractions of all earlier stages above each parent.
    pub parent_multiplier: Vec<f64>,
    /// Lonely-unit rule (`fail` is enforced when the design is built).
    pub lonely: LonelyPsu,
}

impl Stage {
    /// Multipliers for the stage below this one: each unit inherits its parent's multiplier
    /// times this stage's sampling fraction in that parent.
    pub fn child_multipliers(&self) -> Vec<f64> {
        self.unit_parent
            .iter()
            .map(|&p| {
                let p = p as usize;
                self.parent_multiplier[p] * self.parent_fraction[p]
            })
            .collect()
    }

    /// Parents with a single sampled unit that was not taken with certainty.
    pub fn lonely_parents(&self) -> Vec<u32> {
        (0..self.parent_sizes.len())
            .filter(|&p| {
                self.parent_sizes[p] == 1 && 1.0 - self.parent_fraction[p] >= CERTAINTY_EPS
            })
            .map(|p| p as u32)
            .collect()
    }
}

/// Contribution of all later stages from the unit totals of the score at each stage
/// (`totals[k]`: `(unit, total)` ascending by unit; units not listed total zero).
pub fn later_stage_variance_totals(stages: &[Stage], totals: &[Vec<(u32, f64)>]) -> f64 {
    stages
        .iter()
        .zip(totals)
        .map(|(s, t)| stage_variance(s, t))
        .sum()
}

fn stage_variance(stage: &Stage, totals: &[(u32, f64)]) -> f64 {
    let mut by_parent: Vec<(u32, f64)> = totals
        .iter()
        .map(|&(u, t)| (stage.unit_parent[u as usize], t))
        .collect();
    by_parent.sort_by_key(|&(p, _)| p);
    let mut total = 0.0;
    let mut start = 0;
    while start < by_parent.len() {
        let p = by_parent[start].0;
        let end = start + by_parent[start..].iter().take_while(|e| e.0 == p).count();
        total += parent_contribution(stage, p as usize, &by_parent[start..end]);
        start = end;
    }
    total
}

/// Variance of the unit totals within one parent (absent units have total zero).
fn parent_contribution(stage: &Stage, p: usize, units: &[(u32, f64)]) -> f64 {
    let n = stage.parent_sizes[p];
    let mult = stage.parent_multiplier[p];
    let f = stage.parent_fraction[p];
    if n < 2 || mult == 0.0 || 1.0 - f < CERTAINTY_EPS {
        return 0.0;
    }
    let nf = n as f64;
    let mean = units.iter().map(|u| u.1).sum::<f64>() / nf;
    let mut ss: f64 = units.iter().map(|u| (u.1 - mean) * (u.1 - mean)).sum();
    ss += (n - units.len()) as f64 * mean * mean;
    mult * (1.0 - f) * nf / (nf - 1.0) * ss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_parents_with_fractions() {
        // Parent 0 has units 0,1 (rows 0..3), parent 1 has units 2,3,4.
        let stage = Stage {
            unit_of_row: vec![0, 0, 1, 2, 3, 4],
            unit_parent: vec![0, 0, 1, 1, 1],
            parent_sizes: vec![2, 3],
            parent_fraction: vec![0.5, 0.0],
            parent_multiplier: vec![0.25, 0.1],
            lonely: LonelyPsu::Fail,
        };
        // Rows 0, 1, 2, 3, 5 score 1, 1, 4, 3, 6: unit totals 2, 4, 3, 0, 6.
        let totals = vec![(0, 2.0), (1, 4.0), (2, 3.0), (4, 6.0)];
        // parent 0: totals 2, 4 -> ss 2, * 0.25 * 0.5 * 2 = 0.5
        // parent 1: totals 3, 0, 6 -> mean 3, ss 18, * 0.1 * 1 * 1.5 = 2.7
        let v = later_stage_variance_totals(&[stage], &[totals]);
        assert!((v - 3.2).abs() < 1e-12, "{v}");
    }
}
