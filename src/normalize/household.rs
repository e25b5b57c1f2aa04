//! Household fields derived after mapping: the first listed member of each household (so that
//! household indicators count each household once) and whether the household has a member living
//! abroad (from the roster).
use std::collections::HashSet;

use super::frame::{ColData, Frame};
use crate::schema::CodeLists;

/// Fills `hh_head` (when the survey has household ids) and `hhm` (when it also has a roster).
pub fn derive(person: &mut Frame, roster: Option<&Frame>, codes: &CodeLists) {
    if person.hh_id.all_missing() {
        return;
    }
    // A household is its period (the frame's interned index) and its id; members usually follow
    // each other, so a row with the last row's household needs no lookup.
    let mut seen: HashSet<(u32, &str)> = HashSet::new();
    let mut last = None;
    let heads: Vec<Option<bool>> = (0..person.len())
        .map(|r| {
            let k = (person.time[r], person.hh_id.get(r)?);
            let head = last != Some(k) && seen.insert(k);
            last = Some(k);
            Some(head)
        })
        .collect();
    drop(seen);
    set(person, "hh_head", ColData::Bool(heads));
    let Some(roster) = roster else { return };
    let Ok(dim) = codes.dim("hhm") else { return };
    let code = |c: &str| dim.index_of(c).and_then(|i| u16::try_from(i).ok());
    let (Some(abroad), Some(none)) = (code("HHM_MIG_ABROAD"), code("HHM_MIG_NONE")) else {
        return;
    };
    // The roster's periods by the person file's index (a period the person file lacks matches
    // no person).
    let period: Vec<Option<u32>> = roster
        .times
        .iter()
        .map(|t| person.times.iter().position(|p| p == t).map(|i| i as u32))
        .collect();
    let away: HashSet<(u32, &str)> = (0..roster.len())
        .filter_map(|r| Some((period[roster.time[r] as usize]?, roster.hh_id.get(r)?)))
        .collect();
    let mut last = None;
    let hhm: Vec<u16> = (0..person.len())
        .map(|r| {
            let Some(k) = person.hh_id.get(r).map(|h| (person.time[r], h)) else {
                return super::NO_CODE;
            };
            match last {
                Some((l, code)) if l == k => code,
                _ => {
                    let code = if away.contains(&k) { abroad } else { none };
                    last = Some((k, code));
                    code
                }
            }
        })
        .collect();
    set(person, "hhm", ColData::Code(hhm));
}

fn set(frame: &mut Frame, name: &str, data: ColData) {
    if let Some(f) = frame.fields.iter_mut().find(|f| f.name == name) {
        f.data = data;
        f.mapped = true;
    }
}
