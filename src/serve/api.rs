//! The JSON API, every call with `Authorization: Bearer TOKEN`: `POST /api/uploads` (multipart
//! `pipeline`, `file`) → 201; `GET /api/uploads` (newest first); `GET /api/uploads/ID` (the
//! validation report JSON); `GET /api/uploads/ID/report.html`; `POST /api/uploads/ID/accept` →
//! 200 or 409. 401 without a valid token; 404 for another country's upload or pipeline, as for
//! one that does not exist; 413 above the size limit; 400 for a missing field or unknown pipeline.
// Helpers return the ready answer (a `Response`, 128 bytes) as their error, once per request.
#![allow(clippy::result_large_err)]
use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::pages::lang_of;
use super::store::Record;
use super::upload::{receive, Refusal};
use super::{Server, Who};
use crate::validate::messages::{text, Lang};

type S = State<Arc<Server>>;

pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/api/uploads", post(create).get(list))
        .route("/api/uploads/{id}", get(report_json))
        .route("/api/uploads/{id}/report.html", get(report_html))
        .route("/api/uploads/{id}/accept", post(accept))
}

/// An upload as the API shows it: its record and the URL of its report.
pub fn view(r: &Record) -> Value {
    let mut v = json!(r);
    if let Some(o) = v.as_object_mut() {
        o.insert("report".into(), json!(format!("/api/uploads/{}", r.id)));
        o.insert(
            "report_html".into(),
            json!(format!("/api/uploads/{}/report.html", r.id)),
        );
        o.remove("pipeline_file");
    }
    v
}

pub fn error(code: u16, msg: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({ "error": msg }))).into_response()
}

/// The caller, or the 401 answer (audited).
fn caller(s: &Server, headers: &HeaderMap, what: &str) -> Result<Who, Response> {
    let lang = lang_of(headers);
    s.bearer(headers).ok_or_else(|| {
        s.audit.log(
            "refused",
            json!({ "reason": "no valid token", "request": what }),
        );
        let mut r = error(401, text(lang, "ui.refuse.token"));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        r
    })
}

fn refused(s: &Server, headers: &HeaderMap, who: &Who, what: &str, e: &Refusal) -> Response {
    s.audit.log(
        "refused",
        json!({ "country": who.country, "token_id": who.token_id, "request": what,
                "status": e.code(), "reason": e.message(s.max_mb, Lang::En) }),
    );
    let msg = e.message(s.max_mb, lang_of(headers));
    match e {
        Refusal::TooLarge => {
            let body = json!({ "error": msg, "limit_mb": s.max_mb });
            (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
        }
        _ => error(e.code(), &msg),
    }
}

async fn create(
    State(s): S,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    let who = match caller(&s, &headers, "POST /api/uploads") {
        Ok(w) => w,
        Err(r) => {
            // Read (and drop) a small body first, so that the client gets the answer rather
            // than a connection closed while it was still sending.
            if let Ok(mut mp) = mp {
                super::upload::drain(&mut mp, 1 << 20).await;
            }
            return r;
        }
    };
    let mp = match mp {
        Ok(m) => m,
        Err(e) => {
            return refused(
                &s,
                &headers,
                &who,
                "POST /api/uploads",
                &Refusal::Malformed(e.body_text()),
            )
        }
    };
    match receive(&s, &who, mp, None).await {
        Ok(r) => (StatusCode::CREATED, Json(view(&r))).into_response(),
        Err(e) => refused(&s, &headers, &who, "POST /api/uploads", &e),
    }
}

async fn list(State(s): S, headers: HeaderMap) -> Response {
    let who = match caller(&s, &headers, "GET /api/uploads") {
        Ok(w) => w,
        Err(r) => return r,
    };
    let mine: Vec<Value> = s
        .store
        .all()
        .iter()
        .filter(|r| r.country == who.country)
        .map(view)
        .collect();
    Json(Value::Array(mine)).into_response()
}

/// The caller's upload, or the 404 answer (audited).
fn upload(
    s: &Server,
    headers: &HeaderMap,
    id: &str,
    what: &str,
) -> Result<(Who, Record), Response> {
    let who = caller(s, headers, what)?;
    match s.upload_of(&who, id) {
        Some(r) => Ok((who, r)),
        None => Err(refused(s, headers, &who, what, &Refusal::NotFound)),
    }
}

async fn report_json(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match upload(&s, &headers, &id, "GET /api/uploads/ID") {
        Ok((_, r)) => match std::fs::read(s.store.root.join(&r.id).join("validation.json")) {
            Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(_) => error(409, text(lang_of(&headers), "ui.refuse.not_validated")),
        },
        Err(resp) => resp,
    }
}

async fn report_html(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match upload(&s, &headers, &id, "GET /api/uploads/ID/report.html") {
        Ok((_, r)) => super::pages::report_body_in(&s, &r, super::pages::lang_of(&headers)),
        Err(resp) => resp,
    }
}

async fn accept(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let who = match caller(&s, &headers, "POST /api/uploads/ID/accept") {
        Ok(w) => w,
        Err(r) => return r,
    };
    match s.accept(&who, &id) {
        Ok(r) => Json(view(&r)).into_response(),
        Err(404) => refused(
            &s,
            &headers,
            &who,
            "POST /api/uploads/ID/accept",
            &Refusal::NotFound,
        ),
        Err(409) => error(409, text(lang_of(&headers), "ui.refuse.not_loadable")),
        Err(c) => error(c, text(lang_of(&headers), "ui.refuse.record")),
    }
}
