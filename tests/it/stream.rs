//! `migstat run` takes the person file in chunks (checked, derived, estimated, written, then
//! dropped). Cut into many small chunks (`MIGSTAT_STREAM_ROWS`, a `failpoints` build), every
//! shipped pipeline holds no more rows than a chunk and gives the warehouse of one chunk: the
//! same microdata, emigrants, quarantined rows and counts to the bit, and the same estimates up
//! to the order of additions; and the same bits on 1 and 2 threads. A person file that changes
//! while the run reads it stops the run.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;

use crate::common::{
    parquet_files, read_batches, read_observations, repo, shipped_pipelines, temp_dir, Obs,
};

/// Rows a chunk holds: small and odd, so chunks end inside households and PSUs.
const CHUNK: usize = 997;

fn run(pipeline: &Path, wh: &Path, chunk: Option<usize>, threads: usize) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migstat"));
    cmd.args(["run", &pipeline.to_string_lossy(), "--warehouse"])
        .arg(wh)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .current_dir(repo());
    if let Some(n) = chunk {
        cmd.env("MIGSTAT_STREAM_ROWS", n.to_string());
    }
    let out = cmd.output().expect("run migstat");
    assert!(
        out.status.success(),
        "{}: {}",
        pipeline.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The Parquet tables of a warehouse other than observations and run records, by path.
fn data_tables(wh: &Path) -> BTreeMap<PathBuf, Vec<RecordBatch>> {
    parquet_files(wh)
        .into_iter()
        .map(|p| p.strip_prefix(wh).expect("inside").to_path_buf())
        .filter(|p| !p.starts_with("runs") && !p.starts_with("observations"))
        .map(|p| (p.clone(), read_batches(&wh.join(p))))
        .collect()
}

/// The observations of a warehouse, keyed by what identifies them.
fn observations(wh: &Path) -> BTreeMap<(String, String, String, String, String), Obs> {
    parquet_files(&wh.join("observations"))
        .iter()
        .flat_map(|p| read_observations(p))
        .map(|o| {
            let key = (
                o.indicator.clone(),
                o.time.clone(),
                o.sex.clone(),
                o.classif1.clone().unwrap_or_default(),
                o.classif2.clone().unwrap_or_default(),
            );
            (key, o)
        })
        .collect()
}

/// Quarantine files by name (their folder is the run's id), with their bytes.
fn quarantine(wh: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for run in std::fs::read_dir(wh.join("quarantine"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in std::fs::read_dir(run.path()).expect("run folder").flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            out.insert(name, std::fs::read(f.path()).expect("quarantine file"));
        }
    }
    out
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
        (a, b) => a == b,
    }
}

/// "streamed in N chunks of at most M rows" from a run's output.
fn streamed(out: &Output) -> Option<(u64, usize)> {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("streamed in"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "streamed")?;
    Some((words[at + 2].parse().ok()?, words[at + 7].parse().ok()?))
}

#[test]
fn many_small_chunks_give_the_warehouse_of_one() {
    let (mut streamed_any, mut estimated) = (0, 0);
    for p in shipped_pipelines() {
        let name = p.file_stem().expect("name").to_string_lossy().to_string();
        let one = temp_dir(&format!("stream-one-{name}"));
        let many = temp_dir(&format!("stream-many-{name}"));
        run(&p, &one, Some(usize::MAX), 2);
        let out = run(&p, &many, Some(CHUNK), 2);
        if let Some((chunks, held)) = streamed(&out) {
            assert!(held <= CHUNK, "{name}: a chunk held {held} rows");
            assert!(chunks >= 5, "{name}: {chunks} chunks");
            streamed_any += 1;
        }
        let (a, b) = (data_tables(&one), data_tables(&many));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}: tables"
        );
        assert_eq!(a, b, "{name}: microdata or emigrants differ");
        assert_eq!(quarantine(&one), quarantine(&many), "{name}: quarantine");
        let (a, b) = (observations(&one), observations(&many));
        estimated += usize::from(!a.is_empty());
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}: observations"
        );
        for (k, x) in &a {
            let y = &b[k];
            assert_eq!(
                (&x.obs_status, x.sample_count),
                (&y.obs_status, y.sample_count),
                "{name}: {k:?}"
            );
            assert!(
                close(x.obs_value, y.obs_value),
                "{name}: {k:?}: {x:?} {y:?}"
            );
            assert!(close(x.se, y.se), "{name}: {k:?}: {x:?} {y:?}");
        }
    }
    assert!(streamed_any >= 5, "{streamed_any} pipelines streamed");
    assert!(estimated >= 5, "{estimated} pipelines estimated");
}

#[test]
fn chunked_runs_are_bit_identical_on_1_and_2_threads() {
    let p = repo().join("pipelines/tha_lfs_synth.toml");
    let mut seen = Vec::new();
    for threads in [1, 2] {
        let wh = temp_dir(&format!("stream-threads-{threads}"));
        run(&p, &wh, Some(CHUNK), threads);
        let mut tables = data_tables(&wh);
        for f in parquet_files(&wh.join("observations")) {
            let rel = f.strip_prefix(&*wh).expect("inside").to_path_buf();
            tables.insert(rel, read_batches(&f));
        }
        seen.push(tables);
    }
    assert!(seen[0].keys().any(|p| p.starts_with("observations")));
    assert_eq!(seen[0], seen[1], "1 and 2 threads differ");
}

/// An upload still being written when the nightly run starts: the person file grows while the
/// run reads it (the run pauses at the end of its read, `read.end`, and the test appends a row
/// meanwhile). What was read is of no one version of the file: the run fails, says why, and
/// loads nothing.
#[test]
fn a_file_that_changes_while_it_is_read_loads_nothing() {
    let dir = temp_dir("stream-changed");
    let synth = repo().join("sample_data/synth");
    for f in ["tha_lfs_synth_persons.csv", "tha_lfs_synth_roster.csv"] {
        std::fs::copy(synth.join(f), dir.join(f)).expect("copy");
    }
    let text = std::fs::read_to_string(repo().join("pipelines/tha_lfs_synth.toml"))
        .expect("pipeline")
        .replace("../sample_data/synth/", &format!("{}/", dir.display()));
    let pipeline = dir.join("tha.toml");
    std::fs::write(&pipeline, text).expect("write");
    let persons = dir.join("tha_lfs_synth_persons.csv");
    let (steps, wh) = (dir.join("steps.log"), dir.join("wh"));
    let step = format!("read.end {}", persons.display());
    let child = Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(["run", &pipeline.to_string_lossy(), "--warehouse"])
        .arg(&wh)
        .env("MIGSTAT_FAILPOINT", format!("{step}:1:pause"))
        .env("MIGSTAT_FAILPOINT_LOG", &steps)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    while !std::fs::read_to_string(&steps)
        .unwrap_or_default()
        .contains(&step)
    {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the read never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&persons).expect("read");
    let last = format!("{}\n", text.lines().last().expect("a row"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&persons)
        .expect("open");
    std::io::Write::write_all(&mut f, last.as_bytes()).expect("append");
    drop(f);
    let o = child.wait_with_output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("changed while it was read"), "{err}");
    assert!(err.contains("tha_lfs_synth_persons.csv"), "{err}");
    assert!(parquet_files(&wh.join("observations")).is_empty());
    assert!(parquet_files(&wh.join("microdata")).is_empty());
}
