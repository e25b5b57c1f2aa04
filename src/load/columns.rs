//! Arrow record batches of the warehouse tables: observations (the contract's column order) and
//! harmonised microdata (the schema's field order). Every field carries its meaning and, where it
//! has one, its unit in Arrow field metadata (`meaning`, `unit`), which the Parquet files keep
//! (pyarrow: `pq.read_schema(f).field("obs_value").metadata`).
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};

use crate::error::{MigError, Result};
use crate::estimate::Observation;
use crate::normalize::{ColData, Frame, NONE, NO_CODE};
use crate::schema::Schema;

fn s(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}
fn f(name: &str) -> Field {
    Field::new(name, DataType::Float64, true)
}

/// Field metadata key for what a column holds.
pub const MEANING: &str = "meaning";
/// Field metadata key for the unit of a column's values.
pub const UNIT: &str = "unit";

/// The unit of `obs_value`: it depends on the indicator, which `catalog_indicators.unit` names.
pub const OBS_VALUE_UNIT: &str =
    "per indicator (catalog_indicators.unit): thousands of persons for \
    _NB counts, percent for _RT rates, local currency for means";

/// Meaning and unit of each observations column.
const OBSERVATION_FIELDS: [(&str, &str, Option<&str>); 18] = [
    ("ref_area", "ISO 3166-1 alpha-3 code of the area", None),
    (
        "source",
        "source code TYPE:id (BA: labour force survey, SY: synthetic)",
        None,
    ),
    (
        "indicator",
        "ILOSTAT-style indicator code without frequency",
        None,
    ),
    ("sex", "sex code (SEX_T total, SEX_M, SEX_F)", None),
    (
        "classif1",
        "first breakdown code; null when the indicator has none",
        None,
    ),
    (
        "classif2",
        "second breakdown code; null when the indicator has none",
        None,
    ),
    ("time", "reference period: 2024, 2024Q1 or 2024M01", None),
    (
        "obs_value",
        "the estimate; null when suppressed",
        Some(OBS_VALUE_UNIT),
    ),
    (
        "obs_status",
        "U unreliable, S suppressed, null otherwise",
        None,
    ),
    (
        "note_classif",
        "_-joined note codes on the breakdowns (catalog_notes)",
        None,
    ),
    (
        "note_indicator",
        "_-joined note codes on the value (catalog_notes)",
        None,
    ),
    (
        "note_source",
        "_-joined note codes on the source (catalog_notes)",
        None,
    ),
    (
        "sample_count",
        "unweighted sample persons in the cell (for a rate: in its denominator)",
        Some("persons (unweighted)"),
    ),
    (
        "se",
        "standard error of obs_value",
        Some("the unit of obs_value (percentage points for rates)"),
    ),
    (
        "cv",
        "coefficient of variation of obs_value",
        Some("percent"),
    ),
    (
        "lower_bound",
        "lower end of the 95 % confidence interval",
        Some("the unit of obs_value"),
    ),
    (
        "upper_bound",
        "upper end of the 95 % confidence interval",
        Some("the unit of obs_value"),
    ),
    (
        "design_df",
        "design degrees of freedom behind the interval",
        Some("degrees of freedom"),
    ),
];

/// Units of the microdata fields that have one.
const MICRODATA_UNITS: [(&str, &str); 8] = [
    ("weight", "persons"),
    ("age", "years"),
    ("age_lo", "years"),
    ("age_hi", "years"),
    ("year_arrival", "calendar year"),
    ("year_departure", "calendar year"),
    ("earnings", "local currency per month"),
    ("remit_amount", "local currency"),
];

/// `field` with its meaning and unit as field metadata.
pub fn described(field: Field, meaning: &str, unit: Option<&str>) -> Field {
    let mut m = HashMap::from([(MEANING.to_string(), meaning.to_string())]);
    if let Some(u) = unit {
        m.insert(UNIT.to_string(), u.to_string());
    }
    field.with_metadata(m)
}

/// An observations field described by [`OBSERVATION_FIELDS`].
fn obs_field(field: Field) -> Field {
    match OBSERVATION_FIELDS
        .iter()
        .find(|(n, _, _)| *n == field.name())
    {
        Some((_, meaning, unit)) => described(field, meaning, *unit),
        None => field,
    }
}

/// A microdata field described by the record schema and [`MICRODATA_UNITS`].
fn micro_field(field: Field, description: Option<&str>) -> Field {
    let unit = MICRODATA_UNITS.iter().find(|(n, _)| *n == field.name());
    let meaning = description.unwrap_or(field.name()).to_string();
    described(field, &meaning, unit.map(|(_, u)| *u))
}

fn batch(fields: Vec<Field>, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), cols)
        .map_err(|e| MigError::Other(format!("building a record batch: {e}")))
}

/// Observations in the contract's column order.
pub fn observations(obs: &[Observation]) -> Result<RecordBatch> {
    let str_col = |g: &dyn Fn(&Observation) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(obs.iter().map(g)))
    };
    let f64_col = |g: &dyn Fn(&Observation) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(obs.iter().map(g)))
    };
    let fields = vec![
        s("ref_area", false),
        s("source", false),
        s("indicator", false),
        s("sex", false),
        s("classif1", true),
        s("classif2", true),
        s("time", false),
        f("obs_value"),
        s("obs_status", true),
        s("note_classif", true),
        s("note_indicator", true),
        s("note_source", true),
        Field::new("sample_count", DataType::Int64, false),
        f("se"),
        f("cv"),
        f("lower_bound"),
        f("upper_bound"),
        f("design_df"),
    ];
    let fields = fields.into_iter().map(obs_field).collect();
    let cols: Vec<ArrayRef> = vec![
        str_col(&|o| Some(&o.ref_area)),
        str_col(&|o| Some(&o.source)),
        str_col(&|o| Some(&o.indicator)),
        str_col(&|o| Some(&o.sex)),
        str_col(&|o| o.classif1.as_deref()),
        str_col(&|o| o.classif2.as_deref()),
        str_col(&|o| Some(&o.time)),
        f64_col(&|o| o.obs_value),
        str_col(&|o| o.obs_status.as_deref()),
        str_col(&|o| o.note_classif.as_deref()),
        str_col(&|o| o.note_indicator.as_deref()),
        str_col(&|o| o.note_source.as_deref()),
        Arc::new(Int64Array::from_iter_values(
            obs.iter().map(|o| o.sample_count),
        )),
        f64_col(&|o| o.se),
        f64_col(&|o| o.cv),
        f64_col(&|o| o.lower_bound),
        f64_col(&|o| o.upper_bound),
        f64_col(&|o| o.design_df),
    ];
    batch(fields, cols)
}

/// Harmonised records of the rows `rows` of a frame, in the record schema's field order.
pub fn microdata(frame: &Frame, rows: &[u32], schema: &Schema) -> Result<RecordBatch> {
    let rec = schema.record(&frame.record);
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let idx = |r: &u32| *r as usize;
    for def in &rec.field {
        let name = def.name.as_str();
        let (field, col): (Field, ArrayRef) = match name {
            "ref_area" => (
                s(name, false),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|_| frame.ref_area.as_str()),
                )),
            ),
            "source" => (
                s(name, false),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|_| frame.source.as_str()),
                )),
            ),
            "time" => (
                s(name, false),
                Arc::new(StringArray::from_iter_values(
                    rows.iter()
                        .map(|r| frame.times[frame.time[idx(r)] as usize].as_str()),
                )),
            ),
            "key" => (
                s(name, false),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| frame.key.str(idx(r))),
                )),
            ),
            "line" => (
                Field::new(name, DataType::Int64, false),
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| frame.line.at(idx(r)) as i64),
                )),
            ),
            "hh_id" => (
                s(name, true),
                Arc::new(StringArray::from_iter(
                    rows.iter().map(|r| frame.hh_id.get(idx(r))),
                )),
            ),
            "weight" => (
                Field::new(name, DataType::Float64, false),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|r| frame.weight[idx(r)]),
                )),
            ),
            "stratum" => (
                s(name, true),
                Arc::new(StringArray::from_iter(
                    rows.iter()
                        .map(|r| lookup(&frame.strata, frame.stratum[idx(r)])),
                )),
            ),
            "psu" => (
                s(name, true),
                Arc::new(StringArray::from_iter(
                    rows.iter().map(|r| lookup(&frame.psus, frame.psu[idx(r)])),
                )),
            ),
            "age_lo" => (
                Field::new(name, DataType::Int64, true),
                Arc::new(Int64Array::from_iter(
                    rows.iter().map(|r| frame.age.lo(idx(r))),
                )),
            ),
            "age_hi" => (
                Field::new(name, DataType::Int64, true),
                Arc::new(Int64Array::from_iter(
                    rows.iter().map(|r| frame.age.hi(idx(r))),
                )),
            ),
            _ => field_column(frame, rows, name, schema)?,
        };
        fields.push(micro_field(field, def.description.as_deref()));
        cols.push(col);
    }
    // Replicate weights as one list column, so every microdata file has the same schema.
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    let n_reps = frame.reps.count();
    let lists = if n_reps == 0 {
        ListArray::new_null(Arc::clone(&item), rows.len())
    } else {
        // Every row has `n_reps` weights: the list's values are the weights as read back, row
        // after row (no copy, no growing buffer), its offsets 0, n, 2n, ….
        if rows
            .len()
            .checked_mul(n_reps)
            .is_none_or(|n| n > i32::MAX as usize)
        {
            return Err(MigError::Other(format!(
                "{} rows of {n_reps} replicate weights do not fit one microdata slice",
                rows.len()
            )));
        }
        let mut weights = Vec::new();
        frame
            .reps
            .rows_into(rows, &mut weights)
            .map_err(|e| MigError::Other(format!("cannot read back the replicate weights: {e}")))?;
        let mut offsets = OffsetBufferBuilder::<i32>::new(rows.len());
        rows.iter().for_each(|_| offsets.push_length(n_reps));
        ListArray::try_new(
            Arc::clone(&item),
            offsets.finish(),
            Arc::new(Float64Array::from(weights)),
            None,
        )
        .map_err(|e| MigError::Other(format!("replicate weights: {e}")))?
    };
    fields.push(described(
        Field::new("replicate_weights", DataType::List(item), true),
        "replicate weights of the design, in the order the survey gives them",
        Some("persons"),
    ));
    cols.push(Arc::new(lists));
    batch(fields, cols)
}

fn lookup(list: &[String], i: u32) -> Option<&str> {
    (i != NONE)
        .then(|| list.get(i as usize).map(String::as_str))
        .flatten()
}

fn field_column(
    frame: &Frame,
    rows: &[u32],
    name: &str,
    schema: &Schema,
) -> Result<(Field, ArrayRef)> {
    let col = frame
        .field(name)
        .ok_or_else(|| MigError::Schema(format!("field {name} missing from the frame")))?;
    let at = |r: &u32| *r as usize;
    Ok(match &col.data {
        ColData::Str(v) => (
            s(name, true),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| v[at(r)].as_deref()),
            )),
        ),
        ColData::Int(v) => (
            Field::new(name, DataType::Int64, true),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| v.get(at(r))))),
        ),
        ColData::Float(v) => (
            f(name),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| v.get(at(r))))),
        ),
        ColData::Bool(v) => (
            Field::new(name, DataType::Boolean, true),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| v[at(r)]))),
        ),
        ColData::Code(v) => {
            let dim = schema.codes.dim(col.dim.as_deref().unwrap_or(""))?;
            let codes = rows.iter().map(|r| {
                let c = v[at(r)];
                (c != NO_CODE).then(|| dim.code(u32::from(c)).code.as_str())
            });
            (s(name, true), Arc::new(StringArray::from_iter(codes)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observation_fields_say_their_meaning_and_unit() {
        let b = observations(&[]).expect("batch");
        let schema = b.schema();
        for field in schema.fields() {
            assert!(field.metadata().contains_key(MEANING), "{}", field.name());
        }
        let unit = |n: &str| {
            schema
                .field_with_name(n)
                .ok()
                .and_then(|f| f.metadata().get(UNIT).cloned())
        };
        assert_eq!(unit("cv").as_deref(), Some("percent"));
        assert!(unit("obs_value").is_some_and(|u| u.contains("thousands") && u.contains("percent")));
        assert_eq!(unit("ref_area"), None);
    }
}
