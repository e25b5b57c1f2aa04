//! What is estimated: the requested statistics (`--total`, `--mean`, `--ratio`) resolved against
//! the table into targets `(y, x)`. A numeric column is one target; a non-numeric column is a
//! factor and gives one indicator target per level (a count for `--total`, a proportion for
//! `--mean`), like R's `svytotal`/`svymean` of a factor.

use std::collections::HashMap;

use super::domains::level_ranks;
use super::table::{Column, LoadAs, Table, MISSING};
use crate::estimate::error::EstimateError;

/// A requested statistic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statistic {
    Total(String),
    Mean(String),
    /// Numerator and denominator columns.
    Ratio(String, String),
}

impl Statistic {
    /// The columns the statistic reads and how.
    pub fn columns(&self) -> Vec<(String, LoadAs)> {
        match self {
            Self::Total(c) | Self::Mean(c) => vec![(c.clone(), LoadAs::Inferred)],
            Self::Ratio(n, d) => vec![(n.clone(), LoadAs::Numeric), (d.clone(), LoadAs::Numeric)],
        }
    }
}

/// An analysis column after type inference.
#[derive(Clone, Debug)]
enum Analysis {
    Numeric(Vec<f64>),
    Factor {
        codes: Vec<u32>,
        levels: Vec<String>,
        /// Level indices in sorted order.
        order: Vec<usize>,
    },
}

/// The analysis columns of a request, owned so that targets can borrow them.
#[derive(Clone, Debug, Default)]
pub struct AnalysisColumns {
    columns: HashMap<String, Analysis>,
}

/// Per-row values of one side of a target; NaN means missing.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    Num(&'a [f64]),
    /// Indicator of one factor level.
    Level(&'a [u32], u32),
    One,
}

impl Values<'_> {
    /// Value at row `i` (NaN when missing).
    pub fn at(&self, i: usize) -> f64 {
        match *self {
            Values::Num(v) => v[i],
            Values::Level(codes, level) => match codes[i] {
                MISSING => f64::NAN,
                c if c == level => 1.0,
                _ => 0.0,
            },
            Values::One => 1.0,
        }
    }
}

/// One estimated quantity: `Σwy` (total) or `Σwy / Σwx`.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    pub label: String,
    pub y: Values<'a>,
    pub x: Values<'a>,
    total: bool,
    level: bool,
}

impl Target<'static> {
    /// A target known by its label and kind alone, for finishing states computed elsewhere
    /// (its values are not read).
    pub fn described(label: String, total: bool, level: bool) -> Self {
        Target {
            label,
            y: Values::One,
            x: Values::One,
            total,
            level,
        }
    }
}

impl Target<'_> {
    /// A total (no denominator).
    pub fn is_total(&self) -> bool {
        self.total
    }

    /// The unweighted count is that of the rows at the level (factor totals).
    pub fn counts_level_only(&self) -> bool {
        self.total && self.level
    }
}

/// Load and type the analysis columns of `stats`.
pub fn analysis_columns(
    table: &Table,
    stats: &[Statistic],
) -> Result<AnalysisColumns, EstimateError> {
    let mut columns = HashMap::new();
    for (name, _) in stats.iter().flat_map(Statistic::columns) {
        if columns.contains_key(&name) {
            continue;
        }
        let analysis = match table.numeric(&name) {
            Ok(v) => Analysis::Numeric(v.into_owned()),
            Err(e) => {
                let Column::Categorical(cat) = table.column(&name)? else {
                    return Err(e);
                };
                let ranks = level_ranks(cat);
                let mut order: Vec<usize> = (0..cat.levels.len()).collect();
                order.sort_by_key(|&l| ranks[l]);
                Analysis::Factor {
                    codes: cat.codes.clone(),
                    levels: cat.levels.clone(),
                    order,
                }
            }
        };
        columns.insert(name, analysis);
    }
    Ok(AnalysisColumns { columns })
}

/// Expand `stats` into targets, in order (factor levels sorted).
pub fn targets<'a>(
    stats: &[Statistic],
    cols: &'a AnalysisColumns,
) -> Result<Vec<Target<'a>>, EstimateError> {
    let mut out = Vec::new();
    for s in stats {
        match s {
            Statistic::Total(c) => out.extend(expand(cols, c, "total", true)?),
            Statistic::Mean(c) => out.extend(expand(cols, c, "mean", false)?),
            Statistic::Ratio(n, d) => out.push(Target {
                label: format!("ratio:{n}/{d}"),
                y: Values::Num(numeric(cols, n, "--ratio")?),
                x: Values::Num(numeric(cols, d, "--ratio")?),
                total: false,
                level: false,
            }),
        }
    }
    Ok(out)
}

fn get<'a>(cols: &'a AnalysisColumns, name: &str) -> Result<&'a Analysis, EstimateError> {
    cols.columns
        .get(name)
        .ok_or_else(|| EstimateError::BadAnalysisColumn {
            column: name.to_string(),
            problem: "was not loaded".into(),
        })
}

fn numeric<'a>(
    cols: &'a AnalysisColumns,
    name: &str,
    flag: &str,
) -> Result<&'a [f64], EstimateError> {
    match get(cols, name)? {
        Analysis::Numeric(v) => Ok(v),
        Analysis::Factor { .. } => Err(EstimateError::BadAnalysisColumn {
            column: name.to_string(),
            problem: format!("holds text; {flag} needs numbers"),
        }),
    }
}

fn expand<'a>(
    cols: &'a AnalysisColumns,
    name: &str,
    kind: &str,
    total: bool,
) -> Result<Vec<Target<'a>>, EstimateError> {
    Ok(match get(cols, name)? {
        Analysis::Numeric(v) => vec![Target {
            label: format!("{kind}:{name}"),
            y: Values::Num(v),
            x: Values::One,
            total,
            level: false,
        }],
        Analysis::Factor {
            codes,
            levels,
            order,
        } => order
            .iter()
            .map(|&l| Target {
                label: format!("{kind}:{name}={}", levels[l]),
                y: Values::Level(codes, l as u32),
                x: Values::One,
                total,
                level: true,
            })
            .collect(),
    })
}
