//! Validation findings: what is wrong with an upload, where, and how serious it is.
pub mod findings;

pub use findings::{Finding, Findings};
