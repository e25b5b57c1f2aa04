//! Extractors: each reader on files written by our writers, by the `dta`, `rust_xlsxwriter` and
//! arrow crates, and by Debian's `readstat`; broken files; HTTP fetching against a local server;
//! and whole pipeline runs on every format, compared with the same run on CSV.
mod http;
mod pipeline;
mod server;
mod statfiles;
mod tables;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use migstat::error::MigError;
use migstat::extract::write::{self, ColumnLabels, Format};
use migstat::extract::RowSource;

/// A small person file: (headers, rows, labels, numeric flags). `wt` has a blank cell.
pub fn sample() -> (Vec<String>, Vec<Vec<String>>, ColumnLabels, Vec<bool>) {
    let headers = ["id", "sex", "age", "region", "wt"]
        .map(String::from)
        .to_vec();
    let rows = [
        ["1", "1", "34", "North", "120.5"],
        ["2", "2", "71", "Côte-Sud", "98"],
        ["3", "2", "15", "", "101.25"],
        ["4", "1", "44", "East", ""],
    ]
    .iter()
    .map(|r| r.map(String::from).to_vec())
    .collect();
    let mut labels = BTreeMap::new();
    labels.insert(
        "sex".to_string(),
        BTreeMap::from([("1".into(), "Male".into()), ("2".into(), "Female".into())]),
    );
    (headers, rows, labels, vec![true, true, true, false, true])
}

/// Every row of a source with its line number.
pub fn read_all(src: &mut dyn RowSource) -> migstat::error::Result<Vec<(u64, Vec<String>)>> {
    let mut out = Vec::new();
    let mut cells = Vec::new();
    while let Some(line) = src.next_into(&mut cells)? {
        out.push((line, cells.clone()));
    }
    Ok(out)
}

/// The rows of `sample()` as read back (numbers print as codes: `98`, not `98.0`).
pub fn sample_rows() -> Vec<(u64, Vec<String>)> {
    sample()
        .1
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as u64 + 1, r))
        .collect()
}

/// Debian's `readstat` command line tool; the tests that use it fail with a hint when it is
/// missing (`make tools` installs it).
pub fn readstat(args: &[&Path]) -> String {
    let out = Command::new("readstat")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("readstat is needed for this test (make tools): {e}"));
    assert!(
        out.status.success(),
        "readstat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(target) = args.get(1).filter(|a| **a != Path::new("-")) {
        let target = args.get(2).unwrap_or(target);
        assert!(target.is_file(), "readstat {args:?} wrote nothing");
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of `src` cut to its first `n` bytes.
pub fn truncated(src: &Path, dst: &Path, n: usize) {
    let bytes = std::fs::read(src).expect("read");
    std::fs::write(dst, &bytes[..n.min(bytes.len())]).expect("write");
}

pub fn write_sample(format: Format, path: &Path) {
    let (h, rows, labels, numeric) = sample();
    write::write(format, path, &h, rows.into_iter(), &labels, &numeric).expect("write sample");
}

pub fn sex_labels() -> BTreeMap<String, String> {
    sample().2["sex"].clone()
}

/// The message of an error that must be `Unreadable` and name `path`.
pub fn unreadable(e: MigError, path: &Path) -> String {
    let msg = e.to_string();
    assert!(matches!(e, MigError::Unreadable { .. }), "{msg}");
    assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
    msg
}
