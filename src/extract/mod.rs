//! Extract: open what offices ship and hand rows of text cells, with their line numbers, to
//! normalisation. One reader per format, chosen by the pipeline input's `type`; each implements
//! `RowSource`.
pub mod csv;

use std::collections::BTreeMap;
use std::path::Path;

pub use self::csv::{CsvSource, Encoding};
use crate::config::pipeline::Input;
use crate::error::{MigError, Result};

/// A stream of rows of text cells under a header.
pub trait RowSource {
    /// What messages call the input (`archive.zip!member.csv` for a zip member).
    fn display(&self) -> &Path;
    fn headers(&self) -> &[String];
    /// Size of the data in bytes (uncompressed when known).
    fn size(&self) -> u64;
    /// Reads the next row into `cells`; returns its line (or row) number, `None` at the end.
    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>>;
    /// Value labels of a column (code → label), for formats that carry them.
    fn labels(&self, _column: usize) -> Option<&BTreeMap<String, String>> {
        None
    }
    /// Position of a column by any of its names, compared case-insensitively.
    fn column(&self, names: &[String]) -> Option<usize> {
        names.iter().find_map(|n| {
            self.headers()
                .iter()
                .position(|h| h.eq_ignore_ascii_case(n.trim()))
        })
    }
}

/// Input types a pipeline may declare.
pub const INPUT_TYPES: &[&str] = &["csv"];

/// Opens `path` with the reader of the input's type.
pub fn open(input: &Input, path: &Path) -> Result<Box<dyn RowSource>> {
    match input.kind.as_str() {
        "csv" => Ok(Box::new(CsvSource::open(
            path,
            input.member.as_deref(),
            input.encoding.as_deref(),
            input.delimiter.as_deref(),
        )?)),
        other => Err(MigError::Other(format!(
            "{}: input type {other:?} is not supported (expected one of: {})",
            path.display(),
            INPUT_TYPES.join(", ")
        ))),
    }
}
