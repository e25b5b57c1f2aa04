//! A panic inside a third-party reader (calamine on a damaged workbook, the parquet and arrow
//! crates on a damaged Parquet file) must not take the process down: [`catch`] runs the reader's
//! work, turns a panic into the caller's error and keeps its message off stderr (the panic hook
//! stays quiet on the thread inside the guard and is unchanged elsewhere).
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use crate::error::{MigError, Result};

thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });

/// Runs `f`; a panic inside is the error `damaged()` makes.
pub fn catch<T, E>(
    f: impl FnOnce() -> std::result::Result<T, E>,
    damaged: impl FnOnce() -> E,
) -> std::result::Result<T, E> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = QUIET.with(|q| q.replace(true));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(outer));
    out.unwrap_or_else(|_| Err(damaged()))
}

/// [`catch`] for a reader of `path`: a panic is `Unreadable`, saying the `what` is damaged.
pub fn guarded<T>(path: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch(f, || MigError::Unreadable {
        path: path.to_path_buf(),
        msg: damaged(what),
    })
}

/// The message of a reader that stopped on inconsistent data.
pub fn damaged(what: &str) -> String {
    format!("the {what} is damaged: its reader stopped on inconsistent data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_guard_is_an_error_naming_the_file() {
        let e = guarded(Path::new("w.xls"), "workbook", || -> Result<()> {
            panic!("inside")
        })
        .expect_err("caught");
        assert!(
            e.to_string().starts_with("w.xls: the workbook is damaged"),
            "{e}"
        );
        assert_eq!(
            guarded(Path::new("w.xls"), "workbook", || Ok(3)).ok(),
            Some(3)
        );
    }
}
