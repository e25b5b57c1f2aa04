//! The parallel aggregation kernel. One pass over the rows accumulates, for every fine cell of
//! every table, the weighted sum, the unweighted count, the replicate sums and (for Taylor
//! designs) the sums per PSU. Rows are visited PSU by PSU in fixed chunks whose results merge in
//! a fixed binary tree, so the output is bit-identical for any number of threads.
use crate::normalize::NONE;

/// Rows per chunk of work: the unit of parallelism (fixed, so results do not depend on threads).
pub const CHUNK_ROWS: usize = 32_768;

/// One table of the cube: a population, an optional value column, and its breakdowns.
pub struct TableSpec<'a> {
    /// Bit of the table's population in the row masks.
    pub pop_bit: u64,
    /// Value summed (`None`: count persons); a missing value keeps the row out of the table.
    pub value: Option<&'a [Option<f64>]>,
    /// Fine index per row for each breakdown, with its stride in the table's cell space.
    pub dims: Vec<(&'a [u32], usize)>,
    /// First cell of this table in the cube's cell space.
    pub offset: usize,
}

/// Everything the kernel reads, as contiguous column buffers.
pub struct KernelInput<'a> {
    /// Rows of the frame to aggregate (one period), in frame order.
    pub rows: &'a [u32],
    pub weight: &'a [f64],
    pub masks: &'a [u64],
    /// Replicate weights, one buffer per replicate (may be empty).
    pub reps: &'a [Vec<f64>],
    /// PSU index per row (`None`: no PSUs; rows are grouped in fixed blocks instead).
    pub psu: Option<&'a [u32]>,
    pub tables: &'a [TableSpec<'a>],
    pub n_cells: usize,
}

/// Sums for every cell of the cube.
#[derive(Debug, Clone, PartialEq)]
pub struct CubeSums {
    pub n_cells: usize,
    pub n_reps: usize,
    pub wsum: Vec<f64>,
    pub count: Vec<u64>,
    /// `reps[cell * n_reps + r]`.
    pub reps: Vec<f64>,
    /// PSUs in ascending index order with their non-zero cell sums (Taylor designs only).
    pub psus: Vec<(u32, Vec<(u32, f64)>)>,
}

impl CubeSums {
    fn new(n_cells: usize, n_reps: usize) -> Self {
        CubeSums {
            n_cells,
            n_reps,
            wsum: vec![0.0; n_cells],
            count: vec![0; n_cells],
            reps: vec![0.0; n_cells * n_reps],
            psus: Vec::new(),
        }
    }

    /// Associative merge: `self` holds the earlier rows, `other` the later ones.
    pub fn merge(mut self, other: CubeSums) -> CubeSums {
        for (a, b) in self.wsum.iter_mut().zip(&other.wsum) {
            *a += b;
        }
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        for (a, b) in self.reps.iter_mut().zip(&other.reps) {
            *a += b;
        }
        self.psus.extend(other.psus);
        self
    }
}

/// A unit of rows visited together: one PSU, or a fixed block of rows without PSUs.
struct Unit {
    psu: u32,
    start: usize,
    end: usize,
}

/// Runs the kernel.
pub fn aggregate(input: &KernelInput) -> CubeSums {
    let (order, units) = units(input);
    let chunks = chunks(&units);
    if chunks.is_empty() {
        return CubeSums::new(input.n_cells, input.reps.len());
    }
    reduce(input, &order, &units, &chunks)
}

fn units(input: &KernelInput) -> (Vec<u32>, Vec<Unit>) {
    let Some(psu) = input.psu else {
        let units = (0..input.rows.len())
            .step_by(4096)
            .map(|s| Unit {
                psu: NONE,
                start: s,
                end: (s + 4096).min(input.rows.len()),
            })
            .collect();
        return (input.rows.to_vec(), units);
    };
    // Counting sort of the rows by PSU, keeping file order within a PSU.
    let n_psu = input
        .rows
        .iter()
        .map(|&r| psu[r as usize] as usize + 1)
        .max()
        .unwrap_or(0);
    let mut start = vec![0usize; n_psu + 1];
    for &r in input.rows {
        start[psu[r as usize] as usize + 1] += 1;
    }
    for i in 0..n_psu {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; input.rows.len()];
    for &r in input.rows {
        let p = psu[r as usize] as usize;
        order[fill[p]] = r;
        fill[p] += 1;
    }
    let units = (0..n_psu)
        .filter(|&p| start[p + 1] > start[p])
        .map(|p| Unit {
            psu: p as u32,
            start: start[p],
            end: start[p + 1],
        })
        .collect();
    (order, units)
}

/// Consecutive units grouped until a chunk holds at least `CHUNK_ROWS` rows.
fn chunks(units: &[Unit]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut first = 0;
    let mut rows = 0;
    for (i, u) in units.iter().enumerate() {
        rows += u.end - u.start;
        if rows >= CHUNK_ROWS {
            out.push(first..i + 1);
            first = i + 1;
            rows = 0;
        }
    }
    if first < units.len() {
        out.push(first..units.len());
    }
    out
}

/// Fixed-shape binary tree over the chunks: the same additions in the same order for any
/// thread count.
fn reduce(
    input: &KernelInput,
    order: &[u32],
    units: &[Unit],
    chunks: &[std::ops::Range<usize>],
) -> CubeSums {
    if chunks.len() == 1 {
        return process(input, order, &units[chunks[0].clone()]);
    }
    let mid = chunks.len() / 2;
    let (a, b) = rayon::join(
        || reduce(input, order, units, &chunks[..mid]),
        || reduce(input, order, units, &chunks[mid..]),
    );
    a.merge(b)
}

fn process(input: &KernelInput, order: &[u32], units: &[Unit]) -> CubeSums {
    let n_reps = input.reps.len();
    let mut acc = CubeSums::new(input.n_cells, n_reps);
    let taylor = input.psu.is_some();
    let mut scratch = if taylor {
        vec![0.0; input.n_cells]
    } else {
        Vec::new()
    };
    let mut touched: Vec<u32> = Vec::new();
    let mut rbuf = vec![0.0; n_reps];
    for unit in units {
        for &row in &order[unit.start..unit.end] {
            let r = row as usize;
            let w = input.weight[r];
            let mask = input.masks[r];
            for (k, rep) in input.reps.iter().enumerate() {
                rbuf[k] = rep[r];
            }
            for t in input.tables {
                if mask & t.pop_bit == 0 {
                    continue;
                }
                let y = match t.value {
                    Some(v) => match v[r] {
                        Some(y) => y,
                        None => continue,
                    },
                    None => 1.0,
                };
                let cell = t.offset + t.dims.iter().map(|(f, s)| f[r] as usize * s).sum::<usize>();
                acc.wsum[cell] += w * y;
                acc.count[cell] += 1;
                if n_reps > 0 {
                    let slot = &mut acc.reps[cell * n_reps..(cell + 1) * n_reps];
                    for (a, b) in slot.iter_mut().zip(&rbuf) {
                        *a += b * y;
                    }
                }
                if taylor {
                    if scratch[cell] == 0.0 {
                        touched.push(cell as u32);
                    }
                    scratch[cell] += w * y;
                }
            }
        }
        if taylor {
            touched.sort_unstable();
            touched.dedup();
            let cells = touched
                .iter()
                .map(|&c| (c, std::mem::take(&mut scratch[c as usize])))
                .collect();
            touched.clear();
            acc.psus.push((unit.psu, cells));
        }
    }
    acc
}
