//! Variance estimators over a declared survey design (interface; implementation in progress).
use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LonelyPsu {
    Fail,
    Remove,
    Certainty,
    Adjust,
    Average,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicateMethod {
    Brr,
    Fay,
    Jk1,
    Jkn,
    Bootstrap,
    Sdr,
}

#[derive(Debug, Error)]
pub enum EstimateError {
    #[error("{0}")]
    Design(String),
}
