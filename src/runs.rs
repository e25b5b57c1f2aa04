//! Run manifests and lineage: what each run read (size, sha256), wrote, replaced and concluded;
//! the listing behind `migstat runs`, the fingerprints behind incremental skips, `rollback` and
//! `gc`. A manifest is its run's commit record (see `load/commit.rs`): a run without one never
//! happened.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{MigError, Result};
use crate::load::catalog::{self, SourceRow};
use crate::load::commit;
use crate::load::lock::{state_dir, Lock, Wait};
use crate::load::parquet::FileMeta;
use crate::load::warehouse::{Published, Staged, WAREHOUSE};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InputFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub run_id: String,
    /// The transaction that last wrote this manifest (the run's, or the rollback's).
    pub txn: String,
    /// Commit order in the warehouse (1, 2, …).
    pub seq: u64,
    pub started: String,
    pub finished: String,
    pub migstat_version: String,
    /// The binary's build identity (version + hash of the sources it was built from).
    pub build: String,
    pub pipeline_id: String,
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub schema_hash: String,
    pub schema_version: String,
    /// Options that change what is written (`microdata=…`).
    pub options: String,
    pub fingerprint: String,
    /// Why the run ran (a changed input, pipeline, schemas, build, option, or `--force`).
    pub reason: String,
    pub inputs: Vec<InputFile>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    pub files_added: Vec<String>,
    pub files_replaced: Vec<String>,
    pub files_unchanged: Vec<String>,
    /// Where microdata went when not into the warehouse (`--microdata-dir`).
    pub microdata_dir: Option<String>,
    /// The survey's row of `catalog/sources`.
    pub source: Option<SourceRow>,
    /// Per input: rows read/loaded/quarantined, errors, warnings.
    pub validation: serde_json::Value,
    /// `ok`, `rejected` (validation errors), `failed`, `rolled back`.
    pub status: String,
    pub exit_code: i32,
    pub error: Option<String>,
}

impl Manifest {
    pub fn set_published(&mut self, p: &Published) {
        self.files_added = p.added.clone();
        self.files_replaced = p.replaced.clone();
        self.files_unchanged = p.unchanged.clone();
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| MigError::Other(e.to_string()))
    }

    /// Files this run changed (added or replaced), catalog files aside: those are derived and
    /// rewritten by every commit.
    fn changed(&self) -> BTreeSet<&str> {
        self.files_added
            .iter()
            .chain(&self.files_replaced)
            .map(String::as_str)
            .filter(|f| !f.starts_with("catalog/"))
            .collect()
    }

    /// The root and relative path of one of this run's files.
    fn locate(&self, root: &Path, f: &str) -> (usize, PathBuf, PathBuf) {
        let p = Path::new(f);
        if let (true, Some(md)) = (p.is_absolute(), &self.microdata_dir) {
            if let Ok(rel) = p.strip_prefix(md) {
                return (1, PathBuf::from(md), rel.to_path_buf());
            }
        }
        (WAREHOUSE, root.to_path_buf(), p.to_path_buf())
    }
}

/// The manifest path of a run, relative to the warehouse.
pub fn manifest_rel(run_id: &str) -> PathBuf {
    Path::new("runs").join(run_id).join("manifest.json")
}

/// What identifies one version of a file on this machine: device, inode, size and modification
/// time to the nanosecond.
type Version = (u64, u64, u64, i64, i64);

fn version(m: &std::fs::Metadata) -> Version {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec())
}

/// Hashes this process already took, by path and file version: a run hashes its input for the
/// fingerprint and its validation report names the same hash, from one read of the file.
static HASHED: std::sync::Mutex<BTreeMap<PathBuf, (Version, String)>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Files whose hash the next reader to open them takes as it reads ([`hash_when_read`]).
static WANTED: std::sync::Mutex<BTreeSet<PathBuf>> = std::sync::Mutex::new(BTreeSet::new());

/// Asks that the next reader opening `path` from its start ([`hashing`]) hash it as it reads:
/// a run's input is then read once for its rows and its hash together. When that reader does
/// not reach the end, or the file changes meanwhile, [`hash_file`] reads the file instead.
/// Dropping the request withdraws it, if no reader took it.
pub fn hash_when_read(path: &Path) -> HashRequest {
    if let Ok(mut w) = WANTED.lock() {
        w.insert(path.to_path_buf());
    }
    HashRequest(path.to_path_buf())
}

/// A request of [`hash_when_read`], withdrawn when dropped.
pub struct HashRequest(PathBuf);

impl Drop for HashRequest {
    fn drop(&mut self) {
        if let Ok(mut w) = WANTED.lock() {
            w.remove(&self.0);
        }
    }
}

/// `file` (just opened at `path`, not read yet), hashing what passes when its hash was asked
/// for ([`hash_when_read`]); the first reader to open the file takes the request.
pub fn hashing(path: &Path, file: std::fs::File) -> Box<dyn Read + Send> {
    if !WANTED.lock().is_ok_and(|mut w| w.remove(path)) {
        return Box::new(file);
    }
    let Ok(before) = file.metadata().map(|m| version(&m)) else {
        return Box::new(file);
    };
    Box::new(HashingRead {
        file,
        path: path.to_path_buf(),
        before,
        hasher: Some(Sha256::new()),
        size: 0,
    })
}

/// A file read once for its consumer and its hash: at its end, when the file is the version
/// it was when opened and every byte passed, the hash enters the memo [`hash_file`] reads; a
/// file that changed meanwhile is an error of the read (the rows read are of no one version).
struct HashingRead {
    file: std::fs::File,
    path: PathBuf,
    before: Version,
    /// `None` once the end was read.
    hasher: Option<Sha256>,
    size: u64,
}

impl Read for HashingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            if let Some(h) = &mut self.hasher {
                h.update(&buf[..n]);
                self.size += n as u64;
            }
        } else if buf.is_empty() {
            // Not the end: nothing was asked for.
        } else if let Some(h) = self.hasher.take() {
            crate::load::failpoint::hit(&format!("read.end {}", self.path.display()))?;
            let after = self.file.metadata().map(|m| version(&m))?;
            if after != self.before || self.size != self.before.2 {
                // What was read is not one version of the file: neither its rows nor a hash
                // can be trusted.
                return Err(std::io::Error::other(
                    "the file changed while it was read (its size or modification time is not what it was when opened); run again once it is complete",
                ));
            }
            remember(&self.path, self.before, hex(&h.finalize()));
        }
        Ok(n)
    }
}

/// Keeps a file version's hash in the memo.
fn remember(path: &Path, v: Version, sha256: String) {
    if let Ok(mut m) = HASHED.lock() {
        // A long-lived process (`serve`) hashes a new file per upload: the memo stays small.
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(path.to_path_buf(), (v, sha256));
    }
}

/// sha256 and size of a file, streamed (once per version of the file in a process: a file that
/// has not changed since this process hashed it is not read again).
pub fn hash_file(path: &Path) -> Result<InputFile> {
    let mut f = std::fs::File::open(path).map_err(|e| MigError::Unreadable {
        path: path.to_path_buf(),
        msg: format!("cannot open: {e}"),
    })?;
    let stat = |f: &std::fs::File| {
        f.metadata()
            .map(|m| version(&m))
            .map_err(|e| MigError::io(path, e))
    };
    let before = stat(&f)?;
    let known = HASHED.lock().ok().and_then(|m| {
        m.get(path)
            .filter(|(v, _)| *v == before)
            .map(|(_, h)| h.clone())
    });
    let (size, sha256) = match known {
        Some(h) => (before.2, h),
        None => {
            let (size, sha256) = hash_read(&mut f, path)?;
            // Kept only when the file did not change while it was read.
            if stat(&f).is_ok_and(|after| after == before && size == before.2) {
                remember(path, before, sha256.clone());
            }
            (size, sha256)
        }
    };
    Ok(InputFile {
        path: path.display().to_string(),
        size,
        sha256,
    })
}

/// Size and SHA-256 of what is left to read of `f`.
fn hash_read(f: &mut std::fs::File, path: &Path) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| MigError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex(&h.finalize())))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The binary's build identity: the version and a hash of the sources, schemas and lock file it
/// was built from (`build.rs`), so that a fixed build reruns what an older one wrote.
pub fn build_id() -> String {
    #[cfg(feature = "failpoints")]
    if let Ok(id) = std::env::var("MIGSTAT_TEST_BUILD_ID") {
        return id;
    }
    env!("MIGSTAT_BUILD_ID").to_string()
}

/// Everything that shapes a run's outputs.
#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    pub pipeline_sha: String,
    pub schema_hash: String,
    pub inputs: Vec<InputFile>,
    pub build: String,
    pub options: String,
}

impl Fingerprint {
    pub fn digest(&self) -> String {
        let mut parts = vec![
            self.build.clone(),
            self.pipeline_sha.clone(),
            self.schema_hash.clone(),
            self.options.clone(),
        ];
        parts.extend(self.inputs.iter().map(|i| i.sha256.clone()));
        sha256_hex(parts.join("\n").as_bytes())
    }

    /// Why this fingerprint differs from the last successful run's (`None`: it does not).
    pub fn changed_since(&self, last: Option<&Manifest>) -> Option<String> {
        let Some(m) = last else {
            return Some("first run".into());
        };
        if m.fingerprint == self.digest() {
            return None;
        }
        let reason = self.settings_changed(m).unwrap_or_else(|| {
            self.input_changed(m).map_or_else(
                || "inputs changed".into(),
                |i| format!("input changed: {}", i.path),
            )
        });
        Some(reason)
    }

    /// What besides the inputs differs from run `m`: the build, the pipeline file, the schemas
    /// or the output options, in that order.
    pub fn settings_changed(&self, m: &Manifest) -> Option<String> {
        if m.build != self.build {
            Some(format!("build changed ({} → {})", m.build, self.build))
        } else if m.pipeline_sha256 != self.pipeline_sha {
            Some("pipeline file changed".into())
        } else if m.schema_hash != self.schema_hash {
            Some("schemas changed".into())
        } else if m.options != self.options {
            Some(format!(
                "options changed ({} → {})",
                m.options, self.options
            ))
        } else {
            None
        }
    }

    /// The first of this fingerprint's inputs that run `m` did not read as it is.
    pub fn input_changed(&self, m: &Manifest) -> Option<&InputFile> {
        self.inputs
            .iter()
            .enumerate()
            .find(|(k, i)| m.inputs.get(*k).is_none_or(|o| o.sha256 != i.sha256))
            .map(|(_, i)| i)
    }
}

/// All manifests of a warehouse, in commit order.
pub fn list(root: &Path) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = std::fs::read_dir(root.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("manifest.json")).ok())
        .filter_map(|t| serde_json::from_slice(&t).ok())
        .collect();
    out.sort_by(|a, b| (a.seq, &a.run_id).cmp(&(b.seq, &b.run_id)));
    out
}

/// The next commit number.
pub fn next_seq(root: &Path) -> u64 {
    list(root).iter().map(|m| m.seq).max().unwrap_or(0) + 1
}

/// The run that decides whether `pipeline_id` must run again: its last run that was neither
/// rejected nor failed (an `ok` run, or one rolled back, which forces a rerun).
pub fn last_run(root: &Path, pipeline_id: &str) -> Option<Manifest> {
    list(root)
        .into_iter()
        .rev()
        .find(|m| m.pipeline_id == pipeline_id && m.status != "rejected" && m.status != "failed")
}

/// The last successful run of `pipeline_id` if its fingerprint is `fp` and all its files are
/// still there.
pub fn unchanged_since(root: &Path, pipeline_id: &str, fp: &str) -> Option<Manifest> {
    last_run(root, pipeline_id)
        .filter(|m| m.status == "ok" && m.fingerprint == fp)
        .filter(|m| {
            m.files_added
                .iter()
                .chain(&m.files_replaced)
                .chain(&m.files_unchanged)
                .all(|f| root.join(f).is_file())
        })
}

/// Commits tables that migstat derives from the warehouse itself (`mirror`) as one run of
/// pseudo-pipeline `name`: under the lock, after recovery, with a manifest like a pipeline's.
pub fn commit_derived(
    root: &Path,
    name: &str,
    tables: &[(&Path, arrow_array::RecordBatch)],
    rows: u64,
) -> Result<Published> {
    let _lock = Lock::acquire(root, &format!("migstat {name}"), Wait::No)?;
    commit::recover(root)?;
    let run_id = crate::pipeline::new_run_id(name);
    let mut staged = Staged::new(root, &run_id)?;
    let meta = FileMeta {
        run_id: &run_id,
        schema_version: "1",
    };
    for (rel, batch) in tables {
        if let Err(e) = staged.parquet(rel, batch, &meta) {
            staged.abandon();
            return Err(e);
        }
    }
    let m = Manifest {
        run_id: run_id.clone(),
        txn: run_id.clone(),
        started: crate::load::warehouse::now_stamp(),
        migstat_version: crate::VERSION.to_string(),
        build: build_id(),
        pipeline_id: name.to_string(),
        pipeline: format!("migstat {name}"),
        reason: "derived from the warehouse".into(),
        rows_read: rows,
        rows_loaded: rows,
        status: "ok".into(),
        ..Default::default()
    };
    let _g = commit::guard();
    commit_manifest(staged, m, root)
}

/// Commits `staged` with manifest `m` as its record (`runs/<RUN_ID>/manifest.json`): what was
/// published, the next commit number and the finish time are filled in at the commit. The
/// caller holds the lock and `commit::guard`.
pub fn commit_manifest(staged: Staged, mut m: Manifest, root: &Path) -> Result<Published> {
    let record = manifest_rel(&m.run_id);
    staged.commit(&record, |p| {
        m.set_published(p);
        m.seq = next_seq(root);
        m.finished = crate::load::warehouse::now_stamp();
        m.to_bytes()
    })
}

/// How `rollback` goes about it.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Undo the later runs that changed the same files first, newest first.
    pub cascade: bool,
    /// List what would be restored and removed; change nothing.
    pub dry_run: bool,
    pub wait: Wait,
}

/// Undoes run `run_id`: restores what it replaced and removes what it added, in one transaction,
/// only if no later run changed the same files (else refuses naming them, or with `cascade`
/// undoes those first, newest first).
pub fn rollback(root: &Path, run_id: &str, o: &RollbackOptions, log: &mut dyn Write) -> Result<()> {
    let _lock = Lock::acquire(root, &format!("migstat rollback {run_id}"), o.wait)?;
    commit::recover(root)?;
    let all = list(root);
    let Some(target) = all.iter().find(|m| m.run_id == run_id) else {
        return Err(MigError::Other(format!(
            "no run {run_id} in {} (see `migstat runs`)",
            root.display()
        )));
    };
    if target.status != "ok" {
        return Err(MigError::Other(format!(
            "run {run_id} has status {:?}: nothing to roll back",
            target.status
        )));
    }
    let chain = cascade_chain(&all, target);
    if chain.len() > 1 && !o.cascade {
        let later: Vec<String> = chain[..chain.len() - 1]
            .iter()
            .map(|m| format!("{} ({})", m.run_id, m.pipeline_id))
            .collect();
        return Err(MigError::Other(format!(
            "run {run_id} cannot be rolled back alone: later runs changed the same files: {}. \
             Roll those back first, or use --cascade to undo them newest first",
            later.join(", ")
        )));
    }
    for m in chain {
        undo_run(root, m, o.dry_run, log)?;
    }
    Ok(())
}

/// The run and every later `ok` run that changed a file it or another of them changed, newest
/// first.
fn cascade_chain<'a>(all: &'a [Manifest], target: &'a Manifest) -> Vec<&'a Manifest> {
    let mut files: BTreeSet<&str> = target.changed();
    let mut chain = vec![target];
    let key = |m: &Manifest| (m.seq, m.run_id.clone());
    for m in all
        .iter()
        .filter(|m| key(m) > key(target) && m.status == "ok")
    {
        let changed = m.changed();
        if !changed.is_disjoint(&files) {
            files.extend(changed);
            chain.push(m);
        }
    }
    chain.reverse();
    chain
}

/// One run undone in one transaction (or listed, on a dry run).
fn undo_run(root: &Path, m: &Manifest, dry_run: bool, log: &mut dyn Write) -> Result<()> {
    let txn = format!("rollback-{}", crate::pipeline::new_run_id(&m.run_id));
    let mut staged = Staged::new(root, &txn)?;
    staged.drop_backups();
    if let Some(md) = &m.microdata_dir {
        staged.add_root(Path::new(md))?;
    }
    let said = |verb: &str, f: &str| format!("{}: {verb} {f}", m.run_id);
    let mut lines = Vec::new();
    for f in m
        .files_replaced
        .iter()
        .filter(|f| !f.starts_with("catalog/"))
    {
        let (area, area_root, rel) = m.locate(root, f);
        let mut name = rel.clone().into_os_string();
        name.push(".prev");
        let copy = state_dir(&area_root)
            .join("rollback")
            .join(&m.run_id)
            .join(name);
        if !copy.is_file() {
            staged.abandon();
            return Err(MigError::Other(format!(
                "the previous version of {f} is no longer kept (pruned by gc): cannot roll back {}",
                m.run_id
            )));
        }
        lines.push(said("restore", f));
        staged.link(area, &rel, &copy)?;
    }
    for f in m.files_added.iter().filter(|f| !f.starts_with("catalog/")) {
        let (area, _, rel) = m.locate(root, f);
        lines.push(said("remove", f));
        staged.delete(area, &rel)?;
    }
    if dry_run {
        staged.abandon();
        for l in lines {
            let _ = writeln!(log, "would {l}");
        }
        return Ok(());
    }
    let _g = commit::guard();
    stage_sources_without(root, m, &mut staged)?;
    let mut undone = m.clone();
    undone.status = "rolled back".into();
    undone.txn = txn.clone();
    let bytes = undone.to_bytes()?;
    staged.commit(&manifest_rel(&m.run_id), |_| Ok(bytes))?;
    for r in [
        Some(root.to_string_lossy().to_string()),
        m.microdata_dir.clone(),
    ]
    .into_iter()
    .flatten()
    {
        let _ = std::fs::remove_dir_all(state_dir(Path::new(&r)).join("rollback").join(&m.run_id));
    }
    for l in lines {
        let _ = writeln!(log, "{l}");
    }
    let _ = writeln!(log, "{}: rolled back", m.run_id);
    Ok(())
}

/// `catalog/sources` as it is once run `m` is undone: its pipeline's row comes from its latest
/// other successful run, or goes.
fn stage_sources_without(root: &Path, m: &Manifest, staged: &mut Staged) -> Result<()> {
    let Some(src) = &m.source else {
        return Ok(());
    };
    let mut rows = catalog::existing_sources(root);
    rows.retain(|_, r| r.pipeline != src.pipeline);
    let other = list(root)
        .into_iter()
        .rev()
        .find(|o| o.pipeline_id == m.pipeline_id && o.run_id != m.run_id && o.status == "ok");
    if let Some(row) = other.and_then(|o| o.source) {
        rows.insert(row.source.clone(), row);
    }
    let id = staged.id().to_string();
    let meta = FileMeta {
        run_id: &id,
        schema_version: &m.schema_version,
    };
    catalog::stage_sources(staged, &rows, &meta)
}

/// How `gc` goes about it.
#[derive(Debug, Clone)]
pub struct GcOptions {
    pub older_than_days: u64,
    /// Successful runs kept per pipeline, whatever their age (at least 1: the latest).
    pub keep: usize,
    pub dry_run: bool,
    pub wait: Wait,
}

/// Removes the run folders, rollback copies and quarantined rows of runs older than the cut-off,
/// except each pipeline's newest `keep` successful runs (always its latest); then old downloads.
pub fn gc(root: &Path, o: &GcOptions, log: &mut dyn Write) -> Result<usize> {
    let _lock = Lock::acquire(root, "migstat gc", o.wait)?;
    if !o.dry_run {
        commit::recover(root)?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let cutoff = crate::load::warehouse::utc_stamp(now.saturating_sub(o.older_than_days * 86_400));
    let all = list(root);
    let mut kept_per: BTreeMap<&str, usize> = BTreeMap::new();
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    for m in all.iter().rev().filter(|m| m.status == "ok") {
        let n = kept_per.entry(m.pipeline_id.as_str()).or_default();
        if *n < o.keep.max(1) {
            keep.insert(m.run_id.as_str());
            *n += 1;
        }
    }
    let old = |name: &str| name.len() >= 16 && name[..16] <= cutoff[..];
    let verb = if o.dry_run { "would remove" } else { "removed" };
    let mut removed = 0;
    let mut remove = |path: PathBuf, what: String, log: &mut dyn Write| {
        if !path.exists() {
            return;
        }
        if !o.dry_run {
            let _ = std::fs::remove_dir_all(&path);
        }
        let _ = writeln!(log, "{verb} {what}");
        removed += 1;
    };
    let md_of: BTreeMap<&str, &str> = all
        .iter()
        .filter_map(|m| m.microdata_dir.as_deref().map(|d| (m.run_id.as_str(), d)))
        .collect();
    // Rollback copies and quarantine first, the manifest last: a gc cut short leaves a run whose
    // rollback says "no longer kept", never a copy without its run.
    let rollback = state_dir(root).join("rollback");
    for name in names(&rollback) {
        let of_kept = keep.iter().any(|k| name == *k);
        if old(&name) && !of_kept || name.starts_with("rollback-") {
            if let Some(md) = md_of.get(name.as_str()) {
                remove(
                    state_dir(Path::new(md)).join("rollback").join(&name),
                    format!("{md}/.migstat/rollback/{name}"),
                    log,
                );
            }
            remove(
                rollback.join(&name),
                format!(".migstat/rollback/{name}"),
                log,
            );
        }
    }
    for table in ["quarantine", "runs"] {
        for name in names(&root.join(table)) {
            if old(&name) && !keep.contains(name.as_str()) {
                remove(root.join(table).join(&name), format!("{table}/{name}"), log);
            }
        }
    }
    removed += gc_downloads(o, log);
    Ok(removed)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// Downloads by modification time, in the download cache (`MIGSTAT_CACHE_DIR` or the user's).
fn gc_downloads(o: &GcOptions, log: &mut dyn Write) -> usize {
    let limit =
        std::time::SystemTime::now() - std::time::Duration::from_secs(o.older_than_days * 86_400);
    let cache = crate::extract::cache::default_dir();
    let mut removed = 0;
    for e in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < limit);
        if !old {
            continue;
        }
        let p = e.path();
        if !o.dry_run {
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
        let verb = if o.dry_run { "would remove" } else { "removed" };
        let _ = writeln!(log, "{verb} download {}", p.display());
        removed += 1;
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_hashed_again_once_it_changed_and_not_before() {
        let dir = std::env::temp_dir().join(format!("migstat-hash-memo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("input.csv");
        let real = |p: &Path| sha256_hex(&std::fs::read(p).unwrap());
        std::fs::write(&f, b"A,B\n1,2\n").unwrap();
        let first = hash_file(&f).unwrap();
        assert_eq!(first.sha256, real(&f));
        assert_eq!(hash_file(&f).unwrap().sha256, first.sha256);
        // Another size, then the same size with other bytes (a later modification time).
        std::fs::write(&f, b"A,B\n1,2\n3,4\n").unwrap();
        assert_eq!(hash_file(&f).unwrap().sha256, real(&f));
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::write(&f, b"A,B\n1,2\n5,6\n").unwrap();
        let last = hash_file(&f).unwrap();
        assert_eq!((last.sha256, last.size), (real(&f), 12));
        // A file replaced by a rename (another inode) is hashed again too.
        let other = dir.join("other.csv");
        std::fs::write(&other, b"A,B\n1,2\n7,8\n").unwrap();
        std::fs::rename(&other, &f).unwrap();
        assert_eq!(hash_file(&f).unwrap().sha256, real(&f));
        let _ = std::fs::remove_dir_all(dir);
    }

    fn memo(path: &Path) -> Option<String> {
        HASHED.lock().unwrap().get(path).map(|(_, h)| h.clone())
    }

    fn wanted(path: &Path) -> bool {
        WANTED.lock().unwrap().contains(path)
    }

    fn open(path: &Path) -> Box<dyn Read> {
        let limits = crate::extract::limits::Limits::default();
        crate::extract::data::open_data(path, None, &limits)
            .unwrap()
            .reader
    }

    #[test]
    fn an_input_read_whole_is_hashed_by_its_reader_and_only_then() {
        let dir = std::env::temp_dir().join(format!("migstat-hash-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let real = |p: &Path| sha256_hex(&std::fs::read(p).unwrap());
        let body: String = (0..20_000).map(|i| format!("{i},{}\n", i * 7)).collect();

        // Read to its end: the reader's hash is the file's, and the request is taken.
        let whole = dir.join("whole.csv");
        std::fs::write(&whole, format!("A,B\n{body}")).unwrap();
        let request = hash_when_read(&whole);
        let mut r = open(&whole);
        assert!(!wanted(&whole), "the first reader takes the request");
        let mut second = open(&whole);
        let mut text = String::new();
        r.read_to_string(&mut text).unwrap();
        drop(request);
        assert_eq!(memo(&whole), Some(real(&whole)));
        assert_eq!(hash_file(&whole).unwrap().sha256, real(&whole));
        // The second reader did not hash (it reads on untouched).
        second.read_to_string(&mut String::new()).unwrap();

        // Gzip: the compressed file's hash, as `hash_file` reads it.
        let gz = dir.join("whole.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let _request = hash_when_read(&gz);
        let mut unzipped = String::new();
        open(&gz).read_to_string(&mut unzipped).unwrap();
        assert_eq!(unzipped, text);
        assert_eq!(memo(&gz), Some(real(&gz)));

        // A reader that stops half-way leaves nothing: `hash_file` reads the file itself.
        let half = dir.join("half.csv");
        std::fs::write(&half, format!("A,B\n{body}")).unwrap();
        let request = hash_when_read(&half);
        let mut r = open(&half);
        r.read_exact(&mut [0u8; 1000]).unwrap();
        drop(r);
        drop(request);
        assert_eq!(memo(&half), None);
        assert_eq!(hash_file(&half).unwrap().sha256, real(&half));

        // A file that grows while it is read is an error at its end, and no hash is kept.
        let grows = dir.join("grows.csv");
        std::fs::write(&grows, format!("A,B\n{body}")).unwrap();
        let _request = hash_when_read(&grows);
        let mut r = open(&grows);
        r.read_exact(&mut [0u8; 1000]).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&grows)
            .unwrap();
        std::io::Write::write_all(&mut f, b"99,99\n").unwrap();
        let e = r.read_to_string(&mut String::new()).unwrap_err();
        assert!(e.to_string().contains("changed while it was read"), "{e}");
        assert_eq!(memo(&grows), None);
        assert_eq!(hash_file(&grows).unwrap().sha256, real(&grows));

        // A request dropped before any reader came is withdrawn.
        let never = dir.join("never.csv");
        std::fs::write(&never, "A\n1\n").unwrap();
        drop(hash_when_read(&never));
        assert!(!wanted(&never));
        open(&never).read_to_string(&mut String::new()).unwrap();
        assert_eq!(memo(&never), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
