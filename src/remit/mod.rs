//! Remittances and bilateral migration from the World Bank: WDI remittances received and paid
//! (Excel and bulk CSV) into `remittances/`, the KNOMAD bilateral remittance matrix into
//! `remittances_bilateral/`, the bilateral migrant-stock matrix into `migrant_stocks_bilateral/`.
//!
//! A pipeline file with a top-level `[remittances]` table (`config.rs`) names the file and its
//! reader; `run` reads it (`wdi.rs`, `matrix.rs`, through `sheet.rs`), maps names and codes to
//! areas (`crosswalk.rs`), checks it (`checks.rs`), and stages one Parquet file per source file
//! (`tables.rs`) with `runs/<RUN_ID>/validation.txt` for the one driver (`pipeline/`) to commit.
//! Unknown names or codes are errors and nothing is loaded; data-quality findings are warnings.
pub mod checks;
pub mod config;
pub mod crosswalk;
pub mod matrix;
mod report;
pub mod sheet;
pub mod tables;
pub mod wdi;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{InputType, RemitPipeline};
use crosswalk::{AreaKind, Areas};
use tables::{Obs, Table};

use crate::config::pipeline::Severity;
use crate::error::{MigError, Result};
use crate::validate::findings::Findings;

/// What a reader produced, with the counts the run reconciles.
pub(crate) struct Loaded {
    pub table: Table,
    /// Cells of the source's value area (areas × years, or rows × columns).
    pub cells: u64,
    /// Blank WDI year cells: no observation.
    pub blanks: u64,
    /// Year-on-year falls flagged.
    pub falls: u64,
    /// Matrices: row/column sums that disagree with the WORLD totals; WDI: years whose World
    /// value differs from the sum of the countries.
    pub mismatches: u64,
}

/// The remittance kind: read and check the input, stage its table and reports.
pub(crate) fn execute(
    p: &RemitPipeline,
    areas: &Areas,
    ctx: &mut crate::pipeline::Ctx,
    staged: &mut crate::load::Staged,
) -> Result<crate::pipeline::Produced> {
    let input = ctx.opts.input.clone().unwrap_or_else(|| p.path.clone());
    let mut findings = Findings::with_cap(ctx.opts.cap.max(1));
    let loaded = read(p, &input, areas, &mut findings)?;
    report::stage(p, &input, &loaded, &findings, ctx, staged)
}

/// Reads and checks the input with the pipeline's reader.
pub(crate) fn read(
    p: &RemitPipeline,
    input: &Path,
    areas: &Areas,
    f: &mut Findings,
) -> Result<Loaded> {
    let sheet = p.sheet.as_deref().unwrap_or_default();
    match p.kind {
        InputType::WdiExcel => {
            let w = wdi::read_excel(input, sheet, &p.indicator)?;
            let meta = wdi::read_metadata(input, &p.metadata_sheet)?;
            Ok(load_wdi(p, w, Some(&meta), areas, f))
        }
        InputType::WdiCsv => {
            let w = wdi::read_bulk_csv(input, &p.indicator)?;
            Ok(load_wdi(p, w, None, areas, f))
        }
        InputType::BilateralRemittances | InputType::BilateralStocks => {
            let m = matrix::read(input, sheet, p.kind.axes())?;
            load_matrix(p, m, areas, f)
        }
    }
}

fn empty_table(p: &RemitPipeline, vintage: Option<String>) -> Table {
    Table {
        name: p.kind.table(),
        bilateral: p.kind.is_matrix(),
        indicator: p.indicator.clone(),
        unit: p.unit.clone(),
        source: p.source.clone(),
        vintage: p.vintage.clone().or(vintage),
        obs: Vec::new(),
    }
}

/// The observations of one WDI row: numbers, and text cells as nulls with a note.
fn wdi_obs(w: &wdi::Wdi, row: &wdi::WdiRow, kind: AreaKind, f: &mut Findings) -> Vec<Obs> {
    let mut out = Vec::with_capacity(row.values.len());
    for (i, v) in &row.values {
        let (col, year) = &w.years[*i];
        let (value, note) = match v {
            wdi::Value::Num(x) => (Some(*x), None),
            wdi::Value::Text(s) => {
                let msg = format!("the source cell holds {s:?}, not a number: left null");
                let spot = checks::Spot {
                    line: w.grid.line(row.r),
                    column: w.grid.column(*col),
                    key: row.code.clone(),
                    value: s.clone(),
                };
                f.push(spot.finding("text_cell", Severity::Info, msg.clone()));
                (None, Some(msg))
            }
        };
        out.push(Obs {
            ref_area: row.code.clone(),
            ref_kind: kind,
            counterpart: None,
            time: year.clone(),
            value,
            note,
        });
    }
    out
}

fn load_wdi(
    p: &RemitPipeline,
    w: wdi::Wdi,
    meta: Option<&BTreeMap<String, bool>>,
    areas: &Areas,
    f: &mut Findings,
) -> Loaded {
    let kinds = checks::classify(&w, areas, meta, f);
    let mut t = empty_table(p, w.vintage.clone());
    for (row, kind) in w.rows.iter().zip(&kinds) {
        if let Some(kind) = *kind {
            t.obs.extend(wdi_obs(&w, row, kind, f));
        }
    }
    t.sort();
    let lines: BTreeMap<&str, u64> = w
        .rows
        .iter()
        .map(|r| (r.code.as_str(), w.grid.line(r.r)))
        .collect();
    let cols: BTreeMap<&str, usize> = w.years.iter().map(|(c, y)| (y.as_str(), *c)).collect();
    let locate = |code: &str, year: &str| {
        let line = lines.get(code).copied().unwrap_or(0);
        (line, w.grid.column(cols.get(year).copied().unwrap_or(0)))
    };
    let falls = checks::yoy_falls(&mut t, p.yoy_fall_warning, areas, &locate, f);
    let mismatches = checks::world_vs_countries(&t, p.sum_tolerance, &locate, f);
    Loaded {
        table: t,
        cells: (w.rows.len() * w.years.len()) as u64,
        blanks: w.blanks,
        falls,
        mismatches,
    }
}

fn load_matrix(
    p: &RemitPipeline,
    m: matrix::Matrix,
    areas: &Areas,
    f: &mut Findings,
) -> Result<Loaded> {
    let time = p.time.clone().unwrap_or_default();
    let years = matrix::title_years(&m.title);
    if !years.is_empty() && !years.contains(&time) {
        return Err(m.grid.error(
            0,
            0,
            format!(
                "the title {:?} is about {}, but the pipeline's `time` is {time}",
                m.title,
                years.join("/")
            ),
        ));
    }
    let mut t = empty_table(p, matrix::title_vintage(&m.title));
    let Some(res) = matrix::resolve(&m, areas, f) else {
        return Ok(Loaded {
            table: t,
            cells: 0,
            blanks: 0,
            falls: 0,
            mismatches: 0,
        });
    };
    t.obs = matrix::observations(&m, &res, &time, f);
    t.sort();
    let mismatches = checks::matrix_sums(&m, &res, p.sum_tolerance, f);
    Ok(Loaded {
        cells: (res.rows.len() * res.cols.len()) as u64,
        table: t,
        blanks: 0,
        falls: 0,
        mismatches,
    })
}

/// The warehouse path of a source file's table: `<table>/<file stem>.parquet`.
pub fn table_file(table: &str, input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = crate::load::warehouse::safe_stem(&stem);
    Path::new(table).join(format!("{stem}.parquet"))
}

/// An error for a pipeline whose run could not reconcile its counts (a bug, not the data).
pub(crate) fn reconcile_error(what: String) -> MigError {
    MigError::Other(format!("row accounting does not add up: {what}"))
}
