//! Extract: open what offices ship and hand rows of text cells, with their line numbers, to
//! normalisation. One reader per format, chosen by the pipeline input's `type`.
pub mod csv;

pub use self::csv::{CsvSource, Encoding};
