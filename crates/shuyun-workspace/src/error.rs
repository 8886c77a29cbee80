//! The one error of the workspace, with stable codes clients can match on.
//!
//! Messages name tables, fields and limits — metadata the operator may see —
//! and never a data value.

use std::fmt;

/// A stable error code (the `code` of an API problem).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The SQL text does not parse, or names something that does not exist.
    ParseError,
    /// The statement is not a query the workspace runs (DDL, DML, `COPY`,
    /// `SET`, `EXPLAIN`, a table function, more than one statement…).
    NotAllowed,
    /// An output column would show a restricted field (important grade or
    /// personal information) other than inside an aggregate.
    RestrictedOutput,
    /// A memory, time or row limit was exceeded.
    LimitExceeded,
    /// The query was cancelled by the caller (e.g. the agreement was
    /// suspended).
    Cancelled,
    /// A table given to the session is inconsistent with its schema or
    /// allowance.
    InvalidTable,
    /// Stopped before running as a linkage risk (C5): the caller's check of
    /// the plan's facts refused it.
    LinkageRisk,
    /// A fault of the platform, not of the query.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "parse_error",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::RestrictedOutput => "restricted_output",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::InvalidTable => "invalid_table",
            ErrorCode::LinkageRisk => "linkage_risk",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused or failed query: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WorkspaceError {
    pub code: ErrorCode,
    pub message: String,
}

impl WorkspaceError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ParseError, message)
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotAllowed, message)
    }

    pub fn restricted(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RestrictedOutput, message)
    }

    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::LimitExceeded, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn invalid_table(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTable, message)
    }
}

pub type WorkspaceResult<T> = Result<T, WorkspaceError>;

/// Classify an error of DataFusion raised while planning. Planning errors
/// carry names from the SQL text, never data.
pub(crate) fn from_planning(e: datafusion::error::DataFusionError) -> WorkspaceError {
    use datafusion::error::DataFusionError as E;
    match e.find_root() {
        E::SQL(..) | E::Plan(..) | E::SchemaError(..) => {
            WorkspaceError::parse(strip(e.find_root()))
        }
        E::NotImplemented(m) => WorkspaceError::not_allowed(format!("not supported: {m}")),
        E::ResourcesExhausted(_) => {
            WorkspaceError::limit("the query needs more memory than its limit")
        }
        _ => WorkspaceError::parse(strip(e.find_root())),
    }
}

/// Classify an error of DataFusion raised while executing. Execution errors
/// can quote values (a failed cast, a division), so their text is not
/// passed on.
pub(crate) fn from_execution(e: &datafusion::error::DataFusionError) -> WorkspaceError {
    use datafusion::error::DataFusionError as E;
    match e.find_root() {
        E::ResourcesExhausted(_) => {
            WorkspaceError::limit("the query needs more memory than its limit and was stopped")
        }
        E::ArrowError(..) | E::Execution(..) => WorkspaceError::new(
            ErrorCode::ParseError,
            "the query failed while running (e.g. a cast or arithmetic error); values are not shown",
        ),
        _ => WorkspaceError::internal("the query failed while running"),
    }
}

fn strip(e: &datafusion::error::DataFusionError) -> String {
    let s = e.to_string();
    // DataFusion prefixes messages with its error kind; keep the message.
    for p in ["SQL error: ", "Error during planning: ", "Schema error: "] {
        if let Some(rest) = s.strip_prefix(p) {
            return rest.to_string();
        }
    }
    s
}
