//! `estimate --engine ballista://HOST:PORT`: one job whose plan is, per input file, the
//! `migstat_partial` aggregate over an unsplit scan of the file; the partial states come back
//! with their file's index and are merged here in file order (`partial::combine`), so the
//! result does not depend on how many executors there are or which ran what.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::{Array, BinaryArray};
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::{
    ident, lit, DataFrame, ParquetReadOptions, SessionConfig, SessionContext,
};

use super::udaf;
use crate::estimate::error::EstimateError;
use crate::estimate::generic::partial::{combine, FileAccumulator, Partial, Spec};
use crate::estimate::generic::{Outcome, Request};

/// How long a job may run before the client gives up (`MIGSTAT_ENGINE_TIMEOUT`, seconds).
pub(super) fn job_timeout() -> Duration {
    let secs = std::env::var("MIGSTAT_ENGINE_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(24 * 3600);
    Duration::from_secs(secs.max(1))
}

/// A session whose jobs run on the cluster at `address`, with migstat's aggregates registered.
/// A file's scan is never split (one task folds its rows in order).
pub(super) fn session(address: &str) -> Result<SessionContext, datafusion::error::DataFusionError> {
    let config = SessionConfig::new_with_ballista()
        .with_target_partitions(1)
        .with_round_robin_repartition(false)
        .with_repartition_file_scans(false);
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    state.register_udaf(udaf::partial_state())?;
    state.register_udaf(super::cube::cube_state())?;
    let state = state.upgrade_for_ballista(format!("http://{address}"))?;
    Ok(SessionContext::new_with_state(state))
}

/// Estimate `request` over `files` with the partial states computed on the cluster whose
/// scheduler listens on `address` (`HOST:PORT`).
pub fn estimate(
    address: &str,
    files: &[PathBuf],
    request: &Request,
) -> Result<Outcome, EstimateError> {
    let spec = Spec::of(request)?;
    let absolute: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            std::fs::canonicalize(f).map_err(|e| EstimateError::Read {
                path: f.clone(),
                message: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| EstimateError::Usage(format!("cannot start the runtime: {e}")))?;
    let partials = runtime.block_on(async {
        match tokio::time::timeout(job_timeout(), partials(address, &absolute, &spec)).await {
            Ok(r) => r,
            Err(_) => Err(engine_error(
                address,
                format!(
                    "the job did not finish within {} s (MIGSTAT_ENGINE_TIMEOUT)",
                    job_timeout().as_secs()
                ),
            )),
        }
    })?;
    combine(files, &spec, request, &partials)
}

fn engine_error(address: &str, message: impl std::fmt::Display) -> EstimateError {
    EstimateError::Usage(format!("Ballista cluster at {address}: {message}"))
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> EstimateError {
    EstimateError::Read {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

async fn partials(
    address: &str,
    files: &[PathBuf],
    spec: &Spec,
) -> Result<Vec<Partial>, EstimateError> {
    let failed = |e: datafusion::error::DataFusionError| engine_error(address, e);
    // One scan per file, never split into ranges, so each file's rows reach one accumulator
    // in file order.
    let ctx = session(address).map_err(failed)?;
    let spec_json =
        serde_json::to_string(spec).map_err(|e| EstimateError::Usage(format!("spec: {e}")))?;
    let expected = row_counts(files)?;
    let f = udaf::partial_state();
    // One job per file: its plan is the aggregate over one unsplit scan, so one task folds the
    // file's rows in order. (In one job, a UNION of the files' aggregates ran every branch in
    // every task: each file was read once per file.)
    let mut plans: Vec<DataFrame> = Vec::with_capacity(files.len());
    for path in files {
        let name = path
            .to_str()
            .ok_or_else(|| file_error(path, "the path is not UTF-8"))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let options = ParquetReadOptions::default().file_extension(&ext);
        let df = ctx
            .read_parquet(name, options)
            .await
            .map_err(|e| file_error(path, e))?;
        let mut args = vec![lit(spec_json.clone())];
        args.extend(spec.columns().iter().map(ident));
        let df = df
            .aggregate(vec![], vec![f.call(args).alias("partial")])
            .map_err(|e| file_error(path, e))?;
        plans.push(df);
    }
    // Planned here, read by the executors from now on (a test removes a file at this step).
    let _ = crate::load::failpoint::hit("cluster-planned");
    let mut jobs = tokio::task::JoinSet::new();
    for (i, df) in plans.into_iter().enumerate() {
        jobs.spawn(async move { (i, df.collect().await) });
    }
    let mut per_file: Vec<Vec<Partial>> = vec![Vec::new(); files.len()];
    let mut first_error: Option<(usize, datafusion::error::DataFusionError)> = None;
    while let Some(joined) = jobs.join_next().await {
        let (i, result) =
            joined.map_err(|e| engine_error(address, format!("a job's task failed: {e}")))?;
        let batches = match result {
            Ok(b) => b,
            Err(e) => {
                // Keep the first file's error (in file order); the other jobs are dropped.
                if first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                    first_error = Some((i, e));
                }
                continue;
            }
        };
        for b in &batches {
            let bin = b
                .column(0)
                .as_any()
                .downcast_ref::<BinaryArray>()
                .ok_or_else(|| {
                    engine_error(address, "the job returned an unexpected result shape")
                })?;
            for r in 0..b.num_rows() {
                if bin.is_null(r) {
                    continue;
                }
                let list: Vec<Partial> = serde_json::from_slice(bin.value(r))
                    .map_err(|e| engine_error(address, format!("a partial state: {e}")))?;
                // Partitions that saw none of the file's rows add nothing.
                per_file[i].extend(
                    list.into_iter()
                        .filter(|p| p.rows > 0 || p.problem.is_some()),
                );
            }
        }
    }
    if let Some((i, e)) = first_error {
        jobs.abort_all();
        return Err(job_error(address, &files[i], e));
    }
    per_file
        .into_iter()
        .zip(files.iter().zip(&expected))
        .map(|(mut list, (path, &rows))| {
            let p = match list.len() {
                0 => FileAccumulator::new(spec.clone()).finish(),
                1 => list.remove(0),
                n => {
                    return Err(file_error(
                        path,
                        format!(
                            "the cluster split the file over {n} tasks ({} rows), so its rows' \
                             order is lost (is datafusion.optimizer.repartition_file_scans on?)",
                            list.iter()
                                .map(|p| p.rows.to_string())
                                .collect::<Vec<_>>()
                                .join(" + ")
                        ),
                    ))
                }
            };
            // Every row of the file, or an error: never a result without some of its rows.
            if p.problem.is_none() && p.rows != rows {
                return Err(file_error(
                    path,
                    format!(
                        "the cluster at {address} read {} of its {rows} rows (was it removed, \
                         changed or unreadable where an executor runs?)",
                        p.rows
                    ),
                ));
            }
            Ok(p)
        })
        .collect()
}

/// The rows each file's footer declares (read here, before the job is planned).
fn row_counts(files: &[PathBuf]) -> Result<Vec<u64>, EstimateError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    files
        .iter()
        .map(|path| {
            let f = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
            let r = SerializedFileReader::new(f).map_err(|e| file_error(path, e))?;
            Ok(r.metadata().file_metadata().num_rows().max(0) as u64)
        })
        .collect()
}

/// A job's error: the file when the message names it (the executors could not read it), else
/// the cluster.
fn job_error(address: &str, path: &Path, e: datafusion::error::DataFusionError) -> EstimateError {
    let message = e.to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if !name.is_empty() && message.contains(&name) {
        file_error(path, format!("on the cluster at {address}: {message}"))
    } else {
        engine_error(
            address,
            format!("{message} (while reading {})", path.display()),
        )
    }
}
