//! The replicate weights of a frame: row by row (all of a row's replicates side by side), in
//! memory up to a bound, then in a file of their own. With 80 replicates they are 640 bytes a
//! row — more than the rest of the frame — and nothing reads them but the estimation's chunks and
//! the microdata writer, each a block of rows at a time, so they need not stay in memory.
//!
//! Rows are stored in the order they are pushed; `index` maps each frame row to its stored row,
//! so that `retain` (rows dropped by validation) moves no weight. The file is created in the
//! folder the caller names (a run's staging area, on the warehouse's disk) and unlinked at once:
//! it disappears with the process, however that ends. Each block is written by a thread of its
//! own while the next one fills (one write in flight), so the copy into the page cache stays off
//! the thread that merges the rows; [`Replicates::seal`] waits for the last one before any read.
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Rows read from the file at a time (with 80 replicates, 640 kB: the buffer stays in cache).
const READ_ROWS: usize = 1024;

/// Bytes of replicate weights kept in memory before they go to a file.
pub const MEMORY_BYTES: usize = 32 << 20;

/// Weights encoded and written at a time when a block is spilled (1 MiB).
const WRITE_PIECE: usize = 1 << 17;

/// [`MEMORY_BYTES`], or in a build with the `failpoints` feature `MIGSTAT_SPILL_BYTES` (tests
/// spill every row with `1`).
pub fn memory_bound() -> usize {
    crate::load::failpoint::size("MIGSTAT_SPILL_BYTES", MEMORY_BYTES)
}

#[derive(Debug, Default)]
pub struct Replicates {
    /// Replicates per row (0: the design has none).
    n: usize,
    /// Stored row of each frame row.
    index: Vec<u32>,
    /// Rows stored (in the file, then in `tail`).
    stored: usize,
    /// Rows `spilled..stored`, `n` weights each (all rows while nothing is spilled).
    tail: Vec<f64>,
    /// Rows `0..spilled` live in `file`, at `row * n * 8`.
    spilled: usize,
    file: Option<Arc<File>>,
    /// A write that failed while the rows were cleared, reported by the next spill or seal.
    failed: Option<std::io::Error>,
    /// The block being written, which hands its buffer back for the next one.
    writing: Option<JoinHandle<std::io::Result<Vec<f64>>>>,
    /// Where the file goes.
    dir: PathBuf,
    /// Bytes kept in `tail` before it is written out.
    bound: usize,
}

impl Replicates {
    /// A store for `n` replicates per row that spills to `dir` (`None`: the system's temporary
    /// folder) past `bound` bytes.
    pub fn new(n: usize, dir: Option<&Path>, bound: usize) -> Self {
        Replicates {
            n,
            dir: dir.map_or_else(std::env::temp_dir, Path::to_path_buf),
            bound: bound.max(8),
            ..Default::default()
        }
    }

    /// Replicates per row.
    pub fn count(&self) -> usize {
        self.n
    }

    /// An empty store of the same replicates, folder and bound.
    pub fn empty_like(&self) -> Replicates {
        Replicates::new(self.n, Some(&self.dir), self.bound)
    }

    /// Frame rows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The folder the file goes to (what an error of the store is about).
    pub fn folder(&self) -> &Path {
        &self.dir
    }

    /// Whether some rows are kept in a file.
    pub fn spilled(&self) -> bool {
        self.spilled > 0
    }

    /// Appends one frame row's weights (`count()` of them); a store of no replicates keeps
    /// nothing, whatever it is given.
    pub fn push(&mut self, w: &[f64]) -> std::io::Result<()> {
        if self.n == 0 {
            return Ok(());
        }
        debug_assert_eq!(w.len(), self.n);
        let row = u32::try_from(self.stored).map_err(|_| {
            std::io::Error::other("more than 4,294,967,295 rows of replicate weights")
        })?;
        self.index.push(row);
        self.tail.extend_from_slice(w);
        self.stored += 1;
        if self.tail.len() * 8 >= self.bound {
            self.spill()?;
        }
        Ok(())
    }

    /// Hands the rows held in memory to a thread that writes them to the file (created on first
    /// use), once the block before them is written.
    fn spill(&mut self) -> std::io::Result<()> {
        crate::load::failpoint::hit("spill")?;
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut next = self.wait()?.unwrap_or_default();
        let file = match &self.file {
            Some(file) => Arc::clone(file),
            None => Arc::clone(
                self.file
                    .insert(Arc::new(unlinked_file(&self.dir, "replicates")?)),
            ),
        };
        next.clear();
        let block = std::mem::replace(&mut self.tail, next);
        let at = (self.spilled * self.n * 8) as u64;
        self.writing = Some(std::thread::spawn(move || {
            crate::load::failpoint::hit("spill.write")?;
            // Through a small buffer: a copy of the whole block would be as large again.
            let mut bytes = Vec::with_capacity(WRITE_PIECE * 8);
            let mut at = at;
            for piece in block.chunks(WRITE_PIECE) {
                bytes.clear();
                for x in piece {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                file.write_all_at(&bytes, at)?;
                at += bytes.len() as u64;
            }
            Ok(block)
        }));
        self.spilled = self.stored;
        Ok(())
    }

    /// Waits for the block being written; its buffer, when there was one.
    fn wait(&mut self) -> std::io::Result<Option<Vec<f64>>> {
        match self.writing.take() {
            None => Ok(None),
            Some(h) => h
                .join()
                .map_err(|_| std::io::Error::other("the thread writing replicate weights failed"))?
                .map(Some),
        }
    }

    /// Waits until every spilled row is in the file: called once the rows are all pushed, before
    /// they are read (a read before it fails rather than see a block still being written).
    pub fn seal(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.wait().map(|_| ())
    }

    /// Keeps the frame rows whose `keep` entry is true (rows past `keep`'s end are kept).
    pub fn retain(&mut self, keep: &[bool]) {
        super::frame::sieve(&mut self.index, keep);
    }

    /// Gives back what the buffers hold beyond their rows.
    pub fn shrink_to_fit(&mut self) {
        self.index.shrink_to_fit();
        self.tail.shrink_to_fit();
    }

    /// Drops every row (the file, if any, is reused from its start).
    pub fn clear(&mut self) {
        // A write still in flight would land where the next rows go; its failure is kept.
        if let Err(e) = self.wait() {
            self.failed.get_or_insert(e);
        }
        self.index.clear();
        self.tail.clear();
        self.stored = 0;
        self.spilled = 0;
    }

    /// The weights of frame rows `rows`, row by row: `out` gets `count()` values per row.
    pub fn rows_into(&self, rows: &[u32], out: &mut Vec<f64>) -> std::io::Result<()> {
        out.clear();
        out.reserve(rows.len() * self.n);
        self.for_each_row(rows, |w| out.extend_from_slice(w))
    }

    /// The weights of frame rows `rows`, replicate by replicate: `cols[k][i]` is replicate `k`
    /// of `rows[i]`.
    pub fn columns_into(&self, rows: &[u32], cols: &mut Vec<Vec<f64>>) -> std::io::Result<()> {
        cols.resize_with(self.n, Vec::new);
        for col in cols.iter_mut() {
            col.clear();
            col.reserve(rows.len());
        }
        self.for_each_row(rows, |w| {
            for (col, &x) in cols.iter_mut().zip(w) {
                col.push(x);
            }
        })
    }

    /// Calls `f` with the weights of each of `rows` in turn. Rows in the file are read a run of
    /// consecutive stored rows at a time, in pieces of at most [`READ_ROWS`] rows into one
    /// reused buffer, so a chunk's weights pass through memory once.
    fn for_each_row(&self, rows: &[u32], mut f: impl FnMut(&[f64])) -> std::io::Result<()> {
        let n = self.n;
        if n == 0 {
            return Ok(());
        }
        if self.writing.is_some() {
            return Err(std::io::Error::other(
                "replicate weights read before they were sealed",
            ));
        }
        let mut bytes = Vec::new();
        let mut row = vec![0.0; n];
        let mut i = 0;
        while i < rows.len() {
            let s = self.stored_row(rows[i])?;
            if s >= self.spilled {
                let at = (s - self.spilled) * n;
                f(&self.tail[at..at + n]);
                i += 1;
                continue;
            }
            // A run of consecutive stored rows in the file, up to READ_ROWS, is one read.
            let mut j = i + 1;
            while j < rows.len() && j - i < READ_ROWS {
                match self.stored_row(rows[j]) {
                    Ok(t) if t == s + (j - i) && t < self.spilled => j += 1,
                    _ => break,
                }
            }
            bytes.resize((j - i) * n * 8, 0);
            let file = self.file.as_ref().ok_or_else(|| missing(s))?;
            file.read_exact_at(&mut bytes, (s * n * 8) as u64)?;
            for one in bytes.chunks_exact(n * 8) {
                for (x, b) in row.iter_mut().zip(one.chunks_exact(8)) {
                    *x = f64::from_le_bytes(b.try_into().unwrap_or_default());
                }
                f(&row);
            }
            i = j;
        }
        Ok(())
    }

    fn stored_row(&self, row: u32) -> std::io::Result<usize> {
        self.index
            .get(row as usize)
            .map(|&s| s as usize)
            .ok_or_else(|| missing(row as usize))
    }
}

impl crate::estimate::core::chunks::RepRows for Replicates {
    fn count(&self) -> usize {
        self.n
    }
    fn gather(&self, rows: &[u32], cols: &mut Vec<Vec<f64>>) -> Result<(), String> {
        self.columns_into(rows, cols)
            .map_err(|e| format!("cannot read back the replicate weights: {e}"))
    }
}

fn missing(row: usize) -> std::io::Error {
    std::io::Error::other(format!("no replicate weights for row {row}"))
}

/// A new file `.{stem}-…` in `dir` that is unlinked as soon as it is open.
pub(crate) fn unlinked_file(dir: &Path, stem: &str) -> std::io::Result<File> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut last = None;
    for _ in 0..100 {
        let name = dir.join(format!(
            ".{stem}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&name)
        {
            Ok(f) => {
                std::fs::remove_file(&name)?;
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", name.display()),
                ))
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free file name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(row: usize, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| row as f64 * 1000.0 + k as f64 + 0.25)
            .collect()
    }

    /// Every bound (all in memory, spilled every row, spilled in blocks) gives the same rows
    /// back, by row and by column, after a retain, whatever the order asked.
    #[test]
    fn spilled_rows_read_back_as_pushed() {
        let n = 3;
        for bound in [usize::MAX, 8, 5 * 3 * 8, 7 * 3 * 8 + 1] {
            let mut r = Replicates::new(n, None, bound);
            for row in 0..50 {
                r.push(&weights(row, n)).expect("push");
            }
            if bound != usize::MAX {
                let mut out = Vec::new();
                assert!(r.rows_into(&[0], &mut out).is_err(), "read before seal");
            }
            r.seal().expect("seal");
            assert_eq!(r.spilled(), bound != usize::MAX, "bound {bound}");
            // Drop every third row: frame row i is now pushed row kept[i].
            let keep: Vec<bool> = (0..50).map(|i| i % 3 != 1).collect();
            r.retain(&keep);
            let kept: Vec<usize> = (0..50).filter(|i| i % 3 != 1).collect();
            assert_eq!(r.len(), kept.len());
            let ask: Vec<u32> = (0..kept.len() as u32).rev().chain(0..5).collect();
            let mut out = Vec::new();
            r.rows_into(&ask, &mut out).expect("rows");
            let want: Vec<f64> = ask
                .iter()
                .flat_map(|&i| weights(kept[i as usize], n))
                .collect();
            assert_eq!(out, want, "bound {bound}");
            let mut cols = Vec::new();
            r.columns_into(&ask, &mut cols).expect("columns");
            for (k, col) in cols.iter().enumerate() {
                let want: Vec<f64> = ask
                    .iter()
                    .map(|&i| weights(kept[i as usize], n)[k])
                    .collect();
                assert_eq!(col, &want, "bound {bound}, replicate {k}");
            }
            assert!(r.rows_into(&[kept.len() as u32], &mut out).is_err());
            // Cleared, the store takes new rows from the start of its file.
            r.clear();
            for row in 100..110 {
                r.push(&weights(row, n)).expect("push again");
            }
            r.seal().expect("seal again");
            r.rows_into(&[9, 0], &mut out).expect("rows again");
            assert_eq!(out, [weights(109, n), weights(100, n)].concat());
        }
    }

    /// Runs longer than one read are read in pieces; a run broken by a row still in memory.
    #[test]
    fn long_runs_are_read_in_pieces() {
        let n = 2;
        let mut r = Replicates::new(n, None, 100 * n * 8);
        let total = READ_ROWS * 3 + 57;
        for row in 0..total {
            r.push(&weights(row, n)).expect("push");
        }
        r.seal().expect("seal");
        let ask: Vec<u32> = (0..total as u32)
            .chain([5, (total - 1) as u32, 6])
            .collect();
        let mut out = Vec::new();
        r.rows_into(&ask, &mut out).expect("rows");
        let want: Vec<f64> = ask.iter().flat_map(|&i| weights(i as usize, n)).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn the_file_is_gone_from_its_folder() {
        let dir = std::env::temp_dir().join(format!("migstat-reps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut r = Replicates::new(2, Some(&dir), 8);
        r.push(&[1.0, 2.0]).expect("push");
        r.seal().expect("seal");
        assert!(r.spilled());
        assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 0);
        let mut out = Vec::new();
        r.rows_into(&[0], &mut out).expect("read");
        assert_eq!(out, [1.0, 2.0]);
        std::fs::remove_dir_all(&dir).expect("remove");
    }
}
