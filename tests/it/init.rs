//! Onboarding a survey: `migstat init` drafts a pipeline from a CSV, SPSS or Stata file that
//! passes `check` once its TODOs are filled; `check` reports every problem at once with "did you
//! mean" and the valid codes, and refuses what `validate` refuses (`delimiter = "semicolon"`).
use std::path::{Path, PathBuf};

use migstat::schema::Schema;
use toml::Value;

use crate::common::{migstat, output_text, repo, temp_dir};

/// The draft's TODOs filled as a statistician would: the country, the name, and for every
/// code a valid code of its field's dimension.
fn fill(draft: &str, schema: &Schema) -> String {
    let mut v: Value = toml::from_str(draft).expect("the draft is TOML");
    let meta = v["pipeline"].as_table_mut().unwrap();
    meta.insert("ref_area".into(), Value::String("THA".into()));
    meta.insert("name".into(), Value::String("A survey".into()));
    if let Some(fields) = v.get_mut("fields").and_then(Value::as_table_mut) {
        for (name, f) in fields.iter_mut() {
            let def = schema.person.field(name).expect("a schema field");
            let Some(codes) = f.get_mut("codes").and_then(Value::as_table_mut) else {
                continue;
            };
            let dim = def
                .dimension
                .as_deref()
                .and_then(|d| schema.codes.dims.get(d));
            for (_, c) in codes.iter_mut() {
                if c.as_str() == Some("TODO") {
                    let code = dim
                        .unwrap()
                        .codes
                        .iter()
                        .find(|c| !c.code.ends_with("_TOTAL"));
                    *c = Value::String(code.unwrap().code.clone());
                }
            }
        }
    }
    toml::to_string(&v).unwrap()
}

fn drafted(data: &str, dir: &Path) -> (String, PathBuf) {
    let schema = Schema::load(None).unwrap();
    let text = migstat::config::init::draft(&repo().join(data), dir, &schema).expect("drafted");
    assert!(text.contains("TODO"), "{text}");
    let p = dir.join("draft.toml");
    std::fs::write(&p, fill(&text, &schema)).unwrap();
    (text, p)
}

#[test]
fn init_drafts_a_pipeline_that_passes_check_once_filled_for_csv_spss_and_stata() {
    let schema = Schema::load(None).unwrap();
    for (data, sex) in [
        ("sample_data/synth/tha_lfs_synth_persons.csv", "SEX"),
        ("sample_data/synth/arm_lfs_synth_persons.sav", "sex"),
        ("sample_data/synth/egy_lfs_synth_persons.dta", "gender"),
    ] {
        let dir = temp_dir(&format!("init-{}", data.rsplit('.').next().unwrap()));
        let (text, p) = drafted(data, &dir);
        let v: Value = toml::from_str(&text).unwrap();
        assert_eq!(v["fields"]["sex"]["column"].as_str(), Some(sex), "{data}");
        let codes = v["fields"]["sex"]["codes"].as_table().expect("sex codes");
        assert_eq!(codes.len(), 2, "{data}: {text}");
        assert!(
            v["design"]["weight"].as_str().is_some_and(|w| w != "TODO"),
            "{data}"
        );
        // Unfilled, check refuses the draft; filled, it passes, header included.
        let raw = dir.join("raw.toml");
        std::fs::write(&raw, &text).unwrap();
        assert!(
            migstat::config::check::load(&raw, &schema).is_err(),
            "{data}"
        );
        let pipeline = migstat::config::check::load(&p, &schema)
            .unwrap_or_else(|e| panic!("{data}: {e}\n{}", std::fs::read_to_string(&p).unwrap()));
        assert_eq!(
            migstat::config::check::check_columns(&pipeline, &schema),
            Vec::<String>::new()
        );
        let o = migstat(&["check", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{data}: {}", output_text(&o));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn init_writes_its_draft_once_and_never_over_a_file() {
    let dir = temp_dir("init-cli");
    let out = dir.join("pipeline.toml");
    let data = repo().join("sample_data/synth/tha_lfs_synth_persons.csv");
    let args = [
        "init",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = migstat(&args);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let first = std::fs::read_to_string(&out).unwrap();
    assert!(first.contains("[fields.sex.codes]"));
    let again = migstat(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(output_text(&again).contains("does not overwrite"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
    let _ = std::fs::remove_dir_all(&dir);
}

const BROKEN: &str = r#"
[pipeline]
name = "x"
ref_area = "THA"

[input]
type = "csv"
path = "PATH"
delimiter = "semicolon"
delimeter = ","

[time]
year = "YEAR"

[design]
weight = "WEIGHT"

[fields.sex]
column = "SEX"
codes = { 1 = "SEX_MALE", 2 = "SEX_F" }

[fields.agee]
column = "AGE"
"#;

#[test]
fn check_reports_every_problem_at_once_with_what_was_meant() {
    let dir = temp_dir("check-all");
    let data = repo().join("sample_data/synth/tha_lfs_synth_persons.csv");
    let p = dir.join("broken.toml");
    std::fs::write(&p, BROKEN.replace("PATH", data.to_str().unwrap())).unwrap();
    let o = migstat(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let said = output_text(&o);
    for expected in [
        "pipeline.id: required key missing",
        "pipeline.source: required key missing",
        "pipeline.periodicity: required key missing",
        "input.delimeter: unknown key (did you mean \"delimiter\"?)",
        "input.delimiter: \"semicolon\" must be the character itself: write delimiter = \";\"",
        "fields.agee: \"agee\" is not a field of the person record (did you mean \"age\"?)",
        "fields.sex.codes.1: \"SEX_MALE\" is not a code of sex (did you mean \"SEX_M\"?)",
        "valid codes: SEX_T, SEX_M, SEX_F, SEX_O",
    ] {
        assert!(said.contains(expected), "{expected:?} not in:\n{said}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_refuses_what_validate_refuses_and_names_the_nearest_column() {
    let dir = temp_dir("check-validate");
    let shipped = std::fs::read_to_string(repo().join("pipelines/tha_lfs_synth.toml")).unwrap();
    let samples = format!("\"{}", repo().join("sample_data").display());
    let text = shipped.replace("\"../sample_data", &samples);
    let semicolon = dir.join("semicolon.toml");
    std::fs::write(
        &semicolon,
        text.replacen("delimiter = \",\"", "delimiter = \"semicolon\"", 1),
    )
    .unwrap();
    let checked = migstat(&["check", semicolon.to_str().unwrap()]);
    let validated = migstat(&["validate", semicolon.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(2), "{}", output_text(&checked));
    assert_eq!(
        validated.status.code(),
        Some(2),
        "{}",
        output_text(&validated)
    );
    let typo = dir.join("typo.toml");
    std::fs::write(
        &typo,
        text.replacen("column = \"SEX\"", "column = \"SX\"", 1),
    )
    .unwrap();
    let o = migstat(&["check", typo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        output_text(&o).contains("fields.sex.column: column SX is not in the header")
            && output_text(&o).contains("(did you mean \"SEX\"?)"),
        "{}",
        output_text(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_committed_pipeline_reference_is_what_the_code_renders() {
    let committed = std::fs::read_to_string(repo().join("docs/pipeline-reference.md")).unwrap();
    let rendered = migstat::config::reference::render();
    assert!(
        committed == rendered,
        "docs/pipeline-reference.md is stale: run `migstat check --reference > docs/pipeline-reference.md`"
    );
    let o = migstat(&["check", "--reference"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), rendered);
}
