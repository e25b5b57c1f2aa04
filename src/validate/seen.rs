//! The fingerprints met so far (business keys, households), each with the value first met with
//! it, in memory up to a bound and then in files: checking that 10⁸ keys are unique must not
//! need 10⁸ keys' worth of memory.
//!
//! Up to [`MEMORY_BYTES`] the entries live in a hash map. When it is full they are sorted and
//! written to a *run*, an unlinked file of its own in the folder the caller names (a run's
//! staging area; the temporary folder for `validate`), and the map starts
//! again. In memory a run keeps only a Bloom filter (14 bits a key: about one lookup in 550 of a
//! key it does not hold reads the file) and every [`STRIDE`]th key, so that a lookup the filter
//! lets through reads one block of the file. Runs of equal size are merged (a binary counter),
//! so that a lookup asks at most log₂(spills) + 1 filters.
//!
//! Spilling saves memory and never changes an answer. When a run cannot be written (a full disk)
//! the entries stay in memory from then on. When a run cannot be read back, the lookups that
//! needed it answer "new" and the error is kept for [`Seen::take_error`], which the caller turns
//! into the failure of its run.
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::keys::FpBuild;

/// Bytes of entries a map holds before they go to a run (the hash table's slots included).
pub const MEMORY_BYTES: usize = 8 << 20;

/// One key in this many is kept in memory for each run; a lookup reads at most this many records.
const STRIDE: usize = 64;

/// Records read at a time while two runs are merged.
const MERGE_READ: usize = 4096;

/// A value kept beside a key, in a fixed number of bytes.
pub trait Fixed: Copy {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    fn get(bytes: &[u8]) -> Self;
}

impl Fixed for () {
    const SIZE: usize = 0;
    fn put(&self, _: &mut Vec<u8>) {}
    fn get(_: &[u8]) -> Self {}
}

/// Fingerprints met so far, each with the value it was first met with.
pub struct Seen<V: Fixed> {
    mem: HashMap<u128, V, FpBuild>,
    /// Entries `mem` holds before it is spilled (0: it never is).
    cap: usize,
    runs: Vec<Run>,
    /// A run could not be written: everything stays in memory from then on.
    spill_off: bool,
    failed: Option<std::io::Error>,
    dir: PathBuf,
}

/// A set of fingerprints met so far.
pub type KeySet = Seen<()>;

impl<V: Fixed> Default for Seen<V> {
    fn default() -> Self {
        Self::in_folder(None)
    }
}

/// [`MEMORY_BYTES`], or in a build with the `failpoints` feature `MIGSTAT_SEEN_BYTES` (tests spill
/// after a few entries with a small number).
fn memory_bound() -> usize {
    crate::load::failpoint::size("MIGSTAT_SEEN_BYTES", MEMORY_BYTES)
}

impl<V: Fixed> Seen<V> {
    /// A map that spills past [`MEMORY_BYTES`] to `dir` (`None`: the temporary folder).
    pub fn in_folder(dir: Option<&Path>) -> Self {
        let mut seen = Self::new(memory_bound());
        if let Some(dir) = dir {
            seen.dir = dir.to_path_buf();
        }
        seen
    }

    /// A map that spills past about `bytes` of memory (0: never), to the temporary folder.
    pub fn new(bytes: usize) -> Self {
        // The hash table's slots (a power of two) are 7/8 full when it holds `cap` entries.
        let slot = 16 + std::mem::size_of::<V>() + 1;
        let cap = match bytes / slot {
            0 if bytes == 0 => 0,
            0..=7 => 7,
            n => (1usize << n.ilog2()) / 8 * 7,
        };
        Seen {
            mem: HashMap::default(),
            cap,
            runs: Vec::new(),
            spill_off: false,
            failed: None,
            dir: std::env::temp_dir(),
        }
    }

    /// The value first met with `key`, or `None` when `key` is new (then `value` is kept for it).
    pub fn first(&mut self, key: u128, value: V) -> Option<V> {
        let key = spread(key);
        // One probe of the table: the slot found empty is the one filled.
        let slot = match self.mem.entry(key) {
            Entry::Occupied(o) => return Some(*o.get()),
            Entry::Vacant(v) => v,
        };
        for run in &self.runs {
            if !run.bloom.may_hold(key) {
                continue;
            }
            match run.find::<V>(key) {
                Ok(Some(v)) => return Some(v),
                Ok(None) => {}
                Err(e) => {
                    self.failed.get_or_insert(e);
                }
            }
        }
        slot.insert(value);
        if self.cap > 0 && !self.spill_off && self.mem.len() >= self.cap {
            self.spill();
        }
        None
    }

    /// Notes `key`; true when it is new.
    pub fn insert(&mut self, key: u128) -> bool
    where
        V: Default,
    {
        self.first(key, V::default()).is_none()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.mem.len() + self.runs.iter().map(|r| r.len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs in files (for tests).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The first error met reading a run back, if any (answers given since may be wrong), as
    /// the error of a run: it names the folder.
    pub fn take_error(&mut self) -> Option<crate::error::MigError> {
        self.failed.take().map(|e| {
            let which = if self.dir == std::env::temp_dir() {
                " (the temporary one, TMPDIR)"
            } else {
                ""
            };
            let e = std::io::Error::new(
                e.kind(),
                format!("cannot read back the keys kept in this folder{which}: {e}"),
            );
            crate::error::MigError::io(&self.dir, e)
        })
    }

    /// Writes the map's entries to a new run, then merges runs of equal size; a run that cannot
    /// be written leaves the entries in memory, and so does every later spill.
    fn spill(&mut self) {
        let mut entries: Vec<(u128, V)> = self.mem.drain().collect();
        entries.sort_unstable_by_key(|e| e.0);
        match Run::write(&self.dir, entries.len(), entries.iter().copied()) {
            Ok(run) => self.runs.push(run),
            Err(e) => {
                tracing::warn!(
                    "keeping every key in memory: cannot write them to {}: {e}",
                    self.dir.display()
                );
                self.spill_off = true;
                self.mem.extend(entries);
                return;
            }
        }
        while let [.., a, b] = &self.runs[..] {
            if b.len < a.len {
                break;
            }
            match Run::merge::<V>(&self.dir, a, b) {
                Ok(run) => {
                    self.runs.truncate(self.runs.len() - 2);
                    self.runs.push(run);
                }
                // Two runs instead of one are slower to ask, not wrong; a read error is kept.
                Err(Failure::Write(e)) => {
                    tracing::warn!(
                        "cannot merge two runs of keys in {}: {e}",
                        self.dir.display()
                    );
                    break;
                }
                Err(Failure::Read(e)) => {
                    self.failed.get_or_insert(e);
                    break;
                }
            }
        }
    }
}

/// Why a merge stopped.
enum Failure {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Sorted entries in a file of their own.
struct Run {
    file: File,
    len: usize,
    /// The key of every [`STRIDE`]th record.
    index: Vec<u128>,
    bloom: Bloom,
}

impl Run {
    /// Writes `entries` (sorted by key, `n` of them) to a new unlinked file in `dir`.
    fn write<V: Fixed>(
        dir: &Path,
        n: usize,
        entries: impl IntoIterator<Item = (u128, V)>,
    ) -> std::io::Result<Run> {
        let mut w = Writer::new(dir, n)?;
        for (key, value) in entries {
            w.push(key, value)?;
        }
        w.finish()
    }

    /// One run of the entries of `a` and `b`, which share no key.
    fn merge<V: Fixed>(dir: &Path, a: &Run, b: &Run) -> Result<Run, Failure> {
        let mut w = Writer::new(dir, a.len + b.len).map_err(Failure::Write)?;
        let (mut a, mut b) = (Blocks::<V>::new(a), Blocks::<V>::new(b));
        a.fill().map_err(Failure::Read)?;
        b.fill().map_err(Failure::Read)?;
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 < y.0 => a.take(),
                (_, Some(_)) => b.take(),
                (Some(_), None) => a.take(),
                (None, None) => break,
            };
            w.push(next.0, next.1).map_err(Failure::Write)?;
            a.fill().map_err(Failure::Read)?;
            b.fill().map_err(Failure::Read)?;
        }
        w.finish().map_err(Failure::Write)
    }

    /// The value kept for `key`, if this run holds it.
    fn find<V: Fixed>(&self, key: u128) -> std::io::Result<Option<V>> {
        crate::load::failpoint::hit("seen.read")?;
        // The block that would hold `key` starts at the last indexed key not above it.
        let block = match self.index.partition_point(|&k| k <= key) {
            0 => return Ok(None),
            i => i - 1,
        };
        let width = 16 + V::SIZE;
        let first = block * STRIDE;
        let n = STRIDE.min(self.len - first);
        let mut bytes = vec![0u8; n * width];
        self.file
            .read_exact_at(&mut bytes, (first * width) as u64)?;
        let records: Vec<&[u8]> = bytes.chunks_exact(width).collect();
        Ok(records
            .binary_search_by_key(&key, |r| record_key(r))
            .ok()
            .map(|i| V::get(&records[i][16..])))
    }
}

/// Bytes encoded before they are written.
const WRITE_BYTES: usize = 1 << 20;

/// A run being written: records encoded into a buffer, written a megabyte at a time.
struct Writer<V> {
    run: Run,
    buf: Vec<u8>,
    at: u64,
    _v: std::marker::PhantomData<V>,
}

impl<V: Fixed> Writer<V> {
    fn new(dir: &Path, n: usize) -> std::io::Result<Self> {
        crate::load::failpoint::hit("seen.write")?;
        let file = crate::normalize::reps::unlinked_file(dir, "keys")?;
        Ok(Writer {
            run: Run {
                len: 0,
                index: Vec::with_capacity(n.div_ceil(STRIDE)),
                bloom: Bloom::new(n),
                file,
            },
            buf: Vec::with_capacity(WRITE_BYTES + 16 + V::SIZE),
            at: 0,
            _v: std::marker::PhantomData,
        })
    }

    fn push(&mut self, key: u128, value: V) -> std::io::Result<()> {
        let run = &mut self.run;
        if run.len.is_multiple_of(STRIDE) {
            run.index.push(key);
        }
        run.bloom.add(key);
        run.len += 1;
        self.buf.extend_from_slice(&key.to_le_bytes());
        value.put(&mut self.buf);
        if self.buf.len() >= WRITE_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.run.file.write_all_at(&self.buf, self.at)?;
        self.at += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Run> {
        self.flush()?;
        Ok(self.run)
    }
}

fn record_key(r: &[u8]) -> u128 {
    let mut k = [0u8; 16];
    k.copy_from_slice(&r[..16]);
    u128::from_le_bytes(k)
}

/// A run's records in order, read and decoded a block at a time.
struct Blocks<'a, V> {
    run: &'a Run,
    /// Records read so far.
    read: usize,
    block: Vec<(u128, V)>,
    pos: usize,
    bytes: Vec<u8>,
}

impl<'a, V: Fixed> Blocks<'a, V> {
    fn new(run: &'a Run) -> Self {
        Blocks {
            run,
            read: 0,
            block: Vec::new(),
            pos: 0,
            bytes: Vec::new(),
        }
    }

    /// Reads the next block once the current one is used up.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.pos < self.block.len() || self.read == self.run.len {
            return Ok(());
        }
        crate::load::failpoint::hit("seen.read")?;
        let width = 16 + V::SIZE;
        let n = MERGE_READ.min(self.run.len - self.read);
        self.bytes.resize(n * width, 0);
        self.run
            .file
            .read_exact_at(&mut self.bytes, (self.read * width) as u64)?;
        self.block.clear();
        self.block.extend(
            self.bytes
                .chunks_exact(width)
                .map(|r| (record_key(r), V::get(&r[16..]))),
        );
        self.read += n;
        self.pos = 0;
        Ok(())
    }

    fn peek(&self) -> Option<(u128, V)> {
        self.block.get(self.pos).copied()
    }

    fn take(&mut self) -> (u128, V) {
        let x = self.block[self.pos];
        self.pos += 1;
        x
    }
}

/// A Bloom filter in blocks of 512 bits: a key sets one bit in each of a block's eight words,
/// so that a lookup touches one cache line. About 14 bits a key.
struct Bloom {
    blocks: Vec<[u64; 8]>,
}

impl Bloom {
    fn new(keys: usize) -> Bloom {
        Bloom {
            blocks: vec![[0; 8]; (keys * 14).div_ceil(512).max(1)],
        }
    }

    /// The block and the bits of a [`spread`] key: the block from its top bits, so that a run's
    /// keys, sorted, fill the blocks in order (one pass through memory, not a miss a key); the
    /// bits from its low half, drawn independently.
    fn place(&self, key: u128) -> (usize, u64) {
        let top = (key >> 64) as u64;
        let block = ((u128::from(top) * self.blocks.len() as u128) >> 64) as usize;
        (block, mix(key as u64 ^ 0x9e37_79b9_7f4a_7c15))
    }

    fn add(&mut self, key: u128) {
        let (b, bits) = self.place(key);
        for (i, w) in self.blocks[b].iter_mut().enumerate() {
            *w |= 1 << ((bits >> (6 * i)) & 63);
        }
    }

    fn may_hold(&self, key: u128) -> bool {
        let (b, bits) = self.place(key);
        self.blocks[b]
            .iter()
            .enumerate()
            .all(|(i, w)| w & (1 << ((bits >> (6 * i)) & 63)) != 0)
    }
}

/// A key as it is kept: random bits on top even for a 64-bit fingerprint widened (zeros on top),
/// and one to one, so that two keys are equal exactly when they are.
fn spread(key: u128) -> u128 {
    let (low, high) = (key as u64, (key >> 64) as u64);
    (u128::from(mix(low) ^ high) << 64) | u128::from(low)
}

/// SplitMix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Copy, Debug, PartialEq, Default)]
    struct Line(u64);

    impl Fixed for Line {
        const SIZE: usize = 8;
        fn put(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
        }
        fn get(b: &[u8]) -> Self {
            Line(u64::from_le_bytes(b[..8].try_into().unwrap()))
        }
    }

    /// Keys drawn with repeats, some clustered in their high or low bits.
    fn keys(n: u64) -> Vec<u128> {
        (0..n)
            .map(|i| {
                let r = mix(i / 3 * 7 + 1);
                match i % 4 {
                    0 => u128::from(r),
                    1 => u128::from(r) << 64,
                    2 => u128::from(r % 500),
                    _ => (u128::from(r) << 64) | u128::from(mix(r)),
                }
            })
            .collect()
    }

    #[test]
    fn spilled_maps_answer_as_a_map_in_memory() {
        let keys = keys(30_000);
        for bytes in [0, 1, 200, 5_000, 100_000] {
            let mut seen = Seen::<Line>::new(bytes);
            let mut model = BTreeMap::new();
            for (i, &k) in keys.iter().enumerate() {
                let want = model.get(&k).copied();
                model.entry(k).or_insert(Line(i as u64));
                assert_eq!(
                    seen.first(k, Line(i as u64)),
                    want,
                    "key {i}, {bytes} bytes"
                );
            }
            assert_eq!(seen.len(), model.len());
            assert!(seen.take_error().is_none());
            if bytes > 0 && bytes < 100_000 {
                // Equal runs merge: at most log2(spills) + 1 runs.
                assert!(seen.runs() >= 1 && seen.runs() <= 14, "{}", seen.runs());
            }
            if bytes == 0 {
                assert_eq!(seen.runs(), 0);
            }
        }
    }

    #[test]
    fn a_set_says_which_keys_are_new() {
        let mut s = KeySet::new(300);
        for i in 0..5_000u128 {
            assert!(s.insert(i * 0x1_0000_0001), "{i}");
        }
        for i in (0..5_000u128).rev() {
            assert!(!s.insert(i * 0x1_0000_0001), "{i}");
        }
        assert_eq!(s.len(), 5_000);
        assert!(s.runs() > 1);
    }

    #[test]
    fn the_filter_lets_few_absent_keys_through() {
        let mut bloom = Bloom::new(100_000);
        for i in 0..100_000u64 {
            bloom.add(spread(u128::from(i)));
        }
        assert!((0..100_000u64).all(|i| bloom.may_hold(spread(u128::from(i)))));
        let through = (100_000..1_100_000u64)
            .filter(|&i| bloom.may_hold(spread(u128::from(i))))
            .count();
        // About 0.18 % at 14 bits a key; 0.4 % would mean the bits are not independent.
        assert!(through < 4_000, "{through} of 1,000,000");
    }
}
