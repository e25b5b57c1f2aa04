//! The dictionary of an SPSS system file: the file header, one record per variable (and per
//! 8-byte continuation of a string), value labels, and the extension records that carry long
//! names, very long strings, the character encoding, and labels and missing values of long
//! strings. Everything up to the `999` record that ends the dictionary.
use std::io::{self, Read};

use encoding_rs::Encoding;

use super::ext::{extension, Extensions};

/// Little- or big-endian reading of the file's numbers, with the byte position for messages.
pub(super) struct In<R> {
    pub r: R,
    pub big: bool,
    pub pos: u64,
}

impl<R: Read> In<R> {
    /// `n` bytes, read as they come (a bogus length in a damaged file fails at its end instead
    /// of allocating it first).
    pub fn bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut b = Vec::with_capacity(n.min(1 << 16));
        (&mut self.r).take(n as u64).read_to_end(&mut b)?;
        if b.len() < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n as u64;
        Ok(b)
    }

    pub fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        self.pos += N as u64;
        Ok(b)
    }

    pub fn i32(&mut self) -> io::Result<i32> {
        let b = self.array::<4>()?;
        Ok(if self.big {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        })
    }

    pub fn i64(&mut self) -> io::Result<i64> {
        let b = self.array::<8>()?;
        Ok(if self.big {
            i64::from_be_bytes(b)
        } else {
            i64::from_le_bytes(b)
        })
    }

    pub fn f64(&mut self) -> io::Result<f64> {
        let b = self.array::<8>()?;
        Ok(self.num(b))
    }

    pub fn num(&self, b: [u8; 8]) -> f64 {
        if self.big {
            f64::from_be_bytes(b)
        } else {
            f64::from_le_bytes(b)
        }
    }

    /// A count or length that must be small and non-negative.
    pub fn len(&mut self, what: &str) -> io::Result<usize> {
        let n = self.i32()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= 1 << 28)
            .ok_or_else(|| bad(format!("{what} {n} at byte {} is not plausible", self.pos)))
    }
}

pub(super) fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// User-missing values of a variable, as declared.
#[derive(Debug, Clone, Default)]
pub(super) struct Missing {
    pub values: Vec<[u8; 8]>,
    pub range: Option<(f64, f64)>,
    /// Long string missing values (subtype 22), full width.
    pub long: Vec<Vec<u8>>,
}

/// One variable record with its continuation slots.
#[derive(Debug, Clone)]
pub(super) struct Var {
    pub short: Vec<u8>,
    /// Long name (subtype 13), raw bytes in the file's encoding.
    pub long: Option<Vec<u8>>,
    /// 0 for numeric; the string width otherwise.
    pub width: usize,
    pub slot: usize,
    pub nslots: usize,
    pub missing: Missing,
    /// Value → label: 8 raw bytes for numbers and short strings, full width for long strings.
    pub labels: Vec<(Vec<u8>, Vec<u8>)>,
    /// Width of a very long string (subtype 14) starting at this variable.
    pub very_long: Option<usize>,
}

/// The parsed dictionary.
pub(super) struct Dict {
    pub compression: i32,
    pub ncases: i32,
    pub bias: f64,
    pub vars: Vec<Var>,
    pub slots: usize,
    pub encoding: &'static Encoding,
}

/// Reads the header and the dictionary from the start of the file, leaving `input` at the data.
pub(super) fn read<R: Read>(input: &mut In<R>) -> io::Result<Dict> {
    let mut dict = header(input)?;
    let mut ext = Extensions::default();
    loop {
        let at = input.pos;
        match input.i32()? {
            2 => variable(input, &mut dict)?,
            3 => value_labels(input, &mut dict)?,
            6 => {
                let n = input.len("document line count")?;
                input.bytes(n * 80)?;
            }
            7 => extension(input, &mut ext)?,
            999 => {
                input.i32()?;
                break;
            }
            t => return Err(bad(format!("unknown record type {t} at byte {at}"))),
        }
    }
    ext.apply(&mut dict, input)?;
    Ok(dict)
}

/// The 176-byte file header: signature, byte order, compression, case count, bias.
fn header<R: Read>(input: &mut In<R>) -> io::Result<Dict> {
    let magic = input.array::<4>()?;
    if &magic != b"$FL2" && &magic != b"$FL3" {
        return Err(bad(
            "not an SPSS system file (no $FL2 or $FL3 signature)".into()
        ));
    }
    input.bytes(60)?;
    let layout = input.array::<4>()?;
    input.big = match (i32::from_le_bytes(layout), i32::from_be_bytes(layout)) {
        (2 | 3, _) => false,
        (_, 2 | 3) => true,
        _ => return Err(bad("unknown layout code in the file header".into())),
    };
    let _nominal = input.i32()?;
    let compression = input.i32()?;
    let _weight = input.i32()?;
    let ncases = input.i32()?;
    let bias = input.f64()?;
    input.bytes(9 + 8 + 64 + 3)?;
    if !(0..=2).contains(&compression) {
        return Err(bad(format!("unknown compression {compression}")));
    }
    Ok(Dict {
        compression,
        ncases,
        bias,
        vars: Vec::new(),
        slots: 0,
        encoding: encoding_rs::WINDOWS_1252,
    })
}

fn variable<R: Read>(input: &mut In<R>, dict: &mut Dict) -> io::Result<()> {
    let ty = input.i32()?;
    let has_label = input.i32()?;
    let n_missing = input.i32()?;
    input.bytes(8)?;
    let short = input.bytes(8)?;
    if has_label == 1 {
        let n = input.len("variable label length")?;
        input.bytes(n.div_ceil(4) * 4)?;
    }
    let missing = missing_values(input, n_missing)?;
    dict.slots += 1;
    if ty == -1 {
        let last = dict
            .vars
            .last_mut()
            .ok_or_else(|| bad("a string continuation record comes before any variable".into()))?;
        last.nslots += 1;
        return Ok(());
    }
    let width = usize::try_from(ty)
        .ok()
        .filter(|w| *w <= 255)
        .ok_or_else(|| bad(format!("variable type {ty} is not valid")))?;
    dict.vars.push(Var {
        short: trim_end(&short).to_vec(),
        long: None,
        width,
        slot: dict.slots - 1,
        nslots: 1,
        missing,
        labels: Vec::new(),
        very_long: None,
    });
    Ok(())
}

/// The missing values of a variable record: up to three values, or a range and one value.
fn missing_values<R: Read>(input: &mut In<R>, n_missing: i32) -> io::Result<Missing> {
    let count = n_missing.unsigned_abs() as usize;
    if count > 3 || n_missing == -1 {
        return Err(bad(format!(
            "missing value code {n_missing} at byte {} is not valid",
            input.pos
        )));
    }
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        values.push(input.array::<8>()?);
    }
    let mut missing = Missing::default();
    if n_missing < 0 {
        missing.range = Some((input.num(values[0]), input.num(values[1])));
        values.drain(..2);
    }
    missing.values = values;
    Ok(missing)
}

/// A type 3 record and the type 4 record that must follow it.
fn value_labels<R: Read>(input: &mut In<R>, dict: &mut Dict) -> io::Result<()> {
    let n = input.len("value label count")?;
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let value = input.array::<8>()?;
        let len = input.array::<1>()?[0] as usize;
        let text = input.bytes((len + 1).div_ceil(8) * 8 - 1)?;
        labels.push((value.to_vec(), text[..len].to_vec()));
    }
    if input.i32()? != 4 {
        return Err(bad(format!(
            "value labels at byte {} are not followed by their variables",
            input.pos
        )));
    }
    let nvars = input.len("value label variable count")?;
    for _ in 0..nvars {
        let slot = input.i32()? as usize;
        let var = dict
            .vars
            .iter_mut()
            .find(|v| v.slot + 1 == slot)
            .ok_or_else(|| bad(format!("value labels name variable slot {slot}")))?;
        var.labels.extend(labels.iter().cloned());
    }
    Ok(())
}

/// Bytes without trailing spaces (SPSS pads names, strings and values with spaces).
pub(super) fn trim_end(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| *c != b' ').map_or(0, |i| i + 1);
    &b[..end]
}
