//! The numbers behind each chart, picked from an area's observations: rate series of migrants
//! beside natives, the age–sex pyramid, employment shares by activity and occupation, and the
//! reliability of each indicator × breakdown.
use std::collections::BTreeMap;

use super::charts::{Bar, BarGroup, Point, Series};
use crate::export::ObsRow;

/// The working-age total of the youth/adult age version: rates and pyramids start from it.
pub const AGE_15_PLUS: &str = "AGE_YTHADULT_YGE15";

/// One comparison of groups: the indicator's stem and its two (migrant, native) codes.
#[derive(Debug, Clone, Copy)]
pub struct Groups {
    pub version: &'static str,
    /// What tells the groups apart, for titles.
    pub by: &'static str,
    pub migrant: (&'static str, &'static str),
    pub native: (&'static str, &'static str),
}

/// Place of birth, then citizenship (where the survey has it).
pub const GROUPS: [Groups; 2] = [
    Groups {
        version: "CBR",
        by: "place of birth",
        migrant: ("CBR_BIR_FOREIGN", "Foreign-born"),
        native: ("CBR_BIR_NATIVE", "Native-born"),
    },
    Groups {
        version: "CCT",
        by: "citizenship",
        migrant: ("CCT_CIT_NONCIT", "Foreign citizens"),
        native: ("CCT_CIT_CITIZEN", "Citizens"),
    },
];

/// The three rates of the page: indicator stem and title.
pub const RATES: [(&str, &str); 3] = [
    ("MST_TEAP_SEX_AGE", "Labour force participation rate"),
    ("MST_TEMP_SEX_AGE", "Employment-to-population ratio"),
    ("MST_TUNE_SEX_AGE", "Unemployment rate"),
];

/// A cell of `indicator` (both sexes unless `sex`), by `classif1` and `classif2`, per period.
fn cell<'a>(
    obs: &'a [ObsRow],
    indicator: &str,
    sex: &str,
    c1: &str,
    c2: &str,
    time: &str,
) -> Option<&'a ObsRow> {
    obs.iter().find(|o| {
        o.indicator == indicator
            && o.sex == sex
            && o.time == time
            && o.classif1.as_deref() == Some(c1)
            && o.classif2.as_deref() == Some(c2)
    })
}

/// A chart point from an observation: suppressed, or its value, bounds and reliability.
pub fn point(o: Option<&ObsRow>) -> Point {
    match o {
        None => Point::Absent,
        Some(o) if o.obs_status.as_deref() == Some("S") || o.obs_value.is_none() => {
            Point::Suppressed
        }
        Some(o) => Point::Value {
            value: o.obs_value.unwrap_or(0.0),
            lower: o.lower_bound,
            upper: o.upper_bound,
            unreliable: o.obs_status.as_deref() == Some("U"),
        },
    }
}

/// The migrant and native series of one rate, or none when the area has no such observation.
pub fn rate_series(
    obs: &[ObsRow],
    stem: &str,
    g: &Groups,
    periods: &[String],
) -> Option<Vec<Series>> {
    let indicator = format!("{stem}_{}_RT", g.version);
    if !obs.iter().any(|o| o.indicator == indicator) {
        return None;
    }
    let series = [g.migrant, g.native].map(|(code, name)| Series {
        name: name.to_string(),
        points: periods
            .iter()
            .map(|t| point(cell(obs, &indicator, "SEX_T", AGE_15_PLUS, code, t)))
            .collect(),
    });
    Some(series.to_vec())
}

/// The latest period with observations of `indicator`.
pub fn latest(obs: &[ObsRow], indicator: &str, periods: &[String]) -> Option<String> {
    periods
        .iter()
        .rev()
        .find(|t| {
            obs.iter()
                .any(|o| o.indicator == indicator && &o.time == *t)
        })
        .cloned()
}

/// The finest age version with values for the pyramid: its band codes, in code order.
fn age_bands(obs: &[ObsRow], indicator: &str, time: &str) -> Vec<String> {
    for version in ["AGE_5YRBANDS_", "AGE_10YRBANDS_", "AGE_AGGREGATE_"] {
        let mut bands: Vec<String> = obs
            .iter()
            .filter(|o| o.indicator == indicator && o.time == time)
            .filter_map(|o| o.classif1.clone())
            .filter(|c| c.starts_with(version) && !c.ends_with("_TOTAL"))
            .collect();
        bands.sort_by_key(|c| age_start(c));
        bands.dedup();
        if bands.len() >= 3 {
            return bands;
        }
    }
    Vec::new()
}

/// The lower end of an age band code (`AGE_5YRBANDS_Y15-19` → 15, `…_YGE65` → 65).
fn age_start(code: &str) -> u32 {
    let tail = code.rsplit('_').next().unwrap_or("");
    let digits: String = tail
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// The age–sex pyramid of the working-age population by place of birth, in percent of each
/// group's total (men drawn to the left): categories oldest first, and four bar groups.
pub fn pyramid(obs: &[ObsRow], time: &str) -> Option<(Vec<String>, Vec<BarGroup>)> {
    let ind = "MST_XWAP_SEX_AGE_CBR_NB";
    let mut bands = age_bands(obs, ind, time);
    if bands.is_empty() {
        return None;
    }
    bands.reverse();
    let g = &GROUPS[0];
    let mut groups = Vec::new();
    for (sex, sign) in [("SEX_M", -1.0), ("SEX_F", 1.0)] {
        for (code, name) in [g.migrant, g.native] {
            let total =
                cell(obs, ind, "SEX_T", AGE_15_PLUS, code, time).and_then(|o| o.obs_value)?;
            let values = bands
                .iter()
                .map(|b| scaled(cell(obs, ind, sex, b, code, time)?, sign * 100.0 / total))
                .collect();
            // Row and colour by place of birth (migrants in the page's first colour, as in every
            // chart); men and women on either side of zero.
            let slot = usize::from(code == g.native.0);
            let label = if sign < 0.0 {
                name.to_string()
            } else {
                String::new()
            };
            groups.push(BarGroup {
                name: label,
                colour: slot,
                slot,
                values,
            });
        }
    }
    let labels = bands.iter().map(|b| age_label(b)).collect();
    Some((labels, groups))
}

/// An observation's value and bounds times `factor` (none when suppressed).
fn scaled(o: &ObsRow, factor: f64) -> Option<Bar> {
    let f = |x: f64| x * factor;
    Some((f(o.obs_value?), o.lower_bound.map(f), o.upper_bound.map(f)))
}

/// `AGE_5YRBANDS_Y15-19` → `15-19`, `…_YGE65` → `65+`.
pub fn age_label(code: &str) -> String {
    let tail = code.rsplit('_').next().unwrap_or(code);
    match tail.strip_prefix("YGE") {
        Some(a) => format!("{a}+"),
        None => tail.trim_start_matches('Y').to_string(),
    }
}

/// Employment shares by the breakdown of `indicator` (e.g. ECO), migrants vs natives, in percent
/// of each group's employment, with the count's interval divided by the group's total.
pub fn shares(
    obs: &[ObsRow],
    indicator: &str,
    time: &str,
    labels: &BTreeMap<String, String>,
) -> Option<(Vec<String>, Vec<BarGroup>)> {
    let rows: Vec<&ObsRow> = obs
        .iter()
        .filter(|o| o.indicator == indicator && o.time == time && o.sex == "SEX_T")
        .collect();
    let prefix = ["ECO_ISIC4_", "OCU_ISCO08_", "ECO_SECTOR_", "OCU_SKILL_"]
        .into_iter()
        .find(|p| {
            rows.iter().any(|o| {
                o.classif1
                    .as_deref()
                    .is_some_and(|c| c.starts_with(p) && !c.ends_with("_TOTAL"))
            })
        })?;
    let mut codes: Vec<String> = rows
        .iter()
        .filter_map(|o| o.classif1.clone())
        .filter(|c| c.starts_with(prefix) && !c.ends_with("_TOTAL") && !c.ends_with("_X"))
        .collect();
    codes.sort();
    codes.dedup();
    let total_code = format!("{prefix}TOTAL");
    let g = &GROUPS[0];
    let mut groups = Vec::new();
    for (code, name) in [g.migrant, g.native] {
        let total = cell(obs, indicator, "SEX_T", &total_code, code, time)
            .and_then(|o| o.obs_value)
            .filter(|t| *t > 0.0)?;
        let values = codes
            .iter()
            .map(|c| scaled(cell(obs, indicator, "SEX_T", c, code, time)?, 100.0 / total))
            .collect();
        groups.push(BarGroup::new(name, groups.len(), values));
    }
    let names = codes
        .iter()
        .map(|c| labels.get(c).cloned().unwrap_or_else(|| c.clone()))
        .collect();
    Some((names, groups))
}

/// Reliable, unreliable and suppressed cells of one indicator × breakdown version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reliability {
    pub reliable: usize,
    pub unreliable: usize,
    pub suppressed: usize,
}

impl Reliability {
    pub fn total(&self) -> usize {
        self.reliable + self.unreliable + self.suppressed
    }
}

/// The breakdown of a code: `AGE_5YRBANDS_Y15-19` → `AGE`, `CBR_BRT_RUS` → `CBR`.
fn dimension(code: &str) -> String {
    code.split('_').next().unwrap_or(code).to_string()
}

/// Cells by indicator and by the breakdown of classif1 (`none` when it has none).
pub fn reliability(obs: &[ObsRow]) -> BTreeMap<(String, String), Reliability> {
    let mut out: BTreeMap<(String, String), Reliability> = BTreeMap::new();
    for o in obs {
        let v = o
            .classif1
            .as_deref()
            .map(dimension)
            .unwrap_or_else(|| "none".into());
        let r = out.entry((o.indicator.clone(), v)).or_default();
        match o.obs_status.as_deref() {
            Some("S") => r.suppressed += 1,
            Some("U") => r.unreliable += 1,
            _ => r.reliable += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_codes_read_as_bands() {
        assert_eq!(age_label("AGE_5YRBANDS_Y15-19"), "15-19");
        assert_eq!(age_label("AGE_AGGREGATE_YGE65"), "65+");
        assert_eq!(age_start("AGE_10YRBANDS_Y25-34"), 25);
        assert_eq!(dimension("AGE_5YRBANDS_Y15-19"), "AGE");
        assert_eq!(dimension("CBR_BRT_RUS"), "CBR");
    }
}
