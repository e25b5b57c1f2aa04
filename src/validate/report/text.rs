//! The report as terminal text: a summary per input, findings grouped by rule with "N more not
//! listed", and the verdict. Colour (ANSI) only when asked for: on a terminal, without
//! `NO_COLOR` (see `use_colour`).
use std::fmt::Write;
use std::io::IsTerminal;

use super::{FindingOut, InputOut, Report};
use crate::config::pipeline::Severity;

/// Whether text for standard output should be coloured: a terminal, and `NO_COLOR` unset or
/// empty (<https://no-color.org>).
pub fn use_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn severity(&self, sev: Severity) -> String {
        let code = match sev {
            Severity::Error => "1;31",
            Severity::Quarantine => "1;35",
            Severity::Warning => "1;33",
            Severity::Info => "36",
        };
        self.code(code, &format!("{:<10}", sev.as_str()))
    }
}

/// The whole report as text.
pub fn render(r: &Report, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({})",
        paint.code("1", "Validation of"),
        paint.code("1", &r.pipeline.id),
        r.pipeline.file
    );
    for input in &r.inputs {
        input_text(&mut out, input, &paint);
    }
    out.push('\n');
    out.push_str(&verdict(r, &paint));
    out
}

fn input_text(out: &mut String, i: &InputOut, paint: &Paint) {
    let f = &i.file_facts;
    let _ = writeln!(
        out,
        "\n{} {}",
        paint.code("1", &format!("{}:", i.record)),
        i.file
    );
    let mut facts = vec![size_text(f.size_bytes)];
    facts.extend(f.encoding.clone());
    if f.bom {
        facts.push("BOM".into());
    }
    facts.extend(f.delimiter.as_ref().map(|d| format!("delimiter {d:?}")));
    facts.extend(f.line_endings.as_ref().map(|e| format!("{e} line ends")));
    if f.columns > 0 {
        facts.push(format!("{} columns", f.columns));
    }
    let _ = writeln!(out, "  {}", facts.join(" · "));
    let _ = writeln!(
        out,
        "  rows: {} read · {} valid · {} with errors · {} quarantined · {} with warnings",
        i.rows_read, i.rows_valid, i.rows_with_errors, i.rows_quarantined, i.rows_with_warnings
    );
    for c in &i.counts {
        let _ = writeln!(
            out,
            "\n  {} {} ({})",
            paint.severity(c.severity),
            paint.code("1", &c.rule),
            c.count
        );
        for f in i.findings.iter().filter(|f| f.rule == c.rule) {
            let _ = writeln!(out, "    {}", finding_text(f));
        }
        if c.not_listed > 0 {
            let _ = writeln!(out, "    … {} more not listed", c.not_listed);
        }
    }
    for n in &i.notes {
        let _ = writeln!(out, "\n  note: {n}");
    }
}

/// `line 17, key 5-2, column SEX = "3": message`
pub fn finding_text(f: &FindingOut) -> String {
    let mut at = Vec::new();
    at.extend(f.line.map(|l| format!("line {l}")));
    at.extend(f.key.as_ref().map(|k| format!("key {k}")));
    if let Some(c) = &f.column {
        if f.value.is_empty() {
            at.push(format!("column {c}"));
        } else {
            at.push(format!("column {c} = {:?}", f.value));
        }
    }
    if at.is_empty() {
        f.message.clone()
    } else {
        format!("{}: {}", at.join(", "), f.message)
    }
}

fn verdict(r: &Report, paint: &Paint) -> String {
    let s = &r.summary;
    if r.loadable {
        let q = if s.rows_quarantined > 0 {
            format!(", {} rows will be quarantined", s.rows_quarantined)
        } else {
            String::new()
        };
        format!(
            "{} no errors, {} warnings{q}.\n",
            paint.code("1;32", "Loadable:"),
            s.warnings
        )
    } else {
        let rows = match s.rows_with_errors {
            0 => String::new(),
            n => format!(" in {n} rows"),
        };
        format!(
            "{} {} errors{rows}. Nothing would be loaded: fix them and validate again.\n",
            paint.code("1;31", "NOT loadable:"),
            s.errors
        )
    }
}

/// A size in bytes for people: `2.1 MB`.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000_000 => format!("{:.1} GB", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} bytes"),
    }
}
