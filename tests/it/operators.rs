//! The nightly batch as schedulers and monitoring read it: one JSON object per stderr line, a
//! batch summary that agrees with the exit code and validates against its schema, reasons,
//! settings from the environment, searchable history, a metrics file, and the README's cron,
//! systemd and Airflow set-ups run as written.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{output_text as text, repo, small_survey, statcan_head, temp_dir};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_migstat"));
    c.current_dir(repo());
    c.env_remove("MIGSTAT_WAREHOUSE")
        .env_remove("MIGSTAT_LOG_FORMAT")
        .env_remove("MIGSTAT_METRICS_FILE");
    c
}

fn survey(dir: &Path, name: &str, edit: &dyn Fn(String) -> String) -> PathBuf {
    small_survey(dir, name, 80, edit)
}

fn batch(wh: &Path, pipelines: &[&Path], extra: &[&str]) -> Output {
    let mut c = bin();
    c.arg("run")
        .args(pipelines)
        .arg("--warehouse")
        .arg(wh)
        .args(extra);
    c.output().unwrap()
}

/// Every stderr line, each parsed as JSON (panics naming the first line that is not).
fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// Validates a summary against `docs/batch-summary.schema.json` with Python's `jsonschema`.
fn valid_summary(summary: &str) {
    let py = std::env::var("MIGSTAT_PYTHON").unwrap_or_else(|_| "python3".into());
    let code = "import json,sys,jsonschema; s=json.load(open(sys.argv[1])); \
                jsonschema.validate(json.loads(sys.stdin.read()), s, \
                format_checker=jsonschema.FormatChecker())";
    let mut child = Command::new(py)
        .args(["-c", code])
        .arg(repo().join("docs/batch-summary.schema.json"))
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python with jsonschema (make venv)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(summary.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "summary does not match its schema: {}\n{summary}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A batch's summary, checked against the schema and the process's exit code.
fn summary_of(o: &Output) -> Value {
    let s = String::from_utf8_lossy(&o.stdout).to_string();
    valid_summary(&s);
    let v: Value = serde_json::from_str(&s).expect("summary JSON");
    assert_eq!(
        v["exit_code"].as_i64(),
        o.status.code().map(i64::from),
        "{}",
        text(o)
    );
    v
}

#[test]
fn every_stderr_line_is_json_and_the_summary_agrees_with_the_exit_code() {
    let dir = temp_dir("ops-json");
    let wh = dir.join("wh");
    let ok = survey(&dir, "ops_ok", &|s| s);
    let skip = survey(&dir, "ops_skip", &|s| s);
    assert!(batch(&wh, &[&skip], &[]).status.success());
    // A data error: an unknown sex code on the first data line.
    let bad = survey(&dir, "ops_bad", &|s| {
        let mut lines: Vec<String> = s.split("\r\n").map(String::from).collect();
        let sex = lines[0]
            .split(',')
            .position(|h| h == "GENDER" || h == "SEX")
            .unwrap();
        let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
        cells[sex] = "7".into();
        lines[1] = cells.join(",");
        lines.join("\r\n")
    });
    // An unreadable input: a folder where the file should be.
    let gone = survey(&dir, "ops_gone", &|s| s);
    std::fs::remove_file(dir.join("ops_gone/pub.csv")).unwrap();
    std::fs::create_dir(dir.join("ops_gone/pub.csv")).unwrap();
    let all = [ok.as_path(), skip.as_path(), bad.as_path(), gone.as_path()];
    let out = batch(&wh, &all, &["--log-format", "json", "--json"]);
    let events = json_lines(&out);
    for e in &events {
        for k in ["timestamp", "level", "event"] {
            assert!(e[k].is_string(), "no {k}: {e}");
        }
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for k in ["start", "skip", "finish", "error", "summary"] {
        assert!(kinds.contains(&k), "no {k} event: {kinds:?}");
    }
    assert_eq!(kinds.last(), Some(&"summary"));
    let s = summary_of(&out);
    assert_eq!(s["status"], "partial");
    let outcome = |i: usize| s["pipelines"][i]["outcome"].as_str().unwrap().to_string();
    assert_eq!(
        (0..4).map(outcome).collect::<Vec<_>>(),
        ["ran", "skipped", "failed", "failed"]
    );
    assert_eq!(s["pipelines"][2]["exit_code"], 1);
    assert!(s["pipelines"][2]["run_id"].is_string(), "{s}");
    assert_eq!(s["pipelines"][3]["exit_code"], 2);
    assert_eq!(s["exit_code"], 2);
    // Only the data error: exit 1, status failed.
    let out = batch(&wh, &[&bad], &["--log-format", "json", "--json"]);
    json_lines(&out);
    let s = summary_of(&out);
    assert_eq!(
        (s["status"].as_str(), s["exit_code"].as_i64()),
        (Some("failed"), Some(1))
    );
    // Busy: the summary says 75 too, and names the holder.
    let held =
        migstat::load::lock::Lock::acquire(&wh, "ops test", migstat::load::lock::Wait::No).unwrap();
    let out = batch(&wh, &[&ok], &["--log-format", "json", "--json"]);
    json_lines(&out);
    let s = summary_of(&out);
    assert_eq!(s["exit_code"], 75);
    assert!(s["error"].as_str().unwrap().contains("ops test"), "{s}");
    drop(held);
    // Text format: a multi-line error stays under its event (continuations indented).
    let out = batch(&wh, &[&bad], &[]);
    for l in String::from_utf8_lossy(&out.stderr).lines() {
        let event = l.starts_with("20") || l.starts_with("error: ");
        assert!(
            event || l.starts_with("    "),
            "a line that is not an event: {l:?}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dry_runs_say_why_each_pipeline_would_run() {
    let dir = temp_dir("ops-why");
    let wh = dir.join("wh");
    let p = survey(&dir, "why", &|s| s);
    let dry = |extra: &[&str]| {
        let mut args = vec!["--dry-run", "--json"];
        args.extend_from_slice(extra);
        let o = batch(&wh, &[&p], &args);
        summary_of(&o)["pipelines"][0]["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(dry(&[]), "first run");
    assert!(batch(&wh, &[&p], &[]).status.success());
    let s = summary_of(&batch(&wh, &[&p], &["--json"]));
    assert_eq!(s["pipelines"][0]["outcome"], "skipped");
    assert!(s["pipelines"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("unchanged since run "));
    assert_eq!(dry(&["--force"]), "forced (--force)");
    let csv = dir.join("why/pub.csv");
    std::fs::write(&csv, statcan_head(81)).unwrap();
    assert_eq!(dry(&[]), format!("input changed: {}", csv.display()));
    std::fs::write(&csv, statcan_head(80)).unwrap();
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap() + "\n# a comment\n").unwrap();
    assert_eq!(dry(&[]), "pipeline file changed");
    let _ = std::fs::remove_dir_all(dir);
}

/// A run whose decision does not need the inputs' hashes (first run, `--force`, a file of
/// another size) hashes them beside the run; what it records must be what hashing first gives,
/// so that the next unchanged run is skipped.
#[test]
fn inputs_hashed_beside_the_run_are_recorded_as_hashed_before() {
    use sha2::Digest;
    let dir = temp_dir("ops-hash-beside");
    let wh = dir.join("wh");
    let p = survey(&dir, "beside", &|s| s);
    let csv = dir.join("beside/pub.csv");
    let ran = |extra: &[&str]| {
        let o = batch(&wh, &[&p], &[&["--json"], extra].concat());
        assert!(o.status.success(), "{}", text(&o));
        let s = summary_of(&o)["pipelines"][0].clone();
        let outcome = s["outcome"].as_str().unwrap_or("").to_string();
        let reason = s["reason"].as_str().unwrap_or("").to_string();
        let manifest: Option<Value> = s["run_id"].as_str().map(|id| {
            serde_json::from_slice(
                &std::fs::read(wh.join("runs").join(id).join("manifest.json")).unwrap(),
            )
            .unwrap()
        });
        (outcome, reason, manifest)
    };
    let sha = |path: &Path| {
        let d = sha2::Sha256::digest(std::fs::read(path).unwrap());
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let check = |m: &Value| {
        let input = &m["inputs"][0];
        assert_eq!(input["sha256"].as_str(), Some(sha(&csv).as_str()), "{m}");
        assert_eq!(
            input["size"].as_u64(),
            Some(std::fs::metadata(&csv).unwrap().len())
        );
    };
    // First run (hashed beside it), then skipped: the recorded fingerprint is the real one.
    let (outcome, reason, m) = ran(&[]);
    assert_eq!((outcome.as_str(), reason.as_str()), ("ran", "first run"));
    check(&m.unwrap());
    assert!(ran(&[]).0.starts_with("skipped"));
    // A file of another size: run at once, the reason names it, and the next run skips.
    std::fs::write(&csv, statcan_head(81)).unwrap();
    let (outcome, reason, m) = ran(&[]);
    assert_eq!(outcome, "ran");
    assert_eq!(reason, format!("input changed: {}", csv.display()));
    check(&m.unwrap());
    assert!(ran(&[]).0.starts_with("skipped"));
    // The same size, another content: hashed first, the same reason.
    let mut bytes = std::fs::read(&csv).unwrap();
    let last_digit = bytes.iter().rposition(u8::is_ascii_digit).unwrap();
    bytes[last_digit] = if bytes[last_digit] == b'1' {
        b'2'
    } else {
        b'1'
    };
    std::fs::write(&csv, &bytes).unwrap();
    let (outcome, reason, m) = ran(&[]);
    assert_eq!(outcome, "ran");
    assert_eq!(reason, format!("input changed: {}", csv.display()));
    check(&m.unwrap());
    // Forced: hashed beside the run, and recorded the same.
    let (outcome, reason, m) = ran(&["--force"]);
    assert_eq!(
        (outcome.as_str(), reason.as_str()),
        ("ran", "forced (--force)")
    );
    check(&m.unwrap());
    assert!(ran(&[]).0.starts_with("skipped"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn settings_come_from_the_environment_and_a_flag_wins() {
    let dir = temp_dir("ops-env");
    let p = survey(&dir, "env", &|s| s);
    let (from_env, from_flag) = (dir.join("env-wh"), dir.join("flag-wh"));
    let out = bin()
        .args(["run"])
        .arg(&p)
        .env("MIGSTAT_WAREHOUSE", &from_env)
        .env("MIGSTAT_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(from_env.join("observations/CAN").is_dir());
    json_lines(&out);
    let out = bin()
        .args(["run", "--force", "--log-format", "text", "--warehouse"])
        .arg(&from_flag)
        .arg(&p)
        .env("MIGSTAT_WAREHOUSE", &from_env)
        .env("MIGSTAT_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(from_flag.join("observations/CAN").is_dir());
    assert!(!String::from_utf8_lossy(&out.stderr).starts_with('{'));
    let runs = bin()
        .args(["runs", "--json"])
        .env("MIGSTAT_WAREHOUSE", &from_env)
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let help = bin().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for v in [
        "MIGSTAT_WAREHOUSE",
        "MIGSTAT_LOG_FORMAT",
        "MIGSTAT_METRICS_FILE",
        "MIGSTAT_CACHE_DIR",
    ] {
        assert!(help.contains(v), "run --help does not name {v}");
    }
    // A wrong command line with JSON logs asked for is a JSON error line too.
    let out = bin()
        .args(["run", "--no-such-flag", "--log-format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_lines(&out)[0]["event"], "error");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn run_history_is_searchable_by_pipeline_status_and_date() {
    let dir = temp_dir("ops-runs");
    let wh = dir.join("wh");
    let a = survey(&dir, "hist_a", &|s| s);
    let b = survey(&dir, "hist_b", &|s| s);
    assert!(batch(&wh, &[&a, &b], &[]).status.success());
    assert!(batch(&wh, &[&a], &["--force"]).status.success());
    let runs = |extra: &[&str]| -> Vec<Value> {
        let o = bin()
            .args(["runs", "--json", "--warehouse"])
            .arg(&wh)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice::<Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let mine = runs(&["--pipeline", "hist_a"]);
    assert_eq!(mine.len(), 2);
    assert!(
        mine[0]["seq"].as_u64() > mine[1]["seq"].as_u64(),
        "newest first"
    );
    assert_eq!(mine[0]["reason"], "forced (--force)");
    assert_eq!(mine[1]["reason"], "first run");
    assert_eq!(runs(&["--status", "ok"]).len(), 3);
    assert!(runs(&["--status", "failed"]).is_empty());
    assert_eq!(runs(&["--since", "2000-01-01"]).len(), 3);
    assert!(runs(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    let table = bin()
        .args(["runs", "--warehouse"])
        .arg(&wh)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("forced (--force)"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The samples of a Prometheus text file: `name{labels}` → value; panics on a malformed line.
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = l.strip_prefix("# ") {
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "{l}"
            );
            continue;
        }
        let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty(),
            "bad metric name in {l}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{l}");
        }
        out.push((
            series.to_string(),
            value.parse().unwrap_or_else(|_| panic!("{l}")),
        ));
    }
    out
}

#[test]
fn the_metrics_file_parses_and_is_replaced_whole() {
    use std::os::unix::fs::MetadataExt;
    let dir = temp_dir("ops-metrics");
    let wh = dir.join("wh");
    let p = survey(&dir, "met", &|s| s);
    let prom = dir.join("migstat.prom");
    let out = batch(&wh, &[&p], &["--metrics-file", prom.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let first = std::fs::read_to_string(&prom).unwrap();
    let m = parse_metrics(&first);
    let get = |m: &[(String, f64)], k: &str| m.iter().find(|(s, _)| s == k).map(|x| x.1);
    assert!(get(
        &m,
        "migstat_pipeline_last_success_timestamp_seconds{pipeline=\"met\"}"
    )
    .is_some_and(|t| t > 1.7e9));
    assert_eq!(
        get(
            &m,
            "migstat_pipeline_last_outcome{pipeline=\"met\",outcome=\"ran\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        get(&m, "migstat_pipeline_rows_read{pipeline=\"met\"}"),
        Some(80.0)
    );
    assert_eq!(get(&m, "migstat_batch_exit_code"), Some(0.0));
    let inode = std::fs::metadata(&prom).unwrap().ino();
    let out = batch(&wh, &[&p], &["--metrics-file", prom.to_str().unwrap()]);
    assert!(out.status.success());
    let m = parse_metrics(&std::fs::read_to_string(&prom).unwrap());
    assert_eq!(
        get(
            &m,
            "migstat_pipeline_last_outcome{pipeline=\"met\",outcome=\"skipped\"}"
        ),
        Some(1.0)
    );
    // The last success survives a skipped batch; the file was renamed into place, not rewritten.
    assert!(get(
        &m,
        "migstat_pipeline_last_success_timestamp_seconds{pipeline=\"met\"}"
    )
    .is_some());
    assert_ne!(std::fs::metadata(&prom).unwrap().ino(), inode);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// The code block after `<!-- marker -->` in the README.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let at = readme
        .find(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("README has no {marker} block"));
    let rest = &readme[at..];
    let start = rest.find("```").unwrap();
    let body = &rest[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// A folder laid out like the README's `/srv`: the repo's pipelines and data, a warehouse, logs.
fn srv(dir: &Path) -> PathBuf {
    let srv = dir.join("srv");
    let app = srv.join("migstat");
    std::fs::create_dir_all(&app).unwrap();
    for d in ["pipelines", "sample_data", "schemas"] {
        std::os::unix::fs::symlink(repo().join(d), app.join(d)).unwrap();
    }
    for d in ["warehouse", "log", "metrics"] {
        std::fs::create_dir_all(srv.join(d)).unwrap();
    }
    srv
}

fn with_bin_on_path(c: &mut Command) {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_migstat")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    c.env("PATH", path);
}

#[test]
fn the_readme_cron_line_and_airflow_command_run_as_written() {
    let dir = temp_dir("ops-cron");
    let srv = srv(&dir);
    let cron = readme_block("cron");
    let line = cron.lines().next().unwrap();
    // The command is what follows the five schedule fields.
    let command: String = line
        .splitn(6, ' ')
        .nth(5)
        .unwrap()
        .replace("/srv", srv.to_str().unwrap());
    let mut sh = Command::new("sh");
    sh.args(["-c", &command]);
    with_bin_on_path(&mut sh);
    let out = sh.output().unwrap();
    assert!(out.status.success(), "cron line: {}", text(&out));
    let log = std::fs::read_to_string(srv.join("log/migstat.jsonl")).unwrap();
    assert!(log.lines().count() > 10);
    for l in log.lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    assert!(srv.join("warehouse/observations/CAN").is_dir());
    assert!(srv.join("metrics/migstat.prom").is_file());
    let last: Value =
        serde_json::from_str(&std::fs::read_to_string(srv.join("log/last-batch.json")).unwrap())
            .unwrap();
    assert_eq!(
        (last["status"].as_str(), last["exit_code"].as_i64()),
        (Some("ok"), Some(0))
    );
    // Airflow's bash_command, as the README gives it, with its env.
    let airflow = readme_block("airflow");
    let cmd = airflow
        .lines()
        .find_map(|l| l.trim().strip_prefix("bash_command=\""))
        .and_then(|l| l.strip_suffix("\","))
        .unwrap()
        .replace("/srv", srv.to_str().unwrap());
    let mut bash = Command::new("bash");
    bash.args(["-c", &cmd])
        .env("MIGSTAT_WAREHOUSE", srv.join("warehouse"));
    with_bin_on_path(&mut bash);
    let out = bash.output().unwrap();
    assert!(out.status.success(), "airflow command: {}", text(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["status"], "ok");
    assert!(s["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["outcome"] == "skipped"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_readme_systemd_units_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let dir = temp_dir("ops-systemd");
    let srv = srv(&dir);
    let units = dir.join("units");
    std::fs::create_dir_all(&units).unwrap();
    let service = readme_block("systemd service")
        .replace("/usr/local/bin/migstat", env!("CARGO_BIN_EXE_migstat"))
        .replace("/srv", srv.to_str().unwrap());
    std::fs::write(units.join("migstat.service"), service).unwrap();
    std::fs::write(units.join("migstat.timer"), readme_block("systemd timer")).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(units.join("migstat.service"))
        .arg(units.join("migstat.timer"))
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    let _ = std::fs::remove_dir_all(dir);
}
