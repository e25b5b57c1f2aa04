//! Catalog tables, refreshed by each run: `catalog/indicators`, `classifications`, `sources`,
//! `ref_areas`, `notes`. Joined with observations they give ILOSTAT's `.label` columns.
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};

use super::parquet::FileMeta;
use super::Staged;
use crate::error::{MigError, Result};
use crate::schema::Schema;

/// One row of `catalog/sources`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceRow {
    pub source: String,
    pub ref_area: String,
    pub survey: String,
    pub periodicity: String,
    pub pipeline: String,
    pub synthetic: bool,
}

fn strings(name: &str, v: Vec<Option<String>>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::Utf8, true),
        Arc::new(StringArray::from(v)),
    )
}

fn batch(cols: Vec<(Field, ArrayRef)>) -> Result<RecordBatch> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
        .map_err(|e| MigError::Other(format!("catalog batch: {e}")))
}

/// A catalog column with its meaning as field metadata (the unit columns say what they mean).
fn described((field, array): (Field, ArrayRef), meaning: &str) -> (Field, ArrayRef) {
    (super::columns::described(field, meaning, None), array)
}

/// SDMX's `UNIT_MEASURE` for a catalogue unit.
pub fn unit_measure(unit: &str) -> &'static str {
    match unit {
        "thousands" => "PS",
        "percent" => "PT",
        "local currency" => "LCU",
        _ => "",
    }
}

fn indicators(schema: &Schema) -> Result<RecordBatch> {
    let ind = &schema.catalogue.indicator;
    let col = |f: &dyn Fn(&crate::schema::Indicator) -> Option<String>| {
        ind.iter().map(f).collect::<Vec<_>>()
    };
    let mult: Vec<i64> = ind
        .iter()
        .map(|i| if i.unit == "thousands" { 3 } else { 0 })
        .collect();
    batch(vec![
        strings("code", col(&|i| Some(i.code.clone()))),
        strings("label", col(&|i| Some(i.label.clone()))),
        strings(
            "kind",
            col(&|i| Some(format!("{:?}", i.kind).to_lowercase())),
        ),
        described(
            strings("unit", col(&|i| Some(i.unit.clone()))),
            "unit of obs_value for this indicator (thousands of persons, percent, local currency); \
             se and bounds share it",
        ),
        described(
            (
                Field::new("unit_multiplier", DataType::Int64, false),
                Arc::new(Int64Array::from(mult)),
            ),
            "power of ten of the unit (3: thousands), as SDMX's UNIT_MULT",
        ),
        described(
            strings("unit_measure", col(&|i| Some(unit_measure(&i.unit).to_string()))),
            "SDMX UNIT_MEASURE of the indicator: PS persons, PT percent, LCU local currency",
        ),
        strings("population", col(&|i| i.population.clone())),
        strings("value", col(&|i| i.value.clone())),
        strings("numerator", col(&|i| i.numerator.clone())),
        strings("denominator", col(&|i| i.denominator.clone())),
        strings("classif1", col(&|i| i.classif1.clone())),
        strings("classif2", col(&|i| i.classif2.clone())),
    ])
}

fn classifications(schema: &Schema) -> Result<RecordBatch> {
    let codes: Vec<(&str, &crate::schema::codelists::Code)> = schema
        .codes
        .dims
        .values()
        .flat_map(|d| d.codes.iter().map(move |c| (d.name.as_str(), c)))
        .collect();
    let s = |f: &dyn Fn(&(&str, &crate::schema::codelists::Code)) -> String| {
        codes.iter().map(|c| Some(f(c))).collect::<Vec<_>>()
    };
    batch(vec![
        strings("dimension", s(&|c| c.0.to_string())),
        strings("version", s(&|c| c.1.version.clone())),
        strings("code", s(&|c| c.1.code.clone())),
        strings("label", s(&|c| c.1.label.clone())),
        (
            Field::new("is_total", DataType::Boolean, false),
            Arc::new(BooleanArray::from(
                codes.iter().map(|c| c.1.total).collect::<Vec<_>>(),
            )),
        ),
        (
            Field::new("age_lo", DataType::Int64, true),
            Arc::new(Int64Array::from(
                codes
                    .iter()
                    .map(|c| c.1.age.map(|a| a.0))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            Field::new("age_hi", DataType::Int64, true),
            Arc::new(Int64Array::from(
                codes
                    .iter()
                    .map(|c| c.1.age.map(|a| a.1))
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
}

fn notes(schema: &Schema) -> Result<RecordBatch> {
    let n = &schema.notes;
    batch(vec![
        strings("code", n.iter().map(|x| Some(x.code.clone())).collect()),
        strings("column", n.iter().map(|x| Some(x.column.clone())).collect()),
        strings("text", n.iter().map(|x| Some(x.text.clone())).collect()),
    ])
}

fn ref_areas(schema: &Schema) -> Result<RecordBatch> {
    let brt = schema.codes.dim("brt")?;
    let rows: Vec<(String, String)> = brt
        .codes
        .iter()
        .filter(|c| !c.total && !c.code.ends_with("_X"))
        .map(|c| {
            (
                c.code.trim_start_matches("CBR_BRT_").to_string(),
                c.label.clone(),
            )
        })
        .collect();
    batch(vec![
        strings("ref_area", rows.iter().map(|r| Some(r.0.clone())).collect()),
        strings("label", rows.iter().map(|r| Some(r.1.clone())).collect()),
    ])
}

fn sources(rows: &BTreeMap<String, SourceRow>) -> Result<RecordBatch> {
    let v: Vec<&SourceRow> = rows.values().collect();
    let s = |f: &dyn Fn(&SourceRow) -> String| v.iter().map(|r| Some(f(r))).collect::<Vec<_>>();
    batch(vec![
        strings("source", s(&|r| r.source.clone())),
        strings("ref_area", s(&|r| r.ref_area.clone())),
        strings("survey", s(&|r| r.survey.clone())),
        strings("periodicity", s(&|r| r.periodicity.clone())),
        strings("pipeline", s(&|r| r.pipeline.clone())),
        (
            Field::new("synthetic", DataType::Boolean, false),
            Arc::new(BooleanArray::from(
                v.iter().map(|r| r.synthetic).collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// Sources already in the warehouse's catalog, by source code.
pub fn existing_sources(root: &Path) -> BTreeMap<String, SourceRow> {
    let path = root.join("catalog/sources/sources.parquet");
    let mut out = BTreeMap::new();
    let Ok(f) = std::fs::File::open(&path) else {
        return out;
    };
    let Ok(b) = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f) else {
        return out;
    };
    let Ok(reader) = b.build() else { return out };
    for batch in reader.flatten() {
        let col = |n: &str| {
            batch
                .column_by_name(n)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
        };
        let syn = batch
            .column_by_name("synthetic")
            .and_then(|c| c.as_any().downcast_ref::<BooleanArray>().cloned());
        let (Some(s), Some(a), Some(v), Some(p), Some(l), Some(y)) = (
            col("source"),
            col("ref_area"),
            col("survey"),
            col("periodicity"),
            col("pipeline"),
            syn,
        ) else {
            continue;
        };
        for i in 0..batch.num_rows() {
            let row = SourceRow {
                source: s.value(i).into(),
                ref_area: a.value(i).into(),
                survey: v.value(i).into(),
                periodicity: p.value(i).into(),
                pipeline: l.value(i).into(),
                synthetic: y.value(i),
            };
            out.insert(row.source.clone(), row);
        }
    }
    out
}

/// Stages all catalog tables.
pub fn stage(
    staged: &mut Staged,
    schema: &Schema,
    sources_rows: &BTreeMap<String, SourceRow>,
    meta: &FileMeta,
) -> Result<()> {
    let tables = [
        ("indicators", indicators(schema)?),
        ("classifications", classifications(schema)?),
        ("notes", notes(schema)?),
        ("ref_areas", ref_areas(schema)?),
    ];
    for (name, b) in tables {
        staged.parquet(&table_rel(name), &b, meta)?;
    }
    stage_sources(staged, sources_rows, meta)
}

/// Stages `catalog/sources` alone (a rollback changes no other catalog table).
pub fn stage_sources(
    staged: &mut Staged,
    rows: &BTreeMap<String, SourceRow>,
    meta: &FileMeta,
) -> Result<()> {
    staged.parquet(&table_rel("sources"), &sources(rows)?, meta)
}

fn table_rel(name: &str) -> std::path::PathBuf {
    Path::new("catalog")
        .join(name)
        .join(format!("{name}.parquet"))
}
