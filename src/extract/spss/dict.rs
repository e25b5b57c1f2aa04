//! The dictionary of an SPSS system file: the file header, one record per variable (and per
//! 8-byte continuation of a string), value labels, and the extension records that carry long
//! names, very long strings, the character encoding, and labels and missing values of long
//! strings. Everything up to the `999` record that ends the dictionary.
use std::io::{self, Read};

use encoding_rs::Encoding;

/// Little- or big-endian reading of the file's numbers, with the byte position for messages.
pub(super) struct In<R> {
    pub r: R,
    pub big: bool,
    pub pos: u64,
}

impl<R: Read> In<R> {
    pub fn bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.r.read_exact(&mut b)?;
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
    fn len(&mut self, what: &str) -> io::Result<usize> {
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
    let mut dict = Dict {
        compression,
        ncases,
        bias,
        vars: Vec::new(),
        slots: 0,
        encoding: encoding_rs::WINDOWS_1252,
    };
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
    let mut missing = Missing::default();
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
    if n_missing < 0 {
        let (lo, hi) = (input.num(values[0]), input.num(values[1]));
        missing.range = Some((lo, hi));
        values.drain(..2);
    }
    missing.values = values;
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

/// Extension records kept for after the variables are known.
#[derive(Default)]
struct Extensions {
    long_names: Vec<u8>,
    very_long: Vec<u8>,
    encoding: Option<String>,
    codepage: Option<i32>,
    long_labels: Vec<u8>,
    long_missing: Vec<u8>,
}

fn extension<R: Read>(input: &mut In<R>, ext: &mut Extensions) -> io::Result<()> {
    let subtype = input.i32()?;
    let size = input.len("extension element size")?;
    let count = input.len("extension element count")?;
    let data = input.bytes(size * count)?;
    match subtype {
        3 if data.len() >= 32 => {
            let b: [u8; 4] = [data[28], data[29], data[30], data[31]];
            let code = if input.big {
                i32::from_be_bytes(b)
            } else {
                i32::from_le_bytes(b)
            };
            ext.codepage = Some(code);
        }
        13 => ext.long_names = data,
        14 => ext.very_long = data,
        20 => ext.encoding = Some(String::from_utf8_lossy(&data).trim().to_string()),
        21 => ext.long_labels = data,
        22 => ext.long_missing = data,
        _ => {}
    }
    Ok(())
}

impl Extensions {
    fn apply<R: Read>(self, dict: &mut Dict, input: &In<R>) -> io::Result<()> {
        dict.encoding = self
            .encoding
            .as_deref()
            .and_then(|e| Encoding::for_label(e.as_bytes()))
            .or_else(|| self.codepage.and_then(codepage))
            .unwrap_or(encoding_rs::WINDOWS_1252);
        for (short, long) in pairs(&self.long_names) {
            if let Some(v) = find(dict, short) {
                v.long = Some(long.to_vec());
            }
        }
        for (short, width) in pairs(&self.very_long) {
            let width = String::from_utf8_lossy(width)
                .trim_matches('\0')
                .trim()
                .parse();
            if let (Some(v), Ok(w)) = (find(dict, short), width) {
                v.very_long = Some(w);
            }
        }
        let mut p = Cursor8 {
            data: &self.long_labels,
            at: 0,
            big: input.big,
        };
        while let Some(rec) = p.long_labels() {
            let (name, labels) = rec?;
            if let Some(v) = find(dict, &name) {
                v.labels.extend(labels);
            }
        }
        let mut p = Cursor8 {
            data: &self.long_missing,
            at: 0,
            big: input.big,
        };
        while let Some(rec) = p.long_missing() {
            let (name, values) = rec?;
            if let Some(v) = find(dict, &name) {
                v.missing.long = values;
            }
        }
        Ok(())
    }
}

/// The variable with this short or long name.
fn find<'a>(dict: &'a mut Dict, name: &[u8]) -> Option<&'a mut Var> {
    let upper = name.to_ascii_uppercase();
    dict.vars
        .iter_mut()
        .find(|v| v.short.to_ascii_uppercase() == upper || v.long.as_deref() == Some(name))
}

/// `KEY=VALUE` pairs separated by tabs (and, for subtype 14, NULs).
fn pairs(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    data.split(|b| *b == b'\t' || *b == 0).filter_map(|item| {
        let eq = item.iter().position(|b| *b == b'=')?;
        Some((&item[..eq], &item[eq + 1..]))
    })
}

/// Reading the length-prefixed records of subtypes 21 and 22.
struct Cursor8<'a> {
    data: &'a [u8],
    at: usize,
    big: bool,
}

/// A variable name with its long string value labels (value, label).
type Labelled = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);
/// A variable name with its long string missing values.
type MissingStrings = (Vec<u8>, Vec<Vec<u8>>);

impl Cursor8<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.data.len());
        let end = end.ok_or_else(|| bad("a long string record is cut short".into()))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn i32(&mut self) -> io::Result<usize> {
        let b = self.take(4)?;
        let b = [b[0], b[1], b[2], b[3]];
        let n = if self.big {
            i32::from_be_bytes(b)
        } else {
            i32::from_le_bytes(b)
        };
        usize::try_from(n).map_err(|_| bad(format!("negative length {n}")))
    }

    fn sized(&mut self) -> io::Result<Vec<u8>> {
        let n = self.i32()?;
        Ok(self.take(n)?.to_vec())
    }

    fn long_labels(&mut self) -> Option<io::Result<Labelled>> {
        (self.at < self.data.len()).then(|| {
            let name = self.sized()?;
            let _width = self.i32()?;
            let n = self.i32()?;
            let mut labels = Vec::new();
            for _ in 0..n {
                labels.push((self.sized()?, self.sized()?));
            }
            Ok((name, labels))
        })
    }

    fn long_missing(&mut self) -> Option<io::Result<MissingStrings>> {
        (self.at < self.data.len()).then(|| {
            let name = self.sized()?;
            let n = self.take(1)?[0] as usize;
            let len = self.i32()?;
            let mut values = Vec::new();
            for _ in 0..n {
                values.push(self.take(len)?.to_vec());
            }
            Ok((name, values))
        })
    }
}

/// Windows code page numbers SPSS writes in the machine integer record.
fn codepage(code: i32) -> Option<&'static Encoding> {
    let label = match code {
        65001 => "utf-8".to_string(),
        20127 | 1252 | 28591 => "windows-1252".to_string(),
        1250..=1258 => format!("windows-{code}"),
        28592..=28606 => format!("iso-8859-{}", code - 28590),
        932 => "shift_jis".into(),
        936 => "gbk".into(),
        949 => "euc-kr".into(),
        950 => "big5".into(),
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

/// Bytes without trailing spaces (SPSS pads names, strings and values with spaces).
pub(super) fn trim_end(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| *c != b' ').map_or(0, |i| i + 1);
    &b[..end]
}
