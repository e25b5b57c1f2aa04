//! What one area's page shows, read from the warehouse with arrow-rs: the area's observations in
//! the period span, its World Bank remittance series and corridors, and its mirror pairs.
use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Result;
use crate::export::filter::{months, ObsFilter};
use crate::export::ObsRow;
use crate::mirror::{self, read, MirrorRow};

/// One year of a WDI series.
#[derive(Debug, Clone, PartialEq)]
pub struct YearValue {
    pub indicator: String,
    pub year: String,
    pub value: f64,
}

/// One corridor of the bilateral remittance matrix: the partner and US$ millions.
#[derive(Debug, Clone, PartialEq)]
pub struct Corridor {
    pub partner: String,
    pub usd_mn: f64,
    pub year: String,
}

/// Everything one area's page needs.
#[derive(Debug, Clone, Default)]
pub struct AreaData {
    pub area: String,
    pub label: String,
    pub obs: Vec<ObsRow>,
    pub remittances: Vec<YearValue>,
    /// Senders to the area, largest first.
    pub inflows: Vec<Corridor>,
    /// Receivers from the area, largest first.
    pub outflows: Vec<Corridor>,
    pub mirror: Vec<MirrorRow>,
}

impl AreaData {
    /// The periods of the area's observations, in time order.
    pub fn periods(&self) -> Vec<String> {
        let set: BTreeSet<(u32, u32, &str)> = (self.obs.iter())
            .filter_map(|o| months(&o.time).map(|m| (m.first, m.last, o.time.as_str())))
            .collect();
        set.into_iter().map(|(_, _, t)| t.to_string()).collect()
    }

    /// The sources of the area's observations.
    pub fn sources(&self) -> BTreeSet<&str> {
        self.obs.iter().map(|o| o.source.as_str()).collect()
    }
}

/// The areas that have observations (folder names under `observations/`).
pub fn areas(wh: &Path) -> Result<Vec<String>> {
    let dir = wh.join("observations");
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && e.path().is_dir() {
                out.push(name);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads what the page of `area` shows; `filter` takes the area and the period span.
pub fn load(wh: &Path, area: &str, filter: &ObsFilter) -> Result<AreaData> {
    let mut obs = Vec::new();
    let dir = wh.join("observations").join(area);
    if dir.is_dir() {
        for f in crate::query::tables::parquet_files(&dir)? {
            let rows = crate::export::observations::read_file(&f)?;
            obs.extend(rows.into_iter().filter(|o| filter.matches(o)));
        }
    }
    let stocks = mirror::stocks(wh)?;
    let mirror = mirror::pairs(&obs, &stocks);
    let (inflows, outflows) = corridors(wh, area)?;
    Ok(AreaData {
        area: area.to_string(),
        label: label(wh, area)?.unwrap_or_else(|| area.to_string()),
        obs,
        remittances: remittances(wh, area)?,
        inflows,
        outflows,
        mirror,
    })
}

/// The area's name in `catalog/ref_areas`.
fn label(wh: &Path, area: &str) -> Result<Option<String>> {
    for b in read::table(wh, "catalog/ref_areas")? {
        for i in 0..b.num_rows() {
            if read::text(&b, "ref_area", i) == Some(area) {
                return Ok(read::text(&b, "label", i).map(str::to_string));
            }
        }
    }
    Ok(None)
}

/// The area's WDI series (received and paid), sorted by indicator and year.
fn remittances(wh: &Path, area: &str) -> Result<Vec<YearValue>> {
    let mut out = Vec::new();
    for b in read::table(wh, "remittances")? {
        for i in 0..b.num_rows() {
            let t = |c: &str| read::text(&b, c, i);
            if t("ref_area") != Some(area) {
                continue;
            }
            if let (Some(ind), Some(year), Some(v)) =
                (t("indicator"), t("time"), read::number(&b, "obs_value", i))
            {
                out.push(YearValue {
                    indicator: ind.to_string(),
                    year: year.to_string(),
                    value: v,
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.indicator, &a.year).cmp(&(&b.indicator, &b.year)));
    Ok(out)
}

/// The bilateral remittance corridors into and out of the area (countries only, above zero).
fn corridors(wh: &Path, area: &str) -> Result<(Vec<Corridor>, Vec<Corridor>)> {
    let (mut inflows, mut outflows) = (Vec::new(), Vec::new());
    for b in read::table(wh, "remittances_bilateral")? {
        for i in 0..b.num_rows() {
            let t = |c: &str| read::text(&b, c, i);
            let countries = t("ref_area_kind") == Some("country")
                && t("counterpart_area_kind") == Some("country");
            let (Some(to), Some(from), Some(v)) = (
                t("ref_area"),
                t("counterpart_area"),
                read::number(&b, "obs_value", i),
            ) else {
                continue;
            };
            if !countries || v <= 0.0 {
                continue;
            }
            let year = t("time").unwrap_or("").to_string();
            if to == area {
                inflows.push(Corridor {
                    partner: from.to_string(),
                    usd_mn: v,
                    year: year.clone(),
                });
            }
            if from == area {
                outflows.push(Corridor {
                    partner: to.to_string(),
                    usd_mn: v,
                    year,
                });
            }
        }
    }
    for list in [&mut inflows, &mut outflows] {
        list.sort_by(|a, b| {
            b.usd_mn
                .total_cmp(&a.usd_mn)
                .then(a.partner.cmp(&b.partner))
        });
    }
    Ok((inflows, outflows))
}
