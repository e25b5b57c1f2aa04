//! The driver: extract → normalise → estimate → load for one pipeline file, with every input row
//! accounted for (loaded or quarantined) and nothing published unless the whole run succeeds.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::check;
use crate::config::Pipeline;
use crate::error::{MigError, Result};
use crate::estimate::design::align;
use crate::estimate::indicators::estimate_frame;
use crate::estimate::Observation;
use crate::load::columns;
use crate::load::parquet::FileMeta;
use crate::load::warehouse::utc_stamp;
use crate::load::{catalog, Staged, Warehouse};
use crate::normalize::{household, normalize, Normalized, RecordSpec};
use crate::runs::{self, Manifest};
use crate::schema::{fnv_hex, Schema};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub input: Option<PathBuf>,
    pub warehouse: PathBuf,
    pub schemas: Option<PathBuf>,
    pub no_microdata: bool,
    pub microdata_dir: Option<PathBuf>,
    /// Findings listed per rule in reports.
    pub cap: u64,
    /// Run even when nothing changed since the last successful run.
    pub force: bool,
    /// Say what would run, write nothing.
    pub dry_run: bool,
    /// Wait for another run's lock instead of failing.
    pub wait: bool,
    /// Pipelines run at once in a batch (default: one per core).
    pub jobs: Option<usize>,
}

impl RunOptions {
    /// Defaults for a warehouse folder.
    pub fn new(warehouse: impl Into<PathBuf>) -> Self {
        RunOptions {
            input: None,
            warehouse: warehouse.into(),
            schemas: None,
            no_microdata: false,
            microdata_dir: None,
            cap: 100,
            force: false,
            dry_run: false,
            wait: false,
            jobs: None,
        }
    }
}

/// Row accounting of one input file.
#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub record: String,
    pub file: String,
    pub size: u64,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub errors: u64,
    pub warnings: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub pipeline: String,
    pub inputs: Vec<InputSummary>,
    /// Observations per period.
    pub observations: BTreeMap<String, usize>,
    pub files_written: Vec<String>,
    pub skipped_indicators: Vec<(String, String)>,
    pub seconds: f64,
}

pub fn new_run_id(seed: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let salt = format!("{seed}{}{}", now.as_nanos(), std::process::id());
    let h = fnv_hex(std::iter::once(salt.as_bytes()));
    format!("{}-{}", utc_stamp(now.as_secs()), &h[..8])
}

/// Loads the schema and the pipeline file, reporting every problem of the file.
pub fn load_pipeline(path: &Path, schemas: Option<&Path>) -> Result<(Pipeline, Schema)> {
    let schema = Schema::locate(schemas, path.parent())?;
    let p = check::load(path, &schema)?;
    Ok((p, schema))
}

/// What happened to one pipeline of a batch.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ran(RunSummary),
    Skipped {
        pipeline: String,
        since_run: String,
    },
    WouldRun {
        pipeline: String,
    },
    Failed {
        pipeline: String,
        exit_code: i32,
        error: String,
    },
}

/// Rollback copies are kept for this many runs.
pub const KEEP_ROLLBACK: usize = 20;

/// A pipeline's outcome, with its source row and schema for the catalog when it ran.
pub(crate) type RanWith = (Outcome, Option<(catalog::SourceRow, Schema)>);

pub(crate) fn run_one(path: &Path, opts: &RunOptions, log: &mut dyn Write) -> Result<RanWith> {
    let (p, schema) = load_pipeline(path, opts.schemas.as_deref())?;
    let person_file = match &opts.input {
        Some(file) => file.clone(),
        None => crate::extract::locate(&p.input, &p.dir)?,
    };
    let mut inputs = vec![runs::hash_file(&person_file)?];
    if let Some(r) = &p.roster {
        inputs.push(runs::hash_file(&crate::extract::locate(&r.input, &p.dir)?)?);
    }
    let pipeline_sha = runs::hash_file(path)?.sha256;
    let fp = runs::fingerprint(&pipeline_sha, &schema.hash, &inputs);
    // A skipped pipeline's source stays in the catalog even when the run that loaded it was
    // killed before the catalog refresh.
    let source = catalog::SourceRow {
        source: p.pipeline.source.clone(),
        ref_area: p.pipeline.ref_area.clone(),
        survey: p
            .pipeline
            .survey
            .clone()
            .unwrap_or_else(|| p.pipeline.name.clone()),
        periodicity: p.pipeline.periodicity.clone(),
        pipeline: p.pipeline.id.clone(),
        synthetic: p.pipeline.synthetic,
    };
    if !opts.force {
        if let Some(m) = runs::unchanged_since(&opts.warehouse, &p.pipeline.id, &fp) {
            let _ = writeln!(
                log,
                "{}: skipped: unchanged since run {}",
                p.pipeline.id, m.run_id
            );
            return Ok((
                Outcome::Skipped {
                    pipeline: p.pipeline.id.clone(),
                    since_run: m.run_id,
                },
                Some((source, schema)),
            ));
        }
    }
    if opts.dry_run {
        let _ = writeln!(log, "{}: would run", p.pipeline.id);
        return Ok((
            Outcome::WouldRun {
                pipeline: p.pipeline.id.clone(),
            },
            None,
        ));
    }
    let manifest = Manifest {
        pipeline_id: p.pipeline.id.clone(),
        pipeline: path.display().to_string(),
        pipeline_sha256: pipeline_sha,
        schema_hash: schema.hash.clone(),
        fingerprint: fp,
        inputs,
        migstat_version: crate::VERSION.to_string(),
        ..Default::default()
    };
    let summary = run(&p, &schema, manifest, opts, log)?;
    Ok((Outcome::Ran(summary), Some((source, schema))))
}

fn now_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    utc_stamp(now.as_secs())
}

/// Runs one loaded pipeline end to end (the caller holds the warehouse lock).
pub fn run(
    p: &Pipeline,
    schema: &Schema,
    mut manifest: Manifest,
    opts: &RunOptions,
    log: &mut dyn Write,
) -> Result<RunSummary> {
    let started = Instant::now();
    let run_id = new_run_id(&p.file.to_string_lossy());
    manifest.run_id = run_id.clone();
    manifest.started = now_stamp();
    let wh = Warehouse::new(&opts.warehouse);
    let say = |log: &mut dyn Write, s: String| {
        let _ = writeln!(log, "{s}");
    };
    say(
        log,
        format!(
            "run {run_id}: pipeline {} ({})",
            p.pipeline.id,
            p.file.display()
        ),
    );
    let mut person = normalize(
        p,
        schema,
        &RecordSpec::person(p, schema),
        opts.input.as_deref(),
        opts.cap,
    )?;
    let mut roster = match RecordSpec::roster(p, schema) {
        Some(spec) => Some(normalize(p, schema, &spec, None, opts.cap)?),
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
        say(
            log,
            format!(
                "  {} {}: read {} rows, loaded {}, quarantined {} ({} errors, {} warnings)",
                s.record,
                s.file,
                s.rows_read,
                s.rows_loaded,
                s.rows_quarantined,
                s.errors,
                s.warnings
            ),
        );
    }
    manifest.rows_read = summaries.iter().map(|i| i.rows_read).sum();
    manifest.rows_loaded = summaries.iter().map(|i| i.rows_loaded).sum();
    manifest.rows_quarantined = summaries.iter().map(|i| i.rows_quarantined).sum();
    manifest.validation = serde_json::to_value(&summaries).unwrap_or_default();
    let run_dir = wh.run_dir(&run_id)?;
    crate::validate::Report::new(p, &reports).write_run_files(&run_dir)?;
    let finish = |mut m: Manifest, status: &str, code: i32| -> Result<()> {
        m.status = status.into();
        m.exit_code = code;
        m.finished = now_stamp();
        m.write(&run_dir)
    };
    if let Some(bad) = inputs.iter().find(|n| n.findings.has_errors()) {
        let first = bad.findings.first_error().map(|f| {
            format!(
                "{}:{}: column {}: {} (value {:?})",
                bad.display.display(),
                f.line,
                f.column,
                f.message,
                f.value
            )
        });
        finish(manifest, "rejected", 1)?;
        return Err(MigError::Rejected(format!(
            "validation found {} errors; nothing was loaded. First: {}\nReport: {}",
            inputs
                .iter()
                .map(|n| n.findings.count(crate::config::pipeline::Severity::Error))
                .sum::<u64>(),
            first.unwrap_or_default(),
            run_dir.join("validation.txt").display()
        )));
    }
    let mut staged = wh.stage(&run_id)?;
    // Confidential microdata may go to a folder of their own (`--microdata-dir`).
    let md_root = opts.microdata_dir.clone();
    let mut md_staged = match &md_root {
        Some(d) => Some(Warehouse::new(d).stage(&run_id)?),
        None => None,
    };
    let (obs_counts, skipped) = match stage_all(
        p,
        schema,
        &person,
        roster.as_ref(),
        opts,
        &run_id,
        &mut staged,
        md_staged.as_mut(),
    ) {
        Ok(x) => x,
        Err(e) => {
            staged.abandon();
            if let Some(s) = md_staged {
                s.abandon();
            }
            finish(manifest, "failed", e.exit_code())?;
            return Err(e);
        }
    };
    let mut published = staged.publish()?;
    if let (Some(s), Some(root)) = (md_staged, &md_root) {
        let md = s.publish()?;
        let abs = |v: Vec<String>| v.into_iter().map(|f| root.join(f).display().to_string());
        published.added.extend(abs(md.added));
        published.replaced.extend(abs(md.replaced));
        published.unchanged.extend(abs(md.unchanged));
    }
    manifest.set_published(&published);
    let files: Vec<String> = published
        .added
        .iter()
        .chain(&published.replaced)
        .cloned()
        .collect();
    finish(manifest, "ok", 0)?;
    for (t, n) in &obs_counts {
        say(log, format!("  {t}: {n} observations"));
    }
    say(
        log,
        format!(
            "  {} files written ({} new, {} replaced), {} unchanged, in {}",
            files.len(),
            published.added.len(),
            published.replaced.len(),
            published.unchanged.len(),
            opts.warehouse.display()
        ),
    );
    Ok(RunSummary {
        run_id,
        pipeline: p.pipeline.id.clone(),
        inputs: summaries,
        observations: obs_counts,
        files_written: files,
        skipped_indicators: skipped,
        seconds: started.elapsed().as_secs_f64(),
    })
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
    mut md_staged: Option<&mut Staged>,
) -> Result<Staging> {
    #![allow(clippy::too_many_arguments)]
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
    let aligned = roster.map(|r| {
        let mut f = r.frame.clone();
        align(&mut f, &person.frame);
        f
    });
    let frames = std::iter::once((&person.frame, &p.design, None)).chain(
        aligned
            .as_ref()
            .map(|f| (f, roster_design, Some(&person.frame))),
    );
    for (frame, design, universe) in frames {
        let cube = estimate_frame(frame, p, design, schema, universe)?;
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
    if p.pipeline.microdata && !opts.no_microdata {
        for (n, table) in
            std::iter::once((person, "microdata")).chain(roster.map(|r| (r, "emigrants")))
        {
            let target: &mut Staged = match md_staged.as_deref_mut() {
                Some(s) => s,
                None => &mut *staged,
            };
            stage_microdata(p, schema, n, table, &src_file, &meta, target)?;
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

fn stage_microdata(
    p: &Pipeline,
    schema: &Schema,
    n: &Normalized,
    table: &str,
    src_file: &str,
    meta: &FileMeta,
    staged: &mut Staged,
) -> Result<()> {
    for (ti, time) in n.frame.times.iter().enumerate() {
        let rows: Vec<u32> = (0..n.frame.len() as u32)
            .filter(|&r| n.frame.time[r as usize] == ti as u32)
            .collect();
        let rel = Path::new(table)
            .join(&p.pipeline.ref_area)
            .join(time)
            .join(src_file);
        staged.parquet(&rel, &columns::microdata(&n.frame, &rows, schema)?, meta)?;
    }
    Ok(())
}

/// `<input file name>.csv`: the zip member's name for an archive, without `.csv`/`.gz` twice.
fn quarantine_name(n: &Normalized) -> String {
    let shown = n.display.to_string_lossy();
    let base = shown.rsplit(['!', '/', '\\']).next().unwrap_or("input");
    let stem = base.strip_suffix(".gz").unwrap_or(base);
    let stem = stem.strip_suffix(".csv").unwrap_or(stem);
    format!("{stem}.csv")
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
