//! The sample design of a synthetic survey: strata, PSUs numbered within their stratum, a person
//! quota per PSU and quarter, design weights with nonresponse adjustment, and bootstrap replicate
//! weights (Rao–Wu rescaled: in each stratum of n PSUs, n − 1 are drawn with replacement and a PSU
//! drawn c times gets factor c·n/(n − 1); variance = 1/R · Σ (θ_r − θ)²).
use super::rng::Rng;

/// Stream purposes (second element of every RNG path).
pub const STREAM_SHARES: u64 = 1;
pub const STREAM_STRATUM: u64 = 2;
pub const STREAM_PSU: u64 = 3;

/// The size of the sample: how many strata, PSUs, replicates and persons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesignSpec {
    pub strata: u32,
    pub psus: u32,
    pub replicates: u32,
    /// Persons over both quarters.
    pub persons: u64,
}

impl DesignSpec {
    /// Checks that every PSU gets at least one person in each quarter.
    pub fn check(&self) -> Result<(), String> {
        if self.strata == 0 {
            return Err("--strata must be at least 1".into());
        }
        if self.psus < 2 {
            return Err("--psus-per-stratum must be at least 2 (the bootstrap needs two)".into());
        }
        let units = u64::from(self.strata) * u64::from(self.psus);
        if self.persons / 2 < units {
            return Err(format!(
                "--persons {} is too small for {} strata x {} PSUs: each PSU needs a person in \
                 each quarter, so give at least {} persons or fewer strata",
                self.persons,
                self.strata,
                self.psus,
                2 * units
            ));
        }
        Ok(())
    }

    /// Persons in quarter `q` (0 or 1); the first quarter takes an odd person.
    pub fn quarter_persons(&self, q: u32) -> u64 {
        self.persons / 2 + if q == 0 { self.persons % 2 } else { 0 }
    }

    /// Persons of PSU `psu` in stratum `h` in quarter `q`: the quarter's persons spread evenly.
    pub fn psu_quota(&self, q: u32, h: u32, psu: u32) -> u64 {
        let units = u64::from(self.strata) * u64::from(self.psus);
        let n = self.quarter_persons(q);
        let unit = u64::from(h) * u64::from(self.psus) + u64::from(psu);
        n / units + u64::from(unit < n % units)
    }

    /// Persons of stratum `h` in quarter `q`.
    pub fn stratum_persons(&self, q: u32, h: u32) -> u64 {
        (0..self.psus).map(|p| self.psu_quota(q, h, p)).sum()
    }
}

/// Relative population sizes of the strata (sum 1): unequal, so weights differ across strata.
pub fn stratum_shares(seed: u64, country: u64, strata: u32) -> Vec<f64> {
    let mut rng = Rng::stream(seed, &[country, STREAM_SHARES]);
    let raw: Vec<f64> = (0..strata).map(|_| rng.uniform(0.4, 1.6)).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|x| x / total).collect()
}

/// What a stratum fixes for all its PSUs, in both quarters.
#[derive(Debug, Clone)]
pub struct StratumPlan {
    pub urban: bool,
    /// Nonresponse adjustment per PSU (mean about 1).
    pub nonresponse: Vec<f64>,
    /// How much more (or less) migration a PSU sees than the country average.
    pub migration: Vec<f64>,
    /// Rao–Wu factors, PSU-major: `factors[psu * R + r]`.
    pub factors: Vec<f64>,
    pub replicates: usize,
}

impl StratumPlan {
    pub fn new(spec: &DesignSpec, seed: u64, country: u64, h: u32) -> Self {
        let mut rng = Rng::stream(seed, &[country, STREAM_STRATUM, u64::from(h)]);
        let n = spec.psus as usize;
        let urban = rng.chance(0.45);
        let rates: Vec<f64> = (0..n).map(|_| rng.uniform(0.78, 0.98)).collect();
        let nonresponse = rates.iter().map(|r| 0.88 / r).collect();
        let migration = (0..n)
            .map(|_| {
                let x = rng.f64();
                0.2 + 2.4 * x * x
            })
            .collect();
        let factors = rao_wu_factors(&mut rng, n, spec.replicates as usize);
        StratumPlan {
            urban,
            nonresponse,
            migration,
            factors,
            replicates: spec.replicates as usize,
        }
    }

    /// The replicate factors of PSU `psu`.
    pub fn psu_factors(&self, psu: u32) -> &[f64] {
        let r = self.replicates;
        &self.factors[psu as usize * r..(psu as usize + 1) * r]
    }
}

/// Rescaled bootstrap factors for `n` PSUs and `reps` replicates, PSU-major.
fn rao_wu_factors(rng: &mut Rng, n: usize, reps: usize) -> Vec<f64> {
    let mut counts = vec![0u32; n * reps];
    for r in 0..reps {
        for _ in 0..n - 1 {
            let i = rng.below(n as u64) as usize;
            counts[i * reps + r] += 1;
        }
    }
    let k = n as f64 / (n as f64 - 1.0);
    counts.iter().map(|&c| f64::from(c) * k).collect()
}

/// The base weight of a person in stratum `h`, quarter `q`: the stratum's population over its
/// sampled persons.
pub fn base_weight(spec: &DesignSpec, population: f64, share: f64, q: u32, h: u32) -> f64 {
    population * share / spec.stratum_persons(q, h) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(persons: u64) -> DesignSpec {
        DesignSpec {
            strata: 3,
            psus: 4,
            replicates: 5,
            persons,
        }
    }

    #[test]
    fn quotas_add_up_to_the_persons_asked_for() {
        for n in [24, 25, 1001, 4000] {
            let s = spec(n);
            let total: u64 = (0..2)
                .flat_map(|q| (0..3).flat_map(move |h| (0..4).map(move |p| (q, h, p))))
                .map(|(q, h, p)| s.psu_quota(q, h, p))
                .sum();
            assert_eq!(total, n);
        }
    }

    #[test]
    fn too_few_persons_is_refused() {
        assert!(spec(23).check().is_err());
        assert!(spec(24).check().is_ok());
        let mut s = spec(100);
        s.psus = 1;
        assert!(s.check().is_err());
    }

    #[test]
    fn rao_wu_factors_average_one_per_replicate() {
        let s = spec(100);
        let plan = StratumPlan::new(&s, 1, 1, 0);
        for r in 0..5 {
            let sum: f64 = (0..4).map(|p| plan.psu_factors(p)[r]).sum();
            // n - 1 draws, each worth n / (n - 1): the factors sum to n.
            assert!((sum - 4.0).abs() < 1e-12);
        }
    }

    #[test]
    fn shares_sum_to_one() {
        let s: f64 = stratum_shares(1, 2, 17).iter().sum();
        assert!((s - 1.0).abs() < 1e-12);
    }
}
