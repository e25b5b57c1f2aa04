//! The pairs of mirror statistics: a survey's estimate beside the World Bank's figure for the same
//! two countries, in persons. Destination side: the survey's foreign-born working-age population
//! born in the counterpart (`MST_FORP_SEX_CBR_NB`, `CBR_BRT_<ISO3>`) against the bilateral stock of
//! migrants from the counterpart living in the survey's area. Origin side: the survey's household
//! members gone abroad to the counterpart (`MNA_OPOP_SEX_CDS_NB`, `CDS_DES_<ISO3>`) against the
//! bilateral stock of the survey area's emigrants living in the counterpart.
use std::collections::BTreeMap;

use crate::export::ObsRow;

/// Survey indicator, breakdown prefix and measure name of each side.
pub const SIDES: [Side; 2] = [
    Side {
        indicator: "MST_FORP_SEX_CBR_NB",
        prefix: "CBR_BRT_",
        measure: "foreign_born_by_origin",
        survey_is_destination: true,
    },
    Side {
        indicator: "MNA_OPOP_SEX_CDS_NB",
        prefix: "CDS_DES_",
        measure: "emigrants_by_destination",
        survey_is_destination: false,
    },
];

/// How one kind of survey estimate meets the bilateral stock matrix.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub indicator: &'static str,
    pub prefix: &'static str,
    pub measure: &'static str,
    /// Whether the survey's area is the destination (else the origin) in the stock matrix.
    pub survey_is_destination: bool,
}

/// `_NB` observations are in thousands; mirror rows are in persons.
pub const PERSONS_PER_UNIT: f64 = 1000.0;
/// Two-sided 95 % normal quantile for `within_ci`.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A reference figure: the bilateral stock of migrants from `origin` living in `destination`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stock {
    pub destination: String,
    pub origin: String,
    pub year: i32,
    pub persons: f64,
    pub source: String,
}

/// One row of the mirror table.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRow {
    pub ref_area: String,
    pub counterpart_area: String,
    pub measure: String,
    pub time: String,
    pub survey_value: f64,
    pub survey_se: Option<f64>,
    pub survey_source: String,
    pub survey_indicator: String,
    pub survey_status: Option<String>,
    pub reference_value: f64,
    pub reference_source: String,
    pub reference_time: String,
    pub ratio: Option<f64>,
    pub within_ci: Option<bool>,
    pub unit: String,
    pub note: Option<String>,
}

/// Stocks by (destination, origin).
pub type Stocks = BTreeMap<(String, String), Vec<Stock>>;

/// The note code of a source whose weights do not gross up to the population.
pub const SAMPLE_SCALE_NOTE: &str = "S5:NOT_GROSSED_UP";

/// Every pair the observations and the stocks support, sorted by area, measure, counterpart,
/// period and source.
pub fn pairs(obs: &[ObsRow], stocks: &Stocks) -> Vec<MirrorRow> {
    let mut out: Vec<MirrorRow> = SIDES
        .iter()
        .flat_map(|side| obs.iter().filter_map(move |o| pair(side, o, stocks)))
        .collect();
    out.sort_by(|a, b| {
        (
            &a.ref_area,
            &a.measure,
            &a.counterpart_area,
            &a.time,
            &a.survey_source,
        )
            .cmp(&(
                &b.ref_area,
                &b.measure,
                &b.counterpart_area,
                &b.time,
                &b.survey_source,
            ))
    });
    out
}

/// The survey's counterpart country in a breakdown code, e.g. `CBR_BRT_RUS` → `RUS`; `None` for
/// totals, unknowns and codes of another list.
fn counterpart<'a>(code: &'a str, prefix: &str) -> Option<&'a str> {
    let c = code.strip_prefix(prefix)?;
    (c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) && c != "TOT").then_some(c)
}

fn pair(side: &Side, o: &ObsRow, stocks: &Stocks) -> Option<MirrorRow> {
    if o.indicator != side.indicator || o.sex != "SEX_T" {
        return None;
    }
    let other = counterpart(o.classif1.as_deref()?, side.prefix)?;
    let value = o.obs_value?;
    let key = match side.survey_is_destination {
        true => (o.ref_area.clone(), other.to_string()),
        false => (other.to_string(), o.ref_area.clone()),
    };
    let year: i32 = o.time.get(..4)?.parse().ok()?;
    let stock = nearest(stocks.get(&key)?, year)?;
    let survey_value = value * PERSONS_PER_UNIT;
    let survey_se = o.se.map(|s| s * PERSONS_PER_UNIT);
    Some(MirrorRow {
        ref_area: o.ref_area.clone(),
        counterpart_area: other.to_string(),
        measure: side.measure.to_string(),
        time: o.time.clone(),
        survey_value,
        survey_se,
        survey_source: o.source.clone(),
        survey_indicator: o.indicator.clone(),
        survey_status: o.obs_status.clone(),
        reference_value: stock.persons,
        reference_source: stock.source.clone(),
        reference_time: stock.year.to_string(),
        ratio: (stock.persons != 0.0).then(|| survey_value / stock.persons),
        within_ci: survey_se.map(|se| (survey_value - stock.persons).abs() <= Z95 * se),
        unit: "persons".to_string(),
        note: note(o, year, stock.year),
    })
}

/// The stock of the year nearest to `year` (the earlier one on a tie).
fn nearest(stocks: &[Stock], year: i32) -> Option<&Stock> {
    stocks
        .iter()
        .min_by_key(|s| ((s.year - year).abs(), s.year))
}

/// What a reader must know about a pair: different years, a sample-scale source, an unreliable
/// survey value.
fn note(o: &ObsRow, year: i32, reference_year: i32) -> Option<String> {
    let mut parts = Vec::new();
    if year != reference_year {
        parts.push(format!(
            "different years: survey {}, reference {reference_year}",
            o.time
        ));
    }
    if o.note_source
        .as_deref()
        .is_some_and(|n| n.contains(SAMPLE_SCALE_NOTE))
    {
        parts.push("sample scale: the survey's weights do not gross up to the population".into());
    }
    if o.obs_status.as_deref() == Some("U") {
        parts.push("survey value unreliable (U)".into());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(indicator: &str, area: &str, c1: &str, value: f64, se: Option<f64>) -> ObsRow {
        ObsRow {
            ref_area: area.into(),
            source: "SY:TEST".into(),
            indicator: indicator.into(),
            sex: "SEX_T".into(),
            classif1: Some(c1.into()),
            classif2: None,
            time: "2023Q4".into(),
            obs_value: Some(value),
            obs_status: None,
            note_classif: None,
            note_indicator: None,
            note_source: None,
            sample_count: 40,
            se,
            cv: None,
            lower_bound: None,
            upper_bound: None,
            design_df: None,
        }
    }

    fn stocks() -> Stocks {
        let s = |d: &str, o: &str, y: i32, p: f64| Stock {
            destination: d.into(),
            origin: o.into(),
            year: y,
            persons: p,
            source: "WB:KNOMAD".into(),
        };
        let mut m = Stocks::new();
        m.entry(("ARM".into(), "RUS".into()))
            .or_default()
            .push(s("ARM", "RUS", 2017, 20000.0));
        m.entry(("RUS".into(), "ARM".into()))
            .or_default()
            .push(s("RUS", "ARM", 2017, 900000.0));
        m
    }

    #[test]
    fn both_sides_meet_the_stock_matrix_in_persons() {
        let obs = [
            obs("MST_FORP_SEX_CBR_NB", "ARM", "CBR_BRT_RUS", 21.0, Some(1.0)),
            obs("MNA_OPOP_SEX_CDS_NB", "ARM", "CDS_DES_RUS", 30.0, Some(2.0)),
            obs("MST_FORP_SEX_CBR_NB", "ARM", "CBR_BRT_TOTAL", 50.0, None),
            obs("MST_FORP_SEX_CBR_NB", "ARM", "CBR_BRT_GEO", 5.0, None),
        ];
        let rows = pairs(&obs, &stocks());
        assert_eq!(rows.len(), 2, "{rows:#?}");
        let dest = &rows[1];
        assert_eq!(dest.measure, "foreign_born_by_origin");
        assert_eq!(
            (dest.survey_value, dest.reference_value),
            (21000.0, 20000.0)
        );
        assert_eq!(dest.within_ci, Some(true));
        assert_eq!(dest.ratio, Some(1.05));
        let orig = &rows[0];
        assert_eq!(orig.measure, "emigrants_by_destination");
        assert_eq!(orig.reference_value, 900000.0);
        assert_eq!(orig.within_ci, Some(false));
        assert!(orig
            .note
            .as_deref()
            .is_some_and(|n| n.contains("reference 2017")));
    }
}
