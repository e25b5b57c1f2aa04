//! `migstat export`: the warehouse's observations as ILOSTAT bulk-download CSVs (one per dataset
//! `<INDICATOR>_<A|Q|M>`) or as SDMX-CSV (one per dataflow `DF_<INDICATOR>`). Observations are
//! read with the same arrow-rs Parquet reader the load stage writes with, so values pass through
//! bit for bit; every file is written into a staging folder and moved into place only when all of
//! them were written.
pub mod atomic;
pub mod filter;
pub mod ilostat_csv;
pub mod labels;
pub mod observations;
pub mod sdmx_csv;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};
use crate::schema::Schema;
pub use filter::{ObsFilter, TimeRange};
pub use labels::Labels;
pub use observations::{datasets, period, Dataset, Freq, ObsRow};

/// The files an export wrote, each with its number of rows.
pub type Written = Vec<(PathBuf, usize)>;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// ILOSTAT bulk-download CSV, one file per dataset: <INDICATOR>_<A|Q|M>.csv.
    IlostatCsv,
    /// SDMX-CSV version 1, one file per dataflow: DF_<INDICATOR>.csv.
    SdmxCsv,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Folder for the exported files (created when missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Add a `<col>.label` column after each code column (ilostat-csv only).
    #[arg(long)]
    pub labels: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Round values and bounds to N decimal places (default: every digit, lossless).
    #[arg(long, value_name = "N")]
    pub digits: Option<u32>,
}

/// Which observations to take; each list is comma-separated or repeated, empty takes all.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Areas (ISO3 codes), e.g. `THA,ARM`.
    #[arg(long = "ref-area", value_delimiter = ',', value_name = "AREA")]
    pub ref_areas: Vec<String>,
    /// Indicator codes or globs, e.g. `MST_TEAP_*_RT`.
    #[arg(long = "indicator", value_delimiter = ',', value_name = "GLOB")]
    pub indicators: Vec<String>,
    /// Sources, e.g. `BA:FRA_EU_LFS_PUF`.
    #[arg(long = "source", value_delimiter = ',', value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Periods FROM..TO (`2010..2015`, `2010Q1..`, `..2012M06`): periods wholly inside.
    #[arg(long, value_name = "FROM..TO")]
    pub time: Option<String>,
}

impl FilterArgs {
    /// The filter these arguments describe.
    pub fn build(&self) -> Result<ObsFilter> {
        ObsFilter::new(
            &self.ref_areas,
            &self.indicators,
            &self.sources,
            self.time.as_deref(),
        )
        .map_err(|e| MigError::Other(e.to_string()))
    }
}

/// Exports every observation; lists the files written on `out`; returns the exit code (0).
pub fn run(args: &ExportArgs, out: &mut dyn Write) -> Result<i32> {
    if args.labels && args.format == ExportFormat::SdmxCsv {
        return Err(MigError::Other(
            "--labels goes with --format ilostat-csv (SDMX-CSV carries codes only)".into(),
        ));
    }
    let schema = Schema::locate(None, None)?;
    let filter = args.filter.build()?;
    let mut datasets = datasets(&args.warehouse, &code_order(&schema), &filter)?;
    if datasets.is_empty() && !filter.is_everything() {
        return Err(MigError::Other(format!(
            "no observation in {} matches {}: nothing was written",
            args.warehouse.display(),
            filter.describe()
        )));
    }
    if let Some(d) = args.digits {
        round_datasets(&mut datasets, d);
    }
    let staging = atomic::Staging::new(&args.out)?;
    let dir = staging.dir();
    let (written, warnings) = match args.format {
        ExportFormat::IlostatCsv => {
            let labels = match args.labels {
                true => Some(Labels::load(&schema, &args.warehouse)?),
                false => None,
            };
            let files = ilostat_csv::write_all(&datasets, labels.as_ref(), dir)?;
            (files, Vec::new())
        }
        ExportFormat::SdmxCsv => sdmx_csv::write_all(&datasets, &schema.catalogue, dir)?,
    };
    let written = staging.publish(written, &args.out)?;
    report(out, &written, &warnings, &args.out)
        .map_err(|e| MigError::Other(format!("writing to standard output: {e}")))?;
    Ok(0)
}

fn report(
    out: &mut dyn Write,
    written: &Written,
    warnings: &[String],
    dir: &Path,
) -> std::io::Result<()> {
    for (path, rows) in written {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        writeln!(out, "  {name}: {rows} rows")?;
    }
    for w in warnings {
        writeln!(out, "warning: {w}")?;
    }
    let rows: usize = written.iter().map(|(_, n)| n).sum();
    writeln!(
        out,
        "{} files, {rows} observations written to {}",
        written.len(),
        dir.display()
    )
}

/// Every code's position in the code lists (`SEX_T, SEX_M, SEX_F`, then each version's total and
/// codes in file order), so exported rows come in ILOSTAT's order rather than alphabetically.
pub fn code_order(schema: &Schema) -> HashMap<String, usize> {
    let sex = schema.codes.dims.get("sex").into_iter();
    let others = schema.codes.dims.values().filter(|d| d.name != "sex");
    let mut order = HashMap::new();
    for dim in sex.chain(others) {
        for c in &dim.codes {
            let next = order.len();
            order.entry(c.code.clone()).or_insert(next);
        }
    }
    order
}

/// Rounds every value and bound to `digits` decimal places (half away from zero).
pub fn round_datasets(datasets: &mut [Dataset], digits: u32) {
    let round = |x: &mut Option<f64>| {
        if let Some(v) = x {
            *v = round_to(*v, digits);
        }
    };
    for r in datasets.iter_mut().flat_map(|d| d.rows.iter_mut()) {
        round(&mut r.obs_value);
        round(&mut r.lower_bound);
        round(&mut r.upper_bound);
    }
}

/// `x` rounded to `digits` decimal places; a value too large to scale is kept as it is.
pub fn round_to(x: f64, digits: u32) -> f64 {
    let scale = 10f64.powi(digits.min(17) as i32);
    let scaled = x * scale;
    if !scaled.is_finite() || scaled.abs() >= 2f64.powi(52) {
        return x;
    }
    scaled.round() / scale
}

/// A number at full precision (the shortest text that reads back to the same `f64`); empty for
/// null and for values that are not finite.
pub fn number(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => String::new(),
    }
}

/// Writes a CSV file with `header` and `rows`, whole or not at all.
pub fn csv_file<R, I>(path: &Path, header: &[&str], rows: I) -> Result<()>
where
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
    I: Iterator<Item = R>,
{
    let err = |e: csv::Error| MigError::Other(format!("{}: {e}", path.display()));
    atomic::write_file(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(header).map_err(err)?;
        for row in rows {
            c.write_record(row).map_err(err)?;
        }
        c.flush().map_err(|e| MigError::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_every_digit() {
        assert_eq!(number(Some(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(number(Some(1234.5)), "1234.5");
        assert_eq!(number(Some(3.0)), "3");
        assert_eq!(number(None), "");
        assert_eq!(number(Some(f64::NAN)), "");
        let x = 1.0 / 3.0;
        assert_eq!(number(Some(x)).parse::<f64>().ok(), Some(x));
    }

    #[test]
    fn digits_round_to_decimal_places() {
        assert_eq!(number(Some(round_to(0.1 + 0.2, 2))), "0.3");
        assert_eq!(number(Some(round_to(1234.5678, 1))), "1234.6");
        assert_eq!(number(Some(round_to(-2.345, 0))), "-2");
        assert_eq!(number(Some(round_to(17.0179441265702, 3))), "17.018");
        assert_eq!(round_to(1e300, 3), 1e300);
    }
}
