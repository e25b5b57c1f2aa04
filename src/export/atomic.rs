//! Files that appear whole or not at all: written beside their destination under a hidden
//! temporary name, flushed, then renamed into place (a rename within one folder is atomic). An
//! export writes all its files into a hidden staging folder inside the out folder first
//! ([`Staging`]) and moves them in only when every one was written, so a failed export leaves the
//! out folder as it was.
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::Written;
use crate::error::{MigError, Result};

/// A hidden folder inside the out folder (same file system, so moves are renames); removed when
/// dropped, whatever happened.
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    /// Creates `out` when missing, and `out/.migstat-export-<pid>/`.
    pub fn new(out: &Path) -> Result<Staging> {
        let dir = out.join(format!(".migstat-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("replaced")).map_err(|e| MigError::io(&dir, e))?;
        Ok(Staging { dir })
    }

    /// Where the files are written.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves every staged file into `out`, replacing files of the same name. When a move fails,
    /// the files already moved are taken back and the replaced ones restored.
    pub fn publish(self, staged: Written, out: &Path) -> Result<Written> {
        let mut moved: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let mut published = Vec::new();
        for (path, rows) in staged {
            let name = path.file_name().unwrap_or_default();
            let dest = out.join(name);
            let result = self
                .replace(&path, &dest)
                .map(|old| moved.push((dest.clone(), old)));
            if let Err(e) = result {
                for (dest, old) in moved.into_iter().rev() {
                    let _ = match old {
                        Some(old) => std::fs::rename(old, &dest),
                        None => std::fs::remove_file(&dest),
                    };
                }
                return Err(e);
            }
            published.push((dest, rows));
        }
        Ok(published)
    }

    /// Renames `path` onto `dest`, keeping a hard link to the file it replaces (if any).
    fn replace(&self, path: &Path, dest: &Path) -> Result<Option<PathBuf>> {
        let old = match dest.is_file() {
            true => {
                let keep = self
                    .dir
                    .join("replaced")
                    .join(dest.file_name().unwrap_or_default());
                std::fs::hard_link(dest, &keep)
                    .or_else(|_| std::fs::copy(dest, &keep).map(|_| ()))
                    .map_err(|e| MigError::io(dest, e))?;
                Some(keep)
            }
            false => None,
        };
        std::fs::rename(path, dest).map_err(|e| MigError::io(dest, e))?;
        Ok(old)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

    #[test]
    fn a_failed_move_puts_back_what_was_moved_and_replaced() {
        let out = std::env::temp_dir().join(format!("migstat-staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(out.join("b.csv/inside")).expect("dir in the way");
        std::fs::write(out.join("a.csv"), "old a").expect("old");
        let staging = Staging::new(&out).expect("staging");
        let mut staged = Vec::new();
        for name in ["a.csv", "b.csv", "c.csv"] {
            let p = staging.dir().join(name);
            std::fs::write(&p, format!("new {name}")).expect("staged");
            staged.push((p, 1));
        }
        // c.csv sorts last, a.csv is moved before b.csv fails on the folder in its way.
        assert!(staging.publish(staged, &out).is_err());
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.csv", "b.csv"]);
        assert_eq!(
            std::fs::read_to_string(out.join("a.csv")).expect("a"),
            "old a"
        );

        std::fs::remove_dir_all(out.join("b.csv")).expect("clear the way");
        let staging = Staging::new(&out).expect("staging");
        let p = staging.dir().join("b.csv");
        std::fs::write(&p, "new b").expect("staged");
        let done = staging.publish(vec![(p, 1)], &out).expect("publish");
        assert_eq!(done, [(out.join("b.csv"), 1)]);
        assert_eq!(
            std::fs::read_to_string(out.join("b.csv")).expect("b"),
            "new b"
        );
        assert_eq!(std::fs::read_dir(&out).expect("read").count(), 2);
        let _ = std::fs::remove_dir_all(out);
    }
}
