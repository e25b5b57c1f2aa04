//! Parquet input gives byte-identical output to the same data as CSV: integer keys, nullable
//! doubles, 32-bit integers and strings, spread over many row groups read in parallel. Replicate
//! designs on Parquet take the streaming path (replicate weights folded chunk by chunk): the
//! reference rows are checked through it too (`as_parquet`), and here against the CSV path on
//! derived JKn rscales, domains, factors and bad weights.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::{data, run_cli, scratch_dir};

/// apiclus2.csv as Parquet with row groups of 10 rows.
fn apiclus2_parquet() -> String {
    let mut rdr = csv::Reader::from_path(data("apiclus2.csv")).expect("apiclus2.csv");
    let header = rdr.headers().expect("header").clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    let col = |name: &str| -> Vec<String> {
        let i = header.iter().position(|h| h == name).expect("column");
        rows.iter().map(|r| r[i].to_string()).collect()
    };
    let int64 = |n: &str| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            col(n).iter().map(|s| s.parse::<i64>().ok()),
        ))
    };
    let float = |n: &str| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            col(n).iter().map(|s| s.parse::<f64>().ok()),
        ))
    };
    let int32: ArrayRef = Arc::new(Int32Array::from_iter(
        col("api00").iter().map(|s| s.parse::<i32>().ok()),
    ));
    let text: ArrayRef = Arc::new(StringArray::from_iter(
        col("stype").iter().map(|s| Some(s.as_str())),
    ));
    let batch = RecordBatch::try_from_iter([
        ("dnum", int64("dnum")),
        ("snum", int64("snum")),
        ("pw", float("pw")),
        ("fpc1", float("fpc1")),
        ("fpc2", float("fpc2")),
        ("enroll", float("enroll")),
        ("api00", int32),
        ("stype", text),
    ])
    .expect("batch");
    let path = crate::common::lasting_dir("parquet").join("apiclus2.parquet");
    write_parquet(&batch, &path, 10)
}

/// Write `batch` to `path` in row groups of `rows` rows; the path as text.
fn write_parquet(batch: &RecordBatch, path: &Path, rows: usize) -> String {
    let file = std::fs::File::create(path).expect("create");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
    path.to_string_lossy().into_owned()
}

#[test]
fn parquet_and_csv_give_the_same_output() {
    let parquet = apiclus2_parquet();
    let flags = [
        "--weight",
        "pw",
        "--psu",
        "dnum,snum",
        "--fpc",
        "fpc1,fpc2",
        "--total",
        "enroll",
        "--mean",
        "api00",
        "--mean",
        "stype",
        "--ratio",
        "enroll/api00",
        "--by",
        "stype",
        "--format",
        "csv",
    ];
    let run = |file: String| {
        let args: Vec<String> = std::iter::once(file)
            .chain(flags.iter().map(|s| s.to_string()))
            .collect();
        let out = run_cli(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let from_csv = run(data("apiclus2.csv"));
    assert_eq!(from_csv.lines().count(), 1 + 3 * 6);
    // Row groups are read concurrently: repeat to give a race a chance to show.
    for _ in 0..10 {
        assert_eq!(from_csv, run(parquet.clone()));
    }
}

/// A Parquet copy of the CSV file `csv_path` (cached per process): a column whose non-empty
/// values are all numbers becomes nullable Float64, any other nullable text; row groups of 7
/// rows, so that every design spreads over many unequal row groups.
pub fn as_parquet(csv_path: &str) -> String {
    static COPIES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let mut copies = COPIES.get_or_init(Default::default).lock().expect("lock");
    if let Some(p) = copies.get(csv_path) {
        return p.clone();
    }
    let mut rdr = csv::Reader::from_path(csv_path).expect("csv");
    let header = rdr.headers().expect("header").clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    let columns: Vec<(String, ArrayRef)> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let cells: Vec<&str> = rows.iter().map(|r| r[i].trim()).collect();
            let numeric = cells
                .iter()
                .all(|c| c.is_empty() || c == &"NA" || c.parse::<f64>().is_ok());
            let array: ArrayRef = if numeric {
                Arc::new(Float64Array::from_iter(
                    cells.iter().map(|c| c.parse::<f64>().ok()),
                ))
            } else {
                Arc::new(StringArray::from_iter(
                    cells.iter().map(|c| (!c.is_empty()).then_some(*c)),
                ))
            };
            (name.to_string(), array)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let stem = Path::new(csv_path)
        .file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let path =
        crate::common::lasting_dir(&format!("as-parquet-{stem}")).join(format!("{stem}.parquet"));
    let out = write_parquet(&batch, &path, 7);
    copies.insert(csv_path.to_string(), out.clone());
    out
}

/// Parse CSV output into rows of fields, numbers as numbers.
fn fields(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// The same command on the CSV file and on its Parquet copy: same rows, labels and counts,
/// numbers equal to 1e-12 relative (the streaming path adds in another order).
fn same_on_parquet(csv_file: &str, flags: &str) -> String {
    let run = |file: String| {
        let args: Vec<String> = std::iter::once(file)
            .chain(flags.split_whitespace().map(String::from))
            .chain(["--format".to_string(), "csv".to_string()])
            .collect();
        run_cli(&args)
    };
    let a = run(data(csv_file));
    let b = run(as_parquet(&data(csv_file)));
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(a.stderr, b.stderr);
    let (fa, fb) = (fields(&a.stdout), fields(&b.stdout));
    assert_eq!(fa.len(), fb.len(), "{}\n{}", a.stdout, b.stdout);
    for (ra, rb) in fa.iter().zip(&fb) {
        assert_eq!(ra.len(), rb.len());
        for (x, y) in ra.iter().zip(rb) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!(
                    (x - y).abs() <= 1e-12 * x.abs().max(1e-300),
                    "{x} vs {y} in {ra:?} / {rb:?}"
                ),
                _ => assert_eq!(x, y),
            }
        }
    }
    b.stdout
}

#[test]
fn replicate_designs_stream_from_parquet_like_csv() {
    // JKn with rscales derived from the deleted PSUs' strata, domains and a factor.
    let out = same_on_parquet(
        "apistrat_jkn_repweights.csv",
        "--weight pw --strata stype --replicates JK* --method jkn --total enroll --mean api00 --ratio api00/enroll --mean stype --by stype",
    );
    assert_eq!(out.lines().count(), 1 + 3 * 6, "{out}");
    // Bootstrap with --mse; BRR declared by replicate weights alone (weight 1).
    same_on_parquet(
        "stratclus_boot_repweights.csv",
        "--weight pw --replicates B* --method bootstrap --mse --scale 0.02 --mean hi --total enroll --by stype",
    );
    same_on_parquet(
        "scd_brr_repweights.csv",
        "--weight 1 --replicates H1,H2,H3,H4 --method brr --total arrests",
    );
}

#[test]
fn bad_replicate_weight_in_parquet_names_row_and_column() {
    let csv_path = data("stratclus_boot_repweights.csv");
    let text = std::fs::read_to_string(&csv_path).expect("csv");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<String> = lines[0]
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let b3 = header.iter().position(|h| h == "B3").expect("B3 column");
    for (row, value) in [(40usize, "-1.5"), (45, "")] {
        let mut fields: Vec<String> = lines[row].split(',').map(String::from).collect();
        fields[b3] = value.to_string();
        lines[row] = fields.join(",");
    }
    let dir = scratch_dir("bad-replicate");
    let bad = dir.join("boot_bad.csv");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let parquet = as_parquet(&bad.to_string_lossy());
    for file in [bad.to_string_lossy().into_owned(), parquet] {
        let flags = "--weight pw --replicates B* --method bootstrap --total enroll";
        let args: Vec<String> = std::iter::once(file.clone())
            .chain(flags.split_whitespace().map(String::from))
            .collect();
        let out = run_cli(&args);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("row 40") && out.stderr.contains("`B3`"),
            "{file}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("-1.5"), "{}", out.stderr);
    }
}
