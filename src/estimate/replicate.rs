//! Replicate-weight variance: the declared method with its scale and per-replicate rscales
//! (defaults as R `survey` uses them), the variance formula, and the readers for scale/rscales
//! given as lists or files.

use std::path::Path;

use super::error::EstimateError;

/// How the replicate weights were made; fixes the default scale and rscales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicateMethod {
    /// Balanced repeated replication: scale 1/R.
    Brr,
    /// Fay's modified BRR with factor ρ: scale 1/(R(1−ρ)²).
    Fay,
    /// Delete-one jackknife: scale (R−1)/R.
    Jk1,
    /// Stratified jackknife: scale 1, rscale (n_h−1)/n_h of the replicate's stratum.
    Jkn,
    /// Supplied bootstrap replicates: scale 1/(R−1).
    Bootstrap,
    /// Successive difference replication (ACS): scale 4/R.
    Sdr,
}

impl ReplicateMethod {
    /// Method names as written on the command line.
    pub const NAMES: [&'static str; 6] = ["brr", "fay", "jk1", "jkn", "bootstrap", "sdr"];
}

impl std::str::FromStr for ReplicateMethod {
    type Err = EstimateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            Self::Brr,
            Self::Fay,
            Self::Jk1,
            Self::Jkn,
            Self::Bootstrap,
            Self::Sdr,
        ];
        Self::NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| all[i])
            .ok_or_else(|| {
                EstimateError::Usage(format!(
                    "unknown replicate method `{s}`; use one of {}",
                    Self::NAMES.join(", ")
                ))
            })
    }
}

/// A replicate design's variance declaration: `v = scale · Σ_r rscale_r (θ_r − θ̄)²`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicateSpec {
    pub method: ReplicateMethod,
    pub scale: f64,
    pub rscales: Vec<f64>,
    /// Centre at the full-sample estimate instead of the mean of the replicates.
    pub mse: bool,
}

impl ReplicateSpec {
    /// Build the declaration for `n_reps` replicates. `scale` and `rscales` override the method's
    /// defaults; `rho` is required for Fay and refused otherwise; JKn needs its rscales.
    pub fn new(
        method: ReplicateMethod,
        n_reps: usize,
        rho: Option<f64>,
        scale: Option<f64>,
        rscales: Option<Vec<f64>>,
        mse: bool,
    ) -> Result<Self, EstimateError> {
        if n_reps == 0 {
            return Err(EstimateError::Replicates(
                "no replicate weight columns".into(),
            ));
        }
        let default_scale = default_scale(method, n_reps, rho)?;
        let scale = scale.unwrap_or(default_scale);
        if !(scale.is_finite() && scale > 0.0) {
            return Err(EstimateError::Replicates(format!(
                "scale must be a positive number, got {scale}"
            )));
        }
        let rscales = match (rscales, method) {
            (Some(v), _) => v,
            (None, ReplicateMethod::Jkn) => {
                return Err(EstimateError::Replicates(
                    "method jkn needs --rscales ((n_h-1)/n_h per replicate), or --strata (and \
                     --psu) so they can be derived from the replicate columns"
                        .into(),
                ))
            }
            (None, _) => vec![1.0; n_reps],
        };
        check_rscales(&rscales, n_reps)?;
        Ok(Self {
            method,
            scale,
            rscales,
            mse,
        })
    }

    /// Number of replicates.
    pub fn n_replicates(&self) -> usize {
        self.rscales.len()
    }
}

/// The method's scale for `n_reps` replicates (R `survey`'s defaults).
fn default_scale(
    method: ReplicateMethod,
    n_reps: usize,
    rho: Option<f64>,
) -> Result<f64, EstimateError> {
    let r = n_reps as f64;
    let fail = |m: &str| Err(EstimateError::Replicates(m.to_string()));
    match (method, rho) {
        (ReplicateMethod::Fay, Some(rho)) if (0.0..1.0).contains(&rho) => {
            Ok(1.0 / (r * (1.0 - rho) * (1.0 - rho)))
        }
        (ReplicateMethod::Fay, Some(rho)) => {
            fail(&format!("Fay's rho must be in [0, 1), got {rho}"))
        }
        (ReplicateMethod::Fay, None) => fail("method fay needs --rho (e.g. --rho 0.5)"),
        (_, Some(_)) => fail("--rho applies only to --method fay"),
        (ReplicateMethod::Brr, None) => Ok(1.0 / r),
        (ReplicateMethod::Jk1, None) => Ok((r - 1.0) / r),
        (ReplicateMethod::Jkn, None) => Ok(1.0),
        (ReplicateMethod::Bootstrap, None) if n_reps > 1 => Ok(1.0 / (r - 1.0)),
        (ReplicateMethod::Bootstrap, None) => fail("a bootstrap needs at least two replicates"),
        (ReplicateMethod::Sdr, None) => Ok(4.0 / r),
    }
}

fn check_rscales(rscales: &[f64], n_reps: usize) -> Result<(), EstimateError> {
    if rscales.len() != n_reps {
        return Err(EstimateError::Replicates(format!(
            "{n_reps} replicate weight columns but {} rscales; give one rscale per column",
            rscales.len()
        )));
    }
    if let Some((i, v)) = rscales
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(EstimateError::Replicates(format!(
            "rscale {} is {v}; rscales must be numbers >= 0",
            i + 1
        )));
    }
    Ok(())
}

/// Replicate variance and how many replicate estimates were unusable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicateVariance {
    pub variance: f64,
    /// Replicates whose estimate was NaN or infinite (e.g. an empty domain in that replicate):
    /// left out, as R does with `na.omit`.
    pub dropped: usize,
}

/// `v = scale · Σ_r rscale_r (θ_r − θ̄)²`, θ̄ = mean of the replicates with rscale > 0, or θ
/// itself with `mse`. Non-finite replicate estimates are left out; NaN if none is left.
pub fn replicate_variance(spec: &ReplicateSpec, theta: f64, reps: &[f64]) -> f64 {
    replicate_variance_detail(spec, theta, reps).variance
}

/// [`replicate_variance`] that also reports the replicates left out.
pub fn replicate_variance_detail(
    spec: &ReplicateSpec,
    theta: f64,
    reps: &[f64],
) -> ReplicateVariance {
    let usable = || {
        reps.iter()
            .zip(&spec.rscales)
            .filter(|(t, _)| t.is_finite())
    };
    let kept = usable().count();
    let dropped = reps.len().min(spec.rscales.len()) - kept;
    if kept == 0 || reps.len() != spec.rscales.len() {
        return ReplicateVariance {
            variance: f64::NAN,
            dropped,
        };
    }
    let center = if spec.mse {
        theta
    } else {
        let (sum, n) = usable()
            .filter(|(_, &s)| s > 0.0)
            .fold((0.0, 0usize), |(s, n), (t, _)| (s + t, n + 1));
        sum / n as f64
    };
    let ss: f64 = usable().map(|(t, s)| s * (t - center) * (t - center)).sum();
    ReplicateVariance {
        variance: spec.scale * ss,
        dropped,
    }
}

/// Numbers separated by commas, whitespace or newlines.
pub fn parse_number_list(text: &str, what: &str) -> Result<Vec<f64>, EstimateError> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .map_err(|_| EstimateError::Usage(format!("{what}: `{s}` is not a number")))
        })
        .collect()
}

/// The lines of a numbers file that hold something.
fn read_lines(path: &Path) -> Result<Vec<String>, EstimateError> {
    let text = std::fs::read_to_string(path).map_err(|e| EstimateError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A two-line scale/rscales file: line 1 one number (the scale), line 2 several
/// comma-separated numbers (the rscales), as R's `survey` objects are often exported.
fn is_scale_rscales_file(lines: &[String]) -> bool {
    lines.len() == 2 && !lines[0].contains(',') && lines[1].contains(',')
}

/// Read `(scale, rscales)` from a two-line file: line 1 the scale, line 2 the rscales.
pub fn read_scale_rscales(path: &Path) -> Result<(f64, Vec<f64>), EstimateError> {
    let lines = read_lines(path)?;
    if !is_scale_rscales_file(&lines) {
        return Err(EstimateError::Usage(format!(
            "{}: expected line 1 = scale, line 2 = comma-separated rscales",
            path.display()
        )));
    }
    let what = path.display().to_string();
    let scale = parse_number_list(&lines[0], &what)?;
    let rscales = parse_number_list(&lines[1], &what)?;
    match scale.as_slice() {
        [s] => Ok((*s, rscales)),
        _ => Err(EstimateError::Usage(format!(
            "{what}: line 1 must hold one scale"
        ))),
    }
}

/// rscales from `--rscales`: a comma-separated list, or `@FILE` with numbers one per line or
/// comma-separated on one line; a two-line scale/rscales file gives its second line.
pub fn parse_rscales_arg(arg: &str) -> Result<Vec<f64>, EstimateError> {
    match arg.strip_prefix('@') {
        None => parse_number_list(arg, "--rscales"),
        Some(file) => {
            let path = Path::new(file);
            let lines = read_lines(path)?;
            if is_scale_rscales_file(&lines) {
                return read_scale_rscales(path).map(|(_, r)| r);
            }
            parse_number_list(&lines.join("\n"), file)
        }
    }
}

/// Scale from `--scale`: a number, or `@FILE` whose first line holds it (a two-line
/// scale/rscales file works too).
pub fn parse_scale_arg(arg: &str) -> Result<f64, EstimateError> {
    let (text, what) = match arg.strip_prefix('@') {
        None => (arg.to_string(), "--scale".to_string()),
        Some(file) => {
            let lines = read_lines(Path::new(file))?;
            (
                lines.into_iter().next().unwrap_or_default(),
                file.to_string(),
            )
        }
    };
    match parse_number_list(&text, &what)?.as_slice() {
        [s] => Ok(*s),
        _ => Err(EstimateError::Usage(format!(
            "{what}: expected one number for the scale"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scales() {
        let s = |m, rho| {
            ReplicateSpec::new(m, 4, rho, None, None, false)
                .unwrap()
                .scale
        };
        assert_eq!(s(ReplicateMethod::Brr, None), 0.25);
        assert!((s(ReplicateMethod::Fay, Some(0.3)) - 1.0 / (4.0 * 0.49)).abs() < 1e-15);
        assert_eq!(s(ReplicateMethod::Jk1, None), 0.75);
        assert!((s(ReplicateMethod::Bootstrap, None) - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(s(ReplicateMethod::Sdr, None), 1.0);
        assert!(ReplicateSpec::new(ReplicateMethod::Jkn, 4, None, None, None, false).is_err());
        assert!(ReplicateSpec::new(ReplicateMethod::Fay, 4, None, None, None, false).is_err());
        assert!(ReplicateSpec::new(ReplicateMethod::Brr, 4, Some(0.5), None, None, false).is_err());
    }

    #[test]
    fn rscale_count_must_match() {
        let err = ReplicateSpec::new(ReplicateMethod::Jk1, 3, None, None, Some(vec![1.0]), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 replicate weight columns but 1 rscales"),
            "{err}"
        );
    }

    #[test]
    fn variance_formula_and_mse() {
        let spec = ReplicateSpec::new(ReplicateMethod::Brr, 4, None, None, None, false).unwrap();
        let reps = [1.0, 2.0, 3.0, 6.0];
        // mean 3, deviations 4+1+0+9 = 14, scale 1/4
        assert_eq!(replicate_variance(&spec, 2.0, &reps), 3.5);
        let mse = ReplicateSpec { mse: true, ..spec };
        // around 2: 1+0+1+16 = 18
        assert_eq!(replicate_variance(&mse, 2.0, &reps), 4.5);
    }

    #[test]
    fn non_finite_replicates_are_dropped() {
        let spec = ReplicateSpec::new(ReplicateMethod::Brr, 3, None, None, None, false).unwrap();
        let d = replicate_variance_detail(&spec, 0.0, &[1.0, f64::NAN, 3.0]);
        assert_eq!(d.dropped, 1);
        assert!((d.variance - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn number_lists() {
        assert_eq!(
            parse_number_list("1, 2\n3", "x").unwrap(),
            vec![1.0, 2.0, 3.0]
        );
        assert!(parse_number_list("1,a", "x").is_err());
        assert_eq!(parse_scale_arg("0.25").unwrap(), 0.25);
        assert!(parse_scale_arg("1,2").is_err());
    }
}
