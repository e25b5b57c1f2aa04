//! `migstat serve` over loopback: a child process on a free port, killed by its PID whatever
//! happens. Country isolation, 401/400/404/409/413, safe storage of hostile file names,
//! concurrent uploads, flat memory during a large streamed upload, and `run --inbox`.
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::blocking::{Body, Client, Response};
use serde_json::Value;

use crate::common::{migstat, repo, temp_dir};

/// A running `migstat serve`; dropping it kills the process.
struct Served {
    child: Child,
    base: String,
    /// Shared so that a restart keeps the folders; removed when the last owner is dropped.
    dir: std::sync::Arc<crate::common::TestDir>,
    client: Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(name: &str, max_mb: u64) -> Served {
        Served::start_with(name, max_mb, &[])
    }

    fn start_with(name: &str, max_mb: u64, extra: &[&str]) -> Served {
        Served::spawn(std::sync::Arc::new(temp_dir(name)), max_mb, extra)
    }

    /// Stops the server and starts it again on the same folders (a new port).
    fn restart(self, max_mb: u64) -> Served {
        let dir = self.dir.clone();
        drop(self);
        Served::spawn(dir, max_mb, &[])
    }

    fn spawn(dir: std::sync::Arc<crate::common::TestDir>, max_mb: u64, extra: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_migstat"))
            .arg("serve")
            .arg("--pipelines")
            .arg(repo().join("pipelines"))
            .arg("--tokens")
            .arg(dir.join("tokens.json"))
            .arg("--uploads")
            .arg(dir.join("uploads"))
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(["--max-upload-mb", &max_mb.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start migstat serve");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        let read = BufReader::new(out).read_line(&mut line);
        let mut served = Served {
            child,
            base: String::new(),
            dir,
            client: Client::builder().timeout(None).build().expect("client"),
        };
        read.expect("the server's first line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        served.base = base;
        served
    }

    fn token(&self, country: &str) -> String {
        let o = migstat(&["token", "add", country, "--tokens", &self.tokens()]);
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    fn tokens(&self) -> String {
        self.dir.join("tokens.json").display().to_string()
    }

    fn uploads(&self) -> PathBuf {
        self.dir.join("uploads")
    }

    fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .expect("GET")
    }

    fn post(&self, token: &str, path: &str) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .expect("POST")
    }

    /// `POST /api/uploads` with the given text fields and file (name, content, length).
    fn upload(
        &self,
        token: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, Box<dyn Read + Send>, u64)>,
    ) -> Response {
        let (ctype, body) = multipart(fields, file);
        self.client
            .post(format!("{}/api/uploads", self.base))
            .bearer_auth(token)
            .header("content-type", ctype)
            .body(body)
            .send()
            .expect("upload")
    }

    fn upload_bytes(&self, token: &str, pipeline: &str, name: &str, bytes: Vec<u8>) -> Response {
        let n = bytes.len() as u64;
        self.upload(
            token,
            &[("pipeline", pipeline)],
            Some((name, Box::new(Cursor::new(bytes)), n)),
        )
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A multipart/form-data body streamed from its parts.
fn multipart(
    fields: &[(&str, &str)],
    file: Option<(&str, Box<dyn Read + Send>, u64)>,
) -> (String, Body) {
    let b = "migstat-test-boundary-7d1f";
    let mut head = String::new();
    for (k, v) in fields {
        head += &format!("--{b}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
    }
    let tail = format!("\r\n--{b}--\r\n");
    let ctype = format!("multipart/form-data; boundary={b}");
    match file {
        Some((name, reader, len)) => {
            head += &format!(
                "--{b}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 content-type: application/octet-stream\r\n\r\n"
            );
            let total = head.len() as u64 + len + tail.len() as u64;
            let r = Cursor::new(head.into_bytes())
                .chain(reader)
                .chain(Cursor::new(tail.into_bytes()));
            (ctype, Body::sized(r, total))
        }
        None => (ctype, Body::from(format!("{head}--{b}--\r\n"))),
    }
}

fn json(r: Response) -> (u16, Value) {
    let code = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tha_csv() -> Vec<u8> {
    std::fs::read(repo().join("sample_data/synth/tha_lfs_synth_persons.csv")).expect("sample")
}

/// The Thai sample with a defect validation calls an error: the sex column renamed.
fn tha_defective() -> Vec<u8> {
    let text = String::from_utf8(tha_csv()).expect("utf-8");
    text.replacen(",SEX,", ",GENDER,", 1).into_bytes()
}

/// The Thai upload with every female coded 3, a code the pipeline does not map: one group of
/// findings in column SEX and its cause.
fn tha_recoded_sex() -> Vec<u8> {
    let text = String::from_utf8(tha_csv()).expect("utf-8");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let sex = header.split(',').position(|h| h == "SEX").expect("SEX");
    let mut out = format!("{header}\n");
    for l in lines {
        let mut cells: Vec<&str> = l.split(',').collect();
        if cells.get(sex) == Some(&"2") {
            cells[sex] = "3";
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

fn upload_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0)
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn serve_api_isolates_countries_refuses_what_it_must_and_the_inbox_loads_once() {
    let s = Served::start("serve-api", 1);
    let tha = s.token("THA");
    let arm = s.token("ARM");
    let list = migstat(&["token", "list", "--tokens", &s.tokens()]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        listed.contains("THA") && listed.contains("ARM") && !listed.contains(&tha),
        "{listed}"
    );

    // 401 without a valid token.
    assert_eq!(
        s.client
            .get(format!("{}/api/uploads", s.base))
            .send()
            .unwrap()
            .status(),
        401
    );
    assert_eq!(s.get("mst_not-a-token", "/api/uploads").status(), 401);
    assert_eq!(
        s.upload_bytes("nope", "tha_lfs_synth", "x.csv", b"a".to_vec())
            .status(),
        401
    );

    // A defective file: errors, and accepting it is a conflict.
    let (code, bad) = json(s.upload_bytes(&tha, "tha_lfs_synth", "tha_q4.csv", tha_defective()));
    assert_eq!(code, 201, "{bad}");
    assert_eq!(bad["status"], "errors", "{bad}");
    let bad_id = bad["id"].as_str().unwrap().to_string();
    assert_eq!(bad["report"], format!("/api/uploads/{bad_id}"));
    assert!(bad["summary"]["errors"].as_u64().unwrap() > 0, "{bad}");
    assert_eq!(
        s.post(&tha, &format!("/api/uploads/{bad_id}/accept"))
            .status(),
        409
    );

    // A clean file under a hostile name: stored under the server's name, the name kept.
    let clean = tha_csv();
    let (code, good) = json(s.upload_bytes(&tha, "tha_lfs_synth", "../../x.csv", clean.clone()));
    assert_eq!(code, 201, "{good}");
    assert_eq!(good["status"], "loadable", "{good}");
    let id = good["id"].as_str().unwrap().to_string();
    assert_eq!(good["original_name"], "../../x.csv");
    assert_eq!(good["file"], "input.csv");
    assert_eq!(good["sha256"], sha256_hex(&clean));
    assert!(s.uploads().join(&id).join("input.csv").is_file());
    assert!(!s.dir.join("x.csv").exists() && !s.uploads().join("x.csv").exists());

    // Newest first; the report JSON and HTML.
    let (_, all) = json(s.get(&tha, "/api/uploads"));
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), bad_id.as_str()]);
    let (code, report) = json(s.get(&tha, &format!("/api/uploads/{bad_id}")));
    assert_eq!(code, 200);
    assert_eq!(report["format"], "migstat-validation-report/1");
    assert_eq!(report["loadable"], false);
    let html = s.get(&tha, &format!("/api/uploads/{id}/report.html"));
    assert_eq!(html.status(), 200);
    let page = html.text().unwrap();
    assert!(page.contains("<html"));
    // The reports name files as the statistician knows them, never where the server keeps them.
    let (_, good_report) = json(s.get(&tha, &format!("/api/uploads/{id}")));
    assert_eq!(
        good_report["inputs"][0]["file"], "../../x.csv",
        "{good_report}"
    );
    assert_eq!(good_report["pipeline"]["file"], "tha_lfs_synth.toml");
    for text in [good_report.to_string(), page] {
        for server_path in [
            s.uploads().display().to_string(),
            repo().display().to_string(),
        ] {
            assert!(
                !text.contains(&server_path),
                "{server_path} shown in {text}"
            );
        }
    }

    // Another country sees none of it: 404 on every upload URL, and for the pipeline.
    for path in [
        format!("/api/uploads/{id}"),
        format!("/api/uploads/{id}/report.html"),
        "/api/uploads/20991231T000000Z-00".into(),
    ] {
        assert_eq!(s.get(&arm, &path).status(), 404, "{path}");
    }
    assert_eq!(
        s.post(&arm, &format!("/api/uploads/{id}/accept")).status(),
        404
    );
    assert_eq!(json(s.get(&arm, "/api/uploads")).1, serde_json::json!([]));
    assert_eq!(
        s.upload_bytes(&arm, "tha_lfs_synth", "x.csv", clean.clone())
            .status(),
        404
    );

    // 400: a missing field, an unknown pipeline; 413 above the limit, saying it.
    let n = clean.len() as u64;
    let no_pipeline = s.upload(
        &tha,
        &[],
        Some(("x.csv", Box::new(Cursor::new(clean.clone())), n)),
    );
    assert_eq!(no_pipeline.status(), 400);
    assert_eq!(
        s.upload(&tha, &[("pipeline", "tha_lfs_synth")], None)
            .status(),
        400
    );
    assert_eq!(
        s.upload_bytes(&tha, "no_such_pipeline", "x.csv", clean.clone())
            .status(),
        400
    );
    let before = upload_dirs(&s.uploads());
    let (code, big) = json(s.upload_bytes(&tha, "tha_lfs_synth", "big.csv", vec![b'x'; 2 << 20]));
    assert_eq!(code, 413, "{big}");
    assert_eq!(big["limit_mb"], 1);
    assert!(big["error"].as_str().unwrap().contains("1 MB"), "{big}");
    assert_eq!(
        upload_dirs(&s.uploads()),
        before,
        "a refused upload leaves nothing"
    );

    // Accept, then the inbox loads it once and records the outcome.
    let (code, accepted) = json(s.post(&tha, &format!("/api/uploads/{id}/accept")));
    assert_eq!(code, 200, "{accepted}");
    assert!(accepted["accepted"]["time"].is_string());
    let wh = s.dir.join("warehouse");
    let inbox = s.uploads().display().to_string();
    // A full disk at the run's commit: the failure is recorded and the next night tries again.
    let full = Command::new(env!("CARGO_BIN_EXE_migstat"))
        .args(["run", "--inbox", &inbox, "--warehouse"])
        .arg(&wh)
        .env("MIGSTAT_FAILPOINT", "stage:1:enospc")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&full.stdout).to_string();
    assert_eq!(full.status.code(), Some(2), "{said}");
    assert!(
        said.contains("failed")
            && said.contains("attempt 1 of 3; the next run --inbox tries again"),
        "{said}"
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(s.uploads().join(&id).join("record.json")).unwrap())
            .unwrap();
    assert_eq!(record["run"]["status"], "failed", "{record}");
    assert_eq!(record["run"]["attempts"], 1, "{record}");
    let first = migstat(&[
        "run",
        "--inbox",
        &inbox,
        "--warehouse",
        &wh.display().to_string(),
    ]);
    let said = String::from_utf8_lossy(&first.stdout).to_string();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        said.contains(&format!("upload {id}")) && said.contains(": ok, run "),
        "{said}"
    );
    let (_, rec) = json(s.get(&tha, &format!("/api/uploads/{id}")));
    assert_eq!(rec["format"], "migstat-validation-report/1");
    let record: Value =
        serde_json::from_slice(&std::fs::read(s.uploads().join(&id).join("record.json")).unwrap())
            .unwrap();
    assert_eq!(record["run"]["status"], "ok", "{record}");
    assert_eq!(record["run"]["attempts"], 2, "{record}");
    let run_id = record["run"]["run_id"].as_str().unwrap().to_string();
    assert!(wh
        .join("runs")
        .join(&run_id)
        .join("manifest.json")
        .is_file());
    let second = migstat(&[
        "run",
        "--inbox",
        &inbox,
        "--warehouse",
        &wh.display().to_string(),
    ]);
    assert_eq!(second.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&second.stdout).contains("no accepted upload"));
    let again: Value =
        serde_json::from_slice(&std::fs::read(s.uploads().join(&id).join("record.json")).unwrap())
            .unwrap();
    assert_eq!(again["run"]["run_id"], run_id.as_str());
    let mut statuses: Vec<String> = std::fs::read_dir(wh.join("runs"))
        .unwrap()
        .map(|e| {
            let m: Value = serde_json::from_slice(
                &std::fs::read(e.unwrap().path().join("manifest.json")).unwrap(),
            )
            .unwrap();
            m["status"].as_str().unwrap_or("").to_string()
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["failed", "ok"],
        "the failed attempt and the one that loaded"
    );

    // Every action is in the audit log.
    let audit = std::fs::read_to_string(s.uploads().join("audit.jsonl")).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in [
        "upload",
        "validation",
        "accept",
        "accept_refused",
        "refused",
    ] {
        assert!(
            events.iter().any(|v| v["event"] == e),
            "no {e} event in\n{audit}"
        );
    }
}

#[test]
fn refusals_speak_the_callers_language_and_sessions_survive_a_restart() {
    let s = Served::start("serve-lang", 1);
    let tha = s.token("THA");
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // 401 in French, 413 in Spanish, 404 in English (no Accept-Language).
    let r = client
        .get(format!("{}/api/uploads", s.base))
        .header("accept-language", "fr-FR,fr;q=0.9")
        .send()
        .unwrap();
    let (code, v) = json(r);
    assert_eq!(code, 401);
    assert_eq!(
        v["error"],
        "un jeton valide est requis : Authorization: Bearer JETON"
    );
    let (ctype, body) = multipart(
        &[("pipeline", "tha_lfs_synth")],
        Some((
            "big.csv",
            Box::new(Cursor::new(vec![b'1'; 2 << 20])),
            2 << 20,
        )),
    );
    let r = client
        .post(format!("{}/api/uploads", s.base))
        .bearer_auth(&tha)
        .header("accept-language", "es")
        .header("content-type", ctype)
        .body(body)
        .send()
        .unwrap();
    let (code, v) = json(r);
    assert_eq!(code, 413);
    assert_eq!(v["error"], "el archivo supera el límite de 1 MB", "{v}");
    let (code, v) = json(s.get(&tha, "/api/uploads/20990101T000000Z-0000"));
    assert_eq!((code, v["error"].as_str()), (404, Some("not found")));
    // The audit log keeps the English reason whatever the caller's language.
    let audit = std::fs::read_to_string(s.uploads().join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("the file is larger than the limit of 1 MB"),
        "{audit}"
    );

    // Sign in with the form; a form with a wrong CSRF token gets the French refusal page.
    let r = client
        .post(format!("{}/signin", s.base))
        .form(&[("token", tha.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in redirects home");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = |base: &str| {
        client
            .get(format!("{base}/"))
            .header("cookie", &cookie)
            .send()
            .unwrap()
    };
    let page = home(&s.base);
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("Uploads for THA"));
    let r = client
        .post(format!("{}/signout", s.base))
        .header("cookie", &cookie)
        .header("accept-language", "fr")
        .form(&[("csrf", "0000")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let text = r.text().unwrap();
    assert!(
        text.contains("Formulaire refusé") && text.contains("Ce formulaire a expiré"),
        "{text}"
    );

    // A restart keeps the session; the file holds its hash, never the cookie, for its owner only.
    let sessions = s.uploads().join(".sessions.json");
    let s = s.restart(1);
    let page = home(&s.base);
    assert_eq!(page.status(), 200, "still signed in after a restart");
    assert!(page.text().unwrap().contains("Uploads for THA"));
    let kept = std::fs::read_to_string(&sessions).unwrap();
    let id = cookie.split_once('=').unwrap().1;
    assert!(!kept.contains(id), "the cookie is not in {kept}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sessions).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The upload list did not take the sessions file for an upload.
    let (_, all) = json(s.get(&tha, "/api/uploads"));
    assert_eq!(all.as_array().map(Vec::len), Some(0), "{all}");
    // Revoking the token ends the kept session too.
    let list = migstat(&["token", "list", "--tokens", &s.tokens()]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    let token_id = listed
        .lines()
        .find(|l| l.contains("THA"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let o = migstat(&["token", "revoke", &token_id, "--tokens", &s.tokens()]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(home(&s.base).status(), 303, "signed out by the revocation");
}

#[test]
fn serve_twenty_concurrent_uploads_are_all_recorded() {
    let s = Served::start("serve-concurrent", 16);
    let tha = s.token("THA");
    let text = String::from_utf8(tha_csv()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let files: Vec<Vec<u8>> = (0..20)
        .map(|i| (lines[..60 + i].join("\n") + "\n").into_bytes())
        .collect();
    let started = std::time::Instant::now();
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (s, tha) = (&s, &tha);
                scope.spawn(move || {
                    json(s.upload_bytes(tha, "tha_lfs_synth", &format!("part{i}.csv"), f.clone()))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "20 concurrent uploads answered in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    for ((code, v), f) in answers.iter().zip(&files) {
        assert_eq!(*code, 201, "{v}");
        assert_eq!(v["sha256"], sha256_hex(f));
        assert_ne!(v["status"], "received", "{v}");
    }
    let (_, all) = json(s.get(&tha, "/api/uploads"));
    assert_eq!(all.as_array().unwrap().len(), 20);
    for (_, v) in &answers {
        let id = v["id"].as_str().unwrap();
        let stored = std::fs::read(s.uploads().join(id).join("input.csv")).unwrap();
        assert_eq!(sha256_hex(&stored), v["sha256"].as_str().unwrap());
    }
}

/// A CSV of `len` bytes made on the fly (never held in memory), hashed as it is read.
struct Generated {
    left: u64,
    line: Vec<u8>,
    pos: usize,
    hash: std::sync::Arc<std::sync::Mutex<sha2::Sha256>>,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            let take = (self.line.len() - self.pos)
                .min(buf.len() - n)
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            buf[n..n + take].copy_from_slice(&self.line[self.pos..self.pos + take]);
            self.pos = (self.pos + take) % self.line.len();
            self.left -= take as u64;
            n += take;
        }
        if let Ok(mut h) = self.hash.lock() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[test]
fn serve_memory_stays_flat_during_a_large_streamed_upload() {
    use sha2::Digest;
    let s = Served::start("serve-large", 2048);
    let tha = s.token("THA");
    // Warm up with one small upload, so that the baseline includes a validation.
    let warm = json(s.upload_bytes(&tha, "tha_lfs_synth", "small.csv", b"A,B\n1,2\n".to_vec()));
    assert_eq!(warm.0, 201, "{}", warm.1);
    let before = vm_hwm_kib(s.pid());
    let header = b"A,B,C,D,E,F,G,H\n".to_vec();
    let size: u64 = 1 << 30;
    let mut start = sha2::Sha256::new();
    start.update(&header);
    let hash = std::sync::Arc::new(std::sync::Mutex::new(start));
    let rows = Generated {
        left: size,
        line: b"1,2,3,4,5,6,7,8\n".to_vec(),
        pos: 0,
        hash: hash.clone(),
    };
    let total = size + header.len() as u64;
    let file: Box<dyn Read + Send> = Box::new(Cursor::new(header).chain(rows));
    let started = std::time::Instant::now();
    let (code, v) = json(s.upload(
        &tha,
        &[("pipeline", "tha_lfs_synth")],
        Some(("big.csv", file, total)),
    ));
    let after = vm_hwm_kib(s.pid());
    eprintln!(
        "1 GiB upload: {code} in {:.1} s; server VmHWM {} MiB before, {} MiB after",
        started.elapsed().as_secs_f64(),
        before / 1024,
        after / 1024
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["size"].as_u64(), Some(total));
    let expected = hash.lock().unwrap().clone().finalize();
    let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v["sha256"], hex);
    assert!(
        after < before + 64 * 1024,
        "peak memory grew from {before} to {after} KiB"
    );
}

/// The round trip in a real browser (Debian's chromium and chromium-driver, `make tools`); the
/// screenshots go to target/serve-screenshots/.
#[test]
fn serve_round_trip_in_a_browser() {
    let Ok(driver) = which("chromedriver") else {
        eprintln!("skipped: chromedriver is not installed (make tools installs chromium-driver)");
        return;
    };
    let s = Served::start("serve-browser", 64);
    let tha = s.token("THA");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Chromium leaves its singleton socket's folder in TMPDIR when chromedriver is killed: the
    // test's own folder, removed with it.
    let tmp = s.dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let _driver = Killed(child);
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new();
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        client.get(format!("{url}/status")).send().is_ok()
    });
    assert!(up, "chromedriver did not start");
    let bad = s.dir.join("tha_q4_defective.csv");
    std::fs::write(&bad, tha_recoded_sex()).unwrap();
    let clean = repo().join("sample_data/synth/tha_lfs_synth_persons.csv");
    let shots = repo().join("target/serve-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let o = Command::new("python3")
        .arg(repo().join("tests/it/serve/browser.py"))
        .args([&url, &s.base, &tha])
        .args([&bad, &clean, &shots])
        .output()
        .expect("run python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for n in [
        "1-signin",
        "2-home",
        "3-defective",
        "4-clean",
        "5-accepted",
        "6-home",
        "3b-findings",
        "7-signin-fr",
        "8-home-fr",
        "9-findings-fr",
    ] {
        assert!(shots.join(format!("{n}.png")).is_file(), "{n}");
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

#[test]
fn a_signed_in_country_gets_its_statistics_page_from_the_warehouse() {
    let wh = crate::query::warehouse().display().to_string();
    let s = Served::start_with("serve-stats", 8, &["--warehouse", &wh]);
    let token = s.token("ARM");
    let host = s.base.trim_start_matches("http://").to_string();
    let no_redirect = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = no_redirect
        .post(format!("{}/signin", s.base))
        .header("origin", format!("http://{host}"))
        .form(&[("token", token.as_str())])
        .send()
        .expect("sign in");
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let home = no_redirect
        .get(format!("{}/", s.base))
        .header("cookie", &cookie)
        .send()
        .expect("home")
        .text()
        .expect("body");
    assert!(home.contains("href=/statistics"), "{home}");
    let page = no_redirect
        .get(format!("{}/statistics", s.base))
        .header("cookie", &cookie)
        .send()
        .expect("statistics");
    assert_eq!(page.status(), 200);
    let html = page.text().expect("body");
    assert!(
        html.contains("<svg") && html.contains("ARM"),
        "no ARM charts"
    );
    // Without a session: to the sign-in page, never another country's statistics.
    let anon = no_redirect
        .get(format!("{}/statistics", s.base))
        .send()
        .expect("anon");
    assert!(anon.status().is_redirection());
}
