//! Estimation: one core (`core/`: accumulator state, update, merge, finish) serving the
//! indicator cube of `migstat run` (`cube.rs`, `tables.rs`, `indicators.rs`: cells, margins,
//! reliability) and `migstat estimate` for any table (`generic/`: ad-hoc domains), with
//! design-based variance (Taylor linearisation, replicate weights).
pub mod cli;
pub mod core;
pub mod cube;
pub mod design;
pub mod dims;
pub mod error;
pub mod generic;
pub mod indicators;
pub mod populations;
pub mod reliability;
pub mod replicate;
pub mod tables;
pub mod tdist;
pub mod variance;

/// One row of the `observations` table (ILOSTAT's long format plus precision columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub ref_area: String,
    pub source: String,
    pub indicator: String,
    pub sex: String,
    pub classif1: Option<String>,
    pub classif2: Option<String>,
    pub time: String,
    pub obs_value: Option<f64>,
    pub obs_status: Option<String>,
    pub note_classif: Option<String>,
    pub note_indicator: Option<String>,
    pub note_source: Option<String>,
    pub sample_count: i64,
    pub se: Option<f64>,
    pub cv: Option<f64>,
    pub lower_bound: Option<f64>,
    pub upper_bound: Option<f64>,
    pub design_df: Option<f64>,
}
