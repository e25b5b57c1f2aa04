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
