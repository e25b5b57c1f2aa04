//! The harmonised records of one input, held as contiguous column buffers: what estimation reads
//! and what the microdata tables are written from.
pub use super::reps::Replicates;
use crate::schema::FieldType;

/// Marks a missing index (stratum, PSU, period, age interval).
pub const NONE: u32 = u32::MAX;

/// Marks a missing code in a code column. A code is its index in the dimension's code list,
/// kept in 2 bytes: a list holds fewer codes than this (the schema refuses more).
pub const NO_CODE: u16 = u16::MAX;

#[derive(Debug, Clone)]
pub enum ColData {
    Str(Vec<Option<String>>),
    Int(Nullable<i64>),
    Float(Nullable<f64>),
    Bool(Vec<Option<bool>>),
    /// Index into the dimension's code list, `NO_CODE` when missing.
    Code(Vec<u16>),
}

impl ColData {
    pub fn new(ty: FieldType) -> Self {
        match ty {
            FieldType::String => ColData::Str(Vec::new()),
            FieldType::Int => ColData::Int(Nullable::default()),
            FieldType::Float => ColData::Float(Nullable::default()),
            FieldType::Bool => ColData::Bool(Vec::new()),
            FieldType::Code => ColData::Code(Vec::new()),
        }
    }
}

/// One mappable field of the record.
#[derive(Debug, Clone)]
pub struct FieldCol {
    pub name: String,
    pub ty: FieldType,
    pub dim: Option<String>,
    /// Whether the pipeline maps it (an unmapped field is all missing).
    pub mapped: bool,
    /// `note_classif` code for breakdowns by this field.
    pub note: Option<String>,
    pub data: ColData,
}

/// A typed value produced by mapping one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Code(u32),
}

#[derive(Debug, Default)]
pub struct Frame {
    /// `person` or `emigrant`.
    pub record: String,
    pub ref_area: String,
    pub source: String,
    pub times: Vec<String>,
    pub time: Vec<u32>,
    /// Business key of each row (never missing).
    pub key: Texts,
    /// Physical line (or case, or sheet row) of each row.
    pub line: Wide,
    pub hh_id: Texts,
    pub weight: Vec<f64>,
    /// Interned stratum names; `stratum` holds indexes (`NONE` without strata).
    pub strata: Vec<String>,
    pub stratum: Vec<u32>,
    /// Interned PSU names (`stratum/psu` when nested); `psu` holds indexes.
    pub psus: Vec<String>,
    pub psu: Vec<u32>,
    pub fpc: Option<Vec<f64>>,
    pub rep_names: Vec<String>,
    /// Replicate weights (in memory up to a bound, then in a file: see `Replicates`).
    pub reps: Replicates,
    pub fields: Vec<FieldCol>,
    /// Age interval of each row (from exact age or a band), `None` when unknown.
    pub age: Ages,
}

impl Frame {
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weight.is_empty()
    }

    pub fn field(&self, name: &str) -> Option<&FieldCol> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field's data when the pipeline maps it.
    pub fn mapped(&self, name: &str) -> Option<&ColData> {
        self.field(name).filter(|f| f.mapped).map(|f| &f.data)
    }

    /// Appends values of field `field` for several rows (the column's type is matched once, not
    /// once a value); a value of another type than the column's is a missing value.
    pub fn push_values<'v>(&mut self, field: usize, vals: impl Iterator<Item = &'v Val>) {
        match &mut self.fields[field].data {
            ColData::Str(c) => c.extend(vals.map(|v| match v {
                Val::Str(s) => Some(s.clone()),
                _ => None,
            })),
            ColData::Int(c) => vals.for_each(|v| {
                c.push(match v {
                    Val::Int(x) => Some(*x),
                    _ => None,
                })
            }),
            ColData::Float(c) => vals.for_each(|v| {
                c.push(match v {
                    Val::Float(x) => Some(*x),
                    Val::Int(x) => Some(*x as f64),
                    _ => None,
                })
            }),
            ColData::Bool(c) => c.extend(vals.map(|v| match v {
                Val::Bool(b) => Some(*b),
                _ => None,
            })),
            // Codes index a list of fewer than `NO_CODE` codes.
            ColData::Code(c) => c.extend(vals.map(|v| match v {
                Val::Code(x) => u16::try_from(*x).unwrap_or(NO_CODE),
                _ => NO_CODE,
            })),
        }
    }

    /// Keeps the rows whose `keep` entry is true (rows past `keep`'s end are kept); interned
    /// names (times, strata, PSUs) stay as they are.
    pub fn retain(&mut self, keep: &[bool]) {
        self.for_each_row_buffer(|b| b.retain(keep));
    }

    /// Gives back what the buffers hold beyond their rows (a frame grows by doubling).
    pub fn shrink_to_fit(&mut self) {
        self.for_each_row_buffer(|b| b.shrink());
    }

    /// Drops every row but keeps the interned names and field definitions, so that rows pushed
    /// afterwards use the same indexes (streaming validation clears the frame chunk by chunk).
    pub fn clear_rows(&mut self) {
        self.for_each_row_buffer(|b| b.clear());
    }

    /// Moves the rows out into a frame of their own, with the names they index (periods, strata,
    /// PSUs, age intervals) and the field definitions; this frame keeps the names and no rows,
    /// as after `clear_rows`, for the rows that come next.
    pub fn take_rows(&mut self) -> Frame {
        let rows = std::mem::take(self);
        *self = Frame {
            record: rows.record.clone(),
            ref_area: rows.ref_area.clone(),
            source: rows.source.clone(),
            times: rows.times.clone(),
            strata: rows.strata.clone(),
            psus: rows.psus.clone(),
            fpc: rows.fpc.as_ref().map(|_| Vec::new()),
            rep_names: rows.rep_names.clone(),
            reps: rows.reps.empty_like(),
            fields: rows
                .fields
                .iter()
                .map(|f| FieldCol {
                    name: f.name.clone(),
                    ty: f.ty,
                    dim: f.dim.clone(),
                    mapped: f.mapped,
                    note: f.note.clone(),
                    data: ColData::new(f.ty),
                })
                .collect(),
            age: rows.age.empty_like(),
            ..Default::default()
        };
        rows
    }

    fn for_each_row_buffer(&mut self, mut f: impl FnMut(RowBuffer<'_>)) {
        f(RowBuffer::U32(&mut self.time));
        f(RowBuffer::Texts(&mut self.key));
        f(RowBuffer::Wide(&mut self.line));
        f(RowBuffer::Texts(&mut self.hh_id));
        f(RowBuffer::F64(&mut self.weight));
        f(RowBuffer::U32(&mut self.stratum));
        f(RowBuffer::U32(&mut self.psu));
        if let Some(fpc) = &mut self.fpc {
            f(RowBuffer::F64(fpc));
        }
        f(RowBuffer::Reps(&mut self.reps));
        for col in &mut self.fields {
            match &mut col.data {
                ColData::Str(c) => f(RowBuffer::OptStr(c)),
                ColData::Int(c) => f(RowBuffer::NullI64(c)),
                ColData::Float(c) => f(RowBuffer::NullF64(c)),
                ColData::Bool(c) => f(RowBuffer::OptBool(c)),
                ColData::Code(c) => f(RowBuffer::U16(c)),
            }
        }
        f(RowBuffer::Ages(&mut self.age));
    }

    /// Drops every row's business key and household id (`key` and `hh_id` become empty), for a
    /// frame that is only estimated from now on: a run that writes no microdata does this once
    /// validation and the household derivations have read them.
    pub fn forget_names(&mut self) {
        self.key = Texts::default();
        self.hh_id = Texts::default();
    }

    /// Index of a time value, interning it.
    pub fn intern_time(&mut self, t: &str) -> u32 {
        intern(&mut self.times, t)
    }
}

/// One per-row buffer of a frame, whatever its element type.
enum RowBuffer<'a> {
    U16(&'a mut Vec<u16>),
    U32(&'a mut Vec<u32>),
    Wide(&'a mut Wide),
    F64(&'a mut Vec<f64>),
    Texts(&'a mut Texts),
    OptStr(&'a mut Vec<Option<String>>),
    NullI64(&'a mut Nullable<i64>),
    NullF64(&'a mut Nullable<f64>),
    OptBool(&'a mut Vec<Option<bool>>),
    Reps(&'a mut Replicates),
    Ages(&'a mut Ages),
}

/// Keeps the elements whose `keep` entry is true (those past `keep`'s end are kept).
pub(super) fn sieve<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(true);
        i += 1;
        k
    });
}

impl RowBuffer<'_> {
    fn retain(self, keep: &[bool]) {
        match self {
            RowBuffer::U16(v) => sieve(v, keep),
            RowBuffer::U32(v) => sieve(v, keep),
            RowBuffer::Wide(v) => v.retain(keep),
            RowBuffer::F64(v) => sieve(v, keep),
            RowBuffer::Texts(v) => v.retain(keep),
            RowBuffer::OptStr(v) => sieve(v, keep),
            RowBuffer::NullI64(v) => v.retain(keep),
            RowBuffer::NullF64(v) => v.retain(keep),
            RowBuffer::OptBool(v) => sieve(v, keep),
            RowBuffer::Reps(v) => v.retain(keep),
            RowBuffer::Ages(v) => sieve(&mut v.rows, keep),
        }
    }

    fn clear(self) {
        match self {
            RowBuffer::U16(v) => v.clear(),
            RowBuffer::U32(v) => v.clear(),
            RowBuffer::Wide(v) => v.clear(),
            RowBuffer::F64(v) => v.clear(),
            RowBuffer::Texts(v) => v.clear(),
            RowBuffer::OptStr(v) => v.clear(),
            RowBuffer::NullI64(v) => v.clear(),
            RowBuffer::NullF64(v) => v.clear(),
            RowBuffer::OptBool(v) => v.clear(),
            RowBuffer::Reps(v) => v.clear(),
            RowBuffer::Ages(v) => v.rows.clear(),
        }
    }

    fn shrink(self) {
        match self {
            RowBuffer::U16(v) => v.shrink_to_fit(),
            RowBuffer::U32(v) => v.shrink_to_fit(),
            RowBuffer::Wide(v) => v.shrink_to_fit(),
            RowBuffer::F64(v) => v.shrink_to_fit(),
            RowBuffer::Texts(v) => v.shrink_to_fit(),
            RowBuffer::OptStr(v) => v.shrink_to_fit(),
            RowBuffer::NullI64(v) => v.shrink_to_fit(),
            RowBuffer::NullF64(v) => v.shrink_to_fit(),
            RowBuffer::OptBool(v) => v.shrink_to_fit(),
            RowBuffer::Reps(v) => v.shrink_to_fit(),
            RowBuffer::Ages(v) => v.rows.shrink_to_fit(),
        }
    }
}

/// The age interval of each row, interned: every distinct interval is kept once, in the order
/// rows first brought it, and a row holds its index (`NONE` when the age is unknown) — 4 bytes
/// a row where two nullable integers took 18, and an index the age breakdown reads as it is.
/// Dropping or clearing rows keeps the intervals (as the frame keeps interned strata).
#[derive(Clone, Default)]
pub struct Ages {
    intervals: Vec<(i64, i64)>,
    index: std::collections::HashMap<(i64, i64), u32>,
    rows: Vec<u32>,
}

/// The intervals and the rows' indexes (not the lookup map, whose order is not the data's).
impl std::fmt::Debug for Ages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ages")
            .field("intervals", &self.intervals)
            .field("rows", &self.rows)
            .finish()
    }
}

impl Ages {
    /// The same intervals, with no rows.
    pub fn empty_like(&self) -> Ages {
        Ages {
            intervals: self.intervals.clone(),
            index: self.index.clone(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, age: Option<(i64, i64)>) {
        let i = match age {
            None => NONE,
            Some(iv) => match self.index.get(&iv) {
                Some(&i) => i,
                None => {
                    let i = u32::try_from(self.intervals.len())
                        .ok()
                        .filter(|&i| i != NONE)
                        .expect("fewer than 2^32 - 1 distinct age intervals");
                    self.intervals.push(iv);
                    self.index.insert(iv, i);
                    i
                }
            },
        };
        self.rows.push(i);
    }

    /// Row `r`'s interval.
    #[inline]
    pub fn get(&self, r: usize) -> Option<(i64, i64)> {
        let i = *self.rows.get(r)?;
        self.intervals.get(i as usize).copied()
    }

    /// Row `r`'s lower bound (its age when it was given in years).
    #[inline]
    pub fn lo(&self, r: usize) -> Option<i64> {
        self.get(r).map(|a| a.0)
    }

    /// Row `r`'s upper bound.
    #[inline]
    pub fn hi(&self, r: usize) -> Option<i64> {
        self.get(r).map(|a| a.1)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The distinct intervals, by index (some may no longer be any row's after rows were
    /// dropped).
    pub fn intervals(&self) -> &[(i64, i64)] {
        &self.intervals
    }

    /// Each row's interval index, `NONE` when unknown.
    pub fn indexes(&self) -> &[u32] {
        &self.rows
    }
}

/// A column of values that may be missing: the values side by side (a default where missing)
/// and one validity bit each — 8 bytes and a bit a row for `i64` and `f64`, where `Option`
/// takes 16.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nullable<T> {
    values: Vec<T>,
    /// Bit `i % 64` of word `i / 64`: whether row `i` has a value (bits past the end are 0).
    valid: Vec<u64>,
}

impl<T: Copy + Default> Nullable<T> {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn push(&mut self, v: Option<T>) {
        push_bit(&mut self.valid, self.values.len(), v.is_some());
        self.values.push(v.unwrap_or_default());
    }

    /// Whether row `i` has a value (false past the end).
    fn has(&self, i: usize) -> bool {
        i < self.values.len() && self.valid[i / 64] >> (i % 64) & 1 == 1
    }

    /// Row `i`'s value, `None` when missing or past the end.
    pub fn get(&self, i: usize) -> Option<T> {
        self.has(i).then(|| self.values[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<T>> + '_ {
        self.values
            .iter()
            .enumerate()
            .map(|(i, &v)| self.has(i).then_some(v))
    }

    fn retain(&mut self, keep: &[bool]) {
        let mut valid = Vec::with_capacity(self.valid.len());
        let mut n = 0;
        for i in 0..self.values.len() {
            if keep.get(i).copied().unwrap_or(true) {
                push_bit(&mut valid, n, self.has(i));
                n += 1;
            }
        }
        sieve(&mut self.values, keep);
        self.valid = valid;
    }

    fn clear(&mut self) {
        self.values.clear();
        self.valid.clear();
    }

    fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
        self.valid.shrink_to_fit();
    }
}

/// Appends bit `n` to `words`, which hold bits `0..n`.
fn push_bit(words: &mut Vec<u64>, n: usize, on: bool) {
    if n.is_multiple_of(64) {
        words.push(0);
    }
    if on {
        words[n / 64] |= 1 << (n % 64);
    }
}

impl<T: Copy + Default> FromIterator<Option<T>> for Nullable<T> {
    fn from_iter<I: IntoIterator<Item = Option<T>>>(iter: I) -> Self {
        let mut out = Nullable::default();
        for v in iter {
            out.push(v);
        }
        out
    }
}

/// Unsigned values kept in 4 bytes each until one needs more, then all in 8 (widened once, in
/// place of the narrow copy): a frame's line numbers, and the text offsets of its keys and
/// household ids, fit 32 bits on any file below 2 GiB of them and 4 billion lines.
#[derive(Debug, Clone, PartialEq)]
pub enum Wide {
    Narrow(Vec<u32>),
    Full(Vec<u64>),
}

impl Default for Wide {
    fn default() -> Self {
        Wide::Narrow(Vec::new())
    }
}

impl Wide {
    pub fn push(&mut self, x: u64) {
        match self {
            Wide::Narrow(v) => match u32::try_from(x) {
                Ok(y) => v.push(y),
                Err(_) => {
                    let mut full: Vec<u64> = v.iter().map(|&y| u64::from(y)).collect();
                    full.push(x);
                    *self = Wide::Full(full);
                }
            },
            Wide::Full(v) => v.push(x),
        }
    }

    /// Value `i`, `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        match self {
            Wide::Narrow(v) => v.get(i).map(|&y| u64::from(y)),
            Wide::Full(v) => v.get(i).copied(),
        }
    }

    /// Value `i` (panics past the end, as indexing a `Vec` does).
    #[inline]
    pub fn at(&self, i: usize) -> u64 {
        match self {
            Wide::Narrow(v) => u64::from(v[i]),
            Wide::Full(v) => v[i],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Wide::Narrow(v) => v.len(),
            Wide::Full(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    fn retain(&mut self, keep: &[bool]) {
        match self {
            Wide::Narrow(v) => sieve(v, keep),
            Wide::Full(v) => sieve(v, keep),
        }
    }

    /// Drops every value; the values pushed next start narrow again (a narrow buffer keeps its
    /// capacity).
    fn clear(&mut self) {
        match self {
            Wide::Narrow(v) => v.clear(),
            full => *full = Wide::default(),
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Wide::Narrow(v) => v.shrink_to_fit(),
            Wide::Full(v) => v.shrink_to_fit(),
        }
    }
}

/// A column of short texts, each present or missing, kept end to end in one buffer (a
/// `String` per row would cost 24 bytes and an allocation beside its text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Texts {
    text: String,
    /// Twice the end of each row's text in `text`, plus 1 when the value is missing.
    ends: Wide,
}

impl Texts {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn push(&mut self, v: Option<&str>) {
        if let Some(v) = v {
            self.text.push_str(v);
        }
        let end = self.text.len() as u64;
        self.ends.push(end << 1 | u64::from(v.is_none()));
    }

    /// Row `i`'s text, `None` when missing or past the end.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = self.ends.get(i)?;
        if end & 1 != 0 {
            return None;
        }
        let start = i.checked_sub(1).map_or(0, |p| self.ends.at(p) >> 1) as usize;
        self.text.get(start..(end >> 1) as usize)
    }

    /// Row `i`'s text, empty when missing.
    pub fn str(&self, i: usize) -> &str {
        self.get(i).unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Whether every row is missing (true when there are none).
    pub fn all_missing(&self) -> bool {
        self.ends.iter().all(|e| e & 1 != 0)
    }

    fn retain(&mut self, keep: &[bool]) {
        let mut kept = Texts::default();
        for (i, v) in self.iter().enumerate() {
            if keep.get(i).copied().unwrap_or(true) {
                kept.push(v);
            }
        }
        *self = kept;
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Index of `s` in `list`, appending it when new.
pub fn intern(list: &mut Vec<String>, s: &str) -> u32 {
    match list.iter().position(|x| x == s) {
        Some(i) => i as u32,
        None => {
            list.push(s.to_string());
            (list.len() - 1) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Frame {
        let mut f = Frame {
            fields: vec![FieldCol {
                name: "age".into(),
                ty: FieldType::Int,
                dim: None,
                mapped: true,
                note: None,
                data: ColData::new(FieldType::Int),
            }],
            reps: Replicates::new(1, None, 8),
            strata: vec!["s1".into()],
            ..Default::default()
        };
        for i in 0..n {
            f.time.push(0);
            f.key.push(Some(&format!("k{i}")));
            f.line.push(i as u64 + 2);
            f.hh_id.push(None);
            f.weight.push(i as f64);
            f.stratum.push(0);
            f.psu.push(NONE);
            f.reps.push(&[i as f64 * 2.0]).expect("push");
            f.push_values(0, std::iter::once(&Val::Int(i as i64)));
            f.age.push(Some((i as i64, i as i64)));
        }
        f
    }

    #[test]
    fn retain_drops_the_same_rows_from_every_buffer() {
        let mut f = frame(4);
        f.retain(&[true, false, true, false]);
        assert_eq!(f.len(), 2);
        assert_eq!(f.key.iter().collect::<Vec<_>>(), [Some("k0"), Some("k2")]);
        assert_eq!(f.line.iter().collect::<Vec<_>>(), [2, 4]);
        let mut reps = Vec::new();
        f.reps.seal().expect("seal");
        f.reps.rows_into(&[0, 1], &mut reps).expect("read");
        assert_eq!(reps, [0.0, 4.0]);
        assert_eq!(
            (f.age.hi(0), f.age.hi(1), f.age.len()),
            (Some(0), Some(2), 2)
        );
        let ColData::Int(ages) = &f.fields[0].data else {
            panic!("int column")
        };
        assert_eq!(ages.iter().collect::<Vec<_>>(), [Some(0), Some(2)]);
    }

    #[test]
    fn nullable_keeps_missing_apart_from_the_default() {
        let vals = [Some(0.0), None, Some(-1.5), None];
        let mut n: Nullable<f64> = vals.into_iter().collect();
        assert_eq!(n.iter().collect::<Vec<_>>(), vals);
        assert_eq!((n.get(0), n.get(1), n.get(4)), (Some(0.0), None, None));
        n.retain(&[false, true, true]);
        assert_eq!(n.iter().collect::<Vec<_>>(), [None, Some(-1.5), None]);
        n.clear();
        assert!(n.is_empty());
    }

    /// Validity bits across word boundaries: every row reads back as pushed, and a retain that
    /// drops rows on both sides of a boundary keeps the others' values and gaps, as a plain
    /// `Vec<Option<_>>` does; a column refilled after a clear starts clean.
    #[test]
    fn nullable_bits_follow_their_rows_across_words() {
        let model: Vec<Option<i64>> = (0..300i64)
            .map(|i| (i % 3 != 0 && i % 64 != 63).then_some(i * 10))
            .collect();
        let mut n: Nullable<i64> = model.iter().copied().collect();
        assert_eq!(n.iter().collect::<Vec<_>>(), model);
        assert!((0..300).all(|i| n.get(i) == model[i]));
        assert_eq!(n.get(300), None);
        let keep: Vec<bool> = (0..300)
            .map(|i| i % 5 != 1 && !(60..70).contains(&i))
            .collect();
        n.retain(&keep);
        let kept: Vec<Option<i64>> = model
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(v, _)| *v)
            .collect();
        assert_eq!(n.iter().collect::<Vec<_>>(), kept);
        assert_eq!(n, kept.iter().copied().collect::<Nullable<i64>>());
        n.clear();
        n.push(None);
        n.push(Some(4));
        assert_eq!(n.iter().collect::<Vec<_>>(), [None, Some(4)]);
    }

    #[test]
    fn wide_values_widen_once_and_keep_every_value() {
        let mut w = Wide::default();
        for x in [0, 7, u64::from(u32::MAX)] {
            w.push(x);
        }
        assert!(matches!(w, Wide::Narrow(_)));
        w.push(u64::from(u32::MAX) + 1);
        w.push(3);
        assert!(matches!(w, Wide::Full(_)));
        assert_eq!(
            w.iter().collect::<Vec<_>>(),
            [0, 7, u64::from(u32::MAX), u64::from(u32::MAX) + 1, 3]
        );
        assert_eq!((w.get(3), w.get(5), w.at(1)), (Some(1 << 32), None, 7));
        w.retain(&[false, true, false, true]);
        assert_eq!(w.iter().collect::<Vec<_>>(), [7, 1 << 32, 3]);
        w.clear();
        assert!(w.is_empty() && matches!(w, Wide::Narrow(_)));
    }

    #[test]
    fn texts_read_the_same_from_wide_offsets() {
        let vals = [Some("ab"), None, Some(""), Some("héllo")];
        let mut narrow = Texts::default();
        for v in vals {
            narrow.push(v);
        }
        // The same texts with offsets kept in 8 bytes, as past 2 GiB of text.
        let mut wide = narrow.clone();
        let Wide::Narrow(ends) = &wide.ends else {
            panic!("narrow offsets")
        };
        wide.ends = Wide::Full(ends.iter().map(|&e| u64::from(e)).collect());
        assert_eq!(wide.iter().collect::<Vec<_>>(), vals);
        assert_eq!(narrow.iter().collect::<Vec<_>>(), vals);
        wide.push(Some("z"));
        wide.retain(&[true, true, false, true, true]);
        assert_eq!(
            wide.iter().collect::<Vec<_>>(),
            [Some("ab"), None, Some("héllo"), Some("z")]
        );
    }

    #[test]
    fn texts_keep_each_value_missing_or_not() {
        let vals = [Some("a"), None, Some(""), Some("héllo"), None, Some("z")];
        let mut t = Texts::default();
        for v in vals {
            t.push(v);
        }
        assert_eq!(t.iter().collect::<Vec<_>>(), vals);
        assert_eq!((t.str(1), t.str(3), t.get(6)), ("", "héllo", None));
        assert!(!t.all_missing() && Texts::default().all_missing());
        t.retain(&[false, true, true, false]);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            [None, Some(""), None, Some("z")]
        );
        t.clear();
        t.push(None);
        assert!(t.all_missing() && t.len() == 1);
    }

    #[test]
    fn clear_rows_keeps_interned_names() {
        let mut f = frame(3);
        f.clear_rows();
        assert!(f.is_empty());
        assert!(f.key.is_empty() && f.reps.is_empty() && f.age.is_empty());
        assert_eq!(f.age.intervals().len(), 3);
        assert_eq!(f.strata, ["s1"]);
        assert_eq!(f.fields.len(), 1);
    }
}
