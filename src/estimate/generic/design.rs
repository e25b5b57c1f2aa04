//! The survey design of one table: weights, then either the Taylor layout (strata, PSUs of every
//! stage, fpc, lonely-PSU rule) or the replicate weights with their variance declaration.
//! Every check on design columns happens here, with the file, row and column in the message.

use std::path::Path;

use super::multistage::Stage;
use super::stages::{build_later_stages, first_stage, stage_fractions, FirstStage};
use super::table::{store_error, LoadAs, Table};
use crate::estimate::core;
use crate::estimate::core::chunks::RepRows;
use crate::estimate::error::EstimateError;
use crate::estimate::replicate::{ReplicateMethod, ReplicateSpec};
use crate::estimate::variance::{LonelyPsu, PsuLayout};
use crate::normalize::reps::Replicates;

/// Where the sampling weights come from.
#[derive(Clone, Debug, PartialEq)]
pub enum WeightSource {
    Column(String),
    /// Every row weighs 1 (designs declared by replicate weights alone, e.g. R's `scd`).
    One,
}

/// Replicate weights as declared on the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicateRequest {
    /// The replicate weight columns, in order.
    pub columns: Vec<String>,
    pub method: ReplicateMethod,
    pub rho: Option<f64>,
    pub scale: Option<f64>,
    pub rscales: Option<Vec<f64>>,
    pub mse: bool,
}

/// A design as declared: what the columns mean.
#[derive(Clone, Debug, PartialEq)]
pub struct DesignSpec {
    pub weight: WeightSource,
    pub strata: Option<String>,
    /// Cluster columns, one per stage (empty: every row is its own PSU).
    pub psu: Vec<String>,
    /// PSU ids are unique only within a stratum.
    pub nest: bool,
    /// fpc columns, one per stage from the first: population size (> 1) or fraction (<= 1).
    pub fpc: Vec<String>,
    pub lonely: LonelyPsu,
    pub replicates: Option<ReplicateRequest>,
}

/// Taylor-linearisation design.
#[derive(Clone, Debug)]
pub struct TaylorDesign {
    pub layout: PsuLayout,
    /// PSUs per stratum.
    pub sizes: Vec<usize>,
    pub psu_of_row: Vec<u32>,
    /// No `--psu`: every row is its own PSU, its id the row's.
    pub rows_are_psus: bool,
    /// Stages after the first (only with fpc and several `--psu` columns).
    pub later: Vec<Stage>,
}

/// Replicate-weight design.
#[derive(Debug)]
pub struct ReplicateDesign {
    pub spec: ReplicateSpec,
    pub weights: RepWeights,
}

/// The replicate weights of a design.
#[derive(Debug)]
pub enum RepWeights {
    /// One column per replicate: when the estimate also reads one of them as a variable, or
    /// one is listed twice (a Parquet file's replicate weights stream by row group instead).
    Columns(Vec<Vec<f64>>),
    /// Row by row in a store, read back chunk by chunk (a file other than Parquet).
    Stored(Replicates),
}

impl RepRows for RepWeights {
    fn count(&self) -> usize {
        match self {
            RepWeights::Columns(c) => c.len(),
            RepWeights::Stored(s) => RepRows::count(s),
        }
    }
    fn in_memory(&self) -> Option<&[Vec<f64>]> {
        match self {
            RepWeights::Columns(c) => Some(c),
            RepWeights::Stored(_) => None,
        }
    }
    fn gather(&self, rows: &[u32], cols: &mut Vec<Vec<f64>>) -> Result<(), String> {
        match self {
            RepWeights::Columns(c) => c.gather(rows, cols),
            RepWeights::Stored(s) => s.gather(rows, cols),
        }
    }
}

/// How variances are computed.
#[derive(Debug)]
pub enum VarianceMethod {
    Taylor(TaylorDesign),
    Replicate(ReplicateDesign),
}

/// A built design.
#[derive(Debug)]
pub struct Design {
    pub weights: Vec<f64>,
    pub method: VarianceMethod,
    /// Degrees of freedom for confidence bounds.
    pub df: f64,
}

impl DesignSpec {
    /// The columns the design reads and how.
    pub fn columns(&self) -> Vec<(String, LoadAs)> {
        let mut out = Vec::new();
        if let WeightSource::Column(c) = &self.weight {
            out.push((c.clone(), LoadAs::Numeric));
        }
        out.extend(self.strata.iter().map(|c| (c.clone(), LoadAs::Key)));
        out.extend(self.psu.iter().map(|c| (c.clone(), LoadAs::Key)));
        out.extend(self.fpc.iter().map(|c| (c.clone(), LoadAs::Numeric)));
        if let Some(r) = &self.replicates {
            out.extend(r.columns.iter().map(|c| (c.clone(), LoadAs::Replicate)));
        }
        out
    }

    /// Contradictions between options, before any data is read.
    pub fn check(&self) -> Result<(), EstimateError> {
        let stages = self.psu.len().max(1);
        if self.fpc.len() > stages {
            return Err(EstimateError::Usage(format!(
                "{} fpc columns for {stages} sampling stage(s); give at most one per --psu column",
                self.fpc.len()
            )));
        }
        Ok(())
    }
}

/// Build the design of `table`. Replicate weight columns not named in `shared` (the columns
/// the rest of the estimate reads) move out of the table into the design.
pub fn build(
    table: &mut Table,
    spec: &DesignSpec,
    shared: &[String],
) -> Result<Design, EstimateError> {
    spec.check()?;
    let weights = sampling_weights(table, spec)?;
    match &spec.replicates {
        None => build_taylor(table, spec, weights),
        Some(req) => build_replicate(table, spec, req, weights, shared),
    }
}

fn build_taylor(
    table: &Table,
    spec: &DesignSpec,
    weights: Vec<f64>,
) -> Result<Design, EstimateError> {
    let first = first_stage(table, spec)?;
    let layout = first_layout(table, spec, &first)?;
    layout.check_lonely()?;
    let later = if spec.psu.len() >= 2 && !spec.fpc.is_empty() {
        build_later_stages(table, spec, &first, &layout)?
    } else {
        Vec::new()
    };
    let df = layout.design_df();
    let sizes = layout.stratum_sizes();
    Ok(Design {
        weights,
        method: VarianceMethod::Taylor(TaylorDesign {
            layout,
            sizes,
            psu_of_row: first.psu_of_row,
            rows_are_psus: spec.psu.is_empty(),
            later,
        }),
        df,
    })
}

/// First-stage layout with the stage-1 sampling fractions.
fn first_layout(
    table: &Table,
    spec: &DesignSpec,
    first: &FirstStage,
) -> Result<PsuLayout, EstimateError> {
    let n_strata = first.stratum_names.len();
    let (mut layout, _) =
        core::layout::first_stage(&first.psu_stratum, Some(n_strata), spec.lonely, |h| {
            first.stratum_names[h as usize].clone()
        });
    if let Some(col) = spec.fpc.first() {
        let sizes = layout.stratum_sizes();
        let of_row: Vec<u32> = first.stratum_of_row.clone();
        layout.stratum_fraction = stage_fractions(table, spec, col, 1, &of_row, &sizes, |h| {
            layout.stratum_name(h)
        })?;
    }
    Ok(layout)
}

fn build_replicate(
    table: &mut Table,
    spec: &DesignSpec,
    req: &ReplicateRequest,
    weights: Vec<f64>,
    shared: &[String],
) -> Result<Design, EstimateError> {
    if let Some(store) = table.take_reps(&req.columns)? {
        if let Some((k, (row, x))) = store
            .bad
            .iter()
            .enumerate()
            .find_map(|(k, b)| b.map(|b| (k, b)))
        {
            return Err(bad_weight(&table.path, row + 1, &req.columns[k], x));
        }
        let deleted = if derives_rscales(req) {
            first_deleted(&store.weights, &weights).map_err(|e| store_error(&store.weights, e))?
        } else {
            Vec::new()
        };
        let (spec_r, df) = replicate_spec(table, spec, req, |k| deleted.get(k).copied().flatten())?;
        return Ok(Design {
            weights,
            method: VarianceMethod::Replicate(ReplicateDesign {
                spec: spec_r,
                weights: RepWeights::Stored(store.weights),
            }),
            df,
        });
    }
    let mut reps = Vec::with_capacity(req.columns.len());
    for (k, c) in req.columns.iter().enumerate() {
        let w = if shared.contains(c) || req.columns[k + 1..].contains(c) {
            table.numeric(c)?.into_owned()
        } else {
            table.take_numeric(c)?
        };
        check_weights(table, c, &w)?;
        reps.push(w);
    }
    let deleted = |k: usize| first_deleted_in(&reps[k], &weights);
    let (spec_r, df) = replicate_spec(table, spec, req, deleted)?;
    Ok(Design {
        weights,
        method: VarianceMethod::Replicate(ReplicateDesign {
            spec: spec_r,
            weights: RepWeights::Columns(reps),
        }),
        df,
    })
}

/// Per replicate of `store`, the first row it deletes (weight 0 where the sampling weight is
/// positive), read back a block of rows at a time.
fn first_deleted(store: &Replicates, weights: &[f64]) -> std::io::Result<Vec<Option<usize>>> {
    const BLOCK: usize = 65_536;
    let mut first = vec![None; RepRows::count(store)];
    let mut cols = Vec::new();
    for start in (0..weights.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(weights.len());
        let rows: Vec<u32> = (start as u32..end as u32).collect();
        store.columns_into(&rows, &mut cols)?;
        for (f, col) in first.iter_mut().zip(&cols) {
            if f.is_none() {
                *f = first_deleted_in(col, &weights[start..end]).map(|i| start + i);
            }
        }
    }
    Ok(first)
}

/// True when the JKn rscales must be derived from the data (no --rscales given).
pub(super) fn derives_rscales(req: &ReplicateRequest) -> bool {
    req.method == ReplicateMethod::Jkn && req.rscales.is_none()
}

/// The variance declaration of a replicate design and its degrees of freedom. `deleted(k)` is
/// the first row that replicate `k` deletes (weight 0 where the sampling weight is positive);
/// it is asked only when the JKn rscales are derived.
pub(super) fn replicate_spec(
    table: &Table,
    spec: &DesignSpec,
    req: &ReplicateRequest,
    deleted: impl Fn(usize) -> Option<usize>,
) -> Result<(ReplicateSpec, f64), EstimateError> {
    let derive = derives_rscales(req);
    let mut n_strata = 1usize;
    let rscales = if derive || spec.strata.is_some() {
        let first = first_stage(table, spec)?;
        let layout = first_layout(table, spec, &first)?;
        n_strata = layout.n_strata;
        if derive {
            Some(jkn_rscales(&first, &layout, &req.columns, deleted)?)
        } else {
            req.rscales.clone()
        }
    } else {
        req.rscales.clone()
    };
    let n_reps = req.columns.len();
    let spec_r = ReplicateSpec::new(req.method, n_reps, req.rho, req.scale, rscales, req.mse)?;
    let r = n_reps as f64;
    let df = match req.method {
        ReplicateMethod::Jkn => r - n_strata as f64,
        _ => r - 1.0,
    };
    Ok((spec_r, df))
}

/// JKn rscales `(n_h − 1)/n_h · (1 − f_h)`, where h is the stratum of the PSU that replicate r
/// deletes (the rows it gives weight 0 although their sampling weight is positive).
fn jkn_rscales(
    first: &FirstStage,
    layout: &PsuLayout,
    names: &[String],
    deleted: impl Fn(usize) -> Option<usize>,
) -> Result<Vec<f64>, EstimateError> {
    let sizes = layout.stratum_sizes();
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let row = deleted(k).ok_or_else(|| {
                EstimateError::Replicates(format!(
                    "column `{name}` deletes no PSU, so its stratum is unknown; give --rscales"
                ))
            })?;
            let h = first.stratum_of_row[row] as usize;
            let n = sizes[h] as f64;
            Ok((n - 1.0) / n * (1.0 - layout.stratum_fraction[h]))
        })
        .collect()
}

pub(super) fn sampling_weights(
    table: &Table,
    spec: &DesignSpec,
) -> Result<Vec<f64>, EstimateError> {
    match &spec.weight {
        WeightSource::One => Ok(vec![1.0; table.n_rows]),
        WeightSource::Column(c) => {
            let w = table.numeric(c)?.into_owned();
            check_weights(table, c, &w)?;
            Ok(w)
        }
    }
}

/// Whether `x` may be a weight: present, finite and non-negative (NaN, a missing weight, fails
/// both comparisons), in a form that vectorises.
#[inline]
pub(super) fn usable_weight(x: f64) -> bool {
    (0.0..=f64::MAX).contains(&x)
}

/// The first of the rows of replicate weights `rep` that the replicate deletes: weight 0 where
/// the sampling weight (`weights`, of the same rows) is positive.
pub(super) fn first_deleted_in(rep: &[f64], weights: &[f64]) -> Option<usize> {
    rep.iter()
        .zip(weights)
        .position(|(&r, &w)| r == 0.0 && w > 0.0)
}

/// Weights must be present, finite and non-negative.
fn check_weights(table: &Table, column: &str, w: &[f64]) -> Result<(), EstimateError> {
    let bad = w.iter().enumerate().find(|(_, &x)| !usable_weight(x));
    match bad {
        None => Ok(()),
        Some((i, &x)) => Err(bad_weight(&table.path, i + 1, column, x)),
    }
}

/// The error for weight `x` of `column` at data row `row` (from 1).
pub(super) fn bad_weight(path: &Path, row: usize, column: &str, x: f64) -> EstimateError {
    EstimateError::BadWeight {
        path: path.to_path_buf(),
        row,
        column: column.to_string(),
        problem: if x.is_nan() {
            "is missing".to_string()
        } else {
            format!("is {x}")
        },
    }
}
