//! The transactional warehouse: a fault at every step of the commit, the lock under many
//! processes, rollback and gc that cannot lose data, the fingerprint, names that cannot escape.
//! The binary is built with the `failpoints` feature (`make test`), which these tests drive.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{
    data_digest, no_staging, output_text as text, parquet_files, repo, small_survey,
    snapshot_without, statcan_head, temp_dir,
};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_migstat"));
    c.current_dir(repo());
    c
}

fn run(p: &Path, wh: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.arg("run").arg(p).arg("--warehouse").arg(wh).args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run migstat")
}

/// Every file under the warehouse (its own `.migstat/` state aside) with its bytes.
fn snapshot(wh: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot_without(wh, &[".migstat"])
}

/// The warehouse's files but for `runs/`, byte for byte.
fn without_runs(wh: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    without_runs_of(&snapshot(wh))
}

fn without_runs_of(s: &BTreeMap<PathBuf, Vec<u8>>) -> BTreeMap<PathBuf, Vec<u8>> {
    s.iter()
        .filter(|(k, _)| !k.starts_with("runs"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Table files (not `runs/`, not `quarantine/`) with their data hash: what a run's data are,
/// whatever its run id in the footers.
fn tables(wh: &Path) -> BTreeMap<PathBuf, String> {
    parquet_files(wh)
        .into_iter()
        .map(|p| (p.strip_prefix(wh).unwrap().to_path_buf(), p))
        .filter(|(rel, _)| !rel.starts_with(".migstat"))
        .map(|(rel, p)| (rel, data_digest(&p).expect("hash")))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

fn survey(dir: &Path, name: &str, rows: usize, edit: &dyn Fn(String) -> String) -> PathBuf {
    small_survey(dir, name, rows, edit)
}

fn same(s: String) -> String {
    s
}

/// The second version of the input: one age changed.
fn changed(s: String) -> String {
    s.replacen(",141\r\n", ",999\r\n", 1)
}

fn manifests(wh: &Path) -> Vec<serde_json::Value> {
    let out = bin()
        .args(["runs", "--json", "--warehouse"])
        .arg(wh)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).expect("runs --json")
}

/// Every run folder has its manifest.
fn every_run_has_its_manifest(wh: &Path, what: &str) {
    for e in std::fs::read_dir(wh.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        assert!(
            e.path().join("manifest.json").is_file(),
            "{what}: {} has no manifest",
            e.path().display()
        );
    }
}

/// The commit's step names, as a clean run reaches them.
fn commit_steps(p: &Path, base: &Path, dir: &Path) -> Vec<String> {
    let wh = dir.join("steps");
    copy_dir(base, &wh);
    let log = dir.join("steps.log");
    let out = run(
        p,
        &wh,
        &["--force"],
        &[("MIGSTAT_FAILPOINT_LOG", log.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("commit"))
        .map(String::from)
        .collect()
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_fault_at_every_step_of_the_commit_leaves_the_before_or_the_after_state() {
    let dir = temp_dir("faults");
    let p = survey(&dir, "faults", 300, &same);
    // Before: one run of the first input. After: a run of the changed input.
    let before = dir.join("before");
    assert!(run(&p, &before, &[], &[]).status.success());
    let csv = dir.join("faults/pub.csv");
    std::fs::write(&csv, changed(statcan_head(300))).unwrap();
    let after = dir.join("after");
    copy_dir(&before, &after);
    assert!(run(&p, &after, &[], &[]).status.success());
    let (want_before, want_after) = (snapshot(&before), tables(&after));
    assert_ne!(tables(&before), want_after);
    let steps = commit_steps(&p, &before, &dir);
    assert!(steps.len() > 15, "{steps:?}");
    let mut tried = 0;
    for action in ["kill", "enospc", "erofs"] {
        for (i, step) in steps.iter().enumerate() {
            let wh = dir.join(format!("wh-{action}-{i}"));
            copy_dir(&before, &wh);
            let spec = format!("commit:{}:{action}", i + 1);
            let out = run(&p, &wh, &[], &[("MIGSTAT_FAILPOINT", &spec)]);
            tried += 1;
            let what = format!("{action} at step {} ({step})", i + 1);
            // Recovery: the next command that finds the journal (a reader here).
            let _ = manifests(&wh);
            let committed = tables(&wh) == want_after;
            if !committed {
                assert_eq!(
                    without_runs(&wh),
                    without_runs_of(&want_before),
                    "{what}: neither before nor after"
                );
                // Beside the earlier runs, at most the failed run's own record.
                for m in manifests(&wh) {
                    let id = m["run_id"].as_str().unwrap();
                    let earlier = want_before
                        .keys()
                        .any(|k| k.starts_with(Path::new("runs").join(id)));
                    assert!(
                        earlier || m["status"] == "failed",
                        "{what}: run {id} is {}",
                        m["status"]
                    );
                }
            }
            if action != "kill" {
                // An I/O error is undone at once (exit 2), unless it came after the commit
                // record was in place.
                let late = step == "commit.record.dirsync" || step == "commit.journal.remove";
                assert_eq!(committed, late, "{what}: {}", text(&out));
                assert_eq!(
                    out.status.code(),
                    Some(if late { 0 } else { 2 }),
                    "{what}: {}",
                    text(&out)
                );
            }
            every_run_has_its_manifest(&wh, &what);
            // A rerun converges on the after state.
            let again = run(&p, &wh, &[], &[]);
            assert!(again.status.success(), "{what}: rerun: {}", text(&again));
            assert!(no_staging(&wh), "{what}: staging left");
            assert_eq!(
                tables(&wh),
                want_after,
                "{what}: the rerun did not converge"
            );
            let _ = std::fs::remove_dir_all(&wh);
        }
    }
    eprintln!(
        "commit fault points tried: {tried} ({} steps × 3 faults)",
        steps.len()
    );
    // A full disk while staging: nothing visible changes.
    let wh = dir.join("wh-stage");
    copy_dir(&before, &wh);
    let out = run(&p, &wh, &[], &[("MIGSTAT_FAILPOINT", "stage:2:enospc")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("No space left on device"),
        "{}",
        text(&out)
    );
    // The failed run is recorded (manifest only); the tables are as before.
    assert_eq!(without_runs(&wh), without_runs_of(&want_before));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn lock_stress_six_processes_twenty_rounds_never_overlap() {
    let dir = temp_dir("lock-stress");
    let rounds: usize = std::env::var("MIGSTAT_LOCK_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let pipelines: Vec<PathBuf> = (0..6)
        .map(|k| survey(&dir, &format!("stress{k}"), 60, &same))
        .collect();
    let wh = dir.join("wh");
    let trace = dir.join("lock.trace");
    let children: Vec<_> = pipelines
        .iter()
        .map(|p| {
            let (p, wh, trace) = (p.clone(), wh.clone(), trace.clone());
            std::thread::spawn(move || {
                (0..rounds)
                    .map(|_| {
                        run(
                            &p,
                            &wh,
                            &["--wait", "--force"],
                            &[("MIGSTAT_LOCK_TRACE", trace.to_str().unwrap())],
                        )
                    })
                    .filter(|o| !o.status.success())
                    .map(|o| text(&o))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let failures: Vec<String> = children
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        failures.is_empty(),
        "{} runs failed: {}",
        failures.len(),
        failures[0]
    );
    // No two holders at once: acquire/release strictly alternate in time.
    let mut events: Vec<(u128, String, String)> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (v[2].parse().unwrap(), v[0].to_string(), v[1].to_string())
        })
        .collect();
    events.sort();
    assert_eq!(events.len(), 6 * rounds * 2);
    for pair in events.chunks(2) {
        assert_eq!(
            (&pair[0].1[..], &pair[1].1[..], &pair[0].2),
            ("acquire", "release", &pair[1].2),
            "two holders overlapped: {pair:?}"
        );
    }
    // The final warehouse equals running the six one by one.
    let one = dir.join("one-by-one");
    for p in &pipelines {
        assert!(run(p, &one, &[], &[]).status.success());
    }
    assert_eq!(tables(&wh), tables(&one));
    eprintln!("lock stress: 6 processes × {rounds} rounds, no overlap");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rollback_refuses_when_a_later_run_changed_the_same_files_and_cascades_newest_first() {
    let dir = temp_dir("rollback-later");
    let p = survey(&dir, "rb", 200, &same);
    let wh = dir.join("wh");
    assert!(run(&p, &wh, &[], &[]).status.success());
    let first = tables(&wh);
    let csv = dir.join("rb/pub.csv");
    std::fs::write(&csv, changed(statcan_head(200))).unwrap();
    let a = run(&p, &wh, &["--json"], &[]);
    assert!(a.status.success(), "{}", text(&a));
    let run_a = serde_json::from_slice::<serde_json::Value>(&a.stdout).unwrap()["pipelines"][0]
        ["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(&csv, statcan_head(200).replacen(",141\r\n", ",777\r\n", 1)).unwrap();
    let b = run(&p, &wh, &["--json"], &[]);
    let run_b = serde_json::from_slice::<serde_json::Value>(&b.stdout).unwrap()["pipelines"][0]
        ["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let after_b = snapshot(&wh);
    let rb = |extra: &[&str]| {
        bin()
            .args(["rollback", &run_a, "--warehouse"])
            .arg(&wh)
            .args(extra)
            .output()
            .unwrap()
    };
    // Alone: refused, naming B; nothing changes.
    let out = rb(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains(&run_b), "{}", text(&out));
    assert_eq!(snapshot(&wh), after_b);
    // Dry run: every file it would restore, nothing changes.
    let out = rb(&["--cascade", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("would {run_b}: restore observations/CAN/")),
        "{said}"
    );
    assert!(
        said.contains(&format!("would {run_a}: restore observations/CAN/")),
        "{said}"
    );
    assert_eq!(snapshot(&wh), after_b);
    // Cascade: B then A undone; the data are the first run's again.
    let out = rb(&["--cascade"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        tables(&wh)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("catalog"))
            .collect::<Vec<_>>(),
        first
            .clone()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("catalog"))
            .collect::<Vec<_>>()
    );
    let ms = manifests(&wh);
    for id in [&run_a, &run_b] {
        assert!(ms
            .iter()
            .any(|m| m["run_id"] == id.as_str() && m["status"] == "rolled back"));
    }
    // History and incremental state agree: B's input runs again, it is not skipped.
    let again = run(&p, &wh, &[], &[]);
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stdout).contains("skipped"),
        "{}",
        text(&again)
    );
    // No rollback copy is visible to a reader's glob.
    assert!(parquet_files(&wh)
        .iter()
        .all(|f| !f.to_string_lossy().contains(".migstat")));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn gc_keeps_the_latest_successful_run_of_every_pipeline_and_its_rollback_copies() {
    let dir = temp_dir("gc-keeps");
    let p = survey(&dir, "gc", 120, &same);
    let q = survey(&dir, "gc2", 120, &same);
    let wh = dir.join("wh");
    assert!(run(&p, &wh, &[], &[]).status.success());
    assert!(run(&q, &wh, &[], &[]).status.success());
    std::fs::write(dir.join("gc/pub.csv"), changed(statcan_head(120))).unwrap();
    let last = run(&p, &wh, &["--json"], &[]);
    let last_id = serde_json::from_slice::<serde_json::Value>(&last.stdout).unwrap()["pipelines"]
        [0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let gc = |extra: &[&str]| {
        bin()
            .args(["gc", "--older-than-days", "0", "--warehouse"])
            .arg(&wh)
            .args(extra)
            .output()
            .unwrap()
    };
    let before = snapshot(&wh);
    let dry = gc(&["--dry-run"]);
    assert!(dry.status.success());
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would remove runs/"));
    assert_eq!(snapshot(&wh), before);
    let out = gc(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let ms = manifests(&wh);
    let ids: Vec<&str> = ms
        .iter()
        .map(|m| m["pipeline_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"gc") && ids.contains(&"gc2"));
    // The kept run can still be rolled back.
    let rb = bin()
        .args(["rollback", &last_id, "--warehouse"])
        .arg(&wh)
        .output()
        .unwrap();
    assert!(rb.status.success(), "{}", text(&rb));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_new_build_or_a_changed_output_option_reruns_what_an_unchanged_input_would_skip() {
    let dir = temp_dir("fingerprint");
    let p = survey(&dir, "fp", 120, &same);
    let wh = dir.join("wh");
    let out = run(&p, &wh, &["--no-microdata"], &[]);
    assert!(out.status.success());
    assert!(!wh.join("microdata").exists());
    let dry = run(&p, &wh, &["--dry-run"], &[]);
    assert!(
        text(&dry).contains("would run (options changed (microdata=off → microdata=warehouse))"),
        "{}",
        text(&dry)
    );
    let out = run(&p, &wh, &[], &[]);
    assert!(!text(&out).contains("skipped"), "{}", text(&out));
    assert!(wh.join("microdata/CAN").is_dir());
    let same_again = run(&p, &wh, &[], &[]);
    assert!(text(&same_again).contains("skipped: unchanged"));
    let out = run(
        &p,
        &wh,
        &["--dry-run"],
        &[("MIGSTAT_TEST_BUILD_ID", "0.1.0+fixed")],
    );
    assert!(
        text(&out).contains("would run (build changed ("),
        "{}",
        text(&out)
    );
    let out = run(&p, &wh, &["--dry-run", "--force"], &[]);
    assert!(
        text(&out).contains("would run (forced (--force))"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_source_that_would_escape_the_warehouse_is_refused_by_check_and_run() {
    let dir = temp_dir("escape");
    let p = survey(&dir, "esc", 50, &same);
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replace("source = \"BA:ESC\"", "source = \"SY:../../../../tmp/x\"");
    std::fs::write(&p, t).unwrap();
    let check = bin().arg("check").arg(&p).output().unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(text(&check).contains("pipeline.source"), "{}", text(&check));
    let wh = dir.join("wh");
    let out = run(&p, &wh, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(parquet_files(&dir).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn two_pipelines_of_one_batch_writing_the_same_files_are_an_error_naming_both() {
    let dir = temp_dir("same-files");
    let a = survey(&dir, "dup_a", 50, &same);
    let b = survey(&dir, "dup_b", 50, &same);
    let t = std::fs::read_to_string(&b)
        .unwrap()
        .replace("source = \"BA:DUP_B\"", "source = \"BA:DUP_A\"");
    std::fs::write(&b, t).unwrap();
    let wh = dir.join("wh");
    let mut c = bin();
    c.arg("run").arg(&a).arg(&b).arg("--warehouse").arg(&wh);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    assert!(
        said.contains(&a.display().to_string()) && said.contains(&b.display().to_string()),
        "{said}"
    );
    assert!(!wh.join("observations").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn too_many_quarantined_rows_fail_the_run_and_load_nothing() {
    let dir = temp_dir("quarantine-share");
    // Every person without an age: each row is quarantined.
    let blank_age = |s: String| {
        let mut lines: Vec<String> = s.split("\r\n").map(String::from).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let age = header.iter().position(|h| *h == "AGE_12").expect("AGE_12");
        for l in lines.iter_mut().skip(1).filter(|l| !l.is_empty()) {
            let mut cells: Vec<String> = l.split(',').map(String::from).collect();
            cells[age] = String::new();
            *l = cells.join(",");
        }
        lines.join("\r\n")
    };
    let p = survey(&dir, "quar", 80, &blank_age);
    let t = std::fs::read_to_string(&p).unwrap().replace(
        "missing_value = \"error\"",
        "missing_value = \"quarantine\"",
    );
    std::fs::write(&p, t).unwrap();
    let wh = dir.join("wh");
    let out = run(&p, &wh, &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("max_quarantined_share"),
        "{}",
        text(&out)
    );
    assert!(parquet_files(&wh.join("observations")).is_empty());
    let ms = manifests(&wh);
    assert_eq!(ms[0]["status"], "rejected");
    let _ = std::fs::remove_dir_all(dir);
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn read_only(&self) -> bool {
        Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_and_a_read_only_folder_leave_the_warehouse_as_it_was() {
    let dir = temp_dir("disk-full");
    let p = survey(&dir, "full", 300, &same);
    let big = dir.join("big.csv");
    std::fs::write(&big, statcan_head(30_000)).unwrap();
    let wh = dir.join("wh");
    let Some(fs) = Tmpfs::mount(&wh, "512k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
        return;
    };
    assert!(run(&p, &wh, &[], &[]).status.success());
    let before = without_runs(&wh);
    let out = run(&p, &wh, &["--input", big.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("No space left on device"),
        "{}",
        text(&out)
    );
    assert_eq!(without_runs(&wh), before, "a full disk changed the tables");
    every_run_has_its_manifest(&wh, "disk full");
    assert!(no_staging(&wh));
    // Space is back once the failed run is gone: a forced rerun of the small input works.
    assert!(run(&p, &wh, &["--force"], &[]).status.success());
    let before = without_runs(&wh);
    assert!(fs.read_only(), "remount read-only");
    let out = run(&p, &wh, &["--force"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    assert_eq!(
        without_runs(&wh),
        before,
        "a read-only folder changed the tables"
    );
    drop(fs);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_rollback_killed_at_any_step_is_either_done_or_not_begun() {
    let dir = temp_dir("rollback-faults");
    let p = survey(&dir, "rbf", 200, &same);
    let base = dir.join("base");
    assert!(run(&p, &base, &[], &[]).status.success());
    std::fs::write(dir.join("rbf/pub.csv"), changed(statcan_head(200))).unwrap();
    let b = run(&p, &base, &["--json"], &[]);
    let run_b = serde_json::from_slice::<serde_json::Value>(&b.stdout).unwrap()["pipelines"][0]
        ["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let rollback = |wh: &Path, env: &[(&str, &str)]| {
        let mut c = bin();
        c.args(["rollback", &run_b, "--warehouse"]).arg(wh);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let done = dir.join("done");
    copy_dir(&base, &done);
    let log = dir.join("steps.log");
    assert!(
        rollback(&done, &[("MIGSTAT_FAILPOINT_LOG", log.to_str().unwrap())])
            .status
            .success()
    );
    let steps = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("commit"))
        .count();
    assert!(steps > 8, "{steps} steps");
    let (not_begun, finished) = (tables(&base), tables(&done));
    assert_ne!(not_begun, finished);
    for i in 1..=steps {
        let wh = dir.join(format!("wh-{i}"));
        copy_dir(&base, &wh);
        let spec = format!("commit:{i}:kill");
        let _ = rollback(&wh, &[("MIGSTAT_FAILPOINT", &spec)]);
        let status = manifests(&wh)
            .into_iter()
            .find(|m| m["run_id"] == run_b.as_str())
            .map(|m| m["status"].as_str().unwrap().to_string());
        let now = tables(&wh);
        match status.as_deref() {
            Some("ok") => assert_eq!(now, not_begun, "step {i}: B is ok but its files moved"),
            Some("rolled back") => assert_eq!(now, finished, "step {i}: half rolled back"),
            other => panic!("step {i}: B's manifest is {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&wh);
    }
    eprintln!("rollback fault points tried: {steps}");
    let _ = std::fs::remove_dir_all(dir);
}
