//! Which observations an export (or a report) takes: areas, indicator globs, sources and a span of
//! periods. A period is inside `FROM..TO` when the months it covers lie within the months from the
//! start of `FROM` to the end of `TO`, so `2010..2012` takes `2010`, `2011Q3` and `2012M12`.
use thiserror::Error;

use super::observations::ObsRow;

/// A filter argument that cannot be used, with what was given.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("--indicator {pattern:?} is not a glob pattern: {msg}")]
    Glob { pattern: String, msg: String },
    #[error(
        "--time {given:?}: expected FROM..TO with periods such as 2010, 2010Q1 or 2010M01 \
         (either side may be left open: 2010.. or ..2015)"
    )]
    Time { given: String },
}

/// A span of months, `year * 12 + month - 1`, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Months {
    pub first: u32,
    pub last: u32,
}

/// The months a period covers: `2024` → Jan–Dec, `2024Q2` → Apr–Jun, `2024M07` → Jul.
pub fn months(time: &str) -> Option<Months> {
    let (freq, _) = super::period(time)?;
    let year: u32 = time.get(..4)?.parse().ok()?;
    let base = year * 12;
    let sub = |at: usize| time.get(at..)?.parse::<u32>().ok();
    let (first, len) = match freq {
        super::Freq::A => (0, 12),
        super::Freq::Q => ((sub(5)? - 1) * 3, 3),
        super::Freq::M => (sub(5)? - 1, 1),
    };
    Some(Months {
        first: base + first,
        last: base + first + len - 1,
    })
}

/// `FROM..TO`, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    from: Option<u32>,
    to: Option<u32>,
}

impl TimeRange {
    /// Parses `2010..2015`, `2010Q1..2012M06`, `2010..`, `..2015` or a single period `2012`.
    pub fn parse(s: &str) -> Result<TimeRange, FilterError> {
        let bad = || FilterError::Time {
            given: s.to_string(),
        };
        let (a, b) = s.split_once("..").unwrap_or((s, s));
        let end = |p: &str, f: fn(Months) -> u32| -> Result<Option<u32>, FilterError> {
            match p.trim() {
                "" => Ok(None),
                p => months(p).map(|m| Some(f(m))).ok_or_else(bad),
            }
        };
        let range = TimeRange {
            from: end(a, |m| m.first)?,
            to: end(b, |m| m.last)?,
        };
        match (range.from, range.to) {
            (None, None) => Err(bad()),
            (Some(f), Some(t)) if f > t => Err(bad()),
            _ => Ok(range),
        }
    }

    /// Whether every month of `time` lies in the range (a period of another form is outside).
    pub fn contains(&self, time: &str) -> bool {
        let Some(m) = months(time) else {
            return false;
        };
        self.from.is_none_or(|f| m.first >= f) && self.to.is_none_or(|t| m.last <= t)
    }
}

/// What an export takes; an empty list takes everything.
#[derive(Debug, Clone, Default)]
pub struct ObsFilter {
    pub ref_areas: Vec<String>,
    pub indicators: Vec<glob::Pattern>,
    pub sources: Vec<String>,
    pub time: Option<TimeRange>,
}

impl ObsFilter {
    /// Builds a filter from the command line's values.
    pub fn new(
        ref_areas: &[String],
        indicators: &[String],
        sources: &[String],
        time: Option<&str>,
    ) -> Result<ObsFilter, FilterError> {
        let indicators = indicators
            .iter()
            .map(|p| {
                glob::Pattern::new(p).map_err(|e| FilterError::Glob {
                    pattern: p.clone(),
                    msg: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ObsFilter {
            ref_areas: ref_areas.to_vec(),
            indicators,
            sources: sources.to_vec(),
            time: time.map(TimeRange::parse).transpose()?,
        })
    }

    /// Whether the filter takes every observation.
    pub fn is_everything(&self) -> bool {
        self.ref_areas.is_empty()
            && self.indicators.is_empty()
            && self.sources.is_empty()
            && self.time.is_none()
    }

    /// Whether the filter takes an area (so a reader can skip a whole folder).
    pub fn takes_area(&self, area: &str) -> bool {
        self.ref_areas.is_empty() || self.ref_areas.iter().any(|a| a == area)
    }

    /// Whether the filter takes this observation.
    pub fn matches(&self, r: &ObsRow) -> bool {
        self.takes_area(&r.ref_area)
            && (self.indicators.is_empty()
                || self.indicators.iter().any(|p| p.matches(&r.indicator)))
            && (self.sources.is_empty() || self.sources.iter().any(|s| s == &r.source))
            && self.time.is_none_or(|t| t.contains(&r.time))
    }

    /// The filter in words, for messages: `--ref-area THA --time 2010..2012`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ref_areas.is_empty() {
            parts.push(format!("--ref-area {}", self.ref_areas.join(",")));
        }
        if !self.indicators.is_empty() {
            let p: Vec<&str> = self.indicators.iter().map(glob::Pattern::as_str).collect();
            parts.push(format!("--indicator {}", p.join(",")));
        }
        if !self.sources.is_empty() {
            parts.push(format!("--source {}", self.sources.join(",")));
        }
        if self.time.is_some() {
            parts.push("--time".to_string());
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_cover_their_months() {
        assert_eq!(
            months("2024"),
            Some(Months {
                first: 2024 * 12,
                last: 2024 * 12 + 11
            })
        );
        assert_eq!(months("2024Q2").map(|m| m.first), Some(2024 * 12 + 3));
        assert_eq!(months("2024Q2").map(|m| m.last), Some(2024 * 12 + 5));
        assert_eq!(
            months("2024M07").map(|m| (m.first, m.last)),
            Some((2024 * 12 + 6, 2024 * 12 + 6))
        );
        assert_eq!(months("2024-07"), None);
    }

    #[test]
    fn ranges_take_the_periods_inside() {
        let r = TimeRange::parse("2010..2012").expect("range");
        for t in ["2010", "2011Q3", "2012M12", "2012"] {
            assert!(r.contains(t), "{t}");
        }
        for t in ["2009", "2013M01", "2009Q4", "bad"] {
            assert!(!r.contains(t), "{t}");
        }
        let open = TimeRange::parse("2012Q2..").expect("open");
        assert!(open.contains("2012M04") && !open.contains("2012M03") && open.contains("2030"));
        let upto = TimeRange::parse("..2008").expect("open");
        assert!(upto.contains("2004Q1") && !upto.contains("2009"));
        assert!(TimeRange::parse("2013").expect("one").contains("2013Q4"));
        for bad in ["..", "2012..2010", "20x0..", "2010-01..2011"] {
            assert!(TimeRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_globs_are_named() {
        let e = ObsFilter::new(&[], &["MST_[".into()], &[], None).expect_err("bad glob");
        assert!(e.to_string().contains("MST_["), "{e}");
    }
}
