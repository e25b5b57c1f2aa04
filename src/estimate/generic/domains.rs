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
    let (keys, mut rows) = match dense_keys(&columns) {
        Some(radix) => group_dense(&columns, &radix, table.n_rows),
        None => group_hashed(&columns, table.n_rows),
    };
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

/// Rows grouped by their combination of codes (first-appearance order), through a table
/// indexed by the mixed-radix number of the codes.
fn group_dense(
    columns: &[Categorical],
    radix: &[usize],
    n_rows: usize,
) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let size: usize = radix.iter().product();
    let mut slot = vec![u32::MAX; size];
    let mut keys: Vec<Vec<u32>> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    'row: for row in 0..n_rows {
        let mut at = 0usize;
        for (c, &r) in columns.iter().zip(radix) {
            let code = c.codes[row];
            if code == MISSING {
                continue 'row;
            }
            at = at * r + code as usize;
        }
        if slot[at] == u32::MAX {
            slot[at] = keys.len() as u32;
            keys.push(columns.iter().map(|c| c.codes[row]).collect());
            rows.push(Vec::new());
        }
        rows[slot[at] as usize].push(row as u32);
    }
    (keys, rows)
}

/// The number of levels of each column, when all combinations fit a table of 2^22 slots.
fn dense_keys(columns: &[Categorical]) -> Option<Vec<usize>> {
    let radix: Vec<usize> = columns.iter().map(|c| c.levels.len().max(1)).collect();
    let size = radix.iter().try_fold(1usize, |a, &r| a.checked_mul(r))?;
    (size <= 1 << 22).then_some(radix)
}

/// As [`group_dense`], hashing the combinations (many levels).
fn group_hashed(columns: &[Categorical], n_rows: usize) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut keys: Vec<Vec<u32>> = Vec::new();
    let mut rows: Vec<Vec<u32>> = Vec::new();
    for row in 0..n_rows {
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
    (keys, rows)
}

/// Cell indices sorted by their levels' ranks, column by column.
fn sorted_cells(keys: &[Vec<u32>], columns: &[Categorical]) -> Vec<usize> {
    let ranks: Vec<Vec<usize>> = columns.iter().map(level_ranks).collect();
    sort_by_ranks(keys, &ranks)
}

/// Indices of `keys` (codes per column) sorted by `ranks[column][code]`, column by column: the
/// order of `migstat estimate`'s domains, for one file and for partials merged from several.
pub fn sort_by_ranks(keys: &[Vec<u32>], ranks: &[Vec<usize>]) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn column(codes: &[u32], n_levels: usize) -> Categorical {
        Categorical {
            codes: codes.to_vec(),
            levels: (0..n_levels).map(|l| format!("L{l}")).collect(),
        }
    }

    /// The dense table and the hash map group rows identically, missing values included.
    #[test]
    fn dense_and_hashed_grouping_agree() {
        let a = column(&[0, 1, 2, 1, MISSING, 0, 2, 2, 1, 0], 3);
        let b = column(&[1, 0, 1, 0, 1, MISSING, 1, 0, 0, 1], 2);
        let columns = vec![a, b];
        let radix = dense_keys(&columns).expect("small");
        assert_eq!(radix, vec![3, 2]);
        let dense = group_dense(&columns, &radix, 10);
        let hashed = group_hashed(&columns, 10);
        assert_eq!(dense, hashed);
        // Rows 4 and 5 have a missing code and belong to no cell.
        let placed: usize = dense.1.iter().map(Vec::len).sum();
        assert_eq!(placed, 8);
        assert_eq!(dense.0[0], vec![0, 1]);
        assert_eq!(dense.1[0], vec![0, 9]);
    }

    #[test]
    fn too_many_combinations_are_hashed() {
        let wide = column(&[0], 1 << 12);
        assert!(dense_keys(&[wide.clone(), wide]).is_none());
    }
}
