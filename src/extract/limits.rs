//! Bounds on the work one input may cost, whatever its bytes: decompressed size and expansion
//! ratio, bytes per line, per cell and per header name, columns, and sheets and cells of a
//! workbook. The same `Limits` bound `validate` and `run` (both read through the extractors);
//! defaults are documented in `docs/limits.md`, a pipeline's `[input.limits]` table or the
//! command line's `--limit KEY=VALUE` raise or lower them. A limit hit is a [`LimitHit`]: the
//! file, where, what, the limit and how to raise it; the input is refused as unreadable (exit 2).
//!
//! [`clip`] cuts any value echoed into a message, finding or report to its first
//! [`CLIP_CHARS`] characters.
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::{BatchSize, Cells, Labels, ReadJob, RowSource, TextBatch, Value};
use crate::config::pipeline::Pipeline;
use crate::error::{MigError, Result};

/// Characters of an echoed value kept by [`clip`].
pub const CLIP_CHARS: usize = 200;

/// The bounds of one input. Every bound is a whole number ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Decompressed bytes of an input, in MB (10^6 bytes).
    pub max_input_mb: u64,
    /// Decompressed bytes per compressed byte of a `.gz` or zip member, checked once more than
    /// 64 MiB came out (decompression bombs expand about 1,000 times).
    pub max_expansion_ratio: u64,
    /// Bytes of one line of delimited text.
    pub max_line_bytes: u64,
    /// Bytes of one cell.
    pub max_cell_bytes: u64,
    /// Bytes of one column name.
    pub max_header_bytes: u64,
    /// Columns of the header or of any row.
    pub max_columns: u64,
    /// Sheets of a workbook.
    pub max_sheets: u64,
    /// Cells of the sheet read (rows × columns of its used range).
    pub max_cells: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_mb: 4_000,
            max_expansion_ratio: 100,
            max_line_bytes: 1 << 20,
            max_cell_bytes: 1 << 16,
            max_header_bytes: 1_024,
            max_columns: 16_384,
            max_sheets: 256,
            max_cells: 10_000_000,
        }
    }
}

/// The keys of `[input.limits]` and `--limit`, with what each bounds.
pub const KEYS: &[(&str, &str)] = &[
    ("max_input_mb", "decompressed size of the input, MB"),
    (
        "max_expansion_ratio",
        "decompressed bytes per compressed byte",
    ),
    ("max_line_bytes", "bytes of one line"),
    ("max_cell_bytes", "bytes of one cell"),
    ("max_header_bytes", "bytes of one column name"),
    ("max_columns", "columns"),
    ("max_sheets", "sheets of a workbook"),
    ("max_cells", "cells of a sheet"),
];

/// Bytes that come out of a decompressor before the expansion ratio is looked at.
pub const EXPANSION_FLOOR: u64 = 64 << 20;

impl Limits {
    fn slot(&mut self, key: &str) -> Option<&mut u64> {
        Some(match key {
            "max_input_mb" => &mut self.max_input_mb,
            "max_expansion_ratio" => &mut self.max_expansion_ratio,
            "max_line_bytes" => &mut self.max_line_bytes,
            "max_cell_bytes" => &mut self.max_cell_bytes,
            "max_header_bytes" => &mut self.max_header_bytes,
            "max_columns" => &mut self.max_columns,
            "max_sheets" => &mut self.max_sheets,
            "max_cells" => &mut self.max_cells,
            _ => return None,
        })
    }

    /// The value of `key` (one of [`KEYS`]).
    pub fn get(&self, key: &str) -> Option<u64> {
        let mut copy = *self;
        copy.slot(key).map(|v| *v)
    }

    /// Decompressed bytes allowed.
    pub fn max_input_bytes(&self) -> u64 {
        self.max_input_mb.saturating_mul(1_000_000)
    }

    /// Applies `KEY=VALUE` overrides (the command line's `--limit`); an unknown key or a value
    /// that is not a whole number ≥ 1 is an error naming it.
    pub fn apply_overrides(&mut self, overrides: &[String]) -> Result<()> {
        for arg in overrides {
            self.apply_one(arg)
                .map_err(|msg| MigError::Other(format!("--limit {}: {msg}", clip(arg))))?;
        }
        Ok(())
    }

    fn apply_one(&mut self, arg: &str) -> std::result::Result<(), String> {
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| "expected KEY=VALUE, e.g. max_cell_bytes=1000000".to_string())?;
        let key = key.trim();
        let value = parse_count(value.trim())?;
        let slot = self
            .slot(key)
            .ok_or_else(|| format!("unknown limit {key:?} (expected one of: {})", key_list()))?;
        *slot = value;
        Ok(())
    }

    /// Problems of a `[input.limits]` table as `check` lists them (`at` is its key path).
    pub fn problems(table: &toml::Value, at: &str) -> Vec<String> {
        let Some(t) = table.as_table() else {
            return vec![format!("{at}: a table of limits is expected")];
        };
        let mut out = Vec::new();
        for (k, v) in t {
            if Limits::default().get(k).is_none() {
                out.push(format!(
                    "{at}.{k}: unknown limit (expected one of: {})",
                    key_list()
                ));
            } else if v.as_integer().is_none_or(|x| x < 1) {
                out.push(format!("{at}.{k}: must be a whole number of at least 1"));
            }
        }
        out
    }

    /// A hit of limit `key` by `found` (`what` says what was measured), in `path`.
    pub fn hit(&self, key: &'static str, path: &Path, what: String) -> LimitHit {
        LimitHit {
            path: path.to_path_buf(),
            at: String::new(),
            key,
            limit: self.get(key).unwrap_or(0),
            what,
        }
    }
}

/// Applies `--limit KEY=VALUE` overrides to every input of pipeline `p` (person file and roster);
/// the run driver calls this after loading the pipeline, as `validate` does.
pub fn override_pipeline(p: &mut Pipeline, overrides: &[String]) -> Result<()> {
    p.input.limits.apply_overrides(overrides)?;
    if let Some(r) = p.roster.as_mut() {
        r.input.limits.apply_overrides(overrides)?;
    }
    Ok(())
}

fn key_list() -> String {
    KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
}

fn parse_count(s: &str) -> std::result::Result<u64, String> {
    s.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| format!("{:?} is not a whole number of at least 1", clip(s)))
}

/// An input that exceeds one of its limits.
#[derive(Debug, Clone, Error)]
#[error("{}{at}: {what}, above the limit {key} = {limit}; the input is refused as unreadable (exit 2). If the file is right, raise the limit: `[input.limits] {key} = …` in the pipeline or `--limit {key}=…`", .path.display())]
pub struct LimitHit {
    pub path: PathBuf,
    /// Where in the file (`:LINE: column NAME`), empty when the whole file is meant.
    pub at: String,
    pub key: &'static str,
    pub limit: u64,
    pub what: String,
}

impl LimitHit {
    /// The same hit located at `line` (0: not known) and `column` (empty: not known).
    pub fn at(mut self, line: u64, column: &str) -> Self {
        let mut at = String::new();
        if line > 0 {
            at.push_str(&format!(":{line}"));
        }
        if !column.is_empty() {
            at.push_str(&format!(": column {}", clip(column)));
        }
        self.at = at;
        self
    }
}

/// A limit hit stops the input: exit 2, the message as it is (file and place first).
impl From<LimitHit> for MigError {
    fn from(h: LimitHit) -> Self {
        MigError::Other(h.to_string())
    }
}

/// `s` cut to its first [`CLIP_CHARS`] characters and `… (N bytes)` when longer.
pub fn clip(s: &str) -> Cow<'_, str> {
    clip_to(s, CLIP_CHARS)
}

/// `s` cut to its first `chars` characters and `… (N bytes)` when longer.
pub fn clip_to(s: &str, chars: usize) -> Cow<'_, str> {
    if s.len() <= chars {
        return Cow::Borrowed(s);
    }
    match s.char_indices().nth(chars) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes)", &s[..end], grouped(s.len()))),
    }
}

/// [`clip_to`] in place.
pub fn clip_in_place(s: &mut String, chars: usize) {
    if let Cow::Owned(c) = clip_to(s, chars) {
        *s = c;
    }
}

/// `10485760` → `10,485,760`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks a header against the column and name bounds.
pub fn check_headers(limits: &Limits, path: &Path, headers: &[String]) -> Result<()> {
    if headers.len() as u64 > limits.max_columns {
        let what = format!("the header has {} columns", grouped(headers.len()));
        return Err(limits.hit("max_columns", path, what).at(1, "").into());
    }
    for (i, h) in headers.iter().enumerate() {
        if h.len() as u64 > limits.max_header_bytes {
            let what = format!(
                "the name of column {} has {} bytes",
                i + 1,
                grouped(h.len())
            );
            return Err(limits.hit("max_header_bytes", path, what).at(1, h).into());
        }
    }
    Ok(())
}

/// Checks one row of cells read at `line` against the column and cell bounds.
pub fn check_row<C: Cells + ?Sized>(
    limits: &Limits,
    path: &Path,
    headers: &[String],
    line: u64,
    cells: &C,
) -> Result<()> {
    if cells.width() as u64 > limits.max_columns {
        let what = format!("the row has {} cells", grouped(cells.width()));
        return Err(limits.hit("max_columns", path, what).at(line, "").into());
    }
    // A row no longer than the bound has no cell longer than it.
    if cells
        .text_bound()
        .is_some_and(|n| n as u64 <= limits.max_cell_bytes)
    {
        return Ok(());
    }
    // The bound is on text: a typed reader's number is held in 8 bytes.
    let text_len = |i: usize| match cells.value(i) {
        Value::Text(t) => t.len(),
        Value::Number(_) => 0,
    };
    let Some(i) = (0..cells.width()).find(|&i| text_len(i) as u64 > limits.max_cell_bytes) else {
        return Ok(());
    };
    let column = headers
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("#{}", i + 1));
    let what = format!("the cell has {} bytes", grouped(text_len(i)));
    Err(limits
        .hit("max_cell_bytes", path, what)
        .at(line, &column)
        .into())
}

/// A reader's rows checked against the column and cell bounds (its header is checked when it
/// is wrapped): what `extract::open` hands out, whatever the format.
pub struct Bounded {
    inner: Box<dyn RowSource>,
    limits: Limits,
    /// The display name and header, for the checks of rows read by jobs.
    named: std::sync::Arc<(PathBuf, Vec<String>)>,
}

impl Bounded {
    pub fn wrap(inner: Box<dyn RowSource>, limits: Limits) -> Result<Self> {
        check_headers(&limits, inner.display(), inner.headers())?;
        let named = std::sync::Arc::new((inner.display().to_path_buf(), inner.headers().to_vec()));
        Ok(Bounded {
            inner,
            limits,
            named,
        })
    }
}

impl RowSource for Bounded {
    fn display(&self) -> &Path {
        self.inner.display()
    }

    fn headers(&self) -> &[String] {
        self.inner.headers()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>> {
        let line = self.inner.next_into(cells)?;
        if let Some(line) = line {
            let (display, headers) = (self.inner.display(), self.inner.headers());
            check_row(&self.limits, display, headers, line, cells)?;
        }
        Ok(line)
    }

    fn next_batch(&mut self, batch: &mut TextBatch, size: BatchSize) -> Result<usize> {
        let first = batch.len();
        let n = self.inner.next_batch(batch, size)?;
        let (display, headers) = (self.inner.display(), self.inner.headers());
        for r in first..batch.len() {
            check_row(&self.limits, display, headers, batch.line(r), &batch.row(r))?;
        }
        Ok(n)
    }

    fn next_job(&mut self, size: BatchSize) -> Result<Option<ReadJob>> {
        let Some(job) = self.inner.next_job(size)? else {
            return Ok(None);
        };
        let (limits, named) = (self.limits, self.named.clone());
        Ok(Some(Box::new(move || {
            let batch = job()?;
            for r in 0..batch.len() {
                check_row(&limits, &named.0, &named.1, batch.line(r), &batch.row(r))?;
            }
            Ok(batch)
        })))
    }

    fn labels(&self, column: usize) -> Option<&Labels> {
        self.inner.labels(column)
    }
}

/// Refuses what is not a regular file (a FIFO would block the reader) and a file larger than the
/// input bound (formats read whole into memory).
pub fn check_file_size(limits: &Limits, path: &Path) -> Result<()> {
    let len = super::data::regular_file_size(path)?;
    if len > limits.max_input_bytes() {
        let what = format!("the file has {} bytes", grouped(len as usize));
        return Err(limits.hit("max_input_mb", path, what).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_values_and_cuts_long_ones_with_their_size() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(300);
        let cut = clip(&long);
        assert!(cut.starts_with(&"é".repeat(200)));
        assert!(cut.ends_with("… (600 bytes)"), "{cut}");
        assert_eq!(grouped(10_485_760), "10,485,760");
        assert_eq!(grouped(999), "999");
    }

    #[test]
    fn overrides_set_known_keys_and_refuse_the_rest() {
        let mut l = Limits::default();
        l.apply_overrides(&["max_cell_bytes=10_000".into(), "max_columns = 5".into()])
            .expect("valid");
        assert_eq!((l.max_cell_bytes, l.max_columns), (10_000, 5));
        for bad in ["max_cell_bytes=0", "max_cells=-1", "nope=3", "max_cells"] {
            let e = l.apply_overrides(&[bad.into()]).expect_err(bad).to_string();
            assert!(e.starts_with("--limit "), "{e}");
        }
    }

    #[test]
    fn a_limit_hit_names_file_place_limit_and_how_to_raise_it() {
        let l = Limits::default();
        let e: MigError = l
            .hit(
                "max_cell_bytes",
                Path::new("x.csv"),
                "the cell has 9 bytes".into(),
            )
            .at(7, "AGE")
            .into();
        let s = e.to_string();
        assert!(
            s.starts_with("x.csv:7: column AGE: the cell has 9 bytes"),
            "{s}"
        );
        assert!(s.contains("max_cell_bytes = 65536") && s.contains("--limit max_cell_bytes="));
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn pipeline_tables_are_checked_key_by_key() {
        let t: toml::Value =
            toml::from_str("max_cells = 0\nmax_bogus = 3\nmax_columns = 9").expect("toml");
        let p = Limits::problems(&t, "input.limits");
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
