//! Configuration: pipeline files, read and checked.
pub mod check;
pub mod pipeline;
pub mod suggest;

pub use pipeline::Pipeline;
