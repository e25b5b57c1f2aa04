//! SDMX-CSV version 1, one file per ILO dataflow (`DF_<INDICATOR>.csv`, every frequency in it):
//! `DATAFLOW`, then ILO's dimensions `REF_AREA, FREQ, MEASURE, SEX, <one per breakdown>,
//! TIME_PERIOD`, then `OBS_VALUE` and the attributes. A breakdown's dimension id is its codes'
//! prefix (`AGE_YTHADULT_YGE15` → `AGE`); periods take SDMX's forms (`2024`, `2024-Q1`, `2024-01`).
//! Flags follow SDMX's cross-domain code lists: `OBS_STATUS` from `CL_OBS_STATUS` (`A` normal,
//! `U` low reliability, `Q` missing value; suppressed) and `CONF_STATUS` from `CL_CONF_STATUS`
//! (`F` free, `C` confidential), see [`statuses`].
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::observations::{period, Dataset, ObsRow};
use super::{csv_file, number, Written};
use crate::error::{MigError, Result};
use crate::schema::Catalogue;

const ATTRIBUTES: [&str; 11] = [
    "OBS_VALUE",
    "OBS_STATUS",
    "CONF_STATUS",
    "UNIT_MEASURE",
    "UNIT_MULT",
    "SOURCE",
    "NOTE_CLASSIF",
    "NOTE_INDICATOR",
    "NOTE_SOURCE",
    "LOWER_BOUND",
    "UPPER_BOUND",
];

/// SDMX's `OBS_STATUS` (CL_OBS_STATUS) and `CONF_STATUS` (CL_CONF_STATUS) for a warehouse
/// status: none → `A` normal value, free; `U` unreliable → `U` low reliability, free; `S`
/// suppressed → `Q` missing value (suppressed), `C` confidential. ILOSTAT's other flags (`B`
/// break, `E` estimate, `P` provisional, …) have the same code in CL_OBS_STATUS and pass through.
pub fn statuses(obs_status: Option<&str>) -> (&str, &'static str) {
    match obs_status {
        None | Some("") => ("A", "F"),
        Some("U") => ("U", "F"),
        Some("S") => ("Q", "C"),
        Some(other) => (other, "F"),
    }
}

/// `MST_TEAP_SEX_AGE_CBR_NB` → `MST_TEAP_NB`: the first 9 characters and the last 2.
pub fn measure(indicator: &str) -> String {
    match (indicator.get(..9), indicator.len().checked_sub(2)) {
        (Some(head), Some(at)) if indicator.len() > 11 => {
            format!("{head}{}", indicator.get(at..).unwrap_or(""))
        }
        _ => indicator.to_string(),
    }
}

/// `UNIT_MEASURE` and `UNIT_MULT` from the indicator's unit in the catalogue (`_RT` / `_NB` for an
/// indicator the catalogue does not know).
pub fn unit(indicator: &str, catalogue: &Catalogue) -> (&'static str, &'static str) {
    let unit = catalogue.get(indicator).map(|i| i.unit.as_str());
    match unit {
        Some(u) => match crate::load::catalog::unit_measure(u) {
            "" => ("", ""),
            m if u == "thousands" => (m, "3"),
            m => (m, "0"),
        },
        None if indicator.ends_with("_RT") => ("PT", "0"),
        None if indicator.ends_with("_NB") => ("PS", "3"),
        None => ("", ""),
    }
}

/// The dimension id of a breakdown column: the common prefix of its codes.
fn dimension(ds: &[&Dataset], get: fn(&ObsRow) -> Option<&str>) -> Result<Option<String>> {
    let prefixes: BTreeSet<&str> = ds
        .iter()
        .flat_map(|d| d.rows.iter())
        .filter_map(get)
        .map(|c| c.split('_').next().unwrap_or(c))
        .collect();
    match prefixes.len() {
        0 => Ok(None),
        1 => Ok(prefixes.into_iter().next().map(str::to_string)),
        _ => Err(MigError::Other(format!(
            "{}: one breakdown mixes the classifications {}; SDMX needs one dimension per breakdown",
            ds.first().map(|d| d.indicator.as_str()).unwrap_or(""),
            prefixes.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// One dataflow: the datasets of one indicator (one per frequency).
struct Flow<'a> {
    indicator: &'a str,
    datasets: Vec<&'a Dataset>,
}

/// Writes one file per dataflow into `dir`; returns each file with its row count, and a warning
/// per dataflow where two sources give a value for the same series and period.
pub fn write_all(
    datasets: &[Dataset],
    catalogue: &Catalogue,
    dir: &Path,
) -> Result<(Written, Vec<String>)> {
    let mut flows: BTreeMap<&str, Flow> = BTreeMap::new();
    for ds in datasets {
        flows
            .entry(&ds.indicator)
            .or_insert_with(|| Flow {
                indicator: &ds.indicator,
                datasets: Vec::new(),
            })
            .datasets
            .push(ds);
    }
    let mut written = Vec::new();
    let mut warnings = Vec::new();
    for flow in flows.values() {
        let name = format!("DF_{}.csv", flow.indicator);
        let path = dir.join(&name);
        let (n, dups) = write_flow(flow, catalogue, &path)?;
        if dups > 0 {
            warnings.push(format!(
                "{name}: {dups} observations share their series and period with another source's \
                 (SOURCE is an attribute in SDMX, not a dimension)"
            ));
        }
        written.push((path, n));
    }
    Ok((written, warnings))
}

/// A breakdown column read from a row.
type Breakdown = fn(&ObsRow) -> Option<&str>;

/// The breakdown dimensions of a dataflow: id and column, in `classif1`, `classif2` order.
fn dimensions(flow: &Flow) -> Result<Vec<(String, Breakdown)>> {
    let mut dims = vec![];
    let columns: [Breakdown; 2] = [|r| r.classif1.as_deref(), |r| r.classif2.as_deref()];
    for get in columns {
        if let Some(id) = dimension(&flow.datasets, get)? {
            dims.push((id, get));
        }
    }
    if let [(a, _), (b, _)] = dims.as_slice() {
        if a == b {
            return Err(MigError::Other(format!(
                "{}: both breakdowns are {a}; SDMX needs distinct dimensions",
                flow.indicator
            )));
        }
    }
    Ok(dims)
}

/// The values one dataflow gives every row.
struct Constants {
    dataflow: String,
    measure: String,
    unit_measure: &'static str,
    unit_mult: &'static str,
}

/// A row's series key and period, then its value and attributes.
fn row(c: &Constants, freq: &str, dims: &[(String, Breakdown)], r: &ObsRow) -> Vec<String> {
    let time = period(&r.time).map(|(_, p)| p).unwrap_or_default();
    let mut row = vec![
        c.dataflow.clone(),
        r.ref_area.clone(),
        freq.to_string(),
        c.measure.clone(),
        r.sex.clone(),
    ];
    row.extend(dims.iter().map(|(_, get)| get(r).unwrap_or("").to_string()));
    row.push(time);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let (obs_status, conf_status) = statuses(r.obs_status.as_deref());
    row.extend([
        number(r.obs_value),
        obs_status.to_string(),
        conf_status.to_string(),
        c.unit_measure.to_string(),
        c.unit_mult.to_string(),
        r.source.clone(),
        text(&r.note_classif),
        text(&r.note_indicator),
        text(&r.note_source),
        number(r.lower_bound),
        number(r.upper_bound),
    ]);
    row
}

/// Writes one dataflow; returns its row count and the number of duplicate keys.
fn write_flow(flow: &Flow, catalogue: &Catalogue, path: &Path) -> Result<(usize, usize)> {
    let dims = dimensions(flow)?;
    let mut header = vec!["DATAFLOW", "REF_AREA", "FREQ", "MEASURE", "SEX"];
    header.extend(dims.iter().map(|(id, _)| id.as_str()));
    header.push("TIME_PERIOD");
    let key_len = header.len();
    header.extend(ATTRIBUTES);
    let (unit_measure, unit_mult) = unit(flow.indicator, catalogue);
    let constants = Constants {
        dataflow: format!("ILO:DF_{}(1.0)", flow.indicator),
        measure: measure(flow.indicator),
        unit_measure,
        unit_mult,
    };
    let rows: Vec<Vec<String>> = (flow.datasets.iter())
        .flat_map(|ds| {
            ds.rows
                .iter()
                .map(|r| row(&constants, ds.freq.code(), &dims, r))
        })
        .collect();
    let keys: BTreeSet<&[String]> = rows.iter().map(|r| &r[..key_len]).collect();
    let duplicates = rows.len() - keys.len();
    csv_file(path, &header, rows.iter())?;
    Ok((rows.len(), duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;

    #[test]
    fn measure_is_the_first_nine_characters_and_the_last_two() {
        assert_eq!(measure("MST_TEAP_SEX_AGE_CBR_NB"), "MST_TEAP_NB");
        assert_eq!(measure("MNA_TPOP_SEX_CRS_NB"), "MNA_TPOP_NB");
        assert_eq!(measure("SHORT_NB"), "SHORT_NB");
    }

    #[test]
    fn statuses_follow_the_sdmx_code_lists() {
        assert_eq!(statuses(None), ("A", "F"));
        assert_eq!(statuses(Some("U")), ("U", "F"));
        assert_eq!(statuses(Some("S")), ("Q", "C"));
        assert_eq!(statuses(Some("B")), ("B", "F"));
    }

    #[test]
    fn units_follow_the_catalogue() {
        let s = Schema::load(None).expect("schema");
        assert_eq!(unit("MST_TEAP_SEX_AGE_CBR_NB", &s.catalogue), ("PS", "3"));
        assert_eq!(unit("MST_TEAP_SEX_AGE_CBR_RT", &s.catalogue), ("PT", "0"));
        assert_eq!(unit("MST_EARA_SEX_CBR_NB", &s.catalogue), ("LCU", "0"));
        assert_eq!(unit("XYZ_ABCD_SEX_RT", &s.catalogue), ("PT", "0"));
    }
}
