//! Domains (`--by`): the cells formed by the combinations of the by-columns' values that occur,
//! sorted (numerically where a column's labels are all numbers), each with its rows. Rows with a
//! missing by-value belong to no cell; no row is ever dropped from the design.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::table::{Categorical, Table, MISSING};
use crate::estimate::error::EstimateError;

/// The estimation cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cells {
    /// Labels of each cell, one per by-column (empty without `--by`).
    pub labels: Vec<Vec<String>>,
    /// Rows of each cell, ascending.
    pub rows: Vec<Vec<u32>>,
}

/// Cells of `by` (one cell holding every row when `by` is empty).
pub fn cells(table: &Table, by: &[String]) -> Result<Cells, EstimateError> {
    if by.is_empty() {
        return Ok(Cells {
            labels: vec![Vec::new()],
            rows: vec![(0..table.n_rows as u32).collect()],
        });
    }
    let columns: Vec<Categorical> = by
        .iter()
        .map(|c| table.categorical(c).map(|c| c.into_owned()))
        .collect::<Result<_, _>>()?;
    let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut keys: Vec<Vec<u32>> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    for row in 0..table.n_rows {
        let key: Vec<u32> = columns.iter().map(|c| c.codes[row]).collect();
        if key.contains(&MISSING) {
            continue;
        }
        let next = keys.len();
        let k = *index.entry(key.clone()).or_insert(next);
        if k == next {
            keys.push(key);
            rows.push(Vec::new());
        }
        rows[k].push(row as u32);
    }
    let order = sorted_cells(&keys, &columns);
    Ok(Cells {
        labels: order
            .iter()
            .map(|&k| {
                keys[k]
                    .iter()
                    .zip(&columns)
                    .map(|(&c, col)| col.label(c).to_string())
                    .collect()
            })
            .collect(),
        rows: order
            .iter()
            .map(|&k| std::mem::take(&mut rows[k]))
            .collect(),
    })
}

/// Cell indices sorted by their levels' ranks, column by column.
fn sorted_cells(keys: &[Vec<u32>], columns: &[Categorical]) -> Vec<usize> {
    let ranks: Vec<Vec<usize>> = columns.iter().map(level_ranks).collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| {
        let ka = keys[a]
            .iter()
            .enumerate()
            .map(|(j, &c)| ranks[j][c as usize]);
        let kb = keys[b]
            .iter()
            .enumerate()
            .map(|(j, &c)| ranks[j][c as usize]);
        ka.cmp(kb)
    });
    order
}

/// Rank of each level in sorted order: numeric when every label is a number, else by text.
pub fn level_ranks(cat: &Categorical) -> Vec<usize> {
    let numbers: Option<Vec<f64>> = cat.levels.iter().map(|l| l.parse::<f64>().ok()).collect();
    let mut order: Vec<usize> = (0..cat.levels.len()).collect();
    match numbers {
        Some(v) => order.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap_or(Ordering::Equal)),
        None => order.sort_by(|&a, &b| cat.levels[a].cmp(&cat.levels[b])),
    }
    let mut rank = vec![0; order.len()];
    for (r, &l) in order.iter().enumerate() {
        rank[l] = r;
    }
    rank
}
