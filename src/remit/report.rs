//! The end of a remittance run: row accounting (cells read = values + nulls with a note, plus
//! blank WDI cells that are no observation), `runs/<RUN_ID>/validation.txt` and `.json`, and the
//! Parquet file, staged for the driver's commit.
use std::collections::BTreeMap;
use std::path::Path;

use super::config::RemitPipeline;
use super::tables::{batch, TABLE_VERSION};
use super::{reconcile_error, table_file, Loaded};
use crate::config::pipeline::Severity;
use crate::error::{MigError, Result};
use crate::load::parquet::FileMeta;
use crate::load::Staged;
use crate::pipeline::{Ctx, InputSummary, Produced};
use crate::validate::findings::Findings;

pub(crate) struct Context<'a> {
    pub p: &'a RemitPipeline,
    pub input: &'a Path,
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

fn rejected(file: &str, f: &Findings, report: &Path) -> String {
    let first = f
        .first_error()
        .map(|e| format!("{file}:{}: column {}: {}", e.line, e.column, e.message));
    format!(
        "validation found {} errors; nothing was loaded. First: {}\nReport: {}",
        f.count(Severity::Error),
        first.unwrap_or_default(),
        report.display()
    )
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

/// Reports, then stages the table unless there were errors.
pub(crate) fn stage(
    p: &RemitPipeline,
    input: &Path,
    l: &Loaded,
    f: &Findings,
    run: &mut Ctx,
    staged: &mut Staged,
) -> Result<Produced> {
    let ctx = Context { p, input };
    let file = input.display().to_string();
    let head = format!("{}\n{}", accounting(&ctx, l), checks_line(&ctx, l, f));
    let scratch = staged.scratch("reports")?;
    write_reports(&scratch, &head, &file, f)?;
    staged.adopt(&run.run_rel(), &scratch)?;
    let summary = input_summary(&ctx, l, f);
    run.say(format!("  {}", head.replace('\n', "\n  ")));
    let mut per_time: BTreeMap<String, usize> = BTreeMap::new();
    for o in &l.table.obs {
        *per_time.entry(o.time.clone()).or_default() += 1;
    }
    let mut produced = Produced {
        validation: serde_json::json!({
            "table": l.table.name,
            "table_version": TABLE_VERSION,
            "vintage": l.table.vintage,
            "input": summary,
            "values": l.table.values(),
            "nulls_noted": l.table.nulls(),
            "blank_cells_no_observation": l.blanks,
            "yoy_falls_flagged": l.falls,
            "world_sum_mismatches": l.mismatches,
        }),
        inputs: vec![summary],
        observations: per_time,
        ..Default::default()
    };
    if f.has_errors() {
        let report = run
            .opts
            .warehouse
            .join(run.run_rel())
            .join("validation.txt");
        produced.rejected = Some(rejected(&file, f, &report));
        return Ok(produced);
    }
    reconcile(l)?;
    let rel = table_file(l.table.name, input);
    let meta = FileMeta {
        run_id: &run.run_id,
        schema_version: TABLE_VERSION,
    };
    staged.parquet(&rel, &batch(&l.table)?, &meta)?;
    Ok(produced)
}
