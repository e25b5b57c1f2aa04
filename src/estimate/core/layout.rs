//! The first-stage layout both commands build their Taylor designs on: PSUs dense in the order
//! given, strata dense in ascending order of their codes, each PSU's stratum, the lonely-PSU rule
//! and the strata's names. Sampling fractions are the caller's (the cube reads them per PSU from
//! the frame, `migstat estimate` per stratum from its fpc columns, with R's rules and errors).
use crate::estimate::variance::{LonelyPsu, PsuLayout};

/// The layout of PSUs whose strata are `psu_strata` (one stratum code per PSU), with fractions
/// 0, and the code of each dense stratum. The strata are the codes that occur, or all of
/// `0..n` with `all = Some(n)` (a stratum without PSUs then stays in the layout).
pub fn first_stage(
    psu_strata: &[u32],
    all: Option<usize>,
    lonely: LonelyPsu,
    name: impl Fn(u32) -> String,
) -> (PsuLayout, Vec<u32>) {
    let codes: Vec<u32> = match all {
        Some(n) => (0..n as u32).collect(),
        None => {
            let mut codes = psu_strata.to_vec();
            codes.sort_unstable();
            codes.dedup();
            codes
        }
    };
    let psu_stratum = psu_strata
        .iter()
        .map(|s| codes.binary_search(s).unwrap_or(0) as u32)
        .collect();
    let layout = PsuLayout {
        psu_stratum,
        n_strata: codes.len(),
        stratum_fraction: vec![0.0; codes.len()],
        lonely,
        stratum_names: codes.iter().map(|&c| name(c)).collect(),
    };
    (layout, codes)
}
