//! A survey pipeline's steps: extract → normalise → validate → estimate → stage, with every
//! input row accounted for (loaded or quarantined).
use std::collections::BTreeMap;
use std::path::Path;

use super::{Ctx, InputSummary, Produced, RunOptions};
use crate::config::Pipeline;
use crate::error::{MigError, Result};
use crate::estimate::cube::CubeEngine;
use crate::estimate::design::align;
use crate::estimate::indicators::{estimate_frame, Cube, CubeResult};
use crate::estimate::Observation;
use crate::load::columns;
use crate::load::parquet::FileMeta;
use crate::load::warehouse::StagedParquet;
use crate::load::Staged;
use crate::normalize::household::Households;
use crate::normalize::{normalize, normalize_with, Chunks, Frame, Normalized, RecordSpec};
use crate::schema::Schema;
use crate::validate::RunChecks;

/// The note of a source whose weights do not gross up to the population (a public-use sample).
const NOT_GROSSED_UP: &str = "S5:NOT_GROSSED_UP";

/// The survey kind: normalise and validate the inputs, estimate the catalogue's cube, stage the
/// observations, microdata, emigrants, quarantined rows and reports.
pub(super) fn execute(
    p: &Pipeline,
    schema: &Schema,
    ctx: &mut Ctx,
    staged: &mut Staged,
) -> Result<Produced> {
    let opts = ctx.opts;
    if p.pipeline.note_source.iter().any(|n| n == NOT_GROSSED_UP) {
        let msg = format!(
            "{}: the weights do not gross up to the population ({NOT_GROSSED_UP} on every \
             value): counts are sample-scale, not population totals; rates are unaffected",
            p.pipeline.id
        );
        ctx.say(format!("  warning: {msg}"));
        tracing::warn!(event = "warning", pipeline = %p.pipeline.id, "{msg}");
    }
    // A file the mapping cannot read through gets the verdict `validate` gives it.
    // Replicate weights beyond the memory bound wait in the staging area, on the warehouse's
    // disk, and go with it.
    let spill = staged.scratch("spill")?;
    let microdata = writes_microdata(p, opts);
    let wh_dir = Some(opts.warehouse.as_path());
    let engine = match &opts.engine {
        Some(address) => {
            let dir = opts
                .engine_dir
                .clone()
                .unwrap_or_else(|| opts.warehouse.join(".migstat").join("engine"));
            Some(crate::cluster::cube_engine(address, &dir).map_err(MigError::Other)?)
        }
        None => None,
    };
    // The roster first: it is the small file, read whole, and the person rows' household
    // fields are derived from it.
    let mut roster = match RecordSpec::roster(p, schema) {
        Some(spec) => match normalize(
            p,
            schema,
            &spec.spill_in(&spill).replicates_read_by(microdata),
            None,
            opts.cap,
        ) {
            Ok(n) => Some(n),
            Err(e) => return verdict_of_validate(p, schema, ctx, staged, e),
        },
        None => None,
    };
    let roster_report = match (roster.as_mut(), RecordSpec::roster(p, schema)) {
        (Some(r), Some(spec)) => Some(crate::validate::validate_normalized(
            p, schema, &spec, r, wh_dir,
        )?),
        _ => None,
    };
    // The person file streams: chunk by chunk its rows are checked, their household fields
    // derived, added to the cube and written to the microdata, then dropped.
    let spec = RecordSpec::person(p, schema)
        .spill_in(&spill)
        .replicates_read_by(microdata);
    let path = match &opts.input {
        Some(path) => Ok(path.clone()),
        None => crate::extract::locate(spec.input, &p.dir),
    };
    let path = match path {
        Ok(path) => path,
        Err(e) => return verdict_of_validate(p, schema, ctx, staged, e),
    };
    let mut stream = Stream {
        checks: RunChecks::new(p, &spec, schema, opts.cap),
        households: Households::in_folder(spec.spill),
        failed: None,
        chunks: 0,
        held: 0,
    };
    let micro = microdata.then(|| Micro::new("microdata", p, opts));
    let run_id = ctx.run_id.clone();
    let meta = FileMeta {
        run_id: &run_id,
        schema_version: &schema.person.version,
    };
    let roster_frame = roster.as_ref().map(|r| &r.frame);
    let engine = engine.as_deref();
    let (person, file, estimated) = std::thread::scope(|s| {
        let file = s.spawn(|| crate::validate::file_rules(p, &spec, &path, opts.cap));
        // The chunks' rows go to a thread of their own for the cube and the microdata, while
        // this one reads, maps and checks the next (two chunks wait at most).
        let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(1);
        let meta = &meta;
        let staged = &mut *staged;
        let worker = s.spawn(move || {
            let mut estimated = Estimated { cube: None, micro };
            let done = estimated.take_all(rx, p, schema, engine, staged, meta);
            (estimated, done)
        });
        let mut sink = |n: &mut Normalized| {
            let taken = stream.take(n, roster_frame, schema, &tx);
            taken.map_err(|e| {
                let stop = MigError::Other(format!("stopped: {e}"));
                stream.failed = Some(e);
                stop
            })
        };
        let chunks = Chunks {
            rows: stream_rows(),
            sink: &mut sink,
        };
        let person = normalize_with(p, schema, &spec, Some(&path), opts.cap, Some(chunks));
        // The worker ends when the chunks do.
        drop(tx);
        let estimated = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let file = file
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (person, file, estimated)
    });
    let Stream {
        checks,
        failed,
        chunks,
        held,
        ..
    } = stream;
    let (Estimated { cube, micro }, done) = estimated;
    // The worker's own error comes first: the stream stopped because of it.
    let failed = match done {
        Err(e) => Some(e),
        Ok(()) => failed,
    };
    let mut person = match (person, failed) {
        (_, Some(e)) => {
            discard(micro);
            return Err(e);
        }
        (Ok(n), None) => n,
        (Err(e), None) => {
            discard(micro);
            return verdict_of_validate(p, schema, ctx, staged, e);
        }
    };
    let loaded = checks.loaded;
    if chunks > 1 {
        ctx.say(format!(
            "  person {}: streamed in {chunks} chunks of at most {held} rows",
            person.display.display()
        ));
    }
    let mut reports = vec![checks.finish(file, &mut person, wh_dir)?];
    reports.extend(roster_report);
    let inputs: Vec<&Normalized> = std::iter::once(&person).chain(roster.as_ref()).collect();
    let summaries: Vec<InputSummary> = std::iter::once(input_summary(&person, loaded))
        .chain(
            roster
                .iter()
                .map(|r| input_summary(r, r.frame.len() as u64)),
        )
        .collect();
    for s in &summaries {
        ctx.say(format!(
            "  {} {}: read {} rows, loaded {}, quarantined {} ({} errors, {} warnings)",
            s.record, s.file, s.rows_read, s.rows_loaded, s.rows_quarantined, s.errors, s.warnings
        ));
    }
    let scratch = staged.scratch("reports")?;
    crate::validate::Report::new(p, &reports).write_run_files_in(&scratch, opts.lang)?;
    staged.adopt(&ctx.run_rel(), &scratch)?;
    let mut produced = Produced {
        validation: serde_json::to_value(&summaries).unwrap_or_default(),
        inputs: summaries,
        ..Default::default()
    };
    let report = ctx.run_rel().join("validation.txt");
    if let Some(msg) = rejection(p, &inputs, &produced.inputs) {
        discard(micro);
        produced.rejected = Some(format!(
            "{msg}; nothing was loaded.\nReport: {}",
            opts.warehouse.join(report).display()
        ));
        return Ok(produced);
    }
    // The roster's strata and PSUs are numbered as the person file's (one design).
    if let Some(r) = roster.as_mut() {
        align(&mut r.frame, &person.frame);
        if !microdata {
            r.frame.forget_names();
        }
    }
    let cube = match cube {
        Some(cube) => cube,
        None => Cube::new(&person.frame, p, &p.design, schema, engine)?,
    };
    let (cube, universe) = cube.finish(&person.frame, None)?;
    let mut cubes = vec![cube];
    if let Some(r) = &roster {
        let design = p
            .roster
            .as_ref()
            .and_then(|r| r.design.as_ref())
            .unwrap_or(&p.design);
        cubes.push(estimate_frame(
            &r.frame,
            p,
            design,
            schema,
            Some(&universe),
            engine,
        )?);
    }
    let (obs_counts, skipped) = stage_observations(p, cubes, &meta, staged)?;
    produced.observations = obs_counts;
    produced.skipped_indicators = skipped;
    if let Some(micro) = micro {
        micro.done(&person.frame, schema, p, &meta, staged)?;
    }
    if let (Some(r), true) = (&roster, microdata) {
        let mut emigrants = Micro::new("emigrants", p, opts);
        emigrants.write(&r.frame, p, schema, &meta, staged)?;
        emigrants.done(&r.frame, schema, p, &meta, staged)?;
    }
    for n in std::iter::once(&person).chain(roster.as_ref()) {
        if !n.quarantined.is_empty() {
            let rel = Path::new("quarantine")
                .join(&ctx.run_id)
                .join(quarantine_name(n));
            staged.bytes(&rel, &quarantine_csv(n)?)?;
        }
    }
    Ok(produced)
}

/// Rows of the person file taken (checked, derived, estimated, written) at a time.
const STREAM_ROWS: usize = 32_768;

/// [`STREAM_ROWS`], or in a build with the `failpoints` feature `MIGSTAT_STREAM_ROWS` (tests
/// cut small inputs into many chunks).
fn stream_rows() -> usize {
    crate::load::failpoint::size("MIGSTAT_STREAM_ROWS", STREAM_ROWS)
}

/// What the person file's chunks go through on the thread that reads them.
struct Stream<'a> {
    checks: RunChecks<'a>,
    households: Households,
    /// The error that stopped the stream (not the input's: a write, the engine).
    failed: Option<MigError>,
    /// Chunks taken, and the most rows one held.
    chunks: u64,
    held: usize,
}

impl Stream<'_> {
    /// Checks one chunk's rows, derives their household fields and hands them on (unless
    /// errors were found: nothing will load, the rest is only checked).
    fn take(
        &mut self,
        n: &mut Normalized,
        roster: Option<&Frame>,
        schema: &Schema,
        to: &std::sync::mpsc::SyncSender<Frame>,
    ) -> Result<()> {
        // Replicate weights of the chunk beyond the memory bound are read back from their file
        // once written.
        let reps = &mut n.frame.reps;
        reps.seal().map_err(|e| MigError::io(reps.folder(), e))?;
        self.chunks += 1;
        self.held = self.held.max(n.frame.len());
        self.checks.chunk(n);
        if n.findings.has_errors() {
            n.frame.clear_rows();
            return Ok(());
        }
        self.households.derive(&mut n.frame, roster, &schema.codes);
        if let Some(e) = self.households.take_error() {
            return Err(e);
        }
        to.send(n.frame.take_rows())
            .map_err(|_| MigError::Other("the estimation of the chunks stopped".into()))
    }
}

/// What the person file's chunks go into, on a thread of their own: the cube and the microdata.
struct Estimated<'a> {
    cube: Option<Cube<'a>>,
    micro: Option<Micro>,
}

impl<'a> Estimated<'a> {
    /// Takes the chunks in order until the reading ends (or fails at the first error).
    fn take_all(
        &mut self,
        chunks: std::sync::mpsc::Receiver<Frame>,
        p: &'a Pipeline,
        schema: &'a Schema,
        engine: Option<&'a dyn CubeEngine>,
        staged: &mut Staged,
        meta: &FileMeta,
    ) -> Result<()> {
        for frame in chunks {
            let cube = match &mut self.cube {
                Some(c) => c,
                None => self
                    .cube
                    .insert(Cube::new(&frame, p, &p.design, schema, engine)?),
            };
            cube.update(&frame)?;
            if let Some(m) = self.micro.as_mut() {
                m.write(&frame, p, schema, meta, staged)?;
            }
        }
        Ok(())
    }
}

/// Leaves the microdata written so far out of the transaction.
fn discard(micro: Option<Micro>) {
    for w in micro.into_iter().flat_map(|m| m.writers).flatten() {
        w.discard();
    }
}

/// A record's microdata, one file per period, written as the rows come (the person file's chunk
/// by chunk, the roster's at once) in slices of [`STREAM_ROWS`].
struct Micro {
    files: Files,
    /// By the frame's period index.
    writers: Vec<Option<StagedParquet>>,
}

impl Micro {
    /// The files of `table` (`microdata`, `emigrants`): in a `--microdata-dir` when one is given
    /// (confidential microdata, area 1), else in the warehouse.
    fn new(table: &'static str, p: &Pipeline, opts: &RunOptions) -> Micro {
        Micro {
            files: Files {
                table,
                src_file: format!("{}.parquet", p.source_id()),
                area: usize::from(opts.microdata_dir.is_some()),
            },
            writers: Vec::new(),
        }
    }

    fn write(
        &mut self,
        frame: &Frame,
        p: &Pipeline,
        schema: &Schema,
        meta: &FileMeta,
        staged: &mut Staged,
    ) -> Result<()> {
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); frame.times.len()];
        for (r, &t) in frame.time.iter().enumerate() {
            rows[t as usize].push(r as u32);
        }
        for (t, rows) in rows.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            let w = self.writer(t, frame, p, schema, meta, staged)?;
            for slice in rows.chunks(STREAM_ROWS) {
                w.push(&columns::microdata(frame, slice, schema)?)?;
            }
        }
        Ok(())
    }

    /// Period `t`'s file, started when its first rows come.
    fn writer(
        &mut self,
        t: usize,
        frame: &Frame,
        p: &Pipeline,
        schema: &Schema,
        meta: &FileMeta,
        staged: &mut Staged,
    ) -> Result<&mut StagedParquet> {
        if self.writers.len() <= t {
            self.writers.resize_with(t + 1, || None);
        }
        let slot = &mut self.writers[t];
        if slot.is_none() {
            let rel = self.files.rel(p, &frame.times[t]);
            let shape = columns::microdata(frame, &[], schema)?.schema();
            *slot = Some(staged.parquet_writer(self.files.area, &rel, shape, meta)?);
        }
        slot.as_mut()
            .ok_or_else(|| MigError::Other("a microdata file was not started".into()))
    }

    /// Stages every period's file (a period whose rows were all set aside gets an empty one).
    fn done(
        mut self,
        frame: &Frame,
        schema: &Schema,
        p: &Pipeline,
        meta: &FileMeta,
        staged: &mut Staged,
    ) -> Result<()> {
        for t in 0..frame.times.len() {
            self.writer(t, frame, p, schema, meta, staged)?;
        }
        for w in self.writers.into_iter().flatten() {
            staged.parquet_done(w)?;
        }
        Ok(())
    }
}

/// When the mapping stopped at a cell it cannot read (`read_error`), `validate`'s engine reads the
/// inputs instead: its findings become the run's report (written under `runs/`) and the run is
/// rejected (exit 1) as `validate` rejects the file; a file it cannot check either is exit 2.
fn verdict_of_validate(
    p: &Pipeline,
    schema: &Schema,
    ctx: &mut Ctx,
    staged: &mut Staged,
    read_error: MigError,
) -> Result<Produced> {
    use crate::validate::command::{could_not_check, validate_survey};
    let opts = ctx.opts;
    let inputs = validate_survey(
        p,
        schema,
        opts.input.as_deref(),
        opts.cap,
        Some(opts.warehouse.as_path()),
    )
    .map_err(could_not_check)?;
    let report = crate::validate::Report::new(p, &inputs);
    if report.loadable {
        return Err(could_not_check(read_error));
    }
    let scratch = staged.scratch("reports")?;
    report.write_run_files_in(&scratch, opts.lang)?;
    staged.adopt(&ctx.run_rel(), &scratch)?;
    let summaries: Vec<InputSummary> = report
        .inputs
        .iter()
        .map(|i| InputSummary {
            record: i.record.clone(),
            file: i.file.clone(),
            size: i.file_facts.size_bytes,
            rows_read: i.rows_read,
            rows_loaded: 0,
            rows_quarantined: 0,
            errors: i
                .counts
                .iter()
                .filter(|c| c.severity == crate::config::pipeline::Severity::Error)
                .map(|c| c.count)
                .sum(),
            warnings: i
                .counts
                .iter()
                .filter(|c| c.severity == crate::config::pipeline::Severity::Warning)
                .map(|c| c.count)
                .sum(),
        })
        .collect();
    for s in &summaries {
        ctx.say(format!(
            "  {} {}: read {} rows, {} errors, {} warnings",
            s.record, s.file, s.rows_read, s.errors, s.warnings
        ));
    }
    let text = ctx.run_rel().join("validation.txt");
    let msg = crate::validate::report::text::verdict_text(&report, opts.lang);
    Ok(Produced {
        validation: serde_json::to_value(&summaries).unwrap_or_default(),
        inputs: summaries,
        rejected: Some(format!(
            "{}\nReading stopped at: {}\nReport: {}",
            msg.trim_end_matches('.'),
            crate::error::cut(&read_error.to_string(), 1_000),
            opts.warehouse.join(text).display()
        )),
        ..Default::default()
    })
}

/// Why nothing may load: validation errors, or more quarantined rows than the pipeline's
/// `validation.max_quarantined_share` allows (an input that loads no row at all never passes).
fn rejection(p: &Pipeline, inputs: &[&Normalized], s: &[InputSummary]) -> Option<String> {
    use crate::config::pipeline::Severity;
    if let Some(bad) = inputs.iter().find(|n| n.findings.has_errors()) {
        let first = bad.findings.first_error().map(|f| {
            format!(
                "{}:{}: column {}: {} (value {:?})",
                bad.display.display(),
                f.line,
                f.column,
                f.message,
                crate::error::cut(&f.value, 200)
            )
        });
        let n: u64 = inputs
            .iter()
            .map(|n| n.findings.count(Severity::Error))
            .sum();
        return Some(format!(
            "validation found {n} errors. First: {}",
            first.unwrap_or_default()
        ));
    }
    let share = p.validation.max_quarantined_share;
    for i in s.iter().filter(|i| i.rows_read > 0) {
        let q = i.rows_quarantined as f64 / i.rows_read as f64;
        if i.rows_loaded == 0 || q > share {
            return Some(format!(
                "{}: {} of {} rows quarantined ({:.1} %), more than the pipeline's \
                 validation.max_quarantined_share of {:.1} %",
                i.file,
                i.rows_quarantined,
                i.rows_read,
                q * 100.0,
                share * 100.0
            ));
        }
    }
    None
}

/// The counts of one input, `loaded` of its rows in the frame or gone through it.
fn input_summary(n: &Normalized, loaded: u64) -> InputSummary {
    use crate::config::pipeline::Severity;
    InputSummary {
        record: n.frame.record.clone(),
        file: n.display.display().to_string(),
        size: n.size,
        rows_read: n.rows_read,
        rows_loaded: loaded,
        rows_quarantined: n.quarantined.len() as u64,
        errors: n.findings.count(Severity::Error),
        warnings: n.findings.count(Severity::Warning),
    }
}

type Staging = (BTreeMap<String, usize>, Vec<(String, String)>);

/// Stages the observations of the person cube and the roster's, one file per period.
fn stage_observations(
    p: &Pipeline,
    cubes: Vec<CubeResult>,
    meta: &FileMeta,
    staged: &mut Staged,
) -> Result<Staging> {
    let mut by_time: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for cube in cubes {
        for o in cube.observations {
            by_time.entry(o.time.clone()).or_default().push(o);
        }
        skipped.extend(cube.skipped);
    }
    let src_file = format!("{}.parquet", p.source_id());
    let mut counts = BTreeMap::new();
    for (time, obs) in &by_time {
        let rel = Path::new("observations")
            .join(&p.pipeline.ref_area)
            .join(time)
            .join(&src_file);
        staged.parquet(&rel, &columns::observations(obs)?, meta)?;
        counts.insert(time.clone(), obs.len());
    }
    Ok((counts, skipped))
}

/// Whether this run writes the pipeline's microdata (and emigrants): the pipeline asks for
/// them and `--no-microdata` was not given.
fn writes_microdata(p: &Pipeline, opts: &RunOptions) -> bool {
    p.pipeline.microdata && !opts.no_microdata
}

/// Where one record's microdata go.
struct Files {
    table: &'static str,
    src_file: String,
    area: usize,
}

impl Files {
    /// The file of period `time`.
    fn rel(&self, p: &Pipeline, time: &str) -> std::path::PathBuf {
        Path::new(self.table)
            .join(&p.pipeline.ref_area)
            .join(time)
            .join(&self.src_file)
    }
}

/// `<input file name>.csv`: the zip member's name for an archive, without `.csv`/`.gz` twice;
/// characters that may not be in a path component become `_`.
fn quarantine_name(n: &Normalized) -> String {
    let shown = n.display.to_string_lossy();
    let base = shown.rsplit(['!', '/', '\\']).next().unwrap_or("input");
    let stem = base.strip_suffix(".gz").unwrap_or(base);
    let stem = stem.strip_suffix(".csv").unwrap_or(stem);
    format!("{}.csv", crate::load::warehouse::safe_stem(stem))
}

/// Quarantined rows with their original columns plus `line, key, rule, message`.
fn quarantine_csv(n: &Normalized) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| MigError::Other(format!("writing quarantine rows: {e}"));
    let mut header = n.headers.clone();
    header.extend(["line", "key", "rule", "message"].map(String::from));
    w.write_record(&header).map_err(err)?;
    for q in &n.quarantined {
        let mut rec = q.cells.clone();
        rec.resize(n.headers.len(), String::new());
        rec.extend([
            q.line.to_string(),
            q.key.clone(),
            q.rule.clone(),
            q.message.clone(),
        ]);
        w.write_record(&rec).map_err(err)?;
    }
    w.into_inner().map_err(|e| MigError::Other(e.to_string()))
}
