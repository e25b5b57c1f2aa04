//! The design of one period's rows as the variance estimators need it: the PSU layout for Taylor
//! linearisation and the replicate specification.
use crate::config::pipeline::Design;
use crate::error::{MigError, Result};
use crate::estimate::core::layout::first_stage;
use crate::estimate::variance::{LonelyPsu, PsuLayout, ReplicateMethod, ReplicateSpec};
use crate::normalize::{Frame, NONE};

/// How standard errors are computed for a period.
pub enum Variance {
    None,
    /// PSUs present in the period (ascending frame index) and their layout.
    Taylor {
        psus: Vec<u32>,
        layout: PsuLayout,
        /// PSUs per stratum ([`PsuLayout::stratum_sizes`]).
        sizes: Vec<usize>,
    },
    Replicate(ReplicateSpec),
}

impl Variance {
    pub fn df(&self, n_reps: usize) -> Option<f64> {
        match self {
            Variance::None => None,
            Variance::Taylor { layout, .. } => Some(layout.design_df()),
            Variance::Replicate(_) => Some(n_reps as f64 - 1.0),
        }
    }
}

/// The first-stage units of one period's rows, by PSU index: whether a row has it, and its
/// stratum and fpc as the last such row gives them. Gathered chunk by chunk as rows stream past.
#[derive(Debug, Clone, Default)]
pub struct Units {
    seen: Vec<bool>,
    stratum: Vec<u32>,
    fpc: Vec<f64>,
}

impl Units {
    /// Adds row `r` of `frame` (a row without a PSU adds nothing).
    pub fn add(&mut self, frame: &Frame, r: usize) {
        let p = frame.psu[r];
        if p == NONE {
            return;
        }
        let p = p as usize;
        if self.seen.len() <= p {
            self.seen.resize(p + 1, false);
            self.stratum.resize(p + 1, NONE);
            self.fpc.resize(p + 1, f64::NAN);
        }
        self.seen[p] = true;
        self.stratum[p] = frame.stratum[r];
        if let Some(f) = &frame.fpc {
            self.fpc[p] = f[r];
        }
    }
}

/// How standard errors will be computed for `frame`'s rows: replicate sums are gathered for a
/// replicate design, per-PSU sums for a Taylor one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    None,
    Taylor,
    Replicate,
}

/// The variance method a design declares, or the one its input allows (replicate weights, then
/// PSUs, then none).
pub fn method(design: &Design, frame: &Frame) -> Method {
    match declared(design, frame).as_str() {
        "replicate" if frame.reps.count() > 0 => Method::Replicate,
        "taylor" if !frame.psus.is_empty() => Method::Taylor,
        _ => Method::None,
    }
}

fn declared(design: &Design, frame: &Frame) -> String {
    design.variance.clone().unwrap_or_else(|| {
        if frame.reps.count() > 0 {
            "replicate".into()
        } else if !frame.psus.is_empty() {
            "taylor".into()
        } else {
            "none".into()
        }
    })
}

/// Chooses the variance method of a design for the rows of one period, whose units are `units`.
/// `universe` holds the strata names and units that make up the design when `frame` covers only
/// part of the sample (the roster of members abroad: households without one still count, with
/// zero totals).
pub fn variance_for(
    design: &Design,
    frame: &Frame,
    units: &Units,
    universe: Option<(&[String], &Units)>,
) -> Result<Variance> {
    match declared(design, frame).as_str() {
        "replicate" if frame.reps.count() > 0 => {
            let m = design.method.unwrap_or(ReplicateMethod::Bootstrap);
            let spec = ReplicateSpec::new(
                m,
                frame.reps.count(),
                design.rho,
                design.scale,
                design.rscales.clone(),
                design.mse,
            )?;
            Ok(Variance::Replicate(spec))
        }
        "taylor" if !frame.psus.is_empty() => match universe {
            Some((strata, u)) => taylor(design, strata, u),
            None => taylor(design, &frame.strata, units),
        },
        "none" => Ok(Variance::None),
        other => Err(MigError::Estimate(format!(
            "variance {other:?} is declared but the input has no {}",
            if other == "taylor" {
                "PSUs"
            } else {
                "replicate weights"
            }
        ))),
    }
}

/// Makes `part`'s strata and PSU indexes those of `whole` (same names), appending any it lacks.
pub fn align(part: &mut Frame, whole: &Frame) {
    use crate::normalize::frame::intern;
    let mut strata = whole.strata.clone();
    let smap: Vec<u32> = part.strata.iter().map(|s| intern(&mut strata, s)).collect();
    let mut psus = whole.psus.clone();
    let pmap: Vec<u32> = part.psus.iter().map(|p| intern(&mut psus, p)).collect();
    for s in part.stratum.iter_mut().filter(|s| **s != NONE) {
        *s = smap[*s as usize];
    }
    for p in part.psu.iter_mut().filter(|p| **p != NONE) {
        *p = pmap[*p as usize];
    }
    part.strata = strata;
    part.psus = psus;
}

fn taylor(design: &Design, strata: &[String], units: &Units) -> Result<Variance> {
    let (psu_stratum, psu_fpc) = (&units.stratum, &units.fpc);
    let psus: Vec<u32> = (0..units.seen.len() as u32)
        .filter(|&p| units.seen[p as usize])
        .collect();
    // Dense strata of this period (no strata: one stratum).
    let codes: Vec<u32> = psus.iter().map(|&p| psu_stratum[p as usize]).collect();
    let lonely = design.lonely_psu.unwrap_or(LonelyPsu::Fail);
    let (mut layout, _) = first_stage(&codes, None, lonely, |s| {
        strata
            .get(s as usize)
            .cloned()
            .unwrap_or_else(|| "(all)".into())
    });
    let n_h = layout.stratum_sizes();
    for (&p, &s) in psus.iter().zip(&layout.psu_stratum) {
        let f = psu_fpc[p as usize];
        if f.is_finite() {
            layout.stratum_fraction[s as usize] = if f <= 1.0 {
                f
            } else {
                n_h[s as usize] as f64 / f
            };
        }
    }
    layout.check_lonely()?;
    Ok(Variance::Taylor {
        psus,
        layout,
        sizes: n_h,
    })
}
