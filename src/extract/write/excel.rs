//! Excel `.xlsx` through `rust_xlsxwriter`: one sheet named `data`, the header in row 1,
//! numeric columns as numbers, text columns as strings; blank cells are left empty. Excel has
//! no value labels: they are not written.
use std::path::Path;

use rust_xlsxwriter::{Workbook, XlsxError};

use super::{finish, temp_path, Cell, ColumnLabels, Table};
use crate::error::{MigError, Result};

/// The name of the sheet written.
pub const SHEET: &str = "data";

/// Writes an `.xlsx` workbook (see the module documentation for what it holds).
pub fn write_excel(
    path: &Path,
    headers: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    _labels: &ColumnLabels,
    numeric: &[bool],
) -> Result<()> {
    let table = Table::new(path, headers, rows, numeric)?;
    let tmp = temp_path(path);
    let written = workbook(&table, &tmp).map_err(|e| MigError::Data {
        path: path.to_path_buf(),
        line: 1,
        column: "-".into(),
        msg: format!("cannot write the workbook: {e}"),
    });
    finish(&tmp, path, written)
}

fn workbook(table: &Table, path: &Path) -> std::result::Result<(), XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(SHEET)?;
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_string(0, col(c)?, h)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (c, cell) in row.iter().enumerate() {
            match cell {
                Cell::Num(Some(x)) => {
                    sheet.write_number(r, col(c)?, *x)?;
                }
                Cell::Text(s) if !s.is_empty() => {
                    sheet.write_string(r, col(c)?, s)?;
                }
                _ => {}
            }
        }
    }
    book.save(path)
}

fn col(c: usize) -> std::result::Result<u16, XlsxError> {
    u16::try_from(c).map_err(|_| XlsxError::RowColumnLimitError)
}
