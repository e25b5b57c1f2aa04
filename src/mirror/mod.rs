//! `migstat mirror`: mirror statistics, one source checked against another. Each survey estimate
//! of migrants by origin or by destination is set beside the World Bank/KNOMAD bilateral migrant
//! stock for the same two countries (see [`pairs`]), in persons, with the ratio and whether the
//! reference lies within the survey's 95 % confidence interval. The table `mirror/mirror.parquet`
//! is rewritten whole by each run, committed like a pipeline's run (`runs::commit_derived`).
pub mod pairs;
pub mod read;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema as ArrowSchema};

use crate::error::{MigError, Result};
use crate::load::columns::described;
pub use pairs::{pairs, MirrorRow, Stock, Stocks};

#[derive(clap::Args, Debug, Clone)]
pub struct MirrorArgs {
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
}

/// The table's file, relative to the warehouse.
pub const MIRROR_FILE: &str = "mirror/mirror.parquet";

/// Why the remittance pair is not computed.
pub const REMITTANCES_SKIPPED: &str = "remittances: skipped: no pipeline states the currency of \
    remit_amount and an exchange rate to US$, which WDI's personal remittances need";

/// Computes every pair, writes `mirror/mirror.parquet`, and says what it wrote on `out`.
pub fn run(args: &MirrorArgs, out: &mut dyn Write) -> Result<i32> {
    let wh = &args.warehouse;
    let obs = survey_rows(wh)?;
    let stocks = stocks(wh)?;
    let rows = pairs(&obs, &stocks);
    let path = write_table(wh, &rows)?;
    let say = |out: &mut dyn Write| -> std::io::Result<()> {
        for m in pairs::SIDES {
            let n = rows.iter().filter(|r| r.measure == m.measure).count();
            writeln!(
                out,
                "  {}: {n} pairs ({} vs bilateral migrant stocks)",
                m.measure, m.indicator
            )?;
        }
        if stocks.is_empty() {
            writeln!(out, "  no bilateral migrant stocks in the warehouse: run pipelines/wb_bilateral_migrant_stocks.toml")?;
        }
        writeln!(out, "  {REMITTANCES_SKIPPED}")?;
        writeln!(
            out,
            "{} mirror rows written to {}",
            rows.len(),
            path.display()
        )
    };
    say(out).map_err(|e| MigError::Other(format!("writing to standard output: {e}")))?;
    Ok(0)
}

/// The observations of the survey indicators the pairs use.
fn survey_rows(wh: &Path) -> Result<Vec<crate::export::ObsRow>> {
    let dir = crate::export::observations::observations_dir(wh)?;
    let mut rows = Vec::new();
    for f in crate::query::tables::parquet_files(&dir)? {
        let wanted =
            |o: &crate::export::ObsRow| pairs::SIDES.iter().any(|s| s.indicator == o.indicator);
        rows.extend(
            crate::export::observations::read_file(&f)?
                .into_iter()
                .filter(wanted),
        );
    }
    Ok(rows)
}

/// The bilateral migrant stocks between countries, in persons.
pub fn stocks(wh: &Path) -> Result<Stocks> {
    let mut out = Stocks::new();
    for b in read::table(wh, "migrant_stocks_bilateral")? {
        for i in 0..b.num_rows() {
            if let Some(s) = stock(&b, i) {
                out.entry((s.destination.clone(), s.origin.clone()))
                    .or_default()
                    .push(s);
            }
        }
    }
    Ok(out)
}

fn stock(b: &RecordBatch, i: usize) -> Option<Stock> {
    let t = |c: &str| read::text(b, c, i);
    let countries =
        t("ref_area_kind") == Some("country") && t("counterpart_area_kind") == Some("country");
    if !countries || t("unit") != Some("PERSONS") {
        return None;
    }
    Some(Stock {
        destination: t("ref_area")?.to_string(),
        origin: t("counterpart_area")?.to_string(),
        year: t("time")?.parse().ok()?,
        persons: read::number(b, "obs_value", i)?,
        source: t("source").unwrap_or("").to_string(),
    })
}

/// Column names, meanings and units of the mirror table.
const FIELDS: [(&str, &str, Option<&str>); 16] = [
    ("ref_area", "the survey's area (ISO3)", None),
    (
        "counterpart_area",
        "the other country of the pair (ISO3): origin or destination",
        None,
    ),
    (
        "measure",
        "foreign_born_by_origin (destination side) or emigrants_by_destination (origin side)",
        None,
    ),
    ("time", "the survey's period", None),
    ("survey_value", "the survey's estimate", Some("persons")),
    (
        "survey_se",
        "standard error of the survey's estimate",
        Some("persons"),
    ),
    ("survey_source", "the survey's source code", None),
    (
        "reference_value",
        "World Bank/KNOMAD bilateral migrant stock for the pair",
        Some("persons"),
    ),
    ("reference_source", "the reference's source code", None),
    (
        "reference_time",
        "the reference's year (the nearest to the survey's)",
        None,
    ),
    ("ratio", "survey_value / reference_value", Some("ratio")),
    (
        "within_ci",
        "whether the reference lies within the survey's 95 % confidence interval",
        None,
    ),
    (
        "survey_indicator",
        "the survey indicator behind survey_value",
        None,
    ),
    (
        "survey_status",
        "obs_status of the survey value (U unreliable)",
        None,
    ),
    ("unit", "unit of the values", None),
    (
        "note",
        "different years, sample-scale sources, unreliable survey values",
        None,
    ),
];

/// The mirror rows as one record batch, columns in [`FIELDS`] order.
pub fn batch(rows: &[MirrorRow]) -> Result<RecordBatch> {
    let text = |f: &dyn Fn(&MirrorRow) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(f)))
    };
    let num = |f: &dyn Fn(&MirrorRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(f)))
    };
    let cols: Vec<ArrayRef> = vec![
        text(&|r| Some(&r.ref_area)),
        text(&|r| Some(&r.counterpart_area)),
        text(&|r| Some(&r.measure)),
        text(&|r| Some(&r.time)),
        num(&|r| Some(r.survey_value)),
        num(&|r| r.survey_se),
        text(&|r| Some(&r.survey_source)),
        num(&|r| Some(r.reference_value)),
        text(&|r| Some(&r.reference_source)),
        text(&|r| Some(&r.reference_time)),
        num(&|r| r.ratio),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.within_ci))),
        text(&|r| Some(&r.survey_indicator)),
        text(&|r| r.survey_status.as_deref()),
        text(&|r| Some(&r.unit)),
        text(&|r| r.note.as_deref()),
    ];
    let fields: Vec<Field> = FIELDS
        .iter()
        .zip(&cols)
        .map(|((name, meaning, unit), c)| {
            let nullable = !matches!(*name, "ref_area" | "counterpart_area" | "measure" | "time");
            described(
                Field::new(*name, c.data_type().clone(), nullable),
                meaning,
                *unit,
            )
        })
        .collect();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), cols)
        .map_err(|e| MigError::Other(format!("building the mirror table: {e}")))
}

/// Writes the table as one transaction of the warehouse (under its lock, recorded in `runs/`
/// like a pipeline's run).
fn write_table(wh: &Path, rows: &[MirrorRow]) -> Result<PathBuf> {
    let tables = [(Path::new(MIRROR_FILE), batch(rows)?)];
    crate::runs::commit_derived(wh, "mirror", &tables, rows.len() as u64)?;
    Ok(wh.join(MIRROR_FILE))
}
