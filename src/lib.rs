//! migstat: survey microdata in, ILOSTAT-shaped Parquet out.
pub mod estimate;
