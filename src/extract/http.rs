//! Fetching an input over HTTP(S) before it is read: a timeout on connecting and on every read,
//! retries with doubling waits on network errors and on 408, 429 and 5xx answers, an optional
//! SHA-256 the file must have, and a conditional request (`If-None-Match`,
//! `If-Modified-Since`) when the cache holds a copy, so that an unchanged file is not downloaded
//! again. A download goes to a temporary file that is checked, then renamed into place: a failed
//! or mismatching download leaves the cache as it was.
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{
    HeaderMap, HeaderName, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use super::cache::{self, Entry};
use crate::error::{MigError, Result};

/// What to fetch and how.
#[derive(Debug, Clone)]
pub struct FetchSpec<'a> {
    pub url: &'a str,
    pub expected_sha256: Option<&'a str>,
    /// For connecting, for the response headers, and for each read of the body.
    pub timeout: Duration,
    /// Further attempts after the first.
    pub retries: u32,
    pub cache_dir: PathBuf,
    /// Where the file is kept; default: in `cache_dir`, named after the URL.
    pub target: Option<PathBuf>,
}

/// Why one attempt failed: worth another try, or not.
enum Failure {
    Retry(String),
    Fatal(String),
}

/// Fetches `spec.url` unless the cached copy is current; returns the local file.
pub fn fetch(spec: &FetchSpec) -> Result<PathBuf> {
    let fail = |msg: String| MigError::Unreadable {
        path: PathBuf::from(spec.url),
        msg,
    };
    let target = spec
        .target
        .clone()
        .unwrap_or_else(|| cache::body_path(&spec.cache_dir, spec.url));
    let record = cache::record_path(&spec.cache_dir, spec.url);
    for dir in [Some(spec.cache_dir.as_path()), target.parent()]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir).map_err(|e| MigError::io(dir, e))?;
    }
    let cached = cache::load(&record, spec.url, &target).filter(|c| {
        spec.expected_sha256
            .is_none_or(|want| c.sha256.eq_ignore_ascii_case(want))
    });
    let client = Client::builder()
        .timeout(spec.timeout)
        .connect_timeout(spec.timeout)
        .user_agent(concat!("migstat/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(format!("cannot start the HTTP client: {e}")))?;
    let mut attempt = 0;
    loop {
        match try_once(&client, spec, cached.as_ref(), &target) {
            Ok(None) => return Ok(target),
            Ok(Some(entry)) => {
                cache::store(&record, &entry)?;
                return Ok(target);
            }
            Err(Failure::Retry(_)) if attempt < spec.retries => {
                std::thread::sleep(backoff(attempt));
                attempt += 1;
            }
            Err(Failure::Retry(msg)) => {
                return Err(fail(format!(
                    "download failed after {} attempts: {msg}",
                    attempt + 1
                )))
            }
            Err(Failure::Fatal(msg)) => return Err(fail(format!("download failed: {msg}"))),
        }
    }
}

/// Wait before retry `attempt` (0-based): 0.5 s, 1 s, 2 s, … at most 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(6)).min(30_000))
}

/// One request. `Ok(None)`: the cached copy is current; `Ok(Some)`: a new copy is in place.
fn try_once(
    client: &Client,
    spec: &FetchSpec,
    cached: Option<&Entry>,
    target: &Path,
) -> std::result::Result<Option<Entry>, Failure> {
    let mut req = client.get(spec.url);
    if let Some(c) = cached {
        if let Some(etag) = &c.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &c.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
    }
    let resp = req.send().map_err(|e| network(&e, spec.timeout))?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED && cached.is_some() {
        return Ok(None);
    }
    if !status.is_success() {
        let msg = format!("the server answered HTTP {status}");
        let transient = status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS;
        return Err(if transient {
            Failure::Retry(msg)
        } else {
            Failure::Fatal(msg)
        });
    }
    download(resp, spec, target).map(Some)
}

fn network(e: &reqwest::Error, timeout: Duration) -> Failure {
    if e.is_builder() {
        return Failure::Fatal(format!("invalid request: {e}"));
    }
    if e.is_timeout() {
        return Failure::Retry(format!(
            "no answer within {} s (timeout_secs)",
            timeout.as_secs()
        ));
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    Failure::Retry(msg)
}

/// Streams the body to a temporary file beside `target`, checks it, and renames it into place.
fn download(
    mut resp: Response,
    spec: &FetchSpec,
    target: &Path,
) -> std::result::Result<Entry, Failure> {
    let etag = header(resp.headers(), ETAG);
    let last_modified = header(resp.headers(), LAST_MODIFIED);
    let tmp = target.with_file_name(format!(
        ".{}.{}.part",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download"),
        std::process::id()
    ));
    let result = copy_hashed(&mut resp, &tmp, spec.timeout).and_then(|(sha256, size)| {
        if let Some(want) = spec.expected_sha256 {
            if !sha256.eq_ignore_ascii_case(want) {
                return Err(Failure::Fatal(format!(
                    "checksum mismatch: expected_sha256 is {want} but the file has {sha256}; \
                     the cached copy was left as it was"
                )));
            }
        }
        Ok((sha256, size))
    });
    let (sha256, size) = match result {
        Ok(v) => v,
        Err(f) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(f);
        }
    };
    let record = cache::record_path(&spec.cache_dir, spec.url);
    let placed = cache::forget(&record)
        .and_then(|()| std::fs::rename(&tmp, target).map_err(|e| MigError::io(target, e)));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(Failure::Fatal(e.to_string()));
    }
    Ok(Entry {
        url: spec.url.to_string(),
        etag,
        last_modified,
        sha256,
        size,
    })
}

fn header(h: &HeaderMap, name: HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Copies the body into `path`, returning its hex SHA-256 and size.
fn copy_hashed(
    resp: &mut Response,
    path: &Path,
    timeout: Duration,
) -> std::result::Result<(String, u64), Failure> {
    let local = |e: std::io::Error| Failure::Fatal(format!("{}: {e}", path.display()));
    let mut out = File::create(path).map_err(local)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(Failure::Retry(format!(
                    "the body stalled for {} s (timeout_secs) after {size} bytes",
                    timeout.as_secs()
                )))
            }
            Err(e) => {
                return Err(Failure::Retry(format!(
                    "the body broke off after {size} bytes: {e}"
                )))
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(local)?;
        size += n as u64;
    }
    out.sync_all().map_err(local)?;
    Ok((cache::hex(&hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
