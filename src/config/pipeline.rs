//! The pipeline file: one TOML per survey saying where its data are, how its columns map onto the
//! harmonised schema, its design, and which rules stop a run or quarantine rows.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::estimate::variance::{LonelyPsu, ReplicateMethod};
use crate::extract::limits::Limits;

/// A parsed pipeline file. Keys are checked separately (see `check.rs`) so that every problem
/// is reported at once; deserialisation itself is lenient about unknown keys.
#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    pub pipeline: Meta,
    pub input: Input,
    #[serde(default)]
    pub time: TimeSpec,
    #[serde(default)]
    pub design: Design,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMap>,
    #[serde(default)]
    pub rules: BTreeMap<String, Severity>,
    #[serde(default)]
    pub roster: Option<Roster>,
    /// Thresholds of the validation rules that take one.
    #[serde(default)]
    pub validation: ValidationSpec,
    /// Directory of the pipeline file; relative paths are resolved against it.
    #[serde(skip)]
    pub dir: PathBuf,
    /// Path of the pipeline file itself.
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    pub id: String,
    pub name: String,
    pub ref_area: String,
    /// `TYPE:id`, e.g. `BA:CAN_LFS_PUMF`; synthetic sources use type `SY`.
    pub source: String,
    #[serde(default)]
    pub survey: Option<String>,
    /// `A`, `Q` or `M`.
    pub periodicity: String,
    /// Note codes put in `note_source` of every observation.
    #[serde(default)]
    pub note_source: Vec<String>,
    #[serde(default)]
    pub synthetic: bool,
    #[serde(default)]
    pub reliability: Option<Reliability>,
    /// Whether microdata are written to the warehouse (default true).
    #[serde(default = "yes")]
    pub microdata: bool,
    /// Upper bound of working age is open; lower bound here (default 15).
    #[serde(default = "fifteen")]
    pub working_age: i64,
}

fn yes() -> bool {
    true
}
fn fifteen() -> i64 {
    15
}

#[derive(Debug, Clone, Deserialize)]
pub struct Input {
    #[serde(rename = "type", default = "csv_type")]
    pub kind: String,
    /// Local file; with `url`, where the fetched copy is kept (default: the cache folder).
    #[serde(default)]
    pub path: String,
    /// For a zip archive: the member to read (a glob such as `pub*.csv`).
    #[serde(default)]
    pub member: Option<String>,
    /// `utf-8`, `latin-1` or `auto` (default: UTF-8 with or without BOM, else latin-1).
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    /// How decimal numbers are written: `"."` (default) or `","` (`12,5`, as Spanish- and
    /// French-locale spreadsheets export them).
    #[serde(default)]
    pub decimal: Option<String>,
    /// Columns forming the business key; empty means the line number.
    #[serde(default)]
    pub key: Vec<String>,
    /// Household identifier column (optional).
    #[serde(default)]
    pub household: Option<String>,
    /// Excel: the sheet to read (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Excel: 1-based row number of the header (default: the first row of `range`).
    #[serde(default)]
    pub header_row: Option<u32>,
    /// Excel: the cells to read, e.g. `A1:K5000` or `B3:F` (default: the sheet's used range).
    #[serde(default)]
    pub range: Option<String>,
    /// HTTP(S) address of the file; fetched into the cache, then read with `type`.
    #[serde(default)]
    pub url: Option<String>,
    /// Hex SHA-256 the fetched file must have.
    #[serde(default)]
    pub expected_sha256: Option<String>,
    /// Seconds to wait for a connection, the response headers, or each read (default 60).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Further attempts after a failed download (default 3), with doubling waits.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Folder of fetched files (default: `$MIGSTAT_CACHE_DIR`, else the user's cache folder).
    #[serde(default)]
    pub cache_dir: Option<String>,
    /// `[input.limits]`: bounds on the work reading the input may cost (`docs/limits.md`).
    #[serde(default)]
    pub limits: Limits,
}

/// Encodings an input may declare.
pub const ENCODINGS: &[&str] = &["utf-8", "latin-1", "auto"];

/// The encoding `name` declares (`utf8`, `latin1`, `iso-8859-1`, `windows-1252` and any case
/// accepted), or `None` when it is not known.
pub fn encoding_name(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Some("utf-8"),
        "latin-1" | "latin1" | "iso-8859-1" | "windows-1252" | "cp1252" => Some("latin-1"),
        "auto" => Some("auto"),
        _ => None,
    }
}

/// The byte a declared delimiter stands for: one character, or `tab` (`\t`). The one rule
/// `check` and the CSV reader apply.
pub fn delimiter_byte(d: &str) -> Result<u8, String> {
    match d {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        s if s.len() == 1 => Ok(s.as_bytes()[0]),
        s => {
            let named = match s.to_ascii_lowercase().as_str() {
                "comma" => Some(","),
                "semicolon" => Some(";"),
                "pipe" => Some("|"),
                "space" => Some(" "),
                _ => None,
            };
            Err(match named {
                Some(c) => format!("{s:?} must be the character itself: write delimiter = {c:?}"),
                None => format!("{s:?} must be one character (or \"tab\")"),
            })
        }
    }
}

fn csv_type() -> String {
    "csv".into()
}

/// How the `time` of each record is formed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimeSpec {
    pub year: Option<String>,
    pub quarter: Option<String>,
    pub month: Option<String>,
    /// A fixed period for files without time columns, e.g. `2024` or `2024Q1`.
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Design {
    pub weight: Option<String>,
    pub strata: Option<String>,
    pub psu: Option<String>,
    /// PSU ids repeat across strata (default true in pipelines: survey files number PSUs per stratum).
    #[serde(default = "yes")]
    pub nest: bool,
    /// Sampling fraction or population size column, first stage.
    pub fpc: Option<String>,
    #[serde(default)]
    pub lonely_psu: Option<LonelyPsu>,
    /// Replicate weight columns: a list, or one `PREFIX*` pattern.
    #[serde(default)]
    pub replicates: Vec<String>,
    pub method: Option<ReplicateMethod>,
    pub rho: Option<f64>,
    pub scale: Option<f64>,
    pub rscales: Option<Vec<f64>>,
    #[serde(default)]
    pub mse: bool,
    /// `taylor` or `replicate`: which standard errors go to the warehouse.
    pub variance: Option<String>,
    /// Members of a household carry the household's weight (checked by `household_weight`).
    #[serde(default)]
    pub household_weights: bool,
    /// How many replicate-weight columns the file must have (checked by `replicate_count`).
    pub replicate_count: Option<usize>,
}

/// `[validation]`: thresholds of the validation rules.
#[derive(Debug, Clone, Deserialize)]
pub struct ValidationSpec {
    /// Files larger than this many megabytes (10^6 bytes) get a `file_size` finding.
    #[serde(default = "max_file_mb")]
    pub max_file_mb: f64,
    /// Largest plausible change of the weighted working-age population between periods, percent.
    #[serde(default = "population_change_pct")]
    pub population_change_pct: f64,
    /// Largest plausible move of the unemployment rate between periods, percentage points.
    #[serde(default = "unemployment_rate_change_pp")]
    pub unemployment_rate_change_pp: f64,
    /// Largest share of an input's rows that may be quarantined before the run fails (exit 1,
    /// nothing loaded); an input none of whose rows loads always fails.
    #[serde(default = "max_quarantined_share")]
    pub max_quarantined_share: f64,
}

fn max_file_mb() -> f64 {
    4000.0
}
fn population_change_pct() -> f64 {
    5.0
}
fn unemployment_rate_change_pp() -> f64 {
    3.0
}
fn max_quarantined_share() -> f64 {
    0.05
}

impl Default for ValidationSpec {
    fn default() -> Self {
        ValidationSpec {
            max_file_mb: max_file_mb(),
            population_change_pct: population_change_pct(),
            unemployment_rate_change_pp: unemployment_rate_change_pp(),
            max_quarantined_share: max_quarantined_share(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reliability {
    #[serde(default = "ilo")]
    pub profile: String,
    pub min_count_unreliable: Option<i64>,
    pub min_count_suppress: Option<i64>,
    pub max_cv_unreliable: Option<f64>,
    pub max_cv_caution: Option<f64>,
    pub min_df: Option<f64>,
    /// Smallest publishable weighted count of persons (`statcan`: 1500).
    pub min_estimate: Option<f64>,
}

fn ilo() -> String {
    "ilo".into()
}

/// How one schema field is filled from the input.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldMap {
    /// Input column; a list gives alternative names (first found wins).
    #[serde(default)]
    pub column: Option<OneOrMany>,
    /// Recode table: input code → schema code (or true/false for bool fields).
    #[serde(default)]
    pub codes: BTreeMap<String, toml::Value>,
    /// Recode by value label (from the file's labels, or cells holding the label itself):
    /// label → schema code; `codes` is tried first.
    #[serde(default)]
    pub labels: BTreeMap<String, toml::Value>,
    /// Code = this prefix + the cell's text (e.g. `CBR_BRT_` for ISO3 country columns); the
    /// `codes` table, when present, is tried first.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Age bands: input code → [lowest age, highest age] (999 = open-ended).
    #[serde(default)]
    pub bands: BTreeMap<String, [i64; 2]>,
    /// Value used when the cell is blank; absent means blank is a missing value.
    #[serde(default)]
    pub blank: Option<toml::Value>,
    /// A constant for every row (no column read).
    #[serde(default)]
    pub constant: Option<toml::Value>,
    /// Derivation over several columns: `product` (all non-blank, times `factor`).
    #[serde(default)]
    pub derive: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub factor: Option<f64>,
    /// Multiply a numeric column by this after reading.
    #[serde(default)]
    pub scale: Option<f64>,
    /// Valid range for numeric fields.
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Severity for this field's problems (overrides `[rules]`).
    #[serde(default)]
    pub on_invalid: Option<Severity>,
    /// Text for `note_classif` of indicators broken down by this field (e.g. a proxy mapping).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn names(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Quarantine,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Quarantine => "quarantine",
            Severity::Error => "error",
        }
    }
}

/// The roster of household members living abroad: a second input of the same survey.
#[derive(Debug, Clone, Deserialize)]
pub struct Roster {
    pub input: Input,
    #[serde(default)]
    pub time: Option<TimeSpec>,
    #[serde(default)]
    pub design: Option<Design>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMap>,
}

impl Pipeline {
    /// Resolves a path written in the pipeline relative to the pipeline's folder.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.dir.join(path)
        }
    }

    /// The severity of rule `rule` for `field`, falling back to the pipeline's `[rules]` and then
    /// to `default`.
    pub fn severity(&self, rule: &str, field: Option<&FieldMap>, default: Severity) -> Severity {
        if let Some(s) = field.and_then(|f| f.on_invalid) {
            return s;
        }
        self.rules.get(rule).copied().unwrap_or(default)
    }

    /// The source id as used in file names (`:` replaced by `_`).
    pub fn source_id(&self) -> String {
        self.pipeline.source.replace(':', "_")
    }
}
