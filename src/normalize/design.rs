//! The system columns of a record: business key, time, weight, strata, PSUs, replicate weights.
use super::mapper::Problem;
use super::value::{int_of, norm_code, parse_i64, trim, Numbers};
use crate::config::pipeline::{Design, Input, TimeSpec};
use crate::extract::{Cells, RowSource, TextBatch, Value};

pub struct SystemPlan {
    key: Vec<(usize, String)>,
    household: Option<(usize, String)>,
    year: Option<(usize, String)>,
    quarter: Option<(usize, String)>,
    month: Option<(usize, String)>,
    fixed_time: Option<String>,
    weight: (usize, String),
    strata: Option<(usize, String)>,
    psu: Option<(usize, String)>,
    fpc: Option<(usize, String)>,
    pub reps: Vec<(usize, String)>,
    /// `reps` as one range of columns, when they follow each other in the header.
    rep_run: Option<std::ops::Range<usize>>,
    number: Numbers,
}

/// The system values of one row.
pub struct SystemRow {
    pub key: String,
    /// The key's fingerprint (`validate::keys`), taken here on the pool so that the merge's
    /// duplicate check only looks it up.
    pub key_fp: u64,
    pub hh_id: Option<String>,
    pub time: String,
    pub weight: f64,
    pub stratum: Option<String>,
    pub psu: Option<String>,
    pub fpc: Option<f64>,
}

fn missing(what: &str, names: &[String]) -> Problem {
    Problem {
        rule: "missing_column",
        field: what.into(),
        column: names.join("|"),
        value: String::new(),
        message: format!("column {} ({what}) is not in the file", names.join(" or ")),
    }
}

fn col(
    src: &dyn RowSource,
    what: &str,
    name: &Option<String>,
    out: &mut Vec<Problem>,
) -> Option<(usize, String)> {
    let n = name.as_ref()?;
    match src.column(std::slice::from_ref(n)) {
        Some(i) => Some((i, src.headers()[i].clone())),
        None => {
            out.push(missing(what, std::slice::from_ref(n)));
            None
        }
    }
}

impl SystemPlan {
    pub fn build(
        src: &dyn RowSource,
        input: &Input,
        time: &TimeSpec,
        design: &Design,
    ) -> (Self, Vec<Problem>) {
        let mut probs = Vec::new();
        let key = input
            .key
            .iter()
            .filter_map(|k| col(src, "business key", &Some(k.clone()), &mut probs))
            .collect();
        let household = col(src, "household id", &input.household, &mut probs);
        let weight =
            col(src, "weight", &design.weight, &mut probs).unwrap_or((usize::MAX, "-".into()));
        let reps = replicate_columns(src, &design.replicates, &mut probs);
        let rep_run = reps.first().map(|r| r.0).and_then(|first| {
            let follow = reps.iter().enumerate().all(|(k, (i, _))| *i == first + k);
            follow.then(|| first..first + reps.len())
        });
        let plan = SystemPlan {
            key,
            household,
            year: col(src, "year", &time.year, &mut probs),
            quarter: col(src, "quarter", &time.quarter, &mut probs),
            month: col(src, "month", &time.month, &mut probs),
            fixed_time: time.value.clone(),
            weight,
            strata: col(src, "stratum", &design.strata, &mut probs),
            psu: col(src, "PSU", &design.psu, &mut probs),
            fpc: col(src, "fpc", &design.fpc, &mut probs),
            reps,
            rep_run,
            number: Numbers::of(input),
        };
        (plan, probs)
    }

    pub fn has_strata(&self) -> bool {
        self.strata.is_some()
    }
    pub fn has_psu(&self) -> bool {
        self.psu.is_some()
    }
    pub fn has_fpc(&self) -> bool {
        self.fpc.is_some()
    }

    /// Reads the system values; a problem names the rule, column and value.
    pub fn apply<C: Cells + ?Sized>(&self, cells: &C, line: u64) -> Result<SystemRow, Problem> {
        let cell = |i: usize| cells.cell(i);
        let prob = |rule: &'static str, (i, c): &(usize, String), msg: String| Problem {
            rule,
            field: c.clone(),
            column: c.clone(),
            value: cell(*i).into_owned(),
            message: msg,
        };
        let key = if self.key.is_empty() {
            line.to_string()
        } else {
            let mut parts = Vec::with_capacity(self.key.len());
            for k in &self.key {
                let v = cell(k.0);
                let v = trim(&v);
                if v.is_empty() {
                    return Err(prob("missing_value", k, "the business key is blank".into()));
                }
                parts.push(v.to_string());
            }
            parts.join("-")
        };
        let time = self.time(cells)?;
        let w = &self.weight;
        let weight = self.number.read(cells.value(w.0)).map_err(|m| {
            let rule = if trim(&cell(w.0)).is_empty() {
                "missing_value"
            } else {
                "bad_number"
            };
            prob(rule, w, format!("weight: {m}"))
        })?;
        let opt = |c: &Option<(usize, String)>| {
            c.as_ref()
                .map(|c| norm_code(&cell(c.0)))
                .filter(|s| !s.is_empty())
        };
        let fpc = match &self.fpc {
            Some(c) => Some(
                self.number
                    .read(cells.value(c.0))
                    .map_err(|m| prob("bad_number", c, m))?,
            ),
            None => None,
        };
        let stratum = opt(&self.strata);
        let psu = opt(&self.psu);
        for (c, v) in [(&self.strata, &stratum), (&self.psu, &psu)] {
            if let (Some(c), None) = (c, v) {
                return Err(prob("missing_value", c, "a design column is blank".into()));
            }
        }
        Ok(SystemRow {
            key_fp: crate::validate::keys::fingerprint([key.as_str()]),
            key,
            hh_id: self
                .household
                .as_ref()
                .map(|h| cell(h.0).trim().to_string()),
            time,
            weight,
            stratum,
            psu,
            fpc,
        })
    }

    fn time<C: Cells + ?Sized>(&self, cells: &C) -> Result<String, Problem> {
        if let Some(v) = &self.fixed_time {
            return Ok(v.clone());
        }
        let cell = |i: usize| cells.cell(i);
        let bad = |c: &(usize, String), msg: &str| Problem {
            rule: "bad_time",
            field: "time".into(),
            column: c.1.clone(),
            value: cell(c.0).into_owned(),
            message: msg.to_string(),
        };
        let Some(y) = &self.year else {
            return Ok(String::new());
        };
        let year = int_of(cells.value(y.0))
            .ok()
            .filter(|y| (1900..=2200).contains(y))
            .ok_or_else(|| bad(y, "a year such as 2024 was expected"))?;
        if let Some(m) = &self.month {
            let month = int_of(cells.value(m.0))
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| bad(m, "a month 1-12 was expected"))?;
            return Ok(format!("{year}M{month:02}"));
        }
        if let Some(q) = &self.quarter {
            let raw = cell(q.0);
            let raw = raw.trim().trim_start_matches(['Q', 'q']);
            let quarter = parse_i64(raw)
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(|| bad(q, "a quarter 1-4 or Q1-Q4 was expected"))?;
            return Ok(format!("{year}Q{quarter}"));
        }
        Ok(format!("{year}"))
    }

    /// The replicate weights of `row` of a batch: parsed into `out`, or, without one, only
    /// checked (the same problem for the same cell, the values not kept). Replicate columns that
    /// follow each other in the header are read in one walk of the row's cell ends.
    pub fn replicates(
        &self,
        batch: &TextBatch,
        row: usize,
        out: Option<&mut Vec<f64>>,
    ) -> Result<(), Problem> {
        match self.rep_run.clone().and_then(|run| batch.run(row, run)) {
            Some(cells) => self.read_replicates(cells, out),
            None => {
                let row = batch.row(row);
                self.read_replicates(self.reps.iter().map(|(i, _)| row.value(*i)), out)
            }
        }
    }

    /// The replicate cells in order: parsed into `out`, or only checked without one.
    fn read_replicates<'c>(
        &self,
        cells: impl Iterator<Item = Value<'c>>,
        mut out: Option<&mut Vec<f64>>,
    ) -> Result<(), Problem> {
        for (v, (_, name)) in cells.zip(&self.reps) {
            let problem = |m| replicate_problem(name, &v.text(), m);
            match out.as_deref_mut() {
                Some(out) => out.push(self.number.read(v).map_err(problem)?),
                None => self.number.check_value(v).map_err(problem)?,
            }
        }
        Ok(())
    }
}

/// A replicate weight that is not a number.
fn replicate_problem(name: &str, raw: &str, message: String) -> Problem {
    Problem {
        rule: "bad_number",
        field: name.to_string(),
        column: name.to_string(),
        value: raw.to_string(),
        message: format!("replicate weight: {message}"),
    }
}

/// Resolves the replicate columns: a list of names, or `PREFIX*` patterns matched in header order.
fn replicate_columns(
    src: &dyn RowSource,
    spec: &[String],
    probs: &mut Vec<Problem>,
) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for s in spec {
        if let Some(prefix) = s.strip_suffix('*') {
            let lp = prefix.to_ascii_lowercase();
            let hits: Vec<(usize, String)> = src
                .headers()
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    let hl = h.to_ascii_lowercase();
                    hl.starts_with(&lp)
                        && hl[lp.len()..].chars().all(|c| c.is_ascii_digit())
                        && hl.len() > lp.len()
                })
                .map(|(i, h)| (i, h.clone()))
                .collect();
            if hits.is_empty() {
                probs.push(missing("replicate weights", std::slice::from_ref(s)));
            }
            out.extend(hits);
        } else if let Some(i) = src.column(std::slice::from_ref(s)) {
            out.push((i, src.headers()[i].clone()));
        } else {
            probs.push(missing("replicate weight", std::slice::from_ref(s)));
        }
    }
    out
}
