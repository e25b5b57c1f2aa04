//! `migstat export` on a warehouse written by hand with the load stage's own writer: one dataset
//! per period form (`_A`, `_Q`, `_M`), breakdown columns only where a dataset has them, SDMX period
//! forms and units, every digit kept, a warning when two sources share a series and period, the
//! refusals, and a failed export that leaves its out folder as it was.
use std::path::{Path, PathBuf};

use migstat::estimate::Observation;
use migstat::export::{run, ExportArgs, ExportFormat};
use migstat::load::columns;
use migstat::load::parquet::{encode, write, FileMeta};

use crate::common::temp_dir;
use crate::export::export;
use crate::query::warehouse;

fn obs(indicator: &str, time: &str, c2: Option<&str>, value: Option<f64>) -> Observation {
    Observation {
        ref_area: "ZZZ".into(),
        source: "BA:TEST".into(),
        indicator: indicator.into(),
        sex: "SEX_T".into(),
        classif1: Some("AGE_YTHADULT_YGE15".into()),
        classif2: c2.map(String::from),
        time: time.into(),
        obs_value: value,
        obs_status: value.is_none().then(|| "S".to_string()),
        note_classif: None,
        note_indicator: value.is_none().then(|| "U2:COUNT_LT5".to_string()),
        note_source: Some("R1:3513_S3:MIG_PUMF".into()),
        sample_count: 3,
        se: None,
        cv: None,
        lower_bound: value.map(|v| v - 0.5),
        upper_bound: value.map(|v| v + 0.5),
        design_df: None,
    }
}

/// A warehouse written with the load stage's own writer: one file per period form.
fn small_warehouse() -> crate::common::TestDir {
    let wh = temp_dir("export-small");
    let third = 1.0 / 3.0;
    let files = [
        (
            "2024",
            vec![obs("MST_TEST_SEX_AGE_NB", "2024", None, Some(third))],
        ),
        (
            "2024Q1",
            vec![obs("MST_TEST_SEX_AGE_NB", "2024Q1", None, None)],
        ),
        (
            "2024M01",
            vec![
                obs(
                    "MST_TEST_SEX_AGE_CBR_RT",
                    "2024M01",
                    Some("CBR_BIR_TOTAL"),
                    Some(1e-7),
                ),
                obs(
                    "MST_TEST_SEX_AGE_CBR_RT",
                    "2024M02",
                    Some("CBR_BIR_TOTAL"),
                    Some(12345.678),
                ),
            ],
        ),
    ];
    let meta = FileMeta {
        run_id: "test",
        schema_version: "1",
    };
    for (time, rows) in files {
        let batch = columns::observations(&rows).expect("batch");
        let path = wh
            .join("observations/ZZZ")
            .join(time)
            .join("BA_TEST.parquet");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        write(&path, &encode(&batch, &meta).expect("encode")).expect("write");
    }
    wh
}

#[test]
fn datasets_split_by_period_form_and_drop_missing_breakdowns() {
    let wh = small_warehouse();
    let (dir, _) = export(&wh, ExportFormat::IlostatCsv, false, "export-small-out");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "MST_TEST_SEX_AGE_CBR_RT_M.csv",
            "MST_TEST_SEX_AGE_NB_A.csv",
            "MST_TEST_SEX_AGE_NB_Q.csv"
        ]
    );
    let text = std::fs::read_to_string(dir.join("MST_TEST_SEX_AGE_NB_A.csv")).expect("A");
    assert_eq!(
        text,
        "ref_area,source,indicator,sex,classif1,time,obs_value,obs_status,note_classif,\
         note_indicator,note_source\n\
         ZZZ,BA:TEST,MST_TEST_SEX_AGE_NB,SEX_T,AGE_YTHADULT_YGE15,2024,0.3333333333333333,,,,\
         R1:3513_S3:MIG_PUMF\n"
    );
    let q = std::fs::read_to_string(dir.join("MST_TEST_SEX_AGE_NB_Q.csv")).expect("Q");
    assert!(q.contains(",2024Q1,,S,,U2:COUNT_LT5,"), "{q}");
    let m = std::fs::read_to_string(dir.join("MST_TEST_SEX_AGE_CBR_RT_M.csv")).expect("M");
    assert!(m.contains(",CBR_BIR_TOTAL,2024M01,0.0000001,"), "{m}");
    assert!(m.contains(",2024M02,12345.678,"), "{m}");
    let _ = std::fs::remove_dir_all(dir);

    let (dir, _) = export(&wh, ExportFormat::SdmxCsv, false, "export-small-sdmx");
    let a = std::fs::read_to_string(dir.join("DF_MST_TEST_SEX_AGE_NB.csv")).expect("flow");
    assert_eq!(
        a,
        "DATAFLOW,REF_AREA,FREQ,MEASURE,SEX,AGE,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS,\
         UNIT_MEASURE,UNIT_MULT,SOURCE,NOTE_CLASSIF,NOTE_INDICATOR,NOTE_SOURCE,LOWER_BOUND,\
         UPPER_BOUND\n\
         ILO:DF_MST_TEST_SEX_AGE_NB(1.0),ZZZ,A,MST_TEST_NB,SEX_T,AGE_YTHADULT_YGE15,2024,\
         0.3333333333333333,A,F,PS,3,BA:TEST,,,R1:3513_S3:MIG_PUMF,-0.16666666666666669,\
         0.8333333333333333\n\
         ILO:DF_MST_TEST_SEX_AGE_NB(1.0),ZZZ,Q,MST_TEST_NB,SEX_T,AGE_YTHADULT_YGE15,2024-Q1,,Q,C,\
         PS,3,BA:TEST,,U2:COUNT_LT5,R1:3513_S3:MIG_PUMF,,\n"
    );
    let m = std::fs::read_to_string(dir.join("DF_MST_TEST_SEX_AGE_CBR_RT.csv")).expect("flow");
    assert!(
        m.starts_with("DATAFLOW,REF_AREA,FREQ,MEASURE,SEX,AGE,CBR,TIME_PERIOD,"),
        "{m}"
    );
    assert!(
        m.contains(
            ",M,MST_TEST_RT,SEX_T,AGE_YTHADULT_YGE15,CBR_BIR_TOTAL,2024-02,12345.678,A,F,PT,0,"
        ),
        "{m}"
    );
    let _ = std::fs::remove_dir_all(dir);

    // A second source for the same series and period: two ILOSTAT rows, one SDMX warning.
    let mut other = obs("MST_TEST_SEX_AGE_NB", "2024", None, Some(2.0));
    other.source = "BA:OTHER".into();
    let batch = columns::observations(&[other]).expect("batch");
    let meta = FileMeta {
        run_id: "test",
        schema_version: "1",
    };
    let path = wh.join("observations/ZZZ/2024/BA_OTHER.parquet");
    write(&path, &encode(&batch, &meta).expect("encode")).expect("write");
    let (dir, log) = export(&wh, ExportFormat::SdmxCsv, false, "export-small-dup");
    assert!(
        log.contains("warning: ")
            && log.contains("DF_MST_TEST_SEX_AGE_NB.csv: 1 observations share"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(dir);
    let (dir, _) = export(&wh, ExportFormat::IlostatCsv, false, "export-small-dup-ilo");
    let a = std::fs::read_to_string(dir.join("MST_TEST_SEX_AGE_NB_A.csv")).expect("A");
    assert_eq!(a.lines().count(), 3, "{a}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(wh);
}

#[test]
fn labels_with_sdmx_is_refused_and_a_missing_warehouse_is_named() {
    let mut log = Vec::new();
    let out = temp_dir("export-refused");
    let args = ExportArgs {
        format: ExportFormat::SdmxCsv,
        out: out.to_path_buf(),
        warehouse: warehouse().to_path_buf(),
        labels: true,
        filter: Default::default(),
        digits: None,
    };
    let err = run(&args, &mut log).expect_err("labels with sdmx");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--labels"), "{err}");
    let args = ExportArgs {
        format: ExportFormat::IlostatCsv,
        labels: false,
        warehouse: PathBuf::from("/nonexistent/warehouse"),
        ..args
    };
    let err = run(&args, &mut log).expect_err("no warehouse");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("observations"), "{err}");
    let _ = std::fs::remove_dir_all(&args.out);
}

/// Writes `rows` as `observations/<rel>` with the load stage's writer.
fn write_observations(wh: &Path, rel: &str, rows: &[Observation]) {
    let meta = FileMeta {
        run_id: "test",
        schema_version: "1",
    };
    let batch = columns::observations(rows).expect("batch");
    let path = wh.join("observations").join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    write(&path, &encode(&batch, &meta).expect("encode")).expect("write");
}

fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_else(|_| "<folder>".into());
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_failed_export_leaves_the_out_folder_as_it_was() {
    let wh = temp_dir("export-atomic-wh");
    // DF_A_… is written first; Z_… mixes two classifications in classif1, which SDMX refuses.
    let mut edu = obs("Z_TEST_SEX_AGE_NB", "2024", None, Some(2.0));
    edu.classif1 = Some("EDU_AGGREGATE_TOTAL".into());
    let rows = [
        obs("A_TEST_SEX_AGE_NB", "2024", None, Some(1.0)),
        obs("Z_TEST_SEX_AGE_NB", "2024", None, Some(1.0)),
        edu,
    ];
    write_observations(&wh, "ZZZ/2024/BA_TEST.parquet", &rows);
    let out = temp_dir("export-atomic-out");
    std::fs::write(out.join("DF_A_TEST_SEX_AGE_NB.csv"), "an earlier export\n").expect("old");
    std::fs::write(out.join("README.txt"), "the analyst's own file\n").expect("own");
    let before = listing(&out);
    let args = ExportArgs {
        format: ExportFormat::SdmxCsv,
        out: out.to_path_buf(),
        warehouse: wh.to_path_buf(),
        labels: false,
        filter: Default::default(),
        digits: None,
    };
    let mut log = Vec::new();
    let err = run(&args, &mut log).expect_err("mixed classifications");
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("mixes the classifications"),
        "{err}"
    );
    assert_eq!(listing(&out), before);

    // The same folder takes a successful export: new files in, the analyst's file kept.
    let args = ExportArgs {
        format: ExportFormat::IlostatCsv,
        ..args
    };
    run(&args, &mut log).expect("ilostat export");
    let names: Vec<String> = listing(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "A_TEST_SEX_AGE_NB_A.csv",
            "DF_A_TEST_SEX_AGE_NB.csv",
            "README.txt",
            "Z_TEST_SEX_AGE_NB_A.csv"
        ]
    );
    let _ = std::fs::remove_dir_all(wh);
    let _ = std::fs::remove_dir_all(out);
}

/// The export reads back exactly the records the load stage wrote, precision columns included.
#[test]
fn observations_read_back_as_written() {
    let wh = temp_dir("export-roundtrip");
    let mut rows = vec![
        obs(
            "MST_TEST_SEX_AGE_NB",
            "2024Q1",
            Some("CBR_BIR_FOREIGN"),
            Some(12.5),
        ),
        obs("MST_TEST_SEX_AGE_NB", "2024Q1", None, None),
    ];
    rows[0].sample_count = 41;
    rows[0].se = Some(0.75);
    rows[0].cv = Some(6.0);
    rows[0].design_df = Some(79.0);
    write_observations(&wh, "ZZZ/2024Q1/BA_TEST.parquet", &rows);
    let back = migstat::export::observations::read_file(
        &wh.join("observations/ZZZ/2024Q1/BA_TEST.parquet"),
    )
    .expect("read back");
    assert_eq!(back, rows);
    let _ = std::fs::remove_dir_all(wh);
}
