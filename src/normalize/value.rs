//! Reading cells: codes written as `9`, `09` or `9.0` are the same code; numbers are parsed
//! strictly and a failure says what was expected.

/// The canonical form of a code: trimmed, and an integral number written without leading zeros
/// or a fractional part (`"09"`, `"9.0"` → `"9"`).
pub fn norm_code(raw: &str) -> String {
    let t = raw.trim();
    if t.is_empty() {
        return String::new();
    }
    let numeric = t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
    if numeric {
        if let Ok(x) = t.parse::<f64>() {
            if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
                return format!("{}", x as i64);
            }
        }
    }
    t.to_string()
}

pub fn parse_f64(raw: &str) -> Result<f64, String> {
    let t = raw.trim();
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("a number was expected, found {t:?}")),
    }
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

    /// A finite number written this way; with a decimal comma, a point is not accepted (it
    /// would be a thousands separator, which is ambiguous).
    pub fn parse(self, raw: &str) -> Result<f64, String> {
        match self {
            Numbers::Point => parse_f64(raw),
            Numbers::Comma => {
                let t = raw.trim();
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

/// An integer, also when written as `12.0`.
pub fn parse_i64(raw: &str) -> Result<i64, String> {
    let t = raw.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(i);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 => Ok(x as i64),
        _ => Err(format!("a whole number was expected, found {t:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn integers_accept_integral_floats_only() {
        assert_eq!(parse_i64("12.0"), Ok(12));
        assert!(parse_i64("12.5").is_err());
        assert!(parse_i64("x").is_err());
        assert!(parse_f64("NaN").is_err());
    }

    #[test]
    fn decimal_commas_are_read_when_declared() {
        assert_eq!(Numbers::Comma.parse(" 12,5 "), Ok(12.5));
        assert_eq!(Numbers::Comma.parse("-3"), Ok(-3.0));
        assert!(Numbers::Comma.parse("12.5").is_err());
        assert!(Numbers::Comma.parse("1,2,3").is_err());
        assert!(Numbers::Point.parse("12,5").is_err());
    }
}
