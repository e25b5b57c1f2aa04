//! The commit protocol: every file of a transaction (a run, or a rollback) becomes visible
//! together, or none does.
//!
//! 1. Every file is staged and fsynced under `<root>/.migstat/staging/<TXN>/` (`warehouse.rs`).
//! 2. The journal `.migstat/journal/<TXN>.json` — each target, whether it existed, its staged
//!    file and where its previous version is kept — is written to a temporary name, fsynced,
//!    renamed and its folder fsynced. From here on the transaction can always be undone.
//! 3. Each target that exists is hard-linked to `<root>/.migstat/rollback/<TXN>/<path>.prev`,
//!    then the staged file is renamed over it (a removal renames the target to its backup).
//! 4. The folders touched are fsynced.
//! 5. The commit record (the run's `manifest.json`, naming the transaction) is written to a
//!    temporary name, fsynced and renamed into place, last: the transaction is committed iff its
//!    record exists and names it.
//! 6. The journal and the staging folder are removed.
//!
//! Recovery (`recover`, run by every command that takes the lock, and by readers that find the
//! lock free) reads each journal left behind: a committed transaction is finished, any other is
//! undone entry by entry — a rename that happened is reversed from the backup, one that did not
//! leaves the target alone — so the warehouse is exactly as before it. Undo is idempotent, so a
//! crash during recovery is recovered by the next command. A failed step inside a running
//! command is undone at once by the same code.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::failpoint::hit;
use super::lock::state_dir;
use super::warehouse::{Published, Staged};
use crate::error::{MigError, Result};

/// One target of a transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    target: PathBuf,
    /// The staged file; none for a removal.
    staged: Option<PathBuf>,
    /// Whether the target existed when the journal was written.
    existed: bool,
    /// Where the target's previous version goes (when it existed).
    backup: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    txn: String,
    /// The commit record; committed iff it exists and its `txn` is this one.
    record: PathBuf,
    entries: Vec<Entry>,
    /// Staging folders to remove when done.
    staging: Vec<PathBuf>,
    /// Backup folders to remove after the commit (a rollback keeps no copies).
    drop_backups: Vec<PathBuf>,
}

/// Commits are serialised within a process: pipelines of a batch stage in parallel, but each
/// commit (and what it reads to build its record and the catalog) runs alone.
static COMMIT: Mutex<()> = Mutex::new(());

/// Held while a commit is prepared and made.
pub fn guard() -> MutexGuard<'static, ()> {
    COMMIT.lock().unwrap_or_else(|e| e.into_inner())
}

fn journal_dir(root: &Path) -> PathBuf {
    state_dir(root).join("journal")
}

fn io(path: &Path, name: &str) -> impl Fn(std::io::Error) -> MigError {
    let path = path.to_path_buf();
    let name = name.to_string();
    move |e| MigError::Other(format!("{}: {e} (commit step {name})", path.display()))
}

/// fsyncs a folder (after a rename or removal in it).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The temporary name `write_atomic` writes `path` under, in the same folder.
fn tmp_name(path: &Path) -> String {
    format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// Writes `bytes` to `path` through a temporary name: write, fsync, rename, fsync the folder.
/// With `after_rename_ok`, a failed fsync of the folder after the rename is not an error: the
/// file is in place and visible, so the step happened (the commit record).
fn write_atomic(path: &Path, bytes: &[u8], step: &str, after_rename_ok: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir, step))?;
    let tmp = dir.join(tmp_name(path));
    let res = (|| {
        hit(&format!("{step}.write"))?;
        std::fs::write(&tmp, bytes)?;
        hit(&format!("{step}.fsync"))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        hit(&format!("{step}.rename"))?;
        std::fs::rename(&tmp, path)?;
        let synced = hit(&format!("{step}.dirsync")).and_then(|()| sync_dir(dir));
        match (synced, after_rename_ok) {
            (Err(e), true) => {
                eprintln!(
                    "warning: {}: fsync of its folder failed after the rename: {e}",
                    path.display()
                );
                Ok(())
            }
            (r, _) => r,
        }
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(io(path, step))
}

impl Staged {
    /// Makes every staged change visible, then writes the commit record `record` (relative to the
    /// warehouse) with the bytes `make` returns for what was published. On any error the
    /// warehouse is put back as it was and the error returned.
    pub fn commit(
        self,
        record: &Path,
        make: impl FnOnce(&Published) -> Result<Vec<u8>>,
    ) -> Result<Published> {
        let wh = self.areas[0].root.clone();
        let (journal, published) = self.plan(record);
        let body = match make(&published) {
            Ok(b) => b,
            Err(e) => {
                finish(&journal);
                return Err(e);
            }
        };
        let jpath = journal_dir(&wh).join(format!("{}.json", journal.txn));
        let jbytes =
            serde_json::to_vec_pretty(&journal).map_err(|e| MigError::Other(e.to_string()))?;
        if let Err(e) = write_atomic(&jpath, &jbytes, "commit.journal", false) {
            let _ = std::fs::remove_file(&jpath);
            finish(&journal);
            return Err(e);
        }
        let done = apply(&journal)
            .and_then(|()| write_atomic(&journal.record, &body, "commit.record", true));
        if let Err(e) = done {
            // Undo now; if even that fails, the journal stays for the next command's recovery.
            if undo(&journal).is_ok() {
                finish(&journal);
                let _ = std::fs::remove_file(&jpath);
            }
            return Err(e);
        }
        finish(&journal);
        if hit("commit.journal.remove").is_ok() {
            let _ = std::fs::remove_file(&jpath);
            let _ = sync_dir(&journal_dir(&wh));
        }
        Ok(published)
    }

    /// The journal of this transaction and what it will publish.
    fn plan(self, record: &Path) -> (Journal, Published) {
        let mut p = Published::default();
        let mut entries = Vec::new();
        for c in &self.changes {
            let area = &self.areas[c.area];
            let target = area.root.join(&c.rel);
            let existed = target.is_file();
            let shown = self.shown(c.area, &c.rel);
            match (existed, &c.tmp) {
                (true, Some(_)) => p.replaced.push(shown),
                (false, Some(_)) => p.added.push(shown),
                (true, None) => p.removed.push(shown),
                (false, None) => continue,
            }
            let backup = existed.then(|| {
                let mut name = c.rel.clone().into_os_string();
                name.push(".prev");
                state_dir(&area.root)
                    .join("rollback")
                    .join(&self.id)
                    .join(name)
            });
            entries.push(Entry {
                target,
                staged: c.tmp.clone(),
                existed,
                backup,
            });
        }
        p.unchanged = self
            .unchanged
            .iter()
            .map(|(a, r)| self.shown(*a, r))
            .collect();
        let drop_backups = match self.keep_backups {
            true => Vec::new(),
            false => self
                .areas
                .iter()
                .map(|a| state_dir(&a.root).join("rollback").join(&self.id))
                .collect(),
        };
        let journal = Journal {
            txn: self.id.clone(),
            record: self.areas[0].root.join(record),
            entries,
            staging: self.areas.iter().map(|a| a.dir.clone()).collect(),
            drop_backups,
        };
        (journal, p)
    }
}

/// Steps 3 and 4: backups, renames, folder fsyncs.
fn apply(j: &Journal) -> Result<()> {
    let mut dirs = BTreeSet::new();
    for (i, e) in j.entries.iter().enumerate() {
        let parent = e.target.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent, "commit.mkdir"))?;
        if let Some(b) = &e.backup {
            let bdir = b.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(bdir).map_err(io(bdir, "commit.mkdir"))?;
            dirs.insert(bdir.to_path_buf());
        }
        match (&e.staged, &e.backup) {
            (Some(staged), backup) => {
                if let Some(b) = backup {
                    let name = format!("commit.link.{i}");
                    hit(&name)
                        .and_then(|()| std::fs::hard_link(&e.target, b))
                        .map_err(io(b, &name))?;
                }
                let name = format!("commit.rename.{i}");
                hit(&name)
                    .and_then(|()| std::fs::rename(staged, &e.target))
                    .map_err(io(&e.target, &name))?;
            }
            (None, Some(b)) => {
                let name = format!("commit.remove.{i}");
                hit(&name)
                    .and_then(|()| std::fs::rename(&e.target, b))
                    .map_err(io(&e.target, &name))?;
            }
            (None, None) => {}
        }
        dirs.insert(parent.to_path_buf());
    }
    for (i, d) in dirs.iter().enumerate() {
        let name = format!("commit.dirsync.{i}");
        hit(&name)
            .and_then(|()| sync_dir(d))
            .map_err(io(d, &name))?;
    }
    Ok(())
}

/// Puts every target back as it was before the transaction (idempotent).
fn undo(j: &Journal) -> Result<()> {
    for e in j.entries.iter().rev() {
        let applied = match &e.staged {
            Some(s) => !s.exists(),
            None => !e.target.exists(),
        };
        match (applied, e.existed, &e.backup) {
            (true, true, Some(b)) if b.exists() => {
                std::fs::rename(b, &e.target).map_err(io(&e.target, "undo"))?;
            }
            (true, false, _) if e.target.exists() => {
                std::fs::remove_file(&e.target).map_err(io(&e.target, "undo"))?;
                remove_empty_parents(&e.target, 3);
            }
            // Not applied: drop the backup link if one was made (the target is untouched).
            (false, _, Some(b)) if b.exists() => {
                let _ = std::fs::remove_file(b);
            }
            _ => {}
        }
        if let Some(p) = e.target.parent() {
            let _ = sync_dir(p);
        }
    }
    // The record's temporary file, if it was being written; then the record folder
    // (`runs/<RUN_ID>/`) of a new run, which held only this transaction's files, now gone.
    if let Some(p) = j.record.parent() {
        let _ = std::fs::remove_file(p.join(tmp_name(&j.record)));
        let _ = std::fs::remove_dir(p);
    }
    Ok(())
}

fn remove_empty_parents(path: &Path, levels: usize) {
    let mut p = path.parent();
    for _ in 0..levels {
        match p {
            Some(d) if std::fs::remove_dir(d).is_ok() => p = d.parent(),
            _ => break,
        }
    }
}

/// Removes the staging folders (and the backups of a rollback) of a finished transaction.
fn finish(j: &Journal) {
    for d in j.staging.iter().chain(&j.drop_backups) {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Whether the transaction's record exists and names it.
fn committed(j: &Journal) -> bool {
    std::fs::read(&j.record)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["txn"] == j.txn.as_str())
}

/// Finishes or undoes every transaction a killed command left behind, then removes stray
/// staging folders and temporary files; the caller holds the lock. Returns what it did.
pub fn recover(root: &Path) -> Result<Vec<String>> {
    let mut said = Vec::new();
    let dir = journal_dir(root);
    let mut journals: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    journals.sort();
    for path in journals {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') {
            // A journal that was never renamed into place: its transaction touched nothing.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let text = std::fs::read(&path).map_err(|e| MigError::io(&path, e))?;
        let j: Journal = serde_json::from_slice(&text).map_err(|e| {
            MigError::Other(format!(
                "{}: unreadable commit journal ({e}); move it away to go on",
                path.display()
            ))
        })?;
        if committed(&j) {
            said.push(format!("transaction {} was committed: finished", j.txn));
        } else {
            undo(&j)?;
            said.push(format!(
                "transaction {} was interrupted: undone, the warehouse is as before it",
                j.txn
            ));
        }
        finish(&j);
        std::fs::remove_file(&path).map_err(|e| MigError::io(&path, e))?;
        let _ = sync_dir(&dir);
    }
    let _ = std::fs::remove_dir_all(state_dir(root).join("staging"));
    migrate_legacy(root, &mut said);
    Ok(said)
}

/// Warehouses written before `.migstat/` kept staging in `.staging/` and rollback copies as
/// Parquet files in `.rollback/`, where a `**/*.parquet` glob saw them: move them out of sight.
fn migrate_legacy(root: &Path, said: &mut Vec<String>) {
    let _ = std::fs::remove_dir_all(root.join(".staging"));
    let _ = std::fs::remove_file(root.join(".lock"));
    let old = root.join(".rollback");
    if !old.is_dir() {
        return;
    }
    let mut stack = vec![old.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(rel) = p.strip_prefix(&old) else {
                continue;
            };
            let mut name = rel.as_os_str().to_os_string();
            name.push(".prev");
            let dest = state_dir(root).join("rollback").join(name);
            if let Some(parent) = dest.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::rename(&p, &dest);
        }
    }
    if std::fs::remove_dir_all(&old).is_ok() {
        said.push("moved the rollback copies of .rollback/ into .migstat/rollback/".into());
    }
}

/// Whether a transaction journal is waiting for recovery.
pub fn pending(root: &Path) -> bool {
    std::fs::read_dir(journal_dir(root))
        .into_iter()
        .flatten()
        .flatten()
        .next()
        .is_some()
}

/// For readers (`query`, `export`, `runs`): recovers a killed commit first when the lock is free,
/// so they never read a half-committed run.
pub fn recover_if_free(root: &Path) -> Result<()> {
    if !pending(root) {
        return Ok(());
    }
    if let Some(_lock) = super::lock::Lock::try_acquire(root, "migstat (recovery)")? {
        recover(root)?;
    }
    Ok(())
}
