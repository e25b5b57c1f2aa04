//! Whole runs: the StatCan pipeline on the same 300 rows shipped as `.sav`, `.dta`, `.xlsx`,
//! Parquet and over HTTP gives the observations of the CSV run; SPSS and Stata runs map sex by
//! its value labels. A truncated file stops the run and loads nothing.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use migstat::extract::write::{self, Format};

use super::server::{Reply, Server};
use crate::common::{migstat, parquet_files, read_observations, repo, temp_dir, Obs};

/// The header and first `n` rows of the StatCan month.
fn statcan_head(n: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let zip = repo().join("sample_data/statcan/2024-01-CSV.zip");
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip).expect("zip")).expect("zip");
    let mut text = String::new();
    a.by_name("pub0124.csv")
        .expect("member")
        .read_to_string(&mut text)
        .expect("read");
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>());
    let headers = lines.next().expect("header");
    (headers, lines.take(n).collect())
}

/// The StatCan pipeline reading `input` (TOML lines for `[input]`), sex mapped by label or code.
fn pipeline(dir: &Path, name: &str, input: &str, sex_by_label: bool) -> PathBuf {
    let text =
        std::fs::read_to_string(repo().join("pipelines/can_lfs_pumf.toml")).expect("pipeline");
    let mut out = String::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with('[') {
            section = line;
        }
        let skip = section == "[input]"
            && ["type", "path", "member", "encoding", "delimiter"]
                .iter()
                .any(|k| line.starts_with(k));
        if skip {
            continue;
        }
        if section == "[fields.sex]" && sex_by_label && line.starts_with("codes") {
            out.push_str("labels = { Male = \"SEX_M\", Female = \"SEX_F\" }\n");
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line == "[input]" {
            out.push_str(input);
            out.push('\n');
        }
    }
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, out).expect("write pipeline");
    p
}

/// Runs a pipeline into `wh`; returns (exit code, stdout + stderr).
fn run(p: &Path, wh: &Path) -> (i32, String) {
    let out = migstat(&[
        "run",
        p.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Every observation of a warehouse, in a stable order.
fn observations(wh: &Path) -> Vec<Obs> {
    let mut obs: Vec<Obs> = parquet_files(&wh.join("observations"))
        .iter()
        .flat_map(|f| read_observations(f))
        .collect();
    obs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    obs
}

/// The 300 rows written in `format`, sex labelled.
fn write_head(format: Format, path: &Path) {
    let (headers, rows) = statcan_head(300);
    let mut labels = BTreeMap::new();
    labels.insert(
        "SEX".to_string(),
        BTreeMap::from([("1".into(), "Male".into()), ("2".into(), "Female".into())]),
    );
    let numeric = vec![true; headers.len()];
    write::write(format, path, &headers, rows.into_iter(), &labels, &numeric).expect("write");
}

/// The CSV run's observations; with `sex_as_labels`, the SEX cells hold `Male`/`Female` and
/// the pipeline maps them by label.
fn csv_observations(dir: &Path, sex_as_labels: bool) -> Vec<Obs> {
    let (headers, rows) = statcan_head(300);
    let sex = headers.iter().position(|h| h == "SEX").expect("SEX");
    let mut text = headers.join(",") + "\n";
    for mut r in rows {
        if sex_as_labels {
            r[sex] = if r[sex] == "1" { "Male" } else { "female " }.to_string();
        }
        text += &(r.join(",") + "\n");
    }
    let name = if sex_as_labels { "labels" } else { "csv" };
    let csv = dir.join(format!("{name}.csv"));
    std::fs::write(&csv, text).expect("csv");
    let input = format!("type = \"csv\"\npath = {:?}", csv);
    let p = pipeline(dir, name, &input, sex_as_labels);
    let wh = dir.join(format!("wh-{name}"));
    let (code, out) = run(&p, &wh);
    assert_eq!(code, 0, "{out}");
    observations(&wh)
}

#[test]
fn every_format_gives_the_observations_of_the_csv_run() {
    let dir = temp_dir("formats-run");
    let want = csv_observations(&dir, false);
    assert!(want.len() > 100, "{}", want.len());
    let cases = [
        (Format::Spss, "spss", true),
        (Format::Stata, "stata", true),
        (Format::Excel, "excel", false),
        (Format::Parquet, "parquet", false),
    ];
    for (format, kind, by_label) in cases {
        let file = dir.join(format!("head.{}", format.extension()));
        write_head(format, &file);
        let input = format!("type = {kind:?}\npath = {:?}", file);
        let p = pipeline(&dir, kind, &input, by_label);
        let wh = dir.join(format!("wh-{kind}"));
        let (code, out) = run(&p, &wh);
        assert_eq!(code, 0, "{kind}: {out}");
        assert!(out.contains("read 300 rows, loaded 300"), "{kind}: {out}");
        assert!(
            observations(&wh) == want,
            "{kind}: observations differ from the CSV run"
        );
    }
}

/// Cells that hold the label itself (a CSV exported with labels) map by label too, whatever
/// their case and surrounding spaces.
#[test]
fn csv_cells_holding_labels_map_by_label() {
    let dir = temp_dir("labels-run");
    assert!(csv_observations(&dir, true) == csv_observations(&dir, false));
}

#[test]
fn truncated_sav_stops_the_run_and_loads_nothing() {
    let dir = temp_dir("truncated-run");
    let good = dir.join("good.sav");
    write_head(Format::Spss, &good);
    let bad = dir.join("bad.sav");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(&bad, &bytes[..bytes.len() - 1000]).expect("write");
    let p = pipeline(
        &dir,
        "bad",
        &format!("type = \"spss\"\npath = {:?}", bad),
        true,
    );
    let wh = dir.join("wh");
    let (code, out) = run(&p, &wh);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&*bad.to_string_lossy()) && out.contains("truncated"),
        "{out}"
    );
    assert!(parquet_files(&wh).is_empty(), "something was loaded");
}

/// A `url` input is downloaded into the pipeline's cache folder, then revalidated (304).
#[test]
fn url_input_is_fetched_then_revalidated() {
    let dir = temp_dir("url-run");
    let sav = dir.join("served.sav");
    write_head(Format::Spss, &sav);
    let body = std::fs::read(&sav).expect("read");
    let reply = Reply::File {
        etag: "\"2024-01\"".into(),
        body,
    };
    let server = Server::start(vec![reply.clone(), reply]);
    let input = format!(
        "type = \"spss\"\nurl = \"{}/lfs/pub0124.sav\"\ncache_dir = \"cache\"\ntimeout_secs = 10",
        server.url
    );
    let p = pipeline(&dir, "url", &input, true);
    for wh in ["wh1", "wh2"] {
        let (code, out) = run(&p, &dir.join(wh));
        assert_eq!(code, 0, "{wh}: {out}");
    }
    let statuses: Vec<u16> = server.finish().into_iter().map(|r| r.1).collect();
    assert_eq!(statuses, [200, 304]);
    let cached = std::fs::read_dir(dir.join("cache")).expect("cache").count();
    assert_eq!(cached, 2, "the file and its record");
}

#[test]
fn check_reports_misused_input_keys_and_unknown_label_codes() {
    let dir = temp_dir("check-keys");
    let csv = dir.join("x.csv");
    std::fs::write(&csv, "a\n1\n").expect("csv");
    let input = format!(
        "type = \"csv\"\npath = {csv:?}\nsheet = \"Data\"\nexpected_sha256 = \"abc\"\nrange = \"A1\""
    );
    let p = pipeline(&dir, "keys", &input, true);
    let text = std::fs::read_to_string(&p)
        .expect("read")
        .replace("\"SEX_F\" }", "\"SEX_Z\" }");
    std::fs::write(&p, text).expect("write");
    let out = migstat(&["check", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        "input.sheet: applies to excel inputs only",
        "input.range: applies to excel inputs only",
        "input.range: \"A1\" is not a cell range",
        "input.expected_sha256: applies to inputs with a `url`",
        "input.expected_sha256: \"abc\" is not 64 hexadecimal digits",
        "fields.sex.labels.Female: \"SEX_Z\" is not a code of sex",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let url_only = pipeline(
        &dir,
        "url",
        "type = \"spss\"\nurl = \"https://example.org/x.sav\"",
        true,
    );
    let out = migstat(&["check", url_only.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
