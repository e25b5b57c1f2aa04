//! Configuration: pipeline files, read and checked.
pub mod check;
pub mod init;
pub mod pipeline;
pub mod reference;
pub mod suggest;

pub use pipeline::Pipeline;
