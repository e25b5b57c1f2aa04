//! How a caller names cells for the accumulator. The accumulator knows cells only as indices
//! `0..n_cells` with one value per row; a [`CellMap`] decides, for each row, which cells the
//! row counts in and with which value `y` (the row adds `w·y` to each). The catalogue's cube
//! maps a row to one fine cell per table (population bit, breakdown codes, value column);
//! `migstat estimate` maps it to one cell per target of its domain (a ratio's numerator and
//! denominator being two cells).

/// The cells of one estimation.
pub trait CellMap: Sync {
    /// Number of cells.
    fn n_cells(&self) -> usize;

    /// Calls `f(cell, y)` for every cell that row `row` counts in, always in the same order.
    /// A row outside every cell calls nothing (it still belongs to the design).
    fn for_each(&self, row: usize, f: &mut impl FnMut(u32, f64));
}
