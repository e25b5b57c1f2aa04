//! From the kernel's fine cells to output cells: every fine cell is added into each output cell
//! it belongs to (its codes, their totals, the codes of other versions), for the point estimate,
//! the count, the replicate sums and the per-PSU sums of the core's merged [`State`].
use super::core::State;
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
    /// `t[o * n_psu + p]`: sum of w·y of output cell o in PSU p.
    pub t: Vec<f64>,
}

impl TableOut {
    pub fn reps_of(&self, o: usize) -> &[f64] {
        &self.reps[o * self.n_reps..(o + 1) * self.n_reps]
    }
    pub fn t_of(&self, o: usize) -> &[f64] {
        &self.t[o * self.n_psu..(o + 1) * self.n_psu]
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
        t: vec![0.0; m * n_psu],
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
        for (psu, entries) in &sums.psus {
            let Ok(p) = psus.binary_search(psu) else {
                continue;
            };
            // Entries are sorted by cell: this table's cells are one contiguous run.
            let lo = entries.partition_point(|e| (e.0 as usize) < offset);
            let hi = entries.partition_point(|e| (e.0 as usize) < offset + cells);
            for &(cell, v) in &entries[lo..hi] {
                let c = cell as usize;
                if let Some(outs) = &outs_of[c - offset] {
                    for &o in outs {
                        out.t[o as usize * n_psu + p] += v;
                    }
                }
            }
        }
    }
    out
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
