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
use crate::extract::{number_cell, TextBatch, Value};

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
    /// The texts of the rows' system values ([`SystemRow`]'s spans).
    pub sys_text: String,
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
            let shape = if w == 1 && trim(&batch.cell(r, 0)).is_empty() {
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
    let mut sys_text = String::new();
    for (r, out) in rows.iter_mut().enumerate() {
        if out.shape != Shape::Fits {
            continue;
        }
        match sys.apply(&batch.row(r), batch.line(r), &mut sys_text) {
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
                // The first few distinct short values are looked up as packed words, the
                // others (and long ones) in a hash map.
                // A typed reader's numbers are looked up by their bits and mapped as their text.
                let (mut packed, mut first) = (Vec::with_capacity(FRONT), Vec::new());
                let mut last: Option<(u128, usize)> = None;
                let mut seen: HashMap<&str, Mapping> = HashMap::new();
                let mut numbers: HashMap<u64, Mapping> = HashMap::new();
                for r in 0..n {
                    if !fits(&rows, r) {
                        continue;
                    }
                    let raw = match batch.value(r, col) {
                        Value::Text(raw) => raw,
                        Value::Number(x) => {
                            let m = numbers
                                .entry(x.to_bits())
                                .or_insert_with(|| plan.apply_cell(&number_cell(x)));
                            put(r, m, &mut rows);
                            continue;
                        }
                    };
                    // A column often repeats the row before's value: that one is tried first.
                    let word = pack(raw).map(|w| match last {
                        Some((lw, i)) if lw == w => (w, Some(i)),
                        _ => (w, packed.iter().position(|&p| p == w)),
                    });
                    if let Some((w, Some(i))) = word {
                        last = Some((w, i));
                    }
                    let m = match word {
                        Some((_, Some(i))) => &first[i],
                        Some((w, None)) if packed.len() < FRONT => {
                            packed.push(w);
                            first.push(plan.apply_cell(raw));
                            &first[first.len() - 1]
                        }
                        _ => seen.entry(raw).or_insert_with(|| plan.apply_cell(raw)),
                    };
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
            if let Err(p) = sys.replicates(&batch, r, keep_reps.then_some(&mut reps)) {
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
        sys_text,
    }
}

/// Distinct values of a dictionary column a batch compares as packed words before hashing.
const FRONT: usize = 16;

/// A cell of at most 15 bytes as one word: its bytes, then its length in the last byte (two
/// cells have the same word exactly when they are equal).
fn pack(raw: &str) -> Option<u128> {
    let b = raw.as_bytes();
    if b.len() > 15 {
        return None;
    }
    // Byte by byte: cells are short, and a copy of a slice of varying length is a call.
    let mut w = (b.len() as u128) << 120;
    for (i, &c) in b.iter().enumerate() {
        w |= u128::from(c) << (8 * i);
    }
    Some(w)
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

#[cfg(test)]
mod tests {
    use super::pack;

    #[test]
    fn packed_cells_are_equal_exactly_when_the_cells_are() {
        let cells = [
            "",
            "0",
            "1",
            "01",
            "1 ",
            " 1",
            "1\0",
            "\0",
            "é",
            "e\u{301}",
            "12345678",
            "123456789012345",
            "1234567890123456",
            "abcdefghijklmno",
            "abcdefghijklmnp",
        ];
        for a in cells {
            for b in cells {
                match (pack(a), pack(b)) {
                    (Some(x), Some(y)) => assert_eq!(x == y, a == b, "{a:?} {b:?}"),
                    (x, y) => {
                        assert!(a.len() > 15 || b.len() > 15);
                        assert_eq!(x.is_none(), a.len() > 15);
                        assert_eq!(y.is_none(), b.len() > 15);
                    }
                }
            }
        }
    }
}
