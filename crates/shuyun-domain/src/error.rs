//! The coded domain error: a stable machine code plus a human message.
//!
//! Only the server crate maps these to HTTP; the code strings are part of the
//! public API and never change meaning once released.

use std::fmt;

/// Stable error codes. The string form (`as_str`) is what clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Input failed validation (a field, an identifier, a value range).
    Validation,
    /// The request body is not acceptable JSON for the operation.
    BadRequest,
    /// No or invalid credentials.
    Unauthenticated,
    /// Credentials are valid but lack the permission.
    Forbidden,
    /// The object does not exist (or is invisible to the caller).
    NotFound,
    /// The object exists with a conflicting unique key or state.
    Conflict,
    /// Too many attempts; try later.
    RateLimited,
    /// The CSRF token is missing or does not match the session.
    Csrf,
    /// An API token is expired.
    TokenExpired,
    /// An API token was revoked.
    TokenRevoked,
    /// The account or its organisation is disabled.
    AccountDisabled,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// A ledger integrity problem (verification failure).
    LedgerIntegrity,
    /// Something failed on our side; never caused by client input.
    Internal,
}

impl ErrorCode {
    /// Stable string form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "validation_failed",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Csrf => "csrf_failed",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenRevoked => "token_revoked",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::LedgerIntegrity => "ledger_integrity",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain error: code, message, and optionally the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A validation error naming the field at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Validation,
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, format!("{} not found", what.into()))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
