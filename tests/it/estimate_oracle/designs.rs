//! The reference designs as command lines: each design string of `reference_estimates.csv`
//! (R notation) and each case of `reference_estimates_more.csv` mapped to a file and flags.
//! In flags, `@NAME` stands for `@` followed by the path of r-survey file NAME.

use super::data;

/// A design: file and flags (whitespace-separated; no flag value holds a space).
type Declared = (&'static str, &'static str);

/// Stratified cluster sample of apipop: strata `stype`, districts nested in strata.
const STRATCLUS: &str = "--weight pw --strata stype --psu dnum --nest";

const JK1: Declared = (
    "apiclus1_jk1_repweights.csv",
    "--weight pw --replicates JK* --method jk1 \
     --scale @apiclus1_jk1_scale_rscales.txt --rscales @apiclus1_jk1_scale_rscales.txt",
);

const JKN: Declared = (
    "apistrat_jkn_repweights.csv",
    "--weight pw --replicates JK* --method jkn \
     --scale @apistrat_jkn_scale_rscales.txt --rscales @apistrat_jkn_scale_rscales.txt",
);

/// Design strings of `reference_estimates.csv`.
const DESIGNS: &[(&str, Declared)] = &[
    (
        "apistrat: id=~1, strata=~stype, weights=~pw, fpc=~fpc",
        ("apistrat.csv", "--weight pw --strata stype --fpc fpc"),
    ),
    (
        "apiclus1: id=~dnum, weights=~pw, fpc=~fpc",
        ("apiclus1.csv", "--weight pw --psu dnum --fpc fpc"),
    ),
    (
        "apiclus1: id=~dnum, weights=~pw (no fpc, with-replacement)",
        ("apiclus1.csv", "--weight pw --psu dnum"),
    ),
    (
        "apiclus2: id=~dnum+snum, fpc=~fpc1+fpc2",
        (
            "apiclus2.csv",
            "--weight pw --psu dnum,snum --fpc fpc1,fpc2",
        ),
    ),
    ("apiclus1 as.svrepdesign(type=JK1)", JK1),
    ("apistrat as.svrepdesign(type=JKn)", JKN),
    (
        "scd: svrepdesign(type=BRR, repweights=2*Hadamard 4 cols, combined.weights=FALSE)",
        (
            "scd_brr_repweights.csv",
            "--weight 1 --replicates H1,H2,H3,H4 --method brr",
        ),
    ),
    (
        "fpc: id=~psuid, strata=~stratid, weights=~weight, nest=TRUE, fpc=~Nh",
        (
            "fpc.csv",
            "--weight weight --strata stratid --psu psuid --nest --fpc Nh",
        ),
    ),
    (
        "fpc: id=~psuid, strata=~stratid, weights=~weight, nest=TRUE (no fpc)",
        (
            "fpc.csv",
            "--weight weight --strata stratid --psu psuid --nest",
        ),
    ),
];

/// Case prefixes of `reference_estimates_more.csv` (first match wins); lonely cases add
/// [`STRATCLUS`].
const CASES: &[(&str, Declared)] = &[
    ("apiclus1_jk1_", JK1),
    ("apistrat_jkn_", JKN),
    ("stratclus_", ("apipop_stratclus.csv", STRATCLUS)),
    ("lonely_remove_", ("apipop_stratclus_lonely.csv", "--lonely-psu remove")),
    ("lonely_certainty_", ("apipop_stratclus_lonely.csv", "--lonely-psu certainty")),
    ("lonely_average_", ("apipop_stratclus_lonely.csv", "--lonely-psu average")),
    ("lonely_adjust_", ("apipop_stratclus_lonely.csv", "--lonely-psu adjust")),
    (
        "boot_mse_",
        (
            "stratclus_boot_repweights.csv",
            "--weight pw --replicates B* --method bootstrap --scale @stratclus_boot_scale.txt --mse",
        ),
    ),
    (
        "boot_",
        (
            "stratclus_boot_repweights.csv",
            "--weight pw --replicates B* --method bootstrap --scale @stratclus_boot_scale.txt",
        ),
    ),
    (
        "fay03_",
        ("stratclus_fay03_repweights.csv", "--weight pw --replicates F* --method fay --rho 0.3"),
    ),
    ("sdr_", ("stratclus_boot_repweights.csv", "--weight pw --replicates B* --method sdr")),
];

/// Statistic of a case: part of its name, flags, statistic in the output.
const CASE_STATISTICS: &[(&str, &str, &str)] = &[
    ("ratio_stu_enroll", "--ratio stu/enroll", "ratio:stu/enroll"),
    ("total_enroll", "--total enroll", "total:enroll"),
    ("mean_hi", "--mean hi", "mean:hi"),
    ("mean_api00", "--mean api00", "mean:api00"),
];

fn flags(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace().map(|f| match f.strip_prefix('@') {
        Some(name) => format!("@{}", data(name)),
        None => f.to_string(),
    })
}

/// File path first, then the flags.
fn command_line((file, text): Declared) -> Vec<String> {
    std::iter::once(data(file)).chain(flags(text)).collect()
}

/// Command line of a reference design string.
pub fn design_args(design: &str) -> Vec<String> {
    let (_, declared) = DESIGNS
        .iter()
        .find(|(d, _)| *d == design)
        .unwrap_or_else(|| panic!("reference design not mapped: {design}"));
    command_line(*declared)
}

/// Full command line, statistic and domain labels of a `reference_estimates_more.csv` case
/// (`name` or `name:level` for a domain of `stype`).
pub fn case_args(case: &str) -> (Vec<String>, String, Vec<String>) {
    let (name, by) = match case.split_once(':') {
        Some((n, level)) => (n, vec![level.to_string()]),
        None => (case, vec![]),
    };
    let (prefix, declared) = CASES
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .unwrap_or_else(|| panic!("reference case not mapped: {case}"));
    let mut args = command_line(*declared);
    if prefix.starts_with("lonely_") {
        args.extend(flags(STRATCLUS));
    }
    let (_, stat_flags, statistic) = CASE_STATISTICS
        .iter()
        .find(|(part, _, _)| name.contains(part))
        .unwrap_or_else(|| panic!("statistic of case {case} not mapped"));
    args.extend(flags(stat_flags));
    if name.ends_with("_by_stype") {
        args.extend(flags("--by stype"));
    }
    (args, statistic.to_string(), by)
}
