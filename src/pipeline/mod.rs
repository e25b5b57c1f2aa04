//! The one pipeline model and the one driver.
//!
//! A pipeline file is parsed once into a [`Job`]: an enum of its kinds (a survey, a World Bank
//! remittance table) with every problem of the file collected at once. Every kind goes through
//! the same steps: **plan** (locate and hash the inputs, fingerprint, skip when nothing changed)
//! → **execute** (the kind's own read → validate → estimate, staging its files and reports) →
//! **commit** (one transaction: tables, quarantine, reports, catalog, manifest last). Adding a
//! kind adds a variant and its `execute`, not a second driver.
mod survey;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::Pipeline;
use crate::error::{MigError, Result};
use crate::load::catalog::{self, SourceRow};
use crate::load::commit;
use crate::load::parquet::FileMeta;
use crate::load::warehouse::{now_stamp, utc_stamp, Staged};
use crate::remit::config::RemitPipeline;
use crate::remit::crosswalk::Areas;
use crate::runs::{self, Fingerprint, Manifest};
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
    /// How long to wait for another run's lock.
    pub wait: crate::load::lock::Wait,
    /// Pipelines run at once in a batch (default: one per core).
    pub jobs: Option<usize>,
    /// Input limits overriding the pipelines' (`--limit KEY=VALUE`, see `docs/limits.md`).
    pub limits: Vec<String>,
    /// Language of the run's text and HTML validation reports.
    pub lang: crate::validate::messages::Lang,
    /// The cube's state computed on a Ballista cluster (`HOST:PORT` of its scheduler).
    pub engine: Option<String>,
    /// Where the cube's chunk files go for the cluster (default `<warehouse>/.migstat/engine`).
    pub engine_dir: Option<PathBuf>,
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
            wait: crate::load::lock::Wait::No,
            jobs: None,
            limits: Vec::new(),
            lang: crate::validate::messages::Lang::En,
            engine: None,
            engine_dir: None,
        }
    }

    /// The options that change what a run writes, as the fingerprint records them.
    fn output_options(&self) -> String {
        match (&self.microdata_dir, self.no_microdata) {
            (_, true) => "microdata=off".into(),
            (Some(d), false) => format!(
                "microdata=dir:{}",
                std::path::absolute(d)
                    .unwrap_or_else(|_| d.clone())
                    .display()
            ),
            (None, false) => "microdata=warehouse".into(),
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
    pub reason: String,
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

/// What happened to one pipeline of a batch.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ran(RunSummary),
    Skipped {
        pipeline: String,
        since_run: String,
        reason: String,
    },
    WouldRun {
        pipeline: String,
        reason: String,
    },
    Failed {
        pipeline: String,
        /// The run that failed, when it had started.
        run_id: Option<String>,
        exit_code: i32,
        error: String,
    },
}

/// The kinds of pipeline, each with what it was checked against.
#[derive(Debug)]
pub enum Kind {
    Survey(Box<Pipeline>, Box<Schema>),
    Remittance(Box<RemitPipeline>, Box<Areas>),
}

/// A pipeline file, parsed and checked once.
#[derive(Debug)]
pub struct Job {
    pub path: PathBuf,
    pub kind: Kind,
}

impl Job {
    /// Reads and checks a pipeline file: a top-level `[remittances]` table makes it a remittance
    /// pipeline, anything else a survey; every problem of the file is reported at once.
    pub fn load(path: &Path, schemas: Option<&Path>) -> Result<Job> {
        use crate::config::check::{check_text_bounds, clip_message, read_bounded};
        let fail = |problems: Vec<String>| MigError::Pipeline {
            path: path.to_path_buf(),
            problems,
        };
        let text = read_bounded(path)?;
        let value: toml::Value = toml::from_str(&text).map_err(|e| fail(vec![clip_message(e)]))?;
        // Strings of any kind of pipeline are bounded before anything else looks at them.
        let mut problems = Vec::new();
        check_text_bounds(&value, "", &mut problems);
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let kind = if value.get("remittances").is_some_and(toml::Value::is_table) {
            let p = crate::remit::config::from_value(path, &value)?;
            let areas = Areas::locate(schemas, path.parent())?;
            Kind::Remittance(Box::new(p), Box::new(areas))
        } else {
            let schema = Schema::locate(schemas, path.parent())?;
            let p = crate::config::check::from_value(path, value, &schema)?;
            Kind::Survey(Box::new(p), Box::new(schema))
        };
        Ok(Job {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// Applies `--limit KEY=VALUE` overrides to a survey's input limits (remittance files are
    /// read within their own fixed bounds).
    pub fn override_limits(&mut self, overrides: &[String]) -> Result<()> {
        match &mut self.kind {
            Kind::Survey(p, _) if !overrides.is_empty() => {
                crate::extract::limits::override_pipeline(p, overrides)
            }
            _ => Ok(()),
        }
    }

    pub fn id(&self) -> &str {
        match &self.kind {
            Kind::Survey(p, _) => &p.pipeline.id,
            Kind::Remittance(p, _) => &p.id,
        }
    }

    /// The input files, fetched first where they have a `url`.
    fn inputs(&self, opts: &RunOptions) -> Result<Vec<PathBuf>> {
        match &self.kind {
            Kind::Survey(p, _) => {
                let mut v = vec![match &opts.input {
                    Some(f) => f.clone(),
                    None => crate::extract::locate(&p.input, &p.dir)?,
                }];
                if let Some(r) = &p.roster {
                    v.push(crate::extract::locate(&r.input, &p.dir)?);
                }
                Ok(v)
            }
            Kind::Remittance(p, _) => {
                Ok(vec![opts.input.clone().unwrap_or_else(|| p.path.clone())])
            }
        }
    }

    /// For each of [`Job::inputs`], whether the run reads it whole from its start
    /// (`extract::data::read_whole`), so that its hash can be taken as it is read.
    fn read_whole(&self, files: &[PathBuf]) -> Vec<bool> {
        let kinds: Vec<&str> = match &self.kind {
            Kind::Survey(p, _) => std::iter::once(p.input.kind.as_str())
                .chain(p.roster.as_ref().map(|r| r.input.kind.as_str()))
                .collect(),
            Kind::Remittance(..) => Vec::new(),
        };
        files
            .iter()
            .enumerate()
            .map(|(k, f)| {
                kinds
                    .get(k)
                    .is_some_and(|kind| crate::extract::data::read_whole(kind, f))
            })
            .collect()
    }

    fn schema_hash(&self) -> &str {
        match &self.kind {
            Kind::Survey(_, s) => &s.hash,
            Kind::Remittance(_, a) => &a.hash,
        }
    }

    /// The survey's row of `catalog/sources`.
    fn source(&self) -> Option<SourceRow> {
        let Kind::Survey(p, _) = &self.kind else {
            return None;
        };
        let m = &p.pipeline;
        Some(SourceRow {
            source: m.source.clone(),
            ref_area: m.ref_area.clone(),
            survey: m.survey.clone().unwrap_or_else(|| m.name.clone()),
            periodicity: m.periodicity.clone(),
            pipeline: m.id.clone(),
            synthetic: m.synthetic,
        })
    }

    /// What this pipeline writes that no other pipeline of a batch may write too.
    pub fn outputs(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        keys.insert(format!("pipeline id {}", self.id()));
        match &self.kind {
            Kind::Survey(p, _) => {
                keys.insert(format!(
                    "the survey tables of {} from {}",
                    p.pipeline.ref_area, p.pipeline.source
                ));
            }
            Kind::Remittance(p, _) => {
                keys.insert(format!(
                    "{}",
                    crate::remit::table_file(p.kind.table(), &p.path).display()
                ));
            }
        }
        keys
    }

    /// Every URL it fetches (pipelines sharing one run one after another).
    pub fn urls(&self) -> Vec<String> {
        match &self.kind {
            Kind::Survey(p, _) => p
                .input
                .url
                .iter()
                .chain(p.roster.iter().filter_map(|r| r.input.url.as_ref()))
                .cloned()
                .collect(),
            Kind::Remittance(..) => Vec::new(),
        }
    }
}

/// Loads a survey pipeline and its schema (for `validate` and tests).
pub fn load_pipeline(path: &Path, schemas: Option<&Path>) -> Result<(Pipeline, Schema)> {
    match Job::load(path, schemas)?.kind {
        Kind::Survey(p, s) => Ok((*p, *s)),
        Kind::Remittance(..) => Err(MigError::Pipeline {
            path: path.to_path_buf(),
            problems: vec!["a remittance pipeline ([remittances]) is not a survey pipeline".into()],
        }),
    }
}

/// What a kind's `execute` hands to the driver.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    pub inputs: Vec<InputSummary>,
    pub validation: serde_json::Value,
    pub observations: BTreeMap<String, usize>,
    pub skipped_indicators: Vec<(String, String)>,
    /// Validation found errors: only the reports are committed, the run exits 1.
    pub rejected: Option<String>,
}

/// A run in progress: its id, options and log.
pub(crate) struct Ctx<'a> {
    pub run_id: String,
    pub opts: &'a RunOptions,
    pub log: &'a mut dyn Write,
}

impl Ctx<'_> {
    pub fn say(&mut self, s: impl AsRef<str>) {
        let _ = writeln!(self.log, "{}", s.as_ref());
    }

    /// `runs/<RUN_ID>/`, relative to the warehouse.
    pub fn run_rel(&self) -> PathBuf {
        Path::new("runs").join(&self.run_id)
    }
}

/// Plans, runs and commits one pipeline file (the caller holds the warehouse lock).
pub fn run_one(path: &Path, opts: &RunOptions, log: &mut dyn Write) -> Result<Outcome> {
    let mut job = Job::load(path, opts.schemas.as_deref())?;
    job.override_limits(&opts.limits)?;
    run_job(&job, opts, log)
}

/// Plans, runs and commits one loaded pipeline (the caller holds the warehouse lock).
///
/// The inputs are hashed before the run only as far as the decision needs: when the run will
/// happen whatever their hashes say (`--force`, a first run, a changed build, pipeline file,
/// schemas or options, an input whose size changed), the rest are hashed on a thread of their
/// own beside the run and written into the manifest before the commit. A new month's file is
/// then not read once for its hash and once more for its rows, one after the other.
pub fn run_job(job: &Job, opts: &RunOptions, log: &mut dyn Write) -> Result<Outcome> {
    let path = job.path.as_path();
    let files = job.inputs(opts)?;
    let mut fp = Fingerprint {
        pipeline_sha: runs::hash_file(path)?.sha256,
        schema_hash: job.schema_hash().to_string(),
        inputs: Vec::new(),
        build: runs::build_id(),
        options: opts.output_options(),
    };
    let id = job.id().to_string();
    let last = runs::last_run(&opts.warehouse, &id);
    let last_ok = last.as_ref().filter(|m| m.status == "ok");
    let defer_from = match opts.dry_run {
        true => None,
        false => deferrable(&fp, &files, last_ok, opts.force)?,
    };
    let whole = job.read_whole(&files);
    let hashed_now = defer_from.unwrap_or(files.len());
    fp.inputs = files[..hashed_now]
        .iter()
        .map(|f| runs::hash_file(f))
        .collect::<Result<Vec<_>>>()?;
    let (reason, deferred) = match defer_from {
        Some(k) => {
            // `deferrable` gives `k` only when the reason does not hang on inputs `k..`: a
            // forced or first run, other settings, or input `k`'s new size (after the first
            // `k`, hashed, which may differ in content at the same size).
            let reason = match (opts.force, last_ok) {
                (true, _) => "forced (--force)".to_string(),
                (false, None) => "first run".to_string(),
                (false, Some(m)) => fp.settings_changed(m).unwrap_or_else(|| {
                    let path = fp.input_changed(m).map(|i| i.path.clone());
                    let path = path.unwrap_or_else(|| files[k].display().to_string());
                    format!("input changed: {path}")
                }),
            };
            // A delimited input is hashed by the run's first read of it; the others on a
            // thread of their own meanwhile.
            let rest: Vec<(PathBuf, Option<runs::HashRequest>)> = files[k..]
                .iter()
                .zip(&whole[k..])
                .map(|(f, &w)| (f.clone(), w.then(|| runs::hash_when_read(f))))
                .collect();
            let others: Vec<PathBuf> = rest
                .iter()
                .filter(|r| r.1.is_none())
                .map(|r| r.0.clone())
                .collect();
            let handle = std::thread::spawn(move || {
                others
                    .iter()
                    .map(|f| runs::hash_file(f))
                    .collect::<Result<Vec<_>>>()
            });
            (reason, Some(Deferred { handle, rest }))
        }
        None => {
            let digest = fp.digest();
            let fresh = runs::unchanged_since(&opts.warehouse, &id, &digest);
            let reason = match (&fresh, opts.force) {
                (_, true) => "forced (--force)".to_string(),
                (Some(_), false) => String::new(),
                (None, false) => match last.as_ref().filter(|m| m.fingerprint == digest) {
                    Some(_) => "files of the last run are missing".into(),
                    None => fp
                        .changed_since(last_ok)
                        .unwrap_or_else(|| "last run was rolled back".into()),
                },
            };
            if let (Some(m), false) = (&fresh, opts.force) {
                let _ = writeln!(log, "{id}: skipped: unchanged since run {}", m.run_id);
                return Ok(Outcome::Skipped {
                    pipeline: id,
                    since_run: m.run_id.clone(),
                    reason: "unchanged".into(),
                });
            }
            (reason, None)
        }
    };
    if opts.dry_run {
        let _ = writeln!(log, "{id}: would run ({reason})");
        return Ok(Outcome::WouldRun {
            pipeline: id,
            reason,
        });
    }
    let manifest = Manifest {
        pipeline_id: id,
        pipeline: path.display().to_string(),
        pipeline_sha256: fp.pipeline_sha.clone(),
        schema_hash: fp.schema_hash.clone(),
        options: fp.options.clone(),
        build: fp.build.clone(),
        fingerprint: fp.digest(),
        inputs: fp.inputs.clone(),
        reason,
        migstat_version: crate::VERSION.to_string(),
        source: job.source(),
        ..Default::default()
    };
    let run_id = new_run_id(&job.path.to_string_lossy());
    let hashes = Hashes { fp, deferred };
    execute(job, manifest, hashes, &run_id, opts, log)
        .map(Outcome::Ran)
        .map_err(|e| MigError::InRun {
            run_id,
            source: Box::new(e),
        })
}

/// From which input on the hashes cannot change whether the pipeline runs or why (`None`: all
/// are needed, to tell whether it is unchanged). Sizes are read from the file system; a size
/// that differs from the last successful run's means a different file.
fn deferrable(
    fp: &Fingerprint,
    files: &[PathBuf],
    last_ok: Option<&Manifest>,
    force: bool,
) -> Result<Option<usize>> {
    let Some(m) = last_ok.filter(|_| !force) else {
        return Ok(Some(0));
    };
    if fp.settings_changed(m).is_some() {
        return Ok(Some(0));
    }
    if m.inputs.len() != files.len() {
        // Which input the reason names then hangs on every hash: take them all first.
        return Ok(None);
    }
    for (k, f) in files.iter().enumerate() {
        let size = std::fs::metadata(f)
            .map_err(|e| MigError::Unreadable {
                path: f.clone(),
                msg: format!("cannot open: {e}"),
            })?
            .len();
        if m.inputs[k].size != size {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// Input hashes still being computed beside the run: the inputs in order, each with its
/// request to be hashed as the run reads it, or hashed by `handle` (those without one).
struct Deferred {
    handle: std::thread::JoinHandle<Result<Vec<runs::InputFile>>>,
    rest: Vec<(PathBuf, Option<runs::HashRequest>)>,
}

/// The run's fingerprint, and the input hashes it still waits for.
struct Hashes {
    fp: Fingerprint,
    deferred: Option<Deferred>,
}

impl Hashes {
    /// Writes every input's hash and the fingerprint into `m` (waiting for the deferred ones).
    fn complete(&mut self, m: &mut Manifest) -> Result<()> {
        if let Some(d) = self.deferred.take() {
            let mut others = d
                .handle
                .join()
                .map_err(|_| MigError::Other("hashing the inputs stopped".into()))??
                .into_iter();
            for (f, request) in d.rest {
                let hashed = match request {
                    // Taken as the run read the file, or, when it did not read it whole (or
                    // the file changed meanwhile), read here.
                    Some(request) => {
                        drop(request);
                        runs::hash_file(&f)?
                    }
                    None => others
                        .next()
                        .ok_or_else(|| MigError::Other("hashing the inputs stopped".into()))?,
                };
                self.fp.inputs.push(hashed);
            }
        }
        m.inputs = self.fp.inputs.clone();
        m.fingerprint = self.fp.digest();
        Ok(())
    }
}

/// Runs one pipeline file whatever its fingerprint (the caller holds the lock; for tests and
/// embedding).
pub fn run_file(path: &Path, opts: &RunOptions, log: &mut dyn Write) -> Result<RunSummary> {
    let forced = RunOptions {
        force: true,
        dry_run: false,
        ..opts.clone()
    };
    match run_one(path, &forced, log).map_err(MigError::into_inner)? {
        Outcome::Ran(s) => Ok(s),
        other => Err(MigError::Other(format!("unexpected outcome {other:?}"))),
    }
}

/// execute → commit, for every kind.
fn execute(
    job: &Job,
    mut m: Manifest,
    mut hashes: Hashes,
    run_id: &str,
    opts: &RunOptions,
    log: &mut dyn Write,
) -> Result<RunSummary> {
    let started = Instant::now();
    let run_id = run_id.to_string();
    m.run_id = run_id.clone();
    m.txn = run_id.clone();
    m.started = now_stamp();
    let mut staged = Staged::new(&opts.warehouse, &run_id)?;
    if let Some(d) = &opts.microdata_dir {
        staged.add_root(d)?;
        m.microdata_dir = Some(d.display().to_string());
    }
    let mut ctx = Ctx {
        run_id: run_id.clone(),
        opts,
        log,
    };
    ctx.say(format!(
        "run {run_id}: pipeline {} ({}){}",
        job.id(),
        job.path.display(),
        match m.reason.as_str() {
            "" => String::new(),
            r => format!(": {r}"),
        }
    ));
    let produced = match &job.kind {
        Kind::Survey(p, schema) => survey::execute(p, schema, &mut ctx, &mut staged),
        Kind::Remittance(p, areas) => crate::remit::execute(p, areas, &mut ctx, &mut staged),
    };
    let produced = match produced.and_then(|p| hashes.complete(&mut m).map(|()| p)) {
        Ok(p) => p,
        Err(e) => {
            staged.abandon();
            // The failure's record names every input's hash that could be taken.
            let _ = hashes.complete(&mut m);
            record_failure(opts, m, &e);
            return Err(e);
        }
    };
    m.rows_read = produced.inputs.iter().map(|i| i.rows_read).sum();
    m.rows_loaded = produced.inputs.iter().map(|i| i.rows_loaded).sum();
    m.rows_quarantined = produced.inputs.iter().map(|i| i.rows_quarantined).sum();
    m.validation = produced.validation.clone();
    let (status, code) = match &produced.rejected {
        Some(_) => ("rejected", 1),
        None => ("ok", 0),
    };
    m.status = status.into();
    m.exit_code = code;
    let published = match commit_run(job, staged, m.clone(), opts) {
        Ok(p) => p,
        Err(e) => {
            record_failure(opts, m, &e);
            return Err(e);
        }
    };
    if let Some(msg) = produced.rejected {
        return Err(MigError::Rejected(msg));
    }
    let files: Vec<String> = published
        .added
        .iter()
        .chain(&published.replaced)
        .cloned()
        .collect();
    for (t, n) in &produced.observations {
        ctx.say(format!("  {t}: {n} observations"));
    }
    ctx.say(format!(
        "  {} files written ({} new, {} replaced), {} unchanged, in {}",
        files.len(),
        published.added.len(),
        published.replaced.len(),
        published.unchanged.len(),
        opts.warehouse.display()
    ));
    Ok(RunSummary {
        run_id,
        pipeline: job.id().to_string(),
        reason: m.reason,
        inputs: produced.inputs,
        observations: produced.observations,
        files_written: files,
        skipped_indicators: produced.skipped_indicators,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One transaction: the staged files, the catalog as it is with this run, the manifest last.
fn commit_run(
    job: &Job,
    mut staged: Staged,
    mut m: Manifest,
    opts: &RunOptions,
) -> Result<crate::load::Published> {
    let wh = opts.warehouse.clone();
    let _g = commit::guard();
    if let (Kind::Survey(_, schema), Some(src), "ok") = (&job.kind, &m.source, m.status.as_str()) {
        let mut sources = catalog::existing_sources(&wh);
        sources.insert(src.source.clone(), src.clone());
        let meta = FileMeta {
            run_id: &m.run_id,
            schema_version: &schema.person.version,
        };
        if let Err(e) = catalog::stage(&mut staged, schema, &sources, &meta) {
            staged.abandon();
            return Err(e);
        }
        m.schema_version = schema.person.version.clone();
    }
    runs::commit_manifest(staged, m, &wh)
}

/// Records a run that could not finish (status `failed`, its error), in a transaction of its
/// own; best effort: when even that fails (a full disk), the run leaves no trace.
fn record_failure(opts: &RunOptions, mut m: Manifest, e: &MigError) {
    m.status = "failed".into();
    m.exit_code = e.exit_code();
    m.error = Some(crate::error::cut(&e.to_string(), 2000));
    m.files_added.clear();
    m.files_replaced.clear();
    m.files_unchanged.clear();
    let _g = commit::guard();
    let Ok(staged) = Staged::new(&opts.warehouse, &format!("{}-failed", m.run_id)) else {
        return;
    };
    m.txn = staged.id().to_string();
    let _ = runs::commit_manifest(staged, m, &opts.warehouse);
}
