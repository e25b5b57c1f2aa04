//! Errors of the library, kept apart by what the user can do about them; `main` maps them to the
//! exit codes of the contract (1 = a data problem was found, 2 = could not run, 75 = busy).
use std::path::PathBuf;

use thiserror::Error;

/// The exit code of a command that found the warehouse locked by another process.
pub const EXIT_BUSY: i32 = 75;

#[derive(Debug, Error)]
pub enum MigError {
    /// The file cannot be read at all (missing, unreadable, not the expected container).
    #[error("{path}: {msg}")]
    Unreadable { path: PathBuf, msg: String },
    /// A problem in the data, located to file, line and column.
    #[error("{path}:{line}: column {column}: {msg}")]
    Data {
        path: PathBuf,
        line: u64,
        column: String,
        msg: String,
    },
    /// Validation found errors; nothing was loaded. The report says why.
    #[error("{0}")]
    Rejected(String),
    /// The pipeline file is invalid; every problem is listed.
    #[error("{path}: invalid pipeline:\n{}", problems.join("\n"))]
    Pipeline {
        path: PathBuf,
        problems: Vec<String>,
    },
    /// The schema folder is invalid.
    #[error("schema: {0}")]
    Schema(String),
    /// Estimation could not be done (design problems).
    #[error("{0}")]
    Estimate(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An error of a run that had started: its run record (`runs/<RUN_ID>/`) says more.
    #[error("{source}")]
    InRun {
        run_id: String,
        source: Box<MigError>,
    },
    /// Another process holds the warehouse lock (exit 75, `EX_TEMPFAIL`: retry later).
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Other(String),
}

impl MigError {
    /// The exit code of the contract: 1 for data problems found, 2 when the run could not be done.
    pub fn exit_code(&self) -> i32 {
        match self {
            MigError::Data { .. } | MigError::Rejected(_) => 1,
            MigError::Busy(_) => EXIT_BUSY,
            MigError::InRun { source, .. } => source.exit_code(),
            _ => 2,
        }
    }

    /// The error itself, without the run it happened in.
    pub fn into_inner(self) -> MigError {
        match self {
            MigError::InRun { source, .. } => source.into_inner(),
            e => e,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MigError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<crate::estimate::variance::EstimateError> for MigError {
    fn from(e: crate::estimate::variance::EstimateError) -> Self {
        MigError::Estimate(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, MigError>;

/// `s` cut to its first `max` characters, with the full size said when it was longer: what a
/// message echoes of a value from outside (a cell, a name, a command line).
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((end, _)) => format!("{}… ({} bytes)", &s[..end], s.len()),
    }
}
