//! Integration tests: one binary, one module per concern.
mod bad_input;
mod common;
mod cube;
mod golden;
mod interop;
mod remit;
mod statcan;
