//! The warehouse lock: one writer at a time. An OS lock (`flock` through `File::try_lock`) on
//! `.migstat/lock`, held by an open file for the life of the holder and released by the kernel
//! when it exits or dies, so there is no staleness to guess. The file itself is never removed; it
//! carries the holder's pid, start time and command for the message a second run gets.
//!
//! A second run fails at once with exit 75 (busy), waits with `--wait`, or waits at most
//! `--wait-timeout SECS` and then exits 75.
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{MigError, Result};

/// How long to wait for another holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Fail at once (exit 75).
    #[default]
    No,
    /// Wait as long as it takes.
    Forever,
    /// Wait at most this long, then fail (exit 75).
    For(Duration),
}

impl Wait {
    /// From the command line's `--wait` and `--wait-timeout SECS`.
    pub fn from_flags(wait: bool, timeout_secs: Option<u64>) -> Wait {
        match (timeout_secs, wait) {
            (Some(s), _) => Wait::For(Duration::from_secs(s)),
            (None, true) => Wait::Forever,
            (None, false) => Wait::No,
        }
    }
}

/// Held while a command writes the warehouse; released when dropped or when the process ends.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// The folder of migstat's own state in a warehouse (lock, journal, staging, rollback copies).
pub fn state_dir(root: &Path) -> PathBuf {
    root.join(".migstat")
}

impl Lock {
    /// Takes the lock of warehouse `root`, waiting as `wait` says.
    pub fn acquire(root: &Path, command: &str, wait: Wait) -> Result<Lock> {
        let dir = state_dir(root);
        std::fs::create_dir_all(&dir).map_err(|e| MigError::io(&dir, e))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| MigError::io(&path, e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(MigError::io(&path, e)),
            }
            let out_of_time = match wait {
                Wait::No => true,
                Wait::Forever => false,
                Wait::For(d) => started.elapsed() >= d,
            };
            if out_of_time {
                return Err(busy(root, &path, wait));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut lock = Lock { file, path };
        lock.describe(command);
        trace("acquire");
        Ok(lock)
    }

    /// Takes the lock only if it is free now (`None` when another process holds it).
    pub fn try_acquire(root: &Path, command: &str) -> Result<Option<Lock>> {
        match Lock::acquire(root, command, Wait::No) {
            Ok(l) => Ok(Some(l)),
            Err(MigError::Busy(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes who holds the lock into the lock file (informational only).
    fn describe(&mut self, command: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let h = serde_json::json!({
            "pid": std::process::id(),
            "started": super::warehouse::utc_stamp(now),
            "command": crate::error::cut(command, 200),
        });
        let _ = self.file.set_len(0);
        let _ = self.file.seek(SeekFrom::Start(0));
        let _ = self.file.write_all(h.to_string().as_bytes());
        let _ = self.file.flush();
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The busy error, naming the holder as the lock file describes it.
fn busy(root: &Path, path: &Path, wait: Wait) -> MigError {
    let mut text = String::new();
    let _ = File::open(path).and_then(|f| f.take(4096).read_to_string(&mut text));
    let holder = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .map(|h| {
            format!(
                " by pid {} ({}), running since {}",
                h["pid"],
                h["command"].as_str().unwrap_or("?"),
                h["started"].as_str().unwrap_or("?")
            )
        })
        .unwrap_or_default();
    let advice = match wait {
        Wait::For(d) => format!("still locked after waiting {} s", d.as_secs()),
        _ => "use --wait to wait for it, or --wait-timeout SECS".into(),
    };
    MigError::Busy(format!(
        "warehouse {} is locked{holder}; {advice}",
        root.display()
    ))
}

impl Drop for Lock {
    fn drop(&mut self) {
        trace("release");
        let _ = self.file.unlock();
    }
}

/// Test-only (feature `failpoints`): `MIGSTAT_LOCK_TRACE=FILE` appends `acquire|release PID
/// NANOS` lines, so a stress test can check that no two holders overlap.
#[cfg(feature = "failpoints")]
fn trace(what: &str) {
    if let Some(p) = std::env::var_os("MIGSTAT_LOCK_TRACE") {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(p) {
            let _ = writeln!(f, "{what} {} {nanos}", std::process::id());
        }
    }
}

#[cfg(not(feature = "failpoints"))]
fn trace(_: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_in_the_same_process_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("migstat-lock-{}", std::process::id()));
        let first = Lock::acquire(&dir, "first", Wait::No).expect("first");
        let second = Lock::acquire(&dir, "second", Wait::No);
        assert!(matches!(second, Err(MigError::Busy(ref m)) if m.contains("first")));
        let timed = Lock::acquire(&dir, "third", Wait::For(Duration::from_millis(120)));
        assert!(matches!(timed, Err(MigError::Busy(ref m)) if m.contains("after waiting")));
        drop(first);
        assert!(Lock::acquire(&dir, "fourth", Wait::No).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
