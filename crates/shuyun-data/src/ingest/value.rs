//! Typed cells and the text parsers for dates, timestamps, numbers and
//! booleans, shared by every input format.

use shuyun_domain::catalogue::FieldType;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Beijing time is UTC+8 all year (no daylight saving).
pub(crate) const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// One cell as read from a JSON line or a Parquet row, before or after
/// conversion to its field's type (CSV text goes to [`parse_text`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    /// A JSON or Parquet string: accepted for text, date and timestamp
    /// fields only.
    Str(&'a str),
    I64(i64),
    F64(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since the Unix epoch (UTC).
    TsMs(i64),
    /// A value that cannot be converted (e.g. a nested JSON value).
    Bad(&'static str),
}

/// At most this many characters of an offending value are quoted back in a
/// rejection reason.
const QUOTE_CHARS: usize = 40;

fn quoted(s: &str) -> String {
    let mut q: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().count() > QUOTE_CHARS {
        q.push('…');
    }
    format!("'{q}'")
}

/// Converts `cell` to the representation of `ty`; the error is a reason a
/// department can act on. Empty text is `Null` (nullability is checked by the
/// caller).
pub(crate) fn convert<'a>(ty: FieldType, cell: Cell<'a>) -> Result<Cell<'a>, String> {
    match cell {
        Cell::Null => Ok(Cell::Null),
        Cell::Bad(why) => Err(why.to_string()),
        Cell::Str(s) => match ty {
            FieldType::String | FieldType::Date | FieldType::Timestamp => parse_text(ty, s),
            _ => Err(format!(
                "expected {}, found text {}",
                expected(ty),
                quoted(s)
            )),
        },
        Cell::I64(v) => match ty {
            FieldType::Int64 | FieldType::Fen => Ok(Cell::I64(v)),
            FieldType::Float64 => Ok(Cell::F64(v as f64)),
            _ => Err(format!("expected {}, found a number", expected(ty))),
        },
        Cell::F64(v) => match ty {
            FieldType::Float64 if v.is_finite() => Ok(Cell::F64(v)),
            FieldType::Float64 => Err("not a finite number".into()),
            FieldType::Fen => Err(format!("{v} has decimals: amounts are whole fen (分)")),
            _ => Err(format!("expected {}, found a decimal number", expected(ty))),
        },
        Cell::Bool(b) => match ty {
            FieldType::Bool => Ok(Cell::Bool(b)),
            _ => Err(format!("expected {}, found a boolean", expected(ty))),
        },
        Cell::Date(d) => match ty {
            FieldType::Date => Ok(Cell::Date(d)),
            _ => Err(format!("expected {}, found a date", expected(ty))),
        },
        Cell::TsMs(t) => match ty {
            FieldType::Timestamp => Ok(Cell::TsMs(t)),
            _ => Err(format!("expected {}, found a timestamp", expected(ty))),
        },
    }
}

fn expected(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "text",
        FieldType::Int64 => "an integer",
        FieldType::Float64 => "a number",
        FieldType::Fen => "an integer amount in fen (分)",
        FieldType::Bool => "a boolean",
        FieldType::Date => "a date (YYYY-MM-DD)",
        FieldType::Timestamp => "a timestamp (YYYY-MM-DD HH:MM:SS or RFC 3339)",
    }
}

/// Parses CSV-style text for a field of type `ty`. Text fields keep their
/// value verbatim; other types ignore surrounding ASCII whitespace.
pub(crate) fn parse_text(ty: FieldType, s: &str) -> Result<Cell<'_>, String> {
    if ty == FieldType::String {
        return Ok(if s.is_empty() {
            Cell::Null
        } else {
            Cell::Str(s)
        });
    }
    let t = s.trim_ascii();
    if t.is_empty() {
        return Ok(Cell::Null);
    }
    let bad = || format!("{} is not {}", quoted(t), expected(ty));
    match ty {
        FieldType::String => Ok(Cell::Str(s)),
        FieldType::Int64 => parse_i64(t).map(Cell::I64).ok_or_else(bad),
        FieldType::Fen => match parse_i64(t) {
            Some(v) => Ok(Cell::I64(v)),
            None if t.contains('.') && t.parse::<f64>().is_ok() => Err(format!(
                "{} has decimals: amounts are whole fen (分)",
                quoted(t)
            )),
            None => Err(bad()),
        },
        FieldType::Float64 => match t.parse::<f64>() {
            Ok(v)
                if v.is_finite()
                    && !t
                        .bytes()
                        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
            {
                Ok(Cell::F64(v))
            }
            _ => Err(bad()),
        },
        FieldType::Bool => match t {
            "true" | "TRUE" | "True" | "1" | "是" => Ok(Cell::Bool(true)),
            "false" | "FALSE" | "False" | "0" | "否" => Ok(Cell::Bool(false)),
            _ => Err(format!(
                "{} is not a boolean (true/false/1/0/是/否)",
                quoted(t)
            )),
        },
        FieldType::Date => parse_date(t).map(Cell::Date).ok_or_else(bad),
        FieldType::Timestamp => parse_timestamp_ms(t).map(Cell::TsMs).ok_or_else(bad),
    }
}

/// A decimal integer with an optional sign, no separators or decimals.
fn parse_i64(t: &str) -> Option<i64> {
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

pub use shuyun_domain::calendar::{civil_from_days, days_from_civil};

/// `YYYY-MM-DD`, a valid calendar date in years 1000-9999.
pub(crate) fn parse_date(t: &str) -> Option<i32> {
    date_bytes(t.as_bytes())
}

fn date_bytes(b: &[u8]) -> Option<i32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if y < 1000 || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    i32::try_from(days_from_civil(i64::from(y), m, d)).ok()
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` in Beijing time, or RFC 3339
/// (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`); without an offset the time is
/// Beijing time. Fractions beyond milliseconds are truncated; leap seconds
/// are refused.
pub(crate) fn parse_timestamp_ms(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T' | b't') {
        return None;
    }
    let days = i64::from(date_bytes(&b[..10])?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        for i in 0..3 {
            ms = ms * 10
                + frac
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |c| i64::from(c - b'0'));
        }
        rest = &frac[n..];
    }
    let offset_ms = match rest {
        [] => BEIJING_OFFSET_MS,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let oh = i64::from(digits(&[*oh1, *oh2])?);
            let om = i64::from(digits(&[*om1, *om2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = (oh * 60 + om) * 60_000;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let secs = i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Some(days * DAY_MS + secs * 1000 + ms - offset_ms)
}

/// The last date parsed in a column: dates repeat from row to row.
#[derive(Default)]
pub(crate) struct DateCache(Option<([u8; 10], i32)>);

impl DateCache {
    fn days(&mut self, b: &[u8]) -> Option<i32> {
        match self.0 {
            Some((k, d)) if k == b => Some(d),
            _ => {
                let d = date_bytes(b)?;
                let mut k = [0u8; 10];
                k.copy_from_slice(b);
                self.0 = Some((k, d));
                Some(d)
            }
        }
    }
}

/// [`parse_date`] of the common exact form (no surrounding spaces), or
/// `None` for the general parser to decide.
pub(crate) fn fast_date(t: &str, cache: &mut DateCache) -> Option<i32> {
    let b = t.as_bytes();
    if b.len() != 10 {
        return None;
    }
    cache.days(b)
}

/// [`parse_timestamp_ms`] of the common form `YYYY-MM-DD HH:MM:SS` (Beijing
/// time, no fraction, no surrounding spaces), or `None` for the general
/// parser to decide.
pub(crate) fn fast_timestamp_ms(t: &str, cache: &mut DateCache) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = i64::from(cache.days(&b[..10])?);
    let secs = i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Some(days * DAY_MS + secs * 1000 - BEIJING_OFFSET_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-1-01"), None);
        assert_eq!(parse_date("2024/01/01"), None);
        for d in [-1000, 0, 19_782, 40_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn timestamps() {
        // Beijing midnight is 16:00 UTC the day before.
        assert_eq!(
            parse_timestamp_ms("1970-01-02 00:00:00"),
            Some(16 * 3_600_000)
        );
        assert_eq!(parse_timestamp_ms("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00.250Z"), Some(250));
        assert_eq!(
            parse_timestamp_ms("1970-01-01T00:00:00-01:00"),
            Some(3_600_000)
        );
        assert_eq!(parse_timestamp_ms("1970-01-01 24:00:00"), None);
        assert_eq!(parse_timestamp_ms("1970-01-01 00:00"), None);
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00+8"), None);
    }

    #[test]
    fn fast_paths_agree_with_the_general_parsers() {
        let mut c = DateCache::default();
        for t in [
            "2024-05-01 08:00:00",
            "2024-05-01 23:59:59",
            "2024-05-01 24:00:00",
            "2024-02-30 00:00:00",
            "2024-05-01T08:00:00",
            "2024-05-01 08:00:00Z",
            "2024-05-01 8:00:00",
            "1970-01-01 00:00:00",
            "0999-01-01 00:00:00",
            "2024-05-01 08:00:0x",
        ] {
            if let Some(v) = fast_timestamp_ms(t, &mut c) {
                assert_eq!(Some(v), parse_timestamp_ms(t), "{t}");
            }
            assert_eq!(
                fast_timestamp_ms(t, &mut c).is_some(),
                t.len() == 19 && t.as_bytes()[10] == b' ' && parse_timestamp_ms(t).is_some(),
                "{t}"
            );
        }
        for t in [
            "2024-05-01",
            "2024-05-01",
            "2024-02-29",
            "2023-02-29",
            "2024-5-01",
            " 2024-05-01",
        ] {
            if let Some(v) = fast_date(t, &mut c) {
                assert_eq!(Some(v), parse_date(t), "{t}");
            }
            assert_eq!(
                fast_date(t, &mut c).is_some(),
                t.len() == 10 && parse_date(t).is_some()
            );
        }
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(parse_text(FieldType::Int64, " 42 "), Ok(Cell::I64(42)));
        assert!(parse_text(FieldType::Int64, "4.2").is_err());
        assert!(parse_text(FieldType::Int64, "1,000").is_err());
        assert_eq!(parse_text(FieldType::Fen, "-1250"), Ok(Cell::I64(-1250)));
        let e = parse_text(FieldType::Fen, "12.50")
            .err()
            .unwrap_or_default();
        assert!(e.contains("fen"), "{e}");
        assert_eq!(
            parse_text(FieldType::Float64, "2.5e3"),
            Ok(Cell::F64(2500.0))
        );
        assert!(parse_text(FieldType::Float64, "NaN").is_err());
        assert!(parse_text(FieldType::Float64, "inf").is_err());
        assert_eq!(parse_text(FieldType::Bool, "是"), Ok(Cell::Bool(true)));
        assert_eq!(parse_text(FieldType::Bool, "0"), Ok(Cell::Bool(false)));
        assert!(parse_text(FieldType::Bool, "yes").is_err());
        assert_eq!(parse_text(FieldType::String, ""), Ok(Cell::Null));
        assert_eq!(parse_text(FieldType::Date, "  "), Ok(Cell::Null));
    }
}
