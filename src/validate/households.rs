//! Rules across records (level 4): the members of a household share its stratum and PSU (and
//! its weight when `design.household_weights = true`), and every stratum has at least two PSUs
//! in each period (`lonely_psu`). Rows arrive in chunks; per household it keeps a fingerprint
//! and the first member's design (about 30 bytes), per stratum its first PSU.
use std::collections::BTreeMap;

use super::keys::fingerprint;
use super::rows::RowReporter;
use super::seen::{Fixed, Seen};
use super::{finding, Findings};
use crate::config::pipeline::Pipeline;
use crate::normalize::{Frame, RecordSpec, NONE};

#[derive(Debug, Clone, Copy)]
struct Member {
    stratum: u32,
    psu: u32,
    weight: f64,
    line: u64,
}

impl Fixed for Member {
    const SIZE: usize = 24;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.stratum.to_le_bytes());
        out.extend_from_slice(&self.psu.to_le_bytes());
        out.extend_from_slice(&self.weight.to_bits().to_le_bytes());
        out.extend_from_slice(&self.line.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let half = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        Member {
            stratum: half(0),
            psu: half(4),
            weight: f64::from_bits(word(8)),
            line: word(16),
        }
    }
}

/// The first PSU met in a stratum, where, and whether a second one was met.
#[derive(Debug, Clone)]
struct Stratum {
    psu: u32,
    line: u64,
    key: String,
    several: bool,
}

#[derive(Default)]
pub struct HouseholdRules {
    households: bool,
    weights: bool,
    /// Lonely PSUs matter in the person file; a roster covers some households only.
    lonely: bool,
    has_psu: bool,
    strata_col: String,
    psu_col: String,
    weight_col: String,
    first: Seen<Member>,
    /// The period and household of the last row checked, with its first member: members of
    /// a household usually follow each other, and then are compared without a lookup.
    last: Option<(String, String, Member)>,
    strata: BTreeMap<(u32, u32), Stratum>,
}

impl HouseholdRules {
    pub fn new(spec: &RecordSpec) -> Self {
        let d = spec.design;
        let name = |c: &Option<String>| c.clone().unwrap_or_default();
        HouseholdRules {
            households: spec.input.household.is_some(),
            weights: d.household_weights,
            lonely: spec.record.record == "person",
            has_psu: d.psu.is_some(),
            strata_col: name(&d.strata),
            psu_col: name(&d.psu),
            weight_col: name(&d.weight),
            first: Seen::in_folder(spec.spill),
            ..Default::default()
        }
    }

    /// The error met reading back the households kept in files, if any.
    pub fn take_error(&mut self) -> Option<crate::error::MigError> {
        self.first.take_error()
    }

    /// Checks row `i` against its household's first member and notes its stratum's PSU.
    pub fn check(&mut self, frame: &Frame, i: usize, out: &mut RowReporter) {
        if self.lonely && self.has_psu && frame.psu[i] != NONE {
            self.note_psu(frame, i);
        }
        let Some(hh) = frame.hh_id.get(i).filter(|h| !h.is_empty()) else {
            return;
        };
        if !self.households {
            return;
        }
        let time = &frame.times[frame.time[i] as usize];
        let me = Member {
            stratum: frame.stratum[i],
            psu: frame.psu[i],
            weight: frame.weight[i],
            line: frame.line.at(i),
        };
        let first = match &self.last {
            Some((t, h, first)) if t == time && h == hh => *first,
            _ => {
                let key = fingerprint([time.as_str(), hh]);
                let first = self.first.first(u128::from(key), me).unwrap_or(me);
                self.last = Some((time.clone(), hh.to_string(), first));
                first
            }
        };
        if first.line != me.line {
            self.compare(frame, i, hh, &first, &me, out);
        }
    }

    fn note_psu(&mut self, frame: &Frame, i: usize) {
        let s = self
            .strata
            .entry((frame.time[i], frame.stratum[i]))
            .or_insert_with(|| Stratum {
                psu: frame.psu[i],
                line: frame.line.at(i),
                key: frame.key.str(i).to_string(),
                several: false,
            });
        s.several |= s.psu != frame.psu[i];
    }

    /// Compares a member with the first member of the household.
    fn compare(
        &self,
        frame: &Frame,
        i: usize,
        hh: &str,
        first: &Member,
        me: &Member,
        out: &mut RowReporter,
    ) {
        if first.stratum != me.stratum || first.psu != me.psu {
            let (column, value) = if first.stratum != me.stratum {
                (&self.strata_col, name(&frame.strata, me.stratum))
            } else {
                (&self.psu_col, psu_name(frame, me.psu, me.stratum))
            };
            let msg = format!(
                "household {hh} is in stratum {} / PSU {} on line {} but in stratum {} / PSU {} here: all members of a household are sampled together",
                name(&frame.strata, first.stratum),
                psu_name(frame, first.psu, first.stratum),
                first.line,
                name(&frame.strata, me.stratum),
                psu_name(frame, me.psu, me.stratum),
            );
            out.hit(frame, i, "household_design", column, column, value, msg);
        }
        let same = (first.weight - me.weight).abs() <= 1e-9 * first.weight.abs().max(1.0);
        if self.weights && !same {
            let msg = format!(
                "household {hh} has weight {} on line {} but {} here: the pipeline says household members share the household's weight (design.household_weights)",
                first.weight, first.line, me.weight
            );
            let column = &self.weight_col;
            let value = me.weight.to_string();
            out.hit(frame, i, "household_weight", column, column, value, msg);
        }
    }

    /// Reports strata with a single PSU in a period.
    pub fn finish(&self, p: &Pipeline, spec: &RecordSpec, frame: &Frame, findings: &mut Findings) {
        let how = spec
            .design
            .lonely_psu
            .as_ref()
            .map(|l| {
                let l = format!("{l:?}").to_lowercase();
                format!("design.lonely_psu = {l:?} decides how it is estimated")
            })
            .unwrap_or_else(|| "set design.lonely_psu to say how to estimate it".into());
        for ((t, s), st) in &self.strata {
            if st.several {
                continue;
            }
            let time = frame
                .times
                .get(*t as usize)
                .map(String::as_str)
                .unwrap_or("?");
            let stratum = name(&frame.strata, *s);
            let psu = psu_name(frame, st.psu, *s);
            findings.push(finding(
                p,
                "lonely_psu",
                st.line,
                &st.key,
                &self.psu_col,
                psu.clone(),
                format!(
                    "stratum {stratum} has a single PSU ({psu}) in {time}: its sampling variance cannot be estimated; {how}"
                ),
            ));
        }
    }
}

fn name(list: &[String], idx: u32) -> String {
    if idx == NONE {
        return "-".into();
    }
    list.get(idx as usize)
        .cloned()
        .unwrap_or_else(|| "?".into())
}

/// A PSU's name as the file writes it (without the `stratum/` prefix nesting adds).
fn psu_name(frame: &Frame, idx: u32, stratum: u32) -> String {
    let full = name(&frame.psus, idx);
    let prefix = format!("{}/", name(&frame.strata, stratum));
    full.strip_prefix(&prefix)
        .map(str::to_string)
        .unwrap_or(full)
}
