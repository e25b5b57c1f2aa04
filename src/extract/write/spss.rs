//! A minimal SPSS system file writer (no crate writes `.sav` without pulling in a second Arrow
//! or polars): uncompressed, little-endian, UTF-8. It writes the file header, one variable
//! record per column (plus continuation records for strings longer than 8 bytes), value labels
//! (record types 3 and 4) for numeric columns and strings of up to 8 bytes, the machine integer
//! and float records (subtypes 3 and 4), long variable names (subtype 13), the encoding
//! (subtype 20), the `999` terminator, then the cases. Strings are limited to 255 bytes.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{finish, temp_path, Cell, ColumnLabels, Table};
use crate::error::{MigError, Result};

const SYSMIS: f64 = -f64::MAX;

/// Writes an SPSS `.sav` file (see the module documentation for what it holds).
pub fn write_spss(
    path: &Path,
    headers: &[String],
    rows: impl Iterator<Item = Vec<String>>,
    labels: &ColumnLabels,
    numeric: &[bool],
) -> Result<()> {
    let table = Table::new(path, headers, rows, numeric)?;
    write_sav(path, &table, labels, &BTreeMap::new())
}

/// As `write_spss`, with up to three user-missing values for numeric columns.
pub(crate) fn write_sav(
    path: &Path,
    table: &Table,
    labels: &ColumnLabels,
    missing: &BTreeMap<String, Vec<f64>>,
) -> Result<()> {
    let bytes = encode(table, labels, missing).map_err(|(column, msg)| MigError::Data {
        path: path.to_path_buf(),
        line: 1,
        column,
        msg,
    })?;
    let tmp = temp_path(path);
    let written = std::fs::write(&tmp, bytes).map_err(|e| MigError::io(&tmp, e));
    finish(&tmp, path, written)
}

type Failed = (String, String);

struct Out(Vec<u8>);

impl Out {
    fn i32(&mut self, x: i32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn f64(&mut self, x: f64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    /// `text` padded with spaces (or cut) to `n` bytes.
    fn padded(&mut self, text: &[u8], n: usize) {
        let take = text.len().min(n);
        self.0.extend_from_slice(&text[..take]);
        self.0.extend(std::iter::repeat_n(b' ', n - take));
    }
}

fn encode(
    table: &Table,
    labels: &ColumnLabels,
    missing: &BTreeMap<String, Vec<f64>>,
) -> std::result::Result<Vec<u8>, Failed> {
    let widths: Vec<usize> = (0..table.headers.len())
        .map(|c| {
            if table.numeric[c] {
                0
            } else {
                table.text_width(c)
            }
        })
        .collect();
    for (c, w) in widths.iter().enumerate() {
        if *w > 255 {
            let msg = format!("strings of {w} bytes are longer than the 255 written");
            return Err((table.headers[c].clone(), msg));
        }
    }
    let slots: Vec<usize> = widths.iter().map(|w| w.div_ceil(8).max(1)).collect();
    let shorts = short_names(&table.headers);
    let mut out = Out(Vec::new());
    header(&mut out, slots.iter().sum(), table.rows.len());
    for (c, &w) in widths.iter().enumerate() {
        let miss = missing
            .get(&table.headers[c])
            .map_or(&[][..], Vec::as_slice);
        if miss.len() > 3 {
            return Err((table.headers[c].clone(), "at most 3 missing values".into()));
        }
        variable(&mut out, &shorts[c], w, miss);
    }
    let mut first_slot = 1;
    for (c, name) in table.headers.iter().enumerate() {
        if let Some(set) = labels.get(name).filter(|s| !s.is_empty()) {
            value_labels(&mut out, set, widths[c], first_slot).map_err(|m| (name.clone(), m))?;
        }
        first_slot += slots[c] as i32;
    }
    extensions(&mut out, &shorts, &table.headers);
    for row in &table.rows {
        for (cell, &w) in row.iter().zip(&widths) {
            match cell {
                Cell::Num(x) => out.f64(x.unwrap_or(SYSMIS)),
                Cell::Text(s) => out.padded(s.as_bytes(), w.div_ceil(8).max(1) * 8),
            }
        }
    }
    Ok(out.0)
}

fn header(out: &mut Out, slots: usize, cases: usize) {
    out.0.extend_from_slice(b"$FL2");
    out.padded(b"@(#) SPSS DATA FILE migstat", 60);
    out.i32(2);
    out.i32(slots as i32);
    out.i32(0);
    out.i32(0);
    out.i32(i32::try_from(cases).unwrap_or(-1));
    out.f64(100.0);
    out.padded(b"01 Jan 26", 9);
    out.padded(b"00:00:00", 8);
    out.padded(b"", 64 + 3);
}

/// Upper-case names of up to 8 bytes: the column's own when it fits and is free, else `V<n>`.
fn short_names(headers: &[String]) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut out = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let own = h.to_ascii_uppercase();
        let fits = own.len() <= 8
            && own.starts_with(|c: char| c.is_ascii_uppercase())
            && own.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut name = if fits { own } else { format!("V{}", i + 1) };
        let mut n = i + 1;
        while used.contains(&name) {
            n += 1;
            name = format!("V{n}");
        }
        used.insert(name.clone());
        out.push(name);
    }
    out
}

fn variable(out: &mut Out, short: &str, width: usize, missing: &[f64]) {
    let format = if width == 0 {
        (5 << 16) | (8 << 8) | 2
    } else {
        (1 << 16) | ((width as i32) << 8)
    };
    for x in [2, width as i32, 0, missing.len() as i32, format, format] {
        out.i32(x);
    }
    out.padded(short.as_bytes(), 8);
    for m in missing {
        out.f64(*m);
    }
    for _ in 1..width.div_ceil(8) {
        for x in [2, -1, 0, 0, 0, 0] {
            out.i32(x);
        }
        out.padded(b"", 8);
    }
}

fn value_labels(
    out: &mut Out,
    set: &BTreeMap<String, String>,
    width: usize,
    slot: i32,
) -> std::result::Result<(), String> {
    if width > 8 {
        return Err("value labels of strings longer than 8 bytes are not written".into());
    }
    out.i32(3);
    out.i32(set.len() as i32);
    for (code, label) in set {
        if width == 0 {
            let x = code.trim().parse::<f64>();
            out.f64(x.map_err(|_| format!("label code {code:?} is not a number"))?);
        } else {
            out.padded(code.as_bytes(), 8);
        }
        let text = &label.as_bytes()[..label.len().min(255)];
        out.0.push(text.len() as u8);
        out.padded(text, (text.len() + 1).div_ceil(8) * 8 - 1);
    }
    out.i32(4);
    out.i32(1);
    out.i32(slot);
    Ok(())
}

fn extensions(out: &mut Out, shorts: &[String], headers: &[String]) {
    out.i32(7);
    out.i32(3);
    out.i32(4);
    out.i32(8);
    for x in [20, 0, 0, -1, 1, 1, 2, 65001] {
        out.i32(x);
    }
    out.i32(7);
    out.i32(4);
    out.i32(8);
    out.i32(3);
    out.f64(SYSMIS);
    out.f64(f64::MAX);
    out.f64(f64::from_bits(0xffef_ffff_ffff_fffe));
    let names: Vec<String> = shorts
        .iter()
        .zip(headers)
        .map(|(s, h)| format!("{s}={h}"))
        .collect();
    for (subtype, data) in [(13, names.join("\t")), (20, "UTF-8".to_string())] {
        out.i32(7);
        out.i32(subtype);
        out.i32(1);
        out.i32(data.len() as i32);
        out.0.extend_from_slice(data.as_bytes());
    }
    out.i32(999);
    out.i32(0);
}
