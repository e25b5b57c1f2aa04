//! Replicate-weight estimates straight from a Parquet file, the replicate weights never held
//! in memory. The other columns (sampling weight, domains, analysis variables, strata) are
//! loaded as usual; each row group is one chunk of the estimation core: its state is updated
//! with the group's rows, its replicate columns decoded one at a time into a reused buffer.
//! States are merged in row-group order by the core's fixed tree, so the results do not depend
//! on the number of threads; memory is the loaded columns plus, per thread, one decoded column
//! and one state (`cells × replicates` sums).

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};

use super::design::{
    bad_weight, derives_rscales, first_deleted_in, replicate_spec, sampling_weights, usable_weight,
    ReplicateRequest,
};
use super::domains;
use super::estimators::{finish_all, DomainCells};
use super::parquet::numbers_into;
use super::table::{missing_column, read_error, Table};
use super::targets;
use super::{Outcome, Request};
use crate::estimate::core::state::{Chunk, RepCol, RepSource};
use crate::estimate::core::{chunks, ChunkKey, Finish, State};
use crate::estimate::error::EstimateError;
use crate::extract::parquet::ParquetFile;

/// The replicate columns of one row group, decoded on demand.
struct GroupReps<'a> {
    file: &'a ParquetFile,
    leaves: &'a [usize],
    group: usize,
    start: usize,
    /// Sampling weights of the whole file (to find the rows a replicate deletes).
    weights: &'a [f64],
    derive: bool,
    /// The column decoded last, and its values when they are not plain doubles.
    column: Option<ArrayRef>,
    values: Vec<f64>,
    /// Per replicate: first row whose weight is missing, infinite or negative, with the value.
    bad: Vec<Option<(usize, f64)>>,
    /// Per replicate: first row it deletes (weight 0, sampling weight positive).
    deleted: Vec<Option<usize>>,
}

impl RepSource for GroupReps<'_> {
    fn count(&self) -> usize {
        self.leaves.len()
    }

    fn column(&mut self, k: usize) -> Result<RepCol<'_>, String> {
        let column = self.file.group(self.group, &self.leaves[k..k + 1])?.pop();
        let column = self.column.insert(column.ok_or("a column was not read")?);
        // Doubles without nulls are read where they were decoded.
        let w: &[f64] = match column.as_primitive_opt::<Float64Type>() {
            Some(p) if p.null_count() == 0 => p.values(),
            _ => {
                numbers_into(column.as_ref(), &mut self.values)?;
                &self.values
            }
        };
        let start = self.start;
        if !w.iter().fold(true, |ok, &x| ok & usable_weight(x)) {
            self.bad[k] = w
                .iter()
                .position(|&x| !usable_weight(x))
                .map(|i| (start + i, w[i]));
        }
        if self.derive {
            self.deleted[k] =
                first_deleted_in(w, &self.weights[start..start + w.len()]).map(|i| start + i);
        }
        Ok(RepCol::ById(w, start))
    }
}

/// Per replicate, what the earlier chunks found, else what the later ones did.
fn first_of<T>(earlier: Vec<Option<T>>, later: Vec<Option<T>>) -> Vec<Option<T>> {
    earlier
        .into_iter()
        .zip(later)
        .map(|(a, b)| a.or(b))
        .collect()
}

/// A row group's state with what its replicate columns showed.
type Partial = (State, Vec<Option<(usize, f64)>>, Vec<Option<usize>>);

/// Estimate `request` (whose design has replicate weights `req`) on the Parquet file `path`.
pub fn estimate(
    path: &Path,
    request: &Request,
    req: &ReplicateRequest,
) -> Result<Outcome, EstimateError> {
    let file = ParquetFile::open(path).map_err(|e| read_error(path, e))?;
    let leaves: Vec<usize> = req
        .columns
        .iter()
        .map(|c| {
            file.index(c)
                .ok_or_else(|| missing_column(path, c, &file.names()))
        })
        .collect::<Result<_, _>>()?;
    file.check(&leaves).map_err(|e| read_error(path, e))?;
    let table = Table::load(
        path,
        &request.without_replicates().columns(),
        &request.reading,
    )?;
    let weights = sampling_weights(&table, &request.design)?;
    let early = if derives_rscales(req) {
        None
    } else {
        Some(replicate_spec(&table, &request.design, req, |_| None)?)
    };
    let cells = domains::cells(&table, &request.by)?;
    let columns = targets::analysis_columns(&table, &request.statistics)?;
    let targets = targets::targets(&request.statistics, &columns)?;
    let map = DomainCells::new(&cells, table.n_rows, &targets);

    let group_rows = file.group_rows();
    if group_rows.iter().sum::<usize>() != table.n_rows {
        return Err(read_error(
            path,
            "row groups do not add up to the file's rows",
        ));
    }
    let starts: Vec<usize> = group_rows
        .iter()
        .scan(0usize, |acc, &n| {
            let s = *acc;
            *acc += n;
            Some(s)
        })
        .collect();
    let n_reps = leaves.len();
    let n_cells = crate::estimate::core::CellMap::n_cells(&map);
    let leaf = |g: usize| -> Result<Partial, String> {
        let rows: Vec<u32> = (starts[g] as u32..(starts[g] + group_rows[g]) as u32).collect();
        let key = ChunkKey {
            first: g as u32,
            end: g as u32 + 1,
        };
        let mut state = State::new(n_cells, n_reps, 0, key);
        let mut reps = GroupReps {
            file: &file,
            leaves: &leaves,
            group: g,
            start: starts[g],
            weights: &weights,
            derive: derives_rscales(req),
            column: None,
            values: Vec::new(),
            bad: vec![None; n_reps],
            deleted: vec![None; n_reps],
        };
        let chunk = Chunk {
            rows: &rows,
            weight: &weights,
            psu: None,
            stages: &[],
        };
        state.update(&map, &chunk, &mut reps)?;
        Ok((state, reps.bad, reps.deleted))
    };
    let join = |a: Result<Partial, String>, b: Result<Partial, String>| {
        let ((sa, bad_a, del_a), (sb, bad_b, del_b)) = (a?, b?);
        Ok((
            sa.merge(sb).map_err(|e| e.to_string())?,
            first_of(bad_a, bad_b),
            first_of(del_a, del_b),
        ))
    };
    let (state, bad, deleted) = chunks::tree(group_rows.len(), &leaf, &join)
        .unwrap_or_else(|| {
            let key = ChunkKey::default();
            Ok((
                State::new(n_cells, n_reps, 0, key),
                vec![None; n_reps],
                vec![None; n_reps],
            ))
        })
        .map_err(|e| read_error(path, e))?;
    if let Some((k, (row, x))) = bad.iter().enumerate().find_map(|(k, b)| b.map(|b| (k, b))) {
        return Err(bad_weight(path, row + 1, &req.columns[k], x));
    }
    let (spec, df) = match early {
        Some(done) => done,
        None => replicate_spec(&table, &request.design, req, |k| deleted[k])?,
    };
    let (rows, warnings) = finish_all(state, &Finish::Replicate(&spec), df, &cells, &targets);
    Ok(Outcome { rows, warnings })
}
