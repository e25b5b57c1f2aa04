//! The SPSS and Stata readers on files from our writers, the `dta` crate and Debian's
//! `readstat`; user-missing values, very long strings, truncated files.
use std::path::Path;

use migstat::extract::write::Format;
use migstat::extract::{RowSource, SpssSource, StataSource};

use super::{
    read_all, readstat, sample, sample_rows, sex_labels, truncated, unreadable, write_sample,
};
use crate::common::temp_dir;

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

/// Cut at every byte, a `.sav` is an error, never a panic or a short read; with any one byte
/// damaged it is an error or some rows, never a panic.
#[test]
fn spss_every_truncation_is_an_error_and_damage_never_panics() {
    let dir = temp_dir("sav-every-cut");
    let good = dir.join("good.sav");
    write_sample(Format::Spss, &good);
    let bytes = std::fs::read(&good).expect("read");
    let bad = dir.join("bad.sav");
    for n in 0..bytes.len() {
        std::fs::write(&bad, &bytes[..n]).expect("write");
        let got = SpssSource::open(&bad, None).and_then(|mut s| read_all(&mut s));
        assert!(
            got.is_err(),
            "cut at {n} of {} read as {got:?}",
            bytes.len()
        );
    }
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xA5;
        std::fs::write(&bad, &damaged).expect("write");
        let _ = SpssSource::open(&bad, None).and_then(|mut s| read_all(&mut s));
    }
}

/// The same for `.dta` (every third cut, every seventh byte damaged: the file is larger).
#[test]
fn stata_every_truncation_is_an_error_and_damage_never_panics() {
    let dir = temp_dir("dta-every-cut");
    let good = dir.join("good.dta");
    write_sample(Format::Stata, &good);
    let bytes = std::fs::read(&good).expect("read");
    let bad = dir.join("bad.dta");
    for n in (0..bytes.len()).step_by(3) {
        std::fs::write(&bad, &bytes[..n]).expect("write");
        let got = StataSource::open(&bad, None).and_then(|mut s| read_all(&mut s));
        assert!(
            got.is_err(),
            "cut at {n} of {} read as {got:?}",
            bytes.len()
        );
    }
    for i in (0..bytes.len()).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xA5;
        std::fs::write(&bad, &damaged).expect("write");
        let _ = StataSource::open(&bad, None).and_then(|mut s| read_all(&mut s));
    }
}
