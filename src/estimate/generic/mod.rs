//! Estimation for any table (`migstat estimate FILE`): load the needed columns of a CSV or
//! Parquet file, build the declared design, and estimate totals, means, proportions and ratios
//! per domain with Taylor or replicate standard errors, exactly as R `survey` does.
//!
//! Data path: [`table`] (+ [`parquet`]) → [`design`] (+ [`stages`], [`multistage`]) →
//! [`domains`] × [`targets`] → [`estimators`] → [`output`].

pub mod design;
pub mod domains;
pub mod estimators;
pub mod multistage;
pub mod output;
pub mod parquet;
pub mod partial;
pub mod stages;
pub mod stream;
pub mod table;
pub mod targets;

use std::path::Path;

use crate::estimate::error::EstimateError;
use crate::extract::guard;
use design::DesignSpec;
use estimators::Estimate;
use table::{LoadAs, Reading, Table};
use targets::Statistic;

/// Everything one estimate run needs besides the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub design: DesignSpec,
    pub statistics: Vec<Statistic>,
    /// Domain columns.
    pub by: Vec<String>,
    /// How a file other than Parquet is read.
    pub reading: Reading,
}

/// Results and the warnings met on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub rows: Vec<Estimate>,
    pub warnings: Vec<String>,
}

impl Request {
    /// The same request on a design without its replicate weights: what the rest of the
    /// estimate reads besides them.
    pub fn without_replicates(&self) -> Request {
        let mut others = self.clone();
        others.design.replicates = None;
        others
    }

    /// Columns to load, each once, with the most demanding mode (key > inferred > numeric >
    /// replicate: a replicate weight that something else reads is loaded as a column).
    pub fn columns(&self) -> Vec<(String, LoadAs)> {
        let rank = |m: LoadAs| match m {
            LoadAs::Replicate => 0,
            LoadAs::Numeric => 1,
            LoadAs::Inferred => 2,
            LoadAs::Key => 3,
        };
        let all = self
            .design
            .columns()
            .into_iter()
            .chain(self.statistics.iter().flat_map(Statistic::columns))
            .chain(self.by.iter().map(|c| (c.clone(), LoadAs::Key)));
        let mut out: Vec<(String, LoadAs)> = Vec::new();
        for (name, mode) in all {
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) if rank(mode) > rank(entry.1) => entry.1 = mode,
                Some(_) => {}
                None => out.push((name, mode)),
            }
        }
        out
    }
}

/// Load `path` and estimate.
pub fn estimate_file(path: &Path, request: &Request) -> Result<Outcome, EstimateError> {
    request.design.check()?;
    if request.statistics.is_empty() {
        return Err(EstimateError::Usage(
            "nothing to estimate: give --total, --mean or --ratio".into(),
        ));
    }
    if Table::is_parquet(path)? {
        // The parquet and arrow crates panic on some damaged files (see `extract::guard`).
        let damaged = || table::read_error(path, guard::damaged("Parquet file"));
        return guard::catch(|| estimate_read(path, request), damaged);
    }
    estimate_read(path, request)
}

/// Reads `path` (streaming the replicate weights of a Parquet file) and estimates.
fn estimate_read(path: &Path, request: &Request) -> Result<Outcome, EstimateError> {
    match &request.design.replicates {
        Some(req) if Table::is_parquet(path)? => {
            let mut outcome = stream::estimate(path, request, req)?;
            blank_non_finite(&mut outcome);
            Ok(outcome)
        }
        _ => estimate_table(
            Table::load(path, &request.columns(), &request.reading)?,
            request,
        ),
    }
}

/// A value that is not a finite number (an overflow of huge weights, a lonely PSU's
/// average) is printed empty, never as NaN or inf, with a warning naming the cell.
fn blank_non_finite(outcome: &mut Outcome) {
    for row in &mut outcome.rows {
        let mut bad = Vec::new();
        for (name, v) in [
            ("estimate", &mut row.estimate),
            ("se", &mut row.se),
            ("cv", &mut row.cv),
            ("lower", &mut row.lower),
            ("upper", &mut row.upper),
        ] {
            if v.is_some_and(|x| !x.is_finite()) {
                bad.push(name);
                *v = None;
            }
        }
        if !bad.is_empty() {
            let cell = if row.by.is_empty() {
                String::new()
            } else {
                format!(" in cell {}", row.by.join(", "))
            };
            outcome.warnings.push(format!(
                "{}{cell}: not a finite number ({}): weights too large, or a variance that cannot be computed; printed empty",
                row.statistic,
                bad.join(", ")
            ));
        }
    }
}

/// Estimate on a loaded table.
pub fn estimate_table(mut table: Table, request: &Request) -> Result<Outcome, EstimateError> {
    let shared: Vec<String> = (request.without_replicates().columns().into_iter())
        .map(|(c, _)| c)
        .collect();
    let design = design::build(&mut table, &request.design, &shared)?;
    let table = &table;
    let cells = domains::cells(table, &request.by)?;
    let columns = targets::analysis_columns(table, &request.statistics)?;
    let targets = targets::targets(&request.statistics, &columns)?;
    let (rows, warnings) =
        estimators::estimate_all(&design, &cells, &targets).map_err(EstimateError::Replicates)?;
    let mut outcome = Outcome { rows, warnings };
    blank_non_finite(&mut outcome);
    Ok(outcome)
}
