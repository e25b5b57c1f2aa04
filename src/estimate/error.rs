//! Errors of the estimation layer: every message is a sentence that names the file, row, column,
//! stratum or cell at fault and, where there is one, the fix.

use std::path::PathBuf;

/// Everything that can stop an estimate from being computed.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// A stratum has a single PSU and the design says `--lonely-psu fail`.
    #[error(
        "stratum `{stratum}` has only one PSU at stage {stage}; its variance cannot be estimated \
         (choose --lonely-psu remove, certainty, adjust or average, or collapse strata)"
    )]
    LonelyPsu { stratum: String, stage: usize },

    /// The input file could not be opened or read.
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },

    /// The input file, as its reader reports it (the message names the file, and the line and
    /// column where there is one).
    #[error("{0}")]
    Input(String),

    /// Two columns of the file have the same name: which one is meant cannot be told.
    #[error("{path}: the header names column `{column}` more than once; rename one of them")]
    DuplicateColumn { path: PathBuf, column: String },

    /// The file has a header and no data rows.
    #[error("{path}: the file has a header but no data rows: there is nothing to estimate")]
    NoRows { path: PathBuf },

    /// A column named on the command line is not in the file.
    #[error("{path}: no column `{column}` (the file has: {available})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },

    /// A weight (sampling or replicate) is missing, negative or not a number.
    #[error(
        "{path}: row {row}, column `{column}`: weight {problem}; weights must be numbers >= 0"
    )]
    BadWeight {
        path: PathBuf,
        row: usize,
        column: String,
        problem: String,
    },

    /// A design column (PSU, stratum, fpc) is missing a value.
    #[error("{path}: row {row}, column `{column}` is empty; every row needs a {role}")]
    MissingDesignValue {
        path: PathBuf,
        row: usize,
        column: String,
        role: &'static str,
    },

    /// A value that must be numeric is not.
    #[error("{path}: row {row}, column `{column}`: `{value}` is not a number")]
    NotNumeric {
        path: PathBuf,
        row: usize,
        column: String,
        value: String,
    },

    /// A PSU id occurs in two strata although PSUs were not declared nested.
    #[error(
        "PSU `{psu}` (column `{column}`) appears in strata `{first}` and `{second}`; \
         give --nest if PSU ids are only unique within a stratum"
    )]
    PsuInTwoStrata {
        psu: String,
        column: String,
        first: String,
        second: String,
    },

    /// An fpc column is not constant within a stratum, or implies more than 100 % sampling.
    #[error("fpc column `{column}`, stage {stage}, stratum `{stratum}`: {problem}")]
    BadFpc {
        column: String,
        stage: usize,
        stratum: String,
        problem: String,
    },

    /// The replicate declaration is inconsistent (counts, scales, method options).
    #[error("replicate weights: {0}")]
    Replicates(String),

    /// A command-line option is invalid or options contradict each other.
    #[error("{0}")]
    Usage(String),

    /// An analysis column cannot be used the way it was asked for.
    #[error("column `{column}`: {problem}")]
    BadAnalysisColumn { column: String, problem: String },
}
