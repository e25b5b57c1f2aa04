//! The remittance tables in memory and as Arrow record batches.
//!
//! `remittances/`: `ref_area, indicator, time, obs_value, unit, source, vintage, obs_status, note,
//! ref_area_kind`. The bilateral tables add `counterpart_area` after `ref_area` and
//! `counterpart_area_kind` at the end. `ref_area` is where the money arrives (receiving country)
//! or where the migrants live (destination); `counterpart_area` is the sending country or the
//! country of origin. The kinds (`country`, `historical`, `world`, `region`, `income_group`,
//! `other`) keep aggregates and totals apart from countries. The World Bank files carry no
//! observation status: `obs_status` stays empty, and `note` says why a value is null or that a
//! year-on-year fall was flagged.
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};

use super::crosswalk::AreaKind;
use crate::error::{MigError, Result};

/// Version of the remittance tables' columns, written as `migstat.schema_version`.
pub const TABLE_VERSION: &str = "1.0.0";

/// One value of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub ref_area: String,
    pub ref_kind: AreaKind,
    /// Bilateral tables only.
    pub counterpart: Option<(String, AreaKind)>,
    pub time: String,
    pub value: Option<f64>,
    pub note: Option<String>,
}

/// The values read from one source file, with what every value shares.
#[derive(Debug, Clone)]
pub struct Table {
    /// The warehouse folder: `remittances`, `remittances_bilateral`, `migrant_stocks_bilateral`.
    pub name: &'static str,
    pub bilateral: bool,
    pub indicator: String,
    pub unit: String,
    pub source: String,
    pub vintage: Option<String>,
    pub obs: Vec<Obs>,
}

impl Table {
    /// Sorts by area, counterpart and year, so files and goldens do not depend on reading order.
    pub fn sort(&mut self) {
        self.obs.sort_by(|a, b| {
            (&a.ref_area, &a.counterpart, &a.time).cmp(&(&b.ref_area, &b.counterpart, &b.time))
        });
    }

    pub fn values(&self) -> u64 {
        self.obs.iter().filter(|o| o.value.is_some()).count() as u64
    }

    pub fn nulls(&self) -> u64 {
        self.obs.iter().filter(|o| o.value.is_none()).count() as u64
    }
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// The Arrow schema of a table.
pub fn arrow_schema(bilateral: bool) -> ArrowSchema {
    let mut f = vec![text("ref_area", false)];
    if bilateral {
        f.push(text("counterpart_area", false));
    }
    f.extend([
        text("indicator", false),
        text("time", false),
        Field::new("obs_value", DataType::Float64, true),
        text("unit", false),
        text("source", false),
        text("vintage", true),
        text("obs_status", true),
        text("note", true),
        text("ref_area_kind", false),
    ]);
    if bilateral {
        f.push(text("counterpart_area_kind", false));
    }
    ArrowSchema::new(f)
}

/// The table as one record batch.
pub fn batch(t: &Table) -> Result<RecordBatch> {
    let n = t.obs.len();
    let col = |g: &dyn Fn(&Obs) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(t.obs.iter().map(g)))
    };
    let same = |v: Option<&str>| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
    let mut cols: Vec<ArrayRef> = vec![col(&|o| Some(&o.ref_area))];
    if t.bilateral {
        cols.push(col(&|o| o.counterpart.as_ref().map(|c| c.0.as_str())));
    }
    cols.extend([
        same(Some(&t.indicator)),
        col(&|o| Some(&o.time)),
        Arc::new(Float64Array::from_iter(t.obs.iter().map(|o| o.value))) as ArrayRef,
        same(Some(&t.unit)),
        same(Some(&t.source)),
        same(t.vintage.as_deref()),
        same(None),
        col(&|o| o.note.as_deref()),
        col(&|o| Some(o.ref_kind.as_str())),
    ]);
    if t.bilateral {
        cols.push(col(&|o| o.counterpart.as_ref().map(|c| c.1.as_str())));
    }
    RecordBatch::try_new(Arc::new(arrow_schema(t.bilateral)), cols)
        .map_err(|e| MigError::Other(format!("building the {} batch: {e}", t.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(bilateral: bool) -> Table {
        let cp = |c: &str, k| bilateral.then(|| (c.to_string(), k));
        Table {
            name: "t",
            bilateral,
            indicator: "I".into(),
            unit: "USD".into(),
            source: "WB:WDI".into(),
            vintage: Some("2021-09-15".into()),
            obs: vec![
                Obs {
                    ref_area: "MEX".into(),
                    ref_kind: AreaKind::Country,
                    counterpart: cp("USA", AreaKind::Country),
                    time: "2017".into(),
                    value: Some(1.5),
                    note: None,
                },
                Obs {
                    ref_area: "WLD".into(),
                    ref_kind: AreaKind::World,
                    counterpart: cp("XON", AreaKind::Other),
                    time: "2017".into(),
                    value: None,
                    note: Some("text \"-\" in the source".into()),
                },
            ],
        }
    }

    #[test]
    fn columns_in_contract_order() {
        let b = batch(&table(true)).expect("batch");
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names.join(","),
            "ref_area,counterpart_area,indicator,time,obs_value,unit,source,vintage,obs_status,\
             note,ref_area_kind,counterpart_area_kind"
        );
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(4).null_count(), 1);
        let b = batch(&table(false)).expect("batch");
        assert_eq!(b.num_columns(), 10);
        assert!(b.schema().field_with_name("counterpart_area").is_err());
    }
}
