//! The only place domain errors become HTTP: `application/problem+json`
//! (RFC 9457) for the API, a friendly page for the portal.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shuyun_domain::{DomainError, ErrorCode};
use shuyun_store::StoreError;

/// The problem document every API error returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:shuyun:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated | ErrorCode::TokenExpired | ErrorCode::TokenRevoked => {
            StatusCode::UNAUTHORIZED
        }
        ErrorCode::Forbidden | ErrorCode::Csrf | ErrorCode::AccountDisabled => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::LedgerIntegrity | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answered by the API.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl ApiError {
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self(DomainError::new(code, msg))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self(e.into_domain())
    }
}

pub fn problem_response(e: &DomainError) -> Response {
    let status = status_of(e.code);
    let detail = if status.is_server_error() {
        // Never leak internals to the client; the log has them.
        tracing::error!(code = %e.code, error = %e.message, "internal error");
        "an internal error occurred; it has been logged".to_string()
    } else {
        e.message.clone()
    };
    let body = Problem {
        kind: format!("urn:shuyun:problem:{}", e.code.as_str()),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        code: e.code.as_str().to_string(),
        detail,
        field: e.field.clone(),
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if e.code == ErrorCode::Unauthenticated
        || e.code == ErrorCode::TokenExpired
        || e.code == ErrorCode::TokenRevoked
    {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"shuyun\""),
        );
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_response(&self.0)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
