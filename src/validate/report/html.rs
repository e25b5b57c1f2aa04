//! The report as one self-contained HTML page (inline style, no script, no external file): the
//! verdict first, then rows per input, findings grouped by rule, and the rules applied.
use std::fmt::Write;

use super::{InputOut, Report, RuleCountOut};
use crate::config::pipeline::Severity;
use crate::validate::rules;

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2939;margin:0;background:#f8f9fb}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 6px}
.verdict{border-radius:10px;padding:18px 22px;margin-bottom:18px;border:1px solid}
.verdict.ok{background:#ecfdf3;border-color:#75e0a7}.verdict.bad{background:#fef3f2;border-color:#fda29b}
.verdict .big{font-size:22px;font-weight:700}.ok .big{color:#067647}.bad .big{color:#b42318}
.muted{color:#667085}.small{font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #e4e7ec;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px}
section.input{background:#fff;border:1px solid #e4e7ec;border-radius:10px;padding:4px 20px 16px;margin:18px 0}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #eaecf0}
th{background:#f2f4f7;font-weight:600;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.sev{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:700;text-transform:uppercase}
.sev.error{background:#fee4e2;color:#b42318}.sev.quarantine{background:#ebe9fe;color:#5925dc}
.sev.warning{background:#fef0c7;color:#93370d}.sev.info{background:#d1e9ff;color:#175cd3}
details{border:1px solid #eaecf0;border-radius:8px;margin:10px 0;padding:6px 12px}
summary{cursor:pointer;font-size:15px;padding:4px 0}
.more{font-style:italic;color:#475467}
.note{background:#f2f4f7;border-left:4px solid #98a2b3;padding:6px 12px;margin:8px 0}
table.findings{table-layout:fixed}
table.findings td{overflow-wrap:anywhere}
"#;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn sev(s: Severity) -> String {
    format!(r#"<span class="sev {0}">{0}</span>"#, s.as_str())
}

/// The whole report as an HTML page.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let title = format!("Validation of {}", r.pipeline.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\n",
        esc(&title)
    );
    verdict(&mut out, r, &title);
    for input in &r.inputs {
        input_section(&mut out, input);
    }
    rules_section(&mut out, r);
    let _ = writeln!(
        out,
        "<p class=\"muted small\">migstat {} · report format {}</p></main></body></html>",
        esc(r.migstat_version),
        esc(r.format)
    );
    out
}

fn verdict(out: &mut String, r: &Report, title: &str) {
    let s = &r.summary;
    let (class, big, line) = if r.loadable {
        let q = if s.rows_quarantined > 0 {
            format!(
                "; {} rows will be set aside (quarantined)",
                s.rows_quarantined
            )
        } else {
            String::new()
        };
        (
            "ok",
            "Loadable",
            format!("No errors, {} warnings{q}.", s.warnings),
        )
    } else {
        (
            "bad",
            "Not loadable",
            match s.rows_with_errors {
                0 => format!(
                    "{} errors: nothing would be loaded. Fix them and validate again.",
                    s.errors
                ),
                n => format!(
                    "{} errors in {n} rows: nothing would be loaded. Fix them and validate again.",
                    s.errors
                ),
            },
        )
    };
    let _ = writeln!(
        out,
        "<div class=\"verdict {class}\"><h1>{}</h1><div class=\"muted\">pipeline <code>{}</code> · {} · source <code>{}</code></div>\
         <p><span class=\"big\">{big}</span> — {}</p></div>",
        esc(title),
        esc(&r.pipeline.id),
        esc(&r.pipeline.file),
        esc(&r.pipeline.source),
        esc(&line)
    );
    let cards = [
        ("rows read", s.rows_read),
        ("valid", s.rows_valid),
        ("with errors", s.rows_with_errors),
        ("quarantined", s.rows_quarantined),
        ("with warnings", s.rows_with_warnings),
    ];
    out.push_str("<div class=\"cards\">");
    for (label, n) in cards {
        let _ = write!(out, "<div class=\"card\"><b>{n}</b>{label}</div>");
    }
    out.push_str("</div>\n");
}

fn input_section(out: &mut String, i: &InputOut) {
    let f = &i.file_facts;
    let mut facts = vec![super::text::size_text(f.size_bytes)];
    facts.extend(f.encoding.clone());
    if f.bom {
        facts.push("with BOM".into());
    }
    facts.extend(f.delimiter.as_ref().map(|d| format!("delimiter “{d}”")));
    facts.extend(f.line_endings.as_ref().map(|e| format!("{e} line ends")));
    if f.columns > 0 {
        facts.push(format!("{} columns", f.columns));
    }
    let _ = writeln!(
        out,
        "<section class=\"input\"><h2>{} file <span class=\"mono\">{}</span></h2><p class=\"muted\">{}</p>\
         <p>{} rows read · <b>{}</b> valid · <b>{}</b> with errors · <b>{}</b> quarantined · <b>{}</b> with warnings</p>",
        esc(&i.record),
        esc(&i.file),
        esc(&facts.join(" · ")),
        i.rows_read, i.rows_valid, i.rows_with_errors, i.rows_quarantined, i.rows_with_warnings
    );
    for n in &i.notes {
        let _ = write!(out, "<div class=\"note\">{}</div>", esc(n));
    }
    if i.counts.is_empty() {
        out.push_str("<p>No findings.</p>");
    } else {
        counts_table(out, &i.counts);
    }
    for c in &i.counts {
        rule_details(out, i, c);
    }
    out.push_str("</section>\n");
}

fn counts_table(out: &mut String, counts: &[RuleCountOut]) {
    out.push_str("<table><tr><th>Severity</th><th>Rule</th><th>What it checks</th><th>Findings</th><th>Not listed</th></tr>");
    for c in counts {
        let checks = rules::find(&c.rule).map(|r| r.checks).unwrap_or("");
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            sev(c.severity),
            esc(&c.rule),
            esc(&c.rule),
            esc(checks),
            c.count,
            c.not_listed
        );
    }
    out.push_str("</table>\n");
}

fn rule_details(out: &mut String, i: &InputOut, c: &RuleCountOut) {
    let _ = write!(
        out,
        "<details open id=\"{}\"><summary>{} <b><code>{}</code></b> — {} finding{}</summary>",
        esc(&c.rule),
        sev(c.severity),
        esc(&c.rule),
        c.count,
        if c.count == 1 { "" } else { "s" }
    );
    out.push_str(
        "<table class=\"findings\"><colgroup><col style=\"width:70px\"><col style=\"width:120px\">\
         <col style=\"width:150px\"><col style=\"width:150px\"><col></colgroup>\
         <tr><th>Line</th><th>Key</th><th>Column</th><th>Value</th><th>What is wrong</th></tr>",
    );
    for f in i.findings.iter().filter(|f| f.rule == c.rule) {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            f.line.map(|l| l.to_string()).unwrap_or_else(|| "–".into()),
            esc(f.key.as_deref().unwrap_or("–")),
            esc(f.column.as_deref().unwrap_or("–")),
            esc(&f.value),
            esc(&f.message)
        );
    }
    out.push_str("</table>");
    if c.not_listed > 0 {
        let _ = write!(
            out,
            "<p class=\"more\">{} more not listed (the report lists at most {} findings a rule).</p>",
            c.not_listed, i.max_per_rule
        );
    }
    out.push_str("</details>\n");
}

fn rules_section(out: &mut String, r: &Report) {
    out.push_str("<h2>Rules applied</h2><p class=\"muted\">A pipeline may change a rule's severity in its <code>[rules]</code> table (or per field with <code>on_invalid</code>). Errors stop the load; quarantined rows are set aside and the rest loads; warnings and information are reported only.</p><table><tr><th>Level</th><th>Rule</th><th>Severity</th><th>What it checks</th></tr>");
    for rule in &r.rules {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            rule.level.as_str(),
            esc(rule.id),
            sev(rule.severity),
            esc(rule.checks)
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
