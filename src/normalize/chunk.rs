//! Mapping one batch of rows, on a worker thread: the system columns, then each field plan
//! column by column (a code column's distinct values are mapped once each), then the replicate
//! weights and the weight rules. What depends on earlier batches — duplicate keys, the interned
//! strata, PSUs and periods — is left to the merge, which takes batches in input order, so the
//! frame and the findings do not depend on the number of threads.
use std::collections::HashMap;

use super::design::{SystemPlan, SystemRow};
use super::frame::Val;
use super::mapper::{FieldPlan, Problem};
use super::value::trim;
use crate::extract::TextBatch;

/// The shape of a row before any cell is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// An empty line: set aside.
    Blank,
    /// Not as many cells as the header: set aside.
    Width(usize),
    Fits,
}

/// One row mapped: its system values (when they read) and its problems in the order rules run.
pub(super) struct RowOut {
    pub shape: Shape,
    pub sys: Option<SystemRow>,
    pub problems: Vec<Problem>,
}

/// A batch with what mapping made of each row.
pub(super) struct Mapped {
    pub batch: TextBatch,
    pub rows: Vec<RowOut>,
    /// Values: one per plan per row (`Val::Null` where a plan's cell had a problem).
    pub vals: Vec<Val>,
    pub ages: Vec<Option<(i64, i64)>>,
    /// Replicate weights: one per replicate per row.
    pub reps: Vec<f64>,
}

impl Mapped {
    pub fn vals(&self, row: usize, plans: usize) -> &[Val] {
        &self.vals[row * plans..(row + 1) * plans]
    }

    pub fn reps(&self, row: usize, n: usize) -> &[f64] {
        &self.reps[row * n..(row + 1) * n]
    }
}

type Mapping = Result<(Val, Option<(i64, i64)>), Problem>;

/// Maps every row of `batch` under a header of `width` columns; replicate weights are read
/// into `Mapped::reps` when `keep_reps`, else only checked.
pub(super) fn map_batch(
    sys: &SystemPlan,
    plans: &[FieldPlan],
    weight_col: &str,
    width: usize,
    keep_reps: bool,
    batch: TextBatch,
) -> Mapped {
    let n = batch.len();
    let mut rows: Vec<RowOut> = (0..n)
        .map(|r| {
            let w = batch.width(r);
            let shape = if w == 1 && trim(batch.cell(r, 0)).is_empty() {
                Shape::Blank
            } else if w != width {
                Shape::Width(w)
            } else {
                Shape::Fits
            };
            RowOut {
                shape,
                sys: None,
                problems: Vec::new(),
            }
        })
        .collect();
    let fits = |rows: &[RowOut], r: usize| rows[r].shape == Shape::Fits;
    for (r, out) in rows.iter_mut().enumerate() {
        if out.shape != Shape::Fits {
            continue;
        }
        match sys.apply(&batch.row(r), batch.line(r)) {
            Ok(s) => out.sys = Some(s),
            Err(p) => out.problems.push(p),
        }
    }
    let np = plans.len();
    let mut vals = vec![Val::Null; n * np];
    let mut ages = vec![None; n];
    for (k, plan) in plans.iter().enumerate() {
        let mut put = |r: usize, m: &Mapping, rows: &mut [RowOut]| match m {
            Ok((v, a)) => {
                if plan.is_age {
                    ages[r] = *a;
                }
                vals[r * np + k] = v.clone();
            }
            Err(p) => rows[r].problems.push(p.clone()),
        };
        match plan.dictionary_column() {
            Some(col) => {
                let mut seen: HashMap<&str, Mapping> = HashMap::new();
                for r in 0..n {
                    if !fits(&rows, r) {
                        continue;
                    }
                    let raw = batch.cell(r, col);
                    let m = seen.entry(raw).or_insert_with(|| plan.apply_cell(raw));
                    put(r, m, &mut rows);
                }
            }
            None => {
                for r in 0..n {
                    if fits(&rows, r) {
                        let m = plan.apply(&batch.row(r));
                        put(r, &m, &mut rows);
                    }
                }
            }
        }
    }
    let nr = if keep_reps { sys.reps.len() } else { 0 };
    let mut reps = Vec::with_capacity(n * nr);
    for (r, out) in rows.iter_mut().enumerate() {
        let start = reps.len();
        if out.shape == Shape::Fits {
            let row = batch.row(r);
            let read = match keep_reps {
                true => sys.replicates(&row, &mut reps),
                false => sys.check_replicates(&row),
            };
            if let Err(p) = read {
                out.problems.push(p);
            }
        }
        reps.resize(start + nr, f64::NAN);
        if let Some(s) = &out.sys {
            weight_problems(s.weight, weight_col, &mut out.problems);
        }
    }
    Mapped {
        batch,
        rows,
        vals,
        ages,
        reps,
    }
}

fn weight_problems(w: f64, column: &str, problems: &mut Vec<Problem>) {
    let (rule, msg) = if w < 0.0 {
        (
            "weight_negative",
            "the weight is negative: weights must be > 0",
        )
    } else if w == 0.0 {
        ("weight_zero", "the weight is 0: weights must be > 0")
    } else {
        return;
    };
    problems.push(Problem {
        rule,
        field: "weight".into(),
        column: column.into(),
        value: format!("{w}"),
        message: msg.into(),
    });
}
