//! The download cache: one file per URL plus a small JSON record of what the server said about
//! it (ETag, Last-Modified) and what we got (size, SHA-256). A record counts only while it names
//! the same URL and the file on disk still has the recorded size; otherwise the next fetch
//! downloads the whole file again. Records and files are replaced by rename, never rewritten in
//! place, so an interrupted run leaves the previous copy or none.
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{MigError, Result};

/// What is known about a cached download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Hex SHA-256 of the file as downloaded.
    pub sha256: String,
    pub size: u64,
}

/// The default cache folder: `$MIGSTAT_CACHE_DIR`, else `$XDG_CACHE_HOME/migstat`, else
/// `$HOME/.cache/migstat`, else `.migstat-cache` in the working directory.
pub fn default_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("MIGSTAT_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("migstat");
    }
    match var("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("migstat"),
        None => PathBuf::from(".migstat-cache"),
    }
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a file's contents.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| MigError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| MigError::io(path, e))?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The cache's name stem for a URL: 16 hex digits of its SHA-256.
fn key(url: &str) -> String {
    sha256_hex(url.as_bytes())[..16].to_string()
}

/// Where a URL's file is kept in `dir`: the key, then the URL's last path segment (so that
/// extensions such as `.zip` or `.gz` still tell the readers what they open).
pub fn body_path(dir: &Path, url: &str) -> PathBuf {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let name: String = path
        .rsplit('/')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if name.trim_matches('.').is_empty() {
        "download".to_string()
    } else {
        name
    };
    dir.join(format!("{}-{name}", key(url)))
}

/// Where the record of a URL's download is kept in `dir`.
pub fn record_path(dir: &Path, url: &str) -> PathBuf {
    dir.join(format!("{}.json", key(url)))
}

/// The record for `url` if it is still good for `file`: same URL, file present, same size.
pub fn load(record: &Path, url: &str, file: &Path) -> Option<Entry> {
    let text = std::fs::read_to_string(record).ok()?;
    let entry: Entry = serde_json::from_str(&text).ok()?;
    let size = std::fs::metadata(file).ok()?.len();
    (entry.url == url && entry.size == size).then_some(entry)
}

/// Writes the record (to a temporary name, then renamed over the old one).
pub fn store(record: &Path, entry: &Entry) -> Result<()> {
    let tmp = record.with_extension(format!("json.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(entry)
        .map_err(|e| MigError::Other(format!("cache record: {e}")))?;
    std::fs::write(&tmp, text).map_err(|e| MigError::io(&tmp, e))?;
    std::fs::rename(&tmp, record).map_err(|e| MigError::io(record, e))
}

/// Forgets a record (before its file is replaced).
pub fn forget(record: &Path) -> Result<()> {
    match std::fs::remove_file(record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(MigError::io(record, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_names_keep_the_extension() {
        let d = Path::new("/c");
        let p = body_path(d, "https://example.org/lfs/2024 q1.sav?token=1");
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(name.ends_with("-2024_q1.sav"), "{name}");
        assert_eq!(name.len(), 16 + "-2024_q1.sav".len());
        let p = body_path(d, "https://example.org/");
        assert!(p.to_string_lossy().ends_with("-download"));
        assert_ne!(
            body_path(d, "https://a.org/x.csv"),
            body_path(d, "https://b.org/x.csv")
        );
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
