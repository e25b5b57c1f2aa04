//! `migstat report`: one self-contained HTML page per area (inline SVG charts drawn with
//! plotters, no script, nothing fetched, printable) from the warehouse's Parquet tables read with
//! arrow-rs: migrants' and natives' rates over time with their 95 % bands, the age–sex pyramid by
//! place of birth, employment by activity and occupation, a reliability map, remittances and
//! the mirror statistics. Each page is written whole or not at all (`<out>/<AREA>.html`).
pub mod charts;
pub mod data;
pub mod page;
pub mod series;
pub mod world;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};
use crate::export::ObsFilter;

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Areas (ISO3), comma-separated; `all` for every area with observations.
    #[arg(
        long = "ref-area",
        value_delimiter = ',',
        required = true,
        value_name = "AREA"
    )]
    pub ref_areas: Vec<String>,
    /// Periods FROM..TO (`2010..2015`, `2023Q4..`): periods wholly inside.
    #[arg(long, value_name = "FROM..TO")]
    pub time: Option<String>,
    /// Folder for the pages (created when missing).
    #[arg(long)]
    pub out: PathBuf,
}

/// Writes one page per area; lists them on `out`; returns the exit code (0).
pub fn run(args: &ReportArgs, out: &mut dyn Write) -> Result<i32> {
    let wh = &args.warehouse;
    crate::export::observations::observations_dir(wh)?;
    let known = data::areas(wh)?;
    let areas: Vec<String> = match args.ref_areas.iter().any(|a| a == "all") {
        true => known.clone(),
        false => args.ref_areas.clone(),
    };
    if let Some(a) = areas.iter().find(|a| !known.contains(a)) {
        return Err(MigError::Other(format!(
            "no observations for {a} in {}: areas there are {}",
            wh.display(),
            known.join(", ")
        )));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| MigError::io(&args.out, e))?;
    for area in &areas {
        let path = write_page(args, area)?;
        writeln!(out, "  {area}: {}", path.display())
            .map_err(|e| MigError::Other(format!("writing to standard output: {e}")))?;
    }
    Ok(0)
}

/// Builds and writes the page of one area; returns its path.
fn write_page(args: &ReportArgs, area: &str) -> Result<PathBuf> {
    let html = page_html(&args.warehouse, area, args.time.as_deref())?;
    let path = args.out.join(format!("{area}.html"));
    crate::export::atomic::write_file(&path, |w| {
        w.write_all(html.as_bytes())
            .map_err(|e| MigError::io(&path, e))
    })?;
    Ok(path)
}

/// The self-contained page of one area (also served by `migstat serve` to that country).
pub fn page_html(wh: &Path, area: &str, time: Option<&str>) -> Result<String> {
    let filter = ObsFilter::new(&[area.to_string()], &[], &[], time)
        .map_err(|e| MigError::Other(e.to_string()))?;
    let d = data::load(wh, area, &filter)?;
    let periods = d.periods();
    let span = match (periods.first(), periods.last()) {
        (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
        (Some(a), _) => a.clone(),
        _ => "none in the span asked for".into(),
    };
    page::render(&d, &span).map_err(|e| MigError::Other(format!("{area}: {e}")))
}
