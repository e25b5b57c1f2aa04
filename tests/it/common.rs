//! Helpers shared by the integration tests.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// SHA-256 of a warehouse file's data region (its footer, which holds the run id, aside): the
/// same for two runs that wrote the same data; `None` when the file cannot be read.
pub fn data_digest(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(migstat::runs::sha256_hex(
        migstat::load::parquet::data_region(&bytes),
    ))
}

/// A fresh empty folder under the system temp dir, removed when the test that made it ends.
pub fn temp_dir(name: &str) -> TestDir {
    TestDir::new(format!("migstat-test-{}-{name}", std::process::id()))
}

/// A fresh empty folder for small files that outlive the call that makes them (a helper's
/// input file, a per-process cache): under the build's own `CARGO_TARGET_TMPDIR`, not the
/// system's, so that `cargo clean` removes it.
pub fn lasting_dir(name: &str) -> PathBuf {
    let d =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("lasting dir");
    d
}

/// A test's scratch folder. It is removed when dropped, so a suite run leaves nothing behind
/// (some tests write a gigabyte); a test that fails keeps its folder to be looked at, and
/// `MIGSTAT_KEEP_TEST_DIRS=1` keeps every one.
#[derive(Debug)]
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(name: String) -> Self {
        let d = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TestDir(d)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("MIGSTAT_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TestDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

pub fn migstat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run migstat")
}

/// One observation row read back from Parquet.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub indicator: String,
    pub sex: String,
    pub classif1: Option<String>,
    pub classif2: Option<String>,
    pub time: String,
    pub obs_value: Option<f64>,
    pub obs_status: Option<String>,
    pub sample_count: i64,
    pub se: Option<f64>,
}

fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(name).expect(name);
    let a = a.as_any().downcast_ref::<StringArray>().expect("utf8");
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect()
}

fn floats(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let a = b.column_by_name(name).expect(name);
    let a = a.as_any().downcast_ref::<Float64Array>().expect("f64");
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect()
}

pub fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).expect("open parquet");
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

pub fn read_observations(path: &Path) -> Vec<Obs> {
    let mut out = Vec::new();
    for b in read_batches(path) {
        let ind = strs(&b, "indicator");
        let sex = strs(&b, "sex");
        let c1 = strs(&b, "classif1");
        let c2 = strs(&b, "classif2");
        let time = strs(&b, "time");
        let val = floats(&b, "obs_value");
        let st = strs(&b, "obs_status");
        let se = floats(&b, "se");
        let n = b.column_by_name("sample_count").expect("sample_count");
        let n = n.as_any().downcast_ref::<Int64Array>().expect("i64");
        for i in 0..b.num_rows() {
            out.push(Obs {
                indicator: ind[i].clone().unwrap_or_default(),
                sex: sex[i].clone().unwrap_or_default(),
                classif1: c1[i].clone(),
                classif2: c2[i].clone(),
                time: time[i].clone().unwrap_or_default(),
                obs_value: val[i],
                obs_status: st[i].clone(),
                sample_count: n.value(i),
                se: se[i],
            });
        }
    }
    out
}

/// Every `.parquet` file under `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs pipelines into a fresh warehouse through the binary; panics with its output on failure.
pub fn run_into(name: &str, pipelines: &[&str]) -> TestDir {
    let wh = temp_dir(name);
    let mut args = vec!["run"];
    args.extend_from_slice(pipelines);
    let whs = wh.to_string_lossy().to_string();
    args.extend(["--warehouse", &whs]);
    let out = migstat(&args);
    assert!(
        out.status.success(),
        "migstat run failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wh
}

/// The first `n` data lines of the StatCan month, as plain CSV text.
pub fn statcan_head(n: usize) -> String {
    let zip = repo().join("sample_data/statcan/2024-01-CSV.zip");
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip).expect("zip")).expect("zip");
    let mut text = String::new();
    let mut member = a.by_name("pub0124.csv").expect("member");
    std::io::Read::read_to_string(&mut member, &mut text).expect("read");
    text.split("\r\n")
        .take(n + 1)
        .map(|l| format!("{l}\r\n"))
        .collect()
}

/// Every pipeline file shipped in `pipelines/`, sorted.
pub fn shipped_pipelines() -> Vec<PathBuf> {
    let mut pipelines: Vec<PathBuf> = std::fs::read_dir(repo().join("pipelines"))
        .expect("pipelines")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    pipelines.sort();
    pipelines
}

/// The StatCan pipeline pointed at `csv`, with `extra` appended.
pub fn pipeline_for(dir: &Path, csv: &Path, extra: &str) -> PathBuf {
    let text =
        std::fs::read_to_string(repo().join("pipelines/can_lfs_pumf.toml")).expect("pipeline");
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("member"))
        .map(|l| {
            if l.starts_with("path = ") {
                format!("path = {:?}\n", csv.to_string_lossy())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, text + extra).expect("write pipeline");
    p
}

/// Whether a warehouse has no staged files left (`.migstat/staging/` empty or absent).
pub fn no_staging(wh: &Path) -> bool {
    std::fs::read_dir(wh.join(".migstat/staging")).map_or(true, |mut d| d.next().is_none())
}

/// Every file under a warehouse with its bytes, but for the top-level folders in `skip` (e.g.
/// `runs`, `.migstat`).
pub fn snapshot_without(wh: &Path, skip: &[&str]) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![wh.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(wh).expect("prefix").to_path_buf();
            if skip.iter().any(|s| rel.starts_with(s)) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// A small StatCan-shaped survey pipeline in `dir/name/`: the first `rows` persons of the
/// StatCan month, changed by `edit`, under its own id `name` and source `BA:<NAME>`.
pub fn small_survey(
    dir: &Path,
    name: &str,
    rows: usize,
    edit: &dyn Fn(String) -> String,
) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("dir");
    let csv = d.join("pub.csv");
    std::fs::write(&csv, edit(statcan_head(rows))).expect("csv");
    let p = pipeline_for(&d, &csv, "");
    let t = std::fs::read_to_string(&p)
        .expect("pipeline")
        .replace("id = \"can_lfs_pumf\"", &format!("id = \"{name}\""))
        .replace(
            "source = \"BA:CAN_LFS_PUMF\"",
            &format!("source = \"BA:{}\"", name.to_uppercase()),
        );
    std::fs::write(&p, t).expect("pipeline");
    p
}

/// A finished command's exit code, stdout and stderr, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
