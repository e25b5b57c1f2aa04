//! Files that appear whole or not at all: written beside their destination under a hidden
//! temporary name, flushed, then renamed into place (a rename within one folder is atomic).
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{MigError, Result};

/// Writes `path` through `fill`, which receives a buffered writer on a temporary file in the same
/// folder; the file is renamed into place only when `fill` succeeds, and removed otherwise.
pub fn write_file<T>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<T>,
) -> Result<T> {
    let tmp = temp_path(path);
    let result = File::create(&tmp)
        .map_err(|e| MigError::io(&tmp, e))
        .and_then(|f| {
            let mut w = BufWriter::new(f);
            let value = fill(&mut w)?;
            let f = w
                .into_inner()
                .map_err(|e| MigError::io(&tmp, e.into_error()))?;
            f.sync_all().map_err(|e| MigError::io(&tmp, e))?;
            Ok(value)
        })
        .and_then(|value| {
            std::fs::rename(&tmp, path).map_err(|e| MigError::io(path, e))?;
            Ok(value)
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `.<name>.<pid>.tmp` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = format!(".{name}.{}.tmp", std::process::id());
    match path.parent() {
        Some(dir) => dir.join(tmp),
        None => PathBuf::from(tmp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn io_err(path: &Path) -> impl Fn(std::io::Error) -> MigError + '_ {
        move |e| MigError::io(path, e)
    }

    #[test]
    fn a_failed_fill_leaves_no_file_behind() {
        let dir = std::env::temp_dir().join(format!("migstat-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("x.csv");
        let r: Result<()> = write_file(&path, |w| {
            w.write_all(b"half").map_err(io_err(&path))?;
            Err(MigError::Other("stop".into()))
        });
        assert!(r.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&dir).expect("read").count(), 0);
        write_file(&path, |w| w.write_all(b"whole").map_err(io_err(&path))).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "whole");
        let _ = std::fs::remove_dir_all(dir);
    }
}
