//! The harmonised records of one input, held as contiguous column buffers: what estimation reads
//! and what the microdata tables are written from.
use crate::schema::FieldType;

/// Marks a missing code or index.
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub enum ColData {
    Str(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    /// Index into the dimension's code list, `NONE` when missing.
    Code(Vec<u32>),
}

impl ColData {
    pub fn new(ty: FieldType) -> Self {
        match ty {
            FieldType::String => ColData::Str(Vec::new()),
            FieldType::Int => ColData::Int(Vec::new()),
            FieldType::Float => ColData::Float(Vec::new()),
            FieldType::Bool => ColData::Bool(Vec::new()),
            FieldType::Code => ColData::Code(Vec::new()),
        }
    }
}

/// One mappable field of the record.
#[derive(Debug, Clone)]
pub struct FieldCol {
    pub name: String,
    pub ty: FieldType,
    pub dim: Option<String>,
    /// Whether the pipeline maps it (an unmapped field is all missing).
    pub mapped: bool,
    /// `note_classif` code for breakdowns by this field.
    pub note: Option<String>,
    pub data: ColData,
}

/// A typed value produced by mapping one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Code(u32),
}

#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// `person` or `emigrant`.
    pub record: String,
    pub ref_area: String,
    pub source: String,
    pub times: Vec<String>,
    pub time: Vec<u32>,
    pub key: Vec<String>,
    pub line: Vec<u64>,
    pub hh_id: Vec<Option<String>>,
    pub weight: Vec<f64>,
    /// Interned stratum names; `stratum` holds indexes (`NONE` without strata).
    pub strata: Vec<String>,
    pub stratum: Vec<u32>,
    /// Interned PSU names (`stratum/psu` when nested); `psu` holds indexes.
    pub psus: Vec<String>,
    pub psu: Vec<u32>,
    pub fpc: Option<Vec<f64>>,
    pub rep_names: Vec<String>,
    /// Replicate weights, one buffer per replicate.
    pub reps: Vec<Vec<f64>>,
    pub fields: Vec<FieldCol>,
    /// Age interval of each row (from exact age or a band), `None` when unknown.
    pub age_lo: Vec<Option<i64>>,
    pub age_hi: Vec<Option<i64>>,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weight.is_empty()
    }

    pub fn field(&self, name: &str) -> Option<&FieldCol> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field's data when the pipeline maps it.
    pub fn mapped(&self, name: &str) -> Option<&ColData> {
        self.field(name).filter(|f| f.mapped).map(|f| &f.data)
    }

    pub fn push_value(&mut self, field: usize, v: Val) {
        match (&mut self.fields[field].data, v) {
            (ColData::Str(c), Val::Str(s)) => c.push(Some(s)),
            (ColData::Str(c), _) => c.push(None),
            (ColData::Int(c), Val::Int(x)) => c.push(Some(x)),
            (ColData::Int(c), _) => c.push(None),
            (ColData::Float(c), Val::Float(x)) => c.push(Some(x)),
            (ColData::Float(c), Val::Int(x)) => c.push(Some(x as f64)),
            (ColData::Float(c), _) => c.push(None),
            (ColData::Bool(c), Val::Bool(b)) => c.push(Some(b)),
            (ColData::Bool(c), _) => c.push(None),
            (ColData::Code(c), Val::Code(x)) => c.push(x),
            (ColData::Code(c), _) => c.push(NONE),
        }
    }

    /// Index of a time value, interning it.
    pub fn intern_time(&mut self, t: &str) -> u32 {
        intern(&mut self.times, t)
    }
}

/// Index of `s` in `list`, appending it when new.
pub fn intern(list: &mut Vec<String>, s: &str) -> u32 {
    match list.iter().position(|x| x == s) {
        Some(i) => i as u32,
        None => {
            list.push(s.to_string());
            (list.len() - 1) as u32
        }
    }
}
