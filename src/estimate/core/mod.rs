//! The one estimation core behind `migstat run` (the catalogue's cube) and `migstat estimate`
//! (ad-hoc domains): an accumulator in the shape of DataFusion's `Accumulator` — update a
//! [`State`] with a chunk of rows, merge two states, finish.
//!
//! - [`cells`]: how a caller names cells. A [`CellMap`] says, for one row, which cells it
//!   counts in and with which value (the cube: population bit × breakdown codes of each table;
//!   `estimate`: domain × target, a ratio being two cells, numerator and denominator).
//! - [`state`]: the plain-data state (per cell, per (stratum, PSU) and per replicate sums plus
//!   counts), its `update` with one chunk and its `merge`.
//! - [`chunks`]: fixed chunk boundaries (whole PSUs, in PSU order) and the fixed merge tree, so
//!   results are bit-identical for any number of threads.
//! - [`layout`]: the first-stage layout (PSUs in strata) both commands' designs are built on.
//! - [`finish`]: totals and ratios (a mean is a ratio to a count) with Taylor (strata, PSUs,
//!   later stages with fpc, lonely-PSU rules) or replicate variance, SE, CV and bounds.
//!
//! The state is serialisable: a distributed engine can compute the state of each chunk (named by
//! its [`ChunkKey`]), and [`merge_in_order`] merges them exactly as the local engine does.
pub mod cells;
pub mod chunks;
mod exact;
pub mod finish;
pub mod layout;
pub mod state;

pub use cells::CellMap;
pub use chunks::{accumulate, merge_in_order, Input};
pub use finish::{Cell, Finish, PsuTotals, Sums, ZeroReplicate};
pub use state::{ChunkKey, MergeError, State};
