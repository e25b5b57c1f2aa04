//! Arrow record batches of the warehouse tables: observations (the contract's column order) and
//! harmonised microdata (the schema's field order).
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};

use crate::error::{MigError, Result};
use crate::estimate::Observation;
use crate::normalize::{ColData, Frame, NONE};
use crate::schema::Schema;

fn s(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}
fn f(name: &str) -> Field {
    Field::new(name, DataType::Float64, true)
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
                    rows.iter().map(|r| frame.key[idx(r)].as_str()),
                )),
            ),
            "line" => (
                Field::new(name, DataType::Int64, false),
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| frame.line[idx(r)] as i64),
                )),
            ),
            "hh_id" => (
                s(name, true),
                Arc::new(StringArray::from_iter(
                    rows.iter().map(|r| frame.hh_id[idx(r)].as_deref()),
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
                    rows.iter().map(|r| frame.age_lo[idx(r)]),
                )),
            ),
            "age_hi" => (
                Field::new(name, DataType::Int64, true),
                Arc::new(Int64Array::from_iter(
                    rows.iter().map(|r| frame.age_hi[idx(r)]),
                )),
            ),
            _ => field_column(frame, rows, name, schema)?,
        };
        fields.push(field);
        cols.push(col);
    }
    // Replicate weights as one list column, so every microdata file has the same schema.
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    let mut lists = ListBuilder::new(Float64Builder::new()).with_field(Arc::clone(&item));
    for r in rows {
        if frame.reps.is_empty() {
            lists.append_null();
        } else {
            for rep in &frame.reps {
                lists.values().append_value(rep[idx(r)]);
            }
            lists.append(true);
        }
    }
    fields.push(Field::new("replicate_weights", DataType::List(item), true));
    cols.push(Arc::new(lists.finish()));
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
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| v[at(r)]))),
        ),
        ColData::Float(v) => (
            f(name),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| v[at(r)]))),
        ),
        ColData::Bool(v) => (
            Field::new(name, DataType::Boolean, true),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| v[at(r)]))),
        ),
        ColData::Code(v) => {
            let dim = schema.codes.dim(col.dim.as_deref().unwrap_or(""))?;
            let codes = rows.iter().map(|r| {
                let c = v[at(r)];
                (c != NONE).then(|| dim.code(c).code.as_str())
            });
            (s(name, true), Arc::new(StringArray::from_iter(codes)))
        }
    })
}
