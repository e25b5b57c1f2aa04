//! First-stage design-based variance: the stratified with-replacement ("ultimate cluster") Taylor
//! variance from per-PSU totals, lonely-PSU handling as in R `survey`, and the public entry points
//! that the cube kernel calls. Replicate variance lives in `replicate.rs`, the Student t quantile
//! in `tdist.rs`; both are re-exported here so callers need one import.

use std::fmt;
use std::str::FromStr;

pub use super::error::EstimateError;
pub use super::replicate::{replicate_variance, ReplicateMethod, ReplicateSpec};
pub use super::tdist::t_quantile_975;

/// Below this, `1 - f_h` counts as zero: the stratum was enumerated (R uses the same threshold).
const CERTAINTY_EPS: f64 = 1e-7;

/// What to do with a stratum that holds a single PSU (R `options(survey.lonely.psu=)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LonelyPsu {
    /// Refuse to estimate (R's default).
    Fail,
    /// The stratum contributes nothing.
    Remove,
    /// The PSU was taken with certainty: it contributes nothing.
    Certainty,
    /// Centre the lonely PSU at the grand mean of all PSU totals instead of its stratum mean.
    Adjust,
    /// Scale the variance by `#strata / #strata with two or more PSUs`.
    Average,
}

impl LonelyPsu {
    /// The option names, as written on the command line.
    pub const NAMES: [&'static str; 5] = ["fail", "remove", "certainty", "adjust", "average"];
}

impl FromStr for LonelyPsu {
    type Err = EstimateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(Self::Fail),
            "remove" => Ok(Self::Remove),
            "certainty" => Ok(Self::Certainty),
            "adjust" => Ok(Self::Adjust),
            "average" => Ok(Self::Average),
            other => Err(EstimateError::Usage(format!(
                "unknown lonely-PSU option `{other}`; use one of {}",
                Self::NAMES.join(", ")
            ))),
        }
    }
}

impl fmt::Display for LonelyPsu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = *self as usize;
        f.write_str(Self::NAMES[i])
    }
}

/// First-stage layout of a design: PSUs are dense `0..n_psu`, each in one stratum `0..n_strata`.
#[derive(Clone, Debug, PartialEq)]
pub struct PsuLayout {
    /// Stratum of each PSU.
    pub psu_stratum: Vec<u32>,
    /// Number of strata.
    pub n_strata: usize,
    /// Sampling fraction `f_h` of each stratum: 0.0 without fpc, 1.0 for a certainty stratum.
    pub stratum_fraction: Vec<f64>,
    /// Lonely-PSU rule.
    pub lonely: LonelyPsu,
    /// Stratum labels, for messages.
    pub stratum_names: Vec<String>,
}

impl PsuLayout {
    /// Number of PSUs.
    pub fn n_psu(&self) -> usize {
        self.psu_stratum.len()
    }

    /// Design degrees of freedom: #PSUs − #strata.
    pub fn design_df(&self) -> f64 {
        self.n_psu() as f64 - self.n_strata as f64
    }

    /// Number of PSUs in each stratum.
    pub fn stratum_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0usize; self.n_strata];
        for &h in &self.psu_stratum {
            if let Some(s) = sizes.get_mut(h as usize) {
                *s += 1;
            }
        }
        sizes
    }

    /// Label of stratum `h`, falling back to its number.
    pub fn stratum_name(&self, h: usize) -> String {
        self.stratum_names
            .get(h)
            .cloned()
            .unwrap_or_else(|| h.to_string())
    }

    /// Lengths agree and every PSU's stratum exists.
    pub fn validate(&self) -> Result<(), EstimateError> {
        if self.stratum_fraction.len() != self.n_strata {
            return Err(EstimateError::Usage(format!(
                "PSU layout has {} strata but {} sampling fractions",
                self.n_strata,
                self.stratum_fraction.len()
            )));
        }
        if let Some(&h) = self
            .psu_stratum
            .iter()
            .find(|&&h| h as usize >= self.n_strata)
        {
            return Err(EstimateError::Usage(format!(
                "PSU layout names stratum {h} but has only {} strata",
                self.n_strata
            )));
        }
        Ok(())
    }

    /// With [`LonelyPsu::Fail`], an error naming the first stratum that has a single PSU
    /// (certainty strata, `f_h = 1`, are not lonely). Other rules always pass.
    pub fn check_lonely(&self) -> Result<(), EstimateError> {
        if self.lonely != LonelyPsu::Fail {
            return Ok(());
        }
        let sizes = self.stratum_sizes();
        for (h, &n) in sizes.iter().enumerate() {
            if n == 1 && !self.is_certainty(h) {
                return Err(EstimateError::LonelyPsu {
                    stratum: self.stratum_name(h),
                    stage: 1,
                });
            }
        }
        Ok(())
    }

    fn is_certainty(&self, h: usize) -> bool {
        let f = self.stratum_fraction.get(h).copied().unwrap_or(0.0);
        1.0 - f < CERTAINTY_EPS
    }
}

/// Taylor (ultimate cluster, with replacement, stratified) variance from per-PSU totals `t[psu]`
/// of `w·z`:  `Σ_h (1 − f_h) · n_h/(n_h − 1) · Σ_i (t_hi − t̄_h)²`, lonely strata as in R.
///
/// Returns NaN when the layout's rule is `fail` and a stratum is lonely (call
/// [`PsuLayout::check_lonely`] first), when `t` does not have one total per PSU, or when the
/// layout is inconsistent ([`PsuLayout::validate`]).
pub fn taylor_variance(layout: &PsuLayout, t: &[f64]) -> f64 {
    if t.len() != layout.n_psu() {
        return f64::NAN;
    }
    let sizes = layout.stratum_sizes();
    variance_from_totals(layout, &sizes, t.iter().copied().enumerate())
}

/// Taylor variance from the totals of the PSUs listed in `entries` (`(psu, total)`, each PSU at
/// most once); PSUs not listed have total zero. `sizes` is [`PsuLayout::stratum_sizes`].
/// This is what domain estimation uses: a domain touches few PSUs of a large design.
pub fn taylor_variance_sparse(layout: &PsuLayout, sizes: &[usize], entries: &[(u32, f64)]) -> f64 {
    variance_from_totals(layout, sizes, entries.iter().map(|&(p, t)| (p as usize, t)))
}

/// Passes over the listed PSU totals: stratum sums, a correction of each stratum mean by the
/// mean residual (so that equal totals give exactly zero), then squared deviations.
fn variance_from_totals<I>(layout: &PsuLayout, sizes: &[usize], entries: I) -> f64
where
    I: Iterator<Item = (usize, f64)> + Clone,
{
    let k = layout.n_strata;
    let bad_entry = entries.clone().any(|(p, _)| p >= layout.n_psu());
    if sizes.len() != k || bad_entry || layout.validate().is_err() {
        return f64::NAN;
    }
    let stratum = |p: usize| layout.psu_stratum[p] as usize;
    let mut present = vec![0usize; k];
    entries.clone().for_each(|(p, _)| present[stratum(p)] += 1);
    let absent: Vec<f64> = (0..k)
        .map(|h| sizes[h].saturating_sub(present[h]) as f64)
        .collect();
    let grand = entries.clone().map(|(_, t)| t).sum::<f64>() / layout.n_psu().max(1) as f64;
    let mut center = vec![0.0; k];
    for _ in 0..2 {
        // First round: plain means; second round: means corrected by the mean residual.
        let mut resid: Vec<f64> = (0..k).map(|h| -absent[h] * center[h]).collect();
        entries
            .clone()
            .for_each(|(p, t)| resid[stratum(p)] += t - center[stratum(p)]);
        for h in (0..k).filter(|&h| sizes[h] > 0) {
            center[h] += resid[h] / sizes[h] as f64;
        }
    }
    for h in (0..k).filter(|&h| sizes[h] == 1 && layout.lonely == LonelyPsu::Adjust) {
        center[h] = grand;
    }
    let mut ss: Vec<f64> = (0..k).map(|h| absent[h] * center[h] * center[h]).collect();
    for (p, t) in entries {
        let d = t - center[stratum(p)];
        ss[stratum(p)] += d * d;
    }
    combine_strata(layout, sizes, &ss)
}

/// Scale each stratum's sum of squares and apply the lonely-PSU rule.
fn combine_strata(layout: &PsuLayout, sizes: &[usize], ss: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut n_strata = 0usize;
    let mut n_lonely = 0usize;
    for (h, &n) in sizes.iter().enumerate() {
        if n == 0 {
            continue;
        }
        n_strata += 1;
        if layout.is_certainty(h) {
            continue;
        }
        let one_minus_f = 1.0 - layout.stratum_fraction[h];
        if n >= 2 {
            total += one_minus_f * n as f64 / (n as f64 - 1.0) * ss[h];
            continue;
        }
        match layout.lonely {
            LonelyPsu::Fail => return f64::NAN,
            LonelyPsu::Remove | LonelyPsu::Certainty => {}
            LonelyPsu::Adjust => total += one_minus_f * ss[h],
            LonelyPsu::Average => n_lonely += 1,
        }
    }
    if n_lonely > 0 {
        let ok = n_strata - n_lonely;
        if ok == 0 {
            return f64::NAN;
        }
        total *= n_strata as f64 / ok as f64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(psu_stratum: Vec<u32>, n_strata: usize, lonely: LonelyPsu) -> PsuLayout {
        PsuLayout {
            psu_stratum,
            n_strata,
            stratum_fraction: vec![0.0; n_strata],
            lonely,
            stratum_names: (0..n_strata).map(|h| format!("s{h}")).collect(),
        }
    }

    #[test]
    fn srs_variance_is_n_times_sample_variance() {
        let l = layout(vec![0; 4], 1, LonelyPsu::Fail);
        let t = [1.0, 2.0, 3.0, 6.0];
        // mean 3, squared deviations 4+1+0+9 = 14, times 4/3
        assert!((taylor_variance(&l, &t) - 14.0 * 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(l.design_df(), 3.0);
    }

    #[test]
    fn fpc_scales_and_certainty_removes() {
        let mut l = layout(vec![0, 0, 1, 1], 2, LonelyPsu::Fail);
        l.stratum_fraction = vec![0.5, 1.0];
        let t = [1.0, 3.0, 10.0, 50.0];
        // stratum 0: (1-0.5) * 2 * (1+1) = 2; stratum 1 enumerated
        assert!((taylor_variance(&l, &t) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn lonely_rules() {
        let t = [1.0, 3.0, 8.0];
        let fail = layout(vec![0, 0, 1], 2, LonelyPsu::Fail);
        let err = fail.check_lonely().unwrap_err().to_string();
        assert!(err.contains("`s1`"), "{err}");
        assert!(taylor_variance(&fail, &t).is_nan());
        let remove = layout(vec![0, 0, 1], 2, LonelyPsu::Remove);
        assert!((taylor_variance(&remove, &t) - 4.0).abs() < 1e-12);
        let average = layout(vec![0, 0, 1], 2, LonelyPsu::Average);
        assert!((taylor_variance(&average, &t) - 8.0).abs() < 1e-12);
        // adjust: grand mean 4, lonely deviation 16
        let adjust = layout(vec![0, 0, 1], 2, LonelyPsu::Adjust);
        assert!((taylor_variance(&adjust, &t) - 20.0).abs() < 1e-12);
    }

    #[test]
    fn sparse_equals_dense() {
        let l = layout(vec![0, 0, 0, 1, 1], 2, LonelyPsu::Fail);
        let dense = [0.0, 2.5, 0.0, 0.0, -1.0];
        let sparse = [(1, 2.5), (4, -1.0)];
        let sizes = l.stratum_sizes();
        let a = taylor_variance(&l, &dense);
        let b = taylor_variance_sparse(&l, &sizes, &sparse);
        assert!((a - b).abs() < 1e-12 * a.abs());
    }

    #[test]
    fn inconsistent_layouts_give_nan() {
        let mut l = layout(vec![0, 0, 3], 2, LonelyPsu::Remove);
        assert!(l.validate().is_err());
        assert!(taylor_variance(&l, &[1.0, 2.0, 3.0]).is_nan());
        l.psu_stratum = vec![0, 0, 1];
        assert!(taylor_variance(&l, &[1.0, 2.0]).is_nan());
        l.stratum_fraction = vec![0.0];
        assert!(taylor_variance(&l, &[1.0, 2.0, 3.0]).is_nan());
    }

    #[test]
    fn lonely_names_round_trip() {
        for name in LonelyPsu::NAMES {
            let v: LonelyPsu = name.parse().unwrap();
            assert_eq!(v.to_string(), name);
        }
        assert!("sometimes".parse::<LonelyPsu>().is_err());
    }
}
