//! The bytes of a delimited input: a plain file, a `.gz` (decompressed as it is read) or a zip
//! member (streamed from a reader thread, never held whole), metered against the input's
//! limits: decompressed bytes, expansion ratio and bytes per line. A bound crossed is an I/O
//! error carrying the [`LimitHit`], which [`limit_of`] and [`limit_of_csv`] take back out.
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use super::limits::{grouped, LimitHit, Limits, EXPANSION_FLOOR};
use crate::error::{MigError, Result};

/// An opened delimited input.
pub struct Data {
    pub reader: Box<dyn Read>,
    /// What messages call it (`archive.zip!member.csv` for a zip member).
    pub display: PathBuf,
    /// Bytes of the data (uncompressed member size for a zip, the file's size otherwise).
    pub size: u64,
}

/// Opens `path` (`.zip` with the `member` glob, default the only `.csv`; `.gz`; plain text).
pub fn open_data(path: &Path, member: Option<&str>, limits: &Limits) -> Result<Data> {
    let unreadable = |msg: String| MigError::Unreadable {
        path: path.to_path_buf(),
        msg,
    };
    let size = regular_file_size(path)?;
    let file = File::open(path).map_err(|e| unreadable(format!("cannot open: {e}")))?;
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".zip") {
        let (reader, display, size) = open_member(path, file, member, limits)?;
        return Ok(Data {
            reader: Box::new(BufReader::new(reader)),
            display,
            size,
        });
    }
    // A plain or gzip file is read whole from its start: the run's hash may be taken here.
    let file = crate::runs::hashing(path, file);
    let (packed, inner): (Packed, Box<dyn Read + Send>) = if name.ends_with(".gz") {
        let read = Arc::new(AtomicU64::new(0));
        let counted = Counting {
            inner: file,
            read: read.clone(),
        };
        let gz = flate2::read::MultiGzDecoder::new(BufReader::new(counted));
        (Packed::Counter(read), Box::new(gz))
    } else {
        (Packed::Plain, file)
    };
    Ok(Data {
        reader: Box::new(BufReader::new(Meter::new(inner, path, limits, packed))),
        display: path.to_path_buf(),
        size,
    })
}

/// Whether an input of `kind` at `path` is read by [`open_data`] from its first byte to its last
/// (delimited text, plain or gzip; not a zip member), so that its hash can be taken as it is read.
pub fn read_whole(kind: &str, path: &Path) -> bool {
    kind == "csv" && !path.to_string_lossy().to_lowercase().ends_with(".zip")
}

/// The size of `path`, which must be a regular file: a directory, FIFO or device (`/dev/zero`)
/// is refused before it is opened (opening a FIFO would wait for a writer).
pub fn regular_file_size(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| MigError::Unreadable {
        path: path.to_path_buf(),
        msg: format!("cannot open: {e}"),
    })?;
    if !meta.is_file() {
        return Err(MigError::Unreadable {
            path: path.to_path_buf(),
            msg: "not a regular file".into(),
        });
    }
    Ok(meta.len())
}

/// The limit hit an I/O error carries, if it is one.
pub fn limit_of(e: &io::Error) -> Option<LimitHit> {
    e.get_ref()?.downcast_ref::<LimitHit>().cloned()
}

/// The limit hit a CSV parser's error carries, if it is one.
pub fn limit_of_csv(e: &::csv::Error) -> Option<LimitHit> {
    match e.kind() {
        ::csv::ErrorKind::Io(io) => limit_of(io),
        _ => None,
    }
}

/// What the decompressed bytes are measured against.
enum Packed {
    Plain,
    Counter(Arc<AtomicU64>),
    Fixed(u64),
}

/// Counts the bytes read from the compressed file.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Bytes out of a (possibly decompressing) reader, checked against the limits as they pass.
struct Meter {
    inner: Box<dyn Read + Send>,
    display: PathBuf,
    limits: Limits,
    packed: Packed,
    out: u64,
    /// Line (1-based) the next byte is on, and bytes of that line so far.
    line: u64,
    line_len: u64,
}

impl Meter {
    fn new(inner: Box<dyn Read + Send>, display: &Path, limits: &Limits, packed: Packed) -> Self {
        Meter {
            inner,
            display: display.to_path_buf(),
            limits: *limits,
            packed,
            out: 0,
            line: 1,
            line_len: 0,
        }
    }

    fn check(&mut self, chunk: &[u8]) -> std::result::Result<(), LimitHit> {
        self.out += chunk.len() as u64;
        let l = &self.limits;
        if self.out > l.max_input_bytes() {
            let what = format!(
                "more than {} bytes of data",
                grouped(l.max_input_bytes() as usize)
            );
            return Err(l.hit("max_input_mb", &self.display, what));
        }
        let packed = match &self.packed {
            Packed::Plain => 0,
            Packed::Counter(c) => c.load(Ordering::Relaxed),
            Packed::Fixed(n) => *n,
        };
        if packed > 0 && self.out > EXPANSION_FLOOR && self.out / packed > l.max_expansion_ratio {
            let what = format!(
                "{} bytes came out of {} compressed bytes so far ({} times): a decompression bomb?",
                grouped(self.out as usize),
                grouped(packed as usize),
                self.out / packed
            );
            return Err(l.hit("max_expansion_ratio", &self.display, what));
        }
        self.lines(chunk)
    }

    /// Follows line breaks; a line longer than the bound is a hit naming its number. Lines
    /// between a chunk's first and last break are measured only when the chunk could hold one
    /// that long (the bound is 1 MiB by default), from one line break to the next.
    fn lines(&mut self, chunk: &[u8]) -> std::result::Result<(), LimitHit> {
        let max = self.limits.max_line_bytes;
        let Some(first) = memchr::memchr(b'\n', chunk) else {
            self.line_len += chunk.len() as u64;
            return self.line_fits(self.line, self.line_len);
        };
        self.line_fits(self.line, self.line_len + first as u64)?;
        let last = memchr::memrchr(b'\n', chunk).unwrap_or(first);
        if (last - first) as u64 > max {
            let mut prev = first;
            let breaks = memchr::memchr_iter(b'\n', &chunk[first + 1..=last]);
            for (k, at) in breaks.map(|i| first + 1 + i).enumerate() {
                self.line_fits(self.line + 1 + k as u64, (at - prev - 1) as u64)?;
                prev = at;
            }
        }
        self.line += memchr::memchr_iter(b'\n', chunk).count() as u64;
        self.line_len = (chunk.len() - last - 1) as u64;
        self.line_fits(self.line, self.line_len)
    }

    fn line_fits(&self, line: u64, len: u64) -> std::result::Result<(), LimitHit> {
        let l = &self.limits;
        if len <= l.max_line_bytes {
            return Ok(());
        }
        let what = format!(
            "the line has more than {} bytes",
            grouped(l.max_line_bytes as usize)
        );
        Err(l.hit("max_line_bytes", &self.display, what).at(line, ""))
    }
}

impl Read for Meter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check(&buf[..n]).map_err(io::Error::other)?;
        Ok(n)
    }
}

/// A zip member's bytes, handed over by the thread that owns the archive.
struct Member {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for Member {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(c)) if c.is_empty() => self.done = true,
                Ok(Ok(c)) => (self.chunk, self.pos) = (c, 0),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the zip reader stopped early")),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Opens the zip member matching `pattern`: its metered reader, display name and size.
fn open_member(
    path: &Path,
    file: File,
    pattern: Option<&str>,
    limits: &Limits,
) -> Result<(Meter, PathBuf, u64)> {
    let unreadable = |msg: String| MigError::Unreadable {
        path: path.to_path_buf(),
        msg,
    };
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| unreadable(format!("not a readable zip archive: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .collect();
    let member = pick_member(&names, pattern).map_err(unreadable)?;
    if zip.has_duplicate_names() && duplicated(path, zip.central_directory_start(), &member) {
        return Err(unreadable(format!(
            "the archive holds more than one member named {member:?}: which one to read cannot be told; repack it with one"
        )));
    }
    let cannot = |e: String| unreadable(format!("cannot open member {member}: {e}"));
    let index = zip
        .index_for_name(&member)
        .ok_or_else(|| cannot("not found".into()))?;
    let entry = zip.by_index(index).map_err(|e| cannot(e.to_string()))?;
    let (size, packed) = (entry.size(), entry.compressed_size().max(1));
    drop(entry);
    let display = PathBuf::from(format!("{}!{}", path.display(), member));
    let member = Box::new(stream_member(zip, index));
    let reader = Meter::new(member, &display, limits, Packed::Fixed(packed));
    Ok((reader, display, size))
}

/// Reads entry `index` on a thread of its own, 64 KiB at a time, through a short channel.
fn stream_member(mut zip: zip::ZipArchive<BufReader<File>>, index: usize) -> Member {
    let (tx, rx) = sync_channel(4);
    std::thread::spawn(move || {
        let mut entry = match zip.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e)));
                return;
            }
        };
        loop {
            let mut buf = vec![0u8; 1 << 16];
            let sent = match entry.read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    let end = n == 0;
                    tx.send(Ok(buf)).is_ok() && !end
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    false
                }
            };
            if !sent {
                return;
            }
        }
    });
    Member {
        rx,
        chunk: Vec::new(),
        pos: 0,
        done: false,
    }
}

/// The member matching `pattern` (a glob on the name or its last part; default `*.csv`).
fn pick_member(names: &[String], pattern: Option<&str>) -> std::result::Result<String, String> {
    let pat = pattern.unwrap_or("*.csv");
    let glob = glob::Pattern::new(pat).map_err(|e| format!("bad member pattern {pat:?}: {e}"))?;
    let opts = glob::MatchOptions {
        case_sensitive: false,
        ..Default::default()
    };
    let mut hits: Vec<&String> = names
        .iter()
        .filter(|n| {
            let base = n.rsplit('/').next().unwrap_or(n);
            glob.matches_with(base, opts) || glob.matches_with(n, opts)
        })
        .collect();
    hits.sort();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "no member matches {pat:?}; the archive holds: {}",
            names.join(", ")
        )),
        many => Err(format!(
            "several members match {pat:?} ({}): name one in the pipeline's input.member",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether the central directory (at `start`) names `member` more than once. The zip reader
/// keeps one entry per name, so the directory is walked here: 46-byte headers, then the name,
/// extra field and comment.
fn duplicated(path: &Path, start: u64, member: &str) -> bool {
    let Ok(mut f) = File::open(path) else {
        return true;
    };
    if f.seek(SeekFrom::Start(start)).is_err() {
        return true;
    }
    let mut dir = Vec::new();
    if f.take(64 << 20).read_to_end(&mut dir).is_err() {
        return true;
    }
    let (mut at, mut seen) = (0usize, 0);
    while dir.get(at..at + 4) == Some(&[0x50, 0x4b, 0x01, 0x02]) {
        let u16_at = |i: usize| {
            dir.get(i..i + 2)
                .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
        };
        let (n, x, c) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let name = dir.get(at + 46..at + 46 + usize::from(n)).unwrap_or(&[]);
        seen += usize::from(name == member.as_bytes());
        at += 46 + usize::from(n) + usize::from(x) + usize::from(c);
    }
    seen != 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(limits: Limits) -> Meter {
        Meter::new(
            Box::new(io::empty()),
            Path::new("f.csv"),
            &limits,
            Packed::Plain,
        )
    }

    #[test]
    fn a_long_line_is_named_with_its_number_across_chunks() {
        let mut m = meter(Limits {
            max_line_bytes: 10,
            ..Limits::default()
        });
        m.check(b"a,b\nccccc").expect("short lines");
        m.check(b"ccc\ndd").expect("still short");
        let hit = m.check(b"ddddddddd\n").expect_err("line 3 is 15 bytes");
        assert_eq!((hit.key, hit.at.as_str()), ("max_line_bytes", ":3"));
    }

    #[test]
    fn a_long_line_inside_one_chunk_is_named_with_its_number() {
        let limits = Limits {
            max_line_bytes: 10,
            ..Limits::default()
        };
        // Lines 2–5 lie between the chunk's first and last break; line 4 has 11 bytes.
        let mut m = meter(limits);
        m.check(b"a\nbb\n0123456789\n01234567890\nc\n")
            .map(|()| panic!("line 4 is too long"))
            .unwrap_or_else(|hit| assert_eq!(hit.at.as_str(), ":4"));
        // Exactly at the bound everywhere: no hit, and the line count goes on.
        let mut m = meter(limits);
        m.check(b"0123456789\n0123456789\n0123456789\n0123456789\nx")
            .expect("at the bound");
        let hit = m.check(b"yyyyyyyyyy\n").expect_err("line 5 has 11 bytes");
        assert_eq!(hit.at.as_str(), ":5");
    }

    #[test]
    fn the_input_bound_counts_decompressed_bytes() {
        let mut m = meter(Limits {
            max_input_mb: 1,
            ..Limits::default()
        });
        m.check(&vec![b'\n'; 999_999]).expect("under a MB");
        assert_eq!(m.check(b"\n\n").expect_err("over").key, "max_input_mb");
    }
}
