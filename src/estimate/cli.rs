//! The `migstat estimate` command: its flags (clap stays in this file), their translation into
//! an estimation request against the file's header, and the run that prints results and maps
//! failures to exit code 2 with the reason on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::EstimateError;
use super::generic::design::{DesignSpec, ReplicateRequest, WeightSource};
use super::generic::output::{self, Format};
use super::generic::table::{Reading, Table};
use super::generic::targets::Statistic;
use super::generic::{estimate_file, partial, Outcome, Request};
use super::replicate::{parse_rscales_arg, parse_scale_arg, ReplicateMethod};
use super::variance::LonelyPsu;
use crate::extract::limits::Limits;

/// Design-based totals, means, proportions and ratios with standard errors (as R `survey`).
///
/// Rows are counted from 1 after the header (blank lines left out); a row of another width
/// than the header is an error naming its line. Empty cells (and `NA` in numeric columns) are
/// missing: a missing analysis value leaves its row in the design but out of the estimate.
/// A non-numeric column given to --total/--mean gives one row per level (count/proportion).
/// `n` is the unweighted number of rows behind the estimate (for a mean or ratio: its
/// denominator; for a level count: the rows at that level). Bounds are 95 % Student t bounds
/// on the design degrees of freedom (#PSUs − #strata; replicate designs: replicates − 1, JKn:
/// replicates − strata). Results come cell by cell (cells sorted), and within a cell in the
/// order totals, means, ratios. Errors exit with code 2 and say why on stderr.
#[derive(clap::Args, Clone, Debug)]
pub struct EstimateArgs {
    /// A data file of any format a pipeline reads: Parquet (recognised by its content), SPSS
    /// `.sav`, Stata `.dta`, Excel `.xlsx`/`.xls` (the first sheet), or delimited text (plain,
    /// `.gz` or a zip's only `.csv`; encoding and delimiter detected); or one table split over
    /// several such files: several files, a folder (its `*.parquet` files) or a quoted glob
    /// (`'parts/*.parquet'`, `'months/*.csv'`), taken in name order.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,

    /// Compute the partial states on a Ballista cluster (`ballista://HOST:PORT`, the
    /// scheduler): every executor must read the files at the same paths. Builds with the
    /// `ballista` feature.
    #[arg(long, value_name = "ballista://HOST:PORT")]
    pub engine: Option<String>,

    /// Sampling weight column; `1` (when no column is named so) weighs every row 1, for
    /// designs declared by replicate weights alone.
    #[arg(long, value_name = "COL")]
    pub weight: String,

    /// Stratum column.
    #[arg(long, value_name = "COL")]
    pub strata: Option<String>,

    /// Cluster column(s), one per sampling stage (none: every row is its own PSU).
    #[arg(long, value_name = "COL[,COL…]", value_delimiter = ',')]
    pub psu: Vec<String>,

    /// PSU ids repeat across strata (they are unique only within a stratum).
    #[arg(long)]
    pub nest: bool,

    /// fpc column(s) per stage: population size (values > 1) or sampling fraction (<= 1).
    /// With several --psu stages and an fpc, later stages add their variance as R does; a
    /// stage without an fpc column is taken as sampled with replacement.
    #[arg(long, value_name = "COL[,COL…]", value_delimiter = ',')]
    pub fpc: Vec<String>,

    /// Strata with a single PSU [default: fail]: remove/certainty drop their contribution,
    /// adjust centres the PSU at the mean of all PSU totals, average scales the variance by
    /// #strata / #strata with two or more PSUs.
    #[arg(long, value_name = "fail|remove|certainty|adjust|average", value_parser = parse_lonely)]
    pub lonely_psu: Option<LonelyPsu>,

    /// Replicate weight columns: `COL1,COL2,…` or `PREFIX*` (columns named PREFIX followed by
    /// at least one character, in file order, the --weight column excluded). Each column holds
    /// full replicate weights (sampling weight already multiplied in).
    #[arg(long, value_name = "COL1,COL2,…|PREFIX*")]
    pub replicates: Option<String>,

    /// How the replicate weights were made (required with --replicates). For jkn, --strata
    /// (and --psu, --nest, --fpc) give the degrees of freedom and, without --rscales, the
    /// rscales (n_h−1)/n_h·(1−f_h).
    #[arg(long, value_name = "brr|fay|jk1|jkn|bootstrap|sdr", value_parser = parse_method)]
    pub method: Option<ReplicateMethod>,

    /// Fay's coefficient ρ (with --method fay).
    #[arg(long, value_name = "R")]
    pub rho: Option<f64>,

    /// Variance scale (default from the method); `@FILE` reads the number on its first line.
    #[arg(long, value_name = "S|@FILE")]
    pub scale: Option<String>,

    /// Per-replicate scales: a comma-separated list or `@FILE` (one per line, or comma-separated
    /// on one line; in a two-line file `scale` / `rscales`, the second line).
    #[arg(long, value_name = "LIST|@FILE")]
    pub rscales: Option<String>,

    /// Centre replicate deviations at the full-sample estimate.
    #[arg(long)]
    pub mse: bool,

    /// Estimate the total of COL (repeatable).
    #[arg(long, value_name = "COL")]
    pub total: Vec<String>,

    /// Estimate the mean of COL, or proportions of its levels (repeatable).
    #[arg(long, value_name = "COL")]
    pub mean: Vec<String>,

    /// Estimate the ratio of two totals (repeatable).
    #[arg(long, value_name = "NUM/DEN")]
    pub ratio: Vec<String>,

    /// Domain columns: one result per combination of their values.
    #[arg(long, value_name = "COL,…", value_delimiter = ',')]
    pub by: Vec<String>,

    /// Output format.
    #[arg(long, value_name = "table|csv|json", default_value = "table", value_parser = parse_format)]
    pub format: Format,

    /// A workbook's sheet to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,

    /// Raise or lower a bound on reading a file other than Parquet (e.g.
    /// `max_cell_bytes=200000`; keys and defaults in docs/limits.md); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    pub limit: Vec<String>,
}

fn parse_lonely(s: &str) -> Result<LonelyPsu, String> {
    s.parse().map_err(|e: EstimateError| e.to_string())
}

fn parse_method(s: &str) -> Result<ReplicateMethod, String> {
    s.parse().map_err(|e: EstimateError| e.to_string())
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "table" => Ok(Format::Table),
        "csv" => Ok(Format::Csv),
        "json" => Ok(Format::Json),
        other => Err(format!("unknown format `{other}`; use table, csv or json")),
    }
}

/// Run the command: results to `out`, warnings and errors to `err`. Returns the exit code
/// (0 done, 2 could not run); `Err` only when writing the output fails.
pub fn run(
    args: &EstimateArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, anyhow::Error> {
    let outcome = outcome(args);
    match outcome {
        Ok(o) => {
            for w in &o.warnings {
                writeln!(err, "warning: {w}")?;
            }
            output::write(out, args.format, &args.by, &o.rows)?;
            Ok(0)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(2)
        }
    }
}

/// One file on this machine: the single-file engine. Several files, or `--engine`: a partial
/// state per file, merged in file order (`generic::partial`).
fn outcome(args: &EstimateArgs) -> Result<Outcome, EstimateError> {
    let files = partial::resolve_inputs(&args.files)?;
    let engine = args.engine.as_deref().map(Engine::parse).transpose()?;
    if engine.is_none() && files.len() == 1 {
        return estimate_file(&files[0], &request(args, &files[0])?);
    }
    if engine.is_some() {
        for f in &files {
            if !Table::is_parquet(f)? {
                return Err(EstimateError::Usage(format!(
                    "{} is not a Parquet file: --engine takes Parquet files only",
                    f.display()
                )));
            }
        }
    }
    let req = request(args, &files[0])?;
    match engine {
        None => partial::estimate_files(&files, &req),
        Some(Engine::Ballista(address)) => ballista(&address, &files, &req),
    }
}

/// Where the partial states are computed.
enum Engine {
    /// A Ballista scheduler, `HOST:PORT`.
    Ballista(String),
}

impl Engine {
    fn parse(s: &str) -> Result<Engine, EstimateError> {
        crate::cluster::parse_engine(s)
            .map(Engine::Ballista)
            .map_err(EstimateError::Usage)
    }
}

#[cfg(feature = "ballista")]
fn ballista(address: &str, files: &[PathBuf], req: &Request) -> Result<Outcome, EstimateError> {
    crate::cluster::estimate(address, files, req)
}

#[cfg(not(feature = "ballista"))]
fn ballista(address: &str, _: &[PathBuf], _: &Request) -> Result<Outcome, EstimateError> {
    Err(EstimateError::Usage(format!(
        "--engine ballista://{address}: this migstat was built without the `ballista` feature \
         (cargo build --release --features ballista)"
    )))
}

/// Translate the flags into a request, resolving names against the header of `file`.
pub fn request(args: &EstimateArgs, file: &Path) -> Result<Request, EstimateError> {
    let mut limits = Limits::default();
    limits
        .apply_overrides(&args.limit)
        .map_err(|e| EstimateError::Usage(e.to_string()))?;
    let reading = Reading {
        limits,
        sheet: args.sheet.clone(),
    };
    let header = Table::header(file, &reading)?;
    let weight = if args.weight == "1" && !header.iter().any(|h| h == "1") {
        WeightSource::One
    } else {
        WeightSource::Column(args.weight.clone())
    };
    let replicates = replicate_request(args, &header, file)?;
    if let Some(r) = &replicates {
        check_replicate_flags(args, r)?;
    }
    let mut statistics: Vec<Statistic> = args.total.iter().cloned().map(Statistic::Total).collect();
    statistics.extend(args.mean.iter().cloned().map(Statistic::Mean));
    for r in &args.ratio {
        let (num, den) = split_ratio(r, &header)?;
        statistics.push(Statistic::Ratio(num, den));
    }
    Ok(Request {
        design: DesignSpec {
            weight,
            strata: args.strata.clone(),
            psu: args.psu.clone(),
            nest: args.nest,
            fpc: args.fpc.clone(),
            lonely: args.lonely_psu.unwrap_or(LonelyPsu::Fail),
            replicates,
        },
        statistics,
        by: args.by.clone(),
        reading,
    })
}

/// With replicate weights the Taylor flags have no effect, except that for JKn --strata,
/// --psu, --nest and --fpc derive the rscales (when not given) and the degrees of freedom.
fn check_replicate_flags(args: &EstimateArgs, r: &ReplicateRequest) -> Result<(), EstimateError> {
    if args.lonely_psu.is_some() {
        return Err(EstimateError::Usage(
            "--lonely-psu applies to Taylor designs, not with --replicates".into(),
        ));
    }
    let design_flags =
        args.strata.is_some() || !args.psu.is_empty() || args.nest || !args.fpc.is_empty();
    if design_flags && r.method != ReplicateMethod::Jkn {
        return Err(EstimateError::Usage(
            "with --replicates, --strata/--psu/--nest/--fpc only serve --method jkn (its \
             rscales and degrees of freedom); the replicate weights carry the design"
                .into(),
        ));
    }
    Ok(())
}

fn replicate_request(
    args: &EstimateArgs,
    header: &[String],
    file: &Path,
) -> Result<Option<ReplicateRequest>, EstimateError> {
    let Some(spec) = &args.replicates else {
        let stray = [
            (args.method.is_some(), "--method"),
            (args.rho.is_some(), "--rho"),
            (args.scale.is_some(), "--scale"),
            (args.rscales.is_some(), "--rscales"),
            (args.mse, "--mse"),
        ];
        return match stray.iter().find(|(given, _)| *given) {
            Some((_, flag)) => Err(EstimateError::Usage(format!("{flag} needs --replicates"))),
            None => Ok(None),
        };
    };
    let method = args.method.ok_or_else(|| {
        EstimateError::Usage(format!(
            "--replicates needs --method ({})",
            ReplicateMethod::NAMES.join("|")
        ))
    })?;
    Ok(Some(ReplicateRequest {
        columns: replicate_columns(spec, header, &args.weight, file)?,
        method,
        rho: args.rho,
        scale: args.scale.as_deref().map(parse_scale_arg).transpose()?,
        rscales: args.rscales.as_deref().map(parse_rscales_arg).transpose()?,
        mse: args.mse,
    }))
}

/// `PREFIX*` → matching columns in file order; otherwise a comma-separated list.
fn replicate_columns(
    spec: &str,
    header: &[String],
    weight: &str,
    file: &Path,
) -> Result<Vec<String>, EstimateError> {
    let columns: Vec<String> = match spec.strip_suffix('*') {
        Some(prefix) => header
            .iter()
            .filter(|h| h.len() > prefix.len() && h.starts_with(prefix) && h.as_str() != weight)
            .cloned()
            .collect(),
        None => spec.split(',').map(|s| s.trim().to_string()).collect(),
    };
    if columns.is_empty() {
        return Err(EstimateError::Replicates(format!(
            "no column of {} matches `{spec}`",
            file.display()
        )));
    }
    Ok(columns)
}

/// Split `NUM/DEN` at the `/` that leaves two existing columns (names may hold `/`).
fn split_ratio(spec: &str, header: &[String]) -> Result<(String, String), EstimateError> {
    let has = |c: &str| header.iter().any(|h| h == c);
    let splits: Vec<(String, String)> = spec
        .match_indices('/')
        .map(|(i, _)| (spec[..i].to_string(), spec[i + 1..].to_string()))
        .collect();
    if let Some(s) = splits.iter().find(|(n, d)| has(n) && has(d)) {
        return Ok(s.clone());
    }
    match splits.into_iter().next() {
        Some(s) if !s.0.is_empty() && !s.1.is_empty() => Ok(s),
        _ => Err(EstimateError::Usage(format!(
            "--ratio `{spec}`: expected NUM/DEN, two column names"
        ))),
    }
}
