//! Parquet input gives byte-identical output to the same data as CSV: integer keys, nullable
//! doubles, 32-bit integers and strings, spread over many row groups read in parallel.

use std::sync::Arc;

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
    let path = scratch_dir("parquet").join("apiclus2.parquet");
    let file = std::fs::File::create(&path).expect("create");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10))
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
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
