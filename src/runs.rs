//! Run manifests and lineage: what each run read (size, sha256), wrote, replaced and concluded;
//! the listing behind `migstat runs`, the fingerprints behind incremental skips, `rollback` and
//! `gc`.
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{MigError, Result};
use crate::load::lock::Lock;
use crate::load::warehouse::Published;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InputFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub run_id: String,
    pub started: String,
    pub finished: String,
    pub migstat_version: String,
    pub pipeline_id: String,
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub schema_hash: String,
    pub fingerprint: String,
    pub inputs: Vec<InputFile>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    #[serde(default)]
    pub files_added: Vec<String>,
    #[serde(default)]
    pub files_replaced: Vec<String>,
    #[serde(default)]
    pub files_unchanged: Vec<String>,
    /// Per input: rows read/loaded/quarantined, errors, warnings.
    #[serde(default)]
    pub validation: serde_json::Value,
    /// `ok`, `rejected` (validation errors), `failed`, `rolled back`.
    pub status: String,
    pub exit_code: i32,
}

impl Manifest {
    pub fn set_published(&mut self, p: &Published) {
        self.files_added = p.added.clone();
        self.files_replaced = p.replaced.clone();
        self.files_unchanged = p.unchanged.clone();
    }

    pub fn write(&self, run_dir: &Path) -> Result<()> {
        let path = run_dir.join("manifest.json");
        let body = serde_json::to_vec_pretty(self).map_err(|e| MigError::Other(e.to_string()))?;
        std::fs::write(&path, body).map_err(|e| MigError::io(&path, e))
    }
}

/// sha256 and size of a file, streamed.
pub fn hash_file(path: &Path) -> Result<InputFile> {
    let mut f = std::fs::File::open(path).map_err(|e| MigError::Unreadable {
        path: path.to_path_buf(),
        msg: format!("cannot open: {e}"),
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| MigError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok(InputFile {
        path: path.display().to_string(),
        size,
        sha256: hex(&h.finalize()),
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What decides whether a pipeline must run again.
pub fn fingerprint(pipeline_sha: &str, schema_hash: &str, inputs: &[InputFile]) -> String {
    let mut parts = vec![
        crate::VERSION.to_string(),
        pipeline_sha.to_string(),
        schema_hash.to_string(),
    ];
    parts.extend(inputs.iter().map(|i| i.sha256.clone()));
    sha256_hex(parts.join("\n").as_bytes())
}

/// All manifests of a warehouse, oldest first.
pub fn list(root: &Path) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = std::fs::read_dir(root.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("manifest.json")).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    out
}

/// The last successful run of `pipeline_id` with this fingerprint whose files are all still there.
pub fn unchanged_since(root: &Path, pipeline_id: &str, fingerprint: &str) -> Option<Manifest> {
    list(root)
        .into_iter()
        .rev()
        .find(|m| m.pipeline_id == pipeline_id && m.status != "rejected" && m.status != "failed")
        .filter(|m| m.status == "ok" && m.fingerprint == fingerprint)
        .filter(|m| {
            m.files_added
                .iter()
                .chain(&m.files_replaced)
                .chain(&m.files_unchanged)
                .all(|f| root.join(f).is_file())
        })
}

/// Restores what run `run_id` replaced and removes what it added.
pub fn rollback(root: &Path, run_id: &str, log: &mut dyn std::io::Write) -> Result<()> {
    let _lock = Lock::acquire(root, &format!("migstat rollback {run_id}"), false)?;
    let run_dir = root.join("runs").join(run_id);
    let text = std::fs::read_to_string(run_dir.join("manifest.json")).map_err(|e| {
        MigError::Unreadable {
            path: run_dir.join("manifest.json"),
            msg: format!("no such run: {e}"),
        }
    })?;
    let mut m: Manifest = serde_json::from_str(&text)
        .map_err(|e| MigError::Other(format!("manifest of {run_id}: {e}")))?;
    if m.status != "ok" {
        return Err(MigError::Other(format!(
            "run {run_id} has status {:?}: nothing to roll back",
            m.status
        )));
    }
    let keep = root.join(".rollback").join(run_id);
    // Microdata sent elsewhere (`--microdata-dir`, absolute paths) keep their own copies.
    for f in m
        .files_replaced
        .iter()
        .filter(|f| !Path::new(f).is_absolute())
    {
        if !keep.join(f).is_file() {
            return Err(MigError::Other(format!(
                "the previous version of {f} is no longer kept (pruned by gc): cannot roll back {run_id}"
            )));
        }
    }
    for f in m
        .files_replaced
        .iter()
        .filter(|f| !Path::new(f).is_absolute())
    {
        std::fs::rename(keep.join(f), root.join(f)).map_err(|e| MigError::io(root.join(f), e))?;
        let _ = writeln!(log, "restored {f}");
    }
    for f in &m.files_added {
        let _ = std::fs::remove_file(root.join(f));
        let _ = writeln!(log, "removed {f}");
    }
    let _ = std::fs::remove_dir_all(&keep);
    m.status = "rolled back".into();
    m.write(&run_dir)
}

/// Keeps the rollback copies of the newest `keep` runs only.
pub fn prune_rollback(root: &Path, keep: usize) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(".rollback"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let n = dirs.len().saturating_sub(keep);
    for d in dirs.into_iter().take(n) {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Removes run folders, rollback copies and quarantine folders of runs older than `days`.
pub fn gc(root: &Path, days: u64, log: &mut dyn std::io::Write) -> Result<usize> {
    let _lock = Lock::acquire(root, "migstat gc", false)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let cutoff = crate::load::warehouse::utc_stamp(now.saturating_sub(days * 86_400));
    let mut removed = 0;
    for table in ["runs", ".rollback", "quarantine"] {
        for e in std::fs::read_dir(root.join(table))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().to_string();
            if name.len() >= 16 && name[..16] < cutoff[..] {
                let _ = std::fs::remove_dir_all(e.path());
                let _ = writeln!(log, "removed {table}/{name}");
                removed += 1;
            }
        }
    }
    // Downloads: by modification time, in the download cache (`MIGSTAT_CACHE_DIR` or the user's).
    let limit = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    let cache = crate::extract::cache::default_dir();
    for e in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < limit);
        if old {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            let _ = writeln!(log, "removed download {}", p.display());
            removed += 1;
        }
    }
    Ok(removed)
}
