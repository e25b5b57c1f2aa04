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
use crate::estimate::indicators::estimate_frame;
use crate::estimate::Observation;
use crate::load::columns;
use crate::load::parquet::FileMeta;
use crate::load::warehouse::utc_stamp;
use crate::load::{Staged, Warehouse};
use crate::normalize::{normalize, Normalized, RecordSpec};
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

/// Runs one pipeline end to end.
pub fn run(path: &Path, opts: &RunOptions, log: &mut dyn Write) -> Result<RunSummary> {
    let started = Instant::now();
    let (p, schema) = load_pipeline(path, opts.schemas.as_deref())?;
    let run_id = new_run_id(&path.to_string_lossy());
    let wh = Warehouse::new(&opts.warehouse);
    let say = |log: &mut dyn Write, s: String| {
        let _ = writeln!(log, "{s}");
    };
    say(
        log,
        format!(
            "run {run_id}: pipeline {} ({})",
            p.pipeline.id,
            path.display()
        ),
    );
    let person = normalize(
        &p,
        &schema,
        &RecordSpec::person(&p, &schema),
        opts.input.as_deref(),
        opts.cap,
    )?;
    let roster = match RecordSpec::roster(&p, &schema) {
        Some(spec) => Some(normalize(&p, &schema, &spec, None, opts.cap)?),
        None => None,
    };
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
    let run_dir = wh.run_dir(&run_id)?;
    write_reports(&run_dir, &inputs)?;
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
        write_manifest(&run_dir, &run_id, &p, &schema, &summaries, &[], "rejected")?;
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
    let result = stage_all(
        &p,
        &schema,
        &person,
        roster.as_ref(),
        opts,
        &run_id,
        &mut staged,
    );
    let (obs_counts, skipped) = match result {
        Ok(x) => x,
        Err(e) => {
            staged.abandon();
            write_manifest(&run_dir, &run_id, &p, &schema, &summaries, &[], "failed")?;
            return Err(e);
        }
    };
    let files = staged.publish()?;
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    write_manifest(&run_dir, &run_id, &p, &schema, &summaries, &files, "ok")?;
    for (t, n) in &obs_counts {
        say(log, format!("  {t}: {n} observations"));
    }
    say(
        log,
        format!(
            "  wrote {} files to {}",
            files.len(),
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
    for (n, design) in
        std::iter::once((person, &p.design)).chain(roster.map(|r| (r, roster_design)))
    {
        let cube = estimate_frame(&n.frame, p, design, schema)?;
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
            stage_microdata(p, schema, n, table, &src_file, &meta, staged)?;
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

fn write_reports(run_dir: &Path, inputs: &[&Normalized]) -> Result<()> {
    let mut text = String::new();
    let mut json = Vec::new();
    for n in inputs {
        let file = n.display.display().to_string();
        text.push_str(&format!("{file}: {} rows read\n", n.rows_read));
        text.push_str(&n.findings.render_text(&file));
        json.push(
            serde_json::json!({ "file": file, "rows_read": n.rows_read, "findings": n.findings }),
        );
    }
    let p = run_dir.join("validation.txt");
    std::fs::write(&p, text).map_err(|e| MigError::io(&p, e))?;
    let p = run_dir.join("validation.json");
    let body = serde_json::to_vec_pretty(&json).map_err(|e| MigError::Other(e.to_string()))?;
    std::fs::write(&p, body).map_err(|e| MigError::io(&p, e))
}

fn write_manifest(
    run_dir: &Path,
    run_id: &str,
    p: &Pipeline,
    schema: &Schema,
    inputs: &[InputSummary],
    files: &[String],
    status: &str,
) -> Result<()> {
    let pipeline_bytes = std::fs::read(&p.file).unwrap_or_default();
    let m = serde_json::json!({
        "run_id": run_id,
        "migstat_version": crate::VERSION,
        "pipeline": p.file.display().to_string(),
        "pipeline_hash": fnv_hex(std::iter::once(pipeline_bytes.as_slice())),
        "schema_hash": schema.hash,
        "inputs": inputs,
        "rows_read": inputs.iter().map(|i| i.rows_read).sum::<u64>(),
        "rows_loaded": inputs.iter().map(|i| i.rows_loaded).sum::<u64>(),
        "rows_quarantined": inputs.iter().map(|i| i.rows_quarantined).sum::<u64>(),
        "files_written": files,
        "status": status,
    });
    let path = run_dir.join("manifest.json");
    let body = serde_json::to_vec_pretty(&m).map_err(|e| MigError::Other(e.to_string()))?;
    std::fs::write(&path, body).map_err(|e| MigError::io(&path, e))
}
