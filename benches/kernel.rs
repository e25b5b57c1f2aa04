//! Benchmark of the indicator cube: synthetic Thai LFS (`migstat synth`), 200 strata × 10 PSUs,
//! 80 replicate weights, the full catalogue with Taylor and with replicate SEs, on 1 and on all
//! threads. Sizes: `MIGSTAT_BENCH_PERSONS` (comma-separated, default `1000000`).
//! Run with `make bench` (release build). Prints wall times, rows/s and peak memory.
use std::path::{Path, PathBuf};
use std::time::Instant;

use migstat::estimate::indicators::estimate_frame;
use migstat::normalize::{normalize, RecordSpec};
use migstat::pipeline::load_pipeline;
use migstat::synth::{CountryArg, Format, SynthArgs};

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|k| k / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A copy of the Thai pipeline reading the generated files, with the given variance method.
fn pipeline(dir: &Path, variance: &str, reps: usize) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(repo.join("pipelines/tha_lfs_synth.toml")).expect("pipeline");
    let text = text
        .replace("../sample_data/synth/", &format!("{}/", dir.display()))
        .replace("scale = 0.05", &format!("scale = {}", 1.0 / reps as f64))
        .replace("replicate_count = 20", &format!("replicate_count = {reps}"))
        .replace(
            "variance = \"taylor\"",
            &format!("variance = \"{variance}\""),
        );
    let p = dir.join(format!("tha_{variance}.toml"));
    std::fs::write(&p, text).expect("write pipeline");
    p
}

fn main() {
    let sizes: Vec<usize> = std::env::var("MIGSTAT_BENCH_PERSONS")
        .unwrap_or_else(|_| "1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let threads = rayon::current_num_threads();
    println!("kernel benchmark: THA synthetic LFS, 200 strata x 10 PSUs, 80 replicates, {threads} threads available");
    println!(
        "{:>9} {:>10} {:>8} {:>12} {:>12} {:>14} {:>10}",
        "persons", "variance", "threads", "normalise s", "cube s", "cube rows/s", "peak MiB"
    );
    for n in sizes {
        let dir = std::env::temp_dir().join(format!("migstat-bench-{n}"));
        if !dir.join("tha_lfs_synth_persons.csv").is_file() {
            let args = SynthArgs {
                parts: None,
                country: CountryArg::Tha,
                persons: n as u64,
                seed: 1,
                out: dir.clone(),
                strata: Some(200),
                psus_per_stratum: 10,
                replicates: Some(80),
                format: Format::Csv,
            };
            migstat::synth::run(&args, &mut std::io::sink()).expect("synth");
        }
        for variance in ["taylor", "replicate"] {
            let p = pipeline(&dir, variance, 80);
            let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
            let (pl, schema) = load_pipeline(&p, Some(&schemas)).expect("pipeline");
            let t0 = Instant::now();
            let norm = normalize(&pl, &schema, &RecordSpec::person(&pl, &schema), None, 10)
                .expect("normalise");
            let t_norm = t0.elapsed().as_secs_f64();
            for t in [1, threads] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .expect("pool");
                let t1 = Instant::now();
                let cube = pool
                    .install(|| estimate_frame(&norm.frame, &pl, &pl.design, &schema, None, None))
                    .expect("cube");
                let secs = t1.elapsed().as_secs_f64();
                assert!(!cube.observations.is_empty());
                println!(
                    "{:>9} {:>10} {:>8} {:>12.2} {:>12.3} {:>14.0} {:>10.0}",
                    norm.frame.len(),
                    variance,
                    t,
                    t_norm,
                    secs,
                    norm.frame.len() as f64 / secs,
                    peak_rss_mib()
                );
            }
        }
    }
}
