//! The indicator cube of one record: which catalogue indicators the source supports, the tables
//! they need, the core's state per period accumulated chunk by chunk as the rows stream past, and
//! the observations with their precision and status.
use std::collections::BTreeMap;

use rayon::prelude::*;

use super::core::{self, Cell, Finish, State, Sums, ZeroReplicate};
use super::cube::{CubeCells, CubeEngine, TableSpec};
use super::design::{method, variance_for, Method, Units, Variance};
use super::dims::{self, DimPlan, Seen};
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

/// What one record yields: observations, and indicators skipped with the reason.
pub struct CubeResult {
    pub observations: Vec<Observation>,
    pub skipped: Vec<(String, String)>,
}

/// The indicators the rows support, their tables and their breakdowns, decided once every row
/// has been seen.
struct Prepared<'a> {
    dims: BTreeMap<String, DimPlan>,
    indicators: Vec<&'a Indicator>,
    tables: Vec<TableKey>,
    skipped: Vec<(String, String)>,
}

/// The first-stage units of the person file by period, for the roster's design (its households
/// without a member abroad still count, with zero totals): the person frame's strata names, and
/// the units of each period by its name.
pub struct Universe {
    pub strata: Vec<String>,
    pub units: BTreeMap<String, Units>,
}

/// Estimates every supported indicator of the catalogue for every period of `frame`, read as one
/// chunk. `universe` is the person file's when `frame` is the roster (see
/// `design::variance_for`); the roster's strata and PSUs must be aligned first (`design::align`).
pub fn estimate_frame(
    frame: &Frame,
    p: &Pipeline,
    design: &Design,
    schema: &Schema,
    universe: Option<&Universe>,
    engine: Option<&dyn CubeEngine>,
) -> Result<CubeResult> {
    let mut cube = Cube::new(frame, p, design, schema, engine)?;
    cube.update(frame)?;
    Ok(cube.finish(frame, universe)?.0)
}

/// The cube of one record, fed chunk by chunk. Its cells are laid out before any row (every
/// table an indicator could need, by the fields the pipeline maps); which indicators, breakdown
/// versions and design the data support is decided by [`Cube::finish`]. A chunk's rows of each
/// period are accumulated by the core (PSU order within the chunk) and merged into the period's
/// state in chunk order, so the sums depend on the chunking, which the data fix, and never on
/// the number of threads.
pub struct Cube<'a> {
    p: &'a Pipeline,
    design: &'a Design,
    schema: &'a Schema,
    engine: Option<&'a dyn CubeEngine>,
    layout: Layout,
    /// Codes seen per coded breakdown, and age intervals seen.
    seen: BTreeMap<String, Seen>,
    ages: Seen,
    /// Age intervals the states' cells are laid out for.
    n_ages: usize,
    /// By the frame's period index: merged sums and first-stage units.
    periods: Vec<(Option<State>, Units)>,
}

/// The cells of every table that some indicator of the record could read, fixed before the rows.
struct Layout {
    tables: Vec<TableKey>,
    /// Population of each mask bit.
    pop_bits: BTreeMap<String, u64>,
    /// Fine indexes of each coded breakdown (its codes and one for a missing code).
    coded: BTreeMap<String, usize>,
}

impl Layout {
    /// The fine indexes of breakdown `d` with `n_ages` age intervals.
    fn n_fine(&self, d: &str, n_ages: usize) -> usize {
        self.coded.get(d).copied().unwrap_or(n_ages + 1)
    }

    /// First cell of each table, and the number of cells.
    fn offsets(&self, n_ages: usize) -> (Vec<usize>, usize) {
        let mut offsets = Vec::with_capacity(self.tables.len());
        let mut at = 0;
        for k in &self.tables {
            offsets.push(at);
            at += k
                .dims
                .iter()
                .map(|d| self.n_fine(d, n_ages))
                .product::<usize>();
        }
        (offsets, at)
    }

    /// Where each cell of the layout for `from` age intervals lies in the layout for `to`
    /// (`to >= from`): the missing age moves to the new last index; the map is increasing.
    fn remap(&self, from: usize, to: usize) -> (Vec<u32>, usize) {
        let (_, n_to) = self.offsets(to);
        let mut map = Vec::new();
        let mut base = 0;
        for k in &self.tables {
            let old: Vec<usize> = k.dims.iter().map(|d| self.n_fine(d, from)).collect();
            let new: Vec<usize> = k.dims.iter().map(|d| self.n_fine(d, to)).collect();
            let cells: usize = old.iter().product();
            for c in 0..cells {
                let (mut rest, mut at, mut stride) = (c, 0, 1);
                for (i, d) in k.dims.iter().enumerate().rev() {
                    let mut digit = rest % old[i];
                    rest /= old[i];
                    if !self.coded.contains_key(d) && digit == from {
                        digit = to;
                    }
                    at += digit * stride;
                    stride *= new[i];
                }
                map.push((base + at) as u32);
            }
            base += new.iter().product::<usize>();
        }
        (map, n_to)
    }
}

impl<'a> Cube<'a> {
    /// Lays out the cells of every indicator the frame's fields could support (`frame` gives
    /// the record, the fields mapped and their types; its rows are not read).
    pub fn new(
        frame: &Frame,
        p: &'a Pipeline,
        design: &'a Design,
        schema: &'a Schema,
        engine: Option<&'a dyn CubeEngine>,
    ) -> Result<Self> {
        let mut layout = Layout {
            tables: Vec::new(),
            pop_bits: BTreeMap::new(),
            coded: BTreeMap::new(),
        };
        let mut seen = BTreeMap::new();
        // What the data decide (present codes, age intervals) is assumed to be there: the
        // layout holds every table the finish could read.
        let mut dim = |d: &str| -> std::result::Result<(), String> {
            let def = schema.codes.dim(d).map_err(|e| e.to_string())?;
            if d != "age" {
                if dims::fine(frame, d).is_none() {
                    return Err(format!("breakdown {d} is not available in this source"));
                }
                layout.coded.insert(d.to_string(), def.codes.len() + 1);
                seen.insert(d.to_string(), Seen::default());
            }
            Ok(())
        };
        let mut pops = Vec::new();
        let mut tables = Vec::new();
        select(frame, schema, &mut dim, &mut |_, parts| {
            for k in parts.iter().flat_map(|i| keys_of(i)) {
                if !pops.contains(&k.population) {
                    pops.push(k.population.clone());
                }
                if !tables.contains(&k) {
                    tables.push(k);
                }
            }
        });
        if pops.len() > 64 {
            return Err(MigError::Estimate(format!(
                "{} populations in one cube; at most 64",
                pops.len()
            )));
        }
        layout.tables = tables;
        layout.pop_bits = pops
            .into_iter()
            .enumerate()
            .map(|(i, pop)| (pop, 1u64 << i))
            .collect();
        let n_ages = frame.age.intervals().len();
        Ok(Cube {
            p,
            design,
            schema,
            engine,
            layout,
            seen,
            ages: Seen::default(),
            n_ages,
            periods: Vec::new(),
        })
    }

    /// Adds the rows of `frame` (one chunk of the input; periods, strata, PSUs and age
    /// intervals interned as in every earlier chunk).
    pub fn update(&mut self, frame: &Frame) -> Result<()> {
        self.relayout(frame.age.intervals().len());
        let n = frame.len();
        for (d, seen) in &mut self.seen {
            if let Some(f) = dims::fine(frame, d) {
                seen.add(f, n, self.layout.coded[d] - 1);
            }
        }
        self.ages
            .add(dims::Fine::Index(frame.age.indexes()), n, self.n_ages);
        let wa = self.p.pipeline.working_age;
        let mut masks = vec![0u64; n];
        for (pop, &bit) in &self.layout.pop_bits {
            let def = &self.schema.catalogue.population[pop];
            let keep = populations::evaluate(frame, def, &self.schema.codes, wa)
                .map_err(MigError::Estimate)?;
            for (m, k) in masks.iter_mut().zip(keep) {
                if k {
                    *m |= bit;
                }
            }
        }
        let (offsets, n_cells) = self.layout.offsets(self.n_ages);
        let mut specs = Vec::with_capacity(self.layout.tables.len());
        for (k, &offset) in self.layout.tables.iter().zip(&offsets) {
            let mut stride = 1;
            let mut dims = Vec::new();
            for d in k.dims.iter().rev() {
                let n_fine = self.layout.n_fine(d, self.n_ages);
                let fine = dims::fine(frame, d).ok_or_else(|| {
                    MigError::Estimate(format!("breakdown {d} is not in the frame"))
                })?;
                dims.push((fine, stride, (n_fine - 1) as u32));
                stride *= n_fine;
            }
            dims.reverse();
            let value = k.value.as_ref().and_then(|v| match frame.mapped(v) {
                Some(ColData::Float(c)) => Some(c),
                _ => None,
            });
            specs.push(TableSpec {
                pop_bit: self.layout.pop_bits[&k.population],
                value,
                dims,
                offset,
            });
        }
        let cells = CubeCells {
            masks: &masks,
            tables: &specs,
            n_cells,
        };
        if self.periods.len() < frame.times.len() {
            self.periods
                .resize_with(frame.times.len(), Default::default);
        }
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); frame.times.len()];
        for r in 0..n {
            let t = frame.time[r] as usize;
            rows[t].push(r as u32);
            self.periods[t].1.add(frame, r);
        }
        let how = method(self.design, frame);
        for (t, rows) in rows.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            let input = core::Input {
                rows,
                weight: &frame.weight,
                reps: (how == Method::Replicate)
                    .then_some(&frame.reps as &dyn core::chunks::RepRows),
                psu: (how == Method::Taylor).then_some(&frame.psu[..]),
                stages: &[],
                cells: &cells,
            };
            let state = match self.engine {
                None => core::accumulate(&input),
                Some(e) => e.accumulate(&input),
            }
            .map_err(MigError::Other)?;
            let slot = &mut self.periods[t].0;
            *slot = Some(match slot.take() {
                None => state,
                Some(sums) => sums.merge_adjacent(state),
            });
        }
        Ok(())
    }

    /// Lays the states' cells out for `n_ages` age intervals (more were met).
    fn relayout(&mut self, n_ages: usize) {
        if n_ages == self.n_ages {
            return;
        }
        let (map, n_cells) = self.layout.remap(self.n_ages, n_ages);
        for (sums, _) in &mut self.periods {
            if let Some(s) = sums.take() {
                *sums = Some(s.relabel(&map, n_cells));
            }
        }
        self.n_ages = n_ages;
    }

    /// The observations of every period of `frame` (the record's interned names: periods,
    /// strata, PSUs, age intervals; its rows are not read), and the first-stage units of each
    /// period by name.
    pub fn finish(
        mut self,
        frame: &Frame,
        universe: Option<&Universe>,
    ) -> Result<(CubeResult, Universe)> {
        self.relayout(frame.age.intervals().len());
        let prep = prepare(frame, self.schema, &self.seen, &self.ages);
        let groups = groups(&prep, self.schema);
        let profile = Profile::from_config(self.p.pipeline.reliability.as_ref());
        let (all, n_cells) = self.layout.offsets(self.n_ages);
        let offsets: Vec<usize> = prep
            .tables
            .iter()
            .map(|k| {
                let t = self.layout.tables.iter().position(|l| l == k);
                t.map_or(0, |t| all[t])
            })
            .collect();
        let n_reps = match method(self.design, frame) {
            Method::Replicate => frame.reps.count(),
            _ => 0,
        };
        self.periods
            .resize_with(frame.times.len(), Default::default);
        let mut observations = Vec::new();
        let mut units = BTreeMap::new();
        let none = Units::default();
        for ((sums, period), time) in self.periods.into_iter().zip(&frame.times) {
            let uni = universe.map(|u| (&u.strata[..], u.units.get(time).unwrap_or(&none)));
            let variance = variance_for(self.design, frame, &period, uni)?;
            let sums =
                sums.unwrap_or_else(|| State::new(n_cells, n_reps, 0, core::ChunkKey::default()));
            let cube = PeriodCube {
                sums,
                offsets: &offsets,
                psus: match &variance {
                    Variance::Taylor { psus, .. } => psus,
                    _ => &[],
                },
            };
            units.insert(time.clone(), period);
            // Indicators are finished in parallel, a group at a time: the indicators that
            // share tables, with those tables, built for the group and dropped after it (the
            // per-PSU sums of all tables at once are the largest thing estimation holds). Each
            // cell's variance is independent of the others; observations are listed in
            // catalogue order.
            let mut per: Vec<(usize, Vec<Observation>)> = groups
                .par_iter()
                .flat_map_iter(|g| {
                    let mut outs: Vec<Option<TableOut>> =
                        prep.tables.iter().map(|_| None).collect();
                    for &t in &g.tables {
                        outs[t] = Some(cube.table(&prep, t));
                    }
                    let ctx = ObsCtx {
                        frame,
                        p: self.p,
                        schema: self.schema,
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
        let universe = Universe {
            strata: frame.strata.clone(),
            units,
        };
        Ok((
            CubeResult {
                observations,
                skipped: prep.skipped,
            },
            universe,
        ))
    }
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

/// The catalogue's indicators of the frame's record, in catalogue order, each checked part by
/// part: `dim` checks a breakdown (once per name), then the value and population are checked;
/// `supported` is called with each indicator whose parts all pass, and its parts (itself, or a
/// ratio's numerator and denominator). Returns the indicators skipped, with the first reason.
fn select<'c>(
    frame: &Frame,
    schema: &'c Schema,
    dim: &mut dyn FnMut(&str) -> std::result::Result<(), String>,
    supported: &mut dyn FnMut(&'c Indicator, &[&'c Indicator]),
) -> Vec<(String, String)> {
    let cat = &schema.catalogue;
    let mut skipped = Vec::new();
    let mut ok: BTreeMap<String, bool> = BTreeMap::new();
    let mut dims: BTreeMap<String, std::result::Result<(), String>> = BTreeMap::new();
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
            for d in table_dims(part) {
                let checked = dims.entry(d.clone()).or_insert_with(|| dim(&d));
                if let Err(e) = checked {
                    return Some(e.clone());
                }
            }
            if let Some(v) = &part.value {
                if !matches!(frame.mapped(v), Some(ColData::Float(_))) {
                    return Some(format!("value {v} is not mapped"));
                }
            }
            let pop = part.population.clone().unwrap_or_default();
            populations::available(frame, &cat.population[&pop]).err()
        });
        match why {
            None => {
                for part in &parts {
                    ok.insert(part.code.clone(), true);
                }
                supported(ind, &parts);
            }
            Some(reason) => skipped.push((ind.code.clone(), reason)),
        }
    }
    skipped
}

/// The indicators the rows support: breakdowns whose codes (or age intervals) some version of
/// the classification holds, with the output codes of those versions.
fn prepare<'a>(
    frame: &Frame,
    schema: &'a Schema,
    seen: &BTreeMap<String, Seen>,
    ages: &Seen,
) -> Prepared<'a> {
    let mut plans = BTreeMap::new();
    let mut dim = |d: &str| -> std::result::Result<(), String> {
        let def = schema.codes.dim(d).map_err(|e| e.to_string())?;
        let plan = match (d, seen.get(d)) {
            ("age", _) => DimPlan::age(frame.age.intervals(), ages, def),
            (_, Some(seen)) => DimPlan::coded(d, def, &schema.codes, seen),
            (_, None) => None,
        };
        let plan = plan.ok_or_else(|| format!("breakdown {d} is not available in this source"))?;
        if plan.versions.is_empty() {
            return Err(format!("no version of {d} can be formed from this source"));
        }
        plans.insert(d.to_string(), plan);
        Ok(())
    };
    let mut indicators: Vec<&Indicator> = Vec::new();
    let mut tables = Vec::new();
    let skipped = select(frame, schema, &mut dim, &mut |ind, parts| {
        indicators.push(ind);
        for k in parts.iter().flat_map(|i| keys_of(i)) {
            if !tables.contains(&k) {
                tables.push(k);
            }
        }
    });
    Prepared {
        dims: plans,
        indicators,
        tables,
        skipped,
    }
}

/// One period's merged sums, from which each table is built when its indicators are finished.
struct PeriodCube<'v> {
    sums: State,
    /// First cell of each table of `Prepared::tables`.
    offsets: &'v [usize],
    /// The PSUs of the period's Taylor layout (empty without one).
    psus: &'v [u32],
}

impl PeriodCube<'_> {
    fn table(&self, prep: &Prepared, t: usize) -> TableOut {
        let plans: Vec<&DimPlan> = prep.tables[t].dims.iter().map(|d| &prep.dims[d]).collect();
        tables::build(&self.sums, self.offsets[t], &plans, self.psus)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dims: &[&str]) -> TableKey {
        TableKey {
            population: "P".into(),
            value: None,
            dims: dims.iter().map(|d| d.to_string()).collect(),
        }
    }

    /// Cells laid out for 2 age intervals move, when 4 are known, to the cell of the same
    /// codes (the missing age to the new last index), in increasing order; the states' sums go
    /// with them and the new cells hold nothing.
    #[test]
    fn a_layout_that_grows_by_age_intervals_keeps_every_cell_in_place() {
        let layout = Layout {
            tables: vec![
                key(&["sex", "age"]),
                key(&["age", "sex"]),
                key(&[]),
                key(&["age"]),
            ],
            pop_bits: BTreeMap::new(),
            coded: [("sex".to_string(), 3)].into(),
        };
        let (from, to) = (2, 4);
        let (map, n) = layout.remap(from, to);
        let (old_off, old_n) = layout.offsets(from);
        let (new_off, new_n) = layout.offsets(to);
        assert_eq!((old_n, n, new_n), (9 + 9 + 1 + 3, 15 + 15 + 1 + 5, 36));
        assert!(map.windows(2).all(|w| w[0] < w[1]));
        let age = |a: usize| if a == from { to } else { a };
        for s in 0..3 {
            for a in 0..=from {
                // sex × age: age fastest; age × sex: sex fastest.
                assert_eq!(
                    map[old_off[0] + s * 3 + a],
                    (new_off[0] + s * 5 + age(a)) as u32
                );
                assert_eq!(
                    map[old_off[1] + a * 3 + s],
                    (new_off[1] + age(a) * 3 + s) as u32
                );
            }
        }
        assert_eq!(map[old_off[2]], new_off[2] as u32);
        let mut state = State::new(old_n, 2, 1, core::ChunkKey::default());
        for c in 0..old_n {
            state.wsum[c] = c as f64 + 0.5;
            state.count[c] = c as u64;
            state.reps[2 * c] = -(c as f64);
            state.reps[2 * c + 1] = c as f64 * 2.0;
        }
        state.psus = vec![(7, vec![(1, 1.5), (20, 2.5)])];
        state.stages = vec![vec![(3, vec![(0, 4.0)])]];
        let moved = state.clone().relabel(&map, n);
        assert_eq!(moved.check(), Ok(()));
        for (c, &to) in map.iter().enumerate() {
            let to = to as usize;
            assert_eq!(moved.wsum[to], state.wsum[c]);
            assert_eq!(moved.count[to], state.count[c]);
            assert_eq!(moved.reps[2 * to..2 * to + 2], state.reps[2 * c..2 * c + 2]);
        }
        let filled: usize = moved.count.iter().filter(|&&c| c > 0).count();
        assert_eq!(filled, old_n - 1, "cell 0 counted nothing");
        assert_eq!(moved.wsum.iter().filter(|&&w| w != 0.0).count(), old_n);
        assert_eq!(moved.psus, vec![(7, vec![(map[1], 1.5), (map[20], 2.5)])]);
        assert_eq!(moved.stages, vec![vec![(3, vec![(map[0], 4.0)])]]);
    }
}
