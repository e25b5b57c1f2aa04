//! Receiving an upload (the API's and the form's): the multipart body is read field by field,
//! the file chunk by chunk into `UPLOADS/<ID>/input.<ext>` while it is hashed, so memory does not
//! grow with the file. Past the size limit the file is dropped and the rest of the body read
//! and discarded (up to as much again), so that the client gets the 413 answer rather than a
//! reset connection. Anything refused leaves no folder behind.
use std::path::Path;

use axum::extract::multipart::{Field, Multipart};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::store::{stored_name, Record, Status};
use super::{Server, Who};
use crate::validate::messages::{render as say, Lang};

/// Why an upload was refused.
#[derive(Debug)]
pub enum Refusal {
    /// A required field is missing (its name).
    Missing(&'static str),
    UnknownPipeline(String),
    /// Another country's pipeline or upload: answered like one that does not exist.
    NotFound,
    TooLarge,
    BadCsrf,
    /// The body is not a readable multipart form.
    Malformed(String),
    Internal(String),
}

impl Refusal {
    /// What is wrong, in `lang` (the audit log keeps the English text).
    pub fn message(&self, limit_mb: u64, lang: Lang) -> String {
        let mb = limit_mb.to_string();
        match self {
            Refusal::Missing(f) => say(lang, "ui.refuse.missing", &[("field", f)]),
            Refusal::UnknownPipeline(p) => say(
                lang,
                "ui.refuse.pipeline",
                &[("pipeline", &format!("{p:?}"))],
            ),
            Refusal::NotFound => say(lang, "ui.refuse.not_found", &[]),
            Refusal::TooLarge => say(lang, "ui.refuse.too_large", &[("mb", &mb)]),
            Refusal::BadCsrf => say(lang, "ui.refuse.expired", &[]),
            Refusal::Malformed(m) => say(lang, "ui.refuse.malformed", &[("detail", m)]),
            Refusal::Internal(m) => say(lang, "ui.refuse.internal", &[("detail", m)]),
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            Refusal::Missing(_) | Refusal::UnknownPipeline(_) | Refusal::Malformed(_) => 400,
            Refusal::NotFound => 404,
            Refusal::TooLarge => 413,
            Refusal::BadCsrf => 403,
            Refusal::Internal(_) => 500,
        }
    }
}

/// What the body held besides the file.
#[derive(Default)]
struct Fields {
    pipeline: Option<String>,
    csrf: Option<String>,
    file: Option<(String, u64, String)>,
}

/// Receives, records and validates an upload of `who`; `csrf`, for form posts, is the
/// session's token the form must carry.
pub async fn receive(
    s: &Server,
    who: &Who,
    mut mp: Multipart,
    csrf: Option<&super::session::Session>,
) -> Result<Record, Refusal> {
    let (id, dir) = s
        .store
        .create()
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    let got = read_fields(s, &mut mp, &dir).await;
    let checked = got.and_then(|f| {
        if let Some(session) = csrf {
            if !super::session::csrf_ok(session, f.csrf.as_deref()) {
                return Err(Refusal::BadCsrf);
            }
        }
        let pipeline = f.pipeline.ok_or(Refusal::Missing("pipeline"))?;
        let file = f.file.ok_or(Refusal::Missing("file"))?;
        let p = s.pipeline_of(who, &pipeline)?;
        Ok((p.clone(), file))
    });
    let (p, (original, size, sha256)) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let record = Record {
        id: id.clone(),
        country: who.country.clone(),
        token_id: who.token_id.clone(),
        received: crate::batch::summary::iso_now(),
        file: stored_name(&original),
        original_name: original,
        size,
        sha256,
        pipeline: p.id.clone(),
        pipeline_file: p.path.display().to_string(),
        status: Status::Received,
        summary: json!({}),
        validated: None,
        accepted: None,
        run: None,
    };
    let renamed = std::fs::rename(dir.join(".file"), dir.join(&record.file));
    if let Err(e) = renamed
        .map_err(|e| e.to_string())
        .and_then(|()| s.store.put(&record).map_err(|e| e.to_string()))
    {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(Refusal::Internal(e));
    }
    s.audit.log(
        "upload",
        json!({ "upload": id, "country": who.country, "token_id": who.token_id,
                "pipeline": record.pipeline, "original_name": record.original_name,
                "size": size, "sha256": record.sha256 }),
    );
    match s.pool.submit(&id).await {
        Ok(Some(done)) => Ok(done),
        _ => Ok(record),
    }
}

async fn read_fields(s: &Server, mp: &mut Multipart, dir: &Path) -> Result<Fields, Refusal> {
    let mut f = Fields::default();
    let malformed = |e: axum::extract::multipart::MultipartError| Refusal::Malformed(e.body_text());
    while let Some(field) = mp.next_field().await.map_err(malformed)? {
        match field.name().unwrap_or("") {
            "pipeline" => f.pipeline = Some(small_text(field).await?),
            "csrf" => f.csrf = Some(small_text(field).await?),
            "file" if f.file.is_none() => {
                let name = field.file_name().unwrap_or("upload").to_string();
                match write_file(s.max_bytes, field, &dir.join(".file")).await? {
                    Some((size, sha)) => f.file = Some((name, size, sha)),
                    None => {
                        drain(mp, s.max_bytes).await;
                        return Err(Refusal::TooLarge);
                    }
                }
            }
            _ => {
                let mut field = field;
                while field.chunk().await.map_err(malformed)?.is_some() {}
            }
        }
    }
    Ok(f)
}

/// A text field of at most a few hundred bytes.
async fn small_text(mut field: Field<'_>) -> Result<String, Refusal> {
    let mut buf = Vec::new();
    while let Some(c) = field
        .chunk()
        .await
        .map_err(|e| Refusal::Malformed(e.body_text()))?
    {
        buf.extend_from_slice(&c);
        if buf.len() > 512 {
            return Err(Refusal::Malformed(
                "a text field is longer than 512 bytes".into(),
            ));
        }
    }
    Ok(String::from_utf8_lossy(&buf).trim().to_string())
}

/// Streams the file field to `path`; `None` when it is larger than `max` (the partial file is
/// removed and the rest of the field read and discarded, up to `max` bytes more).
async fn write_file(
    max: u64,
    mut field: Field<'_>,
    path: &Path,
) -> Result<Option<(u64, String)>, Refusal> {
    let internal = |e: std::io::Error| Refusal::Internal(e.to_string());
    let mut out = tokio::fs::File::create(path).await.map_err(internal)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Refusal::Malformed(e.body_text()))?
    {
        size += chunk.len() as u64;
        if size > max {
            drop(out);
            let _ = tokio::fs::remove_file(path).await;
            let mut extra = 0u64;
            while extra < max.max(1 << 20) {
                match field.chunk().await {
                    Ok(Some(c)) => extra += c.len() as u64,
                    _ => break,
                }
            }
            return Ok(None);
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.sync_all().await.map_err(internal)?;
    Ok(Some((size, super::tokens::hex(&hasher.finalize()))))
}

/// Reads and discards what is left of the body (at most `max` bytes).
pub async fn drain(mp: &mut Multipart, max: u64) {
    let mut seen = 0u64;
    while let Ok(Some(mut field)) = mp.next_field().await {
        while let Ok(Some(c)) = field.chunk().await {
            seen += c.len() as u64;
            if seen > max.max(1 << 20) {
                return;
            }
        }
    }
}
