//! Golden files: for each shipped pipeline, one period's SEX × AGE_YTHADULT × CBR slice of every
//! indicator in full, plus per-indicator row counts and sums over all periods. They are computed
//! by the code, written with `MIGSTAT_BLESS=1`, and reviewed as text diffs.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::common::{parquet_files, read_observations, repo, run_into, Obs};

fn in_slice(o: &Obs) -> bool {
    let c1_ok = match &o.classif1 {
        None => true,
        Some(c) if c.starts_with("AGE_") => c.starts_with("AGE_YTHADULT_"),
        Some(c) => c.ends_with("_TOTAL"),
    };
    let c2_ok = o
        .classif2
        .as_deref()
        .is_none_or(|c| c.starts_with("CBR_BIR_"));
    c1_ok && c2_ok && !o.indicator.contains("_CCT_")
}

fn num(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

fn render(obs: &[Obs], period: &str) -> String {
    let mut slice: Vec<&Obs> = obs
        .iter()
        .filter(|o| o.time == period && in_slice(o))
        .collect();
    slice.sort_by(|a, b| {
        (&a.indicator, &a.sex, &a.classif1, &a.classif2).cmp(&(
            &b.indicator,
            &b.sex,
            &b.classif1,
            &b.classif2,
        ))
    });
    let mut s = format!(
        "# period {period}: SEX x AGE_YTHADULT x CBR slice (other breakdowns at their total)\n"
    );
    s.push_str("indicator,sex,classif1,classif2,obs_value,obs_status,sample_count,se\n");
    for o in slice {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{}",
            o.indicator,
            o.sex,
            o.classif1.as_deref().unwrap_or(""),
            o.classif2.as_deref().unwrap_or(""),
            num(o.obs_value),
            o.obs_status.as_deref().unwrap_or(""),
            o.sample_count,
            num(o.se)
        );
    }
    let mut per: BTreeMap<&str, (usize, f64, i64)> = BTreeMap::new();
    let mut sorted: Vec<&Obs> = obs.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.indicator, &a.time, &a.sex, &a.classif1, &a.classif2).cmp(&(
            &b.indicator,
            &b.time,
            &b.sex,
            &b.classif1,
            &b.classif2,
        ))
    });
    for o in sorted {
        let e = per.entry(&o.indicator).or_default();
        e.0 += 1;
        e.1 += o.obs_value.unwrap_or(0.0);
        e.2 += o.sample_count;
    }
    s.push_str("# all periods: rows, sum of obs_value, sum of sample_count per indicator\n");
    s.push_str("indicator,rows,sum_obs_value,sum_sample_count\n");
    for (ind, (n, v, c)) in per {
        let _ = writeln!(s, "{ind},{n},{v:.6},{c}");
    }
    s
}

fn check(pipeline: &str, period: &str) {
    let name = pipeline.trim_end_matches(".toml");
    let wh = run_into(
        &format!("golden-{name}"),
        &[&format!("pipelines/{pipeline}")],
    );
    let obs: Vec<Obs> = parquet_files(&wh.join("observations"))
        .iter()
        .flat_map(|f| read_observations(f))
        .collect();
    assert!(!obs.is_empty(), "{pipeline}: no observations");
    let text = render(&obs, period);
    let path = repo().join("tests/golden").join(format!("{name}.csv"));
    if std::env::var_os("MIGSTAT_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run MIGSTAT_BLESS=1 cargo test golden",
            path.display()
        )
    });
    if want != text {
        let diff: Vec<String> = want
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "{} differs from the computed output ({} vs {} lines); first differences:\n{}\nReview, then re-bless with MIGSTAT_BLESS=1.",
            path.display(),
            want.lines().count(),
            text.lines().count(),
            diff.join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(wh);
}

#[test]
fn golden_statcan_pumf() {
    check("can_lfs_pumf.toml", "2024M01");
}

#[test]
fn golden_eu_lfs_france() {
    check("fra_eu_lfs_puf.toml", "2013Q4");
}

#[test]
fn golden_synthetic_armenia() {
    check("arm_lfs_synth.toml", "2023Q4");
}

#[test]
fn golden_synthetic_egypt() {
    check("egy_lfs_synth.toml", "2023Q2");
}

#[test]
fn golden_synthetic_ecuador() {
    check("ecu_lfs_synth.toml", "2023Q3");
}

#[test]
fn golden_synthetic_thailand() {
    check("tha_lfs_synth.toml", "2024Q1");
}
