//! Populations of the catalogue evaluated over a frame: one bit per population per row.
use crate::normalize::{ColData, Frame, NO_CODE};
use crate::schema::catalogue::{Condition, Population};
use crate::schema::CodeLists;

/// Why a population cannot be formed from a frame (a field it needs is not mapped).
pub type Unavailable = String;

/// Whether `pop` can be formed from the frame's fields; `Err` names the first unmapped one (as
/// `evaluate` would).
pub fn available(frame: &Frame, pop: &Population) -> Result<(), Unavailable> {
    for cond in pop
        .conditions
        .iter()
        .filter(|c| c.working_age != Some(true))
    {
        let name = cond.field.as_deref().unwrap_or("");
        if frame.mapped(name).is_none() {
            return Err(format!("field {name} is not mapped"));
        }
    }
    Ok(())
}

/// Evaluates `pop` for every row; `Err` names the unmapped field.
pub fn evaluate(
    frame: &Frame,
    pop: &Population,
    codes: &CodeLists,
    working_age: i64,
) -> Result<Vec<bool>, Unavailable> {
    let mut keep = vec![true; frame.len()];
    for cond in &pop.conditions {
        apply(frame, cond, codes, working_age, &mut keep)?;
    }
    Ok(keep)
}

fn apply(
    frame: &Frame,
    cond: &Condition,
    codes: &CodeLists,
    working_age: i64,
    keep: &mut [bool],
) -> Result<(), Unavailable> {
    if cond.working_age == Some(true) {
        let of_age: Vec<bool> = frame
            .age
            .intervals()
            .iter()
            .map(|&(lo, _)| lo >= working_age)
            .collect();
        for (k, &i) in keep.iter_mut().zip(frame.age.indexes()) {
            *k &= of_age.get(i as usize).copied().unwrap_or(false);
        }
        return Ok(());
    }
    let name = cond.field.as_deref().unwrap_or("");
    let col = frame
        .mapped(name)
        .ok_or_else(|| format!("field {name} is not mapped"))?;
    let years: Vec<i64> = frame
        .times
        .iter()
        .map(|t| t.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0))
        .collect();
    let allowed: Vec<u32> = cond
        .in_codes
        .iter()
        .flatten()
        .filter_map(|l| codes.find(l).map(|(_, i)| i))
        .collect();
    for (i, k) in keep.iter_mut().enumerate() {
        if !*k {
            continue;
        }
        *k = test(col, i, cond, &allowed, years[frame.time[i] as usize]);
    }
    Ok(())
}

fn test(col: &ColData, i: usize, cond: &Condition, allowed: &[u32], year: i64) -> bool {
    if cond.in_codes.is_some() {
        let ColData::Code(c) = col else { return false };
        return c[i] != NO_CODE && allowed.contains(&u32::from(c[i]));
    }
    if let Some(b) = cond.eq {
        return matches!(col, ColData::Bool(v) if v[i] == Some(b));
    }
    if let Some(p) = cond.present {
        let present = match col {
            ColData::Float(v) => v.get(i).is_some(),
            ColData::Int(v) => v.get(i).is_some(),
            ColData::Bool(v) => v[i].is_some(),
            ColData::Str(v) => v[i].is_some(),
            ColData::Code(v) => v[i] != NO_CODE,
        };
        return present == p;
    }
    if let Some(n) = cond.within_years {
        let ColData::Int(v) = col else { return false };
        return v.get(i).is_some_and(|y| y >= year - n && y <= year);
    }
    true
}
