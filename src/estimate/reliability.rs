//! Reliability profiles: when an estimate is flagged unreliable (`U`) or suppressed (`S`), and the
//! note that names the rule. A source without a design gets the count-based rules only.
use crate::config::pipeline::Reliability;

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub suppress_below: i64,
    pub unreliable_below: i64,
    /// CV (percent) above which the estimate is flagged `U` (use with caution).
    pub cv_caution: Option<f64>,
    /// CV (percent) above which the estimate is suppressed.
    pub cv_max: Option<f64>,
    pub min_df: Option<f64>,
    /// Smallest publishable weighted count of persons (Statistics Canada's minimum size of
    /// estimates); smaller level estimates, and rates built on them, are suppressed.
    pub min_estimate: Option<f64>,
}

/// Status and note of one judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Unreliable(&'static str),
    Suppressed(&'static str),
}

impl Status {
    pub fn code(self) -> Option<&'static str> {
        match self {
            Status::Ok => None,
            Status::Unreliable(_) => Some("U"),
            Status::Suppressed(_) => Some("S"),
        }
    }
    pub fn note(self) -> Option<&'static str> {
        match self {
            Status::Ok => None,
            Status::Unreliable(n) | Status::Suppressed(n) => Some(n),
        }
    }
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unreliable(_) => 1,
            Status::Suppressed(_) => 2,
        }
    }
    /// The stricter of two outcomes.
    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl Profile {
    pub fn from_config(r: Option<&Reliability>) -> Profile {
        let name = r.map(|r| r.profile.as_str()).unwrap_or("ilo");
        let mut p = match name {
            "ine_chile" => Profile {
                name: name.into(),
                suppress_below: 60,
                unreliable_below: 60,
                cv_caution: Some(15.0),
                cv_max: Some(30.0),
                min_df: Some(9.0),
                min_estimate: None,
            },
            "statcan" => Profile {
                name: name.into(),
                suppress_below: 0,
                unreliable_below: 0,
                cv_caution: Some(16.5),
                cv_max: Some(33.3),
                min_df: None,
                // Canada and its largest provinces; smaller provinces set 500 or 200 in their
                // pipeline (`min_estimate`).
                min_estimate: Some(1500.0),
            },
            _ => Profile {
                name: name.into(),
                suppress_below: 5,
                unreliable_below: 15,
                cv_caution: None,
                cv_max: None,
                min_df: None,
                min_estimate: None,
            },
        };
        if let Some(r) = r {
            p.suppress_below = r.min_count_suppress.unwrap_or(p.suppress_below);
            p.unreliable_below = r.min_count_unreliable.unwrap_or(p.unreliable_below);
            p.cv_caution = r.max_cv_caution.or(p.cv_caution);
            p.cv_max = r.max_cv_unreliable.or(p.cv_max);
            p.min_df = r.min_df.or(p.min_df);
            p.min_estimate = r.min_estimate.or(p.min_estimate);
        }
        p
    }

    /// Judges one part of an estimate: its unweighted count and, with a design, CV and df.
    pub fn judge(&self, n: u64, cv: Option<f64>, df: Option<f64>) -> Status {
        let n = n as i64;
        let mut s = Status::Ok;
        if n < self.suppress_below {
            s = s.worst(Status::Suppressed(if self.name == "ilo" {
                "U2:COUNT_LT5"
            } else {
                "U6:COUNT_PROFILE"
            }));
        } else if n < self.unreliable_below {
            s = s.worst(Status::Unreliable(if self.name == "ilo" {
                "U1:COUNT_LT15"
            } else {
                "U6:COUNT_PROFILE"
            }));
        }
        if let (Some(min), Some(df)) = (self.min_df, df) {
            if df < min {
                s = s.worst(Status::Suppressed("U5:DF_LOW"));
            }
        }
        if let Some(cv) = cv {
            if self.cv_max.is_some_and(|m| cv > m) {
                s = s.worst(Status::Suppressed("U4:CV_HIGH"));
            } else if self.cv_caution.is_some_and(|m| cv > m) {
                s = s.worst(Status::Unreliable("U3:CV_CAUTION"));
            }
        }
        s
    }

    /// Judges a weighted count of persons: [`Self::judge`] plus the minimum size of estimates.
    pub fn judge_level(&self, n: u64, estimate: f64, cv: Option<f64>, df: Option<f64>) -> Status {
        let s = self.judge(n, cv, df);
        match self.min_estimate {
            Some(min) if estimate < min => s.worst(Status::Suppressed("U8:BELOW_MIN_ESTIMATE")),
            _ => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ilo_counts() {
        let p = Profile::from_config(None);
        assert_eq!(p.judge(4, None, None).code(), Some("S"));
        assert_eq!(p.judge(5, None, None).code(), Some("U"));
        assert_eq!(p.judge(14, None, None).code(), Some("U"));
        assert_eq!(p.judge(15, None, None).code(), None);
    }

    #[test]
    fn statcan_cv_levels() {
        let r = Reliability {
            profile: "statcan".into(),
            ..Default::default()
        };
        let p = Profile::from_config(Some(&r));
        assert_eq!(p.judge(100, Some(10.0), None).code(), None);
        assert_eq!(p.judge(100, Some(20.0), None).code(), Some("U"));
        assert_eq!(p.judge(100, Some(40.0), None).code(), Some("S"));
        assert_eq!(p.judge(100, None, None).code(), None);
        // Minimum size of estimates: 1,500 persons unless the pipeline sets its own.
        let level = p.judge_level(100, 1499.0, Some(10.0), None);
        assert_eq!(level.note(), Some("U8:BELOW_MIN_ESTIMATE"));
        assert_eq!(level.code(), Some("S"));
        assert_eq!(p.judge_level(100, 1500.0, Some(10.0), None).code(), None);
        let small = Profile::from_config(Some(&Reliability {
            min_estimate: Some(200.0),
            ..r
        }));
        assert_eq!(
            small.judge_level(100, 1499.0, Some(10.0), None).code(),
            None
        );
        assert_eq!(
            small.judge_level(100, 199.0, Some(10.0), None).code(),
            Some("S")
        );
        // Other profiles have no minimum.
        assert_eq!(
            Profile::from_config(None)
                .judge_level(100, 1.0, None, None)
                .code(),
            None
        );
    }
}
