//! Harmonised record schemas (`schemas/person.toml`, `schemas/emigrant.toml`).
use serde::Deserialize;

use crate::error::{MigError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Int,
    Float,
    Bool,
    Code,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub dimension: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSchema {
    pub record: String,
    pub version: String,
    pub field: Vec<FieldDef>,
}

/// Fields migstat derives after mapping (household head, member abroad).
pub const DERIVED_FIELDS: [&str; 2] = ["hh_head", "hhm"];

/// Fields filled by the pipeline driver itself, never mapped from a column.
pub const SYSTEM_FIELDS: [&str; 9] = [
    "ref_area", "source", "time", "key", "line", "hh_id", "weight", "stratum", "psu",
];

impl RecordSchema {
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| MigError::Schema(format!("{name}: {e}")))
    }

    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.field.iter().find(|f| f.name == name)
    }

    /// Fields a pipeline maps from its columns (all but the system fields, the age interval and
    /// the fields migstat derives itself).
    pub fn mappable(&self) -> impl Iterator<Item = &FieldDef> {
        self.columns()
            .filter(|f| !DERIVED_FIELDS.contains(&f.name.as_str()))
    }

    /// Fields held as frame columns: the mappable ones and the derived ones.
    pub fn columns(&self) -> impl Iterator<Item = &FieldDef> {
        self.field
            .iter()
            .filter(|f| !SYSTEM_FIELDS.contains(&f.name.as_str()))
            .filter(|f| f.name != "age_lo" && f.name != "age_hi")
    }
}
