//! Failures of `migstat estimate`: exit code 2 and a message on stderr naming the file, row,
//! column, stratum or cell; an empty estimate with a warning for a zero denominator.

use super::{data, run_cli, scratch_dir, RunOutput};

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn fails(out: &RunOutput, fragments: &[&str]) {
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    for f in fragments {
        assert!(out.stderr.contains(f), "`{f}` not in: {}", out.stderr);
    }
}

/// apistrat.csv with the `pw` of data row `row` replaced.
fn apistrat_with_weight(test: &str, row: usize, value: &str) -> String {
    let text = std::fs::read_to_string(data("apistrat.csv")).expect("apistrat.csv");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let pw = header
        .iter()
        .position(|h| *h == "\"pw\"")
        .expect("pw column");
    // No quoted field of apistrat.csv holds a comma before `pw`.
    let mut fields: Vec<String> = lines[row].split(',').map(String::from).collect();
    fields[pw] = value.to_string();
    lines[row] = fields.join(",");
    let path = crate::common::lasting_dir(test).join("apistrat_bad.csv");
    std::fs::write(&path, lines.join("\n")).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn lonely_psu_fail_names_the_stratum() {
    let out = run_cli(&args(&[
        &data("apipop_stratclus_lonely.csv"),
        "--weight",
        "pw",
        "--strata",
        "stype",
        "--psu",
        "dnum",
        "--nest",
        "--mean",
        "hi",
    ]));
    fails(&out, &["stratum `H` has only one PSU", "--lonely-psu"]);
}

#[test]
fn negative_or_missing_weight_names_file_row_and_column() {
    let file = apistrat_with_weight("negative", 3, "-2.5");
    let out = run_cli(&args(&[
        &file, "--weight", "pw", "--strata", "stype", "--mean", "api00",
    ]));
    fails(&out, &["apistrat_bad.csv", "row 3", "column `pw`", "-2.5"]);
    let file = apistrat_with_weight("missing", 7, "");
    let out = run_cli(&args(&[&file, "--weight", "pw", "--total", "enroll"]));
    fails(
        &out,
        &["apistrat_bad.csv", "row 7", "column `pw`", "missing"],
    );
}

#[test]
fn psu_in_two_strata_without_nest_names_both() {
    let out = run_cli(&args(&[
        &data("apipop_stratclus.csv"),
        "--weight",
        "pw",
        "--strata",
        "stype",
        "--psu",
        "dnum",
        "--mean",
        "hi",
    ]));
    fails(
        &out,
        &[
            "PSU `111` (column `dnum`) appears in strata `E` and `M`",
            "--nest",
        ],
    );
}

#[test]
fn replicate_columns_must_match_rscales() {
    let out = run_cli(&args(&[
        &data("apiclus1_jk1_repweights.csv"),
        "--weight",
        "pw",
        "--replicates",
        "JK*",
        "--method",
        "jk1",
        "--rscales",
        "1,1,1",
        "--mean",
        "api00",
    ]));
    fails(&out, &["15 replicate weight columns but 3 rscales"]);
    let out = run_cli(&args(&[
        &data("apiclus1_jk1_repweights.csv"),
        "--weight",
        "pw",
        "--replicates",
        "JK*",
        "--mean",
        "api00",
    ]));
    fails(&out, &["--replicates needs --method"]);
}

#[test]
fn unknown_column_names_file_and_column() {
    let out = run_cli(&args(&[
        &data("apistrat.csv"),
        "--weight",
        "pw",
        "--mean",
        "nosuch",
    ]));
    fails(&out, &["apistrat.csv", "no column `nosuch`"]);
}

#[test]
fn zero_denominator_gives_an_empty_estimate_and_a_warning() {
    let dir = scratch_dir("zero-den");
    let path = dir.join("cells.csv");
    let text = "w,g,y,x\n1,a,1,2\n2,a,3,1\n1,b,4,0\n3,b,2,0\n";
    std::fs::write(&path, text).expect("write");
    let file = path.to_string_lossy().into_owned();
    let out = run_cli(&args(&[
        &file, "--weight", "w", "--ratio", "y/x", "--by", "g", "--format", "csv",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: ratio:y/x in cell b: the denominator is zero"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.to_lowercase().contains("nan"), "{}", out.stdout);
    let b = out
        .stdout
        .lines()
        .find(|l| l.starts_with("b,"))
        .expect("row b");
    assert_eq!(b, "b,ratio:y/x,,,,,,2,3");
    for format in ["json", "table"] {
        let out = run_cli(&args(&[
            &file, "--weight", "w", "--ratio", "y/x", "--by", "g", "--format", format,
        ]));
        assert!(!out.stdout.to_lowercase().contains("nan"), "{}", out.stdout);
    }
}

#[test]
fn contradictory_or_empty_requests_are_refused() {
    let strat = data("apistrat.csv");
    let out = run_cli(&args(&[&strat, "--weight", "pw", "--strata", "stype"]));
    fails(&out, &["nothing to estimate"]);
    let out = run_cli(&args(&[
        &strat, "--weight", "pw", "--mse", "--mean", "api00",
    ]));
    fails(&out, &["--mse needs --replicates"]);
    let scd = data("scd_brr_repweights.csv");
    let out = run_cli(&args(&[
        &scd,
        "--weight",
        "1",
        "--replicates",
        "H*",
        "--method",
        "brr",
        "--strata",
        "ESA",
        "--mean",
        "alive",
    ]));
    fails(&out, &["only serve --method jkn"]);
    let out = run_cli(&args(&[
        &scd,
        "--weight",
        "1",
        "--replicates",
        "H*",
        "--method",
        "fay",
        "--mean",
        "alive",
    ]));
    fails(&out, &["method fay needs --rho"]);
}
