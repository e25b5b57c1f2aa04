//! The report as one self-contained HTML page (inline style, no script, no external file), in
//! the language asked for: the verdict first, the audit context (time, version, files and their
//! SHA-256, periods), then per input its causes and its findings grouped by rule and column
//! (count, lines, a table of the distinct values, the listed findings), and the rules applied.
//! It prints on paper as it reads on screen (print style: no backgrounds, no cut rows).
use std::fmt::Write;

use super::text::{
    facts_text, group_where, listed_of, rows_text, severity_name, verdict_text, where_text,
};
use super::{GroupOut, InputOut, Report, RuleCountOut};
use crate::config::pipeline::Severity;
use crate::validate::messages::{colon, grouped, plural, render as say, text, Lang};
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
.cause{background:#fffaeb;border-left:4px solid #f79009;padding:8px 12px;margin:10px 0}
table.values{width:auto;min-width:40%}
dl.audit{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.audit dt{color:#667085}dl.audit dd{margin:0;overflow-wrap:anywhere}
@media print{
body{background:#fff;font-size:11pt;color:#000}main{max-width:none;padding:0}
.verdict,.card,section.input,details,.cause,.note{background:#fff !important;border-color:#999}
details{break-inside:auto}tr,.card,.cause,summary{break-inside:avoid}
h2{break-after:avoid}a{color:inherit;text-decoration:none}
thead{display:table-header-group}
@page{margin:15mm}
}
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

fn sev(s: Severity, lang: Lang) -> String {
    format!(
        r#"<span class="sev {}">{}</span>"#,
        s.as_str(),
        esc(severity_name(s, lang))
    )
}

/// The whole report as an HTML page in `lang`.
pub fn render(r: &Report, lang: Lang) -> String {
    let mut out = String::new();
    let title = say(lang, "ui.validation_of", &[("pipeline", &r.pipeline.name)]);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\n",
        lang.code(),
        esc(&title)
    );
    verdict(&mut out, r, &title, lang);
    audit(&mut out, r, lang);
    for input in &r.inputs {
        input_section(&mut out, input, lang);
    }
    rules_section(&mut out, r, lang);
    let _ = writeln!(
        out,
        "<p class=\"muted small\">migstat {} · report format {}</p></main></body></html>",
        esc(r.migstat_version),
        esc(r.format)
    );
    out
}

fn verdict(out: &mut String, r: &Report, title: &str, lang: Lang) {
    let s = &r.summary;
    let (class, big) = if r.loadable {
        ("ok", text(lang, "ui.loadable"))
    } else {
        ("bad", text(lang, "ui.not_loadable"))
    };
    let _ = writeln!(
        out,
        "<div class=\"verdict {class}\"><h1>{}</h1><div class=\"muted\">pipeline <code>{}</code> · {} · {} <code>{}</code></div>\
         <p><span class=\"big\">{big}</span> — {}</p></div>",
        esc(title),
        esc(&r.pipeline.id),
        esc(&r.pipeline.file),
        esc(text(lang, "ui.source")),
        esc(&r.pipeline.source),
        esc(&verdict_text(r, lang))
    );
    let cards = [
        ("ui.rows_read", s.rows_read),
        ("ui.valid", s.rows_valid),
        ("ui.with_errors", s.rows_with_errors),
        ("ui.quarantined", s.rows_quarantined),
        ("ui.with_warnings", s.rows_with_warnings),
    ];
    let checked = r.inputs.iter().all(|i| i.rows_checked);
    out.push_str("<div class=\"cards\">");
    for (i, (label, n)) in cards.into_iter().enumerate() {
        let shown = if checked || i == 0 {
            grouped(lang, n)
        } else {
            "–".to_string()
        };
        let _ = write!(
            out,
            "<div class=\"card\"><b>{shown}</b>{}</div>",
            esc(text(lang, label))
        );
    }
    out.push_str("</div>\n");
}

fn audit(out: &mut String, r: &Report, lang: Lang) {
    let a = &r.audit;
    let t = |k: &str| esc(text(lang, k));
    let _ = write!(
        out,
        "<details class=\"audit\" open><summary><b>{}</b></summary><dl class=\"audit\">\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code> · {}</dd>",
        t("ui.audit"),
        t("ui.generated"),
        esc(&a.generated_at),
        t("ui.version"),
        esc(&a.migstat_version),
        t("ui.pipeline"),
        esc(&a.pipeline_id),
        esc(&a.pipeline_file)
    );
    if let Some(h) = &a.pipeline_sha256 {
        let _ = write!(
            out,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            t("ui.pipeline_sha"),
            esc(h)
        );
    }
    for i in &a.inputs {
        let _ = write!(
            out,
            "<dt>{} ({})</dt><dd><code>{}</code> · {} ({})</dd>",
            t("ui.input"),
            esc(&i.record),
            esc(&i.name),
            super::text::size_text(i.size_bytes),
            esc(&plural(lang, "ui.bytes", i.size_bytes, &[]))
        );
        if let Some(h) = &i.sha256 {
            let _ = write!(
                out,
                "<dt>{}</dt><dd><code>{}</code></dd>",
                t("ui.input_sha"),
                esc(h)
            );
        }
    }
    out.push_str("</dl>");
    if !a.periods.is_empty() {
        let _ = write!(
            out,
            "<table class=\"values\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
            t("ui.period"),
            t("ui.count"),
            t("ui.weighted")
        );
        for p in &a.periods {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&p.period),
                grouped(lang, p.rows),
                grouped(lang, p.weighted.round().max(0.0) as u64)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</details>\n");
}

fn input_section(out: &mut String, i: &InputOut, lang: Lang) {
    let _ = writeln!(
        out,
        "<section class=\"input\"><h2>{} <span class=\"mono\">{}</span></h2><p class=\"muted\">{}</p><p>{}</p>",
        esc(&say(lang, "ui.input_file", &[("record", &i.record)])),
        esc(&i.file),
        esc(&facts_text(i, lang)),
        esc(&rows_text(i, lang)),
    );
    for c in &i.causes {
        let _ = write!(
            out,
            "<div class=\"cause\"><b>{}{}</b> {}</div>",
            esc(text(lang, "ui.cause")),
            colon(lang),
            esc(&c.render(lang))
        );
    }
    for n in &i.notes {
        let _ = write!(out, "<div class=\"note\">{}</div>", esc(n));
    }
    if i.counts.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(text(lang, "ui.no_findings")));
    } else {
        counts_table(out, &i.counts, lang);
    }
    for g in &i.groups {
        group_details(out, i, g, lang);
    }
    out.push_str("</section>\n");
}

fn counts_table(out: &mut String, counts: &[RuleCountOut], lang: Lang) {
    let t = |k: &str| esc(text(lang, k));
    let _ = write!(
        out,
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
        t("ui.severity"),
        t("ui.rule"),
        t("ui.checks"),
        t("ui.findings")
    );
    for c in counts {
        let checks = rules::find(&c.rule).map(|r| r.checks(lang)).unwrap_or("");
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td><td class=\"num\">{}</td></tr>",
            sev(c.severity, lang),
            esc(&c.rule),
            esc(&c.rule),
            esc(checks),
            grouped(lang, c.count),
        );
    }
    out.push_str("</table>\n");
}

fn group_details(out: &mut String, i: &InputOut, g: &GroupOut, lang: Lang) {
    let t = |k: &str| esc(text(lang, k));
    let _ = write!(
        out,
        "<details open id=\"{}\" class=\"group\"><summary>{} <b><code>{}</code></b> — {}</summary><p>{}</p>",
        esc(&g.rule),
        sev(g.severity, lang),
        esc(&g.rule),
        esc(&group_where(g, lang)),
        esc(&g.message_in(lang))
    );
    if !g.values.is_empty() && (g.values.len() > 1 || g.count > 1) {
        let _ = write!(
            out,
            "<table class=\"values\"><thead><tr><th>{}</th><th>{}</th></tr></thead>",
            t("ui.value"),
            t("ui.count")
        );
        for v in &g.values {
            let label = v.label.as_ref().map_or(String::new(), |l| {
                format!(
                    " <span class=\"muted\">({})</span>",
                    esc(&say(lang, "ui.label", &[("label", l)]))
                )
            });
            let _ = write!(
                out,
                "<tr><td class=\"mono\">{}{label}</td><td class=\"num\">{}</td></tr>",
                esc(&v.value),
                grouped(lang, v.count)
            );
        }
        if g.more_values > 0 {
            let _ = write!(
                out,
                "<tr><td class=\"more\" colspan=\"2\">{}</td></tr>",
                esc(&plural(lang, "ui.more_values", g.more_values, &[]))
            );
        }
        out.push_str("</table>");
    }
    let listed: Vec<_> = listed_of(i, g).collect();
    if !listed.is_empty() {
        let _ = write!(
            out,
            "<table class=\"findings\"><colgroup><col style=\"width:260px\"><col style=\"width:200px\"><col></colgroup>\
             <thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
            t("ui.where"),
            t("ui.value"),
            t("ui.what")
        );
        for f in &listed {
            let value = match &f.label {
                Some(l) => format!("{} ({})", f.value, say(lang, "ui.label", &[("label", l)])),
                None => f.value.clone(),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                esc(&where_text(f, &i.key_columns, lang)),
                esc(&value),
                esc(&f.message_in(lang))
            );
        }
        out.push_str("</table>");
    }
    let not_listed = g.count - listed.len() as u64;
    if not_listed > 0 {
        let _ = write!(
            out,
            "<p class=\"more\">… {}</p>",
            esc(&plural(lang, "ui.not_listed", not_listed, &[]))
        );
    }
    out.push_str("</details>\n");
}

fn rules_section(out: &mut String, r: &Report, lang: Lang) {
    let t = |k: &str| esc(text(lang, k));
    let _ = write!(
        out,
        "<h2>{}</h2><p class=\"muted\">{}</p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
        t("ui.rules_applied"),
        t("ui.rules_intro"),
        t("ui.level"),
        t("ui.rule"),
        t("ui.severity"),
        t("ui.checks")
    );
    for rule in &r.rules {
        let checks = rules::find(rule.id).map_or(rule.checks, |x| x.checks(lang));
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            rule.level.as_str(),
            esc(rule.id),
            sev(rule.severity, lang),
            esc(checks)
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
