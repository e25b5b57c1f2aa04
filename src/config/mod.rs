//! Configuration: pipeline files, read and checked.
pub mod check;
pub mod pipeline;

pub use pipeline::Pipeline;
