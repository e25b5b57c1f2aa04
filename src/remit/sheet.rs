//! A grid of cells read from one Excel sheet (`.xls`, `.xlsx`, through calamine) or from a CSV
//! file, with positions kept as the user sees them (Excel row and column letter, CSV line), so
//! every error can name the file, the sheet, the row and the column.
use std::path::{Path, PathBuf};

use calamine::{open_workbook_auto, Data, Reader, Sheets};

use crate::error::{MigError, Result};
use crate::extract::excel::{check_cells, check_sheets};
use crate::extract::limits::{self, Limits};
use crate::extract::{guard, workbook};

/// One cell, as far as the readers care.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Number(f64),
    Text(String),
    /// An Excel date serial (days since 1899-12-30).
    Date(f64),
    /// Booleans, Excel errors (`#N/A`), ISO durations: shown as written.
    Other(String),
}

impl Cell {
    /// The text of a text cell, trimmed; `None` for every other cell.
    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s.trim()),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// How the cell looks, for messages.
    pub fn shown(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Number(x) => format!("{x}"),
            Cell::Text(s) | Cell::Other(s) => s.clone(),
            Cell::Date(d) => format!("date serial {d}"),
        }
    }
}

static EMPTY: Cell = Cell::Empty;

/// The cells of a sheet or CSV file; `rows[0]` is the first row of the sheet (Excel row 1).
#[derive(Debug, Clone)]
pub struct Grid {
    pub file: PathBuf,
    /// The sheet's name; `None` for a CSV file.
    pub sheet: Option<String>,
    pub rows: Vec<Vec<Cell>>,
    /// The line (CSV) or Excel row number of each row.
    pub lines: Vec<u64>,
}

/// `A`, `B`, … `Z`, `AA`, … for a 0-based column index.
pub fn col_letter(c: usize) -> String {
    let mut n = c + 1;
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

impl Grid {
    pub fn cell(&self, r: usize, c: usize) -> &Cell {
        self.rows
            .get(r)
            .and_then(|row| row.get(c))
            .unwrap_or(&EMPTY)
    }

    pub fn width(&self) -> usize {
        self.rows.iter().map(Vec::len).max().unwrap_or(0)
    }

    pub fn line(&self, r: usize) -> u64 {
        self.lines.get(r).copied().unwrap_or(r as u64 + 1)
    }

    /// The column as a message shows it: `B of sheet "Data"`, or `3` for a CSV file.
    pub fn column(&self, c: usize) -> String {
        match &self.sheet {
            Some(s) => format!("{} of sheet {s:?}", col_letter(c)),
            None => (c + 1).to_string(),
        }
    }

    /// A data error located at row `r`, column `c`.
    pub fn error(&self, r: usize, c: usize, msg: impl Into<String>) -> MigError {
        MigError::Data {
            path: self.file.clone(),
            line: self.line(r),
            column: self.column(c),
            msg: msg.into(),
        }
    }
}

fn unreadable(path: &Path, msg: String) -> MigError {
    MigError::Unreadable {
        path: path.to_path_buf(),
        msg,
    }
}

fn to_cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::String(s) => Cell::Text(s.clone()),
        Data::DateTime(t) => Cell::Date(t.as_f64()),
        Data::Bool(b) => Cell::Other(if *b { "TRUE" } else { "FALSE" }.into()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Other(s.clone()),
        Data::Error(e) => Cell::Other(e.to_string()),
    }
}

/// Reads one sheet of a workbook. A sheet that is not there is an error listing those that are.
/// The default limits bound the file's size, its sheets, the sheet's cells and each cell's text.
pub fn read_sheet(path: &Path, sheet: &str) -> Result<Grid> {
    let limits = Limits::default();
    limits::check_file_size(&limits, path)?;
    workbook::check_xls(path, &limits)?;
    guard::guarded(path, "workbook", || load_sheet(path, sheet, &limits))
}

fn load_sheet(path: &Path, sheet: &str, limits: &Limits) -> Result<Grid> {
    let mut wb = open_workbook_auto(path).map_err(|e| {
        unreadable(
            path,
            format!("cannot open the workbook (Excel .xls or .xlsx expected): {e}"),
        )
    })?;
    let names = wb.sheet_names();
    check_sheets(limits, path, names.len())?;
    if !names.iter().any(|n| n == sheet) {
        let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        return Err(unreadable(
            path,
            format!(
                "no sheet named {sheet:?}; the workbook has {}. Fix `sheet` in the pipeline.",
                list.join(", ")
            ),
        ));
    }
    if let Sheets::Xlsx(x) = &mut wb {
        workbook::check_xlsx(x, sheet, path, limits)?;
    }
    let range = wb
        .worksheet_range(sheet)
        .map_err(|e| unreadable(path, format!("cannot read sheet {sheet:?}: {e}")))?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let (h, w) = range.get_size();
    let at = PathBuf::from(format!("{}!{sheet}", path.display()));
    check_cells(
        limits,
        &at,
        u64::from(r0) + h as u64,
        u64::from(c0) + w as u64,
    )?;
    let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); r0 as usize];
    for (r, row) in range.rows().enumerate() {
        let mut cells = vec![Cell::Empty; c0 as usize];
        cells.extend(row.iter().map(to_cell));
        long_text(limits, &at, r0 as usize + r, &cells)?;
        rows.push(cells);
    }
    let lines = (1..=rows.len() as u64).collect();
    Ok(Grid {
        file: path.to_path_buf(),
        sheet: Some(sheet.to_string()),
        rows,
        lines,
    })
}

/// Refuses a row (0-based `r`) holding a text cell longer than the cell bound.
fn long_text(limits: &Limits, at: &Path, r: usize, cells: &[Cell]) -> Result<()> {
    let long = cells.iter().position(|c| match c {
        Cell::Text(s) | Cell::Other(s) => s.len() as u64 > limits.max_cell_bytes,
        _ => false,
    });
    match long {
        None => Ok(()),
        Some(c) => {
            let what = "the cell's text is longer than allowed".to_string();
            let hit = limits.hit("max_cell_bytes", at, what);
            Err(hit.at(r as u64 + 1, &col_letter(c)).into())
        }
    }
}

/// Reads a UTF-8 CSV file (a BOM is dropped); numbers become numbers, blanks `Empty`.
pub fn read_csv(path: &Path) -> Result<Grid> {
    limits::check_file_size(&Limits::default(), path)?;
    let bytes = std::fs::read(path).map_err(|e| unreadable(path, format!("cannot read: {e}")))?;
    csv_grid(path, &bytes)
}

pub fn csv_grid(path: &Path, bytes: &[u8]) -> Result<Grid> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut grid = Grid {
        file: path.to_path_buf(),
        sheet: None,
        rows: Vec::new(),
        lines: Vec::new(),
    };
    let (mut at, mut line) = (0usize, 1u64);
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            MigError::Data {
                path: path.to_path_buf(),
                line,
                column: String::new(),
                msg: format!("not a readable UTF-8 CSV line: {e}"),
            }
        })?;
        // A record's position is where the reader started, before any blank lines it skipped.
        let mut start = rec.position().map_or(at, |p| p.byte() as usize).max(at);
        while matches!(body.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        line += body[at..start].iter().filter(|&&b| b == b'\n').count() as u64;
        at = start;
        grid.lines.push(line);
        grid.rows.push(rec.iter().map(csv_cell).collect());
    }
    Ok(grid)
}

fn csv_cell(s: &str) -> Cell {
    let t = s.trim();
    if t.is_empty() {
        return Cell::Empty;
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Cell::Number(x),
        _ => Cell::Text(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(col_letter(0), "A");
        assert_eq!(col_letter(25), "Z");
        assert_eq!(col_letter(26), "AA");
        assert_eq!(col_letter(215), "HH");
        assert_eq!(col_letter(218), "HK");
    }

    #[test]
    fn csv_keeps_true_line_numbers_and_drops_the_bom() {
        let g = csv_grid(
            Path::new("x.csv"),
            b"\xEF\xBB\xBF\"A\",\"1\",\r\n\r\n\"Last\",\"2021-09-15\",\n\"x\",\"..\",\"2.5\",\n",
        )
        .expect("csv");
        assert_eq!(g.cell(0, 0), &Cell::Text("A".into()));
        assert_eq!(g.lines, vec![1, 3, 4]);
        assert_eq!(g.cell(2, 1), &Cell::Text("..".into()));
        assert_eq!(g.cell(2, 2), &Cell::Number(2.5));
        assert_eq!(g.cell(2, 3), &Cell::Empty);
        let e = g.error(2, 1, "bad").to_string();
        assert_eq!(e, "x.csv:4: column 2: bad");
    }

    #[test]
    fn a_missing_sheet_names_the_sheets_there_are() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample_data/worldbank/WB_Bilateral_Remittance_Estimates_2017.xlsx");
        let e = read_sheet(&p, "Bilateral_Remittances_2018")
            .expect_err("no such sheet")
            .to_string();
        assert!(
            e.contains("no sheet named \"Bilateral_Remittances_2018\"")
                && e.contains("\"Bilateral_Remittances_2017\", \"remshare\""),
            "{e}"
        );
    }
}
