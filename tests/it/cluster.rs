//! `estimate --engine ballista://…` on a real cluster of migstat processes on 127.0.0.1: one
//! scheduler and two executors (free ports, each stopped by its PID when the test ends, however
//! it ends). The cluster's results equal the embedded engine's on the same files bit for bit
//! (the same per-file partial states, merged in file order); both executors must have run
//! tasks. Losing an executor mid-job gives the right numbers or a clear error; a bad address,
//! a scheduler that is not there and files the executors cannot read are exit 2 with the
//! address or file named.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::migstat;
use crate::estimate_files::{designs, estimate, split_survey};

/// Child processes killed (by PID) and reaped when dropped.
struct Procs(Vec<(String, Child)>);

impl Procs {
    fn kill(&mut self, name: &str) {
        if let Some((_, c)) = self.0.iter_mut().find(|(n, _)| n == name) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Two free ports in a row (an executor's data port and its task port, `port + 1`).
fn free_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

fn spawn(args: &[&str], log: &Path) -> Child {
    let f = std::fs::File::create(log).expect("log");
    Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(f)
        .spawn()
        .expect("spawn")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A scheduler and `n` executors with 1 task slot each; returns the processes, the engine
/// URL and the executors' logs.
fn cluster(dir: &Path, n: usize) -> (Procs, String, Vec<PathBuf>) {
    let sched = format!("127.0.0.1:{}", free_port());
    let mut procs = Procs(Vec::new());
    let slog = dir.join("scheduler.log");
    procs.0.push((
        "scheduler".into(),
        spawn(
            &[
                "cluster",
                "scheduler",
                "--bind",
                &sched,
                "--executor-timeout",
                "6",
            ],
            &slog,
        ),
    ));
    wait_for("the scheduler", Duration::from_secs(60), || {
        std::net::TcpStream::connect(&sched).is_ok()
    });
    let mut logs = Vec::new();
    for i in 0..n {
        let bind = format!("127.0.0.1:{}", free_pair());
        let log = dir.join(format!("executor{i}.log"));
        let work = dir.join(format!("work{i}"));
        procs.0.push((
            format!("executor{i}"),
            spawn(
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &sched,
                    "--bind",
                    &bind,
                    "--work-dir",
                    work.to_str().expect("path"),
                    "--slots",
                    "1",
                    "--heartbeat",
                    "1",
                ],
                &log,
            ),
        ));
        logs.push(log);
    }
    for log in &logs {
        wait_for("an executor to register", Duration::from_secs(60), || {
            read(log).contains("registration succeed")
        });
    }
    (procs, format!("ballista://{sched}"), logs)
}

#[test]
fn the_cluster_gives_the_embedded_results_and_both_executors_work() {
    let (dir, one, parts) = split_survey("cluster", 24_000, 8);
    let (procs, url, logs) = cluster(&dir, 2);
    for (name, flags) in designs() {
        let embedded = estimate(&[&parts], &flags, &[]);
        let mut with_engine = flags.clone();
        with_engine.extend(["--engine", url.as_str()]);
        let clustered = estimate(
            &[&parts],
            &with_engine,
            &[("MIGSTAT_ENGINE_TIMEOUT", "300")],
        );
        assert_eq!(clustered, embedded, "{name}: cluster and embedded differ");
        // And the same as the rows in one file, to rounding.
        crate::estimate_files::assert_close(
            &estimate(&[&one], &flags, &[]),
            &clustered,
            1e-12,
            name,
        );
    }
    for log in &logs {
        let text = read(log);
        let partials = text.matches("migstat_partial: partial state of").count();
        assert!(
            partials > 0,
            "{} ran no partial aggregation:\n{text}",
            log.display()
        );
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn losing_an_executor_mid_job_gives_the_right_numbers_or_a_clear_error() {
    let (dir, _one, parts) = split_survey("cluster-kill", 60_000, 16);
    let (mut procs, url, logs) = cluster(&dir, 2);
    let (_, flags) = designs().remove(1);
    let embedded = estimate(&[&parts], &flags, &[]);
    let mut args: Vec<&str> = vec!["estimate", parts.to_str().expect("path")];
    args.extend(&flags);
    args.extend(["--engine", url.as_str()]);
    let child = Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(&args)
        .env("MIGSTAT_ENGINE_TIMEOUT", "120")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Once executor 1 has started a task, it goes.
    wait_for("a task on executor 1", Duration::from_secs(120), || {
        read(&logs[1]).contains("Execute task")
    });
    procs.kill("executor1");
    let out = child.wait_with_output().expect("estimate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => assert_eq!(stdout, embedded, "a wrong result after losing an executor"),
        Some(2) => {
            assert!(stdout.is_empty(), "numbers printed with an error: {stdout}");
            assert!(
                stderr.contains("error:") && stderr.contains("Ballista"),
                "{stderr}"
            );
        }
        other => panic!("exit {other:?}: {stderr}"),
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_addresses_missing_schedulers_and_unreadable_files_are_exit_2() {
    let (dir, _one, parts) = split_survey("cluster-bad", 3_000, 2);
    let p = parts.to_str().expect("path");
    let base = [
        "estimate",
        p,
        "--weight",
        "WEIGHT",
        "--replicates",
        "REPWT*",
        "--method",
        "bootstrap",
        "--mean",
        "AGE",
    ];
    let run = |engine: &str| {
        let mut a = base.to_vec();
        a.extend(["--engine", engine]);
        let o = migstat(&a);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    for bad in [
        "spark://127.0.0.1:1",
        "ballista://nohostport",
        "ballista://127.0.0.1:0",
    ] {
        let (code, err) = run(bad);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains(bad), "{bad}: {err}");
    }
    let nobody = format!("127.0.0.1:{}", free_port());
    let (code, err) = run(&format!("ballista://{nobody}"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&nobody), "{err}");
    // A file the executors cannot read: the client has planned the job (it read every
    // file's schema), then a part goes before the executors scan it.
    let (procs, url, _) = cluster(&dir, 1);
    let steps = dir.join("steps.log");
    let mut a = base.to_vec();
    a.extend(["--engine", url.as_str()]);
    let child = Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(&a)
        .env("MIGSTAT_FAILPOINT", "cluster-planned:1:pause")
        .env("MIGSTAT_FAILPOINT_LOG", &steps)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("the plan", Duration::from_secs(60), || {
        read(&steps).contains("cluster-planned")
    });
    std::fs::remove_file(parts.join("part-001.parquet")).expect("remove");
    let o = child.wait_with_output().expect("estimate");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("part-001.parquet"), "{err}");
    assert!(o.stdout.is_empty());
    drop(procs);
    let _ = std::fs::remove_dir_all(dir);
}

/// The observations of `warehouse`, every column, as CSV in a fixed order.
fn observations(warehouse: &Path) -> String {
    let sql = "SELECT * FROM observations \
               ORDER BY ref_area, source, indicator, time, sex, classif1, classif2";
    let wh = warehouse.to_str().expect("path");
    let o = migstat(&["query", sql, "--warehouse", wh, "--format", "csv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

#[test]
fn run_with_the_engine_writes_the_embedded_observations_bit_for_bit() {
    let dir = crate::common::temp_dir("cluster-run");
    // The Thai pipeline as shipped (Taylor, persons and roster), and with replicate variance.
    let repo = crate::common::repo();
    let text = std::fs::read_to_string(repo.join("pipelines/tha_lfs_synth.toml"))
        .expect("pipeline")
        .replace(
            "\"../sample_data/",
            &format!("\"{}/sample_data/", repo.display()),
        );
    let replicate = dir.join("tha_replicate.toml");
    std::fs::write(
        &replicate,
        text.replace("variance = \"taylor\"", "variance = \"replicate\""),
    )
    .expect("write");
    assert!(std::fs::read_to_string(&replicate)
        .expect("read")
        .contains("variance = \"replicate\""));
    let (procs, url, logs) = cluster(&dir, 2);
    for (name, pipeline) in [
        ("taylor", repo.join("pipelines/tha_lfs_synth.toml")),
        ("replicate", replicate),
    ] {
        let p = pipeline.to_str().expect("path").to_string();
        let embedded = dir.join(format!("{name}-embedded"));
        let clustered = dir.join(format!("{name}-cluster"));
        let chunks = dir.join(format!("{name}-chunks"));
        let o = migstat(&["run", &p, "--warehouse", embedded.to_str().expect("path")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = migstat(&[
            "run",
            &p,
            "--warehouse",
            clustered.to_str().expect("path"),
            "--engine",
            &url,
            "--engine-dir",
            chunks.to_str().expect("path"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (a, b) = (observations(&embedded), observations(&clustered));
        assert!(a.lines().count() > 1000, "{name}: {a}");
        assert_eq!(a, b, "{name}: the cluster's observations differ");
        // The chunk files are gone once the states are back.
        let left: Vec<_> = std::fs::read_dir(&chunks).expect("chunks").collect();
        assert!(left.is_empty(), "{name}: {left:?}");
    }
    let chunks: usize = logs
        .iter()
        .map(|l| read(l).matches("migstat_cube: state of chunk").count())
        .sum();
    assert!(chunks > 0, "no chunk state was computed on the executors");
    drop(procs);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn run_with_an_engine_that_is_not_there_fails_and_changes_nothing() {
    let dir = crate::common::temp_dir("cluster-run-bad");
    let wh = dir.join("wh");
    let nobody = format!("127.0.0.1:{}", free_port());
    let o = migstat(&[
        "run",
        "pipelines/tha_lfs_synth.toml",
        "--warehouse",
        wh.to_str().expect("path"),
        "--engine",
        &format!("ballista://{nobody}"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&nobody), "{err}");
    assert!(
        !wh.join("observations").exists(),
        "a failed run published observations"
    );
    let o = migstat(&[
        "run",
        "pipelines/tha_lfs_synth.toml",
        "--engine",
        "ballista://nohostport",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ballista://nohostport"));
    let _ = std::fs::remove_dir_all(dir);
}
