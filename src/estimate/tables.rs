//! From the kernel's fine cells to output cells: every fine cell is added into each output cell
//! it belongs to (its codes, their totals, the codes of other versions), for the point estimate,
//! the count, the replicate sums and the per-PSU sums of the core's merged [`State`].
use super::core::{PsuTotals, State};
use super::dims::DimPlan;

/// Output cells of one table (sex × classif1 × classif2 output codes).
pub struct TableOut {
    pub m: usize,
    /// Output sizes per breakdown (sex, classif1, classif2), 1 for an absent breakdown.
    pub sizes: [usize; 3],
    pub est: Vec<f64>,
    pub n: Vec<u64>,
    pub n_reps: usize,
    pub reps: Vec<f64>,
    pub n_psu: usize,
    /// Sums of w·y by PSU, only where an output cell has rows (most cells of a large design
    /// touch few of its PSUs): output cell o's PSUs (positions in the layout, ascending) are
    /// `t_psu[t_at[o]..t_at[o + 1]]`, with their sums in `t_val`. A PSU not listed sums to 0.
    pub t_at: Vec<usize>,
    pub t_psu: Vec<u32>,
    pub t_val: Vec<f64>,
}

impl TableOut {
    pub fn reps_of(&self, o: usize) -> &[f64] {
        &self.reps[o * self.n_reps..(o + 1) * self.n_reps]
    }

    /// Output cell o's PSU totals: every PSU of the layout, those not listed being 0.
    pub fn t_of(&self, o: usize) -> PsuTotals<'_> {
        let (a, b) = (self.t_at[o], self.t_at[o + 1]);
        PsuTotals::Listed {
            n: self.n_psu,
            psus: &self.t_psu[a..b],
            vals: &self.t_val[a..b],
        }
    }
}

/// Output cells of one table from the cube's sums. `psus` are the PSUs of the period's Taylor
/// layout (empty without one).
pub fn build(sums: &State, offset: usize, dims: &[&DimPlan], psus: &[u32]) -> TableOut {
    let n_fine: Vec<usize> = dims.iter().map(|d| d.n_fine).collect();
    let cells: usize = n_fine.iter().product();
    let mut sizes = [1usize; 3];
    for (i, d) in dims.iter().enumerate() {
        sizes[i] = d.out_codes.len();
    }
    let m = sizes.iter().product();
    let n_reps = sums.n_reps;
    let n_psu = psus.len();
    let mut out = TableOut {
        m,
        sizes,
        est: vec![0.0; m],
        n: vec![0; m],
        n_reps,
        reps: vec![0.0; m * n_reps],
        n_psu,
        t_at: vec![0; m + 1],
        t_psu: Vec::new(),
        t_val: Vec::new(),
    };
    let mut outs_of: Vec<Option<Vec<u32>>> = vec![None; cells];
    for (c, slot) in outs_of.iter_mut().enumerate() {
        if sums.count[offset + c] == 0 {
            continue;
        }
        let outs = out_cells(c, &n_fine, dims, &sizes);
        let g = offset + c;
        for &o in &outs {
            let o = o as usize;
            out.est[o] += sums.wsum[g];
            out.n[o] += sums.count[g];
            if n_reps > 0 {
                let src = &sums.reps[g * n_reps..(g + 1) * n_reps];
                for (a, b) in out.reps[o * n_reps..(o + 1) * n_reps].iter_mut().zip(src) {
                    *a += b;
                }
            }
        }
        *slot = Some(outs);
    }
    if n_psu > 0 {
        // The PSUs come in ascending order, so each output cell's list is built ascending: a
        // first pass counts the distinct PSUs of each output cell, a second adds the sums in
        // the order a dense table would (from 0, fine cell by fine cell within a PSU).
        let mut last = vec![u32::MAX; m];
        let mut count = vec![0usize; m];
        psu_sums(sums, offset, cells, psus, &outs_of, |o, p, _| {
            if last[o] != p {
                last[o] = p;
                count[o] += 1;
            }
        });
        for (o, c) in count.iter().enumerate() {
            out.t_at[o + 1] = out.t_at[o] + c;
        }
        let len = out.t_at[m];
        out.t_psu = vec![0; len];
        out.t_val = vec![0.0; len];
        let mut end = out.t_at[..m].to_vec();
        last.fill(u32::MAX);
        psu_sums(sums, offset, cells, psus, &outs_of, |o, p, v| {
            if last[o] != p {
                last[o] = p;
                out.t_psu[end[o]] = p;
                end[o] += 1;
            }
            out.t_val[end[o] - 1] += v;
        });
    }
    out
}

/// Calls `f(output cell, PSU position, sum)` for every per-PSU sum of the table's fine cells
/// (cells `offset..offset + cells` of the state), PSU by PSU in ascending order.
fn psu_sums(
    sums: &State,
    offset: usize,
    cells: usize,
    psus: &[u32],
    outs_of: &[Option<Vec<u32>>],
    mut f: impl FnMut(usize, u32, f64),
) {
    for (psu, entries) in &sums.psus {
        let Ok(p) = psus.binary_search(psu) else {
            continue;
        };
        // Entries are sorted by cell: this table's cells are one contiguous run.
        let lo = entries.partition_point(|e| (e.0 as usize) < offset);
        let hi = entries.partition_point(|e| (e.0 as usize) < offset + cells);
        for &(cell, v) in &entries[lo..hi] {
            if let Some(outs) = &outs_of[cell as usize - offset] {
                for &o in outs {
                    f(o as usize, p as u32, v);
                }
            }
        }
    }
}

/// The output cells a fine cell counts in: the cross product of each breakdown's members.
fn out_cells(c: usize, n_fine: &[usize], dims: &[&DimPlan], sizes: &[usize; 3]) -> Vec<u32> {
    let mut fine = vec![0usize; dims.len()];
    let mut rest = c;
    for i in (0..dims.len()).rev() {
        fine[i] = rest % n_fine[i];
        rest /= n_fine[i];
    }
    let mut outs: Vec<u32> = vec![0];
    for (i, d) in dims.iter().enumerate() {
        let stride: usize = sizes[i + 1..].iter().product();
        let members = &d.members[fine[i]];
        outs = outs
            .iter()
            .flat_map(|&o| {
                members
                    .iter()
                    .map(move |&m| o + (m as usize * stride) as u32)
            })
            .collect();
    }
    outs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::core::ChunkKey;
    use std::borrow::Cow;

    fn listed(t: &TableOut, o: usize) -> (Vec<u32>, Vec<f64>) {
        match t.t_of(o) {
            PsuTotals::Listed { n, psus, vals } => {
                assert_eq!(n, t.n_psu);
                (psus.to_vec(), vals.to_vec())
            }
            PsuTotals::Sparse(_) => panic!("the cube's totals are listed"),
        }
    }

    /// Output cells that several fine cells count in get one total per PSU, added in the order
    /// a dense table adds them; PSUs outside the period's layout are left out.
    #[test]
    fn per_psu_sums_are_listed_once_per_output_cell() {
        // One breakdown: fine 0 and 1 count in the total (output 0) and in outputs 1 and 2;
        // fine 2 (a missing code) in the total only.
        let plan = DimPlan {
            name: "d".into(),
            fine: Cow::Owned(Vec::new()),
            cap: 2,
            n_fine: 3,
            out_codes: vec!["T".into(), "A".into(), "B".into()],
            members: vec![vec![0, 1], vec![0, 2], vec![0]],
            versions: vec!["V".into()],
        };
        let mut s = State::new(3, 0, 0, ChunkKey::default());
        s.count = vec![1, 2, 1];
        s.wsum = vec![1.0, 14.0, 8.0];
        s.psus = vec![
            (10, vec![(0, 1.0), (1, 2.0)]),
            (20, vec![(1, 0.5)]),
            (30, vec![(1, 4.0), (2, 8.0)]),
        ];
        // PSU 20 is not in this period's layout.
        let t = build(&s, 0, &[&plan], &[10, 30]);
        assert_eq!(t.n_psu, 2);
        assert_eq!(t.est, vec![23.0, 1.0, 14.0]);
        assert_eq!(listed(&t, 0), (vec![0, 1], vec![3.0, 12.0]));
        assert_eq!(listed(&t, 1), (vec![0], vec![1.0]));
        assert_eq!(listed(&t, 2), (vec![0, 1], vec![2.0, 4.0]));
    }
}
