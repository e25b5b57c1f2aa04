//! The report as terminal text: a summary per input, its file-level causes, the findings grouped
//! by rule and column (count, lines, the distinct values, a few examples, "N more not listed"),
//! and the verdict, in the language asked for. Colour (ANSI) only when asked for: on a terminal,
//! without `NO_COLOR` (see `use_colour`).
use std::fmt::Write;
use std::io::IsTerminal;

use super::{FindingOut, GroupOut, InputOut, Report};
use crate::config::pipeline::Severity;
use crate::validate::messages::{colon, grouped, plural, render as say, text, Lang};

/// Listed findings shown under a group in the text (the JSON and HTML have more).
const EXAMPLES: usize = 5;

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

    fn severity(&self, sev: Severity, lang: Lang) -> String {
        let code = match sev {
            Severity::Error => "1;31",
            Severity::Quarantine => "1;35",
            Severity::Warning => "1;33",
            Severity::Info => "36",
        };
        self.code(code, &format!("{:<10}", severity_name(sev, lang)))
    }
}

/// A severity's name in `lang`.
pub fn severity_name(sev: Severity, lang: Lang) -> &'static str {
    text(lang, &format!("ui.sev.{}", sev.as_str()))
}

/// The whole report as text.
pub fn render(r: &Report, colour: bool, lang: Lang) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let title = say(lang, "ui.validation_of", &[("pipeline", &r.pipeline.id)]);
    let _ = writeln!(out, "{} ({})", paint.code("1", &title), r.pipeline.file);
    for input in &r.inputs {
        input_text(&mut out, input, &paint, lang);
    }
    out.push('\n');
    out.push_str(&verdict(r, &paint, lang));
    out
}

/// The facts of a file: size, encoding, delimiter, line ends, columns.
pub fn facts_text(i: &InputOut, lang: Lang) -> String {
    let f = &i.file_facts;
    let mut facts = vec![size_text(f.size_bytes)];
    facts.extend(f.encoding.clone());
    if f.bom {
        facts.push(text(lang, "ui.with_bom").into());
    }
    facts.extend(
        f.delimiter
            .as_ref()
            .map(|d| say(lang, "ui.delimiter", &[("d", d)])),
    );
    facts.extend(
        f.line_endings
            .as_ref()
            .map(|e| say(lang, "ui.line_ends", &[("ends", e)])),
    );
    if f.columns > 0 {
        facts.push(plural(lang, "ui.columns", f.columns as u64, &[]));
    }
    facts.join(" · ")
}

/// `rows: 4,000 read · …`, or `rows: not checked` when the file or its header kept them from
/// being checked.
pub fn rows_text(i: &InputOut, lang: Lang) -> String {
    if !i.rows_checked {
        return text(lang, "ui.rows_not_checked").to_string();
    }
    let g = |n: u64| grouped(lang, n);
    say(
        lang,
        "ui.rows_line",
        &[
            ("read", &g(i.rows_read)),
            ("valid", &g(i.rows_valid)),
            ("errors", &g(i.rows_with_errors)),
            ("quarantined", &g(i.rows_quarantined)),
            ("warnings", &g(i.rows_with_warnings)),
        ],
    )
}

fn input_text(out: &mut String, i: &InputOut, paint: &Paint, lang: Lang) {
    let _ = writeln!(
        out,
        "\n{} {}",
        paint.code("1", &format!("{}:", i.record)),
        i.file
    );
    let _ = writeln!(out, "  {}", facts_text(i, lang));
    let _ = writeln!(out, "  {}", rows_text(i, lang));
    for c in &i.causes {
        let _ = writeln!(
            out,
            "\n  {} {}",
            paint.code("1", &format!("{}{}", text(lang, "ui.cause"), colon(lang))),
            c.render(lang)
        );
    }
    for g in &i.groups {
        group_text(out, i, g, paint, lang);
    }
    for n in &i.notes {
        let _ = writeln!(out, "\n  {}: {n}", text(lang, "ui.note"));
    }
}

/// `12 findings · column SEX · lines 5–21`
pub fn group_where(g: &GroupOut, lang: Lang) -> String {
    let mut parts = vec![plural(lang, "ui.findings", g.count, &[])];
    if let Some(c) = &g.column {
        parts.push(format!("{} {c}", text(lang, "ui.column").to_lowercase()));
    }
    match (g.first_line, g.last_line) {
        (Some(a), Some(b)) if a != b => parts.push(say(
            lang,
            "ui.lines",
            &[("first", &a.to_string()), ("last", &b.to_string())],
        )),
        (Some(a), _) => parts.push(say(lang, "ui.line", &[("line", &a.to_string())])),
        _ => {}
    }
    parts.join(" · ")
}

/// `9 (5 rows), 7 (label "Woman", 2 rows), … 3 more values`
pub fn values_text(g: &GroupOut, lang: Lang) -> String {
    let mut shown: Vec<String> = g
        .values
        .iter()
        .map(|v| {
            let rows = plural(lang, "ui.rows", v.count, &[]);
            match &v.label {
                Some(l) => format!(
                    "{} ({}, {rows})",
                    v.value,
                    say(lang, "ui.label", &[("label", l)])
                ),
                None => format!("{} ({rows})", v.value),
            }
        })
        .collect();
    if g.more_values > 0 {
        shown.push(format!(
            "… {}",
            plural(lang, "ui.more_values", g.more_values, &[])
        ));
    }
    shown.join(", ")
}

fn group_text(out: &mut String, i: &InputOut, g: &GroupOut, paint: &Paint, lang: Lang) {
    let _ = writeln!(
        out,
        "\n  {} {} — {}",
        paint.severity(g.severity, lang),
        paint.code("1", &g.rule),
        group_where(g, lang)
    );
    let _ = writeln!(out, "    {}", g.message_in(lang));
    if g.values.len() > 1 || g.more_values > 0 || g.values.first().is_some_and(|v| v.count > 1) {
        let _ = writeln!(
            out,
            "    {}{} {}",
            text(lang, "ui.value"),
            colon(lang),
            values_text(g, lang)
        );
    }
    let listed: Vec<&FindingOut> = listed_of(i, g).collect();
    for f in listed.iter().take(EXAMPLES) {
        let _ = writeln!(out, "    {}", finding_text_in(f, &i.key_columns, lang));
    }
    let not_shown = g.count - listed.len().min(EXAMPLES) as u64;
    if not_shown > 0 && g.count > 1 {
        let _ = writeln!(
            out,
            "    … {}",
            plural(lang, "ui.not_listed", not_shown, &[])
        );
    }
}

/// The listed findings of a group.
pub fn listed_of<'a>(i: &'a InputOut, g: &'a GroupOut) -> impl Iterator<Item = &'a FindingOut> {
    i.findings
        .iter()
        .filter(move |f| f.rule == g.rule && f.column == g.column)
}

/// Where a finding is: `line 17`, with the business key by its columns when the pipeline has
/// ids (`HH_ID 5 · MEMBER 2`), and "duplicate of line N" for a duplicated key.
pub fn where_text(f: &FindingOut, key_columns: &[String], lang: Lang) -> String {
    let mut at = Vec::new();
    at.extend(
        f.line
            .map(|l| say(lang, "ui.line", &[("line", &l.to_string())])),
    );
    let is_line = |k: &str| f.line.is_some_and(|l| l.to_string() == k);
    if let (Some(k), false) = (&f.key, key_columns.is_empty()) {
        if !is_line(k) {
            at.push(key_text(k, key_columns));
        }
    }
    if let Some(d) = f.duplicate_of {
        at.push(say(lang, "ui.duplicate_of", &[("line", &d.to_string())]));
    }
    at.join(", ")
}

/// A business key by its columns: `HH_ID 5 · MEMBER 2` (`HH_ID+MEMBER 5-2-x` when the parts
/// cannot be told apart).
pub fn key_text(key: &str, columns: &[String]) -> String {
    let parts: Vec<&str> = key.split('-').collect();
    if parts.len() == columns.len() {
        columns
            .iter()
            .zip(parts)
            .map(|(c, v)| format!("{c} {v}"))
            .collect::<Vec<_>>()
            .join(" · ")
    } else {
        format!("{} {key}", columns.join("+"))
    }
}

/// `line 17, HH_ID 5 · MEMBER 2, column SEX = "3": message`
pub fn finding_text_in(f: &FindingOut, key_columns: &[String], lang: Lang) -> String {
    let mut at = vec![where_text(f, key_columns, lang)];
    at.retain(|s| !s.is_empty());
    if let Some(c) = &f.column {
        let col = text(lang, "ui.column").to_lowercase();
        match (&f.label, f.value.is_empty()) {
            (_, true) => at.push(format!("{col} {c}")),
            (Some(l), false) => at.push(format!(
                "{col} {c} = {:?} ({})",
                f.value,
                say(lang, "ui.label", &[("label", l)])
            )),
            (None, false) => at.push(format!("{col} {c} = {:?}", f.value)),
        }
    }
    let msg = f.message_in(lang);
    if at.is_empty() {
        msg
    } else {
        format!("{}: {msg}", at.join(", "))
    }
}

/// `finding_text_in` in English without key columns (for callers that have only the finding).
pub fn finding_text(f: &FindingOut) -> String {
    finding_text_in(f, &[], Lang::En)
}

/// The verdict line.
pub fn verdict_text(r: &Report, lang: Lang) -> String {
    let s = &r.summary;
    let warnings = plural(lang, "ui.warnings", s.warnings, &[]);
    if r.loadable {
        if s.rows_quarantined > 0 {
            let rows = plural(lang, "ui.rows", s.rows_quarantined, &[]);
            say(
                lang,
                "ui.verdict_ok_quarantine",
                &[("warnings", &warnings), ("rows", &rows)],
            )
        } else {
            say(lang, "ui.verdict_ok", &[("warnings", &warnings)])
        }
    } else {
        let errors = plural(lang, "ui.errors", s.errors, &[]);
        let rows = match s.rows_with_errors {
            0 => String::new(),
            n => plural(lang, "ui.in_rows", n, &[]),
        };
        say(
            lang,
            "ui.verdict_bad",
            &[("errors", &errors), ("rows", &rows)],
        )
    }
}

fn verdict(r: &Report, paint: &Paint, lang: Lang) -> String {
    let (code, head) = if r.loadable {
        ("1;32", text(lang, "ui.verdict_yes"))
    } else {
        ("1;31", text(lang, "ui.verdict_no"))
    };
    format!("{} {}\n", paint.code(code, head), verdict_text(r, lang))
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
