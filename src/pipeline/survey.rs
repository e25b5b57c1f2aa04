//! A survey pipeline's steps: extract → normalise → validate → estimate → stage, with every
//! input row accounted for (loaded or quarantined).
use std::collections::BTreeMap;
use std::path::Path;

use super::{Ctx, InputSummary, Produced, RunOptions};
use crate::config::Pipeline;
use crate::error::{MigError, Result};
use crate::estimate::design::align;
use crate::estimate::indicators::estimate_frame;
use crate::estimate::Observation;
use crate::load::columns;
use crate::load::parquet::FileMeta;
use crate::load::Staged;
use crate::normalize::{household, normalize, Normalized, RecordSpec};
use crate::schema::Schema;

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
    let person = normalize(
        p,
        schema,
        &RecordSpec::person(p, schema)
            .spill_in(&spill)
            .replicates_read_by(microdata),
        opts.input.as_deref(),
        opts.cap,
    );
    let mut person = match person {
        Ok(n) => n,
        Err(e) => return verdict_of_validate(p, schema, ctx, staged, e),
    };
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
    // Validation rules beyond the mapping: file, header, record, household, plausibility.
    let wh_dir = Some(opts.warehouse.as_path());
    let mut reports = vec![crate::validate::validate_normalized(
        p,
        schema,
        &RecordSpec::person(p, schema),
        &mut person,
        wh_dir,
    )?];
    if let (Some(r), Some(spec)) = (roster.as_mut(), RecordSpec::roster(p, schema)) {
        reports.push(crate::validate::validate_normalized(
            p, schema, &spec, r, wh_dir,
        )?);
    }
    household::derive(
        &mut person.frame,
        roster.as_ref().map(|r| &r.frame),
        &schema.codes,
    );
    let inputs: Vec<&Normalized> = std::iter::once(&person).chain(roster.as_ref()).collect();
    let summaries: Vec<InputSummary> = inputs.iter().map(|n| input_summary(n)).collect();
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
        produced.rejected = Some(format!(
            "{msg}; nothing was loaded.\nReport: {}",
            opts.warehouse.join(report).display()
        ));
        return Ok(produced);
    }
    // The roster's strata and PSUs are numbered as the person file's (one design).
    if let Some(r) = roster.as_mut() {
        align(&mut r.frame, &person.frame);
    }
    // Validation and the household derivations have read the rows' keys and household ids;
    // unless microdata are written, nothing else does, and they leave memory before the cube.
    if !microdata {
        person.frame.forget_names();
        if let Some(r) = roster.as_mut() {
            r.frame.forget_names();
        }
    }
    let (obs_counts, skipped) = stage_all(
        p,
        schema,
        &person,
        roster.as_ref(),
        opts,
        &ctx.run_id,
        staged,
    )?;
    produced.observations = obs_counts;
    produced.skipped_indicators = skipped;
    Ok(produced)
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

fn input_summary(n: &Normalized) -> InputSummary {
    use crate::config::pipeline::Severity;
    InputSummary {
        record: n.frame.record.clone(),
        file: n.display.display().to_string(),
        size: n.size,
        rows_read: n.rows_read,
        rows_loaded: n.rows_loaded(),
        rows_quarantined: n.quarantined.len() as u64,
        errors: n.findings.count(Severity::Error),
        warnings: n.findings.count(Severity::Warning),
    }
}

type Staging = (BTreeMap<String, usize>, Vec<(String, String)>);

fn stage_all(
    p: &Pipeline,
    schema: &Schema,
    person: &Normalized,
    roster: Option<&Normalized>,
    opts: &RunOptions,
    run_id: &str,
    staged: &mut Staged,
) -> Result<Staging> {
    let meta = FileMeta {
        run_id,
        schema_version: &schema.person.version,
    };
    let mut by_time: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let roster_design = p
        .roster
        .as_ref()
        .and_then(|r| r.design.as_ref())
        .unwrap_or(&p.design);
    let frames = std::iter::once((&person.frame, &p.design, None))
        .chain(roster.map(|r| (&r.frame, roster_design, Some(&person.frame))));
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
    for (frame, design, universe) in frames {
        let cube = estimate_frame(frame, p, design, schema, universe, engine.as_deref())?;
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
        staged.parquet(&rel, &columns::observations(obs)?, &meta)?;
        counts.insert(time.clone(), obs.len());
    }
    if writes_microdata(p, opts) {
        for (n, table) in
            std::iter::once((person, "microdata")).chain(roster.map(|r| (r, "emigrants")))
        {
            // Confidential microdata may go to a folder of their own (`--microdata-dir`, area 1).
            let area = usize::from(opts.microdata_dir.is_some());
            let files = Files {
                table,
                src_file: &src_file,
                area,
            };
            stage_microdata(p, schema, n, &files, &meta, staged)?;
        }
    }
    for n in std::iter::once(person).chain(roster) {
        if !n.quarantined.is_empty() {
            let rel = Path::new("quarantine")
                .join(run_id)
                .join(quarantine_name(n));
            staged.bytes(&rel, &quarantine_csv(n)?)?;
        }
    }
    Ok((counts, skipped))
}

/// Whether this run writes the pipeline's microdata (and emigrants): the pipeline asks for
/// them and `--no-microdata` was not given.
fn writes_microdata(p: &Pipeline, opts: &RunOptions) -> bool {
    p.pipeline.microdata && !opts.no_microdata
}

/// Rows of microdata turned into Arrow columns at a time.
const MICRODATA_SLICE: usize = 32_768;

/// Where one record's microdata go.
struct Files<'a> {
    table: &'a str,
    src_file: &'a str,
    area: usize,
}

fn stage_microdata(
    p: &Pipeline,
    schema: &Schema,
    n: &Normalized,
    f: &Files,
    meta: &FileMeta,
    staged: &mut Staged,
) -> Result<()> {
    for (ti, time) in n.frame.times.iter().enumerate() {
        let rows: Vec<u32> = (0..n.frame.len() as u32)
            .filter(|&r| n.frame.time[r as usize] == ti as u32)
            .collect();
        let rel = Path::new(f.table)
            .join(&p.pipeline.ref_area)
            .join(time)
            .join(f.src_file);
        // Written in slices of rows: a thread builds the next slice while this one encodes the
        // last, so memory holds two slices and the row group being encoded.
        let shape = columns::microdata(&n.frame, &[], schema)?.schema();
        // The builder ends with `Ok(None)`; a builder gone without it (a panic) fails the file
        // instead of ending it short.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            scope.spawn(move || {
                for rows in rows.chunks(MICRODATA_SLICE) {
                    let slice = columns::microdata(&n.frame, rows, schema);
                    let failed = slice.is_err();
                    // A closed channel: the writer stopped; so does the builder.
                    if tx.send(slice.map(Some)).is_err() || failed {
                        return;
                    }
                }
                let _ = tx.send(Ok(None));
            });
            let mut next = || {
                rx.recv().unwrap_or_else(|_| {
                    Err(MigError::Other(format!(
                        "{}: the microdata slices stopped before the end",
                        rel.display()
                    )))
                })
            };
            staged.parquet_stream(f.area, &rel, shape, meta, &mut next)
        })?;
    }
    Ok(())
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
