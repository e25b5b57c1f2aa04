//! Load: the warehouse's tables and the one way files reach them. Every file of a run is staged,
//! then the whole run is committed at once (`commit.rs`: journal, renames, manifest last) under
//! the warehouse lock (`lock.rs`); a failed or killed run leaves the warehouse as it was.
pub mod catalog;
pub mod columns;
pub mod commit;
pub mod failpoint;
pub mod lock;
pub mod parquet;
pub mod warehouse;

pub use warehouse::{Published, Staged};
