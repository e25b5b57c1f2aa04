//! Excel workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`) and OpenDocument sheets (`.ods`), read
//! with calamine: one sheet (named, or the first), a header row, and the cells of an optional
//! range such as `A1:K5000` or `B3:F` (to the last used row). Cells formatted as dates, which
//! Excel stores as serial day numbers, come out as ISO dates (`2024-03-31`, with `T12:30:00`
//! when there is a time of day); durations stay numbers. Blank rows are skipped; a cell holding
//! an Excel error (`#N/A`, `#DIV/0!`) is a data error naming its row and column.
use std::path::{Path, PathBuf};

use calamine::{open_workbook_auto, Data, Range, Reader, Sheets};

use super::limits::{grouped, Limits};
use super::{guard, workbook};
use super::{number_cell, BatchSize, TextBatch};
use crate::error::{MigError, Result};

/// Which cells of which sheet to read, as the pipeline's input says.
#[derive(Debug, Clone, Default)]
pub struct SheetSpec {
    pub sheet: Option<String>,
    /// 1-based row of the header.
    pub header_row: Option<u32>,
    pub range: Option<String>,
}

/// A rectangle of cells, 0-based; the last row open means "to the last used row".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRange {
    pub first_row: u32,
    pub first_col: u32,
    pub last_row: Option<u32>,
    pub last_col: u32,
}

impl CellRange {
    /// Parses `A1:K5000` or `B3:F`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{text:?} is not a cell range such as A1:K5000 or B3:F");
        let (a, b) = text.trim().split_once(':').ok_or_else(bad)?;
        let (first_col, first_row) = cell_ref(a).ok_or_else(bad)?;
        let (last_col, last_row) = cell_ref(b).ok_or_else(bad)?;
        let first_row = first_row.ok_or_else(bad)?;
        if last_col < first_col || last_row.is_some_and(|r| r < first_row) {
            return Err(format!("{text:?}: the range ends before it starts"));
        }
        Ok(CellRange {
            first_row,
            first_col,
            last_row,
            last_col,
        })
    }
}

/// `AB12` → (27, Some(11)); `AB` → (27, None). 0-based.
fn cell_ref(s: &str) -> Option<(u32, Option<u32>)> {
    let s = s.trim().to_ascii_uppercase();
    let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let col = letters
        .bytes()
        .fold(0u32, |acc, c| acc * 26 + u32::from(c - b'A') + 1)
        - 1;
    let row = if digits.is_empty() {
        None
    } else {
        Some(digits.parse::<u32>().ok().filter(|r| *r >= 1)? - 1)
    };
    Some((col, row))
}

/// A sheet loaded into memory, read row by row.
pub struct ExcelSource {
    display: PathBuf,
    headers: Vec<String>,
    size: u64,
    cells: Range<Data>,
    cols: (u32, u32),
    next_row: u32,
    last_row: u32,
}

impl ExcelSource {
    /// Opens the sheet `spec` names with the default limits.
    pub fn open(path: &Path, spec: &SheetSpec) -> Result<Self> {
        Self::open_bounded(path, spec, &Limits::default())
    }

    /// Opens the sheet `spec` names; more sheets or cells than `limits` allow is an error, and
    /// so is a workbook calamine cannot read (see `workbook.rs`).
    pub fn open_bounded(path: &Path, spec: &SheetSpec, limits: &Limits) -> Result<Self> {
        workbook::check_xls(path, limits)?;
        guard::guarded(path, "workbook", || Self::load(path, spec, limits))
    }

    fn load(path: &Path, spec: &SheetSpec, limits: &Limits) -> Result<Self> {
        let unreadable = |msg: String| MigError::Unreadable {
            path: path.to_path_buf(),
            msg,
        };
        let mut book = open_workbook_auto(path)
            .map_err(|e| unreadable(format!("not a readable workbook: {e}")))?;
        let names = book.sheet_names();
        check_sheets(limits, path, names.len())?;
        let sheet = pick_sheet(&names, spec.sheet.as_deref()).map_err(unreadable)?;
        if let Sheets::Xlsx(x) = &mut book {
            workbook::check_xlsx(x, &sheet, path, limits)?;
        }
        let cells = book
            .worksheet_range(&sheet)
            .map_err(|e| unreadable(format!("sheet {sheet:?} cannot be read: {e}")))?;
        let display = PathBuf::from(format!("{}!{sheet}", path.display()));
        let (h, w) = cells.get_size();
        check_cells(limits, &display, h as u64, w as u64)?;
        let range = spec
            .range
            .as_deref()
            .map(CellRange::parse)
            .transpose()
            .map_err(|e| unreadable(format!("range {e}")))?;
        let (Some(start), Some(end)) = (cells.start(), cells.end()) else {
            return Err(MigError::Data {
                path: display,
                line: 1,
                column: "-".into(),
                msg: "the sheet is empty: a header row was expected".into(),
            });
        };
        let header = match (spec.header_row, range) {
            (Some(r), _) => r.saturating_sub(1),
            (None, Some(r)) => r.first_row,
            (None, None) => start.0,
        };
        let cols = range.map_or((start.1, end.1), |r| (r.first_col, r.last_col));
        let last_row = range.and_then(|r| r.last_row).unwrap_or(end.0);
        let span = |a: u32, b: u32| u64::from(b.saturating_sub(a)) + 1;
        check_cells(
            limits,
            &display,
            span(header, last_row),
            span(cols.0, cols.1),
        )?;
        let mut src = ExcelSource {
            display,
            headers: Vec::new(),
            size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            cells,
            cols,
            next_row: header + 1,
            last_row,
        };
        let mut headers = Vec::new();
        src.row_cells(header, &mut headers)?;
        src.headers = headers.iter().map(|h| h.trim().to_string()).collect();
        Ok(src)
    }

    /// The text of the cells of sheet row `row` (0-based) within the column span.
    fn row_cells(&self, row: u32, out: &mut Vec<String>) -> Result<()> {
        out.clear();
        for col in self.cols.0..=self.cols.1 {
            out.push(self.cell_text(row, col)?);
        }
        Ok(())
    }

    /// The text of one cell; a cell holding an Excel error is an error naming it.
    fn cell_text(&self, row: u32, col: u32) -> Result<String> {
        match self.cells.get_value((row, col)) {
            None => Ok(String::new()),
            Some(v) => cell_text(v).map_err(|msg| MigError::Data {
                path: self.display.clone(),
                line: u64::from(row) + 1,
                column: self.headers.get((col - self.cols.0) as usize).map_or_else(
                    || column_letters(col),
                    |h| format!("{h} ({})", column_letters(col)),
                ),
                msg,
            }),
        }
    }
}

/// Refuses a workbook of more sheets than `limits.max_sheets`.
pub fn check_sheets(limits: &Limits, path: &Path, sheets: usize) -> Result<()> {
    if sheets as u64 > limits.max_sheets {
        let what = format!("the workbook has {} sheets", grouped(sheets));
        return Err(limits.hit("max_sheets", path, what).into());
    }
    Ok(())
}

/// Refuses a sheet (or range) of more than `limits.max_cells` cells (`rows` × `cols`).
pub fn check_cells(limits: &Limits, path: &Path, rows: u64, cols: u64) -> Result<()> {
    let cells = rows.saturating_mul(cols);
    if cells > limits.max_cells {
        let what = format!(
            "the sheet spans {} rows by {} columns ({} cells)",
            grouped(rows as usize),
            grouped(cols as usize),
            grouped(cells as usize)
        );
        return Err(limits.hit("max_cells", path, what).into());
    }
    Ok(())
}

/// The sheet asked for, or the first; a missing one is named with the sheets there are.
fn pick_sheet(names: &[String], wanted: Option<&str>) -> std::result::Result<String, String> {
    match wanted {
        Some(s) => names.iter().find(|n| *n == s).cloned().ok_or_else(|| {
            format!(
                "no sheet named {s:?} (the workbook has: {})",
                names.join(", ")
            )
        }),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| "the workbook has no sheets".to_string()),
    }
}

fn column_letters(col: u32) -> String {
    let mut n = col + 1;
    let mut s = Vec::new();
    while n > 0 {
        s.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

fn cell_text(v: &Data) -> std::result::Result<String, String> {
    Ok(match v {
        Data::Empty => String::new(),
        Data::Int(i) => i.to_string(),
        Data::Float(x) => number_cell(*x),
        Data::String(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTime(dt) => number_cell(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("the cell holds the Excel error {e}")),
    })
}

impl super::RowSource for ExcelSource {
    fn display(&self) -> &Path {
        &self.display
    }

    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>> {
        super::typed_next_into(self, cells)
    }

    fn next_batch(&mut self, batch: &mut TextBatch, size: BatchSize) -> Result<usize> {
        super::typed_next_batch(self, batch, size)
    }
}

impl super::TypedRows for ExcelSource {
    /// The next row that is not blank: numbers (and dates not shown as dates) as numbers,
    /// the rest as text.
    fn push_next(&mut self, batch: &mut TextBatch) -> Result<Option<u64>> {
        while self.next_row <= self.last_row {
            let row = self.next_row;
            self.next_row += 1;
            batch.begin_row(u64::from(row) + 1);
            let mut blank = true;
            for col in self.cols.0..=self.cols.1 {
                let number = match self.cells.get_value((row, col)) {
                    Some(Data::Int(i)) if i.unsigned_abs() <= 1 << 53 => Some(*i as f64),
                    Some(Data::Float(x)) => Some(*x),
                    Some(Data::DateTime(dt)) if !dt.is_datetime() => Some(dt.as_f64()),
                    _ => None,
                };
                match number {
                    Some(x) => {
                        batch.push_number(x);
                        blank = false;
                    }
                    None => {
                        let text = self.cell_text(row, col)?;
                        blank &= text.trim().is_empty();
                        batch.push_cell(&text);
                    }
                }
            }
            if !blank {
                return Ok(Some(u64::from(row) + 1));
            }
            batch.pop_row();
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        let r = CellRange::parse("B3:F").expect("open range");
        assert_eq!(
            (r.first_col, r.first_row, r.last_col, r.last_row),
            (1, 2, 5, None)
        );
        let r = CellRange::parse("a1:ab10").expect("lower case");
        assert_eq!((r.last_col, r.last_row), (27, Some(9)));
        assert!(CellRange::parse("F1:A9").is_err());
        assert!(CellRange::parse("A0:B2").is_err());
        assert!(CellRange::parse("A1").is_err());
        assert!(CellRange::parse("1A:B2").is_err());
    }

    #[test]
    fn letters_round_trip() {
        for (col, s) in [
            (0, "A"),
            (25, "Z"),
            (26, "AA"),
            (27, "AB"),
            (701, "ZZ"),
            (702, "AAA"),
        ] {
            assert_eq!(column_letters(col), s);
            assert_eq!(cell_ref(s), Some((col, None)));
        }
    }
}
