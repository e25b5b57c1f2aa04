//! Normalise: map an input's rows onto a harmonised record through the pipeline's field plans.
//! Every row read is either loaded into the frame or quarantined with its reason; rows with
//! errors are reported and, when any exist, nothing is loaded.
mod chunk;
pub mod design;
pub mod frame;
pub mod household;
pub mod mapper;
pub mod reps;
pub mod value;

use std::path::{Path, PathBuf};

pub use frame::{ColData, FieldCol, Frame, Val, NONE, NO_CODE};

use crate::config::pipeline::{Design, FieldMap, Input, Pipeline, Severity, TimeSpec};
use crate::error::{MigError, Result};
use crate::extract::{self, BatchSize, RowSource};
use crate::schema::{RecordSchema, Schema};
use crate::validate::{Finding, Findings};
use design::SystemPlan;
use mapper::{FieldPlan, Problem};

/// A row set aside, with its original cells.
#[derive(Debug, Clone)]
pub struct QuarantinedRow {
    pub cells: Vec<String>,
    pub line: u64,
    pub key: String,
    pub rule: String,
    pub message: String,
}

/// The outcome of normalising one input file.
pub struct Normalized {
    pub frame: Frame,
    pub findings: Findings,
    pub headers: Vec<String>,
    pub quarantined: Vec<QuarantinedRow>,
    pub rows_read: u64,
    /// What messages call the input (zip members as `archive.zip!member`).
    pub display: PathBuf,
    pub path: PathBuf,
    pub size: u64,
}

impl Normalized {
    pub fn rows_loaded(&self) -> u64 {
        self.frame.len() as u64
    }
}

/// What one record kind of a pipeline reads: input, time, design and field maps.
pub struct RecordSpec<'a> {
    pub record: &'a RecordSchema,
    pub input: &'a Input,
    pub time: &'a TimeSpec,
    pub design: &'a Design,
    pub fields: &'a std::collections::BTreeMap<String, FieldMap>,
    /// Where replicate weights beyond `reps::MEMORY_BYTES`, and keys and households beyond
    /// `seen::MEMORY_BYTES`, are kept (`None`: the system's temporary folder); a run names its
    /// staging area, on the warehouse's disk.
    pub spill: Option<&'a Path>,
    /// Whether the frame keeps the replicate weights (they are still read and checked);
    /// `validate`, which estimates nothing, keeps none.
    pub keep_replicates: bool,
}

impl<'a> RecordSpec<'a> {
    pub fn person(p: &'a Pipeline, schema: &'a Schema) -> Self {
        RecordSpec {
            record: &schema.person,
            input: &p.input,
            time: &p.time,
            design: &p.design,
            fields: &p.fields,
            spill: None,
            keep_replicates: true,
        }
    }

    /// The roster record, inheriting the person file's time and design where it has none.
    pub fn roster(p: &'a Pipeline, schema: &'a Schema) -> Option<Self> {
        let r = p.roster.as_ref()?;
        Some(RecordSpec {
            record: &schema.emigrant,
            input: &r.input,
            time: r.time.as_ref().unwrap_or(&p.time),
            design: r.design.as_ref().unwrap_or(&p.design),
            fields: &r.fields,
            spill: None,
            keep_replicates: true,
        })
    }

    /// The same record, keeping its replicate weights only where something reads them: the
    /// standard errors (replicate variance, declared or chosen because the input has replicate
    /// weights) or the microdata written. A Taylor run without microdata still reads and checks
    /// every weight, but neither holds nor spills 8 bytes per replicate per row.
    pub fn replicates_read_by(self, microdata: bool) -> Self {
        let estimated = !matches!(self.design.variance.as_deref(), Some("taylor" | "none"));
        RecordSpec {
            keep_replicates: self.keep_replicates && (microdata || estimated),
            ..self
        }
    }

    /// The same record, its replicate weights spilled to `dir` past the memory bound.
    pub fn spill_in(self, dir: &'a Path) -> Self {
        RecordSpec {
            spill: Some(dir),
            ..self
        }
    }
}

/// Reads `path` (or the pipeline's input) and maps every row.
pub fn normalize(
    p: &Pipeline,
    schema: &Schema,
    spec: &RecordSpec,
    path: Option<&Path>,
    cap: u64,
) -> Result<Normalized> {
    normalize_with(p, schema, spec, path, cap, None)
}

/// A sink handed the `Normalized` state every `rows` rows (loaded, or quarantined since the last
/// call) and once at the end; one that takes the frame's rows and then clears them
/// (`Frame::clear_rows`) keeps memory bounded whatever the file's size. An error from the sink
/// stops the reading and is returned.
pub struct Chunks<'a> {
    pub rows: usize,
    pub sink: &'a mut dyn FnMut(&mut Normalized) -> Result<()>,
}

/// `normalize`, handing the rows to `chunks` as they are mapped (see `Chunks`).
pub fn normalize_with(
    p: &Pipeline,
    schema: &Schema,
    spec: &RecordSpec,
    path: Option<&Path>,
    cap: u64,
    chunks: Option<Chunks>,
) -> Result<Normalized> {
    normalize_in(p, schema, spec, path, cap, chunks, BatchSize::default())
}

/// `normalize_with`, reading batches of `size`: the frame, the findings and the quarantine do
/// not depend on it (nor on the number of threads).
pub fn normalize_in(
    p: &Pipeline,
    schema: &Schema,
    spec: &RecordSpec,
    path: Option<&Path>,
    cap: u64,
    mut chunks: Option<Chunks>,
    size: BatchSize,
) -> Result<Normalized> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => extract::locate(spec.input, &p.dir)?,
    };
    let mut src = extract::open(spec.input, &path)?;
    let mut findings = Findings::with_cap(cap);
    let mut frame = new_frame(p, schema, spec);
    let (sys, mut problems) = SystemPlan::build(src.as_ref(), spec.input, spec.time, spec.design);
    let mut plans = Vec::new();
    for (slot, col) in frame.fields.iter().enumerate() {
        let (Some(map), Some(def)) = (spec.fields.get(&col.name), spec.record.field(&col.name))
        else {
            continue;
        };
        match FieldPlan::build(
            def,
            slot,
            map,
            src.as_ref(),
            schema,
            value::Numbers::of(spec.input),
        ) {
            Ok(plan) => plans.push(plan),
            Err(prob) => problems.push(prob),
        }
    }
    frame.rep_names = sys.reps.iter().map(|r| r.1.clone()).collect();
    let kept = if spec.keep_replicates {
        sys.reps.len()
    } else {
        0
    };
    frame.reps = reps::Replicates::new(kept, spec.spill, reps::memory_bound());
    let ctx = Ctx { p, spec };
    for prob in problems {
        findings.push(ctx.finding(&prob, 1, "-"));
    }
    let mut out = Normalized {
        frame,
        findings,
        headers: src.headers().to_vec(),
        quarantined: Vec::new(),
        rows_read: 0,
        display: src.display().to_path_buf(),
        path,
        size: src.size(),
    };
    if out.findings.has_errors() {
        return Ok(out);
    }
    read_rows(
        &ctx,
        src.as_mut(),
        &sys,
        &plans,
        &mut out,
        &mut chunks,
        size,
    )?;
    if let Some(c) = chunks.as_mut() {
        (c.sink)(&mut out)?;
    }
    out.frame
        .reps
        .seal()
        .map_err(|e| MigError::io(out.frame.reps.folder(), e))?;
    out.frame.shrink_to_fit();
    Ok(out)
}

struct Ctx<'a> {
    p: &'a Pipeline,
    spec: &'a RecordSpec<'a>,
}

impl Ctx<'_> {
    fn severity(&self, prob: &Problem) -> Severity {
        let default = crate::validate::rules::default_severity(prob.rule);
        self.p
            .severity(prob.rule, self.spec.fields.get(&prob.field), default)
    }

    fn finding(&self, prob: &Problem, line: u64, key: &str) -> Finding {
        Finding {
            rule: prob.rule.to_string(),
            severity: self.severity(prob),
            line,
            key: key.to_string(),
            column: prob.column.clone(),
            value: prob.value.clone(),
            message: prob.message.clone(),
        }
    }
}

fn new_frame(p: &Pipeline, schema: &Schema, spec: &RecordSpec) -> Frame {
    let fields = spec
        .record
        .columns()
        .map(|d| FieldCol {
            name: d.name.clone(),
            ty: d.ty,
            dim: d.dimension.clone(),
            mapped: spec.fields.contains_key(&d.name),
            note: spec.fields.get(&d.name).and_then(|m| m.note.clone()),
            data: ColData::new(d.ty),
        })
        .collect();
    let _ = schema;
    Frame {
        record: spec.record.record.clone(),
        ref_area: p.pipeline.ref_area.clone(),
        source: p.pipeline.source.clone(),
        fields,
        ..Default::default()
    }
}

/// The row loop: batches are read on this thread, mapped on the worker pool and merged here in
/// input order (`extract::ordered`).
fn read_rows(
    ctx: &Ctx,
    src: &mut dyn RowSource,
    sys: &SystemPlan,
    plans: &[FieldPlan],
    out: &mut Normalized,
    chunks: &mut Option<Chunks>,
    size: BatchSize,
) -> Result<()> {
    let width = src.headers().len();
    let weight_col = ctx.spec.design.weight.as_deref().unwrap_or("weight");
    // Replicate weights nothing reads are checked on the pool and never reach the merge.
    let keep_reps = out.frame.reps.count() > 0;
    let mut merge = Merge {
        ctx,
        plans: plans.len(),
        reps: out.frame.reps.count(),
        width,
        seen_keys: crate::validate::seen::KeySet::in_folder(ctx.spec.spill),
        index: DesignIndex::default(),
        slots: plans.iter().map(|p| p.slot).collect(),
        set_aside: 0,
    };
    extract::ordered::in_order(
        || src.next_job(size),
        |_, job| job().map(|b| chunk::map_batch(sys, plans, weight_col, width, keep_reps, b)),
        |mapped| merge.batch(&mapped?, out, chunks),
    )
}

/// What the merge of batches keeps from one batch to the next.
struct Merge<'a> {
    ctx: &'a Ctx<'a>,
    plans: usize,
    /// Replicate weights kept per row (0: the design has none, or nothing reads them).
    reps: usize,
    width: usize,
    seen_keys: crate::validate::seen::KeySet,
    index: DesignIndex,
    slots: Vec<usize>,
    /// Quarantined rows when the chunk sink was last called.
    set_aside: usize,
}

impl Merge<'_> {
    /// Takes one mapped batch's rows into the frame, the quarantine and the findings.
    fn batch(
        &mut self,
        m: &chunk::Mapped,
        out: &mut Normalized,
        chunks: &mut Option<Chunks>,
    ) -> Result<()> {
        let ctx = self.ctx;
        // Rows loaded since their mapped values were last put in the frame: the values go in
        // field by field, before the chunk sink takes the rows and at the batch's end.
        let mut loaded: Vec<usize> = Vec::with_capacity(m.rows.len());
        for (r, row) in m.rows.iter().enumerate() {
            if let Some(c) = chunks.as_mut() {
                if out.frame.len() + out.quarantined.len() - self.set_aside >= c.rows {
                    self.push_values(&mut out.frame, m, &mut loaded);
                    (c.sink)(out)?;
                    self.set_aside = out.quarantined.len();
                }
            }
            out.rows_read += 1;
            let line = m.batch.line(r);
            let structural = match row.shape {
                chunk::Shape::Blank => Some(Problem {
                    rule: "row_width",
                    field: String::new(),
                    column: "-".into(),
                    value: String::new(),
                    message: "blank line".into(),
                }),
                chunk::Shape::Width(n) => Some(Problem {
                    rule: "row_width",
                    field: String::new(),
                    column: "-".into(),
                    value: format!("{n} cells"),
                    message: format!("the row has {n} cells where the header has {}", self.width),
                }),
                chunk::Shape::Fits => None,
            };
            if let Some(prob) = structural {
                set_aside(
                    ctx,
                    out,
                    &prob,
                    line,
                    &line.to_string(),
                    &m.batch.row_cells(r),
                );
                continue;
            }
            let key: std::borrow::Cow<str> = match &row.sys {
                Some(s) => s.key.of(&m.sys_text).into(),
                None => line.to_string().into(),
            };
            let mut dup = None;
            if let Some(s) = &row.sys {
                if !self.seen_keys.insert(u128::from(s.key_fp)) {
                    dup = Some(Problem {
                        rule: "duplicate_key",
                        field: "key".into(),
                        column: key_columns(ctx.spec),
                        value: key.to_string(),
                        message: format!("business key {key} occurs more than once"),
                    });
                }
            }
            // Report every problem; the strictest decides the row's fate.
            let mut worst = Severity::Info;
            let mut first_q: Option<&Problem> = None;
            for p in row.problems.iter().chain(dup.as_ref()) {
                let f = ctx.finding(p, line, &key);
                if f.severity == Severity::Quarantine && first_q.is_none() {
                    first_q = Some(p);
                }
                worst = worst.max(f.severity);
                if f.severity != Severity::Quarantine {
                    out.findings.push(f);
                }
            }
            match worst {
                Severity::Error => continue,
                Severity::Quarantine => {
                    if let Some(p) = first_q {
                        set_aside(ctx, out, p, line, &key, &m.batch.row_cells(r));
                    }
                    continue;
                }
                _ => {}
            }
            let Some(s) = &row.sys else { continue };
            match push_row(
                &mut out.frame,
                s,
                &m.sys_text,
                line,
                m.ages[r],
                &mut self.index,
                ctx.spec.design.nest,
            ) {
                Ok(()) => {
                    loaded.push(r);
                    out.frame
                        .reps
                        .push(m.reps(r, self.reps))
                        .map_err(|e| MigError::io(out.frame.reps.folder(), e))?
                }
                Err(mut p) => {
                    p.column = ctx.spec.design.psu.clone().unwrap_or(p.column);
                    out.findings.push(ctx.finding(&p, line, &key));
                }
            }
        }
        self.push_values(&mut out.frame, m, &mut loaded);
        self.seen_keys.take_error().map_or(Ok(()), Err)
    }

    /// Puts the mapped values of the `loaded` rows of `m` in the frame, field by field (a
    /// field no plan fills gets missing values), and empties `loaded`.
    fn push_values(&self, frame: &mut Frame, m: &chunk::Mapped, loaded: &mut Vec<usize>) {
        if loaded.is_empty() {
            return;
        }
        let mut planned = self.slots.iter().enumerate().peekable();
        for slot in 0..frame.fields.len() {
            match planned.next_if(|(_, s)| **s == slot) {
                Some((k, _)) => {
                    frame.push_values(slot, loaded.iter().map(|&r| &m.vals(r, self.plans)[k]))
                }
                None => frame.push_values(slot, loaded.iter().map(|_| &Val::Null)),
            }
        }
        loaded.clear();
    }
}

/// The columns of the business key as findings name them (`HH_ID+MEMBER`; `line` without ids).
fn key_columns(spec: &RecordSpec) -> String {
    if spec.input.key.is_empty() {
        "line".into()
    } else {
        spec.input.key.join("+")
    }
}

fn set_aside(
    ctx: &Ctx,
    out: &mut Normalized,
    prob: &Problem,
    line: u64,
    key: &str,
    cells: &[String],
) {
    let f = ctx.finding(prob, line, key);
    let sev = f.severity;
    let mut f = f;
    if sev != Severity::Quarantine && sev != Severity::Error {
        // Structural problems cannot load; they are quarantined at least.
        f.severity = Severity::Quarantine;
    }
    let quarantine = f.severity == Severity::Quarantine;
    out.findings.push(f);
    if quarantine {
        out.quarantined.push(QuarantinedRow {
            cells: cells.to_vec(),
            line,
            key: key.to_string(),
            rule: prob.rule.to_string(),
            message: prob.message.clone(),
        });
    }
}

/// Hash indexes of the interned strata and PSUs, and each PSU's stratum; with the last row's
/// stratum and PSU as the file names them (rows of a PSU usually follow each other, and then
/// are interned without a lookup).
#[derive(Default)]
struct DesignIndex {
    strata: std::collections::HashMap<String, u32>,
    psus: std::collections::HashMap<String, u32>,
    psu_stratum: Vec<u32>,
    last_stratum: Option<(String, u32)>,
    last_psu: Option<(u32, String, u32)>,
    /// The name a PSU is interned by (its stratum's before it when PSUs are nested).
    name: String,
}

impl DesignIndex {
    fn stratum(&mut self, list: &mut Vec<String>, s: &str) -> u32 {
        match &mut self.last_stratum {
            Some((name, i)) if name == s => *i,
            Some((name, i)) => {
                *i = intern_fast(list, &mut self.strata, s);
                name.clear();
                name.push_str(s);
                *i
            }
            last => {
                let i = intern_fast(list, &mut self.strata, s);
                *last = Some((s.to_string(), i));
                i
            }
        }
    }
}

fn intern_fast(
    list: &mut Vec<String>,
    index: &mut std::collections::HashMap<String, u32>,
    s: &str,
) -> u32 {
    if let Some(&i) = index.get(s) {
        return i;
    }
    list.push(s.to_string());
    let i = (list.len() - 1) as u32;
    index.insert(s.to_string(), i);
    i
}

fn push_row(
    frame: &mut Frame,
    r: &design::SystemRow,
    text: &str,
    line: u64,
    age: Option<(i64, i64)>,
    index: &mut DesignIndex,
    nest: bool,
) -> std::result::Result<(), Problem> {
    let stratum = r
        .stratum
        .map(|s| index.stratum(&mut frame.strata, s.of(text)))
        .unwrap_or(NONE);
    let psu = match r.psu.map(|p| p.of(text)) {
        Some(p) if matches!(&index.last_psu, Some((s, name, _)) if *s == stratum && name == p) => {
            index.last_psu.as_ref().map_or(NONE, |l| l.2)
        }
        Some(p) => {
            let name = &mut index.name;
            name.clear();
            if nest && stratum != NONE {
                name.push_str(&frame.strata[stratum as usize]);
                name.push('/');
            }
            name.push_str(p);
            let idx = intern_fast(&mut frame.psus, &mut index.psus, &index.name);
            if idx as usize == index.psu_stratum.len() {
                index.psu_stratum.push(stratum);
            } else if index.psu_stratum[idx as usize] != stratum {
                let other = index.psu_stratum[idx as usize];
                return Err(Problem {
                    rule: "bad_design",
                    field: "psu".into(),
                    column: "psu".into(),
                    value: p.to_string(),
                    message: format!(
                        "PSU {p} is in stratum {} and in stratum {}: set design.nest = true if PSU ids repeat across strata",
                        frame.strata.get(other as usize).map(String::as_str).unwrap_or("?"),
                        frame.strata.get(stratum as usize).map(String::as_str).unwrap_or("?")
                    ),
                });
            }
            match &mut index.last_psu {
                Some(last) => {
                    last.0 = stratum;
                    last.1.clear();
                    last.1.push_str(p);
                    last.2 = idx;
                }
                last => *last = Some((stratum, p.to_string(), idx)),
            }
            idx
        }
        None => NONE,
    };
    let t = frame.intern_time(r.time.of(text));
    frame.time.push(t);
    frame.key.push(Some(r.key.of(text)));
    frame.line.push(line);
    frame.hh_id.push(r.hh_id.map(|h| h.of(text)));
    frame.weight.push(r.weight);
    frame.stratum.push(stratum);
    frame.psu.push(psu);
    if let Some(f) = r.fpc {
        frame.fpc.get_or_insert_with(Vec::new).push(f);
    }
    frame.age.push(age);
    Ok(())
}
