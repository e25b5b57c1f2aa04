//! Rules across time (level 5): the upload's weighted working-age population and unemployment
//! rate against the previous period of the same source in the warehouse
//! (`observations/<REF_AREA>/<TIME>/<SOURCE_ID>.parquet`), when there is one. A change beyond
//! the pipeline's thresholds (`[validation]`) is a warning: real changes happen, but a wrong
//! weight variable or a unit error shows up here first.
use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::{Array, Float64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{finding, Findings};
use crate::config::pipeline::Pipeline;
use crate::normalize::{ColData, Frame};
use crate::schema::Schema;

/// Weighted working-age persons, employed and unemployed, of one period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub working_age: f64,
    pub employed: f64,
    pub unemployed: f64,
}

impl Totals {
    pub fn unemployment_rate(&self) -> Option<f64> {
        let lf = self.employed + self.unemployed;
        (lf > 0.0).then(|| 100.0 * self.unemployed / lf)
    }
}

/// Totals per period, accumulated chunk by chunk.
#[derive(Debug, Default)]
pub struct PeriodTotals {
    by_time: BTreeMap<String, Totals>,
}

/// One frame's periods' totals while its rows are added (see [`PeriodTotals::for_frame`]).
pub struct FrameTotals {
    working_age: i64,
    /// The frame's `lfs` column (mapped, coded, with its code list in the schema).
    lfs: Option<usize>,
    employed: Option<u32>,
    unemployed: Option<u32>,
    /// Per interned period of the frame, its totals (see [`super::rows::lend`]).
    times: Vec<Option<Totals>>,
}

impl FrameTotals {
    /// Adds row `i` of the frame these totals were made for.
    pub fn add(&mut self, frame: &Frame, i: usize) {
        if frame.age.lo(i).is_none_or(|a| a < self.working_age) {
            return;
        }
        let Some(slot) = self.times.get_mut(frame.time[i] as usize) else {
            return;
        };
        let t = slot.get_or_insert_with(Totals::default);
        let w = frame.weight[i];
        t.working_age += w;
        let Some(ColData::Code(lfs)) = self.lfs.map(|s| &frame.fields[s].data) else {
            return;
        };
        let code = Some(u32::from(lfs[i]));
        if code == self.employed {
            t.employed += w;
        } else if code == self.unemployed {
            t.unemployed += w;
        }
    }
}

impl PeriodTotals {
    /// The running totals of `frame`'s periods, to add its rows to (`FrameTotals::add`) and
    /// give back (`take`): the columns and codes are looked up once, not per row.
    pub fn for_frame(&self, frame: &Frame, schema: &Schema, working_age: i64) -> FrameTotals {
        let lfs = frame
            .fields
            .iter()
            .position(|f| f.name == "lfs" && f.mapped && matches!(f.data, ColData::Code(_)));
        let dim = schema.codes.dim("lfs").ok();
        FrameTotals {
            working_age,
            lfs: lfs.filter(|_| dim.is_some()),
            employed: dim.and_then(|d| d.index_of("LFS_EMP")),
            unemployed: dim.and_then(|d| d.index_of("LFS_UNE")),
            times: super::rows::lend(&self.by_time, frame),
        }
    }

    /// Takes back what [`PeriodTotals::for_frame`] lent to `frame`.
    pub fn take(&mut self, frame: &Frame, t: FrameTotals) {
        super::rows::give_back(&mut self.by_time, frame, t.times);
    }

    pub fn periods(&self) -> &BTreeMap<String, Totals> {
        &self.by_time
    }
}

/// Compares each period of the upload with the latest earlier period of the same source in
/// `warehouse`; returns notes on what could not be compared.
pub fn compare(
    p: &Pipeline,
    schema: &Schema,
    totals: &PeriodTotals,
    warehouse: &Path,
    findings: &mut Findings,
) -> Vec<String> {
    let area_dir = warehouse.join("observations").join(&p.pipeline.ref_area);
    let file = format!("{}.parquet", p.source_id());
    let mut notes = Vec::new();
    for (time, now) in totals.periods() {
        let Some(prev) = previous_period(&area_dir, &file, time) else {
            notes.push(format!(
                "{time}: no earlier period of {} in the warehouse to compare with",
                p.pipeline.source
            ));
            continue;
        };
        match published(&area_dir.join(&prev).join(&file), schema) {
            Ok(before) => judge(p, time, &prev, now, &before, findings),
            Err(e) => notes.push(format!("{time}: the figures of {prev} cannot be read: {e}")),
        }
    }
    notes
}

/// The latest period folder before `time` (same periodicity) that holds `file`.
fn previous_period(area_dir: &Path, file: &str, time: &str) -> Option<String> {
    let kind = |t: &str| (t.len(), t.chars().nth(4));
    std::fs::read_dir(area_dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|t| kind(t) == kind(time) && t.as_str() < time)
        .filter(|t| area_dir.join(t).join(file).is_file())
        .max()
}

/// What the warehouse published for a period: working-age population (thousands) and
/// unemployment rate (%), at the totals of every breakdown.
#[derive(Debug, Default, Clone, Copy)]
struct Published {
    working_age: Option<f64>,
    unemployment_rate: Option<f64>,
}

fn published(path: &Path, schema: &Schema) -> std::result::Result<Published, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let totals: Vec<&str> = schema
        .codes
        .dims
        .values()
        .flat_map(|d| d.codes.iter().filter(|c| c.total).map(|c| c.code.as_str()))
        .collect();
    let mut out = Published::default();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        scan_batch(&batch, &totals, &mut out)?;
    }
    Ok(out)
}

fn scan_batch(b: &RecordBatch, totals: &[&str], out: &mut Published) -> Result<(), String> {
    let text = |name: &str| {
        b.column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| format!("no text column {name}"))
    };
    let (ind, sex, c1, c2) = (
        text("indicator")?,
        text("sex")?,
        text("classif1")?,
        text("classif2")?,
    );
    let value = b
        .column_by_name("obs_value")
        .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
        .ok_or("no obs_value column")?;
    let total = |a: &StringArray, i: usize| a.is_null(i) || totals.contains(&a.value(i));
    for i in 0..b.num_rows() {
        let name = ind.value(i);
        let at_total = sex.value(i) == "SEX_T" && total(c1, i) && total(c2, i);
        if !at_total || value.is_null(i) || !c1.value(i).starts_with("AGE_") {
            continue;
        }
        let v = Some(value.value(i));
        if name.starts_with("MST_XWAP_SEX_AGE_") && name.ends_with("_NB") {
            out.working_age = out.working_age.or(v);
        } else if name.starts_with("MST_TUNE_SEX_AGE_") && name.ends_with("_RT") {
            out.unemployment_rate = out.unemployment_rate.or(v);
        }
    }
    Ok(())
}

fn judge(
    p: &Pipeline,
    time: &str,
    prev: &str,
    now: &Totals,
    before: &Published,
    findings: &mut Findings,
) {
    let v = &p.validation;
    let thousands = now.working_age / 1000.0;
    if let Some(b) = before.working_age.filter(|b| *b > 0.0) {
        let pct = 100.0 * (thousands - b) / b;
        if pct.abs() > v.population_change_pct {
            findings.push(finding(p, "population_change", 0, "", &p.design.weight.clone().unwrap_or_default(), format!("{thousands:.1}"), format!(
                "{time}: the weighted working-age population is {thousands:.1} thousand, {pct:+.1}% against {b:.1} thousand in {prev} (more than ±{}%): check the weight variable and its unit",
                v.population_change_pct
            )));
        }
    }
    if let (Some(b), Some(r)) = (before.unemployment_rate, now.unemployment_rate()) {
        let pp = r - b;
        if pp.abs() > v.unemployment_rate_change_pp {
            findings.push(finding(p, "unemployment_rate_change", 0, "", "lfs", format!("{r:.1}"), format!(
                "{time}: the unemployment rate is {r:.1}%, {pp:+.1} points against {b:.1}% in {prev} (more than ±{} points): check the labour-force status codes",
                v.unemployment_rate_change_pp
            )));
        }
    }
}
