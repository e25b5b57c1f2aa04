//! Extension records (type 7) of an SPSS dictionary, applied once the variables are known:
//! long variable names (subtype 13), very long string widths (14), the character encoding (20,
//! else the code page of subtype 3), and labels (21) and missing values (22) of long strings.
use std::io::{self, Read};

use encoding_rs::Encoding;

use super::dict::{bad, Dict, In, Var};

/// Extension records kept for after the variables are known.
#[derive(Default)]
pub(super) struct Extensions {
    long_names: Vec<u8>,
    very_long: Vec<u8>,
    encoding: Option<String>,
    codepage: Option<i32>,
    long_labels: Vec<u8>,
    long_missing: Vec<u8>,
}

pub(super) fn extension<R: Read>(input: &mut In<R>, ext: &mut Extensions) -> io::Result<()> {
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
    pub(super) fn apply<R: Read>(self, dict: &mut Dict, input: &In<R>) -> io::Result<()> {
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
                if v.width > 0 {
                    v.very_long = Some(w);
                }
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
