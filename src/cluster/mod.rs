//! Scale-out on Apache DataFusion Ballista: `migstat cluster scheduler|executor` start the
//! cluster's processes with migstat's aggregate registered (the stock Ballista binaries do not
//! know it), and `estimate --engine ballista://HOST:PORT` computes one partial state per input
//! file on the executors and merges them here (`estimate::generic::partial`).
//!
//! The flags live here in every build; the engine only with the `ballista` feature.

use std::io::Write;
use std::path::PathBuf;

#[cfg(feature = "ballista")]
mod client;
#[cfg(feature = "ballista")]
mod cube;
#[cfg(feature = "ballista")]
mod process;
#[cfg(feature = "ballista")]
mod udaf;

#[cfg(feature = "ballista")]
pub use client::estimate;

/// The processes of a Ballista cluster that knows migstat's aggregate.
#[derive(clap::Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub role: Role,
}

#[derive(clap::Subcommand, Debug)]
pub enum Role {
    /// The scheduler: plans jobs and hands their tasks to executors.
    Scheduler(SchedulerArgs),
    /// An executor: runs tasks (it must read the input files at the paths the client gives).
    Executor(ExecutorArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct SchedulerArgs {
    /// Address to listen on, HOST:PORT (the clients' and executors' `--scheduler`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: String,
    /// Seconds without a heartbeat after which an executor is taken as lost and its tasks
    /// are run elsewhere.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub executor_timeout: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ExecutorArgs {
    /// The scheduler, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address of this executor's data service, HOST:PORT (the host others reach it by).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    pub bind: String,
    /// Port of its task service [default: the --bind port + 1].
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,
    /// Folder for shuffle files.
    #[arg(long, value_name = "DIR")]
    pub work_dir: PathBuf,
    /// Tasks run at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub slots: Option<usize>,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub heartbeat: u64,
}

/// The scheduler's `HOST:PORT` of `--engine ballista://HOST:PORT`, or a message naming the value.
pub fn parse_engine(s: &str) -> Result<String, String> {
    let bad = || format!("--engine `{s}`: expected ballista://HOST:PORT (the scheduler's address)");
    let rest = s.strip_prefix("ballista://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) || rest.contains('/') {
        return Err(bad());
    }
    Ok(rest.to_string())
}

/// The cube engine of `migstat run --engine`: the cluster at `address` (`HOST:PORT`), chunk
/// files under `dir` (a folder every executor reads at the same path).
#[cfg(feature = "ballista")]
pub fn cube_engine(
    address: &str,
    dir: &std::path::Path,
) -> Result<Box<dyn crate::estimate::cube::CubeEngine>, String> {
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Box::new(cube::Cluster {
        address: address.to_string(),
        dir,
    }))
}

#[cfg(not(feature = "ballista"))]
pub fn cube_engine(
    address: &str,
    _: &std::path::Path,
) -> Result<Box<dyn crate::estimate::cube::CubeEngine>, String> {
    Err(format!(
        "--engine ballista://{address}: this migstat was built without the `ballista` feature \
         (cargo build --release --features ballista)"
    ))
}

/// `HOST:PORT` split, with a message naming the flag when it is not one.
pub fn host_port(flag: &str, s: &str) -> Result<(String, u16), String> {
    let bad = || format!("{flag} `{s}`: expected HOST:PORT, e.g. 127.0.0.1:50050");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// Runs a cluster process until it is stopped. Exit 2 when it cannot start.
pub fn run(args: &ClusterArgs, err: &mut dyn Write) -> std::io::Result<i32> {
    match start(args) {
        Ok(()) => Ok(0),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(2)
        }
    }
}

#[cfg(feature = "ballista")]
fn start(args: &ClusterArgs) -> Result<(), String> {
    match &args.role {
        Role::Scheduler(a) => process::scheduler(a),
        Role::Executor(a) => process::executor(a),
    }
}

#[cfg(not(feature = "ballista"))]
fn start(_: &ClusterArgs) -> Result<(), String> {
    Err("this migstat was built without the `ballista` feature \
         (cargo build --release --features ballista)"
        .into())
}
