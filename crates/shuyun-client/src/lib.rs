//! Client library for the shuyun JSON API under `/api/v1`: sign in with a
//! password (session cookie + CSRF header handled for you) or use an API
//! token, and get typed results or the server's problem document.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A refused request: the HTTP status and the problem document.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{status}: {code}: {detail}")]
    Problem {
        status: StatusCode,
        code: String,
        detail: String,
        body: Value,
    },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected response {status}: {body}")]
    Unexpected { status: StatusCode, body: String },
}

impl ClientError {
    /// The problem's stable code, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Problem { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Problem { status, .. } | ClientError::Unexpected { status, .. } => {
                Some(*status)
            }
            ClientError::Transport(e) => e.status(),
        }
    }
}

/// A raw response, for tests that check statuses and headers themselves.
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A client bound to one server.
pub struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    csrf: Option<String>,
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self, ClientError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().cookie_store(true).build()?,
            token: None,
            csrf: None,
        })
    }

    /// A client that does not follow redirects (to see them as they are).
    pub fn without_redirects(base: &str) -> Result<Self, ClientError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            token: None,
            csrf: None,
        })
    }

    /// A client that authenticates with an API token.
    pub fn with_token(base: &str, token: &str) -> Result<Self, ClientError> {
        let mut c = Self::new(base)?;
        c.token = Some(token.to_string());
        Ok(c)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sign in with a password; later requests use the session.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<Value, ClientError> {
        let v: Value = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                Some(&serde_json::json!({"username": username, "password": password})),
            )
            .await?;
        self.csrf = v
            .get("csrf_token")
            .and_then(Value::as_str)
            .map(String::from);
        Ok(v)
    }

    /// Send a request and return status, content type and body as they are.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        content_type: &str,
    ) -> Result<RawResponse, ClientError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = &self.csrf
            && method != Method::GET
        {
            req = req.header("X-CSRF-Token", c);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", content_type).body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.text().await?;
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }

    /// Send JSON and decode JSON, mapping problem documents to errors.
    pub async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let text =
            body.map(serde_json::to_string)
                .transpose()
                .map_err(|e| ClientError::Unexpected {
                    status: StatusCode::BAD_REQUEST,
                    body: e.to_string(),
                })?;
        let r = self
            .raw(method, path, text.as_deref(), "application/json")
            .await?;
        if r.status.is_success() {
            let body = if r.body.is_empty() {
                "null"
            } else {
                r.body.as_str()
            };
            return serde_json::from_str(body).map_err(|_| ClientError::Unexpected {
                status: r.status,
                body: r.body.clone(),
            });
        }
        if r.content_type.starts_with("application/problem+json") {
            let v = r.json();
            return Err(ClientError::Problem {
                status: r.status,
                code: v
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                detail: v
                    .get("detail")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                body: v,
            });
        }
        Err(ClientError::Unexpected {
            status: r.status,
            body: r.body,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<T, ()>(Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<T, ()>(Method::DELETE, path, None).await
    }
}
