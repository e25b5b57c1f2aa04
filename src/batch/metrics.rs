//! `--metrics-file PATH`: the Prometheus text exposition format, written atomically (temporary
//! name, then rename) at the end of every batch, for node_exporter's textfile collector. Per
//! pipeline of the warehouse: the last successful run's time, rows and observations; per pipeline
//! of this batch: its outcome, rows and seconds; for the batch: its exit code and end time.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::summary::BatchSummary;
use crate::error::Result;
use crate::runs::Manifest;

/// Seconds since 1970 of a `20261201T232526Z` stamp.
fn epoch(stamp: &str) -> Option<i64> {
    let n = |a: usize, b: usize| stamp.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let (hh, mm, ss) = (n(9, 11)?, n(11, 13)?, n(13, 15)?);
    // Days from civil (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A label value, escaped as the exposition format wants (`\`, `"`, line breaks).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family<'a> {
    name: &'a str,
    help: &'a str,
    kind: &'a str,
    samples: Vec<(String, f64)>,
}

impl Family<'_> {
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, v) in &self.samples {
            match labels.is_empty() {
                true => writeln!(out, "{} {v}", self.name),
                false => writeln!(out, "{}{{{labels}}} {v}", self.name),
            }
            .unwrap_or_default();
        }
    }
}

/// The metrics text for a batch and the warehouse's run history.
pub fn render(summary: &BatchSummary, history: &[Manifest]) -> String {
    let mut last_ok: BTreeMap<&str, &Manifest> = BTreeMap::new();
    for m in history.iter().filter(|m| m.status == "ok") {
        last_ok.insert(&m.pipeline_id, m);
    }
    let p = |id: &str| format!("pipeline=\"{}\"", label(id));
    let fam = |name, help, kind, samples| Family {
        name,
        help,
        kind,
        samples,
    };
    let mut families = vec![
        fam(
            "migstat_pipeline_last_success_timestamp_seconds",
            "End of the pipeline's last successful run (UNIX time).",
            "gauge",
            last_ok
                .iter()
                .filter_map(|(id, m)| Some((p(id), epoch(&m.finished)? as f64)))
                .collect(),
        ),
        fam(
            "migstat_pipeline_last_success_rows_loaded",
            "Rows loaded by the pipeline's last successful run.",
            "gauge",
            last_ok
                .iter()
                .map(|(id, m)| (p(id), m.rows_loaded as f64))
                .collect(),
        ),
    ];
    let lines = &summary.pipelines;
    let per = |f: &dyn Fn(&super::summary::PipelineLine) -> f64| {
        lines
            .iter()
            .map(|l| (p(&l.pipeline), f(l)))
            .collect::<Vec<_>>()
    };
    families.push(fam(
        "migstat_pipeline_last_outcome",
        "1 for the outcome of the pipeline in the last batch (ran, skipped, would_run, failed).",
        "gauge",
        lines
            .iter()
            .flat_map(|l| {
                ["ran", "skipped", "would_run", "failed"].map(|o| {
                    let v = f64::from(u8::from(l.outcome == o));
                    (format!("{},outcome=\"{o}\"", p(&l.pipeline)), v)
                })
            })
            .collect(),
    ));
    for (name, help, f) in [
        (
            "migstat_pipeline_rows_read",
            "Rows read in the last batch.",
            (|l| l.rows_read as f64) as fn(&super::summary::PipelineLine) -> f64,
        ),
        (
            "migstat_pipeline_rows_loaded",
            "Rows loaded in the last batch.",
            |l| l.rows_loaded as f64,
        ),
        (
            "migstat_pipeline_rows_quarantined",
            "Rows quarantined in the last batch.",
            |l| l.rows_quarantined as f64,
        ),
        (
            "migstat_pipeline_observations_written",
            "Observations estimated in the last batch.",
            |l| l.observations as f64,
        ),
        (
            "migstat_pipeline_seconds",
            "Wall time of the pipeline in the last batch.",
            |l| l.seconds,
        ),
    ] {
        families.push(fam(name, help, "gauge", per(&f)));
    }
    families.push(fam(
        "migstat_batch_exit_code",
        "Exit code of the last batch (0 done, 1 data problem, 2 could not run, 75 busy).",
        "gauge",
        vec![(String::new(), f64::from(summary.exit_code))],
    ));
    let end = summary.finished.replace(['-', ':'], "");
    families.push(fam(
        "migstat_batch_finished_timestamp_seconds",
        "End of the last batch (UNIX time).",
        "gauge",
        epoch(&end)
            .map(|t| (String::new(), t as f64))
            .into_iter()
            .collect(),
    ));
    let mut out = String::new();
    for f in &families {
        f.render(&mut out);
    }
    out
}

/// Writes the metrics file atomically: a temporary name beside it, synced, then a rename.
pub fn write(path: &Path, text: &str) -> Result<()> {
    crate::serve::store::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_turn_into_unix_times() {
        assert_eq!(epoch("19700101T000000Z"), Some(0));
        assert_eq!(epoch("20261126T172300Z"), Some(1_795_713_780));
        assert_eq!(epoch("20000229T000000Z"), Some(951_782_400));
        assert_eq!(epoch("garbage"), None);
    }
}
