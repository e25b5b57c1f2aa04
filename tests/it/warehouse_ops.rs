//! The warehouse under a nightly batch: killed runs, concurrent runs, incremental skips, forced
//! reruns, rollback, and reruns converging to the same Parquet bytes.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{
    data_digest, migstat, parquet_files, pipeline_for, read_batches, repo, statcan_head, temp_dir,
};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_migstat"));
    c.current_dir(repo());
    c
}

/// Table files (runs, quarantine, hidden folders excepted) with their content hash.
fn tables(wh: &Path) -> BTreeMap<PathBuf, String> {
    parquet_files(wh)
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(wh).unwrap();
            !rel.starts_with("runs") && !rel.to_string_lossy().starts_with('.')
        })
        .map(|p| {
            (
                p.strip_prefix(wh).unwrap().to_path_buf(),
                data_digest(&p).expect("hash"),
            )
        })
        .collect()
}

fn bytes(wh: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    tables(wh)
        .keys()
        .map(|k| (k.clone(), std::fs::read(wh.join(k)).unwrap()))
        .collect()
}

fn run(p: &Path, wh: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    migstat(&args)
}

#[test]
fn killed_runs_leave_a_readable_warehouse_and_reruns_converge() {
    let pipelines = [
        "pipelines/fra_eu_lfs_puf.toml",
        "pipelines/egy_lfs_synth.toml",
    ];
    let clean = temp_dir("kill-clean");
    let out = bin()
        .args([
            "run",
            pipelines[0],
            pipelines[1],
            "--warehouse",
            clean.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let want = tables(&clean);
    assert!(want.len() > 40);
    for delay_ms in [30u64, 150, 400, 800] {
        let wh = temp_dir(&format!("kill-{delay_ms}"));
        let mut child = bin()
            .args([
                "run",
                pipelines[0],
                pipelines[1],
                "--warehouse",
                wh.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        for f in tables(&wh).keys() {
            let rows: usize = read_batches(&wh.join(f)).iter().map(|b| b.num_rows()).sum();
            assert!(
                rows > 0,
                "{delay_ms} ms: {} unreadable or empty",
                f.display()
            );
        }
        let out = bin()
            .args([
                "run",
                pipelines[0],
                pipelines[1],
                "--warehouse",
                wh.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{delay_ms} ms: rerun failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            tables(&wh),
            want,
            "{delay_ms} ms: the rerun did not converge to the clean run's data"
        );
        let before = bytes(&wh);
        let out = bin()
            .args([
                "run",
                pipelines[0],
                pipelines[1],
                "--force",
                "--warehouse",
                wh.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            bytes(&wh),
            before,
            "{delay_ms} ms: a forced rerun changed bytes"
        );
        let _ = std::fs::remove_dir_all(wh);
    }
    let _ = std::fs::remove_dir_all(clean);
}

#[test]
fn a_second_run_exits_75_naming_the_holder_waits_or_times_out() {
    use migstat::load::lock::{Lock, Wait};
    let wh = temp_dir("lock");
    let fra = Path::new("pipelines/fra_eu_lfs_puf.toml");
    // A live holder: this test process, through the same OS lock.
    let held = Lock::acquire(&wh, "migstat run test-holder", Wait::No).expect("lock");
    let out = run(fra, &wh, &[]);
    assert_eq!(out.status.code(), Some(75));
    let err = String::from_utf8_lossy(&out.stderr);
    let me = std::process::id();
    assert!(
        err.contains(&format!("locked by pid {me}")) && err.contains("test-holder"),
        "{err}"
    );
    assert!(!wh.join("observations").exists());
    let t = std::time::Instant::now();
    let out = run(fra, &wh, &["--wait-timeout", "1"]);
    assert_eq!(out.status.code(), Some(75));
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("after waiting 1 s"));
    // --wait: the run goes ahead once the holder lets go.
    let child = bin()
        .args(["run", fra.to_str().unwrap(), "--wait", "--warehouse"])
        .arg(&wh)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !wh.join("observations").exists(),
        "ran while the lock was held"
    );
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(wh.join("observations/FRA").is_dir());
    // What the lock file says is only a description: a file naming a live pid but not locked
    // does not block anyone.
    std::fs::write(
        wh.join(".migstat/lock"),
        format!("{{\"pid\":{me},\"started\":\"x\",\"command\":\"stale\"}}"),
    )
    .unwrap();
    let out = run(fra, &wh, &["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(wh);
}

#[test]
fn incremental_batch_skips_unchanged_pipelines_and_rolls_back() {
    let dir = temp_dir("incremental");
    let csv = dir.join("pub.csv");
    std::fs::write(&csv, statcan_head(400)).unwrap();
    let p = pipeline_for(&dir, &csv, "");
    let wh = dir.join("wh");
    let first = run(&p, &wh, &[]);
    assert!(first.status.success());
    let after_first = bytes(&wh);
    let again = run(&p, &wh, &[]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("skipped: unchanged"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let dry = run(&p, &wh, &["--dry-run", "--force"]);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would run"));
    assert_eq!(bytes(&wh), after_first);
    // Change the input: the pipeline runs again and replaces its files.
    std::fs::write(&csv, statcan_head(400).replacen(",141\r\n", ",999\r\n", 1)).unwrap();
    let changed = run(&p, &wh, &["--json"]);
    assert!(changed.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&changed.stdout).expect("json summary");
    assert_eq!(summary["pipelines"][0]["outcome"], "ran");
    let run_id = summary["pipelines"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(bytes(&wh), after_first);
    let forced = run(&p, &wh, &["--force"]);
    assert!(String::from_utf8_lossy(&forced.stdout).contains("unchanged"));
    // Rolling back the changed run restores the first run's files byte for byte.
    let rb = migstat(&["rollback", &run_id, "--warehouse", wh.to_str().unwrap()]);
    assert!(
        rb.status.success(),
        "{}",
        String::from_utf8_lossy(&rb.stderr)
    );
    let restored = bytes(&wh);
    for (k, v) in &after_first {
        if !k.starts_with("catalog") {
            assert_eq!(restored.get(k), Some(v), "{} not restored", k.display());
        }
    }
    let runs = migstat(&["runs", "--json", "--warehouse", wh.to_str().unwrap()]);
    let list: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["run_id"] == run_id.as_str() && m["status"] == "rolled back"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn microdata_can_be_kept_out_of_the_warehouse() {
    let dir = temp_dir("microdata-dir");
    let (wh, md) = (dir.join("wh"), dir.join("confidential"));
    let p = Path::new("pipelines/arm_lfs_synth.toml");
    let out = run(p, &wh, &["--microdata-dir", md.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!wh.join("microdata").exists() && !wh.join("emigrants").exists());
    assert_eq!(parquet_files(&md.join("microdata")).len(), 2);
    assert_eq!(parquet_files(&md.join("emigrants")).len(), 2);
    let wh2 = dir.join("wh2");
    let out = run(p, &wh2, &["--no-microdata"]);
    assert!(out.status.success());
    assert!(wh2.join("observations/ARM").is_dir() && !wh2.join("microdata").exists());
    let _ = std::fs::remove_dir_all(dir);
}
