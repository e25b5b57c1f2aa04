//! Output: CSV files written through a temporary name and renamed into place, and cell
//! formatting with fixed decimals (integers scaled by 10^d, never the float printer) so files
//! are byte-stable.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use csv::ByteRecord;

/// Output formats of `migstat synth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated text, UTF-8, `\n` line ends.
    #[default]
    Csv,
    /// Stata `.dta` (release 118).
    Dta,
    /// SPSS `.sav`.
    Sav,
    /// Excel `.xlsx`.
    Xlsx,
    /// Parquet.
    Parquet,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Dta => "dta",
            Format::Sav => "sav",
            Format::Xlsx => "xlsx",
            Format::Parquet => "parquet",
        }
    }

    /// The writer of a non-CSV format.
    fn target(self) -> Option<crate::extract::write::Format> {
        use crate::extract::write::Format as W;
        match self {
            Format::Csv => None,
            Format::Dta => Some(W::Stata),
            Format::Sav => Some(W::Spss),
            Format::Xlsx => Some(W::Excel),
            Format::Parquet => Some(W::Parquet),
        }
    }
}

/// Rewrites the CSV file `csv` as `format` beside it (same stem) and removes the CSV. A column is
/// numeric when every non-blank cell parses as a number and none has a leading zero (ids such as
/// `001` stay text, as offices ship them).
pub fn convert(csv_path: &Path, format: Format) -> anyhow::Result<PathBuf> {
    let Some(target) = format.target() else {
        return Ok(csv_path.to_path_buf());
    };
    let out = csv_path.with_extension(format.extension());
    let open = || {
        csv::Reader::from_path(csv_path).with_context(|| format!("reading {}", csv_path.display()))
    };
    let mut rdr = open()?;
    let headers: Vec<String> = rdr.headers()?.iter().map(String::from).collect();
    let mut numeric = vec![true; headers.len()];
    for rec in rdr.records() {
        let rec = rec?;
        for (i, cell) in rec.iter().enumerate() {
            let leading_zero = cell.len() > 1 && cell.starts_with('0') && !cell.starts_with("0.");
            if !cell.is_empty() && (leading_zero || cell.parse::<f64>().is_err()) {
                numeric[i] = false;
            }
        }
    }
    let rows = open()?
        .into_records()
        .filter_map(|r| r.ok())
        .map(|r| r.iter().map(String::from).collect::<Vec<_>>());
    crate::extract::write::write(target, &out, &headers, rows, &Default::default(), &numeric)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::remove_file(csv_path).with_context(|| format!("removing {}", csv_path.display()))?;
    Ok(out)
}

/// Splits the Parquet file `path` into `n` files of consecutive rows (as even as the rows
/// allow) in a folder named after its stem, removes it, and returns the folder.
pub fn split_parquet(path: &Path, n: u32) -> anyhow::Result<PathBuf> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    let dir = path.with_extension("");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    let total = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(8192).build()?;
    let n = u64::from(n);
    // Part k holds rows [k·total/n, (k+1)·total/n).
    let bound = |k: u64| k * total / n;
    let mut part = 0u64;
    let mut seen = 0u64;
    let open = |k: u64| -> anyhow::Result<ArrowWriter<File>> {
        let f = File::create(dir.join(format!("part-{k:03}.parquet")))?;
        Ok(ArrowWriter::try_new(f, schema.clone(), None)?)
    };
    let mut writer = open(0)?;
    for batch in reader {
        let batch = batch?;
        let mut from = 0usize;
        while from < batch.num_rows() {
            while part + 1 < n && seen >= bound(part + 1) {
                part += 1;
                std::mem::replace(&mut writer, open(part)?).close()?;
            }
            let end = if part + 1 < n {
                bound(part + 1)
            } else {
                u64::MAX
            };
            let take = ((end - seen) as usize).min(batch.num_rows() - from);
            writer.write(&batch.slice(from, take))?;
            from += take;
            seen += take as u64;
        }
    }
    writer.close()?;
    while part + 1 < n {
        part += 1;
        open(part)?.close()?;
    }
    std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    Ok(dir)
}

/// A table being written: rows go to `<path>.part`, renamed to `path` by `finish`.
pub struct TableWriter {
    path: PathBuf,
    part: PathBuf,
    csv: csv::Writer<BufWriter<File>>,
    pub rows: u64,
}

impl TableWriter {
    pub fn create(path: &Path, header: &ByteRecord) -> anyhow::Result<Self> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let file = File::create(&part).with_context(|| {
            format!("cannot create {}: check the output folder", part.display())
        })?;
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(BufWriter::with_capacity(1 << 20, file));
        csv.write_byte_record(header)
            .with_context(|| format!("cannot write {}", part.display()))?;
        Ok(TableWriter {
            path: path.to_path_buf(),
            part,
            csv,
            rows: 0,
        })
    }

    pub fn write(&mut self, rec: &ByteRecord) -> anyhow::Result<()> {
        self.rows += 1;
        self.csv
            .write_byte_record(rec)
            .with_context(|| format!("cannot write {}", self.part.display()))
    }

    /// Flushes and renames the file into place.
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        let mut inner = self
            .csv
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", self.part.display(), e.error()))?;
        inner
            .flush()
            .with_context(|| format!("cannot write {}", self.part.display()))?;
        drop(inner);
        std::fs::rename(&self.part, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.part.display(),
                self.path.display()
            )
        })?;
        Ok(self.path)
    }
}

/// Appends cells to a record.
pub trait Cells {
    fn text(&mut self, s: &str);
    fn blank(&mut self);
    fn int(&mut self, x: i64);
    /// `x` with exactly `decimals` decimals (at most 6).
    fn fixed(&mut self, x: f64, decimals: u32);
    fn opt_int(&mut self, x: Option<i64>) {
        match x {
            Some(x) => self.int(x),
            None => self.blank(),
        }
    }
    fn opt_fixed(&mut self, x: Option<f64>, decimals: u32) {
        match x {
            Some(x) => self.fixed(x, decimals),
            None => self.blank(),
        }
    }
    fn opt_text(&mut self, s: Option<&str>) {
        self.text(s.unwrap_or(""));
    }
}

impl Cells for ByteRecord {
    fn text(&mut self, s: &str) {
        self.push_field(s.as_bytes());
    }
    fn blank(&mut self) {
        self.push_field(b"");
    }
    fn int(&mut self, x: i64) {
        let mut buf = [0u8; 24];
        let n = format_int(x, &mut buf);
        self.push_field(&buf[buf.len() - n..]);
    }
    fn fixed(&mut self, x: f64, decimals: u32) {
        let mut buf = [0u8; 40];
        let n = format_fixed(x, decimals, &mut buf);
        self.push_field(&buf[buf.len() - n..]);
    }
}

/// Writes `x` right-aligned at the end of `buf`; returns its length.
fn format_int(x: i64, buf: &mut [u8; 24]) -> usize {
    let mut v = x.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if x < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    buf.len() - i
}

/// Writes `x` rounded half away from zero to `decimals` decimals, right-aligned in `buf`.
fn format_fixed(x: f64, decimals: u32, buf: &mut [u8; 40]) -> usize {
    let decimals = decimals.min(6);
    let scale = 10u64.pow(decimals);
    let scaled = (x * scale as f64).round();
    let neg = scaled < 0.0;
    let v = scaled.abs() as u64;
    let (int, frac) = (v / scale, v % scale);
    let mut i = buf.len();
    let mut f = frac;
    for _ in 0..decimals {
        i -= 1;
        buf[i] = b'0' + (f % 10) as u8;
        f /= 10;
    }
    if decimals > 0 {
        i -= 1;
        buf[i] = b'.';
    }
    let mut v = int;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    buf.len() - i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(f: impl FnOnce(&mut ByteRecord)) -> String {
        let mut r = ByteRecord::new();
        f(&mut r);
        String::from_utf8(r[0].to_vec()).unwrap()
    }

    #[test]
    fn fixed_decimals_are_exact_text() {
        assert_eq!(cell(|r| r.fixed(1234.56789, 4)), "1234.5679");
        assert_eq!(cell(|r| r.fixed(0.0, 4)), "0.0000");
        assert_eq!(cell(|r| r.fixed(-2.5, 2)), "-2.50");
        assert_eq!(cell(|r| r.fixed(7.0, 0)), "7");
        assert_eq!(cell(|r| r.fixed(0.005, 2)), "0.01");
        assert_eq!(cell(|r| r.fixed(f64::from(u32::MAX), 1)), "4294967295.0");
    }

    #[test]
    fn integers_and_blanks() {
        assert_eq!(cell(|r| r.int(0)), "0");
        assert_eq!(cell(|r| r.int(-42)), "-42");
        assert_eq!(cell(|r| r.int(i64::MIN)), "-9223372036854775808");
        assert_eq!(cell(|r| r.opt_int(None)), "");
    }
}
