//! The `.label` twins of the code columns: indicator and code labels from the schema (a
//! classification's label carries its type, "Age (Youth, adults): 15+", as ILOSTAT writes it),
//! country names from the country-of-birth code list, survey names from the warehouse's
//! `catalog/sources` table, note texts from `notes.csv`.
use std::collections::HashMap;
use std::path::Path;

use super::observations::read_strings;
use crate::error::Result;
use crate::schema::Schema;

/// What each classification version is called in a label; `SEX` labels stay plain.
const VERSION_TYPES: [(&str, &str); 20] = [
    ("AGE_YTHADULT", "Age (Youth, adults)"),
    ("AGE_AGGREGATE", "Age (Aggregate bands)"),
    ("AGE_10YRBANDS", "Age (10-year bands)"),
    ("AGE_5YRBANDS", "Age (5-year bands)"),
    ("EDU_AGGREGATE", "Education (Aggregate levels)"),
    ("EDU_ISCED11", "Education (ISCED-11)"),
    ("ECO_ISIC4", "Economic activity (ISIC-Rev.4)"),
    ("ECO_SECTOR", "Economic activity (Broad sector)"),
    ("OCU_ISCO08", "Occupation (ISCO-08)"),
    ("OCU_SKILL", "Occupation (Skill level)"),
    ("STE_ICSE93", "Status in employment (ICSE-93)"),
    ("STE_AGGREGATE", "Status in employment (Aggregate)"),
    ("CBR_BIR", "Place of birth"),
    ("CCT_CIT", "Citizenship"),
    ("CBR_BRT", "Country of birth"),
    ("CCT_CTZ", "Country of citizenship"),
    ("CRS_RES", "Country of residence"),
    ("CPR_PRV", "Country of previous residence"),
    ("CDS_DES", "Country of destination"),
    ("MIG_STATUS", "Migrant status"),
];

/// ILOSTAT's observation status flags.
const STATUSES: [(&str, &str); 7] = [
    ("A", "Adjusted"),
    ("B", "Break in series"),
    ("I", "Imputation"),
    ("M", "Model-based"),
    ("R", "Real value"),
    ("S", "Suppressed"),
    ("U", "Unreliable"),
];

#[derive(Debug, Clone, Default)]
pub struct Labels {
    codes: HashMap<String, String>,
    indicators: HashMap<String, String>,
    areas: HashMap<String, String>,
    sources: HashMap<String, String>,
    notes: HashMap<String, String>,
}

impl Labels {
    /// Labels from the schema, and survey names from `warehouse/catalog/sources` when it exists.
    pub fn load(schema: &Schema, warehouse: &Path) -> Result<Self> {
        let mut labels = Labels::from_schema(schema);
        let dir = warehouse.join("catalog").join("sources");
        if dir.is_dir() {
            for file in crate::query::tables::parquet_files(&dir)? {
                let codes = read_strings(&file, "source")?;
                let names = read_strings(&file, "survey")?;
                for (c, n) in codes.into_iter().zip(names) {
                    if let (Some(c), Some(n)) = (c, n) {
                        labels.sources.insert(c, n);
                    }
                }
            }
        }
        Ok(labels)
    }

    pub fn from_schema(schema: &Schema) -> Self {
        let types: HashMap<&str, &str> = VERSION_TYPES.into_iter().collect();
        let mut codes = HashMap::new();
        for dim in schema.codes.dims.values() {
            for c in &dim.codes {
                let label = match types.get(c.version.as_str()) {
                    Some(t) => format!("{t}: {}", c.label),
                    None if c.version == "SEX" => c.label.clone(),
                    None => format!("{}: {}", c.version, c.label),
                };
                codes.insert(c.code.clone(), label);
            }
        }
        let areas = schema
            .codes
            .dims
            .get("brt")
            .map(|d| {
                d.codes
                    .iter()
                    .filter_map(|c| Some((c.code.strip_prefix("CBR_BRT_")?, c)))
                    .filter(|(_, c)| !c.total)
                    .map(|(iso, c)| (iso.to_string(), c.label.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Labels {
            codes,
            indicators: (schema.catalogue.indicator.iter())
                .map(|i| (i.code.clone(), i.label.clone()))
                .collect(),
            areas,
            sources: HashMap::new(),
            notes: (schema.notes.iter())
                .map(|n| (n.code.clone(), n.text.clone()))
                .collect(),
        }
    }

    /// The label of a sex or classification code (empty when unknown).
    pub fn code(&self, code: Option<&str>) -> String {
        code.and_then(|c| self.codes.get(c).cloned())
            .unwrap_or_default()
    }

    pub fn indicator(&self, code: &str) -> String {
        self.indicators.get(code).cloned().unwrap_or_default()
    }

    pub fn area(&self, code: &str) -> String {
        self.areas.get(code).cloned().unwrap_or_default()
    }

    pub fn source(&self, code: &str) -> String {
        self.sources.get(code).cloned().unwrap_or_default()
    }

    pub fn status(&self, flag: Option<&str>) -> String {
        flag.and_then(|f| STATUSES.iter().find(|(c, _)| *c == f))
            .map(|(_, l)| l.to_string())
            .unwrap_or_default()
    }

    /// The texts of `_`-joined note codes, joined with ` | ` (an unknown code stands for itself).
    pub fn notes(&self, joined: Option<&str>) -> String {
        let Some(joined) = joined else {
            return String::new();
        };
        split_notes(joined)
            .iter()
            .map(|c| self.notes.get(c).cloned().unwrap_or_else(|| c.clone()))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// `R1:3513_S3:MIG_PUMF` → `R1:3513`, `S3:MIG_PUMF`: a new code starts at a part with a `:`
/// (codes such as `S3:MIG_PUMF` contain `_` themselves).
pub fn split_notes(joined: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in joined.split('_') {
        match out.last_mut() {
            Some(last) if !part.contains(':') => {
                last.push('_');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels::from_schema(&Schema::load(None).expect("built-in schema"))
    }

    #[test]
    fn classification_labels_carry_their_type_and_sex_stays_plain() {
        let l = labels();
        assert_eq!(l.code(Some("SEX_M")), "Male");
        assert_eq!(
            l.code(Some("AGE_YTHADULT_YGE15")),
            "Age (Youth, adults): 15+"
        );
        assert_eq!(
            l.code(Some("CBR_BIR_FOREIGN")).split(':').next(),
            Some("Place of birth")
        );
        assert_eq!(l.code(None), "");
        assert_eq!(l.area("CAN"), "Canada");
        assert!(l
            .indicator("MST_TEAP_SEX_AGE_CBR_RT")
            .starts_with("Labour force participation"));
        assert_eq!(l.status(Some("U")), "Unreliable");
    }

    #[test]
    fn joined_note_codes_split_at_their_type_prefix() {
        assert_eq!(
            split_notes("R1:3513_S3:MIG_PUMF"),
            ["R1:3513", "S3:MIG_PUMF"]
        );
        assert_eq!(split_notes("U1:COUNT_LT15"), ["U1:COUNT_LT15"]);
        let l = labels();
        assert_eq!(
            l.notes(Some("R1:3513_X9:NEW")),
            "Repository: ILO-STATISTICS - Micro data processing | X9:NEW"
        );
    }
}
