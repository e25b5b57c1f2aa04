//! The catalogue's cube as cells of the estimation core: every table (population × value ×
//! breakdowns) owns a block of fine cells, one per combination of the breakdowns' fine codes; a
//! row counts in one fine cell of each table whose population it belongs to (with its value, or
//! 1 for a count of persons). Margins and code versions are formed afterwards (`tables.rs`).
use super::core::{CellMap, Input, State};
use super::dims::Fine;
use crate::normalize::frame::Nullable;

/// One table of the cube: a population, an optional value column, and its breakdowns.
pub struct TableSpec<'a> {
    /// Bit of the table's population in the row masks.
    pub pop_bit: u64,
    /// Value summed (`None`: count persons); a missing value keeps the row out of the table.
    pub value: Option<&'a Nullable<f64>>,
    /// Fine index per row for each breakdown (a value above the cap counts at the cap: see
    /// `DimPlan::cap`), with its stride in the table's cell space and its cap.
    pub dims: Vec<(Fine<'a>, usize, u32)>,
    /// First cell of this table in the cube's cell space.
    pub offset: usize,
}

/// The cube's cells: the tables and the population mask of every row.
pub struct CubeCells<'a> {
    pub masks: &'a [u64],
    pub tables: &'a [TableSpec<'a>],
    pub n_cells: usize,
}

impl CellMap for CubeCells<'_> {
    fn n_cells(&self) -> usize {
        self.n_cells
    }

    fn for_each(&self, r: usize, f: &mut impl FnMut(u32, f64)) {
        let mask = self.masks[r];
        for t in self.tables {
            if mask & t.pop_bit == 0 {
                continue;
            }
            let y = match t.value {
                Some(v) => match v.get(r) {
                    Some(y) => y,
                    None => continue,
                },
                None => 1.0,
            };
            let cell = t.offset
                + t.dims
                    .iter()
                    .map(|&(f, s, cap)| f.at(r).min(cap) as usize * s)
                    .sum::<usize>();
            f(cell as u32, y);
        }
    }
}

/// Where the cube's state is computed when not here: a distributed engine is handed the rows of
/// one period (with their cells) and returns the state `core::accumulate` would, from the same
/// chunks merged by the same tree (`--engine` of `migstat run`, `cluster::cube`).
pub trait CubeEngine: Sync {
    fn accumulate(&self, input: &Input<CubeCells>) -> Result<State, String>;
}
