//! The cube's standard errors against the generic estimator (`migstat estimate`, itself checked
//! against R `survey`): the same synthetic upload, read once through the pipeline (recode, cube,
//! warehouse) and once raw, with the unemployed and the labour force derived directly from the
//! survey's own codes. Taylor (Egypt) and replicate weights (Armenia).
use std::collections::BTreeMap;

use crate::common::{migstat, parquet_files, read_observations, repo, run_into, temp_dir};

struct Case {
    pipeline: &'static str,
    file: &'static str,
    lfs: &'static str,
    employed: &'static [&'static str],
    unemployed: &'static [&'static str],
    by: &'static str,
    sex: &'static [(&'static str, &'static str)],
    design: &'static [&'static str],
}

/// Copies the raw upload adding `lf` and `une` (0/1) from the survey's labour-force codes.
fn derive(case: &Case, out: &std::path::Path) {
    let mut rdr =
        csv::Reader::from_path(repo().join("sample_data/synth").join(case.file)).expect("raw file");
    let h = rdr.headers().expect("header").clone();
    let col = h.iter().position(|c| c == case.lfs).expect("lfs column");
    let mut w = csv::Writer::from_path(out).expect("derived file");
    let mut header: Vec<String> = h.iter().map(String::from).collect();
    header.extend(["lf".into(), "une".into()]);
    w.write_record(&header).expect("write");
    for r in rdr.records() {
        let r = r.expect("row");
        let v = r[col].trim();
        let une = case.unemployed.contains(&v);
        let lf = une || case.employed.contains(&v);
        let mut row: Vec<String> = r.iter().map(String::from).collect();
        row.extend([(lf as u8).to_string(), (une as u8).to_string()]);
        w.write_record(&row).expect("write");
    }
    w.flush().expect("flush");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

fn check(case: &Case) {
    let wh = run_into(
        &format!("cross-{}", case.pipeline),
        &[&format!("pipelines/{}", case.pipeline)],
    );
    let obs: Vec<_> = parquet_files(&wh.join("observations"))
        .iter()
        .flat_map(|f| read_observations(f))
        .collect();
    let dir = temp_dir(&format!("cross-raw-{}", case.pipeline));
    let derived = dir.join("derived.csv");
    derive(case, &derived);
    let mut args = vec!["estimate", derived.to_str().unwrap()];
    args.extend_from_slice(case.design);
    args.extend([
        "--total", "une", "--ratio", "une/lf", "--by", case.by, "--format", "csv",
    ]);
    let out = migstat(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().expect("header").clone();
    let at = |n: &str| h.iter().position(|c| c == n).expect(n);
    let by: Vec<&str> = case.by.split(',').collect();
    let sex_map: BTreeMap<&str, &str> = case.sex.iter().copied().collect();
    let mut compared = 0;
    for r in rdr.records() {
        let r = r.expect("row");
        let quarter = r[at(by[1])].trim_start_matches('Q').to_string();
        let time = format!("{}Q{}", &r[at(by[0])], quarter);
        let sex = sex_map[&r[at(by[2])]];
        let (code, factor) = match &r[at("statistic")] {
            "total:une" => ("MST_TUNE_SEX_AGE_CBR_NB", 1000.0),
            "ratio:une/lf" => ("MST_TUNE_SEX_AGE_CBR_RT", 0.01),
            other => panic!("unexpected statistic {other}"),
        };
        let o = obs
            .iter()
            .find(|o| {
                o.indicator == code
                    && o.time == time
                    && o.sex == sex
                    && o.classif1.as_deref() == Some("AGE_YTHADULT_YGE15")
                    && o.classif2.as_deref() == Some("CBR_BIR_TOTAL")
            })
            .unwrap_or_else(|| panic!("{code} {time} {sex} missing"));
        let est: f64 = r[at("estimate")].parse().expect("estimate");
        let se: f64 = r[at("se")].parse().expect("se");
        let (ce, cs) = (
            o.obs_value.expect("value") * factor,
            o.se.expect("se") * factor,
        );
        assert!(
            close(est, ce),
            "{code} {time} {sex}: estimate {est} vs cube {ce}"
        );
        assert!(close(se, cs), "{code} {time} {sex}: se {se} vs cube {cs}");
        compared += 1;
    }
    assert_eq!(
        compared, 8,
        "{}: 2 quarters x 2 sexes x 2 statistics",
        case.pipeline
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(wh);
}

#[test]
fn cube_taylor_ses_equal_the_generic_estimator() {
    check(&Case {
        pipeline: "egy_lfs_synth.toml",
        file: "egy_lfs_synth_persons.csv",
        lfs: "wrk_stat",
        employed: &["1", "2"],
        unemployed: &["3"],
        by: "svy_year,svy_qtr,gender",
        sex: &[("M", "SEX_M"), ("F", "SEX_F")],
        design: &[
            "--weight",
            "expansion_factor",
            "--strata",
            "gov_strat",
            "--psu",
            "cluster",
            "--nest",
            "--lonely-psu",
            "certainty",
        ],
    });
}

#[test]
fn cube_replicate_ses_equal_the_generic_estimator() {
    check(&Case {
        pipeline: "arm_lfs_synth.toml",
        file: "arm_lfs_synth_persons.csv",
        lfs: "lfstat",
        employed: &["1"],
        unemployed: &["2"],
        by: "year,quarter,sex",
        sex: &[("1", "SEX_M"), ("2", "SEX_F")],
        design: &[
            "--weight",
            "wgt",
            "--replicates",
            "rw*",
            "--method",
            "bootstrap",
            "--scale",
            "0.05",
            "--mse",
        ],
    });
}
