//! Estimation: design-based totals, means and ratios with their precision.
pub mod variance;
