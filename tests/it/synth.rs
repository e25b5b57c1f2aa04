//! `migstat synth`: the committed sample files are reproduced byte for byte, output depends only
//! on the arguments, the files hold together (households, children, migrants, remittances,
//! roster), and the four synthetic pipelines map every row without a finding.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use migstat::config::pipeline::Severity;
use migstat::normalize::{normalize, RecordSpec};
use migstat::schema::Schema;
use migstat::synth::{run, CountryArg, Format, SynthArgs};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty folder under the system's temporary folder.
fn temp_dir(name: &str) -> crate::common::TestDir {
    crate::common::TestDir::new(format!("migstat-synth-{}-{name}", std::process::id()))
}

fn args(country: CountryArg, persons: u64, seed: u64, out: &Path) -> SynthArgs {
    SynthArgs {
        parts: None,
        country,
        persons,
        seed,
        out: out.to_path_buf(),
        strata: None,
        psus_per_stratum: 10,
        replicates: None,
        format: Format::Csv,
    }
}

fn generate(a: &SynthArgs) -> Vec<PathBuf> {
    let mut log = Vec::new();
    let paths = run(a, &mut log).unwrap();
    assert!(!log.is_empty(), "run logs one line per country");
    paths
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn committed_sample_files_are_reproduced_byte_for_byte() {
    let out = temp_dir("samples");
    let paths = generate(&args(CountryArg::All, 4000, 1, &out));
    assert_eq!(paths.len(), 8);
    for p in &paths {
        let committed = repo().join("sample_data/synth").join(name(p));
        let want =
            std::fs::read(&committed).unwrap_or_else(|e| panic!("{}: {e}", committed.display()));
        let got = std::fs::read(p).unwrap();
        assert!(
            got == want,
            "{} differs from the committed file: regenerate it (sample_data/synth/README.md)",
            name(p)
        );
    }
    std::fs::remove_dir_all(out).unwrap();
}

/// Armenia ships as SPSS and Egypt as Stata (the pipelines read those files): both are made by
/// `migstat synth --format` and reproduced byte for byte.
#[test]
fn committed_spss_and_stata_files_are_reproduced_byte_for_byte() {
    for (country, format, ext) in [
        (CountryArg::Arm, Format::Sav, "sav"),
        (CountryArg::Egy, Format::Dta, "dta"),
    ] {
        let out = temp_dir(&format!("samples-{ext}"));
        let mut a = args(country, 4000, 1, &out);
        a.format = format;
        let paths = generate(&a);
        assert_eq!(paths.len(), 2);
        for p in &paths {
            assert!(name(p).ends_with(ext), "{}", name(p));
            let committed = repo().join("sample_data/synth").join(name(p));
            let want = std::fs::read(&committed)
                .unwrap_or_else(|e| panic!("{}: {e}", committed.display()));
            assert!(
                std::fs::read(p).unwrap() == want,
                "{} differs from the committed file",
                name(p)
            );
        }
        std::fs::remove_dir_all(out).unwrap();
    }
}

#[test]
fn same_arguments_give_the_same_bytes_and_another_seed_does_not() {
    let (a, b, c) = (temp_dir("det-a"), temp_dir("det-b"), temp_dir("det-c"));
    let mut small = args(CountryArg::Tha, 900, 7, &a);
    small.strata = Some(3);
    small.replicates = Some(5);
    let first = generate(&small);
    small.out = b.to_path_buf();
    let second = generate(&small);
    small.out = c.to_path_buf();
    small.seed = 8;
    let other = generate(&small);
    for ((x, y), z) in first.iter().zip(&second).zip(&other) {
        let x = std::fs::read(x).unwrap();
        assert_eq!(x, std::fs::read(y).unwrap());
        assert_ne!(x, std::fs::read(z).unwrap());
    }
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn too_few_persons_for_the_design_is_refused() {
    let out = temp_dir("small");
    let mut a = args(CountryArg::Arm, 100, 1, &out);
    a.strata = Some(10);
    let err = run(&a, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("--persons 100"), "{err}");
    a.psus_per_stratum = 1;
    a.strata = Some(2);
    assert!(run(&a, &mut Vec::new()).is_err());
    std::fs::remove_dir_all(out).unwrap();
}

/// A CSV file read into memory with its header.
struct Table {
    cols: HashMap<String, usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Table {
        let mut r = csv::Reader::from_path(path).unwrap();
        let cols = r
            .headers()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
            .collect();
        Table { cols, rows }
    }

    fn get<'a>(&self, row: &'a [String], col: &str) -> &'a str {
        let i = self
            .cols
            .get(col)
            .unwrap_or_else(|| panic!("no column {col}"));
        &row[*i]
    }

    fn num(&self, row: &[String], col: &str) -> i64 {
        self.get(row, col).parse().unwrap()
    }

    /// Columns of the replicate weights, in order.
    fn reps(&self, prefix: &str) -> Vec<usize> {
        let mut v: Vec<(u32, usize)> = self
            .cols
            .iter()
            .filter_map(|(c, &i)| c.strip_prefix(prefix)?.parse().ok().map(|n| (n, i)))
            .collect();
        v.sort();
        v.into_iter().map(|(_, i)| i).collect()
    }
}

/// Where each country keeps what the checks look at.
struct Cols {
    stem: &'static str,
    hh: &'static str,
    line: &'static str,
    year: &'static str,
    design: [&'static str; 3],
    reps: &'static str,
    age: &'static str,
    /// Labour-force answers: blank below working age.
    lf: &'static [&'static str],
    /// Column telling the foreign-born apart, and its value for "born here".
    born: (&'static str, &'static str),
    arrival: &'static str,
    remit: &'static str,
    amount: &'static str,
    roster_hh: &'static str,
    roster_design: [&'static str; 3],
    roster_reps: &'static str,
}

const COUNTRIES: [Cols; 4] = [
    Cols {
        stem: "arm",
        hh: "hhid",
        line: "mem",
        year: "year",
        design: ["strat", "psu", "wgt"],
        reps: "rw",
        age: "age",
        lf: &[
            "isced", "lfstat", "isic", "isco", "empstat", "wage", "returned",
        ],
        born: ("born_arm", "1"),
        arrival: "arrival_year",
        remit: "remit",
        amount: "remit_amt",
        roster_hh: "hhid",
        roster_design: ["strat", "psu", "wgt"],
        roster_reps: "rw",
    },
    Cols {
        stem: "egy",
        hh: "hh_no",
        line: "ind_no",
        year: "svy_year",
        design: ["gov_strat", "cluster", "expansion_factor"],
        reps: "repw_",
        age: "age_yrs",
        lf: &[
            "educ",
            "wrk_stat",
            "econ_act",
            "occup",
            "emp_status",
            "wage_m",
            "ret_abroad",
        ],
        born: ("birth_cntry", "1"),
        arrival: "arr_yr",
        remit: "remit_rcv",
        amount: "remit_egp",
        roster_hh: "hh_no",
        roster_design: ["gov_strat", "cluster", "hh_weight"],
        roster_reps: "hrepw_",
    },
    Cols {
        stem: "ecu",
        hh: "id_hogar",
        line: "persona",
        year: "anio",
        design: ["estrato", "upm", "fexp"],
        reps: "fexp_r",
        age: "edad",
        lf: &[
            "nivinst", "condact", "rama", "grupo", "categ", "ingrl", "retorno",
        ],
        born: ("lugar_nac", "1"),
        arrival: "anio_llegada",
        remit: "remesas",
        amount: "monto_remesas",
        roster_hh: "id_hogar",
        roster_design: ["estrato", "upm", "fexp"],
        roster_reps: "fexp_r",
    },
    Cols {
        stem: "tha",
        hh: "HH_ID",
        line: "MEMBER",
        year: "YEAR",
        design: ["STRATUM", "EA", "WEIGHT"],
        reps: "REPWT",
        age: "AGE",
        lf: &[
            "EDUC",
            "LFS",
            "IND_DIV",
            "OCC",
            "WORK_STATUS",
            "WAGE_DAY",
            "RETURNED",
        ],
        born: ("BIRTH_CTRY", "THA"),
        arrival: "ARRIVE_YR",
        remit: "REMIT",
        amount: "REMIT_AMT",
        roster_hh: "HH_ID",
        roster_design: ["STRATUM", "EA", "HH_WGT"],
        roster_reps: "HREPWT",
    },
];

/// The design values of a household: stratum, PSU, weight and replicate weights.
fn design_of(t: &Table, row: &[String], names: &[&str; 3], reps: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|c| t.get(row, c).to_string()).collect();
    v.extend(reps.iter().map(|&i| row[i].clone()));
    v
}

fn sample(stem: &str, kind: &str) -> Table {
    Table::read(&repo().join(format!("sample_data/synth/{stem}_lfs_synth_{kind}.csv")))
}

/// Checks one country's files; returns its share of foreign-born persons.
fn check_country(c: &Cols) -> f64 {
    let t = sample(c.stem, "persons");
    assert_eq!(t.rows.len(), 4000, "{}: persons", c.stem);
    let reps = t.reps(c.reps);
    assert_eq!(reps.len(), 20, "{}: replicate weights", c.stem);
    let mut households: HashMap<String, Vec<String>> = HashMap::new();
    let mut keys = std::collections::HashSet::new();
    let mut foreign = 0;
    for row in &t.rows {
        let hh = t.get(row, c.hh).to_string();
        assert!(
            keys.insert((hh.clone(), t.get(row, c.line).to_string())),
            "{}: duplicate key",
            c.stem
        );
        let d = design_of(&t, row, &c.design, &reps);
        let first = households.entry(hh.clone()).or_insert_with(|| d.clone());
        assert_eq!(
            *first, d,
            "{}: household {hh} members differ in design values",
            c.stem
        );
        let (age, year) = (t.num(row, c.age), t.num(row, c.year));
        assert!((0..=90).contains(&age), "{}: age {age}", c.stem);
        if age < 15 {
            for col in c.lf {
                assert_eq!(t.get(row, col), "", "{}: child of {age} has {col}", c.stem);
            }
        }
        let born_here = t.get(row, c.born.0) == c.born.1;
        let arrival = t.get(row, c.arrival);
        assert_eq!(
            born_here,
            arrival.is_empty(),
            "{}: arrival year for the foreign-born only",
            c.stem
        );
        if !born_here {
            foreign += 1;
            let a: i64 = arrival.parse().unwrap();
            assert!(
                a >= year - age && a <= year,
                "{}: arrived {a}, aged {age} in {year}",
                c.stem
            );
        }
        let received = t.get(row, c.remit) == "1";
        assert_eq!(
            received,
            !t.get(row, c.amount).is_empty(),
            "{}: amount iff receipt",
            c.stem
        );
    }
    check_roster(c, &households);
    foreign as f64 / t.rows.len() as f64
}

/// Every roster household is in the person file, with the same design values.
fn check_roster(c: &Cols, households: &HashMap<String, Vec<String>>) {
    let r = sample(c.stem, "roster");
    assert!(r.rows.len() > 20, "{}: too few members abroad", c.stem);
    let reps = r.reps(c.roster_reps);
    for row in &r.rows {
        let hh = r.get(row, c.roster_hh);
        let d = design_of(&r, row, &c.roster_design, &reps);
        match households.get(hh) {
            Some(p) => assert_eq!(*p, d, "{}: roster household {hh} design differs", c.stem),
            None => panic!(
                "{}: roster household {hh} is not in the person file",
                c.stem
            ),
        }
    }
}

#[test]
fn sample_files_hold_together_and_thailand_has_the_most_immigrants() {
    let shares: Vec<f64> = COUNTRIES.iter().map(check_country).collect();
    let (arm, tha) = (shares[0], shares[3]);
    assert!(tha > arm, "Thailand {tha} vs Armenia {arm}");
    assert!(
        (0.04..0.10).contains(&tha),
        "Thailand's foreign-born share {tha}"
    );
}

fn schema() -> Schema {
    Schema::load(Some(&repo().join("schemas"))).expect("schemas")
}

#[test]
fn synthetic_pipelines_map_every_row_without_findings() {
    let schema = schema();
    for c in ["arm", "egy", "ecu", "tha"] {
        let path = repo().join(format!("pipelines/{c}_lfs_synth.toml"));
        let p = migstat::config::check::load(&path, &schema)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(p.pipeline.synthetic && p.pipeline.note_source.iter().any(|n| n == "S1:SYNTHETIC"));
        let specs = [
            RecordSpec::person(&p, &schema),
            RecordSpec::roster(&p, &schema).expect("a roster"),
        ];
        for spec in &specs {
            let n = normalize(&p, &schema, spec, None, 10).unwrap();
            let worst = [Severity::Error, Severity::Quarantine, Severity::Warning]
                .map(|s| n.findings.count(s));
            assert_eq!(worst, [0, 0, 0], "{c}: {:?}", n.findings.listed);
            assert_eq!(n.rows_loaded(), n.rows_read, "{c}: rows lost");
            assert_eq!(n.frame.times.len(), 2, "{c}: two quarters");
            assert_eq!(n.frame.reps.count(), 20, "{c}: replicate weights");
        }
    }
}
