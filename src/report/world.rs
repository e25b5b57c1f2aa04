//! The sections drawn from the World Bank's tables beside the survey: remittances (WDI series,
//! the bilateral matrix's corridors, the survey's households receiving remittances) and the mirror
//! statistics (survey estimates against bilateral migrant stocks).
use std::fmt::Write as _;

use super::charts::{self, BarGroup, ChartError, Point, Series};
use super::data::AreaData;
use super::page::{bar_counts, counts, esc, figure};
use crate::mirror::MirrorRow;

/// The WDI series of the area (US$ millions) over the years any of them has.
fn wdi_series(d: &AreaData) -> (Vec<String>, Vec<Series>) {
    let mut years: Vec<String> = d.remittances.iter().map(|r| r.year.clone()).collect();
    years.sort();
    years.dedup();
    let value = |code: &str, year: &String| {
        let r = d
            .remittances
            .iter()
            .find(|r| r.indicator == code && &r.year == year);
        r.map_or(Point::Absent, |r| Point::Value {
            value: r.value / 1e6,
            lower: None,
            upper: None,
            unreliable: false,
        })
    };
    let series = WDI
        .iter()
        .filter(|(code, _)| d.remittances.iter().any(|r| r.indicator == *code))
        .map(|(code, name)| Series {
            name: (*name).to_string(),
            points: years.iter().map(|y| value(code, y)).collect(),
        })
        .collect();
    (years, series)
}

/// WDI's personal remittances received and paid.
const WDI: [(&str, &str); 2] = [
    ("BX.TRF.PWKR.CD.DT", "Received"),
    ("BM.TRF.PWKR.CD.DT", "Paid"),
];

/// WDI series, corridors and the survey's households receiving remittances.
pub fn remittance_section(d: &AreaData, periods: &[String]) -> Result<String, ChartError> {
    let mut h = String::from("<section id=\"remittances\"><h2>Remittances</h2>\n");
    let (years, series) = wdi_series(d);
    if series.is_empty() {
        h.push_str(
            "<p class=\"note\">No WDI remittance series for this area in the warehouse.</p>\n",
        );
    } else {
        let svg = charts::time_series(
            "Personal remittances (WDI), US$ millions",
            "US$ millions",
            &years,
            &series,
            (1080, 320),
        )?;
        h.push_str(&figure(
            "wdi",
            &svg,
            &counts(&series),
            "WDI BX.TRF.PWKR.CD.DT (received) and BM.TRF.PWKR.CD.DT (paid), current US$.",
        ));
    }
    h.push_str(&corridors(d)?);
    h.push_str(&households(d, periods));
    h.push_str("</section>\n");
    Ok(h)
}

fn corridors(d: &AreaData) -> Result<String, ChartError> {
    let mut h = String::new();
    let top: Vec<_> = d.inflows.iter().take(10).collect();
    if top.is_empty() {
        h.push_str("<p class=\"note\">No bilateral remittance corridors into this area.</p>\n");
        return Ok(h);
    }
    let cats: Vec<String> = top.iter().map(|c| c.partner.clone()).collect();
    let group = BarGroup::new(
        "Received from",
        0,
        top.iter().map(|c| Some((c.usd_mn, None, None))).collect(),
    );
    let year = top.first().map(|c| c.year.as_str()).unwrap_or("");
    let svg = charts::hbars(
        &format!("Top corridors into {} ({year}), US$ millions", d.area),
        "US$ millions",
        &cats,
        std::slice::from_ref(&group),
        false,
        1080,
    )?;
    h.push_str(&figure(
        "corridors",
        &svg,
        &bar_counts(std::slice::from_ref(&group)),
        "World Bank/KNOMAD bilateral remittance estimates: the ten largest sending countries.",
    ));
    if !d.outflows.is_empty() {
        h.push_str("<h3>Largest corridors out of the area</h3><table><tr><th class=\"l\">to</th><th>US$ millions</th></tr>");
        for c in d.outflows.iter().take(5) {
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td>{:.1}</td></tr>",
                esc(&c.partner),
                c.usd_mn
            );
        }
        h.push_str("</table>\n");
    }
    Ok(h)
}

fn households(d: &AreaData, periods: &[String]) -> String {
    let rows: Vec<_> = periods
        .iter()
        .filter_map(|t| {
            let find = |ind: &str| {
                d.obs.iter().find(|o| {
                    o.indicator == ind
                        && &o.time == t
                        && o.classif1.as_deref() == Some("HHM_MIG_TOTAL")
                })
            };
            let share = find("RMT_HREC_HHM_RT")?;
            Some((t, share, find("RMT_HREC_HHM_NB")))
        })
        .collect();
    if rows.is_empty() {
        return "<p class=\"note\">The survey has no question on remittances received.</p>\n"
            .into();
    }
    let mut h = String::from("<h3>Households receiving remittances (survey)</h3><table><tr><th class=\"l\">period</th><th>share of households, %</th><th>95 % interval</th><th>households, thousands</th><th>status</th></tr>");
    let n = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into());
    for (t, s, c) in rows {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>",
            esc(t),
            n(s.obs_value),
            n(s.lower_bound),
            n(s.upper_bound),
            n(c.and_then(|c| c.obs_value)),
            esc(s.obs_status.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
    h
}

/// One row of the mirror table: persons with thousands separators.
fn mirror_row(m: &MirrorRow) -> String {
    let within = match m.within_ci {
        Some(true) => "yes",
        Some(false) => "no",
        None => "–",
    };
    format!(
        "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{within}</td><td class=\"t\">{}</td></tr>",
        esc(&pair_label(m)),
        esc(&m.time),
        grouped(m.survey_value),
        m.survey_se.map(grouped).unwrap_or_default(),
        grouped(m.reference_value),
        esc(&m.reference_time),
        m.ratio.map(|r| format!("{r:.2}")).unwrap_or_default(),
        esc(m.note.as_deref().unwrap_or(""))
    )
}

/// A whole number with thin-space thousands separators: `1 835 106`.
pub fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    if x < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// `ARM ← RUS` (migrants from RUS in ARM) or `ARM → RUS` (ARM's emigrants in RUS).
fn pair_label(m: &MirrorRow) -> String {
    let arrow = if m.measure.starts_with("foreign") {
        "←"
    } else {
        "→"
    };
    format!("{} {arrow} {}", m.ref_area, m.counterpart_area)
}

/// The chart of the latest period's pairs (at most 16): survey with its interval beside the stock.
fn mirror_chart(d: &AreaData) -> Result<String, ChartError> {
    let last = d
        .mirror
        .iter()
        .map(|m| m.time.as_str())
        .max()
        .unwrap_or_default();
    let rows: Vec<_> = d
        .mirror
        .iter()
        .filter(|m| m.time == last)
        .take(16)
        .collect();
    let cats: Vec<String> = rows.iter().map(|m| pair_label(m)).collect();
    let th = |v: f64| v / 1000.0;
    let z = crate::mirror::pairs::Z95;
    let survey = rows.iter().map(|m| {
        let ci = |sign: f64| m.survey_se.map(|s| th(m.survey_value + sign * z * s));
        Some((th(m.survey_value), ci(-1.0), ci(1.0)))
    });
    let reference = rows
        .iter()
        .map(|m| Some((th(m.reference_value), None, None)));
    let groups = [
        BarGroup::new("Survey", 0, survey.collect()),
        BarGroup::new("Bilateral stock", 1, reference.collect()),
    ];
    let svg = charts::hbars(
        &format!("Survey ({last}) vs bilateral migrant stock, thousands of persons"),
        "thousands of persons",
        &cats,
        &groups,
        false,
        1080,
    )?;
    Ok(figure(
        "mirror",
        &svg,
        &bar_counts(&groups),
        "← migrants from the counterpart living in the area; → the area's emigrants living in the \
         counterpart. Whiskers: the survey's 95 % interval.",
    ))
}

/// The mirror pairs of the area: chart and table.
pub fn mirror_section(d: &AreaData) -> Result<String, ChartError> {
    let mut h = String::from("<section id=\"mirror\"><h2>Mirror statistics: the survey against the World Bank's bilateral migrant stocks</h2>\n");
    if d.mirror.is_empty() {
        h.push_str("<p class=\"note\">No pair: the survey has no migrants by country of birth or members abroad by destination that the bilateral stock matrix covers.</p></section>\n");
        return Ok(h);
    }
    h.push_str(&mirror_chart(d)?);
    h.push_str("<table><tr><th class=\"l\">pair</th><th class=\"l\">period</th><th>survey, persons</th><th>SE</th><th>reference, persons</th><th>year</th><th>ratio</th><th>within 95 % CI</th><th class=\"l\">note</th></tr>");
    for m in &d.mirror {
        h.push_str(&mirror_row(m));
    }
    h.push_str("</table></section>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_by_thousands() {
        assert_eq!(grouped(1835106.4), "1\u{202f}835\u{202f}106");
        assert_eq!(grouped(999.6), "1\u{202f}000");
        assert_eq!(grouped(-12.0), "-12");
    }
}
