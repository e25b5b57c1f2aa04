//! `migstat report`: a page for every shipped area, each chart's series checked against DuckDB's
//! count of the periods in the warehouse (a suppressed period is a gap with an `S` mark, never a
//! point at zero), and every page rendered by headless Chromium (Debian's package, which `make
//! tools` installs), with a screenshot kept under `target/report-screenshots/`.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::migstat;
use crate::query::run_python;

/// Every shipped pipeline, as `make run` runs them.
fn warehouse() -> &'static Path {
    static WH: OnceLock<PathBuf> = OnceLock::new();
    WH.get_or_init(|| {
        let wh = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-warehouse");
        let _ = std::fs::remove_dir_all(&wh);
        let mut pipelines: Vec<String> = std::fs::read_dir(crate::common::repo().join("pipelines"))
            .expect("pipelines")
            .flatten()
            .map(|e| format!("pipelines/{}", e.file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".toml"))
            .collect();
        pipelines.sort();
        let whs = wh.to_string_lossy().to_string();
        let mut args: Vec<&str> = vec!["run"];
        args.extend(pipelines.iter().map(String::as_str));
        args.extend(["--warehouse", &whs]);
        let out = migstat(&args);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        wh
    })
}

const AREAS: [&str; 6] = ["ARM", "CAN", "ECU", "EGY", "FRA", "THA"];

fn pages() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-pages");
        let _ = std::fs::remove_dir_all(&out);
        let (wh, o) = (
            warehouse().to_string_lossy().to_string(),
            out.to_string_lossy().to_string(),
        );
        let res = migstat(&[
            "report",
            "--warehouse",
            &wh,
            "--ref-area",
            "all",
            "--out",
            &o,
        ]);
        assert!(
            res.status.success(),
            "{}{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        );
        out
    })
}

/// A figure's series: name, colour and number of points.
type SeriesList = Vec<(String, String, usize)>;

/// The figure of `chart` in a page: its `data-series` list and its SVG.
fn figure<'a>(html: &'a str, chart: &str) -> Option<(SeriesList, &'a str)> {
    let start = html.find(&format!("<figure data-chart=\"{chart}\""))?;
    let rest = &html[start..];
    let end = rest.find("</figure>")?;
    let fig = &rest[..end];
    let list = fig.split("data-series=\"").nth(1)?.split('"').next()?;
    let series = list
        .split(';')
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let mut p = s.rsplitn(3, '=');
            let n = p.next()?.parse().ok()?;
            let colour = p.next()?.to_string();
            Some((p.next()?.to_string(), colour, n))
        })
        .collect();
    Some((series, fig))
}

/// Circles drawn in `colour` (filled or hollow) and `S` marks in it.
fn marks(svg: &str, colour: &str) -> (usize, usize) {
    let circles = svg
        .split("<circle")
        .skip(1)
        .filter(|c| c.split("/>").next().is_some_and(|c| c.contains(colour)))
        .count();
    let s = (svg.split("<text").skip(1))
        .filter_map(|t| t.split("</text>").next())
        .filter(|t| t.contains(colour) && t.ends_with(">\nS\n"))
        .count();
    (circles, s)
}

/// DuckDB: periods with a value and suppressed periods of one series.
fn duckdb_periods(area: &str, indicator: &str, c2: &str) -> (usize, usize) {
    let wh = warehouse().to_string_lossy().to_string();
    let script = format!(
        "import duckdb; r = duckdb.connect().execute(\"select count(distinct time) filter (where obs_status is distinct from 'S'), \
         count(distinct time) filter (where obs_status = 'S') from read_parquet('{wh}/observations/**/*.parquet', hive_partitioning = false) \
         where ref_area = '{area}' and indicator = '{indicator}' and sex = 'SEX_T' and classif1 = 'AGE_YTHADULT_YGE15' and classif2 = '{c2}'\").fetchone(); print(r[0], r[1])"
    );
    let out = run_python(&script, &[]);
    let text = String::from_utf8_lossy(&out);
    let mut n = text
        .split_whitespace()
        .map(|x| x.parse::<usize>().expect("count"));
    (n.next().unwrap_or(0), n.next().unwrap_or(0))
}

#[test]
fn rate_series_have_a_point_per_period_and_gaps_for_suppressed_cells() {
    let mut suppressed_seen = 0;
    for area in AREAS {
        let html = std::fs::read_to_string(pages().join(format!("{area}.html"))).expect("page");
        for indicator in [
            "MST_TEAP_SEX_AGE_CBR_RT",
            "MST_TEMP_SEX_AGE_CBR_RT",
            "MST_TUNE_SEX_AGE_CBR_RT",
        ] {
            let (series, svg) =
                figure(&html, indicator).unwrap_or_else(|| panic!("{area}: no {indicator} chart"));
            assert_eq!(series.len(), 2, "{area} {indicator}: {series:?}");
            for ((name, colour, _), c2) in series.iter().zip(["CBR_BIR_FOREIGN", "CBR_BIR_NATIVE"])
            {
                let (values, supp) = duckdb_periods(area, indicator, c2);
                let (circles, s_marks) = marks(svg, colour);
                assert_eq!(
                    (circles, s_marks),
                    (values, supp),
                    "{area} {indicator} {name}: points and S marks"
                );
                suppressed_seen += supp;
            }
        }
        assert!(
            html.contains("<section id=\"mirror\"") && html.contains("<section id=\"reliability\""),
            "{area}"
        );
        // Nothing fetched: no script, stylesheet link, or external source (the SVG namespace is
        // a name, not a fetch).
        for external in [
            "<script",
            "<link",
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
        ] {
            assert!(
                !html.contains(external),
                "{area}: not self-contained ({external})"
            );
        }
    }
    assert!(
        suppressed_seen > 0,
        "no suppressed rate in the sample: the gap is untested"
    );
}

#[test]
fn the_mirror_section_shows_pairs_where_the_warehouse_has_them() {
    let html = std::fs::read_to_string(pages().join("THA.html")).expect("page");
    let (series, _) = figure(&html, "mirror").expect("THA mirror chart");
    assert!(series.iter().all(|(_, _, n)| *n > 0), "{series:?}");
    let fra = std::fs::read_to_string(pages().join("FRA.html")).expect("page");
    assert!(
        fra.contains("Sample scale"),
        "FRA's counts must be marked as sample scale"
    );
}

/// Headless Chromium, as Debian ships it.
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn chromium_run(page: &Path, extra: &[&str]) -> std::process::Output {
    let profile = crate::common::temp_dir(&format!(
        "chromium-{}",
        page.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let out = Command::new(chromium().expect("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args(["--disable-sync", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(profile);
    out
}

#[test]
fn every_page_renders_in_headless_chromium() {
    if chromium().is_none() {
        println!("skipped: no /usr/bin/chromium (`make tools` installs Debian's chromium)");
        return;
    }
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    for area in AREAS {
        let page = pages().join(format!("{area}.html"));
        let dom = chromium_run(&page, &["--dump-dom"]);
        assert!(
            dom.status.success(),
            "{area}: {}",
            String::from_utf8_lossy(&dom.stderr)
        );
        let dom = String::from_utf8_lossy(&dom.stdout);
        let svgs = std::fs::read_to_string(&page)
            .expect("page")
            .matches("<svg")
            .count();
        assert!(svgs >= 4, "{area}: {svgs} charts");
        assert_eq!(
            dom.matches("<svg").count(),
            svgs,
            "{area}: the DOM lost charts"
        );
        assert!(dom.contains("labour migration statistics"), "{area}");
        let png = shots.join(format!("{area}.png"));
        let _ = std::fs::remove_file(&png);
        let shot = chromium_run(
            &page,
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=1200,4000",
            ],
        );
        assert!(
            shot.status.success(),
            "{area}: {}",
            String::from_utf8_lossy(&shot.stderr)
        );
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 20_000, "{area}: screenshot of {size} bytes");
    }
}
