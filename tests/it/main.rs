//! Integration tests: one binary, one module per concern.
mod bad_input;
mod batch;
mod chunks;
#[cfg(feature = "ballista")]
mod cluster;
mod commit;
mod common;
mod crosscheck;
mod cube;
mod estimate_files;
mod estimate_formats;
mod estimate_oracle;
mod estimate_props;
mod export;
mod export_filters;
mod export_forms;
mod extract;
mod findings;
mod fuzz;
mod golden;
mod init;
mod interop;
mod keys;
mod limits;
mod mirror;
mod operators;
mod query;
mod remit;
mod report;
mod serve;
mod statcan;
#[cfg(feature = "failpoints")]
mod stream;
mod synth;
mod threads;
mod validate;
mod warehouse_ops;
