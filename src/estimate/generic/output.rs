//! Rendering of estimates: CSV and JSON with full-precision numbers (shortest text that reads
//! back to the same f64; an absent value is an empty field or `null`, never NaN), and an aligned
//! text table for people.

use std::io::Write;

use super::estimators::Estimate;

/// The fixed columns after the by-columns.
pub const COLUMNS: [&str; 8] = [
    "statistic",
    "estimate",
    "se",
    "cv",
    "lower",
    "upper",
    "n",
    "df",
];

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Write `rows` in `format`; `by` names the domain columns.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    by: &[String],
    rows: &[Estimate],
) -> std::io::Result<()> {
    match format {
        Format::Csv => write_csv(out, by, rows),
        Format::Json => write_json(out, by, rows),
        Format::Table => write_table(out, by, rows),
    }
}

fn full(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map(|x| x.to_string())
        .unwrap_or_default()
}

/// The fields of one row, by-labels first, numbers in full precision.
fn fields(e: &Estimate, number: fn(Option<f64>) -> String) -> Vec<String> {
    let mut f = e.by.clone();
    f.push(e.statistic.clone());
    f.extend(
        [e.estimate, e.se, e.cv, e.lower, e.upper]
            .into_iter()
            .map(number),
    );
    f.push(e.n.to_string());
    f.push(number(Some(e.df)));
    f
}

fn header(by: &[String]) -> Vec<String> {
    by.iter()
        .cloned()
        .chain(COLUMNS.iter().map(|s| s.to_string()))
        .collect()
}

fn write_csv(out: &mut dyn Write, by: &[String], rows: &[Estimate]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header(by))?;
    for e in rows {
        w.write_record(fields(e, full))?;
    }
    w.flush()
}

fn json_number(v: Option<f64>) -> String {
    match v.filter(|x| x.is_finite()) {
        Some(x) => serde_json::Value::from(x).to_string(),
        None => "null".to_string(),
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn write_json(out: &mut dyn Write, by: &[String], rows: &[Estimate]) -> std::io::Result<()> {
    writeln!(out, "[")?;
    for (i, e) in rows.iter().enumerate() {
        let mut parts: Vec<String> = by
            .iter()
            .zip(&e.by)
            .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
            .collect();
        parts.push(format!("\"statistic\": {}", json_string(&e.statistic)));
        let numbers = [e.estimate, e.se, e.cv, e.lower, e.upper];
        for (k, v) in COLUMNS[1..6].iter().zip(numbers) {
            parts.push(format!("\"{k}\": {}", json_number(v)));
        }
        parts.push(format!("\"n\": {}", e.n));
        parts.push(format!("\"df\": {}", json_number(Some(e.df))));
        let comma = if i + 1 < rows.len() { "," } else { "" };
        writeln!(out, "  {{{}}}{comma}", parts.join(", "))?;
    }
    writeln!(out, "]")
}

/// About eight significant digits, for reading.
fn short(v: Option<f64>) -> String {
    match v.filter(|x| x.is_finite()) {
        None => String::new(),
        Some(0.0) => "0".to_string(),
        Some(x) => {
            let magnitude = x.abs().log10().floor() as i32;
            if !(-5..15).contains(&magnitude) {
                return format!("{x:.7e}");
            }
            let decimals = (7 - magnitude).clamp(0, 12) as usize;
            format!("{x:.decimals$}")
        }
    }
}

fn write_table(out: &mut dyn Write, by: &[String], rows: &[Estimate]) -> std::io::Result<()> {
    let head = header(by);
    let body: Vec<Vec<String>> = rows.iter().map(|e| fields(e, short)).collect();
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &body {
        for (w, f) in width.iter_mut().zip(r) {
            *w = (*w).max(f.chars().count());
        }
    }
    let text_columns = by.len() + 1;
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&width)
            .enumerate()
            .map(|(i, (c, &w))| {
                if i < text_columns {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(&head).trim_end())?;
    for r in &body {
        writeln!(out, "{}", line(r).trim_end())?;
    }
    Ok(())
}
