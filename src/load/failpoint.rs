//! Test-only fault injection at named steps of the commit (cargo feature `failpoints`; a no-op
//! otherwise). `MIGSTAT_FAILPOINT=PREFIX:N:ACTION` fails the Nth step whose name starts with
//! `PREFIX` (counted from 1 in this process): `kill` aborts the process on the spot (no cleanup,
//! as `kill -9` would), `enospc`, `erofs` and `eio` make the step return that I/O error, and
//! `pause` holds the step for 3 seconds (a test changes the world meanwhile).
//! `MIGSTAT_FAILPOINT_LOG=FILE` appends the name of every step reached, one a line, so a test
//! can learn how many steps there are.
use std::io;

#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    if let Some(log) = std::env::var_os("MIGSTAT_FAILPOINT_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{name}");
        }
    }
    let Ok(spec) = std::env::var("MIGSTAT_FAILPOINT") else {
        return Ok(());
    };
    let mut parts = spec.splitn(3, ':');
    let (Some(prefix), Some(n), Some(action)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(());
    };
    if !name.starts_with(prefix) {
        return Ok(());
    }
    let n: usize = n.parse().unwrap_or(0);
    if COUNT.fetch_add(1, Ordering::SeqCst) + 1 != n {
        return Ok(());
    }
    let errno = match action {
        "kill" => std::process::abort(),
        "pause" => {
            std::thread::sleep(std::time::Duration::from_secs(3));
            return Ok(());
        }
        "enospc" => 28,
        "erofs" => 30,
        _ => 5,
    };
    Err(io::Error::from_raw_os_error(errno))
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) -> io::Result<()> {
    Ok(())
}

/// `default`, or in a build with the `failpoints` feature the number in the environment variable
/// `var` when it holds one: tests shrink a size (a chunk, a memory bound) to reach its edge cases
/// with small inputs.
pub fn size(var: &str, default: usize) -> usize {
    #[cfg(feature = "failpoints")]
    if let Some(n) = std::env::var(var).ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    let _ = var;
    default
}
