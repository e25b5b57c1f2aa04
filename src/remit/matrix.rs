//! The World Bank bilateral matrices (remittances: sending down, receiving across, US$ millions;
//! migrant stocks: origin down, destination across, persons): a title row, a header row of
//! country names, one row per country, WORLD totals, notes below. Names are resolved through the
//! crosswalk; text cells ("-") and blank cells become nulls with a note.
use std::collections::BTreeMap;
use std::path::Path;

use super::checks::Spot;
use super::crosswalk::{AreaKind, Areas};
use super::sheet::{col_letter, read_sheet, Cell, Grid};
use super::tables::Obs;
use crate::config::pipeline::Severity;
use crate::error::Result;
use crate::validate::findings::Findings;

/// Rows searched for the header row.
const MAX_TITLE: usize = 10;

#[derive(Debug, Clone)]
pub struct Matrix {
    pub grid: Grid,
    /// The first cell of the sheet (the matrix's title), trimmed.
    pub title: String,
    pub header_row: usize,
    /// Grid columns with a name in the header row.
    pub cols: Vec<usize>,
    /// Grid rows with a name in the first column, up to the first blank row.
    pub rows: Vec<usize>,
}

/// An area of the matrix: its grid position, code and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub pos: usize,
    pub code: String,
    pub kind: AreaKind,
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub rows: Vec<Axis>,
    pub cols: Vec<Axis>,
    /// Index into `rows` / `cols` of the WORLD total.
    pub world_row: usize,
    pub world_col: usize,
}

/// Reads the matrix on `sheet`; `axes` = (what the rows are, what the columns are).
pub fn read(path: &Path, sheet: &str, axes: (&str, &str)) -> Result<Matrix> {
    let g = read_sheet(path, sheet)?;
    let header_row = (0..g.rows.len().min(MAX_TITLE))
        .find(|&r| {
            (1..g.width())
                .filter(|&c| g.cell(r, c).text().is_some_and(|t| !t.is_empty()))
                .count()
                >= 2
        })
        .ok_or_else(|| {
            g.error(
                0,
                1,
                format!(
                    "no header row of names in the first {MAX_TITLE} rows: not a bilateral matrix"
                ),
            )
        })?;
    let cols = columns(&g, header_row)?;
    let rows: Vec<usize> = (header_row + 1..g.rows.len())
        .take_while(|&r| !g.cell(r, 0).is_empty())
        .collect();
    check_numbers(&g, &rows, &cols)?;
    check_corner(&g, header_row, axes)?;
    let end = rows.last().map_or(header_row + 1, |r| r + 1);
    if let Some(r) = (end..g.rows.len()).find(|&r| {
        !g.cell(r, 0).is_empty()
            && cols
                .iter()
                .any(|&c| matches!(g.cell(r, c), Cell::Number(_)))
    }) {
        let msg = format!(
            "numbers below the end of the matrix (row {} is blank): a blank row inside the \
             matrix?",
            g.line(end)
        );
        return Err(g.error(r, 0, msg));
    }
    if let Some(&r) = rows.iter().find(|&&r| g.cell(r, 0).text().is_none()) {
        return Err(g.error(r, 0, format!("{:?} is not a name", g.cell(r, 0).shown())));
    }
    Ok(Matrix {
        title: g.cell(0, 0).text().unwrap_or("").to_string(),
        grid: g,
        header_row,
        cols,
        rows,
    })
}

/// The labels before "(across)" and "(down)" in a corner such as
/// "receiving (across) / sending (down)".
fn corner_labels(corner: &str) -> Option<(&str, &str)> {
    const ACROSS: &str = "(across)";
    const DOWN: &str = "(down)";
    let (a, d) = (corner.find(ACROSS)?, corner.find(DOWN)?);
    Some(if a < d {
        (&corner[..a], &corner[a + ACROSS.len()..d])
    } else {
        (&corner[d + DOWN.len()..a], &corner[..d])
    })
}

/// A corner label naming what is across and what is down must agree with the type.
fn check_corner(g: &Grid, h: usize, (down, across): (&str, &str)) -> Result<()> {
    let corner = g.cell(h, 0).text().unwrap_or("").to_lowercase();
    let Some((across_label, down_label)) = corner_labels(&corner) else {
        return Ok(());
    };
    if across_label.contains(across) && down_label.contains(down) {
        return Ok(());
    }
    let msg = format!(
        "the corner says {corner:?}, but this pipeline type reads {down} countries down and \
         {across} countries across"
    );
    Err(g.error(h, 0, msg))
}

/// A matrix is numbers: a sheet whose body is mostly text is the wrong sheet.
fn check_numbers(g: &Grid, rows: &[usize], cols: &[usize]) -> Result<()> {
    let cells = rows.len() * cols.len();
    let numbers = rows
        .iter()
        .flat_map(|&r| cols.iter().map(move |&c| (r, c)))
        .filter(|&(r, c)| matches!(g.cell(r, c), Cell::Number(_)))
        .count();
    if cells > 0 && numbers * 2 > cells {
        return Ok(());
    }
    let sheet = g.sheet.as_deref().unwrap_or("");
    let msg = format!(
        "sheet {sheet:?} holds no matrix of numbers ({numbers} of {cells} cells below the header \
         row are numbers): is `sheet` in the pipeline right?"
    );
    Err(g.error(0, 0, msg))
}

/// Header columns; an empty header is allowed only over an empty column.
fn columns(g: &Grid, h: usize) -> Result<Vec<usize>> {
    let mut cols = Vec::new();
    for c in 1..g.width() {
        match g.cell(h, c) {
            Cell::Text(t) if !t.trim().is_empty() => cols.push(c),
            cell if cell.is_empty() => {
                if let Some(r) =
                    (h + 1..g.rows.len()).find(|&r| matches!(g.cell(r, c), Cell::Number(_)))
                {
                    return Err(g.error(r, c, "a number in a column without a name"));
                }
            }
            cell => return Err(g.error(h, c, format!("{:?} is not a name", cell.shown()))),
        }
    }
    Ok(cols)
}

/// The place of a cell for a finding; `key` names the area(s): a label's name, or
/// `SENDER->RECEIVER` codes.
fn spot(g: &Grid, (r, c): (usize, usize), key: &str, value: &str) -> Spot {
    Spot {
        line: g.line(r),
        column: g.column(c),
        key: key.into(),
        value: value.into(),
    }
}

/// Names → codes. Unknown names, duplicate codes and a missing WORLD total are errors.
pub fn resolve(m: &Matrix, areas: &Areas, f: &mut Findings) -> Option<Resolved> {
    let g = &m.grid;
    let h = m.header_row;
    let rows = axis(g, m.rows.iter().map(|&r| (r, 0)), areas, f, "row");
    let cols = axis(g, m.cols.iter().map(|&c| (h, c)), areas, f, "column");
    let (rows, cols) = (rows?, cols?);
    let mut world = |v: &[Axis], what: &str, at: (usize, usize)| {
        let w = v.iter().position(|a| a.kind == AreaKind::World);
        if w.is_none() {
            let msg = format!("no WORLD total {what}: the matrix cannot be checked");
            f.push(spot(g, at, "", "").finding("missing_total", Severity::Error, msg));
        }
        w
    };
    let world_row = world(&rows, "row", (h + 1, 0));
    let world_col = world(&cols, "column", (h, 1));
    Some(Resolved {
        world_row: world_row?,
        world_col: world_col?,
        rows,
        cols,
    })
}

/// Where a label is, for messages: `row 12` or `column HH`.
fn label_place(g: &Grid, (r, c): (usize, usize), what: &str) -> String {
    if what == "row" {
        format!("row {}", g.line(r))
    } else {
        format!("column {}", col_letter(c))
    }
}

fn axis(
    g: &Grid,
    cells: impl Iterator<Item = (usize, usize)>,
    areas: &Areas,
    f: &mut Findings,
    what: &str,
) -> Option<Vec<Axis>> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut ok = true;
    for (r, c) in cells {
        let name = g.cell(r, c).text().unwrap_or("");
        let Some((code, kind)) = areas.resolve(name) else {
            let msg = format!(
                "unknown country name {name:?} in a {what} label: add it to \
                 schemas/country_crosswalk.csv with its ISO3 code"
            );
            f.push(spot(g, (r, c), name, name).finding("unknown_name", Severity::Error, msg));
            ok = false;
            continue;
        };
        if let Some(prev) = seen.insert(code.to_string(), label_place(g, (r, c), what)) {
            let msg = format!("{name:?} is {code}, like the {what} label at {prev}");
            f.push(spot(g, (r, c), name, name).finding("duplicate_area", Severity::Error, msg));
            ok = false;
        }
        out.push(Axis {
            pos: if what == "row" { r } else { c },
            code: code.to_string(),
            kind,
        });
    }
    ok.then_some(out)
}

/// The value of a cell, or a null with a note saying why (reported as info for text cells and as
/// a warning for negative numbers).
fn cell_value(
    g: &Grid,
    at: (usize, usize),
    key: &str,
    f: &mut Findings,
) -> (Option<f64>, Option<String>) {
    match g.cell(at.0, at.1) {
        Cell::Number(x) => {
            if *x < 0.0 {
                let msg = format!("negative value {x} for {key}");
                let s = spot(g, at, key, &x.to_string());
                f.push(s.finding("negative_value", Severity::Warning, msg));
            }
            (Some(*x), None)
        }
        Cell::Empty => (None, Some("the source cell is blank: left null".into())),
        other => {
            let shown = other.shown();
            let msg = format!("the source cell holds {shown:?}, not a number: left null");
            let s = spot(g, at, key, &shown);
            f.push(s.finding("text_cell", Severity::Info, msg.clone()));
            (None, Some(msg))
        }
    }
}

/// Every cell as one observation: `ref_area` = the column, `counterpart_area` = the row.
pub fn observations(m: &Matrix, res: &Resolved, time: &str, f: &mut Findings) -> Vec<Obs> {
    let mut out = Vec::with_capacity(res.rows.len() * res.cols.len());
    for row in &res.rows {
        for col in &res.cols {
            let key = format!("{}->{}", row.code, col.code);
            let (value, note) = cell_value(&m.grid, (row.pos, col.pos), &key, f);
            out.push(Obs {
                ref_area: col.code.clone(),
                ref_kind: col.kind,
                counterpart: Some((row.code.clone(), row.kind)),
                time: time.to_string(),
                value,
                note,
            });
        }
    }
    out
}

/// The years in the title (e.g. "... for 2017 ... (April 2018 Version)").
pub fn title_years(title: &str) -> Vec<String> {
    title
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4 && (w.starts_with("19") || w.starts_with("20")))
        .map(String::from)
        .collect()
}

/// "(April 2018 Version)" in the title → `2018-04`.
pub fn title_vintage(title: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = title.to_lowercase();
    let inner = lower
        .split('(')
        .find_map(|p| p.split(')').next().filter(|p| p.contains("version")))?;
    let words: Vec<&str> = inner.split_whitespace().collect();
    let m = words.iter().position(|w| MONTHS.contains(w))?;
    let year = words
        .get(m + 1)
        .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))?;
    let month = MONTHS.iter().position(|x| *x == words[m])? + 1;
    Some(format!("{year}-{month:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corner_labels_either_way_round() {
        let c = "receiving (across) / sending (down) ";
        assert_eq!(corner_labels(c), Some(("receiving ", " / sending ")));
        let c = "source country (down) - destination country (across)";
        assert_eq!(
            corner_labels(c),
            Some((" - destination country ", "source country "))
        );
        assert_eq!(corner_labels("Bilateral"), None);
    }

    #[test]
    fn title_year_and_version() {
        let t = "Bilateral Remittance Estimates for 2017 using Migrant Stocks (millions of US$) \
                 (April 2018 Version)";
        assert_eq!(title_years(t), vec!["2017", "2018"]);
        assert_eq!(title_vintage(t).as_deref(), Some("2018-04"));
        assert_eq!(
            title_vintage("Bilateral Estimates of Migrant Stocks in 2017"),
            None
        );
    }
}
