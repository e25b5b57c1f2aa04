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
        list_psu_sums(&mut out, sums, offset, cells, psus, &outs_of);
    }
    out
}

/// Fills the table's per-PSU sums (`t_at`, `t_psu`, `t_val`). PSU by PSU, the fine cells' sums
/// are added into the output cells they count in, from 0 and in the order of the fine cells, as
/// a dense table adds them; each output cell touched is noted with its sum. The notes, PSU by
/// PSU, are then put in order of output cell (a counting sort keeps the PSUs ascending).
fn list_psu_sums(
    out: &mut TableOut,
    sums: &State,
    offset: usize,
    cells: usize,
    psus: &[u32],
    outs_of: &[Option<Vec<u32>>],
) {
    let m = out.m;
    let mut acc = vec![0.0f64; m];
    let mut hit = vec![false; m];
    let mut touched: Vec<u32> = Vec::new();
    let mut notes: Vec<(u32, u32, f64)> = Vec::new();
    for (psu, entries) in &sums.psus {
        let Ok(p) = psus.binary_search(psu) else {
            continue;
        };
        // Entries are sorted by cell: this table's cells are one contiguous run, found by one
        // search for its start and walked to its end.
        let lo = entries.partition_point(|e| (e.0 as usize) < offset);
        let run = entries[lo..]
            .iter()
            .take_while(|e| (e.0 as usize) < offset + cells);
        for &(cell, v) in run {
            let Some(outs) = &outs_of[cell as usize - offset] else {
                continue;
            };
            for &o in outs {
                let o = o as usize;
                if !hit[o] {
                    hit[o] = true;
                    touched.push(o as u32);
                }
                acc[o] += v;
            }
        }
        for &o in &touched {
            let o = o as usize;
            notes.push((o as u32, p as u32, acc[o]));
            acc[o] = 0.0;
            hit[o] = false;
        }
        touched.clear();
    }
    let mut at = vec![0usize; m + 1];
    for &(o, _, _) in &notes {
        at[o as usize + 1] += 1;
    }
    for o in 0..m {
        at[o + 1] += at[o];
    }
    out.t_psu = vec![0; notes.len()];
    out.t_val = vec![0.0; notes.len()];
    let mut next = at[..m].to_vec();
    for (o, p, v) in notes {
        let i = &mut next[o as usize];
        out.t_psu[*i] = p;
        out.t_val[*i] = v;
        *i += 1;
    }
    out.t_at = at;
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
