//! World Development Indicators downloads: the Excel file (`Data` sheet with a preamble, plus
//! `Metadata - Countries`) and the bulk CSV (UTF-8 BOM, 4 preamble lines, a trailing empty
//! column). Both have the same table: `Country Name, Country Code, Indicator Name, Indicator
//! Code, 1960, …`. A blank year cell is no observation; a text cell becomes a null with a note.
use std::collections::BTreeMap;
use std::path::Path;

use super::sheet::{read_csv, read_sheet, Cell, Grid};
use crate::error::Result;

const HEADER: [&str; 4] = [
    "Country Name",
    "Country Code",
    "Indicator Name",
    "Indicator Code",
];
/// Rows searched for the header (the preamble is 4 lines in every WDI download).
const MAX_PREAMBLE: usize = 20;

/// A value cell: a number, or text standing where a number should be.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct WdiRow {
    /// Row index in the grid.
    pub r: usize,
    pub name: String,
    pub code: String,
    /// (index into `Wdi::years`, value); blank cells are left out.
    pub values: Vec<(usize, Value)>,
}

#[derive(Debug, Clone)]
pub struct Wdi {
    pub grid: Grid,
    /// "Last Updated Date" of the preamble as `YYYY-MM-DD`.
    pub vintage: Option<String>,
    /// (column, year).
    pub years: Vec<(usize, String)>,
    pub rows: Vec<WdiRow>,
    /// Blank year cells: no observation.
    pub blanks: u64,
}

/// The `Data` sheet (or `sheet`) of a WDI Excel download.
pub fn read_excel(path: &Path, sheet: &str, indicator: &str) -> Result<Wdi> {
    parse(read_sheet(path, sheet)?, indicator)
}

/// A WDI bulk CSV file.
pub fn read_bulk_csv(path: &Path, indicator: &str) -> Result<Wdi> {
    parse(read_csv(path)?, indicator)
}

/// `YYYY-MM-DD` for an Excel date serial (1900 date system: day 25569 is 1970-01-01).
pub fn excel_date(serial: f64) -> Option<String> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let z = serial.floor() as i64 - 25_569 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The "Last Updated Date" value of the preamble.
fn vintage(g: &Grid, header_row: usize) -> Result<Option<String>> {
    for r in 0..header_row {
        if g.cell(r, 0).text() != Some("Last Updated Date") {
            continue;
        }
        return match g.cell(r, 1) {
            Cell::Date(d) | Cell::Number(d) => Ok(excel_date(*d)),
            Cell::Text(s) if is_iso_date(s.trim()) => Ok(Some(s.trim().to_string())),
            other => Err(g.error(
                r,
                1,
                format!(
                    "\"Last Updated Date\" is {:?}, not a date (YYYY-MM-DD)",
                    other.shown()
                ),
            )),
        };
    }
    Ok(None)
}

fn find_header(g: &Grid) -> Result<usize> {
    (0..g.rows.len().min(MAX_PREAMBLE))
        .find(|&r| (0..2).all(|c| g.cell(r, c).text() == Some(HEADER[c])))
        .ok_or_else(|| {
            g.error(
                0,
                0,
                format!(
                    "no header row starting with \"Country Name\", \"Country Code\" in the first \
                     {MAX_PREAMBLE} rows: this is not a WDI table"
                ),
            )
        })
}

/// The year columns; an empty header is allowed only over an empty column.
fn years(g: &Grid, h: usize) -> Result<Vec<(usize, String)>> {
    for (c, want) in HEADER.iter().enumerate() {
        if g.cell(h, c).text() != Some(want) {
            return Err(g.error(h, c, format!("expected the header {want:?}")));
        }
    }
    let mut out = Vec::new();
    for c in HEADER.len()..g.width() {
        let year = match g.cell(h, c) {
            Cell::Number(x) if x.fract() == 0.0 => format!("{x}"),
            Cell::Text(s) => s.trim().to_string(),
            _ => String::new(),
        };
        if year.is_empty() {
            if let Some(r) = (h + 1..g.rows.len()).find(|&r| !g.cell(r, c).is_empty()) {
                return Err(g.error(r, c, "a value in a column without a year header"));
            }
            continue;
        }
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(g.error(h, c, format!("header {year:?} is not a year")));
        }
        out.push((c, year));
    }
    if out.is_empty() {
        return Err(g.error(h, HEADER.len(), "no year columns"));
    }
    Ok(out)
}

/// Parses a grid holding a WDI table of `indicator`.
pub fn parse(grid: Grid, indicator: &str) -> Result<Wdi> {
    let h = find_header(&grid)?;
    let vintage = vintage(&grid, h)?;
    let years = years(&grid, h)?;
    let mut rows = Vec::new();
    let mut blanks = 0;
    for r in h + 1..grid.rows.len() {
        if grid.rows[r].iter().all(Cell::is_empty) {
            continue;
        }
        let ind = grid.cell(r, 3).text().unwrap_or("");
        if ind != indicator {
            return Err(grid.error(
                r,
                3,
                format!(
                    "the file holds indicator {ind:?}, the pipeline loads {indicator:?}: wrong \
                     file or wrong `indicator`"
                ),
            ));
        }
        let mut values = Vec::new();
        for (i, (c, _)) in years.iter().enumerate() {
            match grid.cell(r, *c) {
                Cell::Empty => blanks += 1,
                Cell::Number(x) => values.push((i, Value::Num(*x))),
                cell if cell.is_empty() => blanks += 1,
                cell => values.push((i, Value::Text(cell.shown()))),
            }
        }
        rows.push(WdiRow {
            r,
            name: grid.cell(r, 0).shown().trim().to_string(),
            code: grid.cell(r, 1).shown().trim().to_string(),
            values,
        });
    }
    Ok(Wdi {
        grid,
        vintage,
        years,
        rows,
        blanks,
    })
}

/// `Metadata - Countries`: code → whether it has a Region (aggregates have none).
pub fn read_metadata(path: &Path, sheet: &str) -> Result<BTreeMap<String, bool>> {
    let g = read_sheet(path, sheet)?;
    let col = |name: &str| (0..g.width()).find(|&c| g.cell(0, c).text() == Some(name));
    let (Some(code), Some(region)) = (col("Country Code"), col("Region")) else {
        return Err(g.error(
            0,
            0,
            "expected the headers \"Country Code\" and \"Region\" in the first row",
        ));
    };
    let mut out = BTreeMap::new();
    for r in 1..g.rows.len() {
        let Some(c) = g.cell(r, code).text().filter(|c| !c.is_empty()) else {
            continue;
        };
        out.insert(c.to_string(), !g.cell(r, region).is_empty());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remit::sheet::csv_grid;

    const CSV: &[u8] = b"\xEF\xBB\xBF\"Data Source\",\"World Development Indicators\",\n\n\
\"Last Updated Date\",\"2021-09-15\",\n\n\
\"Country Name\",\"Country Code\",\"Indicator Name\",\"Indicator Code\",\"2016\",\"2017\",\n\
\"Aruba\",\"ABW\",\"Paid\",\"BM.X\",\"1.5\",\"..\",\n\
\"World\",\"WLD\",\"Paid\",\"BM.X\",\"\",\"7\",\n";

    #[test]
    fn bulk_csv_preamble_bom_and_trailing_column() {
        let w = parse(csv_grid(Path::new("a.csv"), CSV).expect("csv"), "BM.X").expect("wdi");
        assert_eq!(w.vintage.as_deref(), Some("2021-09-15"));
        assert_eq!(w.years, vec![(4, "2016".into()), (5, "2017".into())]);
        assert_eq!(w.rows.len(), 2);
        assert_eq!(w.rows[0].values[1], (1, Value::Text("..".into())));
        assert_eq!(w.grid.line(w.rows[1].r), 7);
        assert_eq!(w.blanks, 1);
    }

    #[test]
    fn wrong_indicator_and_stray_values_are_errors() {
        let g = csv_grid(Path::new("a.csv"), CSV).expect("csv");
        let e = parse(g.clone(), "BX.Y").expect_err("indicator").to_string();
        assert!(
            e.starts_with("a.csv:6: column 4: the file holds indicator \"BM.X\""),
            "{e}"
        );
        let mut bad = g;
        let last = bad.rows.len() - 1;
        bad.rows[last][6] = Cell::Number(3.0);
        let e = parse(bad, "BM.X").expect_err("stray").to_string();
        assert!(
            e.contains("a.csv:7: column 7: a value in a column without a year"),
            "{e}"
        );
    }

    #[test]
    fn excel_serials_are_calendar_dates() {
        assert_eq!(excel_date(45225.0).as_deref(), Some("2023-10-26"));
        assert_eq!(excel_date(25569.0).as_deref(), Some("1970-01-01"));
        assert_eq!(excel_date(36585.0).as_deref(), Some("2000-02-29"));
        assert_eq!(excel_date(-3.0), None);
    }
}
