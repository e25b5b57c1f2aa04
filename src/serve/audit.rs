//! The audit log: `UPLOADS/audit.jsonl`, one JSON object a line, appended and never rewritten —
//! every sign-in, upload, validation, acceptance and refusal, with the time, the event, the
//! token id and country where known, and what it concerned.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::error::{MigError, Result};

pub struct Audit {
    file: Mutex<File>,
}

impl Audit {
    pub fn open(path: &Path) -> Result<Audit> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| MigError::io(path, e))?;
        Ok(Audit {
            file: Mutex::new(file),
        })
    }

    /// Appends one event; `fields` (an object) is merged into `{"time", "event"}`.
    pub fn log(&self, event: &str, fields: Value) {
        let mut line = json!({ "time": crate::batch::summary::iso_now(), "event": event });
        if let (Some(l), Value::Object(f)) = (line.as_object_mut(), fields) {
            l.extend(f);
        }
        let text = line.to_string() + "\n";
        if let Ok(mut f) = self.file.lock() {
            if let Err(e) = f.write_all(text.as_bytes()) {
                tracing::error!("audit log not written: {e}");
                eprintln!("migstat serve: audit log not written: {e}");
            }
        }
    }
}
