//! Account policy: password strength, session and token lifetimes.

use crate::error::DomainError;

/// Sessions last this long without activity limits (8 hours, a working day).
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;
/// API tokens expire after at most this many days.
pub const MAX_TOKEN_DAYS: u32 = 366;
pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 128;

/// A password must be 10-128 characters and mix letters with digits or symbols.
pub fn check_password(pw: &str) -> Result<(), DomainError> {
    let n = pw.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&n) {
        return Err(DomainError::invalid(
            "password",
            format!("a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    let letters = pw.chars().any(char::is_alphabetic);
    let others = pw.chars().any(|c| !c.is_alphabetic());
    if !(letters && others) {
        return Err(DomainError::invalid(
            "password",
            "a password mixes letters with digits or symbols",
        ));
    }
    Ok(())
}

/// Validate a requested token lifetime in days.
pub fn check_token_days(days: u32) -> Result<(), DomainError> {
    if days == 0 || days > MAX_TOKEN_DAYS {
        return Err(DomainError::invalid(
            "expires_in_days",
            format!("a token lives 1 to {MAX_TOKEN_DAYS} days"),
        ));
    }
    Ok(())
}

/// A display or organisation name: 1-100 characters after trimming, no control characters.
pub fn check_name(field: &str, s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "a name has 1 to 100 printable characters",
        ));
    }
    Ok(t.to_string())
}

/// A decision note (审核意见): at most 500 characters; returned trimmed.
pub fn check_note(note: &str) -> Result<String, DomainError> {
    let t = note.trim();
    if t.chars().count() > 500 {
        return Err(DomainError::invalid(
            "note",
            "a note has at most 500 characters",
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert!(check_password("shuyun-demo-2026").is_ok());
        assert!(check_password("短密码1").is_err());
        assert!(check_password("onlyletterslong").is_err());
        assert!(check_password("1234567890123").is_err());
        assert!(check_password("数据运营平台密码安全2026").is_ok());
    }

    #[test]
    fn tokens_and_names() {
        assert!(check_token_days(0).is_err());
        assert!(check_token_days(30).is_ok());
        assert!(check_token_days(400).is_err());
        assert_eq!(
            check_name("name", "  景德镇市数据局 ").as_deref(),
            Ok("景德镇市数据局")
        );
        assert!(check_name("name", "a\nb").is_err());
        assert!(check_name("name", "   ").is_err());
        assert_eq!(check_note(" 同意 ").as_deref(), Ok("同意"));
        assert!(check_note(&"长".repeat(501)).is_err());
    }
}
