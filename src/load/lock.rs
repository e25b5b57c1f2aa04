//! The warehouse lock: one writer at a time. A second run fails at once naming the holder (pid,
//! start time), or waits with `--wait`; a lock left by a process that no longer exists is taken
//! over.
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{MigError, Result};

/// Held while a run writes; removed on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Holder {
    pid: u32,
    started: String,
    command: String,
}

impl Lock {
    /// Takes the lock of warehouse `root`. With `wait`, polls until the holder finishes.
    pub fn acquire(root: &Path, command: &str, wait: bool) -> Result<Lock> {
        std::fs::create_dir_all(root).map_err(|e| MigError::io(root, e))?;
        let path = root.join(".lock");
        loop {
            match try_create(&path, command) {
                Ok(()) => return Ok(Lock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(MigError::io(&path, e)),
            }
            let holder = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Holder>(&t).ok());
            match holder {
                Some(h) if alive(h.pid) => {
                    if !wait {
                        return Err(MigError::Other(format!(
                            "warehouse {} is locked by pid {} ({}), running since {}; use --wait to wait for it",
                            root.display(),
                            h.pid,
                            h.command,
                            h.started
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                // The holder is gone (killed) or the file is unreadable: take it over.
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}

fn try_create(path: &Path, command: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let h = Holder {
        pid: std::process::id(),
        started: super::warehouse::utc_stamp(now),
        command: command.to_string(),
    };
    f.write_all(serde_json::to_string(&h).unwrap_or_default().as_bytes())?;
    f.sync_all()
}

/// Whether a process is alive (Linux: `/proc/<pid>`; elsewhere assume it is).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_root = Path::new("/proc");
    if !proc_root.is_dir() {
        return true;
    }
    match std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")) {
        // A zombie (state Z) has exited.
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
