//! Field plans: each mapped schema field compiled against the input's header into a recipe that
//! turns the row's cells into one typed value, or a problem naming the rule broken.
use std::collections::HashMap;

use super::frame::Val;
use super::value::{norm_code, parse_i64, trim, Numbers};
use crate::config::pipeline::FieldMap;
use crate::extract::{whole, Cells, RowSource, Value};
use crate::schema::{Dimension, FieldDef, FieldType, Schema};

/// A problem with one cell: the rule broken, the column, the value and what was expected.
#[derive(Debug, Clone)]
pub struct Problem {
    pub rule: &'static str,
    pub field: String,
    pub column: String,
    pub value: String,
    pub message: String,
}

enum Source {
    Column(usize, String),
    Constant(Val),
    Product(Vec<(usize, String)>, f64),
}

pub struct FieldPlan {
    pub field: String,
    pub slot: usize,
    ty: FieldType,
    dim: Option<Dimension>,
    source: Source,
    codes: HashMap<String, Val>,
    /// Pipeline `labels` (label, case-folded → value) and the file's labels of the column
    /// (code → label, case-folded): `recode` tries codes first, then labels.
    by_label: HashMap<String, Val>,
    file_labels: HashMap<String, String>,
    prefix: Option<String>,
    bands: HashMap<String, (i64, i64)>,
    blank: Option<Val>,
    required: bool,
    scale: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    pub is_age: bool,
    /// How decimal numbers are written (`decimal = ","` in the input).
    number: Numbers,
}

/// Fields whose blank cells are a missing value (a problem) unless `blank` says otherwise.
const REQUIRED: [&str; 2] = ["sex", "age"];

impl FieldPlan {
    /// Compiles `map` for field `def`; a missing column is reported as a problem instead.
    pub fn build(
        def: &FieldDef,
        slot: usize,
        map: &FieldMap,
        src: &dyn RowSource,
        schema: &Schema,
        number: Numbers,
    ) -> Result<Self, Problem> {
        let dim = def
            .dimension
            .as_deref()
            .and_then(|d| schema.codes.dims.get(d).cloned());
        let to_val = |v: &toml::Value| typed(def.ty, dim.as_ref(), v);
        let find = |names: Vec<String>| -> Result<(usize, String), Problem> {
            src.column(&names)
                .map(|i| (i, src.headers()[i].clone()))
                .ok_or_else(|| Problem {
                    rule: "missing_column",
                    field: def.name.clone(),
                    column: names.join("|"),
                    value: String::new(),
                    message: format!(
                        "column {} (for field {}) is not in the file",
                        names.join(" or "),
                        def.name
                    ),
                })
        };
        let source = if let Some(c) = &map.constant {
            Source::Constant(to_val(c))
        } else if map.derive.is_some() {
            let cols = map
                .columns
                .iter()
                .map(|c| find(vec![c.clone()]))
                .collect::<Result<Vec<_>, _>>()?;
            Source::Product(cols, map.factor.unwrap_or(1.0))
        } else {
            let names = map.column.as_ref().map(|c| c.names()).unwrap_or_default();
            let (i, name) = find(names)?;
            Source::Column(i, name)
        };
        let file_labels = match &source {
            Source::Column(i, _) if !map.labels.is_empty() => src.labels(*i),
            _ => None,
        }
        .into_iter()
        .flatten()
        .map(|(code, label)| (norm_code(code), label_key(label)))
        .collect();
        Ok(FieldPlan {
            field: def.name.clone(),
            slot,
            ty: def.ty,
            source,
            codes: map
                .codes
                .iter()
                .map(|(k, v)| (norm_code(k), to_val(v)))
                .collect(),
            by_label: map
                .labels
                .iter()
                .map(|(k, v)| (label_key(k), to_val(v)))
                .collect(),
            file_labels,
            prefix: map.prefix.clone(),
            bands: map
                .bands
                .iter()
                .map(|(k, [lo, hi])| (norm_code(k), (*lo, *hi)))
                .collect(),
            blank: map.blank.as_ref().map(to_val),
            required: REQUIRED.contains(&def.name.as_str())
                || (matches!(def.ty, FieldType::Code | FieldType::Bool) && map.blank.is_none()),
            scale: map.scale,
            min: map.min,
            max: map.max,
            is_age: def.name == "age",
            dim,
            number,
        })
    }

    /// The value of this field for a row, with the age interval when this is the age field.
    pub fn apply<C: Cells + ?Sized>(
        &self,
        cells: &C,
    ) -> Result<(Val, Option<(i64, i64)>), Problem> {
        match &self.source {
            Source::Constant(v) => Ok((v.clone(), None)),
            Source::Product(cols, factor) => self.product(cells, cols, *factor),
            Source::Column(i, _) => self.apply_value(cells.value(*i)),
        }
    }

    /// The value of one cell of the plan's column as its reader gave it: a typed reader's
    /// number feeds a number field as it is; anything else maps as its text
    /// ([`FieldPlan::apply_cell`]), with the same result as the CSV export's cell.
    pub fn apply_value(&self, v: Value<'_>) -> Result<(Val, Option<(i64, i64)>), Problem> {
        let number = match (v, self.ty) {
            (Value::Number(x), FieldType::Float) => x,
            (Value::Number(x), FieldType::Int) if whole(x).is_some() => x,
            _ => return self.apply_cell(&v.text()),
        };
        if self.is_age && !self.bands.is_empty() {
            return self.apply_cell(&v.text());
        }
        self.number_value(number).map_err(|m| Problem {
            rule: "out_of_range",
            field: self.field.clone(),
            column: self.column_name().to_string(),
            value: v.text().into_owned(),
            message: m,
        })
    }

    fn column_name(&self) -> &str {
        match &self.source {
            Source::Column(_, name) => name.as_str(),
            _ => "-",
        }
    }

    /// The column whose cells map to a value that depends on the cell alone and repeats
    /// (codes, flags, age bands): a batch maps each of its distinct values once.
    pub fn dictionary_column(&self) -> Option<usize> {
        match &self.source {
            Source::Column(i, _)
                if matches!(self.ty, FieldType::Code | FieldType::Bool)
                    || (self.is_age && !self.bands.is_empty()) =>
            {
                Some(*i)
            }
            _ => None,
        }
    }

    /// The value of one cell of the plan's column.
    pub fn apply_cell(&self, raw: &str) -> Result<(Val, Option<(i64, i64)>), Problem> {
        let column = self.column_name();
        let problem = |rule: &'static str, message: String| Problem {
            rule,
            field: self.field.clone(),
            column: column.to_string(),
            value: raw.to_string(),
            message,
        };
        if trim(raw).is_empty() {
            return match &self.blank {
                Some(v) => Ok((v.clone(), None)),
                None if self.required => Err(problem(
                    "missing_value",
                    format!("{} is required but the cell is blank", self.field),
                )),
                None => Ok((Val::Null, None)),
            };
        }
        if self.is_age && !self.bands.is_empty() {
            let band = self
                .bands
                .get(raw)
                .or_else(|| self.bands.get(&norm_code(raw)));
            return match band {
                Some(&(lo, hi)) => Ok((Val::Null, Some((lo, hi)))),
                None => Err(problem("unknown_code", self.expected_codes("age band"))),
            };
        }
        match self.ty {
            FieldType::Code | FieldType::Bool => self
                .recode(raw)
                .map(|v| (v, None))
                .map_err(|m| problem("unknown_code", m)),
            FieldType::Int | FieldType::Float => {
                let x = if self.ty == FieldType::Int {
                    parse_i64(raw).map(|i| i as f64)
                } else {
                    self.number.parse(raw)
                }
                .map_err(|m| problem("bad_number", m))?;
                self.number_value(x).map_err(|m| problem("out_of_range", m))
            }
            FieldType::String => Ok((Val::Str(trim(raw).to_string()), None)),
        }
    }

    /// A number field's value from the number read: scaled, in range (else the message).
    fn number_value(&self, x: f64) -> Result<(Val, Option<(i64, i64)>), String> {
        let x = x * self.scale.unwrap_or(1.0);
        self.in_range(x)?;
        let v = if self.ty == FieldType::Int {
            Val::Int(x.round() as i64)
        } else {
            Val::Float(x)
        };
        let age = self.is_age.then_some((x as i64, x as i64));
        Ok((v, age))
    }

    fn recode(&self, raw: &str) -> Result<Val, String> {
        if let Some(v) = self
            .codes
            .get(raw)
            .or_else(|| self.codes.get(&norm_code(raw)))
        {
            return Ok(v.clone());
        }
        if !self.by_label.is_empty() {
            let label = self.file_labels.get(&norm_code(raw));
            let label = label.cloned().unwrap_or_else(|| label_key(raw));
            if let Some(v) = self.by_label.get(&label) {
                return Ok(v.clone());
            }
        }
        if let (Some(prefix), Some(dim)) = (&self.prefix, &self.dim) {
            let code = format!("{prefix}{}", trim(raw));
            if let Some(i) = dim.index_of(&code) {
                return Ok(Val::Code(i));
            }
            return Err(format!("{code} is not a code of {}", dim.name));
        }
        if self.codes.is_empty() {
            if let Some(i) = self.dim.as_ref().and_then(|d| d.index_of(trim(raw))) {
                return Ok(Val::Code(i));
            }
        }
        Err(self.expected_codes("code"))
    }

    fn expected_codes(&self, what: &str) -> String {
        let mut keys: Vec<&String> = if self.bands.is_empty() && self.codes.is_empty() {
            self.by_label.keys().collect()
        } else if self.bands.is_empty() {
            self.codes.keys().collect()
        } else {
            self.bands.keys().collect()
        };
        keys.sort_by_key(|k| (k.len(), k.to_string()));
        let shown: Vec<&str> = keys.iter().take(30).map(|s| s.as_str()).collect();
        let more = if keys.len() > 30 { ", …" } else { "" };
        format!(
            "unknown {what} for {}: expected one of {}{more}",
            self.field,
            shown.join(", ")
        )
    }

    fn in_range(&self, x: f64) -> Result<(), String> {
        match (self.min, self.max) {
            (Some(lo), _) if x < lo => Err(format!("{} must be at least {lo}", self.field)),
            (_, Some(hi)) if x > hi => Err(format!("{} must be at most {hi}", self.field)),
            _ => Ok(()),
        }
    }

    fn product<C: Cells + ?Sized>(
        &self,
        cells: &C,
        cols: &[(usize, String)],
        factor: f64,
    ) -> Result<(Val, Option<(i64, i64)>), Problem> {
        let mut acc = factor;
        for (i, name) in cols {
            let v = cells.value(*i);
            if matches!(v, Value::Text(t) if trim(t).is_empty()) {
                return Ok((Val::Null, None));
            }
            acc *= self.number.read(v).map_err(|m| Problem {
                rule: "bad_number",
                field: self.field.clone(),
                column: name.clone(),
                value: v.text().into_owned(),
                message: m,
            })?;
        }
        self.in_range(acc).map_err(|m| Problem {
            rule: "out_of_range",
            field: self.field.clone(),
            column: cols
                .iter()
                .map(|c| c.1.as_str())
                .collect::<Vec<_>>()
                .join("*"),
            value: format!("{acc}"),
            message: m,
        })?;
        Ok((Val::Float(acc), None))
    }
}

/// Labels compare trimmed and case-insensitively.
fn label_key(label: &str) -> String {
    label.trim().to_lowercase()
}

fn typed(ty: FieldType, dim: Option<&Dimension>, v: &toml::Value) -> Val {
    match (ty, v) {
        (FieldType::Code, toml::Value::String(s)) => dim
            .and_then(|d| d.index_of(s))
            .map(Val::Code)
            .unwrap_or(Val::Null),
        (FieldType::Bool, toml::Value::Boolean(b)) => Val::Bool(*b),
        (FieldType::Int, toml::Value::Integer(i)) => Val::Int(*i),
        (FieldType::Float, toml::Value::Float(x)) => Val::Float(*x),
        (FieldType::Float, toml::Value::Integer(i)) => Val::Float(*i as f64),
        (FieldType::String, toml::Value::String(s)) => Val::Str(s.clone()),
        _ => Val::Null,
    }
}
