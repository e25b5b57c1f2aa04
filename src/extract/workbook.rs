//! Guards around calamine, which reads every workbook here (`excel` inputs, the World Bank's
//! `.xls` and `.xlsx`). calamine parses all sheets of a legacy `.xls` when it opens it and
//! reserves rows × columns cells as each sheet's DIMENSIONS record and its cells' positions say,
//! so a few flipped bits can ask for gigabytes, and some damaged files make it panic.
//! [`check_xls`] walks the Compound File container to the `Workbook` stream and its BIFF records
//! first, keeping only counts, and refuses a workbook beyond the sheet and cell bounds;
//! calamine's work runs under [`guarded`](super::guard::guarded), which turns a panic inside it
//! into an error naming the file.
use std::io::{Read, Seek};
use std::path::Path;

use calamine::{DataRef, Xlsx};

use super::excel::{check_cells, check_sheets};
use super::limits::{grouped, Limits};
use crate::error::Result;

const MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Sector ids from here up are markers (free, end of chain, FAT, DIFAT), not sectors.
const MARKERS: u32 = 0xFFFF_FFFA;

/// Refuses an `.xlsx` sheet whose cells span more than `limits.max_cells`: calamine allocates the
/// whole span, so one cell moved to `XFD1048576` asks for half a terabyte. The cells are read
/// once more for this, one at a time.
pub fn check_xlsx<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    sheet: &str,
    path: &Path,
    limits: &Limits,
) -> Result<()> {
    let Ok(mut cells) = book.worksheet_cells_reader(sheet) else {
        return Ok(());
    };
    let mut span = Span::default();
    while let Ok(Some(c)) = cells.next_cell() {
        if !matches!(c.get_value(), DataRef::Empty) {
            let (r, col) = c.get_position();
            span.add(r, col, col);
        }
    }
    span.check(limits, path)
}

/// Refuses a `.xls` workbook (a Compound File; other files pass) with more sheets than
/// `limits.max_sheets` or a sheet spanning more than `limits.max_cells` cells. A container that
/// cannot be walked is left to calamine to refuse.
pub fn check_xls(path: &Path, limits: &Limits) -> Result<()> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    if !bytes.starts_with(&MAGIC) {
        return Ok(());
    }
    match Cfb::new(&bytes).and_then(|c| c.workbook()) {
        Some(stream) => check_records(&stream, path, limits),
        None => Ok(()),
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The parts of a Compound File needed to read one stream.
struct Cfb<'a> {
    bytes: &'a [u8],
    size: usize,
    fat: Vec<u32>,
}

impl<'a> Cfb<'a> {
    fn new(bytes: &'a [u8]) -> Option<Self> {
        let shift = u16_at(bytes, 0x1E)?;
        if !(7..=16).contains(&shift) {
            return None;
        }
        let mut cfb = Cfb {
            bytes,
            size: 1 << shift,
            fat: Vec::new(),
        };
        let mut difat: Vec<u32> = (0..109)
            .filter_map(|i| u32_at(bytes, 0x4C + 4 * i))
            .collect();
        let mut next = u32_at(bytes, 0x44)?;
        let per = cfb.size / 4 - 1;
        for _ in 0..cfb.sectors() {
            if next >= MARKERS {
                break;
            }
            let s = cfb.sector(next)?;
            difat.extend((0..per).filter_map(|i| u32_at(s, 4 * i)));
            next = u32_at(s, 4 * per)?;
        }
        for id in difat
            .into_iter()
            .filter(|id| *id < MARKERS)
            .take(cfb.sectors())
        {
            let s = cfb.sector(id)?;
            cfb.fat
                .extend((0..s.len() / 4).filter_map(|i| u32_at(s, 4 * i)));
        }
        Some(cfb)
    }

    fn sectors(&self) -> usize {
        self.bytes.len() / self.size
    }

    fn sector(&self, id: u32) -> Option<&'a [u8]> {
        let start = (id as usize).checked_add(1)?.checked_mul(self.size)?;
        let end = start.checked_add(self.size)?.min(self.bytes.len());
        self.bytes.get(start..end)
    }

    /// The sectors of the chain from `start`, following `fat`, at most as many as there are.
    fn chain(fat: &[u32], start: u32, limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut id = start;
        while id < MARKERS && out.len() < limit {
            out.push(id);
            id = fat.get(id as usize).copied().unwrap_or(MARKERS);
        }
        out
    }

    fn stream(&self, start: u32, len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(self.bytes.len()));
        for id in Self::chain(&self.fat, start, self.sectors()) {
            out.extend_from_slice(self.sector(id)?);
        }
        out.truncate(len);
        Some(out)
    }

    /// The `Workbook` (or BIFF5 `Book`) stream, from the mini stream when it is small.
    fn workbook(&self) -> Option<Vec<u8>> {
        let dir = self.stream(u32_at(self.bytes, 0x30)?, usize::MAX)?;
        let entries: Vec<&[u8]> = dir.chunks_exact(128).collect();
        let name = |e: &[u8]| {
            let n = (usize::from(u16_at(e, 0x40).unwrap_or(0)) / 2).saturating_sub(1);
            let units: Vec<u16> = (0..n.min(31)).filter_map(|i| u16_at(e, 2 * i)).collect();
            String::from_utf16_lossy(&units)
        };
        let entry = entries
            .iter()
            .find(|e| e.get(0x42) == Some(&2) && matches!(name(e).as_str(), "Workbook" | "Book"))?;
        let (start, len) = (u32_at(entry, 0x74)?, u32_at(entry, 0x78)? as usize);
        if len >= u32_at(self.bytes, 0x38)? as usize {
            return self.stream(start, len);
        }
        let root = entries.first()?;
        let mini = self.stream(u32_at(root, 0x74)?, u32_at(root, 0x78)? as usize)?;
        let minifat_bytes = self.stream(u32_at(self.bytes, 0x3C)?, usize::MAX)?;
        let minifat: Vec<u32> = (0..minifat_bytes.len() / 4)
            .filter_map(|i| u32_at(&minifat_bytes, 4 * i))
            .collect();
        let msize = 1usize << u16_at(self.bytes, 0x20)?.min(12);
        let mut out = Vec::with_capacity(len);
        for id in Self::chain(&minifat, start, mini.len() / msize + 1) {
            let at = id as usize * msize;
            out.extend_from_slice(mini.get(at..(at + msize).min(mini.len()))?);
        }
        out.truncate(len);
        Some(out)
    }
}

/// What one substream (sheet) of the workbook asks for.
#[derive(Default)]
struct Span {
    /// Cells the DIMENSIONS record asks calamine to reserve.
    reserved: u64,
    rows: Option<(u32, u32)>,
    cols: Option<(u32, u32)>,
}

impl Span {
    fn add(&mut self, row: u32, first: u32, last: u32) {
        let widen = |r: Option<(u32, u32)>, lo: u32, hi: u32| {
            Some(r.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))))
        };
        self.rows = widen(self.rows, row, row);
        self.cols = widen(self.cols, first, last);
    }

    fn check(&self, limits: &Limits, path: &Path) -> Result<()> {
        let len = |r: Option<(u32, u32)>| r.map_or(0, |(a, b)| u64::from(b - a) + 1);
        check_cells(limits, path, len(self.rows), len(self.cols))?;
        if self.reserved > limits.max_cells {
            let n = grouped(self.reserved as usize);
            let what = format!("a sheet's DIMENSIONS record asks for {n} cells");
            return Err(limits.hit("max_cells", path, what).into());
        }
        Ok(())
    }
}

/// Walks the BIFF records: sheets of the workbook globals, and each sheet's span.
fn check_records(stream: &[u8], path: &Path, limits: &Limits) -> Result<()> {
    let (mut at, mut sheets, mut globals) = (0usize, 0usize, true);
    let mut span = Span::default();
    while let (Some(typ), Some(len)) = (u16_at(stream, at), u16_at(stream, at + 2)) {
        let start = at + 4;
        let data = stream.get(start..start + usize::from(len)).unwrap_or(&[]);
        at = start + usize::from(len);
        match typ {
            0x0085 if globals => sheets += 1,
            0x000A if globals => {
                globals = false;
                check_sheets(limits, path, sheets)?;
            }
            0x000A => {
                span.check(limits, path)?;
                span = Span::default();
            }
            0x0200 => span.reserved = span.reserved.max(dimensions(data)),
            0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
                if let (Some(r), Some(c)) = (u16_at(data, 0), u16_at(data, 2)) {
                    span.add(u32::from(r), u32::from(c), u32::from(c));
                }
            }
            0x00BD => {
                if let (Some(r), Some(c)) = (u16_at(data, 0), u16_at(data, 2)) {
                    let n = (data.len().saturating_sub(6) / 6) as u32;
                    let first = u32::from(c);
                    span.add(u32::from(r), first, first + n.saturating_sub(1));
                }
            }
            _ => {}
        }
    }
    span.check(limits, path)
}

/// Cells a DIMENSIONS record asks for (BIFF8: 32-bit rows; BIFF5: 16-bit), as calamine counts.
fn dimensions(d: &[u8]) -> u64 {
    let (rf, rl, cf, cl) = match d.len() {
        10 => (
            u16_at(d, 0).map(u32::from),
            u16_at(d, 2).map(u32::from),
            4,
            6,
        ),
        14 | 16 => (u32_at(d, 0), u32_at(d, 4), 8, 10),
        _ => return 0,
    };
    let (Some(rf), Some(rl), Some(cf), Some(cl)) = (rf, rl, u16_at(d, cf), u16_at(d, cl)) else {
        return 0;
    };
    let cf = if cf > 0xFF { 0 } else { cf };
    let rows = u64::from(rl.saturating_sub(rf)) + 1;
    let cols = u64::from(cl.saturating_sub(cf)) + 1;
    rows.saturating_mul(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend_from_slice(&(data.len() as u16).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    fn number(row: u16, col: u16) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend_from_slice(&col.to_le_bytes());
        d.extend_from_slice(&[0; 10]);
        record(0x0203, &d)
    }

    #[test]
    fn a_cell_far_out_or_a_huge_dimensions_record_is_refused() {
        let limits = Limits {
            max_cells: 1_000,
            ..Limits::default()
        };
        let eof = record(0x000A, &[]);
        let small = [number(0, 0), number(9, 9), eof.clone()].concat();
        let globals = [record(0x0085, &[0; 8]), eof.clone()].concat();
        let path = Path::new("w.xls");
        let ok = [globals.clone(), small.clone()].concat();
        assert!(check_records(&ok, path, &limits).is_ok());
        let far = [
            globals.clone(),
            number(0, 0),
            number(60_000, 200),
            eof.clone(),
        ]
        .concat();
        let e = check_records(&far, path, &limits).expect_err("far cell");
        assert!(e.to_string().contains("max_cells"), "{e}");
        let mut dims = 0u32.to_le_bytes().to_vec();
        dims.extend_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        dims.extend_from_slice(&[0, 0, 0xFF, 0, 0, 0]);
        let huge = [globals, record(0x0200, &dims), small].concat();
        assert!(check_records(&huge, path, &limits).is_err());
    }

    #[test]
    fn shipped_xls_files_are_walked_to_their_cells() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let tiny = Limits {
            max_cells: 5,
            ..Limits::default()
        };
        for file in [
            "sample_data/worldbank/API_BX.TRF.PWKR.CD.DT_DS2_en_excel_v2_6000901.xls",
            // Small enough for the mini stream.
            "tests/data/persons.xls",
        ] {
            let path = repo.join(file);
            assert!(check_xls(&path, &Limits::default()).is_ok(), "{file}");
            let e = check_xls(&path, &tiny).expect_err(file).to_string();
            assert!(e.contains("max_cells"), "{e}");
        }
    }
}
