//! Reading cells: codes written as `9`, `09` or `9.0` are the same code; numbers are parsed
//! strictly and a failure says what was expected.
use crate::extract::{whole, Value};

/// `str::trim`, answering at once for the usual cell, which starts and ends with a visible ASCII
/// character (nothing to trim); anything else goes through `str::trim` (Unicode white space).
/// Cells are trimmed several times a row, about 100 a row in a survey file.
#[inline]
pub fn trim(raw: &str) -> &str {
    match raw.as_bytes() {
        [a] if a.is_ascii_graphic() => raw,
        [a, .., b] if a.is_ascii_graphic() && b.is_ascii_graphic() => raw,
        _ => raw.trim(),
    }
}

/// The canonical form of a code: trimmed, and an integral number written without leading zeros
/// or a fractional part (`"09"`, `"9.0"` → `"9"`).
pub fn norm_code(raw: &str) -> String {
    let mut out = String::new();
    norm_code_into(raw, &mut out);
    out
}

/// [`norm_code`] written at the end of `out`.
pub fn norm_code_into(raw: &str, out: &mut String) {
    let t = trim(raw);
    let numeric = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
    if numeric {
        if let Some(i) = t.parse::<f64>().ok().and_then(whole) {
            use std::fmt::Write;
            let _ = write!(out, "{i}");
            return;
        }
    }
    out.push_str(t);
}

pub fn parse_f64(raw: &str) -> Result<f64, String> {
    let t = trim(raw);
    if let Some(x) = short_decimal(t.as_bytes()) {
        return Ok(x);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("a number was expected, found {t:?}")),
    }
}

/// A plain decimal of at most 15 digits (`-1234.5678`, `0.0125`, `+7`, `.5`), read as the
/// correctly rounded double it stands for; `None` for anything else (exponents, longer numbers,
/// words), which `str::parse` reads. With at most 15 digits the digits are an integer below
/// 2^53 and the scale a power of ten up to 10^15, both exact doubles, so one division rounds
/// correctly: the bits are those `str::parse` gives (a test holds them equal). Survey weights
/// and replicate weights are such numbers, 81 per row in a replicate design.
pub fn short_decimal(b: &[u8]) -> Option<f64> {
    let (negative, m, scale) = plain_decimal::<true>(b)?;
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let x = m as f64 / POW10[usize::try_from(scale).ok()?];
    Some(if negative { -x } else { x })
}

/// The sign, digits (as an integer, computed only when `VALUE`) and scale of a plain decimal of
/// at most 15 digits, `None` when `b` is not one. Without `VALUE` this is the shape alone: one
/// comparison a byte, no multiplication chain, for cells that are checked and not kept.
#[inline(always)]
fn plain_decimal<const VALUE: bool>(b: &[u8]) -> Option<(bool, u64, i32)> {
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let (mut m, mut n, mut scale, mut point) = (0u64, 0u32, 0i32, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                if VALUE {
                    m = m * 10 + u64::from(c - b'0');
                }
                n += 1;
                scale += i32::from(point);
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if n == 0 || n > 15 {
        return None;
    }
    Some((negative, m, scale))
}

/// Whether `b` is a plain decimal of at most 15 digits, as [`short_decimal`] reads it (its
/// shape alone).
pub fn is_short_decimal(b: &[u8]) -> bool {
    plain_decimal::<false>(b).is_some()
}

/// How an input writes decimal numbers: `12.5`, or `12,5` as Spanish- and French-locale
/// spreadsheets export them (`decimal = ","` in the input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Numbers {
    #[default]
    Point,
    Comma,
}

impl Numbers {
    pub fn of(input: &crate::config::pipeline::Input) -> Self {
        match input.decimal.as_deref() {
            Some(",") => Numbers::Comma,
            _ => Numbers::Point,
        }
    }

    /// Whether `raw` is a number [`Numbers::parse`] reads (the same error when not), without
    /// reading its value: a plain decimal is recognised by its characters, anything else is
    /// parsed. For values that are checked and dropped (replicate weights nothing reads).
    pub fn check(self, raw: &str) -> Result<(), String> {
        if self == Numbers::Point && is_short_decimal(trim(raw).as_bytes()) {
            return Ok(());
        }
        self.parse(raw).map(|_| ())
    }

    /// The number of a cell: a typed reader's number as it is (how text writes decimals does
    /// not concern it), text parsed as [`Numbers::parse`] does.
    #[inline]
    pub fn read(self, v: Value<'_>) -> Result<f64, String> {
        match v {
            Value::Number(x) => Ok(x),
            Value::Text(t) => self.parse(t),
        }
    }

    /// [`Numbers::read`] without the value: [`Numbers::check`] for text.
    #[inline]
    pub fn check_value(self, v: Value<'_>) -> Result<(), String> {
        match v {
            Value::Number(_) => Ok(()),
            Value::Text(t) => self.check(t),
        }
    }

    /// A finite number written this way; with a decimal comma, a point is not accepted (it
    /// would be a thousands separator, which is ambiguous).
    pub fn parse(self, raw: &str) -> Result<f64, String> {
        match self {
            Numbers::Point => parse_f64(raw),
            Numbers::Comma => {
                let t = trim(raw);
                if t.contains('.') {
                    return Err(format!(
                        "a number with a decimal comma was expected (decimal = \",\"), found {t:?}"
                    ));
                }
                parse_f64(&t.replacen(',', ".", 1))
                    .map_err(|_| format!("a number was expected, found {t:?}"))
            }
        }
    }
}

/// The integer of a cell: a whole number of a typed reader as it is, anything else as
/// [`parse_i64`] reads its text (the same value, or the same error, as for a CSV export).
pub fn int_of(v: Value<'_>) -> Result<i64, String> {
    match v {
        Value::Number(x) => whole(x).map_or_else(|| parse_i64(&v.text()), Ok),
        Value::Text(t) => parse_i64(t),
    }
}

/// An integer, also when written as `12.0`.
pub fn parse_i64(raw: &str) -> Result<i64, String> {
    let t = trim(raw);
    if let Ok(i) = t.parse::<i64>() {
        return Ok(i);
    }
    t.parse::<f64>()
        .ok()
        .and_then(whole)
        .ok_or_else(|| format!("a whole number was expected, found {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xorshift;

    #[test]
    fn codes_in_several_spellings_are_one_code() {
        assert_eq!(norm_code("9"), "9");
        assert_eq!(norm_code("9.0"), "9");
        assert_eq!(norm_code(" 09 "), "9");
        assert_eq!(norm_code("000-OWN COUNTRY"), "000-OWN COUNTRY");
        assert_eq!(norm_code("Q1"), "Q1");
        assert_eq!(norm_code("9.5"), "9.5");
        assert_eq!(norm_code(""), "");
    }

    /// How text writes decimals concerns text only: a typed reader's number is read as it is.
    #[test]
    fn numbers_of_typed_readers_are_read_as_they_are() {
        for n in [Numbers::Point, Numbers::Comma] {
            assert_eq!(n.read(Value::Number(2.5)), Ok(2.5));
            assert_eq!(n.check_value(Value::Number(-0.5)), Ok(()));
        }
        assert_eq!(Numbers::Comma.read(Value::Text("2,5")), Ok(2.5));
        assert!(Numbers::Comma.read(Value::Text("2.5")).is_err());
        assert!(Numbers::Point.check_value(Value::Text("x")).is_err());
        assert_eq!(int_of(Value::Number(2024.0)), Ok(2024));
        assert_eq!(int_of(Value::Text("2024.0")), Ok(2024));
        let half = int_of(Value::Number(12.5)).unwrap_err();
        assert_eq!(
            half,
            parse_i64("12.5").unwrap_err(),
            "the CSV export's error"
        );
    }

    #[test]
    fn integers_accept_integral_floats_only() {
        assert_eq!(parse_i64("12.0"), Ok(12));
        assert!(parse_i64("12.5").is_err());
        assert!(parse_i64("x").is_err());
        assert!(parse_f64("NaN").is_err());
    }

    #[test]
    fn short_decimals_have_the_bits_str_parse_gives() {
        // Every shape: signs, points anywhere, leading and trailing zeros, 1 to 17 digits.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut fast = 0;
        for _ in 0..300_000 {
            let len = 1 + (next() % 17) as usize;
            let mut t = String::new();
            match next() % 4 {
                0 => t.push('-'),
                1 => t.push('+'),
                _ => {}
            }
            let point = (next() % (len as u64 + 2)) as usize;
            for i in 0..len {
                if i == point {
                    t.push('.');
                }
                let d = if next().is_multiple_of(5) {
                    0
                } else {
                    next() % 10
                };
                t.push(char::from(b'0' + d as u8));
            }
            if point == len {
                t.push('.');
            }
            let std = t.parse::<f64>().ok();
            match short_decimal(t.as_bytes()) {
                Some(x) => {
                    fast += 1;
                    assert_eq!(Some(x.to_bits()), std.map(f64::to_bits), "{t}");
                }
                None => assert!(len > 15 || std.is_none(), "{t} fell back"),
            }
        }
        assert!(fast > 200_000, "{fast}");
        for t in [
            "", "-", "+", ".", "-.", "1.2.3", "1e5", "0x10", "1_0", " 1", "inf", "NaN",
        ] {
            assert_eq!(short_decimal(t.as_bytes()), None, "{t:?}");
        }
        assert_eq!(
            short_decimal(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_f64(" 0.0125 "), Ok(0.0125));
    }

    #[test]
    fn decimal_commas_are_read_when_declared() {
        assert_eq!(Numbers::Comma.parse(" 12,5 "), Ok(12.5));
        assert_eq!(Numbers::Comma.parse("-3"), Ok(-3.0));
        assert!(Numbers::Comma.parse("12.5").is_err());
        assert!(Numbers::Comma.parse("1,2,3").is_err());
        assert!(Numbers::Point.parse("12,5").is_err());
    }

    /// A number checked without its value is accepted exactly when it is read, with the same
    /// message when not: random plain decimals of 1 to 17 digits with signs and points, and
    /// every other shape (exponents, words, blanks, commas, non-ASCII digits), in both
    /// decimal styles.
    #[test]
    fn checking_a_number_accepts_what_parsing_reads() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"0123456789.-+ e,";
        let mut cells: Vec<String> = (0..100_000)
            .map(|_| {
                let len = (next() % 19) as usize;
                (0..len)
                    .map(|_| {
                        let k = next() % 40;
                        char::from(
                            alphabet[if k < 24 {
                                (k % 10) as usize
                            } else {
                                (k % 16) as usize
                            }],
                        )
                    })
                    .collect()
            })
            .collect();
        cells.extend(
            [
                "",
                " ",
                "-",
                "+",
                ".",
                "-.",
                "1.2.3",
                "1e5",
                "1E-3",
                "0x10",
                "1_0",
                " 12.5 ",
                "inf",
                "-inf",
                "NaN",
                "1234567890123456",
                "12345678901234567",
                "１２",
                "1,5",
                "--1",
                "+.5",
                "-0",
                "00012.3400",
                "1e400",
            ]
            .map(String::from),
        );
        for numbers in [Numbers::Point, Numbers::Comma] {
            for t in &cells {
                assert_eq!(
                    numbers.check(t),
                    numbers.parse(t).map(|_| ()),
                    "{numbers:?} {t:?}"
                );
            }
        }
    }

    /// The fast trim is `str::trim` on every shape: ASCII and Unicode white space (no-break
    /// space, ideographic space, line separators) at either end or both, one character, none.
    #[test]
    fn the_fast_trim_is_str_trim() {
        let pieces = [
            "", "a", "7", " ", "\t", "\r\n", "\u{a0}", "\u{3000}", "\u{2028}", "é", "\u{1}", "ab",
            ".",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let t = format!("{a}{b}{c}");
                    assert_eq!(trim(&t), t.trim(), "{t:?}");
                }
            }
        }
    }
}
