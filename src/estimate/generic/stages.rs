//! Sampling stages of a Taylor design, built from the key columns: strata and first-stage PSUs
//! (nested or checked to lie in one stratum), sampling fractions from fpc columns (R's rule: all
//! values > 1 somewhere means population sizes, else fractions), and the later stages, whose
//! units are always nested in the unit above.

use std::collections::HashMap;

use super::design::DesignSpec;
use super::multistage::Stage;
use super::table::{Table, MISSING};
use crate::estimate::error::EstimateError;
use crate::estimate::variance::{LonelyPsu, PsuLayout};

/// Strata and PSUs of the first stage.
#[derive(Clone, Debug)]
pub struct FirstStage {
    pub stratum_of_row: Vec<u32>,
    pub stratum_names: Vec<String>,
    pub psu_of_row: Vec<u32>,
    pub psu_stratum: Vec<u32>,
}

/// Strata and first-stage PSUs of every row.
pub fn first_stage(table: &Table, spec: &DesignSpec) -> Result<FirstStage, EstimateError> {
    let (stratum_of_row, stratum_names) = strata_of_rows(table, spec)?;
    let (psu_of_row, psu_stratum) = match spec.psu.first() {
        None => ((0..table.n_rows as u32).collect(), stratum_of_row.clone()),
        Some(col) => psus(table, spec, col, &stratum_of_row, &stratum_names)?,
    };
    Ok(FirstStage {
        stratum_of_row,
        stratum_names,
        psu_of_row,
        psu_stratum,
    })
}

fn strata_of_rows(
    table: &Table,
    spec: &DesignSpec,
) -> Result<(Vec<u32>, Vec<String>), EstimateError> {
    let Some(col) = &spec.strata else {
        return Ok((vec![0; table.n_rows], vec!["(all)".to_string()]));
    };
    let cat = table.categorical(col)?;
    if let Some(row) = cat.codes.iter().position(|&c| c == MISSING) {
        return Err(missing_value(table, row, col, "stratum"));
    }
    Ok((cat.codes.clone(), cat.levels.clone()))
}

fn missing_value(table: &Table, row: usize, column: &str, role: &'static str) -> EstimateError {
    EstimateError::MissingDesignValue {
        path: table.path.clone(),
        row: row + 1,
        column: column.to_string(),
        role,
    }
}

/// Dense PSU index of every row and the stratum of every PSU.
fn psus(
    table: &Table,
    spec: &DesignSpec,
    col: &str,
    strata: &[u32],
    stratum_names: &[String],
) -> Result<(Vec<u32>, Vec<u32>), EstimateError> {
    let cat = table.categorical(col)?;
    let mut index: HashMap<(u32, u32), u32> = HashMap::new();
    let mut psu_stratum: Vec<u32> = Vec::new();
    let mut psu_of_row = Vec::with_capacity(table.n_rows);
    for (row, (&code, &h)) in cat.codes.iter().zip(strata).enumerate() {
        if code == MISSING {
            return Err(missing_value(table, row, col, "PSU"));
        }
        let key = if spec.nest { (h, code) } else { (0, code) };
        let next = psu_stratum.len() as u32;
        let p = *index.entry(key).or_insert(next);
        if p == next {
            psu_stratum.push(h);
        } else if psu_stratum[p as usize] != h {
            return Err(EstimateError::PsuInTwoStrata {
                psu: cat.label(code).to_string(),
                column: col.to_string(),
                first: stratum_names[psu_stratum[p as usize] as usize].clone(),
                second: stratum_names[h as usize].clone(),
            });
        }
        psu_of_row.push(p);
    }
    Ok((psu_of_row, psu_stratum))
}

/// True when the fpc columns hold population sizes (some value > 1), as R decides.
fn fpc_is_population(table: &Table, spec: &DesignSpec) -> Result<bool, EstimateError> {
    for col in &spec.fpc {
        if table.numeric(col)?.iter().any(|&v| v > 1.0) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sampling fraction of each group (stratum, or parent unit) at `stage` from fpc column `col`;
/// the fpc must be constant within a group.
pub fn stage_fractions(
    table: &Table,
    spec: &DesignSpec,
    col: &str,
    stage: usize,
    group_of_row: &[u32],
    sizes: &[usize],
    name: impl Fn(usize) -> String,
) -> Result<Vec<f64>, EstimateError> {
    let population = fpc_is_population(table, spec)?;
    let values = table.numeric(col)?;
    let mut fpc = vec![f64::NAN; sizes.len()];
    for (row, (&v, &g)) in values.iter().zip(group_of_row).enumerate() {
        let g = g as usize;
        let bad = |problem: String| EstimateError::BadFpc {
            column: col.to_string(),
            stage,
            stratum: name(g),
            problem,
        };
        if v.is_nan() {
            return Err(missing_value(table, row, col, "fpc"));
        }
        if fpc[g].is_nan() {
            fpc[g] = v;
        } else if fpc[g] != v {
            return Err(bad(format!(
                "varies within the stratum ({} and {v})",
                fpc[g]
            )));
        }
    }
    fpc.iter()
        .zip(sizes)
        .enumerate()
        .map(|(g, (&v, &n))| {
            fraction(v, n, population).map_err(|problem| EstimateError::BadFpc {
                column: col.to_string(),
                stage,
                stratum: name(g),
                problem,
            })
        })
        .collect()
}

fn fraction(v: f64, n: usize, population: bool) -> Result<f64, String> {
    if v.is_nan() {
        return Ok(0.0);
    }
    if population {
        if v < n as f64 {
            return Err(format!(
                "population size {v} is smaller than the {n} units sampled"
            ));
        }
        return Ok(if v.is_infinite() { 0.0 } else { n as f64 / v });
    }
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("sampling fraction {v} is not between 0 and 1"))
    }
}

/// Stages 2.. of a design with fpc; units of each stage nested in the unit above.
pub fn build_later_stages(
    table: &Table,
    spec: &DesignSpec,
    first: &FirstStage,
    layout: &PsuLayout,
) -> Result<Vec<Stage>, EstimateError> {
    let mut parent_of_row = first.psu_of_row.clone();
    let mut multiplier: Vec<f64> = layout
        .psu_stratum
        .iter()
        .map(|&h| layout.stratum_fraction[h as usize])
        .collect();
    let mut stages = Vec::new();
    for k in 1..spec.psu.len() {
        let stage = next_stage(table, spec, k, &parent_of_row, multiplier)?;
        multiplier = stage.child_multipliers();
        parent_of_row = stage.unit_of_row.clone();
        stages.push(stage);
    }
    Ok(stages)
}

/// Stage `k + 1` (0-based column `k`) within the parents `parent_of_row`.
fn next_stage(
    table: &Table,
    spec: &DesignSpec,
    k: usize,
    parent_of_row: &[u32],
    multiplier: Vec<f64>,
) -> Result<Stage, EstimateError> {
    let col = &spec.psu[k];
    let cat = table.categorical(col)?;
    let mut index: HashMap<(u32, u32), u32> = HashMap::new();
    let mut unit_parent = Vec::new();
    let mut unit_of_row = Vec::with_capacity(table.n_rows);
    let mut parent_row = vec![usize::MAX; multiplier.len()];
    for (row, (&code, &p)) in cat.codes.iter().zip(parent_of_row).enumerate() {
        if code == MISSING {
            return Err(missing_value(table, row, col, "sampling unit"));
        }
        let next = unit_parent.len() as u32;
        let u = *index.entry((p, code)).or_insert(next);
        if u == next {
            unit_parent.push(p);
        }
        if parent_row[p as usize] == usize::MAX {
            parent_row[p as usize] = row;
        }
        unit_of_row.push(u);
    }
    let mut parent_sizes = vec![0usize; multiplier.len()];
    unit_parent
        .iter()
        .for_each(|&p| parent_sizes[p as usize] += 1);
    let label = |p: usize| parent_label(table, spec, k, parent_row[p]);
    let parent_fraction = match spec.fpc.get(k) {
        Some(f) => stage_fractions(table, spec, f, k + 1, parent_of_row, &parent_sizes, label)?,
        None => vec![0.0; parent_sizes.len()],
    };
    let stage = Stage {
        unit_of_row,
        unit_parent,
        parent_sizes,
        parent_fraction,
        parent_multiplier: multiplier,
        lonely: spec.lonely,
    };
    check_lonely_units(table, spec, k, &stage, &parent_row)?;
    Ok(stage)
}

/// With `--lonely-psu fail`, an error naming the first parent with a single sampled unit.
fn check_lonely_units(
    table: &Table,
    spec: &DesignSpec,
    k: usize,
    stage: &Stage,
    parent_row: &[usize],
) -> Result<(), EstimateError> {
    match stage.lonely_parents().first() {
        Some(&p) if spec.lonely == LonelyPsu::Fail => Err(EstimateError::LonelyPsu {
            stratum: parent_label(table, spec, k, parent_row[p as usize]),
            stage: k + 1,
        }),
        _ => Ok(()),
    }
}

/// `dnum=637` style label of the stage-`k` parent unit that first appears at `row`.
fn parent_label(table: &Table, spec: &DesignSpec, k: usize, row: usize) -> String {
    spec.psu[..k]
        .iter()
        .map(|c| {
            let value = table
                .categorical(c)
                .ok()
                .and_then(|cat| cat.codes.get(row).map(|&code| cat.label(code).to_string()))
                .unwrap_or_default();
            format!("{c}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
