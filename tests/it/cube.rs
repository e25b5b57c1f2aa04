//! Properties of the indicator cube on real data: additivity of every count before suppression,
//! rates recomputed from their parts, identical results whatever the thread count.
use std::collections::BTreeMap;

use migstat::config::pipeline::Reliability;
use migstat::estimate::indicators::{estimate_frame, Cube};
use migstat::estimate::Observation;
use migstat::normalize::{normalize, RecordSpec};
use migstat::pipeline::load_pipeline;
use migstat::schema::Kind;

use crate::common::repo;

/// All observations of a pipeline with suppression turned off (so every value is present).
fn cube(pipeline: &str, threads: usize, suppress: bool) -> Vec<Observation> {
    let none = Reliability {
        profile: "ilo".into(),
        min_count_suppress: Some(0),
        ..Default::default()
    };
    cube_with(pipeline, threads, (!suppress).then_some(none))
}

/// All observations of a pipeline, with its reliability settings replaced when given.
fn cube_with(pipeline: &str, threads: usize, reliability: Option<Reliability>) -> Vec<Observation> {
    let (mut p, schema) =
        load_pipeline(&repo().join("pipelines").join(pipeline), None).expect("pipeline");
    if reliability.is_some() {
        p.pipeline.reliability = reliability;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let mut out = Vec::new();
        let spec = RecordSpec::person(&p, &schema);
        let mut n = normalize(&p, &schema, &spec, None, 10).expect("normalize");
        if let Some(spec) = RecordSpec::roster(&p, &schema) {
            let r = normalize(&p, &schema, &spec, None, 10).expect("normalize roster");
            migstat::normalize::household::Households::default().derive(
                &mut n.frame,
                Some(&r.frame),
                &schema.codes,
            );
        }
        let mut person = Cube::new(&n.frame, &p, &p.design, &schema, None).expect("cube");
        person.update(&n.frame).expect("cube");
        let (person, universe) = person.finish(&n.frame, None).expect("cube");
        out.extend(person.observations);
        if let Some(spec) = RecordSpec::roster(&p, &schema) {
            let mut f = normalize(&p, &schema, &spec, None, 10)
                .expect("normalize roster")
                .frame;
            migstat::estimate::design::align(&mut f, &n.frame);
            let d = p
                .roster
                .as_ref()
                .and_then(|r| r.design.as_ref())
                .unwrap_or(&p.design);
            out.extend(
                estimate_frame(&f, &p, d, &schema, Some(&universe), None)
                    .expect("cube")
                    .observations,
            );
        }
        out
    })
}

type Key = (String, String, String, Option<String>, Option<String>);

fn index(obs: &[Observation]) -> BTreeMap<Key, f64> {
    obs.iter()
        .filter_map(|o| {
            o.obs_value.map(|v| {
                (
                    (
                        o.indicator.clone(),
                        o.time.clone(),
                        o.sex.clone(),
                        o.classif1.clone(),
                        o.classif2.clone(),
                    ),
                    v,
                )
            })
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-6)
}

/// The non-total codes of the version that `total` closes (same prefix), for partition versions.
fn parts_of<'a>(total: &str, codes: &'a std::collections::BTreeSet<String>) -> Vec<&'a String> {
    let prefix = total.trim_end_matches("TOTAL");
    codes
        .iter()
        .filter(|c| c.starts_with(prefix) && !c.ends_with("TOTAL"))
        .collect()
}

fn check_additivity(pipeline: &str) {
    let obs = cube(pipeline, 2, false);
    let (_, schema) = load_pipeline(&repo().join("pipelines").join(pipeline), None).expect("p");
    let idx = index(&obs);
    let counts: Vec<&str> = schema
        .catalogue
        .indicator
        .iter()
        .filter(|i| i.kind == Kind::Total)
        .map(|i| i.code.as_str())
        .collect();
    let by_sex: Vec<&str> = schema
        .catalogue
        .indicator
        .iter()
        .filter(|i| i.by_sex)
        .map(|i| i.code.as_str())
        .collect();
    let mut checked = 0;
    for ((ind, time, sex, c1, c2), v) in &idx {
        if !counts.contains(&ind.as_str()) {
            continue;
        }
        let get = |s: &str, a: &Option<String>, b: &Option<String>| {
            idx.get(&(
                ind.clone(),
                time.clone(),
                s.to_string(),
                a.clone(),
                b.clone(),
            ))
            .copied()
            .unwrap_or(0.0)
        };
        if sex == "SEX_T" && by_sex.contains(&ind.as_str()) {
            let parts = get("SEX_M", c1, c2) + get("SEX_F", c1, c2) + get("SEX_O", c1, c2);
            assert!(
                close(parts, *v),
                "{ind} {time} {c1:?} {c2:?}: M+F+O = {parts}, T = {v}"
            );
            checked += 1;
        }
        for (which, total) in [(1, c1), (2, c2)] {
            let Some(t) = total
                .as_deref()
                .filter(|c| c.ends_with("_TOTAL") || *c == "AGE_YTHADULT_YGE15")
            else {
                continue;
            };
            let all: std::collections::BTreeSet<String> = idx
                .keys()
                .filter(|k| &k.0 == ind && &k.1 == time && &k.2 == sex)
                .filter_map(|k| if which == 1 { k.3.clone() } else { k.4.clone() })
                .collect();
            let members: Vec<String> = if t == "AGE_YTHADULT_YGE15" {
                vec!["AGE_YTHADULT_Y15-24".into(), "AGE_YTHADULT_YGE25".into()]
            } else {
                parts_of(t, &all).into_iter().cloned().collect()
            };
            if members.is_empty()
                || !members.iter().all(|m| all.contains(m)) && t == "AGE_YTHADULT_YGE15"
            {
                continue;
            }
            let sum: f64 = members
                .iter()
                .map(|m| {
                    if which == 1 {
                        get(sex, &Some(m.clone()), c2)
                    } else {
                        get(sex, c1, &Some(m.clone()))
                    }
                })
                .sum();
            assert!(
                close(sum, *v),
                "{ind} {time} {sex} {c1:?} {c2:?}: parts of {t} sum to {sum}, total {v}"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 500,
        "{pipeline}: only {checked} identities checked"
    );
}

fn check_rates(pipeline: &str) {
    let (_, schema) = load_pipeline(&repo().join("pipelines").join(pipeline), None).expect("p");
    let obs = cube(pipeline, 2, false);
    let idx = index(&obs);
    let mut checked = 0;
    for ind in schema
        .catalogue
        .indicator
        .iter()
        .filter(|i| i.kind == Kind::Ratio)
    {
        let (num, den) = (
            ind.numerator.clone().unwrap(),
            ind.denominator.clone().unwrap(),
        );
        for ((code, time, sex, c1, c2), v) in &idx {
            if code != &ind.code {
                continue;
            }
            let key = |c: &str| {
                (
                    c.to_string(),
                    time.clone(),
                    sex.clone(),
                    c1.clone(),
                    c2.clone(),
                )
            };
            let n = idx.get(&key(&num)).copied().unwrap_or(0.0);
            let d = idx[&key(&den)];
            assert!(
                close(100.0 * n / d, *v),
                "{code} {time} {sex} {c1:?} {c2:?}: {v} vs 100*{n}/{d}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{pipeline}: only {checked} rates checked");
}

#[test]
fn counts_add_up_statcan() {
    check_additivity("can_lfs_pumf.toml");
}

#[test]
fn counts_add_up_eu_lfs() {
    check_additivity("fra_eu_lfs_puf.toml");
}

#[test]
fn counts_add_up_synthetic_surveys() {
    for c in ["arm", "egy", "ecu", "tha"] {
        check_additivity(&format!("{c}_lfs_synth.toml"));
    }
}

#[test]
fn rates_recompute_from_parts() {
    check_rates("can_lfs_pumf.toml");
    check_rates("fra_eu_lfs_puf.toml");
    check_rates("tha_lfs_synth.toml");
}

fn bits(obs: &[Observation]) -> Vec<String> {
    obs.iter()
        .map(|o| {
            let f = |x: Option<f64>| x.map(|v| v.to_bits()).unwrap_or(0);
            format!(
                "{}|{}|{}|{:?}|{:?}|{}|{}|{}|{}|{:?}",
                o.indicator,
                o.time,
                o.sex,
                o.classif1,
                o.classif2,
                f(o.obs_value),
                f(o.se),
                f(o.lower_bound),
                o.sample_count,
                o.obs_status
            )
        })
        .collect()
}

#[test]
fn one_thread_and_many_give_identical_results() {
    for p in [
        "can_lfs_pumf.toml",
        "fra_eu_lfs_puf.toml",
        "egy_lfs_synth.toml",
        "arm_lfs_synth.toml",
    ] {
        let one = bits(&cube(p, 1, true));
        let many = bits(&cube(p, 7, true));
        assert!(!one.is_empty());
        assert_eq!(one, many, "{p}");
    }
}

/// The `statcan` profile's minimum size of estimates: a count below it is suppressed with note
/// U8, and so is every rate whose numerator or denominator is below it; nothing else carries
/// U8. Canada's national cells are all above the default 1,500 persons, so the pipeline's own
/// `min_estimate` (as a province's pipeline would set it) is raised to 50,000 to bite.
#[test]
fn statcan_profile_suppresses_estimates_below_its_minimum() {
    const MIN: f64 = 50_000.0;
    let open = cube("can_lfs_pumf.toml", 2, false);
    let statcan = Reliability {
        profile: "statcan".into(),
        min_estimate: Some(MIN),
        ..Default::default()
    };
    let judged = cube_with("can_lfs_pumf.toml", 2, Some(statcan));
    assert_eq!(open.len(), judged.len());
    let schema = migstat::schema::Schema::load(Some(&repo().join("schemas"))).expect("schema");
    let key = |o: &Observation| {
        (
            o.indicator.clone(),
            o.sex.clone(),
            o.classif1.clone(),
            o.classif2.clone(),
        )
    };
    let values: BTreeMap<_, Option<f64>> = open.iter().map(|o| (key(o), o.obs_value)).collect();
    let persons = |code: &str, o: &Observation| {
        values
            .get(&(
                code.to_string(),
                o.sex.clone(),
                o.classif1.clone(),
                o.classif2.clone(),
            ))
            .copied()
            .flatten()
            .map(|v| v * 1000.0)
    };
    let (mut below, mut checked) = (0, 0);
    for (a, b) in open.iter().zip(&judged) {
        assert_eq!(key(a), key(b));
        let ind = schema.catalogue.get(&a.indicator).expect("indicator");
        let counts: Vec<&str> = match ind.kind {
            Kind::Total if ind.value.is_none() => vec![ind.code.as_str()],
            Kind::Ratio => [&ind.numerator, &ind.denominator]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
            _ => continue,
        };
        let small = counts.iter().any(|c| persons(c, a).is_none_or(|v| v < MIN));
        let u8 = b.note_indicator.as_deref() == Some("U8:BELOW_MIN_ESTIMATE");
        if small {
            assert!(
                b.obs_status.as_deref() == Some("S") && b.obs_value.is_none(),
                "{:?} should be suppressed: {b:?}",
                key(b)
            );
            below += usize::from(u8);
        } else {
            assert!(
                !u8,
                "{:?} carries U8 at {:?}",
                key(b),
                persons(&a.indicator, a)
            );
            checked += 1;
        }
    }
    assert!(below > 0 && checked > 0, "below {below}, kept {checked}");
}
