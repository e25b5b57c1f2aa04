//! The checks a remittance analyst expects: area codes validated against the code lists (with
//! aggregates told apart from countries by the file's own metadata where it has some), falls from
//! one year to the next beyond a threshold, each year's World value against the sum of the
//! countries, and a bilateral matrix's rows and columns against its WORLD totals. Findings are
//! report entries; only unknown or contradictory codes are errors.
use std::collections::BTreeMap;

use super::crosswalk::{AreaKind, Areas};
use super::matrix::{Matrix, Resolved};
use super::sheet::{Cell, Grid};
use super::tables::{Obs, Table};
use super::wdi::{Wdi, WdiRow};
use crate::config::pipeline::Severity;
use crate::validate::findings::{Finding, Findings};

/// Where a finding is: the source line and column, the area it is about, the value concerned.
pub struct Spot {
    pub line: u64,
    pub column: String,
    pub key: String,
    pub value: String,
}

impl Spot {
    pub fn finding(self, rule: &str, severity: Severity, message: String) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            line: self.line,
            key: self.key,
            column: self.column,
            value: self.value,
            message,
        }
    }
}

/// The source position of an area's year: (line, column).
pub type Locate<'a> = &'a dyn Fn(&str, &str) -> (u64, String);

fn spot((line, column): (u64, String), key: &str, value: String) -> Spot {
    Spot {
        line,
        column,
        key: key.into(),
        value,
    }
}

/// A relative difference in percent, with enough digits to show small ones.
fn pct(diff: f64, total: f64) -> String {
    if total == 0.0 {
        return "of a zero total".into();
    }
    let p = 100.0 * diff / total.abs();
    if p.abs() >= 0.01 {
        format!("{p:+.3}%")
    } else {
        format!("{p:+.1e}%")
    }
}

/// The kind of every WDI row's area (`None` where an error was reported).
pub fn classify(
    w: &Wdi,
    areas: &Areas,
    meta: Option<&BTreeMap<String, bool>>,
    f: &mut Findings,
) -> Vec<Option<AreaKind>> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::with_capacity(w.rows.len());
    for row in &w.rows {
        let at = || (w.grid.line(row.r), w.grid.column(1));
        let code = row.code.as_str();
        if let Some(prev) = seen.insert(code.to_string(), at().0) {
            let msg = format!("{code} is listed twice (first at line {prev})");
            f.push(spot(at(), code, code.into()).finding("duplicate_area", Severity::Error, msg));
            out.push(None);
            continue;
        }
        let kind = kind_of(code, areas, meta.and_then(|m| m.get(code).copied()));
        if let Err(msg) = &kind {
            let s = spot(at(), code, code.into());
            f.push(s.finding("unknown_code", Severity::Error, msg.clone()));
        }
        check_name(row, areas, at(), f);
        out.push(kind.ok());
    }
    out
}

/// A name the crosswalk knows must map to the code the file gives it.
fn check_name(row: &WdiRow, areas: &Areas, at: (u64, String), f: &mut Findings) {
    let code = row.code.as_str();
    if let Some((named, _)) = areas.resolve(&row.name).filter(|(c, _)| *c != code) {
        let msg = format!(
            "the file names {code} {:?}, which schemas/country_crosswalk.csv maps to {named}",
            row.name
        );
        let s = spot(at, code, row.name.clone());
        f.push(s.finding("name_mismatch", Severity::Warning, msg));
    }
}

/// `has_region`: what the file's metadata sheet says (`None` when it says nothing).
fn kind_of(code: &str, areas: &Areas, has_region: Option<bool>) -> Result<AreaKind, String> {
    let listed = areas.kind(code);
    let aggregate = areas.aggregate_kind(code);
    match (has_region, listed) {
        (_, None) => Err(format!(
            "unknown area code {code:?}: not in schemas/countries.csv, wb_aggregates.csv or \
             country_crosswalk.csv"
        )),
        (Some(false), _) if aggregate.is_none() => Err(format!(
            "{code} has no Region in the metadata sheet (an aggregate) but is not in \
             schemas/wb_aggregates.csv: add it with its kind"
        )),
        (Some(true), _) if aggregate.is_some() => Err(format!(
            "{code} has a Region in the metadata sheet (an economy) but schemas/wb_aggregates.csv \
             lists it as an aggregate: fix the list"
        )),
        (_, Some(k)) => Ok(k),
    }
}

fn year(t: &str) -> Option<i32> {
    t.parse().ok()
}

/// The fall from `prev` to `cur` as a share, when both are values of consecutive years of the
/// same area and `prev` is positive.
fn fall(prev: &Obs, cur: &Obs) -> Option<f64> {
    let (Some(a), Some(b)) = (prev.value, cur.value) else {
        return None;
    };
    let consecutive = prev.ref_area == cur.ref_area
        && prev.counterpart == cur.counterpart
        && year(&prev.time)
            .zip(year(&cur.time))
            .is_some_and(|(p, c)| p + 1 == c);
    (consecutive && a > 0.0).then(|| (a - b) / a)
}

/// Warns of every fall by at least `threshold` (0.75 = three quarters) from one year to the
/// next, notes it on the value, and returns how many there were.
pub fn yoy_falls(
    t: &mut Table,
    threshold: f64,
    areas: &Areas,
    locate: Locate,
    f: &mut Findings,
) -> u64 {
    let mut n = 0;
    for i in 1..t.obs.len() {
        let (prev, cur) = (&t.obs[i - 1], &t.obs[i]);
        let Some(share) = fall(prev, cur).filter(|&x| x >= threshold) else {
            continue;
        };
        let (a, b) = (prev.value.unwrap_or(0.0), cur.value.unwrap_or(0.0));
        let code = cur.ref_area.as_str();
        let msg = format!(
            "{code} ({}, {}) {}: {} fell by {:.1}% from {a:.0} in {} to {b:.0} (warning at \
             {:.0}%)",
            areas.name(code).unwrap_or("?"),
            cur.ref_kind.as_str(),
            cur.time,
            t.indicator,
            100.0 * share,
            prev.time,
            threshold * 100.0
        );
        let s = spot(locate(code, &cur.time), code, format!("{b}"));
        f.push(s.finding("yoy_fall", Severity::Warning, msg));
        let note = format!(
            "fell by {:.1}% from {} (year-on-year fall flagged by migstat)",
            100.0 * share,
            prev.time
        );
        let o = &mut t.obs[i];
        o.note = Some(match o.note.take() {
            Some(old) => format!("{old}; {note}"),
            None => note,
        });
        n += 1;
    }
    n
}

/// WDI: each year's World value against the sum of the countries' values (aggregates left out),
/// which it equals when the aggregates are told apart correctly. Returns the number of years that
/// differ by more than `tol` (relative).
pub fn world_vs_countries(t: &Table, tol: f64, locate: Locate, f: &mut Findings) -> u64 {
    let mut per: BTreeMap<&str, (f64, Option<f64>)> = BTreeMap::new();
    for o in &t.obs {
        let e = per.entry(o.time.as_str()).or_default();
        match (o.ref_kind, o.value) {
            (AreaKind::World, v) => e.1 = v,
            (k, Some(v)) if !k.is_aggregate() => e.0 += v,
            _ => {}
        }
    }
    let mut n = 0;
    for (time, (countries, world)) in per {
        let Some(world) = world else { continue };
        if (countries - world).abs() <= tol * world.abs().max(1.0) {
            continue;
        }
        let msg = format!(
            "{time}: the World value {world:.0} differs from the sum of the countries' values \
             {countries:.0} ({}): an aggregate tagged as a country, or a country missing?",
            pct(countries - world, world)
        );
        let s = spot(locate("WLD", time), "WLD", format!("{world}"));
        f.push(s.finding("world_sum", Severity::Warning, msg));
        n += 1;
    }
    n
}

/// The numbers of `cells` added up, and how many of the cells were not numbers.
fn sum(g: &Grid, cells: impl Iterator<Item = (usize, usize)>) -> (f64, usize) {
    cells.fold((0.0, 0), |(s, nulls), (r, c)| match g.cell(r, c) {
        Cell::Number(x) => (s + x, nulls),
        _ => (s, nulls + 1),
    })
}

/// One comparison of added-up cells with the WORLD total at `(r, c)`; true when they differ.
struct Total<'a> {
    g: &'a Grid,
    tol: f64,
}

impl Total<'_> {
    fn differs(
        &self,
        (r, c): (usize, usize),
        key: &str,
        what: String,
        (s, nulls): (f64, usize),
        f: &mut Findings,
    ) -> bool {
        let at = (self.g.line(r), self.g.column(c));
        let Cell::Number(total) = *self.g.cell(r, c) else {
            let msg = format!("{what}: the WORLD total has no number");
            let sp = spot(at, key, self.g.cell(r, c).shown());
            f.push(sp.finding("world_sum", Severity::Warning, msg));
            return true;
        };
        if (s - total).abs() <= self.tol * total.abs().max(1.0) {
            return false;
        }
        let msg = format!(
            "{what}: the cells add up to {s:.4}, the WORLD total says {total:.4} (difference \
             {:.4}, {}); {nulls} cell(s) are not numbers",
            s - total,
            pct(s - total, total)
        );
        f.push(spot(at, key, format!("{total}")).finding("world_sum", Severity::Warning, msg));
        true
    }
}

/// Compares each row's cells with its WORLD column, each column's with its WORLD row, and the
/// corner with both; returns the number of mismatches (each a warning).
pub fn matrix_sums(m: &Matrix, res: &Resolved, tol: f64, f: &mut Findings) -> u64 {
    let g = &m.grid;
    let (wr, wc) = (res.rows[res.world_row].pos, res.cols[res.world_col].pos);
    let inner_cols = || res.cols.iter().filter(|a| a.pos != wc).map(|a| a.pos);
    let inner_rows = || res.rows.iter().filter(|a| a.pos != wr).map(|a| a.pos);
    let t = Total { g, tol };
    let mut n = 0;
    for a in res.rows.iter().filter(|a| a.pos != wr) {
        let what = format!("row {:?} ({})", g.cell(a.pos, 0).shown(), a.code);
        let s = sum(g, inner_cols().map(|c| (a.pos, c)));
        n += u64::from(t.differs((a.pos, wc), &a.code, what, s, f));
    }
    for a in res.cols.iter().filter(|a| a.pos != wc) {
        let what = format!(
            "column {:?} ({})",
            g.cell(m.header_row, a.pos).shown(),
            a.code
        );
        let s = sum(g, inner_rows().map(|r| (r, a.pos)));
        n += u64::from(t.differs((wr, a.pos), &a.code, what, s, f));
    }
    let across = sum(g, inner_cols().map(|c| (wr, c)));
    n += u64::from(t.differs((wr, wc), "WLD", "the WORLD row".into(), across, f));
    let down = sum(g, inner_rows().map(|r| (r, wc)));
    n += u64::from(t.differs((wr, wc), "WLD", "the WORLD column".into(), down, f));
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remit::matrix::Axis;
    use crate::remit::tables::Obs;
    use std::path::PathBuf;

    fn grid(rows: Vec<Vec<Cell>>) -> Grid {
        let lines = (1..=rows.len() as u64).collect();
        Grid {
            file: PathBuf::from("m.xlsx"),
            sheet: Some("S".into()),
            rows,
            lines,
        }
    }

    fn axis(pos: usize, code: &str, kind: AreaKind) -> Axis {
        Axis {
            pos,
            code: code.into(),
            kind,
        }
    }

    /// Rows A, B, WORLD; columns A, B, WORLD, with `b_world` as B's WORLD column.
    fn matrix(b_world: f64) -> (Matrix, Resolved) {
        let n = Cell::Number;
        let t = |s: &str| Cell::Text(s.into());
        let g = grid(vec![
            vec![t("title")],
            vec![t("corner"), t("A"), t("B"), t("WORLD")],
            vec![t("A"), n(0.0), n(2.0), n(2.0)],
            vec![t("B"), t("-"), n(0.0), n(b_world)],
            vec![t("WORLD"), n(0.5), n(2.0), n(2.5)],
        ]);
        let m = Matrix {
            grid: g,
            title: "title".into(),
            header_row: 1,
            cols: vec![1, 2, 3],
            rows: vec![2, 3, 4],
        };
        let res = Resolved {
            rows: vec![
                axis(2, "AAA", AreaKind::Country),
                axis(3, "BBB", AreaKind::Country),
                axis(4, "WLD", AreaKind::World),
            ],
            cols: vec![
                axis(1, "AAA", AreaKind::Country),
                axis(2, "BBB", AreaKind::Country),
                axis(3, "WLD", AreaKind::World),
            ],
            world_row: 2,
            world_col: 2,
        };
        (m, res)
    }

    #[test]
    fn rows_and_columns_against_world_totals() {
        let (m, res) = matrix(0.0);
        let mut f = Findings::default();
        let n = matrix_sums(&m, &res, 1e-6, &mut f);
        // Column A: the "-" cell hides 0.5 of the WORLD row; the WORLD column then adds to 2.
        let text = f.render_text("m.xlsx");
        assert_eq!(n, 2, "{text}");
        assert!(
            text.contains("column \"A\" (AAA): the cells add up to 0.0000"),
            "{text}"
        );
        assert!(
            text.contains("the WORLD column: the cells add up to 2.0000"),
            "{text}"
        );
        let (m, res) = matrix(7.0);
        let mut f = Findings::default();
        assert_eq!(matrix_sums(&m, &res, 1e-6, &mut f), 3);
        let text = f.render_text("m.xlsx");
        assert!(text.contains("m.xlsx:4: [warning] world_sum"), "{text}");
        assert!(
            text.contains(
                "row \"B\" (BBB): the cells add up to 0.0000, the WORLD total says 7.0000"
            ),
            "{text}"
        );
    }

    fn obs(area: &str, time: &str, v: f64) -> Obs {
        Obs {
            ref_area: area.into(),
            ref_kind: AreaKind::Country,
            counterpart: None,
            time: time.into(),
            value: Some(v),
            note: None,
        }
    }

    #[test]
    fn falls_of_three_quarters_are_flagged_with_area_and_year() {
        let areas = Areas::load(None).expect("areas");
        let mut t = Table {
            name: "remittances",
            bilateral: false,
            indicator: "BX".into(),
            unit: "USD".into(),
            source: "WB:WDI".into(),
            vintage: None,
            obs: vec![
                obs("MEX", "2015", 100.0),
                obs("MEX", "2016", 25.0),
                obs("MEX", "2018", 1.0),
                obs("USA", "2015", 100.0),
                obs("USA", "2016", 25.1),
                obs("ZAF", "2001", 0.0),
                obs("ZAF", "2002", 0.0),
            ],
        };
        let mut f = Findings::default();
        let n = yoy_falls(
            &mut t,
            0.75,
            &areas,
            &|c, y| (1, format!("{c}/{y}")),
            &mut f,
        );
        assert_eq!(n, 1);
        let text = f.render_text("x");
        assert!(
            text.contains("MEX (Mexico, country) 2016: BX fell by 75.0% from 100 in 2015 to 25"),
            "{text}"
        );
        assert!(t.obs[1]
            .note
            .as_deref()
            .is_some_and(|s| s.contains("fell by 75.0% from 2015")));
        assert!(t.obs[4].note.is_none());
    }

    #[test]
    fn world_against_the_sum_of_countries() {
        let mut t = Table {
            name: "remittances",
            bilateral: false,
            indicator: "BX".into(),
            unit: "USD".into(),
            source: "WB:WDI".into(),
            vintage: None,
            obs: vec![
                obs("MEX", "2015", 60.0),
                obs("USA", "2015", 40.0),
                obs("WLD", "2015", 100.0),
            ],
        };
        t.obs[2].ref_kind = AreaKind::World;
        let mut hic = obs("HIC", "2015", 40.0);
        hic.ref_kind = AreaKind::IncomeGroup;
        t.obs.push(hic.clone());
        let mut f = Findings::default();
        let at = |_: &str, _: &str| (1, String::new());
        assert_eq!(world_vs_countries(&t, 1e-6, &at, &mut f), 0);
        hic.ref_kind = AreaKind::Country;
        t.obs[3] = hic;
        assert_eq!(world_vs_countries(&t, 1e-6, &at, &mut f), 1);
        assert!(f
            .render_text("x")
            .contains("2015: the World value 100 differs"));
    }

    #[test]
    fn codes_must_agree_with_the_lists_and_the_metadata() {
        let areas = Areas::load(None).expect("areas");
        assert_eq!(kind_of("WLD", &areas, Some(false)), Ok(AreaKind::World));
        assert_eq!(kind_of("INX", &areas, None), Ok(AreaKind::IncomeGroup));
        assert_eq!(kind_of("MEX", &areas, Some(true)), Ok(AreaKind::Country));
        assert_eq!(kind_of("ANT", &areas, None), Ok(AreaKind::Historical));
        assert!(kind_of("MEX", &areas, Some(false)).is_err());
        assert!(kind_of("HIC", &areas, Some(true)).is_err());
        assert!(kind_of("XXA", &areas, None).is_err());
    }
}
