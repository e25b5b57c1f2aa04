//! One area's HTML page: a self-contained document (inline CSS and SVG, no script, nothing
//! fetched), printable, with one `<section>` per topic. Every chart sits in a `<figure>` whose
//! `data-chart` names it and whose `data-series` lists each series with its colour and number of
//! points, so tests and readers can tell what was drawn.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::charts::{self, hex, BarGroup, ChartError, Point, Series};
use super::data::AreaData;
use super::series::{self, GROUPS, RATES};

const STYLE: &str = "body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:24px auto;max-width:1120px;color:#222;line-height:1.4}\
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;border-bottom:2px solid #0072B2;padding-bottom:3px;margin-top:34px}\
h3{font-size:16px;margin:18px 0 6px}.meta{color:#555;font-size:14px}figure{margin:10px 0}figcaption{font-size:13px;color:#555}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left;white-space:nowrap}td.t{text-align:left}.note{font-size:13px;color:#555}.warn{background:#fff4e0;border-left:4px solid #E69F00;padding:6px 10px;font-size:14px}\
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{flex:1 1 540px;max-width:540px}.key{font-size:14px;margin-left:60px}.key span{display:inline-block;width:12px;height:12px;margin:0 5px 0 14px;vertical-align:-1px}\
@media print{body{margin:0;max-width:none}section{break-inside:avoid-page}h2{break-after:avoid}}";

/// What a bar chart's caption says about what it leaves out.
const BAR_NOTE: &str = "A missing bar is a suppressed cell (S), not zero; there are no whiskers \
    where the source gives no standard errors.";

/// HTML text with `<`, `>`, `&` and quotes escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A chart in a figure that says what it holds, with its key above it. `series` gives each
/// series' name, palette colour and number of points; unnamed ones stay out of the key.
pub(super) fn figure(
    name: &str,
    svg: &str,
    series: &[(String, usize, usize)],
    caption: &str,
) -> String {
    let list: Vec<String> = (series.iter())
        .map(|(n, c, k)| format!("{}={}={k}", esc(n), hex(*c)))
        .collect();
    let key: String = (series.iter())
        .filter(|(n, _, _)| !n.is_empty())
        .map(|(n, c, _)| format!("<span style=\"background:{}\"></span>{}", hex(*c), esc(n)))
        .collect();
    format!(
        "<figure data-chart=\"{}\" data-series=\"{}\"><div class=\"key\">{key}</div>{svg}\
         <figcaption>{}</figcaption></figure>\n",
        esc(name),
        list.join(";"),
        esc(caption)
    )
}

/// The whole page of one area.
pub fn render(d: &AreaData, span: &str) -> Result<String, ChartError> {
    let periods = d.periods();
    let sources: Vec<&str> = d.sources().into_iter().collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{label} ({area}): labour migration</title>\
         <style>{STYLE}</style></head><body>\n<h1>{label} ({area}): labour migration statistics</h1>\n\
         <p class=\"meta\">Sources: {src}. Periods: {span}. Estimates with 95 % confidence intervals; \
         hollow points are unreliable (U); a gap marked S is a suppressed value (too few sample persons), not zero.</p>\n",
        label = esc(&d.label),
        area = esc(&d.area),
        src = if sources.is_empty() { "none".to_string() } else { esc(&sources.join(", ")) },
    );
    if d.obs.iter().any(|o| {
        o.note_source
            .as_deref()
            .is_some_and(|n| n.contains(crate::mirror::pairs::SAMPLE_SCALE_NOTE))
    }) {
        h.push_str("<p class=\"warn\">Sample scale: this source's weights do not gross up to the population, so its counts \
                    (thousands) are not population totals. Rates and shares are unaffected.</p>\n");
    }
    h.push_str(&rates_section(d, &periods)?);
    h.push_str(&pyramid_section(d, &periods)?);
    h.push_str(&employment_section(d, &periods)?);
    h.push_str(&reliability_section(d));
    h.push_str(&super::world::remittance_section(d, &periods)?);
    h.push_str(&super::world::mirror_section(d)?);
    h.push_str("<p class=\"note\">Made by migstat report from the warehouse's Parquet tables.</p>\n</body></html>\n");
    Ok(h)
}

pub(super) fn counts(series: &[Series]) -> Vec<(String, usize, usize)> {
    let drawn = |s: &Series| s.points.iter().filter(|p| **p != Point::Absent).count();
    (series.iter().enumerate())
        .map(|(i, s)| (s.name.clone(), i, drawn(s)))
        .collect()
}

fn rates_section(d: &AreaData, periods: &[String]) -> Result<String, ChartError> {
    let mut h =
        String::from("<section id=\"rates\"><h2>Labour market: migrants beside natives</h2>\n");
    let mut any = false;
    for (stem, title) in RATES {
        let pairs: Vec<_> = (GROUPS.iter())
            .filter_map(|g| series::rate_series(&d.obs, stem, g, periods).map(|s| (g, s)))
            .collect();
        let size = if pairs.len() > 1 {
            (540, 300)
        } else {
            (1080, 320)
        };
        let grid = pairs.len() > 1;
        h.push_str(if grid {
            "<div class=\"grid\">\n"
        } else {
            "<div>\n"
        });
        for (g, series) in &pairs {
            any = true;
            let t = format!("{title} (15+, %), by {}", g.by);
            let svg = charts::time_series(&t, "percent", periods, series, size)?;
            let name = format!("{stem}_{}_RT", g.version);
            let caption = format!("{name}, both sexes, aged 15+; band: 95 % confidence interval.");
            h.push_str(&figure(&name, &svg, &counts(series), &caption));
        }
        h.push_str("</div>\n");
    }
    if !any {
        h.push_str("<p class=\"note\">No participation, employment or unemployment rates for this area.</p>\n");
    }
    h.push_str("</section>\n");
    Ok(h)
}

fn pyramid_section(d: &AreaData, periods: &[String]) -> Result<String, ChartError> {
    let mut h = String::from(
        "<section id=\"pyramid\"><h2>Working-age population by age, sex and place of birth</h2>\n",
    );
    let time = series::latest(&d.obs, "MST_XWAP_SEX_AGE_CBR_NB", periods);
    match time
        .as_deref()
        .and_then(|t| series::pyramid(&d.obs, t).map(|p| (t, p)))
    {
        Some((t, (cats, groups))) => {
            let svg = charts::hbars(
                &format!("Age–sex pyramid, {t} (% of each group's population 15+)"),
                "percent (men left, women right)",
                &cats,
                &groups,
                true,
                1080,
            )?;
            h.push_str(&figure(
                "pyramid",
                &svg,
                &bar_counts(&groups),
                &format!("MST_XWAP_SEX_AGE_CBR_NB; whiskers: 95 % confidence interval. {BAR_NOTE}"),
            ));
        }
        None => h.push_str(
            "<p class=\"note\">No working-age population by age band and place of birth.</p>\n",
        ),
    }
    h.push_str("</section>\n");
    Ok(h)
}

pub(super) fn bar_counts(groups: &[BarGroup]) -> Vec<(String, usize, usize)> {
    let bars = |g: &BarGroup| g.values.iter().flatten().count();
    (groups.iter())
        .map(|g| (g.name.clone(), g.colour, bars(g)))
        .collect()
}

fn employment_section(d: &AreaData, periods: &[String]) -> Result<String, ChartError> {
    let mut h = String::from(
        "<section id=\"employment\"><h2>Employment by economic activity and occupation</h2>\n",
    );
    let labels = code_labels();
    for (ind, what) in [
        ("MST_TEMP_SEX_ECO_CBR_NB", "economic activity"),
        ("MST_TEMP_SEX_OCU_CBR_NB", "occupation"),
    ] {
        let shares = series::latest(&d.obs, ind, periods)
            .and_then(|t| series::shares(&d.obs, ind, &t, &labels).map(|s| (t, s)));
        match shares {
            Some((t, (cats, groups))) => {
                let svg = charts::hbars(
                    &format!("Employment by {what}, {t} (% of each group's employment)"),
                    "percent",
                    &cats,
                    &groups,
                    false,
                    1080,
                )?;
                h.push_str(&figure(ind, &svg, &bar_counts(&groups), &format!("{ind}, both sexes; whiskers: the count's 95 % interval over the group's total. {BAR_NOTE}")));
            }
            None => h.push_str(&format!(
                "<p class=\"note\">No employment by {what} for this area.</p>\n"
            )),
        }
    }
    h.push_str("</section>\n");
    Ok(h)
}

/// Labels of classification codes from the built-in code lists (`ECO_ISIC4_A` → its section).
fn code_labels() -> BTreeMap<String, String> {
    let Ok(schema) = crate::schema::Schema::load(None) else {
        return BTreeMap::new();
    };
    let codes = schema.codes.dims.values().flat_map(|d| d.codes.iter());
    codes.map(|c| (c.code.clone(), c.label.clone())).collect()
}

/// The colour of a cell: green when every cell is reliable, amber for unreliable, red for
/// suppressed, mixed by their shares.
fn reliability_colour(r: &series::Reliability) -> String {
    let n = r.total().max(1) as f64;
    let (ok, u, s) = (
        r.reliable as f64 / n,
        r.unreliable as f64 / n,
        r.suppressed as f64 / n,
    );
    let mix = |a: f64, b: f64, c: f64| (ok * a + u * b + s * c).round() as u8;
    format!(
        "#{:02X}{:02X}{:02X}",
        mix(198.0, 255.0, 240.0),
        mix(233.0, 214.0, 150.0),
        mix(200.0, 140.0, 140.0)
    )
}

fn reliability_section(d: &AreaData) -> String {
    let map = series::reliability(&d.obs);
    let mut versions: Vec<&String> = map.keys().map(|(_, v)| v).collect();
    versions.sort();
    versions.dedup();
    let indicators: Vec<&String> = {
        let mut v: Vec<&String> = map.keys().map(|(i, _)| i).collect();
        v.dedup();
        v
    };
    let mut h = String::from("<section id=\"reliability\"><h2>Reliability map</h2>\n<p class=\"note\">Cells of each indicator by its first breakdown: \
        reliable / unreliable (U) / suppressed (S), in percent of the cells (every sex, breakdown and period); green all reliable, amber unreliable, red suppressed.</p>\n<table><tr><th class=\"l\">indicator</th>");
    for v in &versions {
        let _ = write!(h, "<th>{}</th>", esc(v));
    }
    h.push_str("</tr>\n");
    for ind in indicators {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", esc(ind));
        for v in &versions {
            match map.get(&(ind.clone(), (*v).clone())) {
                Some(r) => {
                    let pct = |k: usize| (100.0 * k as f64 / r.total().max(1) as f64).round();
                    let _ = write!(
                        h,
                        "<td style=\"background:{}\" title=\"{} cells\">{}/{}/{}</td>",
                        reliability_colour(r),
                        r.total(),
                        pct(r.reliable),
                        pct(r.unreliable),
                        pct(r.suppressed)
                    );
                }
                None => h.push_str("<td></td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></section>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
