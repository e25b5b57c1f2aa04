//! The defect corpus, file and structure (levels 0 and 1): the clean Thai synthetic upload with
//! one defect injected at a time — bytes, encoding, delimiter, line ends, header, row shape —
//! each reported with the right rule, line and column, and the exit code its severity gives.
use super::{assert_found, keep, of_rule, tha, validate_bytes, Upload, THA};

#[test]
fn the_clean_upload_has_no_errors_and_no_warnings() {
    let r = tha("clean", |_| {}, &keep);
    assert_eq!(r.exit_code, 0);
    assert_eq!(
        (r.summary.errors, r.summary.warnings, r.summary.quarantined),
        (0, 0, 0)
    );
    assert_eq!(r.summary.rows_read, 4000 + 64);
    assert_eq!(r.summary.rows_valid, r.summary.rows_read);
}

// Level 0: the file.

#[test]
fn an_empty_file_is_an_error() {
    let r = validate_bytes("empty", THA, b"", &keep);
    assert_found(&r, "empty_file", None, "");
}

#[test]
fn a_header_without_rows_is_an_error() {
    let u = Upload::tha();
    let r = validate_bytes(
        "header-only",
        THA,
        (u.header.join(",") + "\n").as_bytes(),
        &keep,
    );
    assert_eq!(of_rule(&r, "empty_file").len(), 1);
    assert_eq!(r.exit_code, 1);
}

#[test]
fn latin1_bytes_in_a_utf8_file_are_reported_with_line_column_and_key() {
    let mut text = Upload::tha().text("\n").into_bytes();
    // Line 7's NATION cell becomes "TH\xc9" (latin-1 É).
    let line_start = text
        .split(|&b| b == b'\n')
        .take(6)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let line_end = line_start + text[line_start..].iter().position(|&b| b == b'\n').unwrap();
    let row = String::from_utf8(text[line_start..line_end].to_vec()).unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    let mut bytes = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        if i == Upload::tha().col("NATION") {
            bytes.extend_from_slice(b"TH\xc9");
        } else {
            bytes.extend_from_slice(c.as_bytes());
        }
    }
    text.splice(line_start..line_end, bytes);
    let r = validate_bytes("latin1", THA, &text, &keep);
    assert_found(&r, "encoding", Some(7), "NATION");
    let f = of_rule(&r, "encoding")[0];
    assert_eq!(
        f.key.as_deref(),
        Some(format!("{}-{}", cells[0], cells[1]).as_str())
    );
    assert_eq!(r.exit_code, 1);
    // The rows were still checked (as latin-1): the cell is also an unknown citizenship.
    assert_found(&r, "unknown_code", Some(7), "NATION");
}

#[test]
fn a_utf16_file_is_refused_with_a_reason() {
    let text = Upload::tha().text("\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let r = validate_bytes("utf16", THA, &bytes, &keep);
    assert_found(&r, "encoding", Some(1), "");
    assert!(of_rule(&r, "encoding")[0].message.contains("UTF-16"));
    assert!(!r.inputs[0].rows_checked);
}

#[test]
fn utf8_text_in_a_file_declared_latin1_is_suspect() {
    let mut u = Upload::tha();
    u.add_column("COMMENT", "Chiang Mai – ok");
    let edit = |s: String| s.replacen("encoding = \"utf-8\"", "encoding = \"latin-1\"", 1);
    let r = validate_bytes("suspect", THA, u.text("\n").as_bytes(), &edit);
    assert_eq!(of_rule(&r, "encoding_suspect").len(), 1);
    assert_eq!(of_rule(&r, "encoding_suspect")[0].line, Some(2));
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_file_split_by_another_delimiter_is_an_error() {
    let text = Upload::tha().text("\n").replace(',', ";");
    let r = validate_bytes("delimiter", THA, text.as_bytes(), &keep);
    assert_eq!(of_rule(&r, "delimiter").len(), 1);
    assert!(of_rule(&r, "delimiter")[0].message.contains("\";\""));
    assert_eq!(r.exit_code, 1);
}

#[test]
fn mixed_line_ends_are_information_only() {
    let u = Upload::tha();
    let text = u.text("\n").replacen('\n', "\r\n", 10);
    let r = validate_bytes("mixed-eol", THA, text.as_bytes(), &keep);
    assert_eq!(of_rule(&r, "line_endings").len(), 1);
    assert_eq!(
        r.inputs[0].file_facts.line_endings.as_deref(),
        Some("mixed")
    );
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_truncated_last_line_is_reported() {
    let text = Upload::tha().text("\n");
    let cut = &text[..text.len() - 200];
    let r = validate_bytes("truncated", THA, cut.as_bytes(), &keep);
    assert_found(&r, "truncated_file", Some(4001), "");
    assert!(of_rule(&r, "row_width")
        .iter()
        .any(|f| f.line == Some(4001)));
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_file_larger_than_the_pipeline_expects_is_a_warning() {
    let edit = |s: String| s + "\n[validation]\nmax_file_mb = 0.5\n";
    let r = tha("size", |_| {}, &edit);
    assert_eq!(of_rule(&r, "file_size").len(), 1);
    assert_eq!(r.exit_code, 0);
}

// Level 1: structure.

#[test]
fn a_missing_mapped_column_is_an_error() {
    let rename = |u: &mut Upload| {
        let c = u.col("SEX");
        u.header[c] = "GENDER_X".into();
    };
    let r = tha("missing-col", rename, &keep);
    assert_found(&r, "missing_column", Some(1), "SEX");
    assert!(!r.inputs[0].rows_checked);
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_duplicate_header_is_an_error() {
    let r = tha("dup-header", |u| u.add_column("Sex", "1"), &keep);
    assert_found(&r, "duplicate_header", Some(1), "Sex");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_blank_header_is_a_warning() {
    let r = tha("blank-header", |u| u.add_column("", "x"), &keep);
    assert_found(&r, "blank_header", Some(1), "#44");
    assert_eq!(r.summary.errors, 0);
}

#[test]
fn an_unused_column_is_information() {
    let r = tha("extra-col", |u| u.add_column("INTERVIEWER", "7"), &keep);
    assert_found(&r, "unexpected_column", Some(1), "INTERVIEWER");
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_missing_replicate_weight_column_breaks_the_declared_count() {
    let drop_last = |u: &mut Upload| {
        let c = u.col("REPWT20");
        u.header.remove(c);
        for r in &mut u.rows {
            r.remove(c);
        }
    };
    let r = tha("replicates", drop_last, &keep);
    assert_found(&r, "replicate_count", Some(1), "REPWT*");
    assert_eq!(of_rule(&r, "replicate_count")[0].value, "19");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_row_with_too_few_cells_is_an_error() {
    let r = tha("short-row", |u| drop(u.rows[8].pop()), &keep);
    assert_found(&r, "row_width", Some(10), "");
    assert_eq!(r.inputs[0].rows_with_errors, 1);
}

#[test]
fn a_row_with_too_many_cells_is_an_error() {
    let r = tha("long-row", |u| u.rows[9].push("x".into()), &keep);
    assert_eq!(of_rule(&r, "row_width")[0].line, Some(11));
    assert_eq!(of_rule(&r, "row_width")[0].value, "44 cells");
}

#[test]
fn shifted_columns_show_as_cells_in_the_wrong_place() {
    // One cell lost early in line 12 and a blank added at the end: every later cell moves left.
    let shift = |u: &mut Upload| {
        let c = u.col("STRATUM");
        let row = &mut u.rows[10];
        row.remove(c);
        row.push(String::new());
    };
    let r = tha("shifted", shift, &keep);
    // SEX now holds the age.
    assert_found(&r, "unknown_code", Some(12), "SEX");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn a_line_of_spaces_is_a_blank_row() {
    let r = tha("blank-row", |u| u.rows.insert(20, vec!["  ".into()]), &keep);
    let f = of_rule(&r, "row_width");
    assert_eq!(f[0].line, Some(22));
    assert!(f[0].message.contains("blank line"));
}

#[test]
fn empty_lines_do_not_shift_the_line_numbers() {
    let doctor = |u: &mut Upload| {
        u.rows.insert(3, vec![String::new()]);
        u.set(31, "SEX", "5");
    };
    let mut u = Upload::tha();
    doctor(&mut u);
    let r = validate_bytes("empty-line", THA, u.text("\n").as_bytes(), &keep);
    assert_found(&r, "unknown_code", Some(31), "SEX");
}
