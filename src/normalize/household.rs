//! Household fields derived after mapping: the first listed member of each household (so that
//! household indicators count each household once) and whether the household has a member living
//! abroad (from the roster).
use std::collections::HashSet;

use super::frame::{ColData, Frame};
use crate::schema::CodeLists;
use crate::validate::keys::fingerprint;
use crate::validate::seen::KeySet;

/// The household fields of a person file whose rows come chunk by chunk: the households met in
/// earlier chunks (a household's first listed member may be in an earlier chunk) and the roster's
/// households with a member abroad.
#[derive(Default)]
pub struct Households {
    /// Whether some row so far had a household id (then every later chunk gets the fields).
    active: bool,
    /// The households met, as 128-bit fingerprints of period and id (see [`household`]).
    seen: KeySet,
    away: Option<HashSet<(String, String)>>,
}

impl Households {
    /// Households whose fingerprints go to `dir` past the memory bound (`None`: the temporary
    /// folder).
    pub fn in_folder(dir: Option<&std::path::Path>) -> Self {
        Households {
            seen: KeySet::in_folder(dir),
            ..Default::default()
        }
    }

    /// The error met reading back the households kept in files, if any.
    pub fn take_error(&mut self) -> Option<crate::error::MigError> {
        self.seen.take_error()
    }

    /// Fills `hh_head` (when the survey has household ids) and `hhm` (when it also has a
    /// roster) for the rows of `person`, which follow the rows of every earlier call.
    pub fn derive(&mut self, person: &mut Frame, roster: Option<&Frame>, codes: &CodeLists) {
        if !self.active && person.hh_id.all_missing() {
            return;
        }
        self.active = true;
        // A household is its period and its id; members usually follow each other, so a row
        // with the last row's household needs no lookup.
        let mut last = None;
        let heads: Vec<Option<bool>> = (0..person.len())
            .map(|r| {
                let k = (person.time[r], person.hh_id.get(r)?);
                let head = last != Some(k)
                    && self
                        .seen
                        .insert(household(&person.times[k.0 as usize], k.1));
                last = Some(k);
                Some(head)
            })
            .collect();
        set(person, "hh_head", ColData::Bool(heads));
        let Some(roster) = roster else { return };
        let Ok(dim) = codes.dim("hhm") else { return };
        let code = |c: &str| dim.index_of(c).and_then(|i| u16::try_from(i).ok());
        let (Some(abroad), Some(none)) = (code("HHM_MIG_ABROAD"), code("HHM_MIG_NONE")) else {
            return;
        };
        // The roster's households by period name (a period the person file lacks matches no
        // person).
        let away = self.away.get_or_insert_with(|| {
            (0..roster.len())
                .filter_map(|r| {
                    let t = roster.times[roster.time[r] as usize].clone();
                    Some((t, roster.hh_id.get(r)?.to_string()))
                })
                .collect()
        });
        let mut last: Option<((u32, &str), u16)> = None;
        let mut key = (String::new(), String::new());
        let hhm: Vec<u16> = (0..person.len())
            .map(|r| {
                let Some(k) = person.hh_id.get(r).map(|h| (person.time[r], h)) else {
                    return super::NO_CODE;
                };
                match last {
                    Some((l, code)) if l == k => code,
                    _ => {
                        key.0.clear();
                        key.0.push_str(&person.times[k.0 as usize]);
                        key.1.clear();
                        key.1.push_str(k.1);
                        let code = if away.contains(&key) { abroad } else { none };
                        last = Some((k, code));
                        code
                    }
                }
            })
            .collect();
        set(person, "hhm", ColData::Code(hhm));
    }
}

/// A household (its period and id) as 128 bits: two SipHashes under keys drawn at random once
/// per process (`keys::fingerprint`). Two of n households share one with probability about
/// n²/2¹²⁹ (10⁻²³ for 10⁸ households), and no file can be made to collide on purpose; a set of
/// them takes 16 bytes a household where the ids' text took 50–80.
fn household(period: &str, id: &str) -> u128 {
    let a = fingerprint([period, id]);
    let b = fingerprint(["household", period, id]);
    (u128::from(a) << 64) | u128::from(b)
}

fn set(frame: &mut Frame, name: &str, data: ColData) {
    if let Some(f) = frame.fields.iter_mut().find(|f| f.name == name) {
        f.data = data;
        f.mapped = true;
    }
}
