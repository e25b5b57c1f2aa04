//! `migstat estimate` reads a file through the readers a pipeline's input goes through: a
//! generated survey written as SPSS, Stata, Excel and gzip'd CSV gives the estimates of its CSV
//! export to the bit (Parquet within 1e-12: its replicate weights are streamed by row group),
//! and so do the CSV's replicate weights kept in a file;
//! a latin-1, semicolon-separated CSV with CRLF line ends and a quoted line break gives the
//! estimates of its UTF-8 twin, with labels that differ only in a non-ASCII letter kept apart;
//! a row of another width names its line; `--limit` and `--sheet` reach the reader.
use std::io::Write;
use std::path::{Path, PathBuf};

use super::estimate_files::{assert_close, designs, estimate};
use crate::common::{migstat, temp_dir};

/// The generated Thai persons (3,000 persons, 6 strata × 4 PSUs, 20 bootstrap replicates) in
/// `format`, under `dir/format`.
fn synth(dir: &Path, format: &str) -> PathBuf {
    let out = dir.join(format);
    let o = migstat(&[
        "synth",
        "--country",
        "THA",
        "--persons",
        "3000",
        "--strata",
        "6",
        "--psus-per-stratum",
        "4",
        "--replicates",
        "20",
        "--format",
        format,
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.join(format!("tha_lfs_synth_persons.{format}"))
}

#[test]
fn every_format_gives_the_estimates_of_its_csv_export() {
    let dir = temp_dir("estimate-formats");
    let csv = synth(&dir, "csv");
    let gz = dir.join("persons.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("gz"),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&csv).expect("csv"))
        .expect("gzip");
    enc.finish().expect("gzip");
    let typed: Vec<(&str, PathBuf)> = ["sav", "dta", "xlsx"]
        .into_iter()
        .map(|f| (f, synth(&dir, f)))
        .chain([("csv.gz", gz)])
        .collect();
    let parquet = synth(&dir, "parquet");
    for (design, flags) in designs() {
        let want = estimate(&[&csv], &flags, &[]);
        assert!(want.contains("mean:BIRTH_CTRY="), "{design}: {want}");
        // Replicate weights kept in a file from the first row on give the same bits.
        #[cfg(feature = "failpoints")]
        assert_eq!(
            estimate(&[&csv], &flags, &[("MIGSTAT_SPILL_BYTES", "1")]),
            want,
            "{design}: replicate weights in a file"
        );
        for (format, file) in &typed {
            assert_eq!(
                estimate(&[file], &flags, &[]),
                want,
                "{design}: {format} against its CSV export"
            );
        }
        assert_close(&estimate(&[&parquet], &flags, &[]), &want, 1e-12, design);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The rows of the text tests: domain, weight, value; one label holds the delimiter.
const ROWS: &[(&str, &str, &str)] = &[
    ("Región Ñ", "10", "1.5"),
    ("Región Ó", "20", "2"),
    ("Región Ñ", "30", "4"),
    ("Île; nord", "15", "3.25"),
    ("Región Ó", "25", ""),
    ("Île; nord", "12", "7"),
];

#[test]
fn a_latin1_semicolon_file_gives_the_estimates_of_its_utf8_twin() {
    let dir = temp_dir("estimate-latin1");
    let mut utf8 = String::from("region,w,y\n");
    let mut latin = String::from("region;w;y\r\n");
    for (i, (region, w, y)) in ROWS.iter().enumerate() {
        utf8.push_str(&format!("\"{region}\",{w},{y}\n"));
        latin.push_str(&format!("\"{region}\";{w};{y}\r\n"));
        if i == 2 {
            latin.push_str("\r\n");
        }
    }
    let bytes: Vec<u8> = latin
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1"))
        .collect();
    let (a, b) = (dir.join("utf8.csv"), dir.join("latin1.csv"));
    std::fs::write(&a, utf8).expect("write");
    std::fs::write(&b, bytes).expect("write");
    let flags = [
        "--weight", "w", "--by", "region", "--total", "y", "--mean", "y", "--format", "csv",
    ];
    let want = estimate(&[&a], &flags, &[]);
    assert_eq!(estimate(&[&b], &flags, &[]), want);
    for label in ["Región Ñ,", "Región Ó,", "Île; nord,"] {
        assert_eq!(
            want.lines().filter(|l| l.starts_with(label)).count(),
            2,
            "{label}: a total and a mean\n{want}"
        );
    }
    // Región Ñ: total 10·1.5 + 30·4 = 135.
    assert!(
        want.lines().any(|l| l.starts_with("Región Ñ,total:y,135,")),
        "{want}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `migstat estimate FILE FLAGS…` with `env`: its exit code and stderr.
fn status(file: &Path, flags: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_migstat"))
        .arg("estimate")
        .arg(file)
        .args(flags)
        .envs(env.iter().copied())
        .output()
        .expect("run migstat");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_row_of_another_width_names_its_line() {
    let dir = temp_dir("estimate-width");
    let f = dir.join("ragged.csv");
    // Line 2's quoted cell runs over a line break, so the short row is on line 5.
    std::fs::write(&f, "d,w,y\n\"a\nb\",1,2\nc,1,3\nc,4\n").expect("write");
    let (code, err) = status(&f, &["--weight", "w", "--total", "y"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("line 5 has 2 cells where the header has 3"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn blank_lines_of_a_text_file_are_skipped_even_with_one_column() {
    let dir = temp_dir("estimate-blank");
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    std::fs::write(&a, "y\n1\n2\n4\n").expect("write");
    std::fs::write(&b, "y\n1\n\n2\r\n  \n4\n\n").expect("write");
    let flags = ["--weight", "1", "--total", "y", "--format", "csv"];
    let want = estimate(&[&a], &flags, &[]);
    assert!(want.contains("total:y,7,"), "{want}");
    assert_eq!(estimate(&[&b], &flags, &[]), want);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn limits_and_the_sheet_reach_the_reader() {
    let dir = temp_dir("estimate-reading");
    let f = dir.join("wide.csv");
    let long = "x".repeat(100);
    std::fs::write(&f, format!("d,w,y\n{long},1,2\nc,1,3\n")).expect("write");
    let run = |file: &Path, extra: &[&str]| {
        let mut flags = vec!["--weight", "w", "--total", "y", "--by", "d"];
        flags.extend(extra);
        status(file, &flags, &[])
    };
    assert_eq!(run(&f, &[]).0, Some(0));
    let (code, err) = run(&f, &["--limit", "max_cell_bytes=50"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("wide.csv:2") && err.contains("max_cell_bytes = 50"),
        "{err}"
    );
    let (code, err) = run(&f, &["--limit", "max_cells=0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--limit max_cells=0"), "{err}");
    let xlsx = synth(&dir, "xlsx");
    let (code, err) = run(&xlsx, &["--sheet", "no such sheet"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no such sheet"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Replicate weights move out of the loaded table into the design unless the estimate reads
/// them too: a replicate column analysed as well gives what its copy under another name gives.
#[test]
fn a_replicate_weight_column_may_also_be_analysed() {
    let dir = temp_dir("estimate-rep-shared");
    let f = dir.join("reps.csv");
    let mut text = String::from("d,w,r1,r2,r3,y\n");
    for i in 0..40u32 {
        let w = 10 + i % 7;
        let r = |k: u32| {
            if (i + k).is_multiple_of(3) {
                0
            } else {
                w * 3 / 2
            }
        };
        let (r1, r2, r3) = (r(0), r(1), r(2));
        text.push_str(&format!("{},{w},{r1},{r2},{r3},{r1}\n", i % 2));
    }
    std::fs::write(&f, text).expect("write");
    let run = |stat: &str| {
        let flags = [
            "--weight",
            "w",
            "--replicates",
            "r1,r2,r3",
            "--method",
            "bootstrap",
            "--by",
            "d",
            "--total",
            stat,
            "--mean",
            stat,
            "--format",
            "csv",
        ];
        estimate(&[&f], &flags, &[]).replace(&format!(":{stat}"), ":Y")
    };
    let copy = run("y");
    assert_eq!(copy.lines().count(), 5, "{copy}");
    assert_eq!(run("r1"), copy);
    let _ = std::fs::remove_dir_all(dir);
}

/// A bootstrap design of replicate weights `r1`, `r2` on weight `w`, total of `y`.
const REP_FLAGS: [&str; 8] = [
    "--weight",
    "w",
    "--replicates",
    "r1,r2",
    "--method",
    "bootstrap",
    "--total",
    "y",
];

/// A replicate weight kept row by row is checked as a column is: the first bad one of the
/// first column that has one, by its data row; text in it names row and column.
#[test]
fn bad_replicate_weights_name_row_and_column() {
    let dir = temp_dir("estimate-rep-bad");
    let run = |name: &str, rows: &[&str], env: &[(&str, &str)]| {
        let f = dir.join(name);
        std::fs::write(&f, format!("w,r1,r2,y\n{}\n", rows.join("\n"))).expect("write");
        status(&f, &REP_FLAGS, env)
    };
    for env in [&[][..], &[("MIGSTAT_SPILL_BYTES", "1")][..]] {
        // r2 goes bad on row 2, r1 on row 3: r1 is the first column with a bad weight.
        let rows = ["1,1,1,1", "1,1,-2,1", "1,,1,1", "1,1,1,1"];
        let (code, err) = run("neg.csv", &rows, env);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("row 3, column `r1`: weight is missing"),
            "{err}"
        );
        let rows = ["1,1,1,1", "1,1,x2,1"];
        let (code, err) = run("text.csv", &rows, env);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("row 2, column `r2`: `x2` is not a number"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A disk that fills while the replicate weights are kept (a failed write of a block, or of
/// the file's creation) stops the estimate with exit 2, naming the folder.
#[cfg(feature = "failpoints")]
#[test]
fn a_full_disk_under_the_replicate_weights_is_an_error_naming_the_folder() {
    let dir = temp_dir("estimate-rep-enospc");
    let f = dir.join("reps.csv");
    let rows: Vec<String> = (0..50).map(|i| format!("{},1,2,{i}", 1 + i % 3)).collect();
    std::fs::write(&f, format!("w,r1,r2,y\n{}\n", rows.join("\n"))).expect("write");
    let flags = REP_FLAGS;
    for fault in ["spill:1:enospc", "spill:7:enospc", "spill.write:4:enospc"] {
        let env = [("MIGSTAT_SPILL_BYTES", "1"), ("MIGSTAT_FAILPOINT", fault)];
        let (code, err) = status(&f, &flags, &env);
        assert_eq!(code, Some(2), "{fault}: {err}");
        assert!(
            err.contains("cannot keep the replicate weights in this folder")
                && err.contains("No space left on device"),
            "{fault}: {err}"
        );
    }
    let (code, err) = status(&f, &flags, &[("MIGSTAT_SPILL_BYTES", "1")]);
    assert_eq!(code, Some(0), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Writes `dir/typed.parquet` (row groups of 37 rows) and `dir/typed.csv`, the same 600 rows:
/// a dictionary-encoded, a large and a plain string column, dates, integers from 8 bits to
/// unsigned 64 (past 2^63), booleans, a decimal sampling weight, single-precision floats and
/// doubles, with nulls; the CSV holds each value as text (a boolean as 1 or 0, a date as ISO, a
/// null as an empty cell).
const TYPED: &str = r#"
import csv, datetime, decimal, sys
import pyarrow as pa, pyarrow.parquet as pq
n = 600
rows = []
for i in range(n):
    k = (i * 7919) % 1000
    rows.append(dict(
        region=["North", "South", "East", "West", "Centre"][k % 5],
        area=["urban", "rural"][k % 2],
        band=["Y15-24", "Y25-54", "YGE55"][k % 3],
        day=datetime.date(2024, 1 + k % 3, 1),
        small=(k % 4) - 2,
        big=2**63 + (k % 3),
        stratum=i % 6,
        psu=1000 * (i % 6) + (i // 6) % 5,
        emp=None if k % 17 == 0 else (k % 5 > 1),
        income=None if k % 13 == 0 else 1000.0 + (k * 37 % 811) / 8.0,
        hours=(k % 60) * 0.25,
        w=decimal.Decimal(1000 + (k * 53) % 997) / 100,
        rep1=(1.0 + (k % 7) / 4.0),
        rep2=decimal.Decimal(50 + k % 150) / 100,
    ))
col = lambda c: [r[c] for r in rows]
table = pa.table({
    "region": pa.array(col("region")).dictionary_encode(),
    "area": pa.array(col("area"), pa.large_string()),
    "band": pa.array(col("band"), pa.string()),
    "day": pa.array(col("day"), pa.date32()),
    "small": pa.array(col("small"), pa.int8()),
    "big": pa.array(col("big"), pa.uint64()),
    "stratum": pa.array(col("stratum"), pa.int32()),
    "psu": pa.array(col("psu"), pa.int64()),
    "emp": pa.array(col("emp"), pa.bool_()),
    "income": pa.array(col("income"), pa.float64()),
    "hours": pa.array(col("hours"), pa.float32()),
    "w": pa.array(col("w"), pa.decimal128(9, 2)),
    "rep1": pa.array(col("rep1"), pa.float64()),
    "rep2": pa.array(col("rep2"), pa.decimal128(9, 2)),
})
pq.write_table(table, sys.argv[1] + "/typed.parquet", row_group_size=37)
def text(v):
    if v is None: return ""
    if isinstance(v, bool): return "1" if v else "0"
    return str(v)
with open(sys.argv[1] + "/typed.csv", "w", newline="") as f:
    out = csv.writer(f)
    out.writerow(table.column_names)
    for r in rows:
        out.writerow([text(r[c]) for c in table.column_names])
"#;

#[test]
fn every_parquet_column_type_gives_the_estimates_of_the_same_values_as_text() {
    let dir = temp_dir("estimate-typed-parquet");
    let o = std::process::Command::new(super::interop::python())
        .args(["-c", TYPED, dir.to_str().expect("path")])
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (parquet, csv) = (dir.join("typed.parquet"), dir.join("typed.csv"));
    let taylor = ["--weight", "w", "--strata", "stratum", "--psu", "psu"];
    let runs: [(&str, Vec<&str>); 3] = [
        (
            "strings and dates as domains",
            [
                &taylor[..],
                &[
                    "--mean",
                    "income",
                    "--total",
                    "hours",
                    "--by",
                    "region,area,day",
                ],
            ]
            .concat(),
        ),
        (
            "integers as domains, a boolean as a proportion",
            [
                &taylor[..],
                &[
                    "--mean",
                    "emp",
                    "--ratio",
                    "hours/income",
                    "--by",
                    "small,big,band",
                ],
            ]
            .concat(),
        ),
        (
            "a factor's levels",
            [&taylor[..], &["--mean", "band", "--by", "region"]].concat(),
        ),
    ];
    let dated = estimate(
        &[&parquet],
        &[&runs[0].1[..], &["--format", "csv"]].concat(),
        &[],
    );
    assert!(dated.contains(",2024-02-01,"), "{dated}");
    for (what, flags) in &runs {
        let mut flags = flags.clone();
        flags.extend(["--format", "csv"]);
        let from_parquet = estimate(&[&parquet], &flags, &[]);
        assert!(from_parquet.lines().count() > 6, "{what}: {from_parquet}");
        // As two files (each its partial): the text's bits too.
        assert_eq!(
            estimate(&[&parquet, &parquet], &flags, &[]),
            estimate(&[&csv, &csv], &flags, &[]),
            "{what}, twice"
        );
        assert_eq!(from_parquet, estimate(&[&csv], &flags, &[]), "{what}");
    }
    // Replicate weights, a double and a decimal, streamed row group by row group.
    let flags = [
        "--weight",
        "w",
        "--replicates",
        "rep1,rep2",
        "--method",
        "bootstrap",
        "--mean",
        "income",
        "--by",
        "region,big",
        "--format",
        "csv",
    ];
    let streamed = estimate(&[&parquet], &flags, &[]);
    assert!(streamed.contains("9223372036854775810"), "{streamed}");
    // Summed in another order: an SE a ten-thousandth of its mean, from two replicates, keeps
    // about 12 of the 16 digits its sums agree to.
    assert_close(
        &streamed,
        &estimate(&[&csv], &flags, &[]),
        1e-10,
        "replicates",
    );
}

/// A Taylor design without `--psu` (every row its own PSU, whose sums the finish reads from the
/// rows) gives the bits of the same design with a PSU column numbering the rows (whose sums the
/// state keeps, a list a PSU).
#[test]
fn rows_as_psus_give_the_bits_of_a_psu_column_numbering_the_rows() {
    let dir = temp_dir("estimate-rows-as-psus");
    let text = std::fs::read_to_string(
        crate::common::repo().join("sample_data/synth/tha_lfs_synth_persons.csv"),
    )
    .expect("sample");
    let numbered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("ROW,{l}\n"),
            _ => format!("{i},{l}\n"),
        })
        .collect();
    let file = dir.join("numbered.csv");
    std::fs::write(&file, numbered).expect("write");
    let requests: [&[&str]; 3] = [
        &[
            "--weight", "WEIGHT", "--mean", "AGE", "--total", "REMIT", "--by", "SEX,EDUC",
        ],
        &[
            "--weight",
            "WEIGHT",
            "--strata",
            "STRATUM",
            "--mean",
            "BIRTH_CTRY",
            "--ratio",
            "REMIT_AMT/WEIGHT",
            "--by",
            "SEX",
        ],
        &[
            "--weight", "WEIGHT", "--mean", "AGE", "--mean", "AGE", "--by", "QTR",
        ],
    ];
    for flags in requests {
        let flags = [flags, &["--format", "csv"]].concat();
        let rows = estimate(&[&file], &flags, &[]);
        assert!(rows.lines().count() > 2, "{rows}");
        let with_psu = [&flags[..], &["--psu", "ROW"]].concat();
        assert_eq!(rows, estimate(&[&file], &with_psu, &[]), "{flags:?}");
    }
}
