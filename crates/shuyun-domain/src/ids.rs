//! Identifiers as newtypes that cannot hold an invalid value: the unified
//! social credit code (统一社会信用代码, GB 32100-2015), the resident identity
//! number (公民身份号码, GB 11643-1999), administrative division codes
//! (行政区划代码, GB/T 2260) and user names.

use std::fmt;
use std::str::FromStr;

use crate::error::DomainError;

/// Administrative division code (行政区划代码), six digits, e.g. 360200 for
/// Jingdezhen. The first two digits are a province code (11..=82).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);
string_newtype!(
    DivisionCode,
    "^[1-8][0-9]{5}$",
    "Administrative division code (行政区划代码), six digits, e.g. 360200"
);

impl DivisionCode {
    /// 360200: Jingdezhen, the pilot city and the default.
    pub fn jingdezhen() -> Self {
        Self("360200".to_string())
    }
}

impl FromStr for DivisionCode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::invalid(
                "division_code",
                "an administrative division code is six digits",
            ));
        }
        let province: u32 = s[..2].parse().unwrap_or(0);
        if !(11..=82).contains(&province) {
            return Err(DomainError::invalid(
                "division_code",
                format!("{s}: no province has code {}", &s[..2]),
            ));
        }
        Ok(Self(s.to_string()))
    }
}

const CREDIT_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Unified social credit code (统一社会信用代码), 18 characters with a check
/// character computed modulo 31 (GB 32100-2015).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);
string_newtype!(
    CreditCode,
    "^[0-9A-HJ-NPQRTUWXY]{18}$",
    "Unified social credit code (统一社会信用代码), 18 characters with a valid check character"
);

impl CreditCode {
    /// The check character for the first 17 characters, if they are valid.
    pub fn check_char(first17: &str) -> Option<char> {
        if first17.len() != 17 {
            return None;
        }
        let mut sum = 0u32;
        for (i, b) in first17.bytes().enumerate() {
            let v = CREDIT_CHARS.iter().position(|&c| c == b)? as u32;
            sum += v * CREDIT_WEIGHTS[i];
        }
        let check = (31 - sum % 31) % 31;
        Some(CREDIT_CHARS[check as usize] as char)
    }

    /// The administrative division code embedded at positions 3..9.
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }
}

impl FromStr for CreditCode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() != 18 || !s.is_ascii() {
            return Err(DomainError::invalid(
                "credit_code",
                "a unified social credit code has 18 characters",
            ));
        }
        if !s.bytes().all(|b| CREDIT_CHARS.contains(&b)) {
            return Err(DomainError::invalid(
                "credit_code",
                "a unified social credit code uses digits and capital letters other than I, O, Z, S, V",
            ));
        }
        match Self::check_char(&s[..17]) {
            Some(c) if s.ends_with(c) => Ok(Self(s)),
            _ => Err(DomainError::invalid(
                "credit_code",
                format!("{s}: the check character is wrong"),
            )),
        }
    }
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Resident identity number (公民身份号码), 18 characters with an ISO 7064
/// MOD 11-2 check character and a valid birth date.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);
string_newtype!(
    ResidentId,
    "^[0-9]{17}[0-9X]$",
    "Resident identity number (公民身份号码), 18 characters with a valid check character"
);

impl fmt::Debug for ResidentId {
    // Personal information: never print the full number in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({}********{})", &self.0[..6], &self.0[14..])
    }
}

impl ResidentId {
    pub fn check_char(first17: &str) -> Option<char> {
        if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let sum: u32 = first17
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        Some(ID_CHECK[(sum % 11) as usize] as char)
    }
}

fn valid_date(y: u32, m: u32, d: u32) -> bool {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=2100).contains(&y) && (1..=days).contains(&d)
}

impl FromStr for ResidentId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let s = s.trim().to_ascii_uppercase();
        let err = |m: &str| DomainError::invalid("resident_id", m.to_string());
        if s.len() != 18 || !s.is_ascii() {
            return Err(err("a resident identity number has 18 characters"));
        }
        let first17 = &s[..17];
        let Some(check) = Self::check_char(first17) else {
            return Err(err("the first 17 characters must be digits"));
        };
        if !s.ends_with(check) {
            return Err(err("the check character is wrong"));
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        if !valid_date(num(6..10), num(10..12), num(12..14)) {
            return Err(err("the birth date is not a valid date"));
        }
        Ok(Self(s))
    }
}

/// A login name: 3 to 32 characters of lower-case letters, digits, '.', '_'
/// or '-', starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);
string_newtype!(
    Username,
    "^[a-z][a-z0-9._-]{2,31}$",
    "Login name: 3-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter"
);

impl FromStr for Username {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let ok = (3..=32).contains(&s.len())
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(DomainError::invalid(
                "username",
                "a user name has 3-32 characters of a-z, 0-9, '.', '_' or '-' and starts with a letter",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes() {
        // Published example codes with correct check characters.
        for good in [
            "91350100M000100Y43",
            "91110000600037341L",
            "11360200014507983A",
        ] {
            let first17 = &good[..17];
            let fixed = format!(
                "{first17}{}",
                CreditCode::check_char(first17).unwrap_or('?')
            );
            assert!(fixed.parse::<CreditCode>().is_ok(), "{fixed}");
        }
        let code: CreditCode = "91350100M000100Y43".parse().unwrap();
        assert_eq!(code.division(), "350100");
        assert!("91350100M000100Y44".parse::<CreditCode>().is_err());
        assert!("91350100M000100Y4".parse::<CreditCode>().is_err());
        assert!("9135010OM000100Y43".parse::<CreditCode>().is_err());
        assert_eq!(
            "91350100m000100y43".parse::<CreditCode>().unwrap().as_str(),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn resident_ids() {
        // GB 11643 worked example.
        let id: ResidentId = "11010519491231002X".parse().unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(!format!("{id:?}").contains("19491231"));
        assert!("110105194912310021".parse::<ResidentId>().is_err());
        let bad_date = format!(
            "11010519490231002{}",
            ResidentId::check_char("11010519490231002").unwrap()
        );
        assert!(bad_date.parse::<ResidentId>().is_err());
    }

    #[test]
    fn division_codes() {
        assert!("360200".parse::<DivisionCode>().is_ok());
        assert!("000000".parse::<DivisionCode>().is_err());
        assert!("36020".parse::<DivisionCode>().is_err());
        assert!("36020a".parse::<DivisionCode>().is_err());
    }

    #[test]
    fn usernames() {
        assert!("jdz.admin".parse::<Username>().is_ok());
        assert!("Admin".parse::<Username>().is_err());
        assert!("ab".parse::<Username>().is_err());
        assert!("a b c".parse::<Username>().is_err());
        assert!("1abc".parse::<Username>().is_err());
    }
}
