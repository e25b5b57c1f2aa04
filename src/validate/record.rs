//! Record rules (level 3): consistency within one harmonised record — skip logic and answers
//! that contradict each other. They read the mapped `Frame`, so they hold for every survey
//! whatever its own codes; a rule whose fields the pipeline does not map is not applied.
//!
//! "Missing" for a coded field means no code, or the code the pipeline gives blank cells
//! (`blank`) when no input code maps to it too: StatCan maps NAICS group 18 and a blank cell to
//! the same `ECO_ISIC4_X`, so there only a null counts as missing.
use std::collections::HashMap;

use super::rows::RowReporter;
use crate::config::pipeline::FieldMap;
use crate::normalize::{ColData, Frame, RecordSpec, NONE, NO_CODE};
use crate::schema::Schema;

/// A coded field: its slot in the frame, source column and the code meaning "not answered".
#[derive(Debug, Clone)]
struct Coded {
    slot: usize,
    field: &'static str,
    column: String,
    missing: Option<u32>,
    dim: String,
    /// The file's codes of each schema code the pipeline's `codes` recodes to (`218` for
    /// `CBR_BRT_ECU`), and the `prefix` put before cells: findings show the file's value.
    file_codes: HashMap<u32, Vec<String>>,
    prefix: Option<String>,
}

impl Coded {
    /// A schema code as the file writes it: its input code(s), the cell behind a `prefix`, or
    /// the schema code itself when the file's is not known.
    fn file_value(&self, schema: &Schema, idx: u32) -> String {
        if let Some(codes) = self.file_codes.get(&idx) {
            return codes.join(" / ");
        }
        let code = code_name(schema, &self.dim, idx);
        match self.prefix.as_deref().and_then(|p| code.strip_prefix(p)) {
            Some(cell) => cell.to_string(),
            None => code,
        }
    }
}

/// The record rules compiled for one input's frame.
#[derive(Debug, Clone, Default)]
pub struct RecordRules {
    working_age: i64,
    area: String,
    lfs: Option<Coded>,
    lfs_emp: Option<u32>,
    lfs_x: Option<u32>,
    job: Vec<(Coded, &'static str)>,
    arrival: Option<(usize, String)>,
    cbr: Option<(Coded, u32)>,
    brt: Option<(Coded, u32)>,
    cct: Option<(Coded, u32)>,
    ctz: Option<(Coded, u32)>,
    receipt: Option<usize>,
    amount: Option<(usize, String)>,
}

/// The column a field is read from (its first name), or the field's name for constants.
pub fn column_of(spec: &RecordSpec, field: &str) -> String {
    let map = spec.fields.get(field);
    map.and_then(|m| m.column.as_ref().map(|c| c.names()))
        .and_then(|n| n.first().cloned())
        .or_else(|| {
            map.filter(|m| !m.columns.is_empty())
                .map(|m| m.columns.join("*"))
        })
        .unwrap_or_else(|| field.to_string())
}

impl RecordRules {
    pub fn new(spec: &RecordSpec, schema: &Schema, frame: &Frame, working_age: i64) -> Self {
        let coded = |field: &'static str| coded(spec, schema, frame, field);
        let code = |dim: &str, c: &str| schema.codes.dims.get(dim).and_then(|d| d.index_of(c));
        let area = frame.ref_area.clone();
        let pair = |field: &'static str, want: &str| {
            let c = coded(field)?;
            let idx = code(&c.dim, want)?;
            Some((c, idx))
        };
        let slot = |name: &str| {
            let i = frame.fields.iter().position(|f| f.name == name)?;
            frame.fields[i].mapped.then_some(i)
        };
        RecordRules {
            working_age,
            lfs: coded("lfs"),
            lfs_emp: code("lfs", "LFS_EMP"),
            lfs_x: code("lfs", "LFS_X"),
            job: [
                ("eco", "economic activity"),
                ("ocu", "occupation"),
                ("ste", "status in employment"),
            ]
            .into_iter()
            .filter_map(|(f, label)| coded(f).map(|c| (c, label)))
            .collect(),
            arrival: slot("year_arrival").map(|i| (i, column_of(spec, "year_arrival"))),
            cbr: pair("cbr", "CBR_BIR_FOREIGN"),
            brt: pair("brt", &format!("CBR_BRT_{area}")),
            cct: pair("cct", "CCT_CIT_CITIZEN"),
            ctz: pair("ctz", &format!("CCT_CTZ_{area}")),
            receipt: slot("remit_receipt"),
            amount: slot("remit_amount").map(|i| (i, column_of(spec, "remit_amount"))),
            area,
        }
    }

    /// Applies every record rule to row `i`.
    pub fn check(&self, frame: &Frame, i: usize, schema: &Schema, out: &mut RowReporter) {
        self.employed(frame, i, out);
        self.below_working_age(frame, i, schema, out);
        self.arrival(frame, i, out);
        self.foreign_born(frame, i, schema, out);
        self.citizen(frame, i, schema, out);
        self.remittances(frame, i, out);
    }

    fn employed(&self, frame: &Frame, i: usize, out: &mut RowReporter) {
        let (Some(lfs), Some(emp)) = (&self.lfs, self.lfs_emp) else {
            return;
        };
        if code_at(frame, lfs.slot, i) != emp {
            return;
        }
        for (c, label) in &self.job {
            let v = code_at(frame, c.slot, i);
            if v == NONE || Some(v) == c.missing {
                let msg = format!(
                    "the person is employed but the {label} is missing ({} is blank): fill it for every employed person",
                    c.column
                );
                let rule = "employed_job_missing";
                out.hit(frame, i, rule, c.field, &c.column, String::new(), msg);
            }
        }
    }

    fn below_working_age(&self, frame: &Frame, i: usize, schema: &Schema, out: &mut RowReporter) {
        let Some(lfs) = &self.lfs else { return };
        let Some(hi) = frame.age.hi(i) else {
            return;
        };
        let v = code_at(frame, lfs.slot, i);
        if hi >= self.working_age || v == NONE || Some(v) == self.lfs_x || Some(v) == lfs.missing {
            return;
        }
        let wa = self.working_age;
        let msg = format!(
            "the person is {}, below working age ({wa}), but has a labour-force status: leave {} blank for persons under {wa}",
            age_text(frame, i),
            lfs.column
        );
        let shown = lfs.file_value(schema, v);
        out.hit(
            frame,
            i,
            "below_working_age_lfs",
            lfs.field,
            &lfs.column,
            shown,
            msg,
        );
    }

    fn arrival(&self, frame: &Frame, i: usize, out: &mut RowReporter) {
        let Some((slot, column)) = &self.arrival else {
            return;
        };
        let Some(year) = int_at(frame, *slot, i) else {
            return;
        };
        let time = &frame.times[frame.time[i] as usize];
        let Some(survey) = time.get(..4).and_then(|y| y.parse::<i64>().ok()) else {
            return;
        };
        if year > survey {
            let msg = format!("the year of arrival {year} is after the survey year {survey}");
            out.hit(
                frame,
                i,
                "arrival_after_survey",
                "year_arrival",
                column,
                year.to_string(),
                msg,
            );
            return;
        }
        let Some(hi) = frame.age.hi(i).filter(|&a| a < 999) else {
            return;
        };
        let born = survey - hi - 1;
        if year < born {
            let msg = format!(
                "the year of arrival {year} is before the year of birth: the person is {} in {survey}, so born in {born} or later",
                age_text(frame, i)
            );
            out.hit(
                frame,
                i,
                "arrival_before_birth",
                "year_arrival",
                column,
                year.to_string(),
                msg,
            );
        }
    }

    fn foreign_born(&self, frame: &Frame, i: usize, schema: &Schema, out: &mut RowReporter) {
        let (Some((cbr, foreign)), Some((brt, own))) = (&self.cbr, &self.brt) else {
            return;
        };
        if code_at(frame, cbr.slot, i) != *foreign || code_at(frame, brt.slot, i) != *own {
            return;
        }
        let msg = format!(
            "the person is foreign-born ({}) but the country of birth ({}) is {}, the survey country",
            cbr.column, brt.column, self.area
        );
        let shown = brt.file_value(schema, *own);
        let rule = "foreign_born_in_country";
        out.hit(frame, i, rule, brt.field, &brt.column, shown, msg);
    }

    fn citizen(&self, frame: &Frame, i: usize, schema: &Schema, out: &mut RowReporter) {
        let (Some((cct, citizen)), Some((ctz, own))) = (&self.cct, &self.ctz) else {
            return;
        };
        let v = code_at(frame, ctz.slot, i);
        let other = v != NONE && v != *own && Some(v) != ctz.missing;
        if code_at(frame, cct.slot, i) != *citizen || !other {
            return;
        }
        let code = code_name(schema, &ctz.dim, v);
        if code.ends_with("_X") || code.ends_with("_TOTAL") {
            return;
        }
        let shown = ctz.file_value(schema, v);
        let msg = format!(
            "the person is a citizen ({}) but the country of citizenship ({}) is not {}",
            cct.column, ctz.column, self.area
        );
        let rule = "citizen_foreign_country";
        out.hit(frame, i, rule, ctz.field, &ctz.column, shown, msg);
    }

    fn remittances(&self, frame: &Frame, i: usize, out: &mut RowReporter) {
        let (Some(r), Some((a, column))) = (self.receipt, &self.amount) else {
            return;
        };
        let ColData::Bool(receipt) = &frame.fields[r].data else {
            return;
        };
        let amount = match &frame.fields[*a].data {
            ColData::Float(v) => v.get(i),
            ColData::Int(v) => v.get(i).map(|x| x as f64),
            _ => None,
        };
        if let (Some(false), Some(x)) = (receipt[i], amount) {
            if x != 0.0 {
                let msg = format!(
                    "the household received no remittances but an amount of {x} is given: leave {column} blank or answer that remittances were received"
                );
                out.hit(
                    frame,
                    i,
                    "remittance_without_receipt",
                    "remit_amount",
                    column,
                    x.to_string(),
                    msg,
                );
            }
        }
    }
}

fn coded(spec: &RecordSpec, schema: &Schema, frame: &Frame, field: &'static str) -> Option<Coded> {
    let slot = frame.fields.iter().position(|f| f.name == field)?;
    let col = &frame.fields[slot];
    if !col.mapped || !matches!(col.data, ColData::Code(_)) {
        return None;
    }
    let dim = col.dim.clone()?;
    let map = spec.fields.get(field);
    let missing = map.and_then(|m| blank_code(m, schema, &dim));
    let mut file_codes: HashMap<u32, Vec<String>> = HashMap::new();
    if let (Some(m), Some(d)) = (map, schema.codes.dims.get(&dim)) {
        for (raw, code) in &m.codes {
            if let Some(i) = code.as_str().and_then(|c| d.index_of(c)) {
                file_codes.entry(i).or_default().push(raw.clone());
            }
        }
    }
    Some(Coded {
        slot,
        field,
        column: column_of(spec, field),
        missing,
        dim,
        file_codes,
        prefix: map.and_then(|m| m.prefix.clone()),
    })
}

/// The code blank cells get, when no input code is recoded to it as well.
fn blank_code(map: &FieldMap, schema: &Schema, dim: &str) -> Option<u32> {
    let blank = map.blank.as_ref()?.as_str()?;
    if map.codes.values().any(|v| v.as_str() == Some(blank)) {
        return None;
    }
    schema.codes.dims.get(dim)?.index_of(blank)
}

fn code_at(frame: &Frame, slot: usize, i: usize) -> u32 {
    match &frame.fields[slot].data {
        ColData::Code(v) => match v.get(i) {
            Some(&c) if c != NO_CODE => u32::from(c),
            _ => NONE,
        },
        _ => NONE,
    }
}

fn int_at(frame: &Frame, slot: usize, i: usize) -> Option<i64> {
    match &frame.fields[slot].data {
        ColData::Int(v) => v.get(i),
        ColData::Float(v) => v.get(i).map(|x| x as i64),
        _ => None,
    }
}

fn code_name(schema: &Schema, dim: &str, idx: u32) -> String {
    if idx == NONE {
        return String::new();
    }
    schema
        .codes
        .dims
        .get(dim)
        .and_then(|d| d.codes.get(idx as usize))
        .map(|c| c.code.clone())
        .unwrap_or_default()
}

fn age_text(frame: &Frame, i: usize) -> String {
    match frame.age.get(i) {
        Some((lo, hi)) if lo == hi => format!("{lo} years old"),
        Some((lo, hi)) if hi >= 999 => format!("aged {lo} or more"),
        Some((lo, hi)) => format!("aged {lo}-{hi}"),
        None => "of unknown age".into(),
    }
}
