//! The system columns of a record: business key, time, weight, strata, PSUs, replicate weights.
use super::mapper::Problem;
use super::value::{
    int_of, is_short_decimal, norm_code_into, parse_i64, short_decimal, trim, Numbers,
};
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

/// A stretch of the text a batch's system values are written to ([`SystemPlan::apply`]'s
/// `text`): one buffer a batch, so that reading a row's key, period, stratum, PSU and
/// household allocates nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// The stretch of `text` written after `start`.
    fn since(start: usize, text: &str) -> Span {
        Span {
            start,
            end: text.len(),
        }
    }

    pub fn of(self, text: &str) -> &str {
        text.get(self.start..self.end).unwrap_or("")
    }

    fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// The system values of one row; its texts are [`Span`]s of the batch's system text.
pub struct SystemRow {
    pub key: Span,
    /// The key's fingerprint (`validate::keys`), taken here on the pool so that the merge's
    /// duplicate check only looks it up.
    pub key_fp: u64,
    pub hh_id: Option<Span>,
    pub time: Span,
    pub weight: f64,
    pub stratum: Option<Span>,
    pub psu: Option<Span>,
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

    /// Reads the system values, writing their texts at the end of `text` (nothing is left
    /// there when the row has a problem); a problem names the rule, column and value.
    pub fn apply<C: Cells + ?Sized>(
        &self,
        cells: &C,
        line: u64,
        text: &mut String,
    ) -> Result<SystemRow, Problem> {
        let mark = text.len();
        let row = self.write(cells, line, text);
        if row.is_err() {
            text.truncate(mark);
        }
        row
    }

    fn write<C: Cells + ?Sized>(
        &self,
        cells: &C,
        line: u64,
        text: &mut String,
    ) -> Result<SystemRow, Problem> {
        use std::fmt::Write;
        let cell = |i: usize| cells.cell(i);
        let prob = |rule: &'static str, (i, c): &(usize, String), msg: String| Problem {
            rule,
            field: c.clone(),
            column: c.clone(),
            value: cell(*i).into_owned(),
            message: msg,
        };
        let start = text.len();
        if self.key.is_empty() {
            let _ = write!(text, "{line}");
        } else {
            for (n, k) in self.key.iter().enumerate() {
                let v = cell(k.0);
                let v = trim(&v);
                if v.is_empty() {
                    return Err(prob("missing_value", k, "the business key is blank".into()));
                }
                if n > 0 {
                    text.push('-');
                }
                text.push_str(v);
            }
        }
        let key = Span::since(start, text);
        let start = text.len();
        self.time(cells, text)?;
        let time = Span::since(start, text);
        let w = &self.weight;
        let weight = self.number.read(cells.value(w.0)).map_err(|m| {
            let rule = if trim(&cell(w.0)).is_empty() {
                "missing_value"
            } else {
                "bad_number"
            };
            prob(rule, w, format!("weight: {m}"))
        })?;
        let fpc = match &self.fpc {
            Some(c) => Some(
                self.number
                    .read(cells.value(c.0))
                    .map_err(|m| prob("bad_number", c, m))?,
            ),
            None => None,
        };
        let code = |c: &Option<(usize, String)>, text: &mut String| {
            let c = c.as_ref()?;
            let start = text.len();
            norm_code_into(&cell(c.0), text);
            Some(Span::since(start, text)).filter(|s| !s.is_empty())
        };
        let stratum = code(&self.strata, text);
        let psu = code(&self.psu, text);
        for (c, v) in [(&self.strata, &stratum), (&self.psu, &psu)] {
            if let (Some(c), None) = (c, v) {
                return Err(prob("missing_value", c, "a design column is blank".into()));
            }
        }
        let hh_id = self.household.as_ref().map(|h| {
            let start = text.len();
            text.push_str(cell(h.0).trim());
            Span::since(start, text)
        });
        Ok(SystemRow {
            key_fp: crate::validate::keys::fingerprint([key.of(text)]),
            key,
            hh_id,
            time,
            weight,
            stratum,
            psu,
            fpc,
        })
    }

    /// Writes the row's period (`2024Q1`, `2024M03`, `2024`, or the fixed one) to `text`.
    fn time<C: Cells + ?Sized>(&self, cells: &C, text: &mut String) -> Result<(), Problem> {
        use std::fmt::Write;
        if let Some(v) = &self.fixed_time {
            text.push_str(v);
            return Ok(());
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
            return Ok(());
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
            let _ = write!(text, "{year}M{month:02}");
            return Ok(());
        }
        if let Some(q) = &self.quarter {
            let raw = cell(q.0);
            let raw = raw.trim().trim_start_matches(['Q', 'q']);
            let quarter = parse_i64(raw)
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(|| bad(q, "a quarter 1-4 or Q1-Q4 was expected"))?;
            let _ = write!(text, "{year}Q{quarter}");
            return Ok(());
        }
        let _ = write!(text, "{year}");
        Ok(())
    }

    /// The replicate weights of `row` of a batch: parsed into `out`, or, without one, only
    /// checked (the same problem for the same cell, the values not kept). Replicate columns that
    /// follow each other in the header are read in one walk of the row's cell ends.
    pub fn replicates(
        &self,
        batch: &TextBatch,
        row: usize,
        mut out: Option<&mut Vec<f64>>,
    ) -> Result<(), Problem> {
        // The usual row: replicate columns side by side, each a plain decimal. Read off the
        // bytes; any other cell (blank, padded, an exponent, a word) sends the row down the
        // general path, which reads it as before and names the cell it cannot read.
        let plain = self.number == Numbers::Point;
        if let Some(mut cells) = self
            .rep_run
            .clone()
            .filter(|_| plain)
            .and_then(|run| batch.run_bytes(row, run))
        {
            match out.as_deref_mut() {
                None => {
                    if cells.all(is_short_decimal) {
                        return Ok(());
                    }
                }
                Some(out) => {
                    let mark = out.len();
                    if cells.all(|c| short_decimal(c).map(|x| out.push(x)).is_some()) {
                        return Ok(());
                    }
                    out.truncate(mark);
                }
            }
        }
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
