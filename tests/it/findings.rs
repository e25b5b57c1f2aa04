//! Findings a statistician can act on (issue #11), on defective copies of the shipped samples:
//! one fault of a file is one group of findings with its values, and its cause is named once —
//! a header shifted by one column, an SPSS value label changed from "Female" to "Woman", codes
//! the pipeline does not map, decimal commas; the value and key as the file has them;
//! "duplicate of line N"; a header error leaves the rows "not checked"; `run` and `validate`
//! agree on a latin-1 file; and the messages in English, French and Spanish.
use std::path::{Path, PathBuf};

use migstat::validate::messages::Lang;
use migstat::validate::report::{text, GroupOut, InputOut, Report};

use crate::common::{repo, temp_dir};
use crate::validate::{args, keep, pipeline_for, tha, Upload, THA};

fn person(r: &Report) -> &InputOut {
    &r.inputs[0]
}

/// The groups of `rule` in the person file.
fn groups<'a>(r: &'a Report, rule: &str) -> Vec<&'a GroupOut> {
    person(r).groups.iter().filter(|g| g.rule == rule).collect()
}

fn in_lang(r: &Report, lang: Lang) -> String {
    text::render(r, false, lang)
}

#[test]
fn a_header_shifted_by_one_column_is_one_group_and_one_cause() {
    let r = tha("shifted", |u| u.header.insert(0, "ID".into()), &keep);
    let rows = Upload::tha().rows.len() as u64;
    let g = groups(&r, "row_width");
    assert_eq!(g.len(), 1, "{}", in_lang(&r, Lang::En));
    assert_eq!(g[0].count, rows);
    assert_eq!((g[0].first_line, g[0].last_line), (Some(2), Some(rows + 1)));
    assert_eq!(g[0].values.len(), 1);
    assert_eq!(g[0].values[0].value, "43 cells");
    assert_eq!(g[0].cause.as_deref(), Some("shifted_header"));
    let causes = &person(&r).causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].params["columns"], "44");
    assert_eq!(causes[0].params["cells"], "43");
    assert_eq!(causes[0].params["rows"], rows.to_string());
    // Listed findings stay capped, the group counts them all.
    assert!(
        person(&r)
            .findings
            .iter()
            .filter(|f| f.rule == "row_width")
            .count()
            <= 100
    );
    for (lang, said) in [
        (
            Lang::En,
            "The header has 44 column names but 4,000 rows have 43 cells",
        ),
        (
            Lang::Fr,
            "L'en-tête a 44 noms de colonnes mais 4\u{202f}000 lignes ont 43 cellules",
        ),
        (
            Lang::Es,
            "El encabezado tiene 44 nombres de columna pero 4000 filas tienen 43 celdas",
        ),
    ] {
        let t = in_lang(&r, lang);
        assert_eq!(t.matches(said).count(), 1, "{lang}: {t}");
    }
}

/// The Armenian SPSS person file as rows of text cells, with its value labels.
fn arm_sav() -> (
    Vec<String>,
    Vec<Vec<String>>,
    migstat::extract::write::ColumnLabels,
) {
    let sav = repo().join("sample_data/synth/arm_lfs_synth_persons.sav");
    let input: migstat::config::pipeline::Input =
        toml::from_str("type = \"spss\"\npath = \"x.sav\"").unwrap();
    let mut src = migstat::extract::open(&input, &sav).expect("open sav");
    let headers = src.headers().to_vec();
    let mut labels = migstat::extract::write::ColumnLabels::new();
    for (i, h) in headers.iter().enumerate() {
        if let Some(l) = src.labels(i) {
            labels.insert(h.clone(), l.clone());
        }
    }
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    while src.next_into(&mut cells).expect("row").is_some() {
        rows.push(cells.clone());
    }
    (headers, rows, labels)
}

/// The Armenian pipeline reading `sav`, its sex field recoded by label.
fn arm_by_label(dir: &Path, sav: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines/arm_lfs_synth.toml")).unwrap();
    let samples = repo().join("sample_data");
    let text = text
        .replacen(
            "path = \"../sample_data/synth/arm_lfs_synth_persons.sav\"",
            &format!("path = {:?}", sav.display().to_string()),
            1,
        )
        .replace("\"../sample_data", &format!("\"{}", samples.display()))
        .replacen(
            "codes = { 1 = \"SEX_M\", 2 = \"SEX_F\" }",
            "labels = { male = \"SEX_M\", female = \"SEX_F\" }",
            1,
        );
    let p = dir.join("arm.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_value_label_changed_in_an_spss_file_is_named_with_the_label() {
    let dir = temp_dir("findings-label");
    let (headers, rows, mut labels) = arm_sav();
    let sex = headers.iter().position(|h| h == "sex").expect("sex column");
    // The shipped file carries no value labels: label sex as a statistician's SPSS file does,
    // with "Female" changed to "Woman".
    let woman = [("1", "Male"), ("2", "Woman")];
    labels.insert(
        "sex".into(),
        woman
            .iter()
            .map(|(c, l)| (c.to_string(), l.to_string()))
            .collect(),
    );
    let numeric: Vec<bool> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .all(|r| r[c].is_empty() || r[c].parse::<f64>().is_ok())
        })
        .collect();
    let women = rows.iter().filter(|r| r[sex] == "2").count() as u64;
    let sav = dir.join("arm_woman.sav");
    migstat::extract::write::write_spss(&sav, &headers, rows.into_iter(), &labels, &numeric)
        .expect("write sav");
    let p = arm_by_label(&dir, &sav);
    let r = migstat::validate::command::validate(&args(&p)).expect("validated");
    let g = groups(&r, "unknown_code");
    let g: Vec<_> = g
        .into_iter()
        .filter(|g| g.column.as_deref() == Some("sex"))
        .collect();
    assert_eq!(g.len(), 1, "{}", in_lang(&r, Lang::En));
    assert_eq!(g[0].count, women);
    assert_eq!(g[0].values[0].value, "2");
    assert_eq!(g[0].values[0].label.as_deref(), Some("Woman"));
    assert_eq!(g[0].cause.as_deref(), Some("changed_label"));
    let cause = person(&r)
        .causes
        .iter()
        .find(|c| c.kind == "changed_label")
        .unwrap();
    assert_eq!(cause.params["label"], "Woman");
    assert_eq!(cause.params["code"], "2");
    assert!(cause.message.contains("\"Woman\""), "{}", cause.message);
    let listed = person(&r)
        .findings
        .iter()
        .find(|f| f.column.as_deref() == Some("sex"))
        .unwrap();
    assert_eq!(listed.label.as_deref(), Some("Woman"));
    for (lang, said) in [
        (Lang::En, "value label of code 2 is \"Woman\""),
        (
            Lang::Fr,
            "l'étiquette du code 2 dans le fichier est « Woman »",
        ),
        (
            Lang::Es,
            "la etiqueta del código 2 en el archivo es «Woman»",
        ),
    ] {
        let t = in_lang(&r, lang);
        assert!(t.contains(said), "{lang}: {t}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn codes_the_pipeline_does_not_map_are_one_group_with_their_counts() {
    let u = Upload::tha();
    let educ = u.col("EDUC");
    let top = {
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        for r in &u.rows {
            *counts.entry(r[educ].as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .filter(|(k, _)| !k.is_empty())
            .max_by_key(|x| x.1)
            .unwrap()
    };
    let (code, n) = (top.0.to_string(), top.1);
    assert!(n > 500, "the most frequent education code has {n} rows");
    let r = tha("unmapped", |_| {}, &|s| {
        s.replacen(&format!("\n{code} = "), "\n77 = ", 1)
    });
    let g = groups(&r, "unknown_code");
    assert_eq!(g.len(), 1, "{}", in_lang(&r, Lang::En));
    assert_eq!(g[0].column.as_deref(), Some("EDUC"));
    assert_eq!(g[0].count, n);
    assert_eq!(g[0].values.len(), 1);
    assert_eq!(
        (g[0].values[0].value.as_str(), g[0].values[0].count),
        (code.as_str(), n)
    );
    let cause = person(&r)
        .causes
        .iter()
        .find(|c| c.kind == "unmapped_code")
        .unwrap();
    assert_eq!(cause.field.as_deref(), Some("edu"));
    let en = in_lang(&r, Lang::En);
    let rows = format!(
        "{code} ({} rows)",
        migstat::validate::messages::grouped(Lang::En, n)
    );
    assert!(en.contains(&rows), "{en}");
    assert_eq!(en.matches("Cause:").count(), 1, "{en}");
}

#[test]
fn decimal_commas_are_recognised_and_the_input_option_suggested() {
    let r = tha(
        "decimal",
        |u| {
            let w = u.col("WEIGHT");
            for row in &mut u.rows {
                row[w] = format!("\"{}\"", row[w].replace('.', ","));
            }
        },
        &keep,
    );
    let g = groups(&r, "bad_number");
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].column.as_deref(), Some("WEIGHT"));
    assert_eq!(g[0].count, 4000);
    assert_eq!(g[0].cause.as_deref(), Some("decimal_comma"));
    let cause = person(&r)
        .causes
        .iter()
        .find(|c| c.kind == "decimal_comma")
        .unwrap();
    assert!(cause.params["example"].contains(','));
    for (lang, said) in [
        (Lang::En, "set input.decimal = \",\""),
        (Lang::Fr, "indiquez input.decimal = \",\""),
        (Lang::Es, "indique input.decimal = \",\""),
    ] {
        assert!(in_lang(&r, lang).contains(said), "{lang}");
    }
}

#[test]
fn a_duplicate_key_names_the_line_it_repeats_and_keys_are_named_by_their_columns() {
    let u = Upload::tha();
    let (hh, member) = (
        u.get(10, "HH_ID").to_string(),
        u.get(10, "MEMBER").to_string(),
    );
    let r = tha(
        "duplicate",
        |u| {
            u.set(3000, "HH_ID", &hh);
            u.set(3000, "MEMBER", &member);
        },
        &keep,
    );
    let dup: Vec<_> = person(&r)
        .findings
        .iter()
        .filter(|f| f.rule == "duplicate_key")
        .collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].line, Some(3000));
    assert_eq!(dup[0].duplicate_of, Some(10));
    let en = in_lang(&r, Lang::En);
    let at = format!("line 3000, HH_ID {hh} · MEMBER {member}, duplicate of line 10");
    assert!(en.contains(&at), "{en}");
    assert!(in_lang(&r, Lang::Fr).contains("doublon de la ligne 10"));
    assert!(in_lang(&r, Lang::Es).contains("duplicado de la línea 10"));
}

#[test]
fn a_header_error_leaves_the_rows_not_checked_and_counts_are_singular_or_plural() {
    let r = tha(
        "renamed",
        |u| {
            let c = u.col("SEX");
            u.header[c] = "GENDER".into();
        },
        &keep,
    );
    let p = person(&r);
    assert!(!p.rows_checked);
    let en = in_lang(&r, Lang::En);
    assert!(en.contains("rows: not checked"), "{en}");
    assert!(!en.contains("0 valid"), "{en}");
    assert!(en.contains("missing_column — 1 finding ·"), "{en}");
    assert!(en.contains("NOT loadable: 1 error."), "{en}");
    assert!(in_lang(&r, Lang::Fr).contains("lignes : non vérifiées"));
    assert!(in_lang(&r, Lang::Es).contains("NO cargable: 1 error."));
}

#[test]
fn a_record_rule_shows_the_code_as_the_file_writes_it() {
    // Ecuador: a foreign-born person (lugar_nac 2) born in Ecuador (pais_nac 218).
    let mut u = Upload::read("sample_data/synth/ecu_lfs_synth_persons.csv");
    let line = u.find(|c| c("lugar_nac") == "2");
    u.set(line, "pais_nac", "218");
    let dir = temp_dir("findings-ecu");
    let input = dir.join("ecu.csv");
    std::fs::write(&input, u.text("\n")).unwrap();
    let p = pipeline_for(&dir, "ecu_lfs_synth.toml", &input, &keep);
    let r = migstat::validate::command::validate(&args(&p)).expect("validated");
    let f = person(&r)
        .findings
        .iter()
        .find(|f| f.rule == "foreign_born_in_country")
        .unwrap_or_else(|| panic!("{}", in_lang(&r, Lang::En)));
    assert_eq!(f.line, Some(line));
    assert_eq!(f.value, "218");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_and_validate_give_one_verdict_on_a_latin1_file() {
    let dir = temp_dir("findings-latin1");
    let text = std::fs::read(repo().join("sample_data/synth/tha_lfs_synth_persons.csv")).unwrap();
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let header = String::from_utf8(lines[0].clone()).unwrap();
    let col = header.split(',').position(|h| h == "PREV_CTRY").unwrap();
    let mut doctored = 0;
    for (i, l) in lines.iter_mut().enumerate().skip(1) {
        if i % 400 == 5 && !l.is_empty() {
            let mut cells: Vec<Vec<u8>> = l.split(|&b| b == b',').map(<[u8]>::to_vec).collect();
            cells[col] = b"CAF\xe9".to_vec();
            *l = cells.join(&b","[..]);
            doctored += 1;
        }
    }
    let input = dir.join("latin1.csv");
    std::fs::write(&input, lines.join(&b"\n"[..])).unwrap();
    let p = pipeline_for(&dir, THA, &input, &keep);
    let validated = migstat::validate::command::validate(&args(&p)).expect("validated");
    assert_eq!(validated.exit_code, 1);
    let wh = dir.join("wh");
    let opts = migstat::pipeline::RunOptions::new(&wh);
    let err = migstat::pipeline::run_file(&p, &opts, &mut Vec::new()).unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    let runs: Vec<PathBuf> = std::fs::read_dir(wh.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("validation.json").is_file())
        .collect();
    assert_eq!(runs.len(), 1, "the stopped run wrote its report");
    let ran: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("validation.json")).unwrap()).unwrap();
    let v = serde_json::to_value(&validated).unwrap();
    for part in ["summary", "loadable", "exit_code"] {
        assert_eq!(ran[part], v[part], "{part}");
    }
    for part in ["counts", "groups", "causes"] {
        assert_eq!(ran["inputs"][0][part], v["inputs"][0][part], "{part}");
    }
    let enc = groups(&validated, "encoding");
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].count, doctored);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["exit_code"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_input_is_exit_2_for_run_and_validate() {
    let dir = temp_dir("findings-unreadable");
    let input = dir.join("upload.csv");
    // A quoted cell left open to the end of the file: no reader gets past it.
    let mut u = Upload::tha();
    u.set(20, "SEX", "\"2");
    std::fs::write(&input, u.text("\n")).unwrap();
    let p = pipeline_for(&dir, THA, &input, &keep);
    let mut a = args(&p);
    a.report = Some(dir.join("r.json"));
    let v = migstat::validate::run(&a, &mut Vec::new());
    let opts = migstat::pipeline::RunOptions::new(dir.join("wh"));
    let r = migstat::pipeline::run_file(&p, &opts, &mut Vec::new());
    let v_code = v.unwrap_or_else(|e| e.exit_code());
    let r_code = r.map_or_else(|e| e.exit_code(), |_| 0);
    assert_eq!(
        (v_code, r_code),
        (2, 2),
        "validate and run: unreadable is exit 2 for both"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_delimiter_is_named_once_as_the_cause() {
    let u = Upload::tha();
    let mut text = u.header.join(";") + "\n";
    for r in &u.rows {
        text.push_str(&r.join(";"));
        text.push('\n');
    }
    let r = crate::validate::validate_bytes("semicolons", THA, text.as_bytes(), &keep);
    let causes = &person(&r).causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].kind, "wrong_delimiter");
    assert_eq!(
        (
            causes[0].params["used"].as_str(),
            causes[0].params["other"].as_str()
        ),
        (",", ";")
    );
    assert!(!person(&r).rows_checked);
    assert!(in_lang(&r, Lang::Es).contains("El archivo está separado por ;, no por ,"));
}
