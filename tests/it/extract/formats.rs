//! Each reader on generated files, and on broken ones: clear errors naming the file.
use std::collections::BTreeMap;
use std::path::Path;

use migstat::error::MigError;
use migstat::extract::excel::SheetSpec;
use migstat::extract::write::{self, Format};
use migstat::extract::{ExcelSource, ParquetSource, RowSource, SpssSource, StataSource};

use super::{read_all, readstat, sample, sample_rows, truncated};
use crate::common::temp_dir;

fn write_sample(format: Format, path: &Path) {
    let (h, rows, labels, numeric) = sample();
    write::write(format, path, &h, rows.into_iter(), &labels, &numeric).expect("write sample");
}

fn sex_labels() -> BTreeMap<String, String> {
    sample().2["sex"].clone()
}

/// The message of an error that must be `Unreadable` and name `path`.
fn unreadable(e: MigError, path: &Path) -> String {
    let msg = e.to_string();
    assert!(matches!(e, MigError::Unreadable { .. }), "{msg}");
    assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
    msg
}

#[test]
fn spss_reads_what_write_spss_wrote() {
    let dir = temp_dir("sav-roundtrip");
    let p = dir.join("s.sav");
    write_sample(Format::Spss, &p);
    let mut src = SpssSource::open(&p, None).expect("open");
    assert_eq!(src.headers(), sample().0.as_slice());
    assert_eq!(src.labels(1), Some(&sex_labels()));
    assert_eq!(src.labels(0), None);
    assert_eq!(read_all(&mut src).expect("rows"), sample_rows());
}

/// `readstat` reads our `.sav` to the same cells, and writes `.zsav` and `.dta` that our readers
/// read back, labels included.
#[test]
fn spss_and_stata_files_agree_with_readstat() {
    let dir = temp_dir("sav-readstat");
    let sav = dir.join("s.sav");
    write_sample(Format::Spss, &sav);
    let csv = readstat(&[&sav, Path::new("-")]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("\"id\",\"sex\",\"age\",\"region\",\"wt\"")
    );
    let first: Vec<&str> = lines.next().expect("row").split(',').collect();
    assert_eq!(first[0].parse::<f64>().ok(), Some(1.0), "{csv}");
    assert_eq!(first[3], "\"North\"", "{csv}");
    assert_eq!(first[4].parse::<f64>().ok(), Some(120.5), "{csv}");
    for out in ["r.zsav", "r.dta", "r.sav"] {
        let out = dir.join(out);
        readstat(&[&sav, &out]);
        let mut src: Box<dyn RowSource> = if out.extension().is_some_and(|e| e == "dta") {
            Box::new(StataSource::open(&out, None).expect("open dta"))
        } else {
            Box::new(SpssSource::open(&out, None).expect("open sav"))
        };
        assert_eq!(src.labels(1), Some(&sex_labels()), "{}", out.display());
        assert_eq!(read_all(src.as_mut()).expect("rows"), sample_rows());
    }
}

/// User-missing values declared in the file come out blank; the codes next to them do not.
#[test]
fn spss_user_missing_values_are_blank() {
    let dir = temp_dir("sav-missing");
    let csv = dir.join("m.csv");
    std::fs::write(&csv, "status,income\n1,100\n9,-1\n2,99999\n3,250\n").expect("csv");
    let meta = dir.join("m.json");
    let json = r#"{"type": "SPSS", "variables": [
        {"type": "NUMERIC", "name": "status", "missing": {"type": "DISCRETE", "values": [9]},
         "categories": [{"code": 1, "label": "Employed"}, {"code": 9, "label": "Refused"}]},
        {"type": "NUMERIC", "name": "income", "missing": {"type": "RANGE", "low": 99990, "high": 99999}}
    ]}"#;
    std::fs::write(&meta, json).expect("json");
    // readstat writes `.sav` from CSV and JSON, and `.zsav` only from another file.
    readstat(&[&csv, &meta, &dir.join("m.sav")]);
    readstat(&[&dir.join("m.sav"), &dir.join("m.zsav")]);
    for name in ["m.sav", "m.zsav"] {
        let out = dir.join(name);
        let mut src = SpssSource::open(&out, None).expect("open");
        let rows: Vec<Vec<String>> = read_all(&mut src)
            .expect("rows")
            .into_iter()
            .map(|r| r.1)
            .collect();
        assert_eq!(
            rows,
            [["1", "100"], ["", "-1"], ["2", ""], ["3", "250"]]
                .map(|r| r.map(String::from).to_vec()),
            "{name}"
        );
        assert_eq!(
            src.labels(0).and_then(|l| l.get("1")).map(String::as_str),
            Some("Employed")
        );
    }
}

#[test]
fn spss_truncated_file_is_an_error_naming_it() {
    let dir = temp_dir("sav-truncated");
    let good = dir.join("good.sav");
    write_sample(Format::Spss, &good);
    let len = std::fs::metadata(&good).expect("len").len() as usize;
    let case = 5 * 8 + 8; // four numbers and an 8-byte string
    for (n, what) in [
        (100, "header"),
        (300, "dictionary"),
        (len - 5, "inside a case"),
        (len - case, "a whole case"),
    ] {
        let bad = dir.join(format!("cut-{n}.sav"));
        truncated(&good, &bad, n);
        let err = SpssSource::open(&bad, None)
            .and_then(|mut s| read_all(&mut s))
            .expect_err(what);
        let msg = unreadable(err, &bad);
        assert!(msg.contains("truncated"), "{what}: {msg}");
    }
    let junk = dir.join("junk.sav");
    std::fs::write(&junk, "id,sex\n1,2\n").expect("junk");
    let msg = unreadable(SpssSource::open(&junk, None).err().expect("junk"), &junk);
    assert!(msg.contains("not an SPSS system file"), "{msg}");
}

#[test]
fn stata_reads_what_write_stata_wrote() {
    let dir = temp_dir("dta-roundtrip");
    let p = dir.join("s.dta");
    write_sample(Format::Stata, &p);
    let mut src = StataSource::open(&p, None).expect("open");
    assert_eq!(src.headers(), sample().0.as_slice());
    assert_eq!(src.labels(1), Some(&sex_labels()));
    assert_eq!(src.labels(2), None);
    assert_eq!(read_all(&mut src).expect("rows"), sample_rows());
}

/// Stata's system missing and extended missing values (`.a`–`.z`) are blank, in every storage
/// type.
#[test]
fn stata_missing_values_of_every_type_are_blank() {
    use dta::stata::dta::{
        byte_order::ByteOrder, dta_writer::DtaWriter, header::Header, release::Release,
        schema::Schema, value::Value, variable::Variable, variable_type::VariableType,
    };
    use dta::stata::missing_value::MissingValue as M;
    use dta::stata::{stata_byte::StataByte, stata_double::StataDouble};
    use dta::stata::{stata_float::StataFloat, stata_int::StataInt, stata_long::StataLong};
    let dir = temp_dir("dta-missing");
    let p = dir.join("m.dta");
    let schema = Schema::builder()
        .add_variable(Variable::builder(VariableType::Byte, "b"))
        .add_variable(Variable::builder(VariableType::Int, "i"))
        .add_variable(Variable::builder(VariableType::Long, "l"))
        .add_variable(Variable::builder(VariableType::Float, "f"))
        .add_variable(Variable::builder(VariableType::Double, "d"))
        .build()
        .expect("schema");
    let mut w = DtaWriter::new()
        .from_path(&p)
        .and_then(|w| w.write_header(Header::builder(Release::V117, ByteOrder::BigEndian).build()))
        .and_then(|w| w.write_schema(schema))
        .and_then(|w| w.into_record_writer())
        .expect("writer");
    w.write_record(&[
        Value::Byte(StataByte::Present(-3)),
        Value::Int(StataInt::Present(300)),
        Value::Long(StataLong::Present(70000)),
        Value::Float(StataFloat::Present(0.1)),
        Value::Double(StataDouble::Present(2.5)),
    ])
    .expect("row 1");
    w.write_record(&[
        Value::Byte(StataByte::Missing(M::A)),
        Value::Int(StataInt::Missing(M::System)),
        Value::Long(StataLong::Missing(M::Z)),
        Value::Float(StataFloat::Missing(M::B)),
        Value::Double(StataDouble::Missing(M::C)),
    ])
    .expect("row 2");
    w.into_long_string_writer()
        .and_then(|w| w.into_value_label_writer())
        .and_then(|w| w.finish())
        .expect("finish");
    let mut src = StataSource::open(&p, None).expect("open");
    let rows = read_all(&mut src).expect("rows");
    assert_eq!(rows[0].1, ["-3", "300", "70000", "0.1", "2.5"]);
    assert_eq!(rows[1].1, ["", "", "", "", ""]);
}

#[test]
fn stata_truncated_file_is_an_error_naming_it() {
    let dir = temp_dir("dta-truncated");
    let good = dir.join("good.dta");
    write_sample(Format::Stata, &good);
    let len = std::fs::metadata(&good).expect("len").len() as usize;
    for n in [50, 700, len / 2, len - 30] {
        let bad = dir.join(format!("cut-{n}.dta"));
        truncated(&good, &bad, n);
        let err = StataSource::open(&bad, None)
            .and_then(|mut s| read_all(&mut s))
            .expect_err("truncated");
        let msg = unreadable(err, &bad);
        assert!(msg.contains("Stata"), "{n}: {msg}");
    }
}

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

/// Strings over 255 bytes, which SPSS stores as several segment variables, read whole.
#[test]
fn spss_very_long_strings_from_readstat() {
    let dir = temp_dir("sav-long-strings");
    let a = format!("{}ABCDEFGHIJ{}", "x".repeat(250), "y".repeat(40));
    let b: String = (0..700)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let csv = dir.join("l.csv");
    std::fs::write(
        &csv,
        format!("id,s1,s2\n1,{a},{b}\n2,short,{}\n", &b[..300]),
    )
    .expect("csv");
    let meta = dir.join("l.json");
    let json = r#"{"type": "SPSS", "variables": [{"type": "NUMERIC", "name": "id"},
        {"type": "STRING", "name": "s1"}, {"type": "STRING", "name": "s2"}]}"#;
    std::fs::write(&meta, json).expect("json");
    readstat(&[&csv, &meta, &dir.join("l.sav")]);
    readstat(&[&dir.join("l.sav"), &dir.join("l.zsav")]);
    for name in ["l.sav", "l.zsav"] {
        let mut src = SpssSource::open(&dir.join(name), None).expect("open");
        assert_eq!(src.headers(), ["id", "s1", "s2"], "{name}");
        let rows = read_all(&mut src).expect("rows");
        assert_eq!(rows[0].1, ["1", a.as_str(), b.as_str()], "{name}");
        assert_eq!(rows[1].1, ["2", "short", &b[..300]], "{name}");
    }
}
