//! Properties of `migstat estimate` on random stratified cluster samples (seeded, so failures
//! reproduce): domain totals add up to the total; a domain's estimate does not depend on the
//! rows outside it while its SE uses the full design; variances do not depend on the order of
//! rows or the numbering of PSUs within strata.

use std::fmt::Write as _;

use migstat::estimate::variance::{taylor_variance, LonelyPsu, PsuLayout};

use crate::estimate_oracle::run_csv;

/// SplitMix64: small, seeded, good enough for test data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// One row of a generated sample.
#[derive(Clone, Debug)]
struct Unit {
    stratum: u32,
    psu: u32,
    w: f64,
    y: f64,
    x: f64,
    g: &'static str,
    reps: Vec<f64>,
}

const REPLICATES: usize = 8;

/// 2–4 strata of 3–6 PSUs (numbered 1.. within the stratum) of 1–6 rows. PSU 3 of every
/// stratum has no row of domain `a`, so dropping the other rows changes the design.
fn sample(rng: &mut Rng) -> Vec<Unit> {
    let mut units = Vec::new();
    for stratum in 1..=2 + rng.below(3) as u32 {
        for psu in 1..=3 + rng.below(4) as u32 {
            let w = 1.0 + 49.0 * rng.unit();
            let mult: Vec<f64> = (0..REPLICATES).map(|_| rng.below(3) as f64).collect();
            for _ in 0..1 + rng.below(6) {
                let g = match rng.below(3) {
                    0 if psu != 3 => "a",
                    0 | 1 => "b",
                    _ => "c",
                };
                units.push(Unit {
                    stratum,
                    psu,
                    w,
                    y: 100.0 * rng.unit() - 20.0,
                    x: 1.0 + 10.0 * rng.unit(),
                    g,
                    reps: mult.iter().map(|m| m * w).collect(),
                });
            }
        }
    }
    units
}

fn write_csv(test: &str, units: &[Unit]) -> String {
    let mut text = String::from("h,psu,w,y,x,g,yd,d");
    (1..=REPLICATES).for_each(|r| write!(text, ",R{r}").expect("string"));
    text.push('\n');
    for u in units {
        let d = if u.g == "a" { 1.0 } else { 0.0 };
        write!(
            text,
            "{},{},{},{},{},{},{},{}",
            u.stratum,
            u.psu,
            u.w,
            u.y,
            u.x,
            u.g,
            u.y * d,
            d
        )
        .expect("string");
        u.reps
            .iter()
            .for_each(|r| write!(text, ",{r}").expect("string"));
        text.push('\n');
    }
    let path = crate::common::lasting_dir(test).join("sample.csv");
    std::fs::write(&path, text).expect("write sample");
    path.to_string_lossy().into_owned()
}

fn taylor(file: &str, stats: &[&str]) -> Vec<String> {
    let mut a = vec![file.to_string()];
    let design = ["--weight", "w", "--strata", "h", "--psu", "psu", "--nest"];
    a.extend(design.iter().chain(stats).map(|s| s.to_string()));
    a
}

fn replicate(file: &str, stats: &[&str]) -> Vec<String> {
    let mut a = vec![file.to_string()];
    let design = [
        "--weight",
        "w",
        "--replicates",
        "R*",
        "--method",
        "bootstrap",
    ];
    a.extend(design.iter().chain(stats).map(|s| s.to_string()));
    a
}

/// Command line of a design over a file, with statistic flags.
type DesignArgs = fn(&str, &[&str]) -> Vec<String>;

/// Both ways of declaring the generated design.
const DESIGNS: [DesignArgs; 2] = [taylor, replicate];

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

#[test]
fn domain_totals_add_up_to_the_total() {
    for seed in 0..20 {
        let mut rng = Rng(seed);
        let units = sample(&mut rng);
        let file = write_csv("partition", &units);
        for make in DESIGNS {
            let all = run_csv(&make(&file, &["--total", "y"]));
            let parts = run_csv(&make(&file, &["--total", "y", "--by", "g"]));
            let sum: f64 = parts.iter().filter_map(|r| r.estimate).sum();
            let total = all[0].estimate.expect("total");
            assert!(close(sum, total, 1e-12), "seed {seed}: {sum} vs {total}");
            assert_eq!(parts.iter().map(|r| r.n).sum::<u64>(), all[0].n);
            // Level counts of a factor add up to the estimated population size.
            let counts = run_csv(&make(&file, &["--total", "g"]));
            let size: f64 = units.iter().map(|u| u.w).sum();
            let counted: f64 = counts.iter().filter_map(|r| r.estimate).sum();
            assert!(close(counted, size, 1e-12), "seed {seed}");
        }
    }
}

#[test]
fn domain_estimate_ignores_other_rows_but_se_uses_the_full_design() {
    for seed in 100..120 {
        let mut rng = Rng(seed);
        let units = sample(&mut rng);
        let full = write_csv("domain-full", &units);
        let by = run_csv(&taylor(&full, &["--mean", "y", "--by", "g"]));
        let a = by.iter().find(|r| r.by == ["a"]).expect("domain a");
        let only: Vec<Unit> = units.iter().filter(|u| u.g == "a").cloned().collect();
        let sub = write_csv("domain-only", &only);
        // The domain alone may leave a stratum with a single PSU.
        let alone = &run_csv(&taylor(&sub, &["--mean", "y", "--lonely-psu", "remove"]))[0];
        let (est, se) = (a.estimate.expect("estimate"), a.se.expect("se"));
        assert!(
            close(est, alone.estimate.expect("estimate"), 1e-12),
            "seed {seed}"
        );
        // The domain mean is the ratio of y·1(a) to 1(a) over the whole sample...
        let ratio = &run_csv(&taylor(&full, &["--ratio", "yd/d"]))[0];
        assert!(
            close(est, ratio.estimate.expect("ratio"), 1e-12),
            "seed {seed}"
        );
        assert!(close(se, ratio.se.expect("ratio se"), 1e-10), "seed {seed}");
        // ...and not what the rows of the domain alone would give (PSU 3 of each stratum
        // holds no row of `a`).
        let alone_se = alone.se.expect("se");
        assert!(
            !close(se, alone_se, 1e-9),
            "seed {seed}: {se} vs {alone_se}"
        );
    }
}

#[test]
fn variance_ignores_row_order_and_psu_numbering() {
    for seed in 200..220 {
        let mut rng = Rng(seed);
        let units = sample(&mut rng);
        let file = write_csv("order-a", &units);
        let mut shuffled = units.clone();
        rng.shuffle(&mut shuffled);
        // Renumber PSUs within each stratum by a random permutation.
        let perm: Vec<u32> = {
            let mut p: Vec<u32> = (1..=6).collect();
            rng.shuffle(&mut p);
            p
        };
        shuffled
            .iter_mut()
            .for_each(|u| u.psu = 10 + perm[u.psu as usize - 1]);
        let other = write_csv("order-b", &shuffled);
        for make in DESIGNS {
            let stats = ["--total", "y", "--mean", "y", "--ratio", "y/x", "--by", "g"];
            let a = run_csv(&make(&file, &stats));
            let b = run_csv(&make(&other, &stats));
            assert_eq!(a.len(), b.len());
            for (ra, rb) in a.iter().zip(&b) {
                assert_eq!((&ra.by, &ra.statistic), (&rb.by, &rb.statistic));
                let (sa, sb) = (ra.se.expect("se"), rb.se.expect("se"));
                assert!(
                    close(sa, sb, 1e-10),
                    "seed {seed} {}: {sa} vs {sb}",
                    ra.statistic
                );
            }
        }
    }
}

#[test]
fn taylor_variance_ignores_psu_order_within_strata() {
    let mut rng = Rng(7);
    for _ in 0..50 {
        let n_strata = 1 + rng.below(4) as usize;
        let mut psu_stratum: Vec<u32> = Vec::new();
        for h in 0..n_strata {
            psu_stratum.extend(std::iter::repeat_n(h as u32, 2 + rng.below(5) as usize));
        }
        let t: Vec<f64> = psu_stratum
            .iter()
            .map(|_| 1000.0 * rng.unit() - 300.0)
            .collect();
        let layout = |s: Vec<u32>| PsuLayout {
            psu_stratum: s,
            n_strata,
            stratum_fraction: (0..n_strata).map(|h| 0.1 * h as f64).collect(),
            lonely: LonelyPsu::Fail,
            stratum_names: (0..n_strata).map(|h| h.to_string()).collect(),
        };
        let v = taylor_variance(&layout(psu_stratum.clone()), &t);
        let mut order: Vec<usize> = (0..t.len()).collect();
        rng.shuffle(&mut order);
        let s2: Vec<u32> = order.iter().map(|&i| psu_stratum[i]).collect();
        let t2: Vec<f64> = order.iter().map(|&i| t[i]).collect();
        let v2 = taylor_variance(&layout(s2), &t2);
        assert!(v > 0.0 && close(v, v2, 1e-12), "{v} vs {v2}");
    }
}

/// The estimation core on random data: every row in up to three of six cells, 2–4 strata of
/// PSUs, one later stage (units nested in the PSUs) and four replicates.
mod merge {
    use migstat::estimate::core::state::{Chunk, InMemory};
    use migstat::estimate::core::{
        merge_in_order, CellMap, ChunkKey, Finish, PsuTotals, State, Sums, ZeroReplicate,
    };
    use migstat::estimate::generic::multistage::Stage;
    use migstat::estimate::variance::{LonelyPsu, PsuLayout};

    use super::Rng;

    const CELLS: usize = 6;

    /// `(unit, total)` pairs of one cell, ascending by unit.
    type Totals = Vec<(u32, f64)>;
    const REPS: usize = 4;

    struct Data {
        weight: Vec<f64>,
        psu: Vec<u32>,
        unit: Vec<u32>,
        reps: Vec<Vec<f64>>,
        /// Up to three (cell, y) per row.
        entries: Vec<Vec<(u32, f64)>>,
        layout: PsuLayout,
        stage: Stage,
    }

    impl CellMap for Data {
        fn n_cells(&self) -> usize {
            CELLS
        }
        fn for_each(&self, row: usize, f: &mut impl FnMut(u32, f64)) {
            for &(c, y) in &self.entries[row] {
                f(c, y);
            }
        }
    }

    fn data(rng: &mut Rng) -> Data {
        let n_strata = 2 + rng.below(3) as usize;
        let mut psu_stratum = Vec::new();
        for h in 0..n_strata {
            for _ in 0..2 + rng.below(3) {
                psu_stratum.push(h as u32);
            }
        }
        let n_psu = psu_stratum.len();
        // Two second-stage units per PSU.
        let unit_parent: Vec<u32> = (0..2 * n_psu as u32).map(|u| u / 2).collect();
        let n = 1 + rng.below(400) as usize;
        let psu: Vec<u32> = (0..n).map(|_| rng.below(n_psu as u64) as u32).collect();
        let unit: Vec<u32> = psu.iter().map(|&p| 2 * p + rng.below(2) as u32).collect();
        let weight: Vec<f64> = (0..n).map(|_| 1.0 + 99.0 * rng.unit()).collect();
        let reps = (0..REPS)
            .map(|_| weight.iter().map(|w| w * 2.0 * rng.unit()).collect())
            .collect();
        let entries = (0..n)
            .map(|_| {
                let mut cells: Vec<u32> = (0..rng.below(4))
                    .map(|_| rng.below(CELLS as u64) as u32)
                    .collect();
                cells.sort_unstable();
                cells.dedup();
                cells.into_iter().map(|c| (c, rng.unit() * 10.0)).collect()
            })
            .collect();
        let layout = PsuLayout {
            psu_stratum,
            n_strata,
            stratum_fraction: vec![0.1; n_strata],
            lonely: LonelyPsu::Remove,
            stratum_names: (0..n_strata).map(|h| h.to_string()).collect(),
        };
        let stage = Stage {
            unit_of_row: unit.clone(),
            unit_parent,
            parent_sizes: vec![2; n_psu],
            parent_fraction: vec![0.5; n_psu],
            parent_multiplier: vec![0.1; n_psu],
            lonely: LonelyPsu::Remove,
        };
        Data {
            weight,
            psu,
            unit,
            reps,
            entries,
            layout,
            stage,
        }
    }

    /// The state of rows `lo..hi` (file order) as chunk `key`.
    fn state_of(d: &Data, lo: usize, hi: usize, key: u32) -> State {
        let rows: Vec<u32> = (lo as u32..hi as u32).collect();
        let stages = [d.unit.as_slice()];
        let chunk = Chunk {
            rows: &rows,
            weight: &d.weight,
            psu: Some(&d.psu),
            stages: &stages,
        };
        let mut s = State::new(
            CELLS,
            REPS,
            1,
            ChunkKey {
                first: key,
                end: key + 1,
            },
        );
        s.update(d, &chunk, &mut InMemory(&d.reps)).expect("update");
        s
    }

    /// (estimate, Taylor variance, replicate variance) of every total and of the ratio of each
    /// cell to the next.
    fn finished(d: &Data, s: &State) -> Vec<(f64, f64, f64, u64)> {
        let psu_of = |c: usize, units: &[migstat::estimate::core::state::UnitSums]| {
            let mut out = Vec::new();
            for (u, sums) in units {
                out.extend(sums.iter().filter(|e| e.0 as usize == c).map(|e| (*u, e.1)));
            }
            out
        };
        let per: Vec<(Totals, Vec<Totals>)> = (0..CELLS)
            .map(|c| (psu_of(c, &s.psus), vec![psu_of(c, &s.stages[0])]))
            .collect();
        let sums = |c: usize| Sums {
            est: s.wsum[c],
            n: s.count[c],
            reps: &s.reps[c * REPS..(c + 1) * REPS],
            psu: PsuTotals::Sparse(&per[c].0),
            stages: &per[c].1,
        };
        let sizes = d.layout.stratum_sizes();
        let stages = [d.stage.clone()];
        let taylor = Finish::Taylor {
            layout: &d.layout,
            sizes: &sizes,
            stages: &stages,
        };
        let spec = migstat::estimate::replicate::ReplicateSpec::new(
            migstat::estimate::replicate::ReplicateMethod::Brr,
            REPS,
            None,
            None,
            None,
            false,
        )
        .expect("spec");
        let reps = Finish::Replicate(&spec);
        let mut out = Vec::new();
        for c in 0..CELLS {
            let (t, r) = (taylor.total(&sums(c)), reps.total(&sums(c)));
            out.push((
                t.est,
                t.var.unwrap_or(f64::NAN),
                r.var.unwrap_or(f64::NAN),
                t.n,
            ));
            let next = (c + 1) % CELLS;
            let ratio = |f: &Finish| f.ratio(&sums(c), &sums(next), ZeroReplicate::Drop);
            if let (Some(t), Some(r)) = (ratio(&taylor), ratio(&reps)) {
                out.push((
                    t.est,
                    t.var.unwrap_or(f64::NAN),
                    r.var.unwrap_or(f64::NAN),
                    t.n,
                ));
            }
        }
        out
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1e-9)
    }

    #[test]
    fn merging_the_states_of_any_split_equals_one_chunk() {
        let mut rng = Rng(41);
        for case in 0..200 {
            let d = data(&mut rng);
            let n = d.weight.len();
            let whole = state_of(&d, 0, n, 0);
            let mut cuts: Vec<usize> = (0..rng.below(6))
                .map(|_| rng.below(n as u64 + 1) as usize)
                .collect();
            cuts.extend([0, n]);
            cuts.sort_unstable();
            let parts: Vec<State> = cuts
                .windows(2)
                .enumerate()
                .map(|(i, w)| state_of(&d, w[0], w[1], i as u32))
                .collect();
            let merged = merge_in_order(parts.clone())
                .expect("merge")
                .expect("non-empty");
            let folded = parts
                .into_iter()
                .reduce(|a, b| a.merge(b).expect("adjacent"))
                .expect("non-empty");
            for m in [&merged, &folded] {
                assert_eq!(m.count, whole.count, "case {case}");
                assert_eq!(m.key.end as usize, cuts.len() - 1, "case {case}");
                let units = |s: &State| s.psus.iter().map(|u| u.0).collect::<Vec<_>>();
                assert_eq!(units(m), units(&whole), "case {case}");
                let (a, b) = (finished(&d, m), finished(&d, &whole));
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(x.3, y.3, "case {case}");
                    assert!(
                        close(x.0, y.0) && close(x.1, y.1) && close(x.2, y.2),
                        "case {case}: {x:?} vs {y:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_state_round_trips_as_json_and_refuses_a_merge_out_of_order() {
        let mut rng = Rng(7);
        let d = data(&mut rng);
        let n = d.weight.len();
        let (a, b) = (state_of(&d, 0, n / 2, 0), state_of(&d, n / 2, n, 1));
        let text = serde_json::to_string(&a).expect("serialise");
        let back: State = serde_json::from_str(&text).expect("deserialise");
        assert_eq!(back, a);
        assert!(
            b.clone().merge(a.clone()).is_err(),
            "chunk 1 before chunk 0"
        );
        let mut other = state_of(&d, 0, n, 1);
        other.n_reps = 0;
        assert!(a.clone().merge(other).is_err(), "shapes differ");
        assert_eq!(
            a.merge(b).expect("in order").key,
            ChunkKey { first: 0, end: 2 }
        );
    }
}
