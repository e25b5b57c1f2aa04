//! A mutation fuzzer on the stable toolchain: seed files of every reader (CSV, `.csv.gz`, zip,
//! SPSS, Stata, XLSX, Parquet, the World Bank's `.xls`, CSV and `.xlsx`, pipeline TOML) are
//! mutated deterministically from a case seed (bit flips, truncation, insertions, huge length
//! fields, invalid UTF-8, long cells, repeated chunks, decompression bombs) and handed to the real
//! binary (`migstat validate PIPELINE --input FILE`, `migstat check FILE`) under a time and a
//! virtual-memory limit. A case fails on a panic, a signal (abort, out of memory), a timeout or
//! an exit code other than 0, 1 and 2; the failing case seed is printed with the command that
//! replays it.
//!
//! `cargo test fuzz` runs a short round (`FUZZ_CASES`, default 480 in all); `make fuzz
//! FUZZ_CASES=N` runs more; `FUZZ_SEED=S` changes the round's base seed and `FUZZ_ONLY=SEED`
//! replays one case.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::common::{repo, temp_dir};
use super::estimate_props::Rng;

/// Seconds one case may take (a debug build, two cores shared).
const CASE_SECS: u64 = 30;
/// Virtual memory of one case, KiB (the debug binary maps about 1 GB by itself).
const MEMORY_KIB: u64 = 3_000_000;

/// `migstat estimate` of the Thai seeds: Taylor (CSV) and streamed replicate weights (Parquet).
const TAYLOR: &[&str] = &[
    "--weight", "WEIGHT", "--strata", "STRATUM", "--psu", "EA", "--nest", "--total", "AGE", "--by",
    "SEX",
];
const REPLICATES: &[&str] = &[
    "--weight",
    "WEIGHT",
    "--replicates",
    "REPWT*",
    "--method",
    "bootstrap",
    "--total",
    "AGE",
    "--by",
    "SEX",
];

/// How a mutated file is handed to the binary.
#[derive(Clone)]
enum Run {
    /// `migstat validate PIPELINE --input FILE`.
    Validate(PathBuf),
    /// `migstat check FILE`.
    Check,
    /// `migstat estimate FILE ARGS…`.
    Estimate(&'static [&'static str]),
}

/// One reader under test: its seed file, the extension mutants keep, and the command.
#[derive(Clone)]
struct Reader {
    name: &'static str,
    seed: PathBuf,
    ext: &'static str,
    run: Run,
    /// Compressed container whose inner CSV may be mutated and packed again.
    inner: Option<PathBuf>,
}

/// A number below `n` (0 when `n` is 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        rng.below(n as u64) as usize
    }
}

/// Mutates `data` in place with one to three mutations.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..1 + below(rng, 3) {
        let at = below(rng, data.len() + 1);
        match below(rng, 9) {
            0 => {
                for _ in 0..1 + below(rng, 8) {
                    if !data.is_empty() {
                        let i = below(rng, data.len());
                        data[i] ^= 1 << below(rng, 8);
                    }
                }
            }
            1 => data.truncate(at),
            2 => {
                let bytes: Vec<u8> = (0..1 + below(rng, 64)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            3 => {
                // A huge length field: 0xFFFFFFFF or 0x7FFFFFFF over four bytes.
                let v: [u8; 4] = if below(rng, 2) == 0 {
                    [0xFF; 4]
                } else {
                    [0xFF, 0xFF, 0xFF, 0x7F]
                };
                for (k, b) in v.iter().enumerate() {
                    if let Some(x) = data.get_mut(at + k) {
                        *x = *b;
                    }
                }
            }
            4 => {
                data.splice(at..at, [0xC3, 0x28, 0xFF, 0xFE, 0x80]);
            }
            5 => {
                let cell = vec![b'x'; 1 << (10 + below(rng, 8))];
                data.splice(at..at, cell);
            }
            6 => {
                let end = (at + 1 + below(rng, 200)).min(data.len());
                let chunk = data[at.min(end)..end].to_vec();
                let times = 1 + below(rng, 2000);
                let copies: Vec<u8> = chunk.repeat(times);
                data.splice(at..at, copies);
            }
            7 => {
                // Digits: a number (a cell reference, a count) grows by up to 12 digits.
                let nines = vec![b'9'; 1 + below(rng, 12)];
                data.splice(at..at, nines);
            }
            _ => {
                data.splice(at..at, *b"\r\n\",;\t\"\n\0");
            }
        }
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

pub(crate) fn zip_of(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(bytes.len() > u32::MAX as usize / 2);
    z.start_file(name, opts).expect("zip member");
    z.write_all(bytes).expect("zip write");
    z.finish().expect("zip").into_inner()
}

/// A decompression bomb for the container `ext`: 100 MB of newlines or of NUL bytes.
fn bomb(rng: &mut Rng, ext: &str) -> Vec<u8> {
    static BOMBS: OnceLock<[(Vec<u8>, Vec<u8>); 2]> = OnceLock::new();
    let bombs = BOMBS.get_or_init(|| {
        let make = |b: u8| {
            let mut body = b"a,b\n".to_vec();
            body.resize(100_000_000, b);
            (gzip(&body), zip_of("persons.csv", &body))
        };
        [make(b'\n'), make(0)]
    });
    let (gz, zip) = &bombs[below(rng, 2)];
    if ext == "zip" {
        zip.clone()
    } else {
        gz.clone()
    }
}

/// The bytes of case `seed` for `reader`.
fn mutant(reader: &Reader, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let packed = matches!(reader.ext, "gz" | "zip");
    if packed && below(&mut rng, 8) == 0 {
        return bomb(&mut rng, reader.ext);
    }
    if let (Some(inner), true) = (&reader.inner, below(&mut rng, 2) == 0) {
        let mut text = std::fs::read(inner).expect("inner seed");
        mutate(&mut rng, &mut text);
        return match reader.ext {
            "zip" => zip_of("persons.csv", &text),
            _ => gzip(&text),
        };
    }
    let mut data = std::fs::read(&reader.seed).expect("seed file");
    if reader.ext == "xlsx" && below(&mut rng, 2) == 0 {
        if let Some(repacked) = mutate_member(&mut rng, &data) {
            return repacked;
        }
    }
    mutate(&mut rng, &mut data);
    data
}

/// An `.xlsx` with one of its members (a worksheet when there are any) mutated and packed again.
fn mutate_member(rng: &mut Rng, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let names: Vec<String> = zin
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .collect();
    let sheets: Vec<&String> = names.iter().filter(|n| n.contains("worksheets/")).collect();
    let pool = if sheets.is_empty() {
        names.iter().collect()
    } else {
        sheets
    };
    let target = pool.get(below(rng, pool.len()))?.to_string();
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in &names {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut zin.by_name(name).ok()?, &mut data).ok()?;
        if *name == target {
            mutate(rng, &mut data);
        }
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .ok()?;
        z.write_all(&data).ok()?;
    }
    Some(z.finish().ok()?.into_inner())
}

/// The seed files and pipelines, made once per test process.
fn readers() -> &'static Vec<Reader> {
    static READERS: OnceLock<Vec<Reader>> = OnceLock::new();
    READERS.get_or_init(make_readers)
}

pub(crate) fn synth(dir: &Path, country: &str, format: &str) -> PathBuf {
    let out = dir.join(format);
    let status = Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args([
            "synth",
            "--country",
            country,
            "--persons",
            "120",
            "--seed",
            "7",
        ])
        .args(["--format", format, "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("synth");
    assert!(status.success(), "synth {country} {format}");
    let ext = if format == "stata" { "dta" } else { format };
    let name = format!("{}_lfs_synth_persons.{ext}", country.to_lowercase());
    out.join(name)
}

/// A copy of shipped pipeline `name` in `dir`, its relative paths made absolute and its
/// person input of type `kind`.
pub(crate) fn pipeline_copy(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines").join(name)).expect("pipeline");
    let data = repo().join("sample_data");
    let text = text.replace("\"../sample_data", &format!("\"{}", data.display()));
    let text = text.replacen("type = \"csv\"", &format!("type = \"{kind}\""), 1);
    let text = match kind {
        "csv" => text,
        _ => text
            .replacen("encoding = \"utf-8\"\n", "", 1)
            .replacen("delimiter = \",\"\n", "", 1),
    };
    let path = dir.join(format!("{kind}-{name}"));
    std::fs::write(&path, text).expect("write pipeline");
    path
}

fn make_readers() -> Vec<Reader> {
    let dir = crate::common::lasting_dir("fuzz-seeds");
    let csv = synth(&dir, "THA", "csv");
    let text = std::fs::read(&csv).expect("csv");
    let (gz, zip) = (dir.join("persons.csv.gz"), dir.join("persons.zip"));
    std::fs::write(&gz, gzip(&text)).expect("gz");
    std::fs::write(&zip, zip_of("persons.csv", &text)).expect("zip");
    let tha = pipeline_copy(&dir, "tha_lfs_synth.toml", "csv");
    let wb = |f: &str| repo().join("sample_data/worldbank").join(f);
    let shipped = |n: &str| repo().join("pipelines").join(n);
    let reader = |name, seed: PathBuf, ext, run| Reader {
        name,
        seed,
        ext,
        run,
        inner: None,
    };
    let v = |p: PathBuf| Run::Validate(p);
    let packed = |name, seed, ext| Reader {
        inner: Some(csv.clone()),
        ..reader(name, seed, ext, v(tha.clone()))
    };
    let synth_as = |country, format, kind, pipeline| {
        let seed = synth(&dir, country, format);
        (seed, v(pipeline_copy(&dir, pipeline, kind)))
    };
    let arm = "arm_lfs_synth.toml";
    let (sav, sav_run) = synth_as("ARM", "sav", "spss", arm);
    let (dta, dta_run) = synth_as("EGY", "dta", "stata", "egy_lfs_synth.toml");
    let (xlsx, xlsx_run) = synth_as("THA", "xlsx", "excel", "tha_lfs_synth.toml");
    let (pq, pq_run) = synth_as("THA", "parquet", "parquet", "tha_lfs_synth.toml");
    let pq_seed = pq.clone();
    let wdi_xls = wb("API_BX.TRF.PWKR.CD.DT_DS2_en_excel_v2_6000901.xls");
    let wdi_csv = wb("API_BM.TRF.PWKR.CD.DT_DS2_en_csv_v2_3012027.csv");
    let matrix = wb("WB_Bilateral_Remittance_Estimates_2017.xlsx");
    vec![
        reader("csv", csv.clone(), "csv", v(tha.clone())),
        packed("csv.gz", gz, "gz"),
        packed("zip", zip, "zip"),
        reader("spss", sav, "sav", sav_run),
        reader("stata", dta, "dta", dta_run),
        reader("xlsx", xlsx, "xlsx", xlsx_run),
        reader("parquet", pq, "parquet", pq_run),
        reader(
            "wdi_xls",
            wdi_xls,
            "xls",
            v(shipped("wb_remittances_received.toml")),
        ),
        reader(
            "wdi_csv",
            wdi_csv,
            "csv",
            v(shipped("wb_remittances_paid.toml")),
        ),
        reader(
            "matrix_xlsx",
            matrix,
            "xlsx",
            v(shipped("wb_bilateral_remittances.toml")),
        ),
        reader("pipeline_toml", tha.clone(), "toml", Run::Check),
        reader("estimate_csv", csv.clone(), "csv", Run::Estimate(TAYLOR)),
        reader(
            "estimate_parquet",
            pq_seed,
            "parquet",
            Run::Estimate(REPLICATES),
        ),
        reader(
            "pipeline_toml_spss",
            pipeline_copy(&dir, arm, "spss"),
            "toml",
            Run::Check,
        ),
    ]
}

/// What went wrong with one case, if anything.
fn verdict(code: Option<i32>, stderr: &str, took: Duration) -> Option<String> {
    if took >= Duration::from_secs(CASE_SECS) {
        return Some(format!("timeout after {CASE_SECS} s"));
    }
    if stderr.contains("panicked") {
        return Some("panic".into());
    }
    match code {
        None => Some("killed by a signal (abort or memory limit)".into()),
        Some(0..=2) => None,
        Some(101) => Some("panic (exit 101)".into()),
        Some(c) => Some(format!("exit code {c}")),
    }
}

/// How one run of the binary ended: exit code (`None`: a signal or the timeout), the start of
/// its stderr, and how long it took.
struct Ended {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Runs the binary on `file` as `reader` says, under the time and memory limits.
fn run_file(reader: &Reader, file: &Path, dir: &Path) -> std::io::Result<Ended> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_migstat"));
    match &reader.run {
        Run::Validate(p) => cmd.arg("validate").arg(p).arg("--input").arg(file),
        Run::Check => cmd.arg("check").arg(file),
        Run::Estimate(args) => cmd.arg("estimate").arg(file).args(*args),
    };
    cmd.current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let mut stderr = child.stderr.take().expect("stderr");
    let reading = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut stderr, 1 << 20), &mut s);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if started.elapsed() >= Duration::from_secs(CASE_SECS) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&reading.join().unwrap_or_default()).into_owned();
    let code = status.and_then(|s| s.code());
    Ok(Ended { code, stderr, took })
}

/// Runs case `seed` of `reader`; `Err` describes a failure.
fn run_case(reader: &Reader, seed: u64, dir: &Path) -> Result<(), String> {
    let file = dir.join(format!("case-{seed:016x}.{}", reader.ext));
    std::fs::write(&file, mutant(reader, seed)).map_err(|e| e.to_string())?;
    let ended = run_file(reader, &file, dir).map_err(|e| e.to_string())?;
    let Some(why) = verdict(ended.code, &ended.stderr, ended.took) else {
        let _ = std::fs::remove_file(&file);
        return Ok(());
    };
    let tail: String = ended.stderr.chars().take(600).collect();
    Err(format!(
        "{}: case seed {seed:#018x}: {why}\n  replay: FUZZ_ONLY={seed:#x} cargo test --locked --test it fuzz -- --nocapture\n  file kept: {}\n  stderr: {tail}",
        reader.name,
        file.display()
    ))
}

#[test]
fn fuzz_seed_files_are_read_cleanly() {
    // A seed its reader cannot read would make every case a cheap refusal.
    let dir = temp_dir("fuzz-clean");
    for reader in readers() {
        let ended = run_file(reader, &reader.seed, &dir).expect("run");
        assert_eq!(ended.code, Some(0), "{}: {}", reader.name, ended.stderr);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Case `i` of a round: which reader and which seed.
fn case(base: u64, i: u64) -> (usize, u64) {
    let seed = Rng(base ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D)).next();
    (i as usize % readers().len(), seed)
}

#[test]
fn mutated_inputs_never_crash_hang_or_exhaust_memory() {
    let readers = readers();
    let dir = temp_dir("fuzz-cases");
    let cases: Vec<(usize, u64)> = match env_u64("FUZZ_ONLY") {
        Some(seed) => (0..readers.len()).map(|r| (r, seed)).collect(),
        None => {
            let base = env_u64("FUZZ_SEED").unwrap_or(0x5EED_2026);
            let n = env_u64("FUZZ_CASES").unwrap_or(480);
            (0..n).map(|i| case(base, i)).collect()
        }
    };
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let results: Vec<(usize, Result<(), String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (cases, dir) = (&cases, &dir);
                s.spawn(move || {
                    cases
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|&(r, seed)| (r, run_case(&readers[r], seed, dir)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("fuzz worker"))
            .collect()
    });
    let mut per_reader = vec![0u64; readers.len()];
    let mut failures = Vec::new();
    for (r, res) in results {
        per_reader[r] += 1;
        if let Err(e) = res {
            failures.push(e);
        }
    }
    eprintln!(
        "fuzz: {} cases in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    for (reader, n) in readers.iter().zip(&per_reader) {
        eprintln!("  {:<20} {n}", reader.name);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
