//! The StatCan month recomputed by a separate, simple path straight from the CSV, and the same
//! pipeline on another month's file with renamed columns.
use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::common::{migstat, parquet_files, read_observations, repo, temp_dir, Obs};

/// Σ FINALWT by (LFSSTAT group, IMMIG group, SEX), read with nothing but the csv crate.
fn direct_totals() -> BTreeMap<(String, String, String), i64> {
    let zip = repo().join("sample_data/statcan/2024-01-CSV.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).expect("zip")).expect("zip");
    let mut text = String::new();
    archive
        .by_name("pub0124.csv")
        .expect("member")
        .read_to_string(&mut text)
        .expect("read");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|x| x == n).expect(n);
    let (lfs, imm, sex, wt) = (col("LFSSTAT"), col("IMMIG"), col("SEX"), col("FINALWT"));
    let mut out = BTreeMap::new();
    for r in rdr.records() {
        let r = r.expect("record");
        let status = match &r[lfs] {
            "1" | "2" => "TEMP",
            "3" => "TUNE",
            _ => "TEIP",
        };
        let cbr = if &r[imm] == "3" {
            "CBR_BIR_NATIVE"
        } else {
            "CBR_BIR_FOREIGN"
        };
        let s = if &r[sex] == "1" { "SEX_M" } else { "SEX_F" };
        let w: i64 = r[wt].parse().expect("weight");
        for st in [status, "XWAP"]
            .into_iter()
            .chain((status != "TEIP").then_some("TEAP"))
        {
            for c in [cbr, "CBR_BIR_TOTAL"] {
                for x in [s, "SEX_T"] {
                    *out.entry((st.to_string(), c.to_string(), x.to_string()))
                        .or_insert(0) += w;
                }
            }
        }
    }
    out
}

fn observations(dir: &std::path::Path) -> Vec<Obs> {
    parquet_files(&dir.join("observations"))
        .iter()
        .flat_map(|f| read_observations(f))
        .collect()
}

#[test]
fn statcan_totals_match_a_direct_computation() {
    let wh = temp_dir("statcan-direct");
    let out = migstat(&[
        "run",
        "pipelines/can_lfs_pumf.toml",
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obs = observations(&wh);
    let want = direct_totals();
    assert_eq!(want.len(), 5 * 3 * 3);
    for ((st, cbr, sex), w) in &want {
        let code = format!("MST_{st}_SEX_AGE_CBR_NB");
        let got = obs
            .iter()
            .find(|o| {
                o.indicator == code
                    && &o.sex == sex
                    && o.classif1.as_deref() == Some("AGE_YTHADULT_YGE15")
                    && o.classif2.as_deref() == Some(cbr.as_str())
            })
            .unwrap_or_else(|| panic!("no {code} {sex} {cbr}"));
        assert_eq!(
            got.obs_value,
            Some(*w as f64 / 1000.0),
            "{code} {sex} {cbr}"
        );
        assert_eq!(got.time, "2024M01");
    }
    let _ = std::fs::remove_dir_all(wh);
}

/// Another month, as StatCan ships it: a zip whose member is `pubMMYY.csv`, with SEX renamed
/// GENDER (as in later vintages) and the month changed.
#[test]
fn any_month_runs_without_edits() {
    let dir = temp_dir("statcan-month");
    let src = repo().join("sample_data/statcan/2024-01-CSV.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(src).expect("zip")).expect("zip");
    let mut text = String::new();
    archive
        .by_name("pub0124.csv")
        .expect("member")
        .read_to_string(&mut text)
        .expect("read");
    let mut lines = text.split("\r\n");
    let header = lines.next().expect("header").replace(",SEX,", ",GENDER,");
    let mut body = header + "\r\n";
    for l in lines.filter(|l| !l.is_empty()).take(5000) {
        body.push_str(&l.replacen(",2024,01,", ",2025,07,", 1));
        body.push_str("\r\n");
    }
    let zip_path = dir.join("2025-07-CSV.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
    w.start_file("pub0725.csv", zip::write::SimpleFileOptions::default())
        .expect("member");
    w.write_all(body.as_bytes()).expect("write");
    w.finish().expect("finish");
    let wh = dir.join("wh");
    let out = migstat(&[
        "run",
        "pipelines/can_lfs_pumf.toml",
        "--input",
        zip_path.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wh
        .join("observations/CAN/2025M07/BA_CAN_LFS_PUMF.parquet")
        .is_file());
    let obs = observations(&wh);
    let total = obs
        .iter()
        .find(|o| {
            o.indicator == "MST_XWAP_SEX_AGE_CBR_NB"
                && o.sex == "SEX_T"
                && o.classif1.as_deref() == Some("AGE_YTHADULT_YGE15")
                && o.classif2.as_deref() == Some("CBR_BIR_TOTAL")
        })
        .expect("total");
    assert_eq!(total.sample_count, 5000);
    // The plain CSV member works too.
    let csv_path = dir.join("pub0725.csv");
    std::fs::write(&csv_path, &body).expect("csv");
    let out = migstat(&[
        "run",
        "pipelines/can_lfs_pumf.toml",
        "--input",
        csv_path.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
