//! Validation findings: what is wrong with an upload, where, and how serious it is.
pub mod findings;
pub mod keys;
pub mod rules;

pub use findings::{Finding, Findings};
