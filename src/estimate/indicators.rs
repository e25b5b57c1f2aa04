//! The indicator cube of one frame: which catalogue indicators the source supports, the tables
//! they need, one kernel pass per period, and the observations with their precision and status.
use std::collections::BTreeMap;

use rayon::prelude::*;

use super::core::{self, Cell, Finish, Sums, ZeroReplicate};
use super::cube::{CubeCells, CubeEngine, TableSpec};
use super::design::{variance_for, Variance};
use super::dims::DimPlan;
use super::populations;
use super::reliability::{Profile, Status};
use super::tables::{self, TableOut};
use super::Observation;
use crate::config::pipeline::{Design, Pipeline};
use crate::error::{MigError, Result};
use crate::normalize::{ColData, Frame};
use crate::schema::{Indicator, Kind, Schema};

/// A table of the cube: population × value × breakdowns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TableKey {
    population: String,
    value: Option<String>,
    dims: Vec<String>,
}

/// What one frame yields: observations, and indicators skipped with the reason.
pub struct CubeResult {
    pub observations: Vec<Observation>,
    pub skipped: Vec<(String, String)>,
}

struct Prepared<'a> {
    dims: BTreeMap<String, DimPlan<'a>>,
    pop_bits: BTreeMap<String, u64>,
    masks: Vec<u64>,
    indicators: Vec<&'a Indicator>,
    tables: Vec<TableKey>,
    skipped: Vec<(String, String)>,
}

/// Estimates every supported indicator of the catalogue for every period of `frame`.
/// `universe` is the person frame when `frame` is the roster (see `design::variance_for`); its
/// strata and PSUs must be aligned first (`design::align`).
pub fn estimate_frame(
    frame: &Frame,
    p: &Pipeline,
    design: &Design,
    schema: &Schema,
    universe: Option<&Frame>,
    engine: Option<&dyn CubeEngine>,
) -> Result<CubeResult> {
    let prep = prepare(frame, p, schema);
    let groups = groups(&prep, schema);
    let profile = Profile::from_config(p.pipeline.reliability.as_ref());
    let mut observations = Vec::new();
    for (ti, time) in frame.times.iter().enumerate() {
        let rows: Vec<u32> = (0..frame.len() as u32)
            .filter(|&r| frame.time[r as usize] == ti as u32)
            .collect();
        let urows: Vec<u32> = universe
            .map(|u| {
                (0..u.len() as u32)
                    .filter(|&r| u.times[u.time[r as usize] as usize] == *time)
                    .collect()
            })
            .unwrap_or_default();
        let variance = variance_for(
            design,
            frame,
            &rows,
            universe.map(|u| (u, urows.as_slice())),
        )?;
        let cube = run_period(frame, &prep, &rows, &variance, engine)?;
        // Indicators are finished in parallel, a group at a time: the indicators that share
        // tables, with those tables, built for the group and dropped after it (the per-PSU sums
        // of all tables at once are the largest thing estimation holds). Each cell's variance is
        // independent of the others; observations are listed in catalogue order.
        let mut per: Vec<(usize, Vec<Observation>)> = groups
            .par_iter()
            .flat_map_iter(|g| {
                let mut outs: Vec<Option<TableOut>> = prep.tables.iter().map(|_| None).collect();
                for &t in &g.tables {
                    outs[t] = Some(cube.table(&prep, t));
                }
                let ctx = ObsCtx {
                    frame,
                    p,
                    schema,
                    prep: &prep,
                    outs: &outs,
                    variance: &variance,
                    profile: &profile,
                    time,
                };
                g.indicators
                    .iter()
                    .map(|&i| {
                        let mut out = Vec::new();
                        ctx.emit(prep.indicators[i], &mut out);
                        (i, out)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        per.sort_by_key(|(i, _)| *i);
        observations.extend(per.into_iter().flat_map(|(_, o)| o));
    }
    Ok(CubeResult {
        observations,
        skipped: prep.skipped,
    })
}

/// Indicators that read the same tables (directly or through others), with those tables.
struct Group {
    /// Positions in `Prepared::indicators`, ascending.
    indicators: Vec<usize>,
    /// Positions in `Prepared::tables`.
    tables: Vec<usize>,
}

/// What an indicator is estimated from: itself, or a ratio's numerator and denominator.
fn parts<'c>(ind: &'c Indicator, schema: &'c Schema) -> Vec<&'c Indicator> {
    let cat = &schema.catalogue;
    match ind.kind {
        Kind::Ratio => [&ind.numerator, &ind.denominator]
            .iter()
            .filter_map(|c| c.as_deref().and_then(|c| cat.get(c)))
            .collect(),
        _ => vec![ind],
    }
}

/// The tables an indicator reads (a ratio's are its numerator's and denominator's).
fn tables_of(ind: &Indicator, prep: &Prepared, schema: &Schema) -> Vec<usize> {
    parts(ind, schema)
        .iter()
        .flat_map(|part| keys_of(part))
        .filter_map(|k| prep.tables.iter().position(|t| *t == k))
        .collect()
}

/// The indicators grouped by the tables they share, groups in the order of their first
/// indicator.
fn groups(prep: &Prepared, schema: &Schema) -> Vec<Group> {
    // Union-find over tables: an indicator joins the tables it reads.
    let mut parent: Vec<usize> = (0..prep.tables.len()).collect();
    fn root(parent: &mut [usize], mut t: usize) -> usize {
        while parent[t] != t {
            parent[t] = parent[parent[t]];
            t = parent[t];
        }
        t
    }
    let reads: Vec<Vec<usize>> = prep
        .indicators
        .iter()
        .map(|ind| tables_of(ind, prep, schema))
        .collect();
    for ts in &reads {
        for w in ts.windows(2) {
            let (a, b) = (root(&mut parent, w[0]), root(&mut parent, w[1]));
            parent[b] = a;
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of_root: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, ts) in reads.iter().enumerate() {
        let Some(&first) = ts.first() else {
            // Reads no table: emits nothing, but keeps its place.
            groups.push(Group {
                indicators: vec![i],
                tables: Vec::new(),
            });
            continue;
        };
        let r = root(&mut parent, first);
        let g = *group_of_root.entry(r).or_insert_with(|| {
            groups.push(Group {
                indicators: Vec::new(),
                tables: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].indicators.push(i);
        for &t in ts {
            if !groups[g].tables.contains(&t) {
                groups[g].tables.push(t);
            }
        }
    }
    groups
}

fn table_dims(ind: &Indicator) -> Vec<String> {
    ind.by_sex
        .then(|| "sex".to_string())
        .into_iter()
        .chain(ind.classif1.clone())
        .chain(ind.classif2.clone())
        .collect()
}

/// The tables an indicator reads: (value table, count table for a mean).
fn keys_of(ind: &Indicator) -> Vec<TableKey> {
    let pop = ind.population.clone().unwrap_or_default();
    let dims = table_dims(ind);
    let count = TableKey {
        population: pop.clone(),
        value: None,
        dims: dims.clone(),
    };
    match ind.kind {
        Kind::Total => vec![TableKey {
            value: ind.value.clone(),
            ..count
        }],
        Kind::Mean => vec![
            TableKey {
                value: ind.value.clone(),
                ..count.clone()
            },
            count,
        ],
        Kind::Ratio => Vec::new(),
    }
}

fn prepare<'a>(frame: &'a Frame, p: &Pipeline, schema: &'a Schema) -> Prepared<'a> {
    let cat = &schema.catalogue;
    let mut prep = Prepared {
        dims: BTreeMap::new(),
        pop_bits: BTreeMap::new(),
        masks: vec![0; frame.len()],
        indicators: Vec::new(),
        tables: Vec::new(),
        skipped: Vec::new(),
    };
    let mut ok: BTreeMap<String, bool> = BTreeMap::new();
    for ind in &cat.indicator {
        let parts = parts(ind, schema);
        let record = parts
            .first()
            .and_then(|i| i.population.as_ref())
            .and_then(|pop| cat.population.get(pop))
            .map(|pop| pop.record.as_str());
        if record != Some(frame.record.as_str()) {
            continue;
        }
        let why = parts.iter().find_map(|part| {
            if ok.get(&part.code) == Some(&true) {
                return None;
            }
            support(frame, p, schema, part, &mut prep).err()
        });
        match why {
            None => {
                for part in &parts {
                    ok.insert(part.code.clone(), true);
                }
                prep.indicators.push(ind);
                for k in parts.iter().flat_map(|i| keys_of(i)) {
                    if !prep.tables.contains(&k) {
                        prep.tables.push(k);
                    }
                }
            }
            Some(reason) => prep.skipped.push((ind.code.clone(), reason)),
        }
    }
    prep
}

/// Checks that the frame supports an indicator, preparing its dimensions and population.
fn support<'a>(
    frame: &'a Frame,
    p: &Pipeline,
    schema: &Schema,
    ind: &Indicator,
    prep: &mut Prepared<'a>,
) -> std::result::Result<(), String> {
    for d in table_dims(ind) {
        if prep.dims.contains_key(&d) {
            continue;
        }
        let dim = schema.codes.dim(&d).map_err(|e| e.to_string())?;
        let plan = if d == "age" {
            DimPlan::age(frame, dim)
        } else {
            DimPlan::coded(frame, &d, dim, &schema.codes)
        };
        let plan = plan.ok_or_else(|| format!("breakdown {d} is not available in this source"))?;
        if plan.versions.is_empty() {
            return Err(format!("no version of {d} can be formed from this source"));
        }
        prep.dims.insert(d, plan);
    }
    if let Some(v) = &ind.value {
        if !matches!(frame.mapped(v), Some(ColData::Float(_))) {
            return Err(format!("value {v} is not mapped"));
        }
    }
    let pop = ind.population.clone().unwrap_or_default();
    if !prep.pop_bits.contains_key(&pop) {
        let def = &schema.catalogue.population[&pop];
        let keep = populations::evaluate(frame, def, &schema.codes, p.pipeline.working_age)?;
        let bit = 1u64 << prep.pop_bits.len().min(63);
        if prep.pop_bits.len() >= 64 {
            return Err("more than 64 populations".into());
        }
        for (m, k) in prep.masks.iter_mut().zip(keep) {
            if k {
                *m |= bit;
            }
        }
        prep.pop_bits.insert(pop, bit);
    }
    Ok(())
}

/// One period's merged sums, from which each table is built when its indicators are finished.
struct PeriodCube<'v> {
    sums: core::State,
    /// First cell of each table of `Prepared::tables`.
    offsets: Vec<usize>,
    /// The PSUs of the period's Taylor layout (empty without one).
    psus: &'v [u32],
}

impl PeriodCube<'_> {
    fn table(&self, prep: &Prepared, t: usize) -> TableOut {
        let plans: Vec<&DimPlan> = prep.tables[t].dims.iter().map(|d| &prep.dims[d]).collect();
        tables::build(&self.sums, self.offsets[t], &plans, self.psus)
    }
}

fn run_period<'v>(
    frame: &Frame,
    prep: &Prepared,
    rows: &[u32],
    variance: &'v Variance,
    engine: Option<&dyn CubeEngine>,
) -> Result<PeriodCube<'v>> {
    let mut specs = Vec::new();
    let mut offset = 0;
    let mut offsets = Vec::new();
    for k in &prep.tables {
        let plans: Vec<&DimPlan> = k.dims.iter().map(|d| &prep.dims[d]).collect();
        let mut stride = 1;
        let mut dims = Vec::new();
        for plan in plans.iter().rev() {
            dims.push((plan.fine, stride, plan.cap));
            stride *= plan.n_fine;
        }
        dims.reverse();
        let value = k.value.as_ref().and_then(|v| match frame.mapped(v) {
            Some(ColData::Float(c)) => Some(c),
            _ => None,
        });
        specs.push(TableSpec {
            pop_bit: prep.pop_bits[&k.population],
            value,
            dims,
            offset,
        });
        offsets.push(offset);
        offset += stride;
    }
    let psus: &[u32] = match variance {
        Variance::Taylor { psus, .. } => psus,
        _ => &[],
    };
    let cells = CubeCells {
        masks: &prep.masks,
        tables: &specs,
        n_cells: offset,
    };
    let input = core::Input {
        rows,
        weight: &frame.weight,
        reps: match variance {
            Variance::Replicate(_) => Some(&frame.reps),
            _ => None,
        },
        psu: if psus.is_empty() {
            None
        } else {
            Some(&frame.psu)
        },
        stages: &[],
        cells: &cells,
    };
    let sums = match engine {
        None => core::accumulate(&input).map_err(MigError::Other)?,
        Some(e) => e.accumulate(&input).map_err(MigError::Other)?,
    };
    Ok(PeriodCube {
        sums,
        offsets,
        psus,
    })
}

/// The merged sums of output cell `o` of a table.
fn sums(t: &TableOut, o: usize) -> Sums<'_> {
    Sums {
        est: t.est[o],
        n: t.n[o],
        reps: t.reps_of(o),
        psu: t.t_of(o),
        stages: &[],
    }
}

/// The tables an indicator is finished from.
#[derive(Clone, Copy)]
enum Reads<'t> {
    Total(&'t TableOut),
    /// Value and count of persons.
    Mean(&'t TableOut, &'t TableOut),
    Ratio {
        y: &'t TableOut,
        x: &'t TableOut,
        num: &'t Indicator,
        den: &'t Indicator,
    },
}

struct ObsCtx<'a> {
    frame: &'a Frame,
    p: &'a Pipeline,
    schema: &'a Schema,
    prep: &'a Prepared<'a>,
    /// The tables of the group being finished (the others are `None`).
    outs: &'a [Option<TableOut>],
    variance: &'a Variance,
    profile: &'a Profile,
    time: &'a str,
}

/// Note of a cell whose value, SE, CV or bounds are not finite numbers (suppressed).
pub const NON_FINITE: &str = "U9:NON_FINITE";

/// What an observation publishes of a cell.
#[derive(Default)]
struct Published {
    value: Option<f64>,
    se: Option<f64>,
    cv: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
}

impl Published {
    fn is_finite(&self) -> bool {
        [self.value, self.se, self.cv, self.lo, self.hi]
            .iter()
            .all(|v| v.is_none_or(f64::is_finite))
    }
}

impl ObsCtx<'_> {
    /// The table of an indicator's value (or of its count of persons, for a mean's
    /// denominator); `None` when it is not among the group's tables.
    fn table(&self, ind: &Indicator, value: bool) -> Option<&TableOut> {
        let keys = keys_of(ind);
        let k = if value { keys.first() } else { keys.last() }?;
        let i = self.prep.tables.iter().position(|t| t == k)?;
        self.outs[i].as_ref()
    }

    /// What an indicator is finished from.
    fn reads<'t>(&'t self, ind: &'t Indicator) -> Option<Reads<'t>> {
        Some(match ind.kind {
            Kind::Total => Reads::Total(self.table(ind, true)?),
            Kind::Mean => Reads::Mean(self.table(ind, true)?, self.table(ind, false)?),
            Kind::Ratio => {
                let [num, den] = parts(ind, self.schema)[..] else {
                    return None;
                };
                Reads::Ratio {
                    y: self.table(num, true)?,
                    x: self.table(den, true)?,
                    num,
                    den,
                }
            }
        })
    }

    fn finish(&self) -> Finish<'_> {
        match self.variance {
            Variance::None => Finish::None,
            Variance::Taylor { layout, sizes, .. } => Finish::Taylor {
                layout,
                sizes,
                stages: &[],
            },
            Variance::Replicate(spec) => Finish::Replicate(spec),
        }
    }

    fn total(&self, t: &TableOut, o: usize) -> Cell {
        self.finish().total(&sums(t, o))
    }

    /// Ratio y/x with its linearised or replicate variance; `None` when x is 0.
    fn ratio(&self, y: &TableOut, x: &TableOut, o: usize) -> Option<Cell> {
        self.finish()
            .ratio(&sums(y, o), &sums(x, o), ZeroReplicate::Estimate)
    }

    fn emit(&self, ind: &Indicator, out: &mut Vec<Observation>) {
        let Some(reads) = self.reads(ind) else {
            return;
        };
        let dims: Vec<&DimPlan> = table_dims(ind).iter().map(|d| &self.prep.dims[d]).collect();
        let sizes = dims.iter().map(|d| d.out_codes.len()).collect::<Vec<_>>();
        let m: usize = sizes.iter().product();
        for o in 0..m {
            let judged = match reads {
                Reads::Total(t) => (t.n[o] > 0).then(|| {
                    let c = self.total(t, o);
                    let s = self.judge_total(ind, &c);
                    (Some(c), s)
                }),
                Reads::Mean(v, c) => (c.n[o] > 0).then(|| self.ratio_cell(v, c, o, None, true)),
                Reads::Ratio { y, x, num, den } => (x.n[o] > 0).then(|| {
                    let part = self.total(y, o);
                    let s = self.judge_total(num, &part);
                    self.ratio_cell(y, x, o, Some(s), den.value.is_none())
                }),
            };
            let Some((cell, status)) = judged else {
                continue;
            };
            out.push(self.observation(ind, &dims, &sizes, o, cell, status));
        }
    }

    fn ratio_cell(
        &self,
        y: &TableOut,
        x: &TableOut,
        o: usize,
        num: Option<Status>,
        persons: bool,
    ) -> (Option<Cell>, Status) {
        let x_total = self.total(x, o);
        let den = if persons {
            self.judge_level(&x_total)
        } else {
            self.judge(&x_total)
        };
        let status = num.unwrap_or(Status::Ok).worst(den);
        match self.ratio(y, x, o) {
            Some(c) => {
                let s = status.worst(self.judge(&c));
                (Some(c), s)
            }
            None => (
                None,
                status.worst(Status::Suppressed("U7:ZERO_DENOMINATOR")),
            ),
        }
    }

    /// A total: a count of persons also meets the profile's minimum size of estimates.
    fn judge_total(&self, ind: &Indicator, c: &Cell) -> Status {
        if ind.value.is_none() {
            self.judge_level(c)
        } else {
            self.judge(c)
        }
    }

    fn judge_level(&self, c: &Cell) -> Status {
        self.profile.judge_level(
            c.n,
            c.est,
            c.cv(),
            self.variance.df(self.frame.reps.count()),
        )
    }

    fn judge(&self, c: &Cell) -> Status {
        self.profile
            .judge(c.n, c.cv(), self.variance.df(self.frame.reps.count()))
    }

    fn observation(
        &self,
        ind: &Indicator,
        dims: &[&DimPlan],
        sizes: &[usize],
        o: usize,
        cell: Option<Cell>,
        status: Status,
    ) -> Observation {
        let mut idx = [0usize; 3];
        let mut rest = o;
        for i in (0..dims.len()).rev() {
            idx[i] = rest % sizes[i];
            rest /= sizes[i];
        }
        // Without a sex breakdown the observation is for both sexes (`SEX_T`).
        let shift = usize::from(!ind.by_sex);
        let code = |i: usize| {
            i.checked_sub(shift)
                .and_then(|j| dims.get(j).map(|d| d.out_codes[idx[j]].clone()))
        };
        let df = self.variance.df(self.frame.reps.count());
        let n = cell.as_ref().map(|c| c.n).unwrap_or(0);
        let values = cell
            .filter(|_| !matches!(status, Status::Suppressed(_)))
            .map(|c| self.values(ind, &c, df));
        // A value, SE, CV or bound that is not finite is never published: the cell is suppressed.
        let (status, values) = match values {
            Some(v) if !v.is_finite() => (status.worst(Status::Suppressed(NON_FINITE)), None),
            v => (status, v),
        };
        let v = values.unwrap_or_default();
        let (value, se, cv, lo, hi) = (v.value, v.se, v.cv, v.lo, v.hi);
        Observation {
            ref_area: self.frame.ref_area.clone(),
            source: self.frame.source.clone(),
            indicator: ind.code.clone(),
            sex: code(0).unwrap_or_else(|| "SEX_T".into()),
            classif1: code(1),
            classif2: code(2),
            time: self.time.to_string(),
            obs_value: value,
            obs_status: status.code().map(str::to_string),
            note_classif: self.note_classif(ind),
            note_indicator: status.note().map(str::to_string),
            note_source: self.note_source(),
            sample_count: n as i64,
            se,
            cv,
            lower_bound: lo,
            upper_bound: hi,
            design_df: df,
        }
    }

    /// The published numbers of a cell, in the indicator's unit.
    fn values(&self, ind: &Indicator, c: &Cell, df: Option<f64>) -> Published {
        let bounds = c.bounds(df);
        Published {
            value: Some(ind.in_unit(c.est)),
            se: c.se().map(|s| ind.in_unit(s)),
            cv: c.cv(),
            lo: bounds.map(|b| ind.in_unit(b.0)),
            hi: bounds.map(|b| ind.in_unit(b.1)),
        }
    }

    fn note_classif(&self, ind: &Indicator) -> Option<String> {
        let notes: Vec<String> = [&ind.classif1, &ind.classif2]
            .into_iter()
            .flatten()
            .filter_map(|d| self.frame.field(d).and_then(|f| f.note.clone()))
            .collect();
        (!notes.is_empty()).then(|| notes.join("_"))
    }

    fn note_source(&self) -> Option<String> {
        let mut notes = self.p.pipeline.note_source.clone();
        if matches!(self.variance, Variance::None) {
            notes.push("S2:NO_DESIGN".into());
        }
        (!notes.is_empty()).then(|| notes.join("_"))
    }
}
