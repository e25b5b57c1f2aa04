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

/// First-stage layout of a design: PSUs are dense 0..n_psu, each in one stratum 0..n_strata.
#[derive(Debug, Clone)]
pub struct PsuLayout {
    pub psu_stratum: Vec<u32>,
    pub n_strata: usize,
    pub stratum_fraction: Vec<f64>,
    pub lonely: LonelyPsu,
    pub stratum_names: Vec<String>,
}

impl PsuLayout {
    pub fn design_df(&self) -> f64 {
        self.psu_stratum.len() as f64 - self.n_strata as f64
    }
    pub fn check_lonely(&self) -> Result<(), EstimateError> {
        Ok(())
    }
}

/// Taylor variance from per-PSU totals (interim version: stratified, with replacement).
pub fn taylor_variance(layout: &PsuLayout, t: &[f64]) -> f64 {
    let h = layout.n_strata;
    let mut sum = vec![0.0; h];
    let mut cnt = vec![0usize; h];
    for (p, &s) in layout.psu_stratum.iter().enumerate() {
        sum[s as usize] += t[p];
        cnt[s as usize] += 1;
    }
    let mut ss = vec![0.0; h];
    for (p, &s) in layout.psu_stratum.iter().enumerate() {
        let d = t[p] - sum[s as usize] / cnt[s as usize] as f64;
        ss[s as usize] += d * d;
    }
    (0..h)
        .filter(|&i| cnt[i] > 1)
        .map(|i| {
            let n = cnt[i] as f64;
            (1.0 - layout.stratum_fraction.get(i).copied().unwrap_or(0.0)) * n / (n - 1.0) * ss[i]
        })
        .sum()
}

#[derive(Debug, Clone)]
pub struct ReplicateSpec {
    pub method: ReplicateMethod,
    pub scale: f64,
    pub rscales: Vec<f64>,
    pub mse: bool,
}

impl ReplicateSpec {
    pub fn new(
        method: ReplicateMethod,
        n_reps: usize,
        rho: Option<f64>,
        scale: Option<f64>,
        rscales: Option<Vec<f64>>,
        mse: bool,
    ) -> Result<Self, EstimateError> {
        let r = n_reps as f64;
        let default = match method {
            ReplicateMethod::Brr => 1.0 / r,
            ReplicateMethod::Fay => 1.0 / (r * (1.0 - rho.unwrap_or(0.0)).powi(2)),
            ReplicateMethod::Jk1 => (r - 1.0) / r,
            ReplicateMethod::Jkn => 1.0,
            ReplicateMethod::Bootstrap => 1.0 / (r - 1.0),
            ReplicateMethod::Sdr => 4.0 / r,
        };
        Ok(ReplicateSpec {
            method,
            scale: scale.unwrap_or(default),
            rscales: rscales.unwrap_or_else(|| vec![1.0; n_reps]),
            mse,
        })
    }
}

pub fn replicate_variance(spec: &ReplicateSpec, theta: f64, reps: &[f64]) -> f64 {
    let centre = if spec.mse {
        theta
    } else {
        reps.iter().sum::<f64>() / reps.len() as f64
    };
    spec.scale
        * reps
            .iter()
            .zip(&spec.rscales)
            .map(|(x, s)| s * (x - centre) * (x - centre))
            .sum::<f64>()
}

pub fn t_quantile_975(df: f64) -> f64 {
    let _ = df;
    1.959963984540054
}
