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
    let key = |f: &Frame, r: usize| {
        f.hh_id
            .get(r)
            .map(|h| (f.times[f.time[r] as usize].clone(), h.to_string()))
    };
    let mut seen = HashSet::new();
    let heads: Vec<Option<bool>> = (0..person.len())
        .map(|r| key(person, r).map(|k| seen.insert(k)))
        .collect();
    set(person, "hh_head", ColData::Bool(heads));
    let Some(roster) = roster else { return };
    let Ok(dim) = codes.dim("hhm") else { return };
    let (Some(abroad), Some(none)) = (dim.index_of("HHM_MIG_ABROAD"), dim.index_of("HHM_MIG_NONE"))
    else {
        return;
    };
    let away: HashSet<(String, String)> =
        (0..roster.len()).filter_map(|r| key(roster, r)).collect();
    let hhm: Vec<u32> = (0..person.len())
        .map(|r| match key(person, r) {
            Some(k) if away.contains(&k) => abroad,
            Some(_) => none,
            None => super::NONE,
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
