//! Golden tables of the World Bank pipelines, computed by the code from the Parquet it wrote,
//! rendered as sorted CSV text: written with `MIGSTAT_BLESS=1`, compared otherwise, reviewed as
//! diffs. WDI: one year in full plus per-year counts and sums by area kind; matrices: per-area
//! sums on both sides beside the WORLD cell, the null cells and Mexico's row and column.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{run_ok, table_rows, Row, BILATERAL, PAID, RECEIVED, STOCKS};
use crate::common::repo;

fn num(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

/// Compares with `tests/golden/<name>.csv`, or writes it when `MIGSTAT_BLESS=1`.
fn golden(name: &str, text: &str) {
    let path = repo().join("tests/golden").join(format!("{name}.csv"));
    if std::env::var("MIGSTAT_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, text).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != text {
        let diff: Vec<String> = want
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "{name}: output differs from {} ({} vs {} lines); rerun with MIGSTAT_BLESS=1 and \
             review the diff:\n{}",
            path.display(),
            want.lines().count(),
            text.lines().count(),
            diff.join("\n")
        );
    }
}

/// One year of a WDI table in full, then per year and kind group: count and sum.
fn render_wdi(rows: &[Row], year: &str) -> String {
    let r0 = &rows[0];
    let mut s = format!(
        "# {} ({}), vintage {}: year {year} in full, then per year and area kind\n",
        r0.indicator,
        r0.unit,
        r0.vintage.as_deref().unwrap_or("")
    );
    s.push_str("ref_area,ref_area_kind,time,obs_value,note\n");
    for r in rows.iter().filter(|r| r.time == year) {
        let note = r.note.as_deref().unwrap_or("").replace(',', ";");
        let _ = writeln!(
            s,
            "{},{},{},{},{note}",
            r.area,
            r.kind,
            r.time,
            num(r.value)
        );
    }
    let mut per: BTreeMap<(&str, &str), (usize, usize, f64)> = BTreeMap::new();
    for r in rows {
        let e = per.entry((r.time.as_str(), r.kind.as_str())).or_default();
        e.0 += 1;
        e.1 += usize::from(r.value.is_none());
        e.2 += r.value.unwrap_or(0.0);
    }
    s.push_str("time,ref_area_kind,values,nulls,sum\n");
    for ((t, k), (n, nulls, sum)) in per {
        let _ = writeln!(s, "{t},{k},{n},{nulls},{sum:.0}");
    }
    s
}

/// Cells, nulls, sum over non-WORLD partners, the WORLD cell.
type Sums = (usize, usize, f64, Option<f64>);

/// Per area on one side (`ref_area`, or `counterpart_area` when `down`): cells, nulls, the sum
/// over non-WORLD partners and the WORLD cell.
fn side_sums(s: &mut String, rows: &[Row], down: bool) {
    let mut per: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for r in rows {
        let cp = r.counterpart.clone().unwrap_or_default();
        let cpk = r.counterpart_kind.clone().unwrap_or_default();
        let (me, kind, other) = if down {
            (cp, cpk, r.area.as_str())
        } else {
            (r.area.clone(), r.kind.clone(), cp.as_str())
        };
        let partner_is_world = other == "WLD";
        let e = per.entry((me, kind)).or_default();
        e.0 += 1;
        e.1 += usize::from(r.value.is_none());
        if partner_is_world {
            e.3 = r.value;
        } else {
            e.2 += r.value.unwrap_or(0.0);
        }
    }
    let side = if down { "counterpart_area" } else { "ref_area" };
    let _ = writeln!(s, "{side},kind,cells,nulls,sum,world");
    for ((a, k), (n, nulls, sum, w)) in per {
        let w = w.map(|w| format!("{w:.3}")).unwrap_or_default();
        let _ = writeln!(s, "{a},{k},{n},{nulls},{sum:.3},{w}");
    }
}

/// Both sides' sums, then the null cells and a slice: `area`'s non-zero cells on either side.
fn render_matrix(rows: &[Row], area: &str) -> String {
    let mut s = format!(
        "# {} ({}), {} cells; sums over non-WORLD partners beside the WORLD cell\n",
        rows[0].indicator,
        rows[0].unit,
        rows.len()
    );
    side_sums(&mut s, rows, false);
    side_sums(&mut s, rows, true);
    s.push_str("ref_area,counterpart_area,obs_value,note\n");
    let slice = rows.iter().filter(|r| {
        r.value.is_none()
            || (r.value != Some(0.0) && (r.area == area || r.counterpart.as_deref() == Some(area)))
    });
    for r in slice {
        let note = r.note.as_deref().unwrap_or("").replace(',', ";");
        let cp = r.counterpart.as_deref().unwrap_or("");
        let _ = writeln!(s, "{},{cp},{},{note}", r.area, num(r.value));
    }
    s
}

#[test]
fn golden_wb_remittances_received() {
    let (wh, s, log) = run_ok("wb-received", RECEIVED);
    let rows = table_rows(&wh, "remittances");
    assert_eq!(s.inputs[0].rows_read, rows.len() as u64, "{log}");
    assert_eq!(rows[0].vintage.as_deref(), Some("2023-10-26"));
    golden("wb_remittances_received", &render_wdi(&rows, "2017"));
}

#[test]
fn golden_wb_remittances_paid() {
    let (wh, _, _) = run_ok("wb-paid", PAID);
    let rows = table_rows(&wh, "remittances");
    assert_eq!(rows[0].vintage.as_deref(), Some("2021-09-15"));
    assert!(rows
        .iter()
        .all(|r| r.indicator == "BM.TRF.PWKR.CD.DT" && r.time.len() == 4));
    golden("wb_remittances_paid", &render_wdi(&rows, "2017"));
}

#[test]
fn golden_wb_bilateral_remittances() {
    let (wh, s, _) = run_ok("wb-bilateral", BILATERAL);
    let rows = table_rows(&wh, "remittances_bilateral");
    assert_eq!(rows.len(), 215 * 215);
    assert_eq!(s.inputs[0].rows_read, 215 * 215);
    assert_eq!(rows[0].vintage.as_deref(), Some("2018-04"));
    golden("wb_bilateral_remittances", &render_matrix(&rows, "MEX"));
}

#[test]
fn golden_wb_bilateral_migrant_stocks() {
    let (wh, _, _) = run_ok("wb-stocks", STOCKS);
    let rows = table_rows(&wh, "migrant_stocks_bilateral");
    assert_eq!(rows.len(), 217 * 217);
    assert!(rows.iter().all(|r| r.vintage.is_none() && r.time == "2017"));
    golden("wb_bilateral_migrant_stocks", &render_matrix(&rows, "MEX"));
}
