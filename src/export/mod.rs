//! `migstat export`: the warehouse's observations as ILOSTAT bulk-download CSVs (one per dataset
//! `<INDICATOR>_<A|Q|M>`) or as SDMX-CSV (one per dataflow `DF_<INDICATOR>`). Observations are
//! read with the same arrow-rs Parquet reader the load stage writes with, so values pass through
//! bit for bit; every file is written into a staging folder and moved into place only when all of
//! them were written.
pub mod atomic;
pub mod ilostat_csv;
pub mod labels;
pub mod observations;
pub mod sdmx_csv;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};
use crate::schema::Schema;
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
}

/// Exports every observation; lists the files written on `out`; returns the exit code (0).
pub fn run(args: &ExportArgs, out: &mut dyn Write) -> Result<i32> {
    if args.labels && args.format == ExportFormat::SdmxCsv {
        return Err(MigError::Other(
            "--labels goes with --format ilostat-csv (SDMX-CSV carries codes only)".into(),
        ));
    }
    let schema = Schema::locate(None, None)?;
    let datasets = datasets(&args.warehouse, &code_order(&schema))?;
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
}
