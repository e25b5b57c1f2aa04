//! The warehouse folder and what one transaction stages for it. Tables are plain folders of
//! Parquet files; migstat's own state lives in `.migstat/` (lock, journal, staging, rollback
//! copies), whose files never end in `.parquet`, so no reader's `**/*.parquet` glob sees them.
//!
//! A `Staged` collects every file a run (or a rollback) will publish — in the warehouse and in a
//! separate microdata folder — written and fsynced under `.migstat/staging/<TXN>/`; `commit.rs`
//! makes them visible together.
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use arrow_array::RecordBatch;
use serde::Serialize;

use super::lock::state_dir;
use super::parquet::{encode, same_data, write, FileMeta};
use crate::error::{MigError, Result};

/// What publishing did: paths relative to the warehouse, absolute for another root.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
}

/// One root a transaction writes under: the warehouse (area 0) or a microdata folder.
#[derive(Debug)]
pub(crate) struct Area {
    pub root: PathBuf,
    /// `<root>/.migstat/staging/<TXN>/`.
    pub dir: PathBuf,
}

/// A file to publish (`tmp` staged) or to remove (`tmp` none).
#[derive(Debug)]
pub(crate) struct Change {
    pub area: usize,
    pub rel: PathBuf,
    pub tmp: Option<PathBuf>,
}

/// Files written for one transaction, not yet visible to readers.
#[derive(Debug)]
pub struct Staged {
    pub(crate) id: String,
    pub(crate) areas: Vec<Area>,
    pub(crate) changes: Vec<Change>,
    pub(crate) unchanged: Vec<(usize, PathBuf)>,
    /// Whether the files a commit replaces are kept for `rollback` (runs) or dropped (rollbacks).
    pub(crate) keep_backups: bool,
    targets: BTreeSet<(usize, PathBuf)>,
    next: usize,
}

/// The warehouse area of a `Staged`.
pub const WAREHOUSE: usize = 0;

impl Staged {
    /// Starts a transaction `id` on warehouse `root`.
    pub fn new(root: &Path, id: &str) -> Result<Staged> {
        let mut s = Staged {
            id: id.to_string(),
            areas: Vec::new(),
            changes: Vec::new(),
            unchanged: Vec::new(),
            keep_backups: true,
            targets: BTreeSet::new(),
            next: 0,
        };
        s.add_root(root)?;
        Ok(s)
    }

    /// Adds another root (a `--microdata-dir`); returns its area number.
    pub fn add_root(&mut self, root: &Path) -> Result<usize> {
        let dir = state_dir(root).join("staging").join(&self.id);
        std::fs::create_dir_all(&dir).map_err(|e| MigError::io(&dir, e))?;
        self.areas.push(Area {
            root: root.to_path_buf(),
            dir,
        });
        Ok(self.areas.len() - 1)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn root(&self, area: usize) -> &Path {
        &self.areas[area].root
    }

    /// Replaced files are not kept for a later rollback.
    pub fn drop_backups(&mut self) {
        self.keep_backups = false;
    }

    /// A scratch folder inside the staging area, removed with it (reports are written there,
    /// then adopted).
    pub fn scratch(&self, name: &str) -> Result<PathBuf> {
        let d = self.areas[WAREHOUSE].dir.join(format!("scratch-{name}"));
        std::fs::create_dir_all(&d).map_err(|e| MigError::io(&d, e))?;
        Ok(d)
    }

    fn claim(&mut self, area: usize, rel: &Path) -> Result<PathBuf> {
        check_rel(rel)?;
        if !self.targets.insert((area, rel.to_path_buf())) {
            return Err(MigError::Other(format!(
                "two outputs of transaction {} would be written to the same file {}",
                self.id,
                self.shown(area, rel)
            )));
        }
        self.next += 1;
        Ok(self.areas[area].dir.join(format!("{:05}.stage", self.next)))
    }

    /// Stages a Parquet file for `rel` in the warehouse.
    pub fn parquet(&mut self, rel: &Path, batch: &RecordBatch, meta: &FileMeta) -> Result<()> {
        self.parquet_in(WAREHOUSE, rel, batch, meta)
    }

    /// Stages a Parquet file, unless the published file already holds the same data.
    pub fn parquet_in(
        &mut self,
        area: usize,
        rel: &Path,
        batch: &RecordBatch,
        meta: &FileMeta,
    ) -> Result<()> {
        let tmp = self.claim(area, rel)?;
        let enc = encode(batch, meta)?;
        let dest = self.areas[area].root.join(rel);
        if enc.same_data_as(&dest) {
            self.unchanged.push((area, rel.to_path_buf()));
            return Ok(());
        }
        super::failpoint::hit("stage.write").map_err(|e| MigError::io(&tmp, e))?;
        write(&tmp, &enc)?;
        self.staged(area, rel, tmp, true)
    }

    /// Starts a Parquet file for `rel` that batches are pushed into as they come; it is staged
    /// by [`Staged::parquet_done`], or left out by [`StagedParquet::discard`].
    pub fn parquet_writer(
        &mut self,
        area: usize,
        rel: &Path,
        schema: arrow_schema::SchemaRef,
        meta: &FileMeta,
    ) -> Result<StagedParquet> {
        let tmp = self.claim(area, rel)?;
        super::failpoint::hit("stage.write").map_err(|e| MigError::io(&tmp, e))?;
        let writer = super::parquet::BatchWriter::create(&tmp, schema, meta)?;
        Ok(StagedParquet {
            area,
            rel: rel.to_path_buf(),
            tmp,
            writer,
        })
    }

    /// Ends a file of [`Staged::parquet_writer`] and stages it, unless the published file
    /// already holds the same data.
    pub fn parquet_done(&mut self, w: StagedParquet) -> Result<()> {
        let StagedParquet {
            area,
            rel,
            tmp,
            writer,
        } = w;
        writer.finish()?;
        let dest = self.areas[area].root.join(&rel);
        if same_data(&dest, &tmp) {
            std::fs::remove_file(&tmp).map_err(|e| MigError::io(&tmp, e))?;
            self.unchanged.push((area, rel));
            return Ok(());
        }
        self.staged(area, &rel, tmp, false)
    }

    /// Records a staged file (fsynced first, unless it is a link to a durable file).
    fn staged(&mut self, area: usize, rel: &Path, tmp: PathBuf, sync: bool) -> Result<()> {
        if sync {
            sync_file(&tmp)?;
        }
        self.changes.push(Change {
            area,
            rel: rel.to_path_buf(),
            tmp: Some(tmp),
        });
        Ok(())
    }

    /// Stages any other file (quarantine CSVs, reports) in the warehouse.
    pub fn bytes(&mut self, rel: &Path, data: &[u8]) -> Result<()> {
        let tmp = self.claim(WAREHOUSE, rel)?;
        super::failpoint::hit("stage.write").map_err(|e| MigError::io(&tmp, e))?;
        std::fs::write(&tmp, data).map_err(|e| MigError::io(&tmp, e))?;
        self.staged(WAREHOUSE, rel, tmp, true)
    }

    /// Stages every file of folder `dir` (e.g. reports written to a scratch folder) under `rel`.
    pub fn adopt(&mut self, rel: &Path, dir: &Path) -> Result<()> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| MigError::io(dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap_or_default();
            let tmp = self.claim(WAREHOUSE, &rel.join(name))?;
            std::fs::rename(&p, &tmp).map_err(|e| MigError::io(&tmp, e))?;
            self.staged(WAREHOUSE, &rel.join(name), tmp, true)?;
        }
        Ok(())
    }

    /// Stages an existing file's bytes (a rollback copy) for `rel`, by hard link where it can.
    pub fn link(&mut self, area: usize, rel: &Path, from: &Path) -> Result<()> {
        let tmp = self.claim(area, rel)?;
        let linked = std::fs::hard_link(from, &tmp).is_ok();
        if !linked {
            std::fs::copy(from, &tmp).map_err(|e| MigError::io(&tmp, e))?;
        }
        self.staged(area, rel, tmp, !linked)
    }

    /// Removes `rel` when the transaction commits.
    pub fn delete(&mut self, area: usize, rel: &Path) -> Result<()> {
        self.claim(area, rel)?;
        self.changes.push(Change {
            area,
            rel: rel.to_path_buf(),
            tmp: None,
        });
        Ok(())
    }

    /// How a path of this transaction is reported: relative in the warehouse, absolute elsewhere.
    pub fn shown(&self, area: usize, rel: &Path) -> String {
        match area {
            WAREHOUSE => rel.display().to_string(),
            a => self.areas[a].root.join(rel).display().to_string(),
        }
    }

    /// Drops everything staged; the warehouse is untouched.
    pub fn abandon(self) {
        for a in &self.areas {
            let _ = std::fs::remove_dir_all(&a.dir);
        }
    }
}

/// A Parquet file being written into the staging area (see [`Staged::parquet_writer`]).
pub struct StagedParquet {
    area: usize,
    rel: PathBuf,
    tmp: PathBuf,
    writer: super::parquet::BatchWriter,
}

impl StagedParquet {
    /// Appends the rows of `batch`.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.push(batch)
    }

    /// Leaves the file out of the transaction (a rejected run stages no data).
    pub fn discard(self) {
        drop(self.writer);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Refuses a path that could land outside its table: absolute, `..`, `.`, a hidden component,
/// or characters outside `[A-Za-z0-9_.-]`.
pub fn check_rel(rel: &Path) -> Result<()> {
    let bad = |why: &str| {
        MigError::Other(format!(
            "refusing to write {:?}: {why} (names that become paths may hold only letters, \
             digits, '_', '.' and '-')",
            crate::error::cut(&rel.to_string_lossy(), 200)
        ))
    };
    if rel.as_os_str().is_empty() {
        return Err(bad("empty path"));
    }
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(bad("not a plain relative path"));
        };
        let name = name.to_string_lossy();
        if !is_safe_name(&name) {
            return Err(bad(&format!(
                "component {:?}",
                crate::error::cut(&name, 60)
            )));
        }
    }
    Ok(())
}

/// A name that may be a path component: `[A-Za-z0-9_.-]`, 1–200 bytes, not starting with `.`.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A file stem made safe as a path component: characters outside `[A-Za-z0-9_.-]` become `_`,
/// leading dots go, at most 120 bytes; `input` when nothing is left.
pub fn safe_stem(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                true => c,
                false => '_',
            },
        )
        .take(120)
        .collect();
    let s = s.trim_start_matches('.');
    match s.is_empty() {
        true => "input".into(),
        false => s.to_string(),
    }
}

/// fsyncs a file's data.
pub(crate) fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| MigError::io(path, e))
}

/// `20261126T172300Z` for a UNIX time in seconds.
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The current UTC time as `utc_stamp` writes it.
pub fn now_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    utc_stamp(now.as_secs())
}

/// Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_795_713_780), "20261126T172300Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn names_that_could_escape_are_refused() {
        for bad in [
            "observations/FRA/../../x.parquet",
            "/tmp/x.parquet",
            "observations/SY_../../../../tmp/x.parquet",
            "observations/.hidden/x.parquet",
            "observations/a b/x.parquet",
            "",
        ] {
            assert!(check_rel(Path::new(bad)).is_err(), "{bad}");
        }
        assert!(check_rel(Path::new("observations/CAN/2024M01/BA_CAN_LFS.parquet")).is_ok());
    }
}
