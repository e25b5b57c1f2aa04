//! The indicator catalogue (`schemas/indicators.toml`): indicators, their populations, values and
//! breakdowns, as data.
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{MigError, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub version: String,
    #[serde(default)]
    pub population: BTreeMap<String, Population>,
    #[serde(default)]
    pub indicator: Vec<Indicator>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// `person` or `emigrant`.
    pub record: String,
    #[serde(rename = "where", default)]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: Option<String>,
    #[serde(rename = "in")]
    pub in_codes: Option<Vec<String>>,
    pub eq: Option<bool>,
    pub present: Option<bool>,
    pub working_age: Option<bool>,
    pub within_years: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Total,
    Ratio,
    Mean,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub code: String,
    pub label: String,
    pub kind: Kind,
    pub unit: String,
    pub population: Option<String>,
    pub value: Option<String>,
    pub numerator: Option<String>,
    pub denominator: Option<String>,
    pub classif1: Option<String>,
    pub classif2: Option<String>,
    /// Broken down by sex (default); household indicators are not and report `SEX_T`.
    #[serde(default = "yes")]
    pub by_sex: bool,
}

fn yes() -> bool {
    true
}

impl Indicator {
    /// An estimate (or its SE, or a bound) in the unit of `obs_value`: thousands, percent, or
    /// as is. Thousands divide (correctly rounded) rather than multiply by an inexact 0.001.
    pub fn in_unit(&self, x: f64) -> f64 {
        match self.unit.as_str() {
            "thousands" => x / 1000.0,
            "percent" => x * 100.0,
            _ => x,
        }
    }
}

impl Catalogue {
    pub fn parse(text: &str) -> Result<Self> {
        let cat: Catalogue =
            toml::from_str(text).map_err(|e| MigError::Schema(format!("indicators.toml: {e}")))?;
        cat.check()?;
        Ok(cat)
    }

    pub fn get(&self, code: &str) -> Option<&Indicator> {
        self.indicator.iter().find(|i| i.code == code)
    }

    fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        for ind in &self.indicator {
            match ind.kind {
                Kind::Total | Kind::Mean => match &ind.population {
                    Some(p) if self.population.contains_key(p) => {}
                    Some(p) => problems.push(format!("{}: unknown population {p:?}", ind.code)),
                    None => problems.push(format!("{}: population is required", ind.code)),
                },
                Kind::Ratio => {
                    for part in [&ind.numerator, &ind.denominator] {
                        match part.as_deref().and_then(|c| self.get(c)) {
                            Some(p)
                                if p.classif1 == ind.classif1
                                    && p.classif2 == ind.classif2
                                    && p.by_sex == ind.by_sex => {}
                            Some(p) => problems
                                .push(format!("{}: {} has other breakdowns", ind.code, p.code)),
                            None => problems.push(format!(
                                "{}: numerator and denominator must name indicators",
                                ind.code
                            )),
                        }
                    }
                }
            }
            if ind.kind == Kind::Mean && ind.value.is_none() {
                problems.push(format!("{}: a mean needs `value`", ind.code));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MigError::Schema(format!(
                "indicators.toml: {}",
                problems.join("; ")
            )))
        }
    }
}
