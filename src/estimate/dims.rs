//! Breakdown dimensions of the cube. Each row gets a dense *fine* index per dimension (the code
//! it carries, or its age interval); each fine index belongs to a few *output* codes: the totals
//! and the codes of every version of the classification that the source supports.
use std::collections::BTreeSet;

use crate::normalize::{ColData, Frame};
use crate::schema::{CodeLists, Dimension};

/// A breakdown's fine index per row, as the frame keeps it and read without a copy: a code
/// column (2 bytes a row) or an index column (4).
#[derive(Debug, Clone, Copy)]
pub enum Fine<'f> {
    Codes(&'f [u16]),
    Index(&'f [u32]),
}

impl Fine<'_> {
    /// Row `r`'s fine index (a missing code or index is above every other).
    #[inline]
    pub fn at(self, r: usize) -> u32 {
        match self {
            Fine::Codes(c) => u32::from(c[r]),
            Fine::Index(i) => i[r],
        }
    }

    /// Whether both read the same column (tables share breakdowns).
    pub fn same(self, other: Fine) -> bool {
        match (self, other) {
            (Fine::Codes(a), Fine::Codes(b)) => std::ptr::eq(a, b),
            (Fine::Index(a), Fine::Index(b)) => std::ptr::eq(a, b),
            _ => false,
        }
    }
}

/// A breakdown's row column: the frame's code column as it is (a missing code, `NO_CODE`, counts
/// at the last fine index), or the age interval index (`NONE` counts at the last); no copy is
/// made per row. `None` when the frame does not map the field as codes.
pub fn fine<'f>(frame: &'f Frame, name: &str) -> Option<Fine<'f>> {
    if name == "age" {
        return Some(Fine::Index(frame.age.indexes()));
    }
    match frame.mapped(name) {
        Some(ColData::Code(col)) => Some(Fine::Codes(col)),
        _ => None,
    }
}

/// Which fine indexes rows have carried: codes of a coded breakdown, age intervals; kept across
/// the chunks of an input, so that the versions a breakdown supports are decided once, at the
/// end, from every row.
#[derive(Debug, Clone, Default)]
pub struct Seen(Vec<bool>);

impl Seen {
    /// Marks the indexes of `fine` below `n` (the codes of the list, the intervals known).
    pub fn add(&mut self, fine: Fine, rows: usize, n: usize) {
        if self.0.len() < n {
            self.0.resize(n, false);
        }
        for r in 0..rows {
            if let Some(s) = self.0.get_mut(fine.at(r) as usize) {
                *s = true;
            }
        }
    }

    fn get(&self, i: usize) -> bool {
        self.0.get(i).copied().unwrap_or(false)
    }
}

/// One dimension laid out for the cube: its fine indexes and their output codes.
#[derive(Debug, Clone)]
pub struct DimPlan {
    pub name: String,
    /// The last fine index: a row's index above it counts at `cap` (the missing code or age).
    pub cap: u32,
    pub n_fine: usize,
    /// Output codes, in code-list order.
    pub out_codes: Vec<String>,
    /// For each fine index, the output codes it counts in.
    pub members: Vec<Vec<u32>>,
    /// Versions emitted.
    pub versions: Vec<String>,
}

impl DimPlan {
    /// A coded dimension (sex, edu, eco, cbr, brt, …) from the codes its rows carried; `None`
    /// when no version of the list holds them all.
    pub fn coded(field: &str, dim: &Dimension, codes: &CodeLists, seen: &Seen) -> Option<Self> {
        let present: BTreeSet<u32> = (0..dim.codes.len() as u32)
            .filter(|&c| seen.get(c as usize))
            .collect();
        let versions: Vec<String> = dim
            .versions
            .iter()
            .filter(|v| present.iter().all(|&c| codes.map_to(dim, c, v).is_some()))
            .cloned()
            .collect();
        if versions.is_empty() && !present.is_empty() {
            return None;
        }
        let missing = dim.codes.len() as u32;
        let out_idx: Vec<u32> = dim
            .codes
            .iter()
            .enumerate()
            .filter(|(_, c)| versions.contains(&c.version))
            .map(|(i, _)| i as u32)
            .collect();
        let pos = |code: u32| out_idx.iter().position(|&o| o == code).map(|p| p as u32);
        let mut members = vec![Vec::new(); dim.codes.len() + 1];
        for (fine, m) in members.iter_mut().enumerate() {
            for v in &versions {
                if let Some(t) = dim.total_of(v).and_then(pos) {
                    m.push(t);
                }
                let code = if fine as u32 == missing {
                    dim.index_of(&format!("{v}_X"))
                } else if present.contains(&(fine as u32)) {
                    codes.map_to(dim, fine as u32, v)
                } else {
                    None
                };
                if let Some(p) = code.filter(|c| !dim.code(*c).total).and_then(pos) {
                    m.push(p);
                }
            }
        }
        Some(DimPlan {
            name: field.to_string(),
            // Codes index the code list; `NO_CODE` is above them all, so it counts at `missing`.
            cap: missing,
            n_fine: dim.codes.len() + 1,
            out_codes: out_idx.iter().map(|&i| dim.code(i).code.clone()).collect(),
            members,
            versions,
        })
    }

    /// The age dimension over the frame's interned intervals (an unknown age, `NONE`, counts
    /// at the cap, one past the intervals, which no output code takes), its versions decided by
    /// the intervals rows carried.
    pub fn age(intervals: &[(i64, i64)], seen: &Seen, dim: &Dimension) -> Option<Self> {
        // Intervals of the loaded rows only: rows set aside may have brought others.
        let known: Vec<(i64, i64)> = intervals
            .iter()
            .enumerate()
            .filter(|&(i, iv)| seen.get(i) && iv.0 >= 0)
            .map(|(_, iv)| *iv)
            .collect();
        if known.is_empty() {
            return None;
        }
        let fits = |band: (i64, i64)| {
            known
                .iter()
                .all(|&(lo, hi)| (lo >= band.0 && hi <= band.1) || hi < band.0 || lo > band.1)
        };
        let mut out_idx: Vec<u32> = Vec::new();
        let mut versions = Vec::new();
        for v in &dim.versions {
            let bands: Vec<(u32, (i64, i64))> = dim
                .version_codes(v)
                .filter_map(|(i, c)| c.age.map(|a| (i, a)))
                .collect();
            let partition = !overlapping(&bands);
            let ok: Vec<u32> = bands.iter().filter(|b| fits(b.1)).map(|b| b.0).collect();
            if (partition && ok.len() == bands.len()) || (!partition && !ok.is_empty()) {
                versions.push(v.clone());
                out_idx.extend(ok);
            }
        }
        let members = intervals
            .iter()
            .chain([&(-1, -1)])
            .map(|&(lo, hi)| {
                out_idx
                    .iter()
                    .enumerate()
                    .filter(|(_, &i)| {
                        let (a, b) = dim.code(i).age.unwrap_or((0, -1));
                        lo >= 0 && lo >= a && hi <= b
                    })
                    .map(|(p, _)| p as u32)
                    .collect()
            })
            .collect();
        Some(DimPlan {
            name: "age".into(),
            cap: intervals.len() as u32,
            n_fine: intervals.len() + 1,
            out_codes: out_idx.iter().map(|&i| dim.code(i).code.clone()).collect(),
            members,
            versions,
        })
    }
}

/// Whether any two non-total bands of a version overlap (then it is not a partition).
fn overlapping(bands: &[(u32, (i64, i64))]) -> bool {
    let mut v: Vec<(i64, i64)> = bands.iter().map(|b| b.1).collect();
    v.sort();
    // The total band spans all others; drop the widest before testing.
    if let Some(w) = v.iter().copied().max_by_key(|b| b.1 - b.0) {
        if let Some(p) = v.iter().position(|b| *b == w) {
            v.remove(p);
        }
    }
    v.windows(2).any(|w| w[1].0 <= w[0].1)
}
