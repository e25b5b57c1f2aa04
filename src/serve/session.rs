//! Browser sessions and their CSRF tokens. Signing in with a token makes a random session id,
//! sent as an `HttpOnly; SameSite=Strict` cookie and kept here only as its SHA-256; the token
//! itself never goes into a cookie (a leaked cookie dies with its session: eight hours, sign-out,
//! or the token's revocation). Each session has its own CSRF token, put in every form and
//! checked, in constant time, on every form post.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tokens::{hex, random_hex};

pub const COOKIE: &str = "migstat_session";
const LIFETIME: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug, Clone)]
pub struct Session {
    pub token_id: String,
    pub country: String,
    pub csrf: String,
    started: Instant,
}

#[derive(Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
}

fn hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

impl Sessions {
    /// Starts a session; returns the `Set-Cookie` value.
    pub fn start(&self, token_id: &str, country: &str) -> crate::error::Result<String> {
        let id = random_hex(32)?;
        let s = Session {
            token_id: token_id.to_string(),
            country: country.to_string(),
            csrf: random_hex(32)?,
            started: Instant::now(),
        };
        if let Ok(mut m) = self.by_hash.lock() {
            m.retain(|_, s| s.started.elapsed() < LIFETIME);
            m.insert(hash(&id), s);
        }
        Ok(format!(
            "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            LIFETIME.as_secs()
        ))
    }

    /// The live session of the request's cookie.
    pub fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let m = self.by_hash.lock().ok()?;
        m.get(&hash(&id))
            .filter(|s| s.started.elapsed() < LIFETIME)
            .cloned()
    }

    /// Ends the request's session; returns the `Set-Cookie` value that clears the cookie.
    pub fn end(&self, headers: &HeaderMap) -> String {
        if let (Some(id), Ok(mut m)) = (cookie(headers), self.by_hash.lock()) {
            m.remove(&hash(&id));
        }
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether a form's CSRF field matches the session's.
pub fn csrf_ok(s: &Session, sent: Option<&str>) -> bool {
    let sent = sent.unwrap_or("");
    sent.len() == s.csrf.len() && bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes()))
}

/// A post from another site: its `Origin` (sent by browsers on every form post) names another
/// host than the one it was sent to.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let get = |h| {
        headers
            .get(h)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    match (
        get(axum::http::header::ORIGIN),
        get(axum::http::header::HOST),
    ) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let o = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            !o.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}
