//! The pages, rendered on the server with a little inline CSS (no script, nothing fetched from
//! elsewhere): sign-in, the country's page (pipelines, the upload form with its size limit,
//! earlier uploads with their status) and an upload's page (its record, the "accept for
//! processing" button when it is loadable, and its validation report, the same HTML page as
//! `migstat validate --report x.html`, in a frame). Every form carries the session's CSRF token.
// Helpers return the ready answer (a `Response`, 128 bytes) as their error, once per request.
#![allow(clippy::result_large_err)]
use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

use super::session::{cross_site, csrf_ok, Session};
use super::store::{Record, Status};
use super::upload::{receive, Refusal};
use super::{Server, Who};
use crate::validate::messages::{plural, render as say, text, Lang};
use crate::validate::report::html::esc;
use crate::validate::report::text::size_text;

type S = State<Arc<Server>>;

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}\
header{background:#1d3557;color:#fff;padding:.7em 1.5em;display:flex;justify-content:space-between;align-items:center}\
header a{color:#fff}main{max-width:70em;margin:1.5em auto;padding:0 1.5em}\
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:1em 1.3em;margin-bottom:1.2em}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee}\
.s{font-weight:600;padding:.1em .5em;border-radius:4px}.loadable{background:#d8f3dc}.errors{background:#ffd6d6}\
.unreadable{background:#ffe5b4}.received{background:#e0e0f0}.note{color:#555}\
button{font:inherit;padding:.35em 1em;border-radius:4px;border:1px solid #1d3557;background:#1d3557;color:#fff;cursor:pointer}\
iframe{width:100%;height:75vh;border:1px solid #dde;border-radius:6px;background:#fff}.err{color:#a00}";

pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/", get(home))
        .route("/signin", get(signin_page).post(signin))
        .route("/signout", post(signout))
        .route("/uploads", post(upload_form))
        .route("/uploads/{id}", get(upload_page))
        .route("/uploads/{id}/report.html", get(report_page))
        .route("/uploads/{id}/accept", post(accept))
        .route("/statistics", get(statistics))
}

/// The language of the pages for a request: the browser's `Accept-Language`.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::En, Lang::from_accept_language)
}

/// The upload's HTML report file in `lang` (each upload has one per language).
pub fn report_file(lang: Lang) -> String {
    match lang {
        Lang::En => "validation.html".into(),
        l => format!("validation.{l}.html"),
    }
}

fn t(lang: Lang, key: &str) -> String {
    esc(text(lang, key))
}

fn page(
    code: StatusCode,
    lang: Lang,
    title: &str,
    who: Option<(&Session, &Who)>,
    body: &str,
) -> Response {
    let bar = match who {
        Some((s, w)) => format!(
            "<form method=post action=/signout><input type=hidden name=csrf value=\"{}\">\
             {} · <button>{}</button></form>",
            s.csrf,
            esc(&w.country),
            t(lang, "ui.sign_out")
        ),
        None => String::new(),
    };
    let html = format!(
        "<!doctype html><html lang={l}><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>{t} — migstat uploads</title><style>{CSS}</style>\
         <header><a href=/><b>migstat uploads</b></a>{bar}</header><main><h1>{t}</h1>{body}</main></html>",
        t = esc(title),
        l = lang.code()
    );
    let csp = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'";
    (
        code,
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        html,
    )
        .into_response()
}

fn status_badge(r: &Record, lang: Lang) -> String {
    let st = r.status.as_str();
    let state = match (&r.accepted, &r.run) {
        (_, Some(run)) => format!(
            " · run {}: {}",
            esc(run.run_id.as_deref().unwrap_or("")),
            esc(&run.status)
        ),
        (Some(_), None) => format!(" · {}", t(lang, "ui.queued_badge")),
        _ => String::new(),
    };
    let shown = t(lang, &format!("ui.st.{st}"));
    format!("<span class=\"s {st}\">{shown}</span>{state}")
}

async fn home(State(s): S, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let Some((session, who)) = s.session(&headers) else {
        return Redirect::to("/signin").into_response();
    };
    let options: String = s
        .pipelines_of(&who)
        .map(|p| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                esc(&p.id),
                esc(&p.name),
                esc(&p.id)
            )
        })
        .collect();
    let rows: String = s
        .store
        .all()
        .iter()
        .filter(|r| r.country == who.country)
        .map(|r| {
            format!(
                "<tr><td><a href=\"/uploads/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.original_name),
                esc(&r.pipeline),
                size_text(r.size),
                status_badge(r, lang),
                id = esc(&r.id)
            )
        })
        .collect();
    let uploads = match rows.is_empty() {
        true => format!("<p class=note>{}</p>", t(lang, "ui.no_uploads")),
        false => format!(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table>",
            t(lang, "ui.upload"),
            t(lang, "ui.file"),
            t(lang, "ui.pipeline"),
            t(lang, "ui.size"),
            t(lang, "ui.status")
        ),
    };
    let body =
        format!(
        "<section><h2>{h_up}</h2><form method=post action=/uploads enctype=multipart/form-data>\
         <input type=hidden name=csrf value=\"{csrf}\">\
         <p><label>{l_pipeline} <select name=pipeline required>{options}</select></label></p>\
         <p><label>{l_file} <input type=file name=file required></label></p>\
         <p class=note>{limit}</p>\
         <p><button>{b_up}</button></p></form></section>\
         <section><h2>{h_yours}</h2>{uploads}<p class=note>{q}</p></section>{stats}",
        h_up = t(lang, "ui.upload_a_file"),
        l_pipeline = t(lang, "ui.pipeline"),
        l_file = t(lang, "ui.file"),
        limit = esc(&say(lang, "ui.files_up_to", &[("mb", &s.max_mb.to_string())])),
        b_up = t(lang, "ui.upload_button"),
        h_yours = t(lang, "ui.your_uploads"),
        stats = match s.warehouse {
            Some(_) => "<section><h2>Statistics</h2><p><a href=/statistics>Your country's \
                        labour-migration statistics</a>: time series, pyramid, reliability, \
                        remittances and mirror statistics from the warehouse.</p></section>",
            None => "",
        },
        csrf = session.csrf,
        q = esc(&say(lang, "ui.waiting", &[("n", &s.pool.waiting().to_string())]))
    );
    page(
        StatusCode::OK,
        lang,
        &say(lang, "ui.uploads_for", &[("country", &who.country)]),
        Some((&session, &who)),
        &body,
    )
}

fn signin_form(msg: &str, lang: Lang) -> String {
    format!(
        "{msg}<section><form method=post action=/signin><p><label>{} \
         <input type=password name=token size=70 autocomplete=off required></label></p>\
         <p><button>{}</button></p></form>\
         <p class=note>{}</p></section>",
        t(lang, "ui.token"),
        t(lang, "ui.sign_in"),
        t(lang, "ui.token_note")
    )
}

async fn signin_page(headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let title = text(lang, "ui.sign_in");
    page(StatusCode::OK, lang, title, None, &signin_form("", lang))
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

async fn signin(State(s): S, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let lang = lang_of(&headers);
    if cross_site(&headers) {
        return forbidden(&s, &headers, None, "POST /signin");
    }
    match s.who(&f.token) {
        Some(who) => match s.sessions.start(&who.token_id, &who.country) {
            Ok(cookie) => {
                s.audit.log(
                    "sign_in",
                    json!({ "country": who.country, "token_id": who.token_id }),
                );
                ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
            }
            Err(e) => page(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                text(lang, "ui.sign_in"),
                None,
                &esc(&e.to_string()),
            ),
        },
        None => {
            s.audit.log(
                "sign_in_refused",
                json!({ "reason": "unknown or revoked token" }),
            );
            let msg = format!("<p class=err>{}</p>", t(lang, "ui.token_bad"));
            let title = text(lang, "ui.sign_in");
            page(
                StatusCode::UNAUTHORIZED,
                lang,
                title,
                None,
                &signin_form(&msg, lang),
            )
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

fn forbidden(s: &Server, headers: &HeaderMap, who: Option<&Who>, what: &str) -> Response {
    s.audit.log(
        "refused",
        json!({ "request": what, "reason": "cross-site or expired form", "status": 403,
                "country": who.map(|w| &w.country), "token_id": who.map(|w| &w.token_id) }),
    );
    let lang = lang_of(headers);
    let body = format!(
        "<p>{} <a href=/>{}</a></p>",
        t(lang, "ui.form_expired"),
        t(lang, "ui.reload")
    );
    page(
        StatusCode::FORBIDDEN,
        lang,
        text(lang, "ui.form_refused"),
        None,
        &body,
    )
}

/// The session of a form post whose CSRF token is right, or the answer refusing it.
fn form_session(
    s: &Server,
    headers: &HeaderMap,
    csrf: Option<&str>,
    what: &str,
) -> Result<(Session, Who), Response> {
    let Some((session, who)) = s.session(headers) else {
        return Err(Redirect::to("/signin").into_response());
    };
    if cross_site(headers) || csrf.is_some_and(|c| !csrf_ok(&session, Some(c))) {
        return Err(forbidden(s, headers, Some(&who), what));
    }
    Ok((session, who))
}

async fn signout(State(s): S, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let c = f.csrf.unwrap_or_default();
    if let Err(r) = form_session(&s, &headers, Some(&c), "POST /signout") {
        return r;
    }
    let cookie = s.sessions.end(&headers);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/signin")).into_response()
}

async fn upload_form(
    State(s): S,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    let (session, who) = match form_session(&s, &headers, None, "POST /uploads") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let result = match mp {
        Ok(mp) => receive(&s, &who, mp, Some(&session)).await,
        Err(e) => Err(Refusal::Malformed(e.body_text())),
    };
    match result {
        Ok(r) => Redirect::to(&format!("/uploads/{}", r.id)).into_response(),
        Err(Refusal::BadCsrf) => forbidden(&s, &headers, Some(&who), "POST /uploads"),
        Err(e) => {
            s.audit.log(
                "refused",
                json!({ "country": who.country, "token_id": who.token_id, "request": "POST /uploads",
                        "status": e.code(), "reason": e.message(s.max_mb, Lang::En) }),
            );
            let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::BAD_REQUEST);
            let lang = lang_of(&headers);
            let msg = e.message(s.max_mb, lang);
            let title = match e {
                Refusal::TooLarge => text(lang, "ui.too_large"),
                _ => text(lang, "ui.refused"),
            };
            let body = format!(
                "<section><p class=err>{}.</p><p><a href=/>{}</a></p></section>",
                esc(&msg),
                t(lang, "ui.back")
            );
            page(code, lang, title, Some((&session, &who)), &body)
        }
    }
}

fn not_found(s: &Server, session: &Session, who: &Who, what: &str, lang: Lang) -> Response {
    s.audit.log(
        "refused",
        json!({ "country": who.country, "token_id": who.token_id, "request": what, "status": 404 }),
    );
    page(
        StatusCode::NOT_FOUND,
        lang,
        text(lang, "ui.not_found_title"),
        Some((session, who)),
        &format!(
            "<p>{} <a href=/>{}</a></p>",
            t(lang, "ui.not_found"),
            t(lang, "ui.your_uploads")
        ),
    )
}

async fn upload_page(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let lang = lang_of(&headers);
    let Some((session, who)) = s.session(&headers) else {
        return Redirect::to("/signin").into_response();
    };
    let Some(r) = s.upload_of(&who, &id) else {
        return not_found(&s, &session, &who, "GET /uploads/ID", lang);
    };
    let action = match (r.status, &r.accepted, &r.run) {
        (_, _, Some(run)) => format!(
            "<p>{}</p>",
            esc(&say(lang, "ui.processed", &[
                ("run", run.run_id.as_deref().unwrap_or("")),
                ("status", &run.status),
                ("code", &run.exit_code.to_string()),
            ]))
        ),
        (_, Some(a), None) => format!(
            "<p><b>{}</b> {}.</p>",
            t(lang, "ui.queued"),
            esc(&say(lang, "ui.queued_since", &[("time", &a.time)]))
        ),
        (Status::Loadable, None, None) => format!(
            "<form method=post action=\"/uploads/{}/accept\"><input type=hidden name=csrf value=\"{}\">\
             <button>{}</button></form>",
            esc(&r.id), session.csrf, t(lang, "ui.accept")
        ),
        (Status::Received, ..) => format!("<p>{}</p>", t(lang, "ui.waiting_validation")),
        _ => format!("<p class=err>{}</p>", t(lang, "ui.cannot_process")),
    };
    let body = format!(
        "<section><table><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr>\
         <tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{} ({})</td></tr>\
         <tr><th>SHA-256</th><td><code>{}</code></td></tr><tr><th>{}</th><td>{}</td></tr></table>{action}</section>\
         <iframe title=\"{}\" sandbox src=\"/uploads/{id}/report.html\"></iframe>",
        t(lang, "ui.file"), esc(&r.original_name), t(lang, "ui.pipeline"), esc(&r.pipeline),
        t(lang, "ui.received"), esc(&r.received), t(lang, "ui.size"), size_text(r.size),
        plural(lang, "ui.bytes", r.size, &[]),
        esc(&r.sha256), t(lang, "ui.status"), status_badge(&r, lang), t(lang, "ui.report_frame"),
        id = esc(&r.id)
    );
    page(
        StatusCode::OK,
        lang,
        &say(lang, "ui.upload_title", &[("id", &r.id)]),
        Some((&session, &who)),
        &body,
    )
}

async fn report_page(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let lang = lang_of(&headers);
    let Some((session, who)) = s.session(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match s.upload_of(&who, &id) {
        Some(r) => report_body_in(&s, &r, lang),
        None => not_found(&s, &session, &who, "GET /uploads/ID/report.html", lang),
    }
}

/// The signed-in country's `migstat report` page, from the service's `--warehouse`.
async fn statistics(State(s): S, headers: HeaderMap) -> Response {
    let Some((_, who)) = s.session(&headers) else {
        return Redirect::to("/signin").into_response();
    };
    let Some(wh) = s.warehouse.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let area = who.country.clone();
    let built =
        tokio::task::spawn_blocking(move || crate::report::page_html(&wh, &area, None)).await;
    match built {
        Ok(Ok(html)) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><meta charset=utf-8><style>{CSS}</style><main><p>No statistics for {} in the warehouse yet.</p></main>",
                esc(&who.country)
            ),
        )
            .into_response(),
    }
}

/// The upload's HTML validation report (or, for an unreadable file, a page saying why).
pub fn report_body(s: &Server, r: &Record) -> Response {
    report_body_in(s, r, Lang::En)
}

/// `report_body` in `lang` (the English page for an upload validated before its translations).
pub fn report_body_in(s: &Server, r: &Record, lang: Lang) -> Response {
    let dir = s.store.root.join(&r.id);
    let html = std::fs::read_to_string(dir.join(report_file(lang)))
        .or_else(|_| std::fs::read_to_string(dir.join(report_file(Lang::En))))
        .unwrap_or_else(|_| {
            let why = r
                .summary
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("not validated yet");
            format!(
                "<!doctype html><meta charset=utf-8><style>{CSS}</style><main><h1>{}</h1>\
             <p class=err>The file could not be checked: {}</p></main>",
                esc(&r.original_name),
                esc(why)
            )
        });
    let csp =
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";
    (
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        html,
    )
        .into_response()
}

async fn accept(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = lang_of(&headers);
    let c = f.csrf.unwrap_or_default();
    let (session, who) = match form_session(&s, &headers, Some(&c), "POST /uploads/ID/accept") {
        Ok(v) => v,
        Err(r) => return r,
    };
    match s.accept(&who, &id) {
        Ok(r) => Redirect::to(&format!("/uploads/{}", r.id)).into_response(),
        Err(404) => not_found(&s, &session, &who, "POST /uploads/ID/accept", lang),
        Err(_) => page(
            StatusCode::CONFLICT,
            lang,
            text(lang, "ui.not_accepted"),
            Some((&session, &who)),
            &format!("<p>{}</p>", t(lang, "ui.only_loadable")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upload_status_has_its_words_in_the_catalogue() {
        for st in [
            Status::Received,
            Status::Loadable,
            Status::Errors,
            Status::Unreadable,
        ] {
            let key = format!("ui.st.{}", st.as_str());
            assert!(crate::validate::messages::has(&key), "{key}");
        }
    }

    #[test]
    fn the_report_file_follows_the_language() {
        assert_eq!(report_file(Lang::En), "validation.html");
        assert_eq!(report_file(Lang::Fr), "validation.fr.html");
    }
}
