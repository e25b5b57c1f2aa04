//! The validation workers: a fixed number of threads taking uploads from one queue, so that many
//! uploads at once wait their turn instead of each holding a validation's memory. Validation is
//! `migstat validate`'s (`validate::command::validate`, with the pipeline's input limits); its
//! JSON and HTML reports are kept in the upload's folder. Uploads found still `received` when the
//! server starts (it stopped mid-validation) are queued again.
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use serde_json::json;
use tokio::sync::oneshot;

use super::audit::Audit;
use super::store::{Record, Status, Store};
use crate::validate::command::{validate, Colour};
use crate::validate::messages::Lang;
use crate::validate::ValidateArgs;

type Job = (String, Option<oneshot::Sender<Option<Record>>>);

pub struct Pool {
    tx: Mutex<mpsc::Sender<Job>>,
    waiting: Arc<AtomicUsize>,
}

impl Pool {
    /// Starts `n` workers (at least one).
    pub fn start(n: usize, store: Store, audit: Arc<Audit>) -> Pool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let waiting = Arc::new(AtomicUsize::new(0));
        for i in 0..n.max(1) {
            let (rx, store, audit, waiting) =
                (rx.clone(), store.clone(), audit.clone(), waiting.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("validate-{i}"))
                .spawn(move || loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some((id, reply)) = next else { return };
                    waiting.fetch_sub(1, Ordering::Relaxed);
                    let done = check(&store, &audit, &id);
                    if let Some(reply) = reply {
                        let _ = reply.send(done);
                    }
                });
            if let Err(e) = spawned {
                eprintln!("migstat serve: validation worker not started: {e}");
            }
        }
        Pool {
            tx: Mutex::new(tx),
            waiting,
        }
    }

    /// Queues upload `id`; the receiver gets its record once validated.
    pub fn submit(&self, id: &str) -> oneshot::Receiver<Option<Record>> {
        let (reply, rx) = oneshot::channel();
        self.send(id, Some(reply));
        rx
    }

    /// Queues every upload left `received`.
    pub fn requeue(&self, store: &Store) -> usize {
        let pending: Vec<Record> = store
            .all()
            .into_iter()
            .filter(|r| r.status == Status::Received)
            .collect();
        for r in &pending {
            self.send(&r.id, None);
        }
        pending.len()
    }

    /// Uploads waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    fn send(&self, id: &str, reply: Option<oneshot::Sender<Option<Record>>>) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send((id.to_string(), reply));
        }
    }
}

/// Validates one upload, writes its reports and status; a panic is an unreadable upload.
fn check(store: &Store, audit: &Audit, id: &str) -> Option<Record> {
    let r = store.get(id)?;
    let dir = store.root.join(id);
    let args = ValidateArgs {
        pipeline: PathBuf::from(&r.pipeline_file),
        input: Some(dir.join(&r.file)),
        report: None,
        max_per_rule: 100,
        warehouse: None,
        schemas: None,
        color: Colour::Never,
        limit: Vec::new(),
        lang: crate::validate::messages::Lang::En,
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| validate(&args)))
        .unwrap_or_else(|_| Err(crate::error::MigError::Other("the validator failed".into())));
    let (status, summary) = match outcome {
        Ok(mut report) => {
            report.without_server_paths(&dir.join(&r.file), &r.original_name);
            let written = report.write(&dir.join("validation.json")).and_then(|()| {
                Lang::ALL.into_iter().try_for_each(|lang| {
                    report.write_in(&dir.join(super::pages::report_file(lang)), lang)
                })
            });
            match written {
                Ok(()) if report.loadable => (Status::Loadable, json!(report.summary)),
                Ok(()) => (Status::Errors, json!(report.summary)),
                Err(e) => (Status::Unreadable, json!({ "error": e.to_string() })),
            }
        }
        Err(e) => {
            let msg = e.to_string().replace(&dir.display().to_string(), "upload");
            let body =
                json!({ "status": "unreadable", "loadable": false, "exit_code": 2, "error": msg });
            let _ = super::store::write_atomic(
                &dir.join("validation.json"),
                body.to_string().as_bytes(),
            );
            (Status::Unreadable, json!({ "error": msg }))
        }
    };
    let done = store.update(id, |r| {
        r.status = status;
        r.summary = summary;
        r.validated = Some(crate::batch::summary::iso_now());
        Ok(())
    });
    let done = done.ok().flatten()?;
    audit.log(
        "validation",
        json!({ "upload": id, "country": done.country, "token_id": done.token_id,
                "pipeline": done.pipeline, "status": status.as_str() }),
    );
    Some(done)
}
