//! The store of uploads: `UPLOADS/<ID>/` per upload, made by the server and never reused, with
//! the file under a name the server chooses (`input.<ext>`), its validation reports and
//! `record.json` (country, token id, time, original name, size, SHA-256, pipeline, status, and
//! later the acceptance and the run's outcome). Records change under an OS lock on
//! `UPLOADS/.records.lock`, shared with `migstat run --inbox`, and are rewritten atomically.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{MigError, Result};

/// What validation said of an upload (`received` until a worker has checked it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Loadable,
    Errors,
    Unreadable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Loadable => "loadable",
            Status::Errors => "errors",
            Status::Unreadable => "unreadable",
        }
    }
}

/// Who accepted an upload for processing, and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub time: String,
    pub token_id: String,
}

/// The outcome of `migstat run --inbox` for an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: Option<String>,
    /// `ok`, `skipped` (unchanged since that run) or `failed`.
    pub status: String,
    pub exit_code: i32,
    pub finished: String,
    pub warehouse: String,
    pub error: Option<String>,
    /// Runs tried so far (a failure that may pass on a later night, such as a full disk, is
    /// tried again by the next `run --inbox`, up to `inbox::ATTEMPTS` times).
    #[serde(default = "one")]
    pub attempts: u32,
}

fn one() -> u32 {
    1
}

impl RunRecord {
    /// Whether the next `run --inbox` runs the upload again: its run failed for a reason the
    /// data do not decide (not exit 1, "rejected by its validation"), fewer than `ATTEMPTS`
    /// times.
    pub fn retry_due(&self) -> bool {
        self.status == "failed" && self.exit_code != 1 && self.attempts < super::inbox::ATTEMPTS
    }
}

/// `record.json` of one upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub country: String,
    pub token_id: String,
    pub received: String,
    /// The client's file name, as sent; never used as a path.
    pub original_name: String,
    pub size: u64,
    pub sha256: String,
    pub pipeline: String,
    pub pipeline_file: String,
    /// The stored file, inside the upload's folder.
    pub file: String,
    pub status: Status,
    pub summary: serde_json::Value,
    pub validated: Option<String>,
    pub accepted: Option<Accepted>,
    pub run: Option<RunRecord>,
}

/// The uploads folder.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        std::fs::create_dir_all(root).map_err(|e| MigError::io(root, e))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// A new, empty upload folder.
    pub fn create(&self) -> Result<(String, PathBuf)> {
        loop {
            // The UTC second, its microseconds and a random part: ids sort by time.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let id = format!(
                "{}-{:06}{}",
                crate::load::warehouse::utc_stamp(now.as_secs()),
                now.subsec_micros(),
                super::tokens::random_hex(3)?
            );
            let dir = self.root.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok((id, dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(MigError::io(&dir, e)),
            }
        }
    }

    /// The folder of upload `id`, when `id` is one the server made.
    pub fn dir(&self, id: &str) -> Option<PathBuf> {
        let ok = !id.is_empty()
            && id.len() <= 40
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| self.root.join(id)).filter(|d| d.is_dir())
    }

    pub fn get(&self, id: &str) -> Option<Record> {
        let text = std::fs::read_to_string(self.dir(id)?.join("record.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn put(&self, r: &Record) -> Result<()> {
        let body = serde_json::to_string_pretty(r).unwrap_or_default() + "\n";
        write_atomic(&self.root.join(&r.id).join("record.json"), body.as_bytes())
    }

    /// Changes a record under the records lock; returns it as written (`None`: no such upload).
    pub fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut Record) -> Result<()>,
    ) -> Result<Option<Record>> {
        let _lock = self.lock()?;
        let Some(mut r) = self.get(id) else {
            return Ok(None);
        };
        change(&mut r)?;
        self.put(&r)?;
        Ok(Some(r))
    }

    /// Every record, newest first.
    pub fn all(&self) -> Vec<Record> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.iter().filter_map(|id| self.get(id)).collect()
    }

    /// Holds the records lock until dropped.
    pub fn lock(&self) -> Result<File> {
        let path = self.root.join(".records.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| MigError::io(&path, e))?;
        f.lock().map_err(|e| MigError::io(&path, e))?;
        Ok(f)
    }
}

/// The stored file's name: `input` plus the client's extension(s) when they are short and plain
/// (`.csv`, `.csv.gz`, `.sav`), which the readers go by; nothing else of the client's name.
pub fn stored_name(original: &str) -> String {
    let base = original.rsplit(['/', '\\']).next().unwrap_or("");
    let parts: Vec<&str> = base.split('.').skip(1).collect();
    let plain =
        |e: &str| !e.is_empty() && e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric());
    let kept: Vec<String> = parts
        .iter()
        .rev()
        .take(2)
        .take_while(|e| plain(e))
        .map(|e| e.to_ascii_lowercase())
        .collect();
    let mut name = String::from("input");
    for e in kept.iter().rev() {
        name.push('.');
        name.push_str(e);
    }
    name
}

/// Writes `path` whole or not at all: a temporary file beside it, synced, renamed over it.
pub fn write_atomic(path: &Path, body: &[u8]) -> Result<()> {
    write_mode(path, body, 0o644)
}

/// `write_atomic` for a file only its owner may read.
pub fn write_private(path: &Path, body: &[u8]) -> Result<()> {
    write_mode(path, body, 0o600)
}

fn write_mode(path: &Path, body: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| MigError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", super::tokens::random_hex(4)?));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| MigError::io(&tmp, e))?;
    f.write_all(body)
        .and_then(|()| f.sync_all())
        .map_err(|e| MigError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        MigError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::stored_name;

    #[test]
    fn stored_names_keep_only_plain_extensions() {
        assert_eq!(stored_name("../../x.csv"), "input.csv");
        assert_eq!(stored_name("lfs 2024.csv.gz"), "input.csv.gz");
        assert_eq!(stored_name("C:\\a\\b.SAV"), "input.sav");
        assert_eq!(stored_name("noext"), "input");
        assert_eq!(stored_name("x.c/sv"), "input");
        assert_eq!(stored_name(".."), "input");
    }
}
