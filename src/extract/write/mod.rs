//! Writers for the formats the extractors read: test fixtures, and `migstat synth --format`.
//! Every writer takes the same arguments: a header, rows of text cells (blank = missing), value
//! labels per column (code → label; formats without labels ignore them), and which columns are
//! numeric (their cells must parse as numbers; the others are written as text). Files are
//! written to a temporary name beside `path` and renamed into place when complete.
pub mod excel;
pub mod parquet;
pub mod spss;
pub mod stata;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};

pub use self::excel::write_excel;
pub use self::parquet::write_parquet;
pub use self::spss::write_spss;
pub use self::stata::write_stata;

/// Value labels of the columns that have them: column → (code → label).
pub type ColumnLabels = BTreeMap<String, BTreeMap<String, String>>;

/// The formats written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Stata,
    Spss,
    Excel,
    Parquet,
}

impl Format {
    /// By the input type's name (`stata`, `spss`, `excel`, `parquet`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "stata" => Some(Format::Stata),
            "spss" => Some(Format::Spss),
            "excel" => Some(Format::Excel),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Stata => "dta",
            Format::Spss => "sav",
            Format::Excel => "xlsx",
            Format::Parquet => "parquet",
        }
    }
}

/// Writes `rows` under `headers` to `path` in `format`.
pub fn write(
    format: Format,
    path: &Path,
    headers: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    labels: &ColumnLabels,
    numeric: &[bool],
) -> Result<()> {
    match format {
        Format::Stata => write_stata(path, headers, rows, labels, numeric),
        Format::Spss => write_spss(path, headers, rows, labels, numeric),
        Format::Excel => write_excel(path, headers, rows, labels, numeric),
        Format::Parquet => write_parquet(path, headers, rows, labels, numeric),
    }
}

/// A table checked for shape, with numeric cells parsed (`None` = blank).
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Num(Option<f64>),
    Text(String),
}

impl Table {
    pub fn new(
        path: &Path,
        headers: &[String],
        rows: impl Iterator<Item = Vec<String>>,
        numeric: &[bool],
    ) -> Result<Self> {
        let data = |line: u64, column: &str, msg: String| MigError::Data {
            path: path.to_path_buf(),
            line,
            column: column.to_string(),
            msg,
        };
        if numeric.len() != headers.len() {
            return Err(data(1, "-", "one numeric flag per column is needed".into()));
        }
        let mut out = Vec::new();
        for (i, row) in rows.enumerate() {
            let line = i as u64 + 2;
            if row.len() != headers.len() {
                let msg = format!("{} cells for {} columns", row.len(), headers.len());
                return Err(data(line, "-", msg));
            }
            let mut cells = Vec::with_capacity(row.len());
            for ((cell, num), name) in row.into_iter().zip(numeric).zip(headers) {
                cells.push(if !num {
                    Cell::Text(cell)
                } else if cell.trim().is_empty() {
                    Cell::Num(None)
                } else {
                    let x = cell.trim().parse::<f64>();
                    let x = x.map_err(|_| data(line, name, format!("{cell:?} is not a number")))?;
                    Cell::Num(Some(x))
                });
            }
            out.push(cells);
        }
        Ok(Table {
            headers: headers.to_vec(),
            numeric: numeric.to_vec(),
            rows: out,
        })
    }

    /// The widest text of column `c` in bytes (at least 1).
    pub fn text_width(&self, c: usize) -> usize {
        self.rows
            .iter()
            .filter_map(|r| match &r[c] {
                Cell::Text(s) => Some(s.len()),
                Cell::Num(_) => None,
            })
            .max()
            .unwrap_or(0)
            .max(1)
    }
}

/// A temporary name beside `path` for writing before the rename.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Renames the finished temporary file into place (removing it on failure).
pub(crate) fn finish(tmp: &Path, path: &Path, result: Result<()>) -> Result<()> {
    let result =
        result.and_then(|()| std::fs::rename(tmp, path).map_err(|e| MigError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}
