//! Variance estimators over a declared survey design (to be implemented).
