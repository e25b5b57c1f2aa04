//! `migstat serve`: the upload service for country statisticians. A statistician signs in with
//! a token (`tokens.rs`) and sees only their country: its pipelines, an upload form, their
//! uploads and each one's validation report, the same as `migstat validate --report` writes.
//! A loadable upload can be accepted for processing; `migstat run --inbox` (`inbox.rs`) loads the
//! accepted ones. The same actions are a JSON API for scripts (`api.rs`); pages are rendered on
//! the server (`pages.rs`), with sessions and CSRF tokens (`session.rs`). Uploads are streamed
//! to disk (`upload.rs`) into a store the server names (`store.rs`), checked by a bounded pool of
//! workers (`workers.rs`), and every action goes to an append-only audit log (`audit.rs`).
//! TLS is a reverse proxy's job (README: *Upload service*).
pub mod api;
pub mod audit;
pub mod inbox;
pub mod pages;
pub mod session;
pub mod store;
pub mod tokens;
pub mod upload;
pub mod workers;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;

use crate::error::{MigError, Result};
use crate::pipeline::{Job, Kind};
pub use tokens::{TokenArgs, TokenCommand};
use upload::Refusal;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Folder of pipeline files; each survey pipeline is offered to its `ref_area`'s tokens.
    #[arg(long)]
    pub pipelines: PathBuf,
    /// Token file (`migstat token add COUNTRY --tokens FILE`).
    #[arg(long)]
    pub tokens: PathBuf,
    /// Folder of the uploads, their records and the audit log (`migstat run --inbox` reads it).
    #[arg(long)]
    pub uploads: PathBuf,
    /// Address to listen on (plain HTTP: put a TLS reverse proxy in front).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest file accepted, in MiB (set the proxy's body limit to match).
    #[arg(long, default_value_t = 2048)]
    pub max_upload_mb: u64,
    /// Uploads validated at once (default: half the cores, at least one); others wait in a queue.
    #[arg(long)]
    pub workers: Option<usize>,
    /// A warehouse whose statistics each country's page links (`migstat report`'s page for the
    /// signed-in country, rendered on request).
    #[arg(long, env = "MIGSTAT_WAREHOUSE")]
    pub warehouse: Option<PathBuf>,
}

/// A survey pipeline offered by the service.
#[derive(Debug, Clone)]
pub struct Offered {
    pub id: String,
    pub name: String,
    pub country: String,
    pub path: PathBuf,
}

/// Who made a request: a valid token's id and country.
#[derive(Debug, Clone)]
pub struct Who {
    pub token_id: String,
    pub country: String,
}

/// What every request handler shares.
pub struct Server {
    pub pipelines: Vec<Offered>,
    pub tokens: PathBuf,
    pub store: store::Store,
    pub audit: Arc<audit::Audit>,
    pub pool: workers::Pool,
    pub sessions: session::Sessions,
    pub max_bytes: u64,
    pub max_mb: u64,
    pub warehouse: Option<PathBuf>,
}

impl Server {
    /// The token's owner, when `token` is a valid token (the file is read on each call, so
    /// `token add` and `token revoke` take effect at once).
    pub fn who(&self, token: &str) -> Option<Who> {
        let entries = tokens::read(&self.tokens).ok()?;
        tokens::verify(&entries, token).map(|t| Who {
            token_id: t.id,
            country: t.country,
        })
    }

    /// The caller of an API request (`Authorization: Bearer TOKEN`).
    pub fn bearer(&self, headers: &HeaderMap) -> Option<Who> {
        let h = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = h.trim().split_once(' ')?;
        match scheme.eq_ignore_ascii_case("bearer") {
            true => self.who(token),
            false => None,
        }
    }

    /// The caller of a page: a session whose token has not been revoked since.
    pub fn session(&self, headers: &HeaderMap) -> Option<(session::Session, Who)> {
        let s = self.sessions.get(headers)?;
        let entries = tokens::read(&self.tokens).ok()?;
        entries.iter().find(|t| t.id == s.token_id)?;
        let who = Who {
            token_id: s.token_id.clone(),
            country: s.country.clone(),
        };
        Some((s, who))
    }

    pub fn pipelines_of<'a>(&'a self, who: &'a Who) -> impl Iterator<Item = &'a Offered> {
        self.pipelines.iter().filter(|p| p.country == who.country)
    }

    /// The caller's pipeline `id`: another country's is not found, an unknown one a bad request.
    pub fn pipeline_of(&self, who: &Who, id: &str) -> std::result::Result<&Offered, Refusal> {
        match self.pipelines.iter().find(|p| p.id == id) {
            Some(p) if p.country == who.country => Ok(p),
            Some(_) => Err(Refusal::NotFound),
            None => Err(Refusal::UnknownPipeline(id.to_string())),
        }
    }

    /// The caller's upload `id` (another country's is `None`, like one that does not exist).
    pub fn upload_of(&self, who: &Who, id: &str) -> Option<store::Record> {
        self.store.get(id).filter(|r| r.country == who.country)
    }

    /// Accepts the caller's upload for processing: `Err(409)` when it is not loadable.
    pub fn accept(&self, who: &Who, id: &str) -> std::result::Result<store::Record, u16> {
        let r = self.upload_of(who, id).ok_or(404u16)?;
        if r.status != store::Status::Loadable {
            self.audit.log(
                "accept_refused",
                serde_json::json!({ "upload": id, "country": who.country, "token_id": who.token_id, "status": r.status.as_str() }),
            );
            return Err(409);
        }
        let done = self.store.update(id, |r| {
            if r.accepted.is_none() {
                r.accepted = Some(store::Accepted {
                    time: crate::batch::summary::iso_now(),
                    token_id: who.token_id.clone(),
                });
            }
            Ok(())
        });
        let done = done.ok().flatten().ok_or(500u16)?;
        self.audit.log(
            "accept",
            serde_json::json!({ "upload": id, "country": who.country, "token_id": who.token_id, "pipeline": done.pipeline }),
        );
        Ok(done)
    }
}

/// The survey pipelines of a folder (others, and files that do not load, are skipped with a
/// warning).
pub fn offered(dir: &Path, err: &mut dyn Write) -> Result<Vec<Offered>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| MigError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        match Job::load(&f, None) {
            Ok(Job {
                kind: Kind::Survey(p, _),
                ..
            }) => out.push(Offered {
                id: p.pipeline.id.clone(),
                name: p.pipeline.name.clone(),
                country: p.pipeline.ref_area.clone(),
                path: f.canonicalize().unwrap_or(f),
            }),
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(err, "warning: {} not offered: {e}", f.display());
            }
        }
    }
    Ok(out)
}

/// Runs the service until it is stopped.
pub fn run(args: &ServeArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let pipelines = offered(&args.pipelines, err)?;
    let store = store::Store::open(&args.uploads)?;
    let audit = Arc::new(audit::Audit::open(&args.uploads.join("audit.jsonl"))?);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = workers::Pool::start(
        args.workers.unwrap_or(cores / 2).max(1),
        store.clone(),
        audit.clone(),
    );
    let requeued = pool.requeue(&store);
    let max_mb = args.max_upload_mb.max(1);
    let sessions = session::Sessions::open(args.uploads.join(".sessions.json"))?;
    let server = Arc::new(Server {
        pipelines,
        tokens: args.tokens.clone(),
        store,
        audit,
        pool,
        sessions,
        max_bytes: max_mb * 1024 * 1024,
        max_mb,
        warehouse: args.warehouse.clone(),
    });
    let app = api::routes()
        .merge(pages::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(server.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| MigError::Other(format!("cannot start the server runtime: {e}")))?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| MigError::Other(format!("cannot listen on {}: {e}", args.listen)))?;
        let addr = listener.local_addr().map_err(|e| MigError::Other(e.to_string()))?;
        let _ = writeln!(
            out,
            "migstat serve: listening on http://{addr} ({} pipelines, {requeued} uploads queued again)",
            server.pipelines.len()
        );
        let _ = out.flush();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| MigError::Other(format!("the server stopped: {e}")))
    })?;
    Ok(0)
}
