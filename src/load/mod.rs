//! Load: Parquet files written beside the warehouse and renamed into place, so a reader sees the
//! old file or the new one, never half of one; a failed run leaves the warehouse as it was.
pub mod catalog;
pub mod columns;
pub mod lock;
pub mod parquet;
pub mod warehouse;

pub use warehouse::{Staged, Warehouse};
