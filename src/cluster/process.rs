//! The scheduler and executor processes, with `migstat_partial` registered where Ballista
//! looks functions up: the scheduler's session builder (it decodes the client's plan) and each
//! executor's function registry (it decodes its tasks).

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::FunctionRegistry;

use super::{host_port, udaf, ExecutorArgs, SchedulerArgs};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Ballista's and migstat's log lines (`log` records, info and above) to stderr, one per line
/// with the UTC time, level and source.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!(
                "{}.{:03} {} {}: {}",
                t.as_secs(),
                t.subsec_millis(),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

fn log_to_stderr() {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

pub fn scheduler(args: &SchedulerArgs) -> Result<(), String> {
    let (host, port) = host_port("--bind", &args.bind)?;
    let addr: std::net::SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("--bind `{}`: {e}", args.bind))?;
    log_to_stderr();
    // Each file's rows must reach one accumulator in file order, whatever a client asks: no
    // round-robin repartitioning of batches, no file split into byte ranges.
    let builder: ballista_scheduler::scheduler_server::SessionBuilder = Arc::new(|config| {
        let config = config
            .with_round_robin_repartition(false)
            .with_repartition_file_scans(false);
        let mut state = ballista_core::utils::default_session_builder(config)?;
        state.register_udaf(udaf::partial_state())?;
        state.register_udaf(super::cube::cube_state())?;
        Ok(state)
    });
    let config = SchedulerConfig {
        bind_host: host.clone(),
        bind_port: port,
        external_host: host,
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: args.executor_timeout,
        expire_dead_executor_interval_seconds: args.executor_timeout.clamp(1, 15),
        no_executors_grace_period_seconds: args.executor_timeout,
        override_session_builder: Some(builder),
        ..SchedulerConfig::default()
    };
    runtime()?.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| format!("scheduler: {e}"))?;
        start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(|e| format!("scheduler on {addr}: {e}"))
    })
}

pub fn executor(args: &ExecutorArgs) -> Result<(), String> {
    let (scheduler_host, scheduler_port) = host_port("--scheduler", &args.scheduler)?;
    let (host, port) = host_port("--bind", &args.bind)?;
    let grpc_port = match args.grpc_port {
        Some(p) => p,
        None => port
            .checked_add(1)
            .ok_or_else(|| format!("--bind `{}`: give --grpc-port", args.bind))?,
    };
    std::fs::create_dir_all(&args.work_dir)
        .map_err(|e| format!("--work-dir {}: {e}", args.work_dir.display()))?;
    let work_dir = args
        .work_dir
        .to_str()
        .ok_or_else(|| format!("--work-dir {}: not UTF-8", args.work_dir.display()))?
        .to_string();
    log_to_stderr();
    let mut registry = BallistaFunctionRegistry::default();
    for f in [udaf::partial_state(), super::cube::cube_state()] {
        registry.aggregate_functions.insert(f.name().to_string(), f);
    }
    let mut config = ExecutorProcessConfig {
        bind_host: host.clone(),
        external_host: Some(host),
        port,
        grpc_port,
        scheduler_host,
        scheduler_port,
        work_dir: Some(work_dir),
        executor_heartbeat_interval_seconds: args.heartbeat.max(1),
        override_function_registry: Some(Arc::new(registry)),
        ..ExecutorProcessConfig::default()
    };
    if let Some(n) = args.slots {
        config.vcores = n.max(1);
    }
    runtime()?.block_on(async move {
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| format!("executor: {e}"))
    })
}
