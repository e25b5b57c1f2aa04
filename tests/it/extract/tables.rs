//! The Excel and Parquet readers on files from our writers, `rust_xlsxwriter` and arrow; wrong
//! sheets, unreadable files; writers refusing what their format cannot hold.
use migstat::extract::excel::SheetSpec;
use migstat::extract::write::{self, Format};
use migstat::extract::{ExcelSource, ParquetSource, RowSource};

use super::{read_all, sample, sample_rows, truncated, unreadable, write_sample};
use crate::common::temp_dir;

#[test]
fn excel_reads_what_write_excel_wrote() {
    let dir = temp_dir("xlsx-roundtrip");
    let p = dir.join("s.xlsx");
    write_sample(Format::Excel, &p);
    let mut src = ExcelSource::open(&p, &SheetSpec::default()).expect("open");
    assert_eq!(src.headers(), sample().0.as_slice());
    let rows: Vec<Vec<String>> = read_all(&mut src)
        .expect("rows")
        .into_iter()
        .map(|r| r.1)
        .collect();
    let want: Vec<Vec<String>> = sample_rows().into_iter().map(|r| r.1).collect();
    assert_eq!(rows, want);
    assert!(src.display().to_string_lossy().ends_with("s.xlsx!data"));
}

/// A sheet as offices lay them out: a title, the header lower down, notes beside the table, a
/// blank row, dates stored as Excel serials with a date format.
#[test]
fn excel_sheet_header_row_range_and_dates() {
    use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Workbook};
    let dir = temp_dir("xlsx-layout");
    let p = dir.join("lfs.xlsx");
    let mut book = Workbook::new();
    book.add_worksheet().set_name("notes").expect("name");
    let sheet = book.add_worksheet();
    sheet.set_name("Persons 2024").expect("name");
    let date = XFormat::new().set_num_format("yyyy-mm-dd");
    sheet
        .write_string(0, 0, "Labour force survey, 2024")
        .expect("title");
    for (c, h) in ["id", "sex", "interview", "wt"].iter().enumerate() {
        sheet.write_string(2, 1 + c as u16, *h).expect("header");
    }
    sheet
        .write_string(2, 6, "a note outside the range")
        .expect("note");
    let days = [(2024, 3, 31), (2024, 2, 29)];
    for (r, (id, (y, m, d))) in [(1, days[0]), (2, days[1])].into_iter().enumerate() {
        let row = if r == 0 { 3 } else { 5 };
        sheet.write_number(row, 1, id as f64).expect("id");
        sheet.write_number(row, 2, 2.0).expect("sex");
        let dt = ExcelDateTime::from_ymd(y, m, d).expect("date");
        sheet
            .write_datetime_with_format(row, 3, &dt, &date)
            .expect("date");
        sheet.write_number(row, 4, 10.75).expect("wt");
    }
    sheet.write_number(9, 1, 99.0).expect("beyond the range");
    book.save(&p).expect("save");
    let spec = SheetSpec {
        sheet: Some("Persons 2024".into()),
        header_row: Some(3),
        range: Some("B3:E8".into()),
    };
    let mut src = ExcelSource::open(&p, &spec).expect("open");
    assert_eq!(src.headers(), ["id", "sex", "interview", "wt"]);
    let rows = read_all(&mut src).expect("rows");
    assert_eq!(
        rows,
        [
            (
                4,
                ["1", "2", "2024-03-31", "10.75"].map(String::from).to_vec()
            ),
            (
                6,
                ["2", "2", "2024-02-29", "10.75"].map(String::from).to_vec()
            ),
        ]
    );
}

#[test]
fn excel_wrong_sheet_name_lists_the_sheets() {
    let dir = temp_dir("xlsx-sheet");
    let p = dir.join("s.xlsx");
    write_sample(Format::Excel, &p);
    let spec = SheetSpec {
        sheet: Some("Data 2024".into()),
        ..SheetSpec::default()
    };
    let msg = unreadable(
        ExcelSource::open(&p, &spec).err().expect("no such sheet"),
        &p,
    );
    assert!(
        msg.contains("no sheet named \"Data 2024\" (the workbook has: data)"),
        "{msg}"
    );
    let junk = dir.join("junk.xlsx");
    std::fs::write(&junk, "not a workbook").expect("junk");
    let msg = unreadable(
        ExcelSource::open(&junk, &SheetSpec::default())
            .err()
            .expect("junk"),
        &junk,
    );
    assert!(msg.contains("not a readable workbook"), "{msg}");
}

#[test]
fn parquet_reads_what_write_parquet_wrote() {
    let dir = temp_dir("parquet-roundtrip");
    let p = dir.join("s.parquet");
    write_sample(Format::Parquet, &p);
    let mut src = ParquetSource::open(&p).expect("open");
    assert_eq!(src.headers(), sample().0.as_slice());
    assert_eq!(read_all(&mut src).expect("rows"), sample_rows());
}

/// Types other tools write: small integers, pandas categoricals (dictionaries), dates,
/// decimals, booleans; and a type not read, named in the error.
#[test]
fn parquet_types_from_other_writers() {
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Int16Array,
        RecordBatch, TimestampSecondArray,
    };
    use std::sync::Arc;
    let dir = temp_dir("parquet-types");
    let write_cols = |name: &str, cols: Vec<(&str, ArrayRef)>| {
        let p = dir.join(name);
        let batch = RecordBatch::try_from_iter(cols).expect("batch");
        let f = std::fs::File::create(&p).expect("create");
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        p
    };
    let sex: DictionaryArray<Int32Type> = vec![Some("Male"), None, Some("Female")]
        .into_iter()
        .collect();
    let p = write_cols(
        "types.parquet",
        vec![
            (
                "age",
                Arc::new(Int16Array::from(vec![Some(34), Some(15), None])) as ArrayRef,
            ),
            ("sex", Arc::new(sex)),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(19_813), None, Some(0)])),
            ),
            (
                "wt",
                Arc::new(
                    Decimal128Array::from(vec![Some(12_050), Some(-5), None])
                        .with_precision_and_scale(10, 2)
                        .expect("decimal"),
                ),
            ),
            (
                "emp",
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            ),
        ],
    );
    let mut src = ParquetSource::open(&p).expect("open");
    let rows: Vec<Vec<String>> = read_all(&mut src)
        .expect("rows")
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        rows,
        [
            ["34", "Male", "2024-03-31", "120.50", "true"],
            ["15", "", "", "-0.05", "false"],
            ["", "Female", "1970-01-01", "", ""],
        ]
        .map(|r| r.map(String::from).to_vec())
    );
    let p = write_cols(
        "stamp.parquet",
        vec![(
            "seen",
            Arc::new(TimestampSecondArray::from(vec![1_i64])) as ArrayRef,
        )],
    );
    let msg = unreadable(ParquetSource::open(&p).err().expect("timestamp"), &p);
    assert!(msg.contains("column seen has type Timestamp"), "{msg}");
}

#[test]
fn parquet_unreadable_file_is_an_error_naming_it() {
    let dir = temp_dir("parquet-bad");
    let good = dir.join("good.parquet");
    write_sample(Format::Parquet, &good);
    let len = std::fs::metadata(&good).expect("len").len() as usize;
    let bad = dir.join("cut.parquet");
    truncated(&good, &bad, len - 10);
    let msg = unreadable(ParquetSource::open(&bad).err().expect("truncated"), &bad);
    assert!(msg.contains("not a readable Parquet file"), "{msg}");
    let junk = dir.join("junk.parquet");
    std::fs::write(&junk, "id,sex\n1,2\n").expect("junk");
    let msg = unreadable(ParquetSource::open(&junk).err().expect("junk"), &junk);
    assert!(msg.contains("not a readable Parquet file"), "{msg}");
}

/// Writers refuse what their format cannot hold instead of writing a damaged file.
#[test]
fn writers_refuse_bad_tables() {
    let dir = temp_dir("writers-bad");
    let (h, mut rows, labels, numeric) = sample();
    rows[2][2] = "fifteen".into();
    for format in [Format::Stata, Format::Spss, Format::Excel, Format::Parquet] {
        let p = dir.join(format!("bad.{}", format.extension()));
        let err = write::write(format, &p, &h, rows.clone().into_iter(), &labels, &numeric)
            .expect_err("a text cell in a numeric column");
        assert!(
            err.to_string().contains("\"fifteen\" is not a number"),
            "{err}"
        );
        assert!(!p.exists(), "{} was left behind", p.display());
    }
}

/// Legacy `.xls` (BIFF8), a file made once with xlwt (`tests/data/make_xls.py`): sheet by name,
/// header row, range, a date cell, a blank row, latin text.
#[test]
fn excel_reads_legacy_xls() {
    let p = crate::common::repo().join("tests/data/persons.xls");
    let spec = SheetSpec {
        sheet: Some("Persons 2024".into()),
        header_row: Some(3),
        range: Some("B3:E".into()),
    };
    let mut src = ExcelSource::open(&p, &spec).expect("open");
    assert_eq!(src.headers(), ["id", "sex", "interview", "region"]);
    assert_eq!(
        read_all(&mut src).expect("rows"),
        [
            (
                4,
                ["1", "2", "2024-03-31", "Côte-Nord"]
                    .map(String::from)
                    .to_vec()
            ),
            (
                6,
                ["2", "1", "2024-02-29", "Yukon"].map(String::from).to_vec()
            ),
        ]
    );
}

/// Integers up to 2^53 and doubles come out of a Parquet file as numbers, through the jobs the
/// run uses; a larger integer keeps its digits as text, as does an unsigned 64-bit column, a
/// single-precision float is the decimal it was written as, a double that is not finite is its
/// text, a null is blank.
#[test]
fn parquet_numbers_come_as_numbers() {
    use arrow_array::{
        ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
    };
    use migstat::extract::{BatchSize, Value};
    use std::sync::Arc;
    let dir = temp_dir("parquet-numbers");
    let p = dir.join("n.parquet");
    let big = (1_i64 << 53) + 1;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "i",
            Arc::new(Int64Array::from(vec![Some(7), Some(big), None])) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float64Array::from(vec![
                Some(0.1),
                Some(f64::NAN),
                Some(-2.5),
            ])),
        ),
        (
            "g",
            Arc::new(Float32Array::from(vec![Some(0.1_f32), None, Some(3.0)])),
        ),
        (
            "u",
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(4), None])),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("x"), Some(""), None])),
        ),
    ])
    .expect("batch");
    let f = std::fs::File::create(&p).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let mut src = ParquetSource::open(&p).expect("open");
    let size = BatchSize {
        rows: 2,
        bytes: 1 << 20,
    };
    let mut got = Vec::new();
    while let Some(job) = src.next_job(size).expect("job") {
        let b = job().expect("batch");
        for r in 0..b.len() {
            let cells: Vec<String> = (0..b.width(r))
                .map(|c| match b.value(r, c) {
                    Value::Number(x) => format!("#{x:?}"),
                    Value::Text(t) => t.to_string(),
                })
                .collect();
            got.push((b.line(r), cells));
        }
    }
    let want = [
        (1, ["#7.0", "#0.1", "0.1", "18446744073709551615", "x"]),
        (2, ["9007199254740993", "NaN", "", "4", ""]),
        (3, ["", "#-2.5", "3", "", ""]),
    ];
    let want: Vec<(u64, Vec<String>)> = want
        .into_iter()
        .map(|(l, r)| (l, r.map(String::from).to_vec()))
        .collect();
    assert_eq!(got, want);
}
