//! The business keys and households met so far go to files past a memory bound
//! (`validate::seen`), in a run's staging area or, for `validate`, the temporary folder. Kept in
//! files after every few entries (`MIGSTAT_SEEN_BYTES=1`), they must give the same warehouse
//! and the same findings as kept in memory, on a file whose households
//! are scattered (so that members are looked up, not met one after the other); a file that
//! cannot be written keeps them in memory, and one that cannot be read back fails the run.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{no_staging, repo, temp_dir};
use crate::threads::tables;

/// The Thai sample's person rows in a scrambled order (each household's members far apart), with
/// `edit` applied to the rows (as lists of lines), and a copy of its pipeline that reads them.
fn scrambled(dir: &Path, name: &str, edit: &dyn Fn(&mut Vec<String>)) -> PathBuf {
    let synth = repo().join("sample_data/synth");
    let text = std::fs::read_to_string(synth.join("tha_lfs_synth_persons.csv")).expect("persons");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    let n = rows.len();
    // 7919 is prime: i·7919 mod n visits every row once.
    assert!(n > 1000 && !n.is_multiple_of(7919));
    let mut out: Vec<String> = (0..n).map(|i| rows[i * 7919 % n].to_string()).collect();
    edit(&mut out);
    let csv = dir.join(format!("{name}.csv"));
    std::fs::write(&csv, format!("{header}\n{}\n", out.join("\n"))).expect("write");
    let pipeline = std::fs::read_to_string(repo().join("pipelines/tha_lfs_synth.toml"))
        .expect("pipeline")
        .replace(
            "\"../sample_data/synth/tha_lfs_synth_persons.csv\"",
            &format!("{:?}", csv.to_string_lossy()),
        )
        .replace(
            "\"../sample_data/",
            &format!("\"{}/", repo().join("sample_data").display()),
        );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, pipeline).expect("write pipeline");
    p
}

fn migstat(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migstat"));
    cmd.args(args).current_dir(repo());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run migstat")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Entries spilled every 7 keys or households, and the steps logged to `log`.
fn spilled(log: &Path) -> [(&'static str, String); 2] {
    [
        ("MIGSTAT_SEEN_BYTES", "1".into()),
        ("MIGSTAT_FAILPOINT_LOG", log.to_string_lossy().into()),
    ]
}

fn env<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn keys_and_households_kept_in_files_give_the_warehouse_kept_in_memory() {
    let dir = temp_dir("seen-run");
    let p = scrambled(&dir, "scrambled", &|_| {});
    let p = p.to_str().expect("path");
    let run = |wh: &Path, env: &[(&str, &str)], extra: &[&str]| {
        let wh = wh.to_str().expect("path");
        migstat(&[&["run", p, "--warehouse", wh][..], extra].concat(), env)
    };
    let (memory, files) = (dir.join("memory"), dir.join("files"));
    ok(&run(&memory, &[], &[]));
    let log = dir.join("steps.log");
    ok(&run(&files, &env(&spilled(&log)), &[]));
    let steps = std::fs::read_to_string(&log).expect("steps");
    let writes = steps.lines().filter(|l| *l == "seen.write").count();
    let reads = steps.lines().filter(|l| *l == "seen.read").count();
    // 4,000 keys and about 1,100 households, 7 a run, merged as they pair up.
    assert!(writes > 700, "only {writes} runs written");
    assert!(reads > 100, "only {reads} reads");
    let want = tables(&memory);
    assert!(
        want.keys().any(|k| k.starts_with("observations")),
        "{want:?}"
    );
    assert_eq!(tables(&files), want, "kept in files and in memory differ");

    // A full disk when a run is written: the keys stay in memory, the warehouse is the same.
    let full = dir.join("full");
    let faults = [
        ("MIGSTAT_SEEN_BYTES", "1"),
        ("MIGSTAT_FAILPOINT", "seen.write:3:enospc"),
    ];
    ok(&run(&full, &faults, &[]));
    assert_eq!(tables(&full), want, "a full disk changed the warehouse");

    // A run that cannot be read back: exit 2, naming the folder (the run's staging area), the
    // warehouse as it was.
    let faults = [
        ("MIGSTAT_SEEN_BYTES", "1"),
        ("MIGSTAT_FAILPOINT", "seen.read:40:eio"),
    ];
    let out = run(&files, &faults, &["--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read back the keys kept in this folder"),
        "{err}"
    );
    let staging = files.join(".migstat").join("staging");
    assert!(err.contains(&staging.display().to_string()), "{err}");
    assert_eq!(tables(&files), want);
    assert!(no_staging(&files));
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn duplicates_and_household_mismatches_are_found_in_files_as_in_memory() {
    let dir = temp_dir("seen-validate");
    // The first row again at the end (a duplicate key 4,000 rows later), and a member given
    // another stratum than the first member of its household, who is far before it.
    let p = scrambled(&dir, "defects", &|rows| {
        rows.push(rows[0].clone());
        // A household is its id in its period (year and quarter).
        let hh = |r: &str| {
            let c: Vec<&str> = r.split(',').collect();
            (c[0].to_string(), c[2].to_string(), c[3].to_string())
        };
        let later = (1..rows.len())
            .find_map(|i| {
                (i + 1..rows.len())
                    .rev()
                    .find(|&j| hh(&rows[j]) == hh(&rows[i]))
            })
            .expect("a household of two members");
        let mut cells: Vec<String> = rows[later].split(',').map(String::from).collect();
        cells[4] = "77".into();
        rows[later] = cells.join(",");
    });
    let p = p.to_str().expect("path");
    let report = |name: &str, env: &[(&str, &str)]| {
        let json = dir.join(format!("{name}.json"));
        let out = migstat(
            &["validate", p, "--report", json.to_str().expect("path")],
            env,
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("json");
        // The report's time is the one thing that may differ.
        let audit = v.get_mut("audit").and_then(|a| a.as_object_mut());
        audit
            .expect("audit")
            .remove("generated_at")
            .expect("a time");
        v
    };
    let memory = report("memory", &[]);
    let log = dir.join("steps.log");
    let files = report("files", &env(&spilled(&log)));
    let text = memory.to_string();
    for rule in ["duplicate_key", "household_design"] {
        assert!(text.contains(rule), "no {rule} in {text}");
    }
    let steps = std::fs::read_to_string(&log).expect("steps");
    assert!(steps.lines().filter(|l| *l == "seen.write").count() > 700);
    assert_eq!(files, memory);

    // A run file that cannot be read back: exit 2 (could not check), naming the temporary
    // folder it was kept in.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let out = migstat(
        &["validate", p],
        &[
            ("MIGSTAT_SEEN_BYTES", "1"),
            ("MIGSTAT_FAILPOINT", "seen.read:40:eio"),
            ("TMPDIR", tmp.to_str().expect("path")),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let named = format!(
        "{}: cannot read back the keys kept in this folder (the temporary one, TMPDIR)",
        tmp.display()
    );
    assert!(err.contains(&named), "{err}");
}
