//! Estimation: design-based totals, means and ratios with their precision.
pub mod cli;
pub mod error;
pub mod generic;
pub mod replicate;
pub mod tdist;
pub mod variance;
