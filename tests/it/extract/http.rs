//! Fetching over HTTP from a local server: retries, checksums, the cache and timeouts.
use std::path::{Path, PathBuf};
use std::time::Duration;

use migstat::extract::cache::sha256_hex;
use migstat::extract::http::{fetch, FetchSpec};

use super::server::{Reply, Server};
use crate::common::temp_dir;

const BODY: &[u8] = b"id,sex\n1,2\n";

fn file(etag: &str, body: &[u8]) -> Reply {
    Reply::File {
        etag: format!("\"{etag}\""),
        body: body.to_vec(),
    }
}

fn spec<'a>(url: &'a str, cache: &Path, sha: Option<&'a str>, retries: u32) -> FetchSpec<'a> {
    FetchSpec {
        url,
        expected_sha256: sha,
        timeout: Duration::from_secs(2),
        retries,
        cache_dir: cache.to_path_buf(),
        target: None,
    }
}

/// Everything in the cache folder with its bytes.
fn cache_contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("cache dir")
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).expect("read")))
        .collect();
    out.sort();
    out
}

#[test]
fn http_500_then_success_is_retried() {
    let server = Server::start(vec![
        Reply::Status(500),
        Reply::Status(503),
        file("v1", BODY),
    ]);
    let cache = temp_dir("http-retry");
    let url = format!("{}/lfs/2024q1.csv", server.url);
    let sha = sha256_hex(BODY);
    let got = fetch(&spec(&url, &cache, Some(&sha), 3)).expect("fetch after two failures");
    assert_eq!(std::fs::read(&got).expect("read"), BODY);
    assert!(
        got.to_string_lossy().ends_with("-2024q1.csv"),
        "{}",
        got.display()
    );
    let statuses: Vec<u16> = server.finish().into_iter().map(|r| r.1).collect();
    assert_eq!(statuses, [500, 503, 200]);
}

#[test]
fn http_gives_up_after_its_retries_and_names_the_url() {
    let server = Server::start(vec![Reply::Status(500), Reply::Status(500)]);
    let cache = temp_dir("http-give-up");
    let url = format!("{}/lfs.csv", server.url);
    let err = fetch(&spec(&url, &cache, None, 1)).expect_err("two 500s");
    let msg = err.to_string();
    assert!(msg.starts_with(&url), "{msg}");
    assert!(
        msg.contains("after 2 attempts") && msg.contains("HTTP 500"),
        "{msg}"
    );
    assert_eq!(server.finish().len(), 2);
    assert!(cache_contents(&cache).is_empty(), "nothing may be cached");
}

#[test]
fn http_404_is_not_retried() {
    let server = Server::start(vec![Reply::Status(404)]);
    let cache = temp_dir("http-404");
    let url = format!("{}/missing.sav", server.url);
    let msg = fetch(&spec(&url, &cache, None, 3))
        .expect_err("404")
        .to_string();
    assert!(msg.contains("HTTP 404"), "{msg}");
    assert_eq!(server.finish().len(), 1);
}

/// A second fetch sends `If-None-Match`; the server answers 304 and no body is sent again.
#[test]
fn http_unchanged_etag_is_not_downloaded_again() {
    let server = Server::start(vec![file("v1", BODY), file("v1", BODY)]);
    let cache = temp_dir("http-304");
    let url = format!("{}/lfs.csv", server.url);
    let first = fetch(&spec(&url, &cache, None, 0)).expect("first");
    let before = cache_contents(&cache);
    let second = fetch(&spec(&url, &cache, None, 0)).expect("second");
    assert_eq!(first, second);
    assert_eq!(before, cache_contents(&cache));
    let requests = server.finish();
    assert_eq!(requests.iter().map(|r| r.1).collect::<Vec<_>>(), [200, 304]);
    assert!(
        !requests[0].0.contains("if-none-match"),
        "{}",
        requests[0].0
    );
    assert!(
        requests[1].0.contains("if-none-match: \"v1\""),
        "{}",
        requests[1].0
    );
}

/// A changed file whose checksum does not match is an error, and the cache keeps the old copy.
#[test]
fn http_checksum_mismatch_leaves_the_cache_untouched() {
    let server = Server::start(vec![file("v1", BODY), file("v2", b"id,sex\n1,9\n")]);
    let cache = temp_dir("http-sha");
    let url = format!("{}/lfs.csv", server.url);
    let sha = sha256_hex(BODY);
    fetch(&spec(&url, &cache, Some(&sha), 0)).expect("first");
    let before = cache_contents(&cache);
    let msg = fetch(&spec(&url, &cache, Some(&sha), 2))
        .expect_err("mismatch")
        .to_string();
    assert!(
        msg.contains(&url) && msg.contains("checksum mismatch"),
        "{msg}"
    );
    assert!(msg.contains(&sha), "{msg}");
    assert_eq!(before, cache_contents(&cache), "the cache changed");
    let requests = server.finish();
    assert_eq!(requests.len(), 2, "a mismatch is not retried");
    assert!(requests[1].0.contains("if-none-match: \"v1\""));
}

#[test]
fn http_silent_server_times_out() {
    let server = Server::start(vec![Reply::Silence(Duration::from_secs(4))]);
    let cache = temp_dir("http-timeout");
    let url = format!("{}/lfs.csv", server.url);
    let mut s = spec(&url, &cache, None, 0);
    s.timeout = Duration::from_secs(1);
    let msg = fetch(&s).expect_err("timeout").to_string();
    assert!(msg.contains("no answer within 1 s"), "{msg}");
    assert!(cache_contents(&cache).is_empty());
    server.finish();
}

/// With a `target`, the file is kept there (the pipeline's `path` beside its `url`).
#[test]
fn http_target_path_holds_the_copy() {
    let server = Server::start(vec![file("v1", BODY)]);
    let dir = temp_dir("http-target");
    let url = format!("{}/download?id=7", server.url);
    let mut s = spec(&url, &dir.join("cache"), None, 0);
    s.target = Some(dir.join("data").join("lfs.csv"));
    let got = fetch(&s).expect("fetch");
    assert_eq!(got, dir.join("data").join("lfs.csv"));
    assert_eq!(std::fs::read(&got).expect("read"), BODY);
    server.finish();
}
