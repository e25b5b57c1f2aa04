//! The rules that read mapped rows — record consistency, households and design, period totals
//! for plausibility — applied to a frame (all of it, or chunk after chunk when streaming).
use std::collections::BTreeMap;
use std::path::Path;

use super::households::HouseholdRules;
use super::plausibility::{self, PeriodTotals};
use super::record::RecordRules;
use super::{rules, Finding, Findings};
use crate::config::pipeline::{Pipeline, Severity};
use crate::normalize::{Frame, RecordSpec};
use crate::schema::Schema;

/// A frame row a rule set to `quarantine` takes out of the load.
#[derive(Debug, Clone)]
pub struct Quarantine {
    pub row: usize,
    pub rule: &'static str,
    pub message: String,
}

/// Turns rule hits on frame rows into findings, with the pipeline's severities.
pub struct RowReporter<'a> {
    p: &'a Pipeline,
    spec: &'a RecordSpec<'a>,
    findings: &'a mut Findings,
    quarantine: Vec<Quarantine>,
}

impl<'a> RowReporter<'a> {
    pub fn new(p: &'a Pipeline, spec: &'a RecordSpec<'a>, findings: &'a mut Findings) -> Self {
        RowReporter {
            p,
            spec,
            findings,
            quarantine: Vec::new(),
        }
    }

    /// Reports `rule` on row `i` of `frame`; `field` picks the field's `on_invalid`.
    #[allow(clippy::too_many_arguments)]
    pub fn hit(
        &mut self,
        frame: &Frame,
        i: usize,
        rule: &'static str,
        field: &str,
        column: &str,
        value: String,
        message: String,
    ) {
        let severity = rules::severity(self.p, rule, self.spec.fields.get(field));
        let first_for_row = self.quarantine.last().is_none_or(|q| q.row != i);
        if severity == Severity::Quarantine && first_for_row {
            self.quarantine.push(Quarantine {
                row: i,
                rule,
                message: message.clone(),
            });
        }
        self.findings.push(Finding {
            rule: rule.to_string(),
            severity,
            line: frame.line.at(i),
            key: frame.key.str(i).to_string(),
            column: column.to_string(),
            value,
            message,
        });
    }
}

/// Running values per period, by name, lent to one frame by its interned period index (`None`
/// until a row of that period is met), so that rows are added without a lookup and in row
/// order; [`give_back`] returns them.
pub(super) fn lend<T: Copy>(by_name: &BTreeMap<String, T>, frame: &Frame) -> Vec<Option<T>> {
    frame
        .times
        .iter()
        .map(|t| by_name.get(t).copied())
        .collect()
}

/// Returns what [`lend`] lent to `frame`.
pub(super) fn give_back<T>(by_name: &mut BTreeMap<String, T>, frame: &Frame, lent: Vec<Option<T>>) {
    for (name, value) in frame.times.iter().zip(lent) {
        if let Some(value) = value {
            by_name.insert(name.clone(), value);
        }
    }
}

/// The row rules of one input, with what they accumulate across chunks.
pub struct RowChecks<'a> {
    p: &'a Pipeline,
    spec: &'a RecordSpec<'a>,
    schema: &'a Schema,
    record: Option<RecordRules>,
    households: HouseholdRules,
    totals: PeriodTotals,
    /// Rows and weighted total per period.
    periods: BTreeMap<String, (u64, f64)>,
}

impl<'a> RowChecks<'a> {
    pub fn new(p: &'a Pipeline, spec: &'a RecordSpec<'a>, schema: &'a Schema) -> Self {
        RowChecks {
            p,
            spec,
            schema,
            record: None,
            households: HouseholdRules::new(spec),
            totals: PeriodTotals::default(),
            periods: Default::default(),
        }
    }

    /// Checks every row of `frame`; returns the rows that rules set to `quarantine` take out.
    pub fn check(&mut self, frame: &Frame, findings: &mut Findings) -> Vec<Quarantine> {
        let wa = self.p.pipeline.working_age;
        let (spec, schema) = (self.spec, self.schema);
        let record = self
            .record
            .get_or_insert_with(|| RecordRules::new(spec, schema, frame, wa));
        let person = frame.record == "person";
        let mut out = RowReporter::new(self.p, spec, findings);
        let mut periods = lend(&self.periods, frame);
        let mut totals = person.then(|| self.totals.for_frame(frame, schema, wa));
        for i in 0..frame.len() {
            record.check(frame, i, schema, &mut out);
            self.households.check(frame, i, &mut out);
            if let Some(t) = totals.as_mut() {
                t.add(frame, i);
            }
            if let Some(slot) = periods.get_mut(frame.time[i] as usize) {
                let e = slot.get_or_insert_with(Default::default);
                e.0 += 1;
                e.1 += frame.weight[i];
            }
        }
        give_back(&mut self.periods, frame, periods);
        if let Some(t) = totals {
            self.totals.take(frame, t);
        }
        out.quarantine
    }

    /// The error met reading back what the rules kept in files, if any.
    pub fn take_error(&mut self) -> Option<crate::error::MigError> {
        self.households.take_error()
    }

    /// Rows checked per period, with their weighted total.
    pub fn periods(&self) -> Vec<super::input::PeriodCount> {
        self.periods
            .iter()
            .map(|(t, (rows, w))| super::input::PeriodCount {
                period: t.clone(),
                rows: *rows,
                weighted: *w,
            })
            .collect()
    }

    /// The findings known once every row has been seen; returns notes on what could not be
    /// compared. `frame` may be empty but keeps the interned names.
    pub fn finish(
        &self,
        frame: &Frame,
        findings: &mut Findings,
        warehouse: Option<&Path>,
    ) -> Vec<String> {
        self.households.finish(self.p, self.spec, frame, findings);
        match warehouse {
            Some(wh) if frame.record == "person" => {
                plausibility::compare(self.p, self.schema, &self.totals, wh, findings)
            }
            _ => Vec::new(),
        }
    }
}
