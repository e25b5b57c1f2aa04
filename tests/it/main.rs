//! Integration tests: one binary, one module per concern.
mod bad_input;
mod common;
mod crosscheck;
mod cube;
mod estimate_oracle;
mod estimate_props;
mod export;
mod export_forms;
mod extract;
mod golden;
mod interop;
mod query;
mod remit;
mod statcan;
mod synth;
mod validate;
mod warehouse_ops;
