//! The end of a remittance run: row accounting (cells read = values + nulls with a note, plus
//! blank WDI cells that are no observation), `runs/<RUN_ID>/validation.txt` and `.json`, the
//! Parquet file staged and renamed into place, and `runs/<RUN_ID>/manifest.json`.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::config::RemitPipeline;
use super::crosswalk::Areas;
use super::tables::{batch, TABLE_VERSION};
use super::{reconcile_error, table_file, Loaded};
use crate::config::pipeline::Severity;
use crate::error::{MigError, Result};
use crate::load::parquet::FileMeta;
use crate::load::warehouse::Published;
use crate::load::Warehouse;
use crate::pipeline::{InputSummary, RunOptions, RunSummary};
use crate::runs::Manifest;
use crate::validate::findings::Findings;

pub(crate) struct Context<'a> {
    pub p: &'a RemitPipeline,
    pub input: &'a Path,
    pub run_id: &'a str,
    pub areas: &'a Areas,
    pub fingerprint: String,
    pub input_file: crate::runs::InputFile,
}

/// The accounting line printed and written to the report.
fn accounting(ctx: &Context, l: &Loaded) -> String {
    let t = &l.table;
    let mut s = format!(
        "{}: read {} cells = {} values + {} nulls with a note",
        ctx.input.display(),
        t.obs.len(),
        t.values(),
        t.nulls()
    );
    if l.blanks > 0 {
        s.push_str(&format!(
            " ({} blank year cells are no observation; {} cells in all)",
            l.blanks, l.cells
        ));
    }
    s
}

fn checks_line(ctx: &Context, l: &Loaded, f: &Findings) -> String {
    let warnings = f.count(Severity::Warning);
    if ctx.p.kind.is_matrix() {
        format!(
            "checks: {} row/column sums differ from the WORLD totals (tolerance {}); {warnings} \
             warnings in all",
            l.mismatches, ctx.p.sum_tolerance
        )
    } else {
        format!(
            "checks: {} year-on-year falls of {:.0}% or more; {} years where World differs from \
             the sum of the countries; {warnings} warnings in all",
            l.falls,
            ctx.p.yoy_fall_warning * 100.0,
            l.mismatches
        )
    }
}

fn write_reports(dir: &Path, head: &str, file: &str, f: &Findings) -> Result<()> {
    let text = format!("{head}\n{}", f.render_text(file));
    let p = dir.join("validation.txt");
    std::fs::write(&p, text).map_err(|e| MigError::io(&p, e))?;
    let json = serde_json::json!([{ "file": file, "findings": f }]);
    let body = serde_json::to_vec_pretty(&json).map_err(|e| MigError::Other(e.to_string()))?;
    let p = dir.join("validation.json");
    std::fs::write(&p, body).map_err(|e| MigError::io(&p, e))
}

fn input_summary(ctx: &Context, l: &Loaded, f: &Findings) -> InputSummary {
    InputSummary {
        record: l.table.name.to_string(),
        file: ctx.input.display().to_string(),
        size: std::fs::metadata(ctx.input).map(|m| m.len()).unwrap_or(0),
        rows_read: l.table.obs.len() as u64,
        rows_loaded: l.table.obs.len() as u64,
        rows_quarantined: 0,
        errors: f.count(Severity::Error),
        warnings: f.count(Severity::Warning),
    }
}

fn write_manifest(
    ctx: &Context,
    dir: &Path,
    l: &Loaded,
    s: &InputSummary,
    published: &Published,
    status: &str,
) -> Result<()> {
    let stamp = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        crate::load::warehouse::utc_stamp(now.as_secs())
    };
    let mut m = Manifest {
        run_id: ctx.run_id.to_string(),
        started: stamp(),
        migstat_version: crate::VERSION.to_string(),
        pipeline_id: ctx.p.id.clone(),
        pipeline: ctx.p.file.display().to_string(),
        pipeline_sha256: crate::runs::hash_file(&ctx.p.file)
            .map(|f| f.sha256)
            .unwrap_or_default(),
        schema_hash: ctx.areas.hash.clone(),
        fingerprint: ctx.fingerprint.clone(),
        inputs: vec![ctx.input_file.clone()],
        rows_read: s.rows_read,
        rows_loaded: s.rows_loaded,
        rows_quarantined: 0,
        validation: serde_json::json!({
            "table": l.table.name,
            "table_version": TABLE_VERSION,
            "vintage": l.table.vintage,
            "input": s,
            "values": l.table.values(),
            "nulls_noted": l.table.nulls(),
            "blank_cells_no_observation": l.blanks,
            "yoy_falls_flagged": l.falls,
            "world_sum_mismatches": l.mismatches,
        }),
        status: status.to_string(),
        exit_code: if status == "ok" { 0 } else { 1 },
        ..Default::default()
    };
    m.set_published(published);
    m.finished = stamp();
    m.write(dir)
}

fn rejected(file: &str, f: &Findings, dir: &Path) -> MigError {
    let first = f
        .first_error()
        .map(|e| format!("{file}:{}: column {}: {}", e.line, e.column, e.message));
    MigError::Rejected(format!(
        "validation found {} errors; nothing was loaded. First: {}\nReport: {}",
        f.count(Severity::Error),
        first.unwrap_or_default(),
        dir.join("validation.txt").display()
    ))
}

/// Stages the table's file and renames it into place; returns the published paths.
fn stage_and_publish(ctx: &Context, wh: &Warehouse, l: &Loaded) -> Result<Published> {
    let rel = table_file(l.table.name, ctx.input);
    let meta = FileMeta {
        run_id: ctx.run_id,
        schema_version: TABLE_VERSION,
    };
    let mut staged = wh.stage(ctx.run_id)?;
    if let Err(e) = batch(&l.table).and_then(|b| staged.parquet(&rel, &b, &meta)) {
        staged.abandon();
        return Err(e);
    }
    staged.publish()
}

/// Cells read = values + nulls with a note + blank cells that are no observation.
fn reconcile(l: &Loaded) -> Result<()> {
    let t = &l.table;
    if t.values() + t.nulls() + l.blanks == l.cells {
        return Ok(());
    }
    Err(reconcile_error(format!(
        "{} values + {} nulls + {} blanks != {} cells",
        t.values(),
        t.nulls(),
        l.blanks,
        l.cells
    )))
}

/// Reports, then stages and publishes the table unless there were errors.
pub(crate) fn publish(
    ctx: &Context,
    l: &Loaded,
    f: &Findings,
    opts: &RunOptions,
    log: &mut dyn Write,
) -> Result<RunSummary> {
    let wh = Warehouse::new(&opts.warehouse);
    let dir = wh.run_dir(ctx.run_id)?;
    let file = ctx.input.display().to_string();
    let head = format!("{}\n{}", accounting(ctx, l), checks_line(ctx, l, f));
    write_reports(&dir, &head, &file, f)?;
    let summary = input_summary(ctx, l, f);
    let _ = writeln!(log, "  {}", head.replace('\n', "\n  "));
    if f.has_errors() {
        write_manifest(ctx, &dir, l, &summary, &Published::default(), "rejected")?;
        return Err(rejected(&file, f, &dir));
    }
    let files = match reconcile(l).and_then(|()| stage_and_publish(ctx, &wh, l)) {
        Ok(files) => files,
        Err(e) => {
            write_manifest(ctx, &dir, l, &summary, &Published::default(), "failed")?;
            return Err(e);
        }
    };
    write_manifest(ctx, &dir, l, &summary, &files, "ok")?;
    let written: Vec<String> = files.added.iter().chain(&files.replaced).cloned().collect();
    let _ = writeln!(
        log,
        "  {} file(s) written, {} unchanged, in {}",
        written.len(),
        files.unchanged.len(),
        opts.warehouse.display()
    );
    let mut per_time: BTreeMap<String, usize> = BTreeMap::new();
    for o in &l.table.obs {
        *per_time.entry(o.time.clone()).or_default() += 1;
    }
    Ok(RunSummary {
        run_id: ctx.run_id.to_string(),
        pipeline: ctx.p.id.clone(),
        inputs: vec![summary],
        observations: per_time,
        files_written: written,
        skipped_indicators: Vec::new(),
        seconds: 0.0,
    })
}
