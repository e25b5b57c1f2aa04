//! migstat: survey microdata in, ILOSTAT-shaped Parquet out.
//!
//! Stages: `extract` (read what offices ship) → `normalize` (map onto the harmonised schema,
//! quarantine what cannot load) → `estimate` (indicator cube with design-based precision) →
//! `load` (atomic Parquet warehouse). `pipeline` drives them; `schema` and `config` hold the data
//! that steer them.
pub mod batch;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod estimate;
pub mod export;
pub mod extract;
pub mod load;
pub mod logging;
pub mod mirror;
pub mod normalize;
pub mod pipeline;
pub mod query;
pub mod remit;
pub mod report;
pub mod runs;
pub mod schema;
pub mod serve;
pub mod synth;
pub mod validate;

/// The version written into every Parquet file and run manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A xorshift generator for tests: the same numbers on every run and machine.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
