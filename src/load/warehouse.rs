//! The warehouse folder: tables as folders, files staged under `.staging/<RUN_ID>/` and renamed
//! into place only when the whole run has succeeded. A file a run replaces is kept (hard-linked)
//! under `.rollback/<RUN_ID>/` so that `migstat rollback RUN_ID` can restore it.
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use serde::Serialize;

use super::parquet::{encode, existing_hash, write, FileMeta};
use crate::error::{MigError, Result};

pub struct Warehouse {
    pub root: PathBuf,
}

/// Files written for one run, not yet visible to readers.
pub struct Staged {
    root: PathBuf,
    dir: PathBuf,
    run_id: String,
    /// (relative path in the warehouse, staged file).
    files: Vec<(PathBuf, PathBuf)>,
    /// Files whose content equals what is already published.
    unchanged: Vec<PathBuf>,
}

/// What publishing did, relative to the warehouse root.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    pub unchanged: Vec<String>,
}

impl Warehouse {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Warehouse { root: root.into() }
    }

    pub fn stage(&self, run_id: &str) -> Result<Staged> {
        let dir = self.root.join(".staging").join(run_id);
        // Pipelines of a batch stage side by side, and each removes `.staging/` when it is left
        // empty: a removal between creating `.staging/` and `.staging/<RUN_ID>/` is retried.
        let mut made = std::fs::create_dir_all(&dir);
        for _ in 0..8 {
            match &made {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    made = std::fs::create_dir_all(&dir);
                }
                _ => break,
            }
        }
        made.map_err(|e| MigError::io(&dir, e))?;
        Ok(Staged {
            root: self.root.clone(),
            dir,
            run_id: run_id.to_string(),
            files: Vec::new(),
            unchanged: Vec::new(),
        })
    }

    /// `runs/<RUN_ID>/` (created).
    pub fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        let d = self.root.join("runs").join(run_id);
        std::fs::create_dir_all(&d).map_err(|e| MigError::io(&d, e))?;
        Ok(d)
    }

    /// Removes staging folders left by killed runs (call while holding the lock).
    pub fn clean_staging(&self) {
        let _ = std::fs::remove_dir_all(self.root.join(".staging"));
    }
}

impl Staged {
    /// Stages a Parquet file for `rel`, unless the published file already holds the same data.
    pub fn parquet(&mut self, rel: &Path, batch: &RecordBatch, meta: &FileMeta) -> Result<()> {
        let enc = encode(batch, meta)?;
        if existing_hash(&self.root.join(rel)).as_deref() == Some(enc.content_hash().as_str()) {
            self.unchanged.push(rel.to_path_buf());
            return Ok(());
        }
        let tmp = self.dir.join(format!("{:05}.parquet", self.files.len()));
        write(&tmp, &enc)?;
        self.files.push((rel.to_path_buf(), tmp));
        Ok(())
    }

    /// Stages any other file (quarantine CSVs, catalog files) through the same path.
    pub fn bytes(&mut self, rel: &Path, data: &[u8]) -> Result<()> {
        let tmp = self.dir.join(format!("{:05}.dat", self.files.len()));
        std::fs::write(&tmp, data).map_err(|e| MigError::io(&tmp, e))?;
        self.files.push((rel.to_path_buf(), tmp));
        Ok(())
    }

    /// Renames every staged file into place (each rename is atomic), keeping a link to each file
    /// it replaces under `.rollback/<RUN_ID>/`, and removes the staging folder.
    pub fn publish(self) -> Result<Published> {
        let mut out = Published {
            unchanged: self
                .unchanged
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            ..Default::default()
        };
        let keep = self.root.join(".rollback").join(&self.run_id);
        for (rel, tmp) in &self.files {
            let dest = self.root.join(rel);
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d).map_err(|e| MigError::io(d, e))?;
            }
            if dest.is_file() {
                let copy = keep.join(rel);
                if let Some(d) = copy.parent() {
                    std::fs::create_dir_all(d).map_err(|e| MigError::io(d, e))?;
                }
                if std::fs::hard_link(&dest, &copy).is_err() {
                    std::fs::copy(&dest, &copy).map_err(|e| MigError::io(&copy, e))?;
                }
                out.replaced.push(rel.display().to_string());
            } else {
                out.added.push(rel.display().to_string());
            }
            std::fs::rename(tmp, &dest).map_err(|e| MigError::io(&dest, e))?;
        }
        self.abandon();
        Ok(out)
    }

    /// Drops everything staged; the warehouse is untouched.
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
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
}
