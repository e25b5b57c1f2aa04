//! The same reference designs through the library API the cube kernel uses: `PsuLayout` +
//! `taylor_variance` on PSU totals, `ReplicateSpec` + `replicate_variance` on replicate
//! estimates, and `generic::estimate_file` without the command line.

use std::collections::HashMap;

use migstat::estimate::generic::design::{DesignSpec, WeightSource};
use migstat::estimate::generic::targets::Statistic;
use migstat::estimate::generic::{estimate_file, Request};
use migstat::estimate::replicate::read_scale_rscales;
use migstat::estimate::variance::{
    replicate_variance, t_quantile_975, taylor_variance, LonelyPsu, PsuLayout, ReplicateMethod,
    ReplicateSpec,
};

use super::{data, data_dir, run_csv};

/// Columns of a reference CSV by name, numbers parsed (empty → NaN), labels kept.
struct Frame {
    columns: HashMap<String, Vec<String>>,
}

impl Frame {
    fn read(file: &str) -> Self {
        let mut rdr = csv::Reader::from_path(data_dir().join(file)).expect("data file");
        let names: Vec<String> = rdr
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let mut columns: HashMap<String, Vec<String>> = HashMap::new();
        for r in rdr.records() {
            let r = r.expect("row");
            for (n, v) in names.iter().zip(r.iter()) {
                columns.entry(n.clone()).or_default().push(v.to_string());
            }
        }
        Self { columns }
    }

    fn text(&self, name: &str) -> &[String] {
        &self.columns[name]
    }

    fn num(&self, name: &str) -> Vec<f64> {
        self.text(name)
            .iter()
            .map(|s| s.parse().unwrap_or(f64::NAN))
            .collect()
    }
}

/// Dense ids in first-appearance order.
fn ids(labels: &[String]) -> (Vec<u32>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let codes = labels
        .iter()
        .map(|l| match names.iter().position(|n| n == l) {
            Some(i) => i as u32,
            None => {
                names.push(l.clone());
                (names.len() - 1) as u32
            }
        })
        .collect();
    (codes, names)
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn stratified_total_from_psu_totals() {
    let f = Frame::read("apistrat.csv");
    let (stratum, names) = ids(f.text("stype"));
    let (w, y, fpc) = (f.num("pw"), f.num("enroll"), f.num("fpc"));
    let mut n_h = vec![0.0; names.len()];
    let mut pop = vec![0.0; names.len()];
    for (i, &h) in stratum.iter().enumerate() {
        n_h[h as usize] += 1.0;
        pop[h as usize] = fpc[i];
    }
    let layout = PsuLayout {
        psu_stratum: stratum.clone(),
        n_strata: names.len(),
        stratum_fraction: n_h.iter().zip(&pop).map(|(n, p)| n / p).collect(),
        lonely: LonelyPsu::Fail,
        stratum_names: names,
    };
    layout.check_lonely().expect("no lonely PSU");
    let t: Vec<f64> = w.iter().zip(&y).map(|(w, y)| w * y).collect();
    let se = taylor_variance(&layout, &t).sqrt();
    assert!(rel(se, 114641.7161) < 1e-9, "{se}");
    assert_eq!(layout.design_df(), 197.0);
}

/// First-stage layout of `apipop_stratclus_lonely.csv` (districts nested in `stype`) and the
/// PSU of each row.
fn stratclus_lonely_layout(f: &Frame) -> (PsuLayout, Vec<u32>) {
    let (stratum, names) = ids(f.text("stype"));
    let keys: Vec<String> = f
        .text("stype")
        .iter()
        .zip(f.text("dnum"))
        .map(|(s, d)| format!("{s}/{d}"))
        .collect();
    let (psu, _) = ids(&keys);
    let n_psu = psu.iter().max().map_or(0, |&m| m as usize + 1);
    let mut psu_stratum = vec![0u32; n_psu];
    psu.iter()
        .zip(&stratum)
        .for_each(|(&p, &h)| psu_stratum[p as usize] = h);
    let layout = PsuLayout {
        psu_stratum,
        n_strata: names.len(),
        stratum_fraction: vec![0.0; names.len()],
        lonely: LonelyPsu::Fail,
        stratum_names: names,
    };
    (layout, psu)
}

#[test]
fn cluster_mean_from_psu_scores_and_lonely_average() {
    let f = Frame::read("apipop_stratclus_lonely.csv");
    let (mut layout, psu) = stratclus_lonely_layout(&f);
    let msg = layout.check_lonely().expect_err("H is lonely").to_string();
    assert!(msg.contains("stratum `H`"), "{msg}");
    let (w, hi, enroll) = (f.num("pw"), f.num("hi"), f.num("enroll"));
    let sw: f64 = w.iter().sum();
    let mean = w.iter().zip(&hi).map(|(w, y)| w * y).sum::<f64>() / sw;
    let mut t_mean = vec![0.0; layout.n_psu()];
    let mut t_total = vec![0.0; layout.n_psu()];
    for i in 0..w.len() {
        t_mean[psu[i] as usize] += w[i] * (hi[i] - mean) / sw;
        t_total[psu[i] as usize] += w[i] * enroll[i];
    }
    let cases = [
        (LonelyPsu::Remove, 0.0778751955152884, 542172.635346278),
        (LonelyPsu::Average, 0.0953772463159667, 664023.154549216),
    ];
    let se = |l: &PsuLayout, t: &[f64]| taylor_variance(l, t).sqrt();
    for (rule, se_mean, se_total) in cases {
        layout.lonely = rule;
        assert!(rel(se(&layout, &t_mean), se_mean) < 1e-12, "{rule}");
        assert!(rel(se(&layout, &t_total), se_total) < 1e-12, "{rule}");
    }
    layout.lonely = LonelyPsu::Adjust;
    assert!(rel(se(&layout, &t_mean), 0.0779293645013216) < 1e-12);
}

#[test]
fn jackknife_and_brr_from_replicate_estimates() {
    let f = Frame::read("apiclus1_jk1_repweights.csv");
    let y = f.num("enroll");
    let total = |w: &[f64]| w.iter().zip(&y).map(|(w, y)| w * y).sum::<f64>();
    let reps: Vec<f64> = (1..=15).map(|r| total(&f.num(&format!("JK{r}")))).collect();
    let (scale, rscales) =
        read_scale_rscales(&data_dir().join("apiclus1_jk1_scale_rscales.txt")).expect("file");
    let spec = ReplicateSpec::new(
        ReplicateMethod::Jk1,
        15,
        None,
        Some(scale),
        Some(rscales),
        false,
    )
    .expect("spec");
    let se = replicate_variance(&spec, total(&f.num("pw")), &reps).sqrt();
    assert!(rel(se, 932235.027041215) < 1e-12, "{se}");

    let scd = Frame::read("scd_brr_repweights.csv");
    let arrests = scd.num("arrests");
    let mean = |w: &[f64]| {
        let (sw, swy) = w
            .iter()
            .zip(&arrests)
            .fold((0.0, 0.0), |(a, b), (w, y)| (a + w, b + w * y));
        swy / sw
    };
    let reps: Vec<f64> = (1..=4).map(|r| mean(&scd.num(&format!("H{r}")))).collect();
    let spec = ReplicateSpec::new(ReplicateMethod::Brr, 4, None, None, None, false).expect("spec");
    let se = replicate_variance(&spec, mean(&[1.0; 6]), &reps).sqrt();
    assert!(rel(se, 25.39302179) < 1e-9, "{se}");
}

#[test]
fn generic_estimate_without_the_command_line() {
    let request = Request {
        design: DesignSpec {
            weight: WeightSource::Column("pw".into()),
            strata: None,
            psu: vec!["dnum".into(), "snum".into()],
            nest: false,
            fpc: vec!["fpc1".into(), "fpc2".into()],
            lonely: LonelyPsu::Fail,
            replicates: None,
        },
        statistics: vec![
            Statistic::Total("enroll".into()),
            Statistic::Mean("api00".into()),
        ],
        by: vec![],
        reading: Default::default(),
    };
    let out = estimate_file(&data_dir().join("apiclus2.csv"), &request).expect("estimate");
    assert!(out.warnings.is_empty());
    assert!(rel(out.rows[0].se.expect("se"), 799637.7736) < 1e-9);
    assert!(rel(out.rows[1].se.expect("se"), 30.09902738) < 1e-9);
    // 6 of 126 schools have no enrolment: they stay in the design but do not count.
    assert_eq!((out.rows[0].n, out.rows[1].n), (120, 126));
    // 95 % bounds use Student t on #PSUs − #strata = 40 − 1.
    let r = &out.rows[1];
    let (est, se) = (r.estimate.expect("estimate"), r.se.expect("se"));
    assert_eq!(r.df, 39.0);
    let lower = r.lower.expect("lower");
    assert!((lower - (est - t_quantile_975(39.0) * se)).abs() < 1e-9);
}

/// SE of the first statistic of `file` with `flags` (whitespace-separated) and `extra`.
fn se_of(file: &str, flags: &str, extra: &[&str]) -> f64 {
    let mut a = vec![data(file)];
    a.extend(flags.split_whitespace().map(String::from));
    a.extend(extra.iter().map(|s| s.to_string()));
    run_csv(&a)[0].se.expect("se")
}

#[test]
fn fay_default_scale_is_the_shipped_one() {
    let flags = "--weight pw --replicates F* --method fay --rho 0.3 --mean hi";
    let file = "stratclus_fay03_repweights.csv";
    let scale = format!("@{}", data("stratclus_fay03_scale.txt"));
    assert!(
        rel(
            se_of(file, flags, &[]),
            se_of(file, flags, &["--scale", &scale])
        ) < 1e-14
    );
}

#[test]
fn jkn_rscales_derived_from_strata_and_fpc_are_the_shipped_ones() {
    let flags = "--weight pw --replicates JK* --method jkn --mean api00";
    let file = "apistrat_jkn_repweights.csv";
    let shipped = format!("@{}", data("apistrat_jkn_scale_rscales.txt"));
    let derived = se_of(file, flags, &["--strata", "stype", "--fpc", "fpc"]);
    assert!(rel(derived, se_of(file, flags, &["--rscales", &shipped])) < 1e-13);
    assert!(rel(derived, 9.408940803) < 1e-9);
}

#[test]
fn sdr_default_scale_is_the_shipped_one() {
    let flags = "--weight pw --replicates B* --method sdr --mean hi";
    let file = "stratclus_boot_repweights.csv";
    let scale = format!("@{}", data("stratclus_sdr_scale.txt"));
    assert!(
        rel(
            se_of(file, flags, &[]),
            se_of(file, flags, &["--scale", &scale])
        ) < 1e-14
    );
}
