//! Browser sessions and their CSRF tokens. Signing in with a token makes a random session id,
//! sent as an `HttpOnly; SameSite=Strict` cookie and kept here only as its SHA-256; the token
//! itself never goes into a cookie (a leaked cookie dies with its session: eight hours, sign-out,
//! or the token's revocation). Each session has its own CSRF token, put in every form and
//! checked, in constant time, on every form post.
//!
//! The sessions are kept in a file of the uploads folder (`.sessions.json`, written whole under a
//! temporary name and renamed, readable by its owner only), so a restart of the service does not
//! sign anyone out. The file holds the hashes, never a cookie: reading it does not give a session.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tokens::{hex, random_hex};

pub const COOKIE: &str = "migstat_session";
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most; past it the oldest are dropped (sign-ins are by token, so this bounds
/// the file whatever a token holder does).
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub token_id: String,
    pub country: String,
    pub csrf: String,
    /// Seconds since the Unix epoch.
    started: u64,
}

impl Session {
    fn live(&self, now: u64) -> bool {
        now >= self.started && now - self.started < LIFETIME.as_secs()
    }
}

pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
    file: PathBuf,
}

fn hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sessions {
    /// The sessions kept in `file` (none yet when it does not exist; an unreadable or damaged
    /// file is an error naming it, never silently a fresh start).
    pub fn open(file: PathBuf) -> crate::error::Result<Sessions> {
        let by_hash = match std::fs::read(&file) {
            Ok(body) => serde_json::from_slice::<HashMap<String, Session>>(&body).map_err(|e| {
                crate::error::MigError::Other(format!(
                    "{}: not a sessions file ({e}); remove it to sign everyone out",
                    file.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(crate::error::MigError::io(&file, e)),
        };
        Ok(Sessions {
            by_hash: Mutex::new(by_hash),
            file,
        })
    }

    fn save(&self, m: &HashMap<String, Session>) -> crate::error::Result<()> {
        let body = serde_json::to_vec(m).unwrap_or_default();
        super::store::write_private(&self.file, &body)
    }

    /// Starts a session; returns the `Set-Cookie` value.
    pub fn start(&self, token_id: &str, country: &str) -> crate::error::Result<String> {
        let id = random_hex(32)?;
        let s = Session {
            token_id: token_id.to_string(),
            country: country.to_string(),
            csrf: random_hex(32)?,
            started: now(),
        };
        let mut m = self
            .by_hash
            .lock()
            .map_err(|_| crate::error::MigError::Other("sessions lock poisoned".into()))?;
        let t = now();
        m.retain(|_, s| s.live(t));
        while m.len() >= MAX_SESSIONS {
            let oldest = m
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => m.remove(&k),
                None => break,
            };
        }
        m.insert(hash(&id), s);
        self.save(&m)?;
        Ok(format!(
            "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            LIFETIME.as_secs()
        ))
    }

    /// The live session of the request's cookie.
    pub fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let m = self.by_hash.lock().ok()?;
        m.get(&hash(&id)).filter(|s| s.live(now())).cloned()
    }

    /// Ends the request's session; returns the `Set-Cookie` value that clears the cookie.
    pub fn end(&self, headers: &HeaderMap) -> String {
        if let (Some(id), Ok(mut m)) = (cookie(headers), self.by_hash.lock()) {
            if m.remove(&hash(&id)).is_some() {
                // A session that outlives its sign-out in the file would come back on a restart:
                // the cookie is cleared either way, and the failure is in the service's log.
                if let Err(e) = self.save(&m) {
                    eprintln!("migstat serve: sign-out not saved: {e}");
                }
            }
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
