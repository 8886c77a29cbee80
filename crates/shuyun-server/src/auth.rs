//! Who is calling, and may they? The guard that every route passes through.
//!
//! A caller proves identity with a bearer API token (`Authorization: Bearer
//! sy_…`) or the `sy_session` cookie. The guard checks the route's declared
//! [`Permission`], CSRF for cookie-authenticated unsafe requests (header
//! `X-CSRF-Token` or form field `csrf`), and the `Origin` of unsafe requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use shuyun_domain::{DomainError, ErrorCode, Permission};
use shuyun_store::accounts::{AuthKind, Principal};

use crate::error::problem_response;
use crate::routes::Kind;
use crate::{AppState, pages};

pub const SESSION_COOKIE: &str = "sy_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
const FORM_LIMIT: usize = 64 * 1024;

/// The caller of a request, if any, as established by the guard.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// The principal, for routes whose permission guarantees one.
    pub fn principal(&self) -> Result<&Principal, crate::error::ApiError> {
        self.0.as_ref().ok_or_else(|| {
            crate::error::ApiError::new(
                ErrorCode::Unauthenticated,
                "sign in or present an API token",
            )
        })
    }

    pub fn actor(&self) -> String {
        self.0
            .as_ref()
            .map_or_else(|| "anonymous".to_string(), Principal::actor)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller(None)))
    }
}

/// The client address as a string for the ledger.
pub fn client_addr(parts_ext: &axum::http::Extensions) -> String {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

/// What the guard of one route needs.
#[derive(Clone)]
pub struct Guard {
    pub state: AppState,
    pub perm: Permission,
    pub kind: Kind,
    /// The route's path template.
    pub path: &'static str,
}

/// Pages a user who must change their password can still reach.
const PASSWORD_CHANGE_PAGES: &[&str] = &[
    "/account",
    "/account/password",
    "/logout",
    "/lang/{lang}",
    "/login",
];

async fn resolve(state: &AppState, parts: &Parts) -> Result<Option<Principal>, DomainError> {
    let now = state.now();
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().unwrap_or("");
        let token = auth.strip_prefix("Bearer ").ok_or_else(|| {
            DomainError::new(
                ErrorCode::Unauthenticated,
                "use 'Authorization: Bearer <token>'",
            )
        })?;
        return state
            .store
            .token_principal(token.trim(), now)
            .await
            .map(Some)
            .map_err(|e| e.into_domain());
    }
    let jar = CookieJar::from_headers(&parts.headers);
    match jar.get(SESSION_COOKIE) {
        Some(c) => match state.store.session_principal(c.value(), now).await {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                let e = e.into_domain();
                if e.code == ErrorCode::Internal {
                    Err(e)
                } else {
                    Ok(None)
                }
            }
        },
        None => Ok(None),
    }
}

fn deny(kind: Kind, e: DomainError, uri: &axum::http::Uri) -> Response {
    if kind == Kind::Page {
        if e.code == ErrorCode::Unauthenticated {
            let next = uri.path_and_query().map_or("/", |p| p.as_str());
            return Redirect::to(&format!("/login?next={}", pages::urlencode(next)))
                .into_response();
        }
        return pages::error_page(&e);
    }
    problem_response(&e)
}

/// Whether an unsafe request's Origin (when sent) is this server.
fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    else {
        return true;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin == "null" && host.is_empty()
        || origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(host)
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 200)
            .then(|| v.to_string())
    })
}

/// Read a multipart body only as far as its first part and return that
/// part's value if it is the text field `name`, with a body that replays
/// what was read followed by the rest of the stream. At most 64 KiB is
/// buffered; a first part that does not end within it yields no value.
async fn multipart_first_field(body: Body, boundary: &str, name: &str) -> (Option<String>, Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    let delimiter = format!("\r\n--{boundary}");
    let value = loop {
        if let Some(v) = first_part_value(&head, boundary, &delimiter, name) {
            break v;
        }
        if head.len() > FORM_LIMIT {
            break None;
        }
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) | None => break None,
        }
    };
    let replay =
        futures_util::stream::once(async move { Ok::<_, axum::Error>(bytes::Bytes::from(head)) });
    (value, Body::from_stream(replay.chain(stream)))
}

/// `Some(value)` once the first part is complete in `buf` (`Some(None)` if
/// it is not the field `name`), `None` while more bytes are needed.
fn first_part_value(
    buf: &[u8],
    boundary: &str,
    delimiter: &str,
    name: &str,
) -> Option<Option<String>> {
    let open = format!("--{boundary}\r\n");
    if buf.len() < open.len() {
        return None;
    }
    if !buf.starts_with(open.as_bytes()) {
        return Some(None);
    }
    let rest = &buf[open.len()..];
    let headers_end = memchr::memmem::find(rest, b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&rest[..headers_end]).to_ascii_lowercase();
    let content = &rest[headers_end + 4..];
    let end = memchr::memmem::find(content, delimiter.as_bytes())?;
    let wanted = format!("name=\"{name}\"");
    let is_field = headers.lines().any(|l| {
        l.starts_with("content-disposition:") && l.contains(&wanted) && !l.contains("filename=")
    });
    Some(is_field.then(|| String::from_utf8_lossy(&content[..end]).into_owned()))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    FormFields::parse(body).first(name).map(String::from)
}

/// The fields of an urlencoded form, looked up by name.
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded_pairs(body))
    }

    /// The first value of `name`, if sent.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or empty.
    pub fn get(&self, name: &str) -> String {
        self.first(name).unwrap_or_default().to_string()
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Minimal application/x-www-form-urlencoded parser.
pub fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (pages::urldecode(k), pages::urldecode(v))
        })
        .collect()
}

/// The guard middleware: authenticate, authorize, check CSRF and origin.
pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !same_origin(&parts) {
        return deny(
            g.kind,
            DomainError::new(ErrorCode::Csrf, "cross-origin request refused"),
            &parts.uri,
        );
    }
    let caller = match resolve(&g.state, &parts).await {
        Ok(c) => c,
        Err(e) if g.perm == Permission::Public && e.code != ErrorCode::Internal => None,
        Err(e) => return deny(g.kind, e, &parts.uri),
    };
    let mut body = body;
    if g.perm != Permission::Public {
        let Some(p) = &caller else {
            return deny(
                g.kind,
                DomainError::new(
                    ErrorCode::Unauthenticated,
                    "sign in or present an API token",
                ),
                &parts.uri,
            );
        };
        if !p.allows(g.perm) {
            if g.kind == Kind::Page {
                let ctx = pages::PageCtx {
                    lang: crate::i18n::Lang::from_cookie(
                        CookieJar::from_headers(&parts.headers)
                            .get("lang")
                            .map(|c| c.value()),
                    ),
                    principal: Some(p.clone()),
                    msg: None,
                    err: None,
                };
                let e = DomainError::forbidden(format!(
                    "this needs the permission '{}'",
                    g.perm.as_str()
                ));
                return pages::error_page_for(&ctx, &e);
            }
            return deny(
                g.kind,
                DomainError::forbidden(format!("this needs the permission '{}'", g.perm.as_str())),
                &parts.uri,
            );
        }
    }
    // Cookie-authenticated unsafe requests must carry the session's CSRF token.
    if unsafe_method
        && let Some(Principal {
            auth: AuthKind::Session { csrf, .. },
            ..
        }) = &caller
    {
        let header_token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let ok = match header_token {
            Some(t) => t == *csrf,
            None => {
                let content_type = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let is_form = content_type.starts_with("application/x-www-form-urlencoded");
                if let Some(boundary) = multipart_boundary(&content_type) {
                    // A file upload: the token is the form's first part; the
                    // rest of the body streams on untouched.
                    let (token, rebuilt) = multipart_first_field(body, &boundary, "csrf").await;
                    body = rebuilt;
                    token.as_deref() == Some(csrf.as_str())
                } else if !is_form {
                    false
                } else {
                    match axum::body::to_bytes(body, FORM_LIMIT).await {
                        Ok(bytes) => {
                            let ok = form_field(&bytes, "csrf").as_deref() == Some(csrf.as_str());
                            body = Body::from(bytes);
                            ok
                        }
                        Err(_) => {
                            return deny(
                                g.kind,
                                DomainError::new(
                                    ErrorCode::PayloadTooLarge,
                                    "the form is too large",
                                ),
                                &parts.uri,
                            );
                        }
                    }
                }
            }
        };
        if !ok {
            return deny(
                g.kind,
                DomainError::new(ErrorCode::Csrf, "missing or wrong CSRF token"),
                &parts.uri,
            );
        }
    }
    // A user holding an initial or reset password changes it before anything else.
    if g.kind == Kind::Page
        && caller.as_ref().is_some_and(|p| p.must_change_password)
        && !PASSWORD_CHANGE_PAGES.contains(&g.path)
    {
        return Redirect::to("/account").into_response();
    }
    parts.extensions.insert(Caller(caller));
    next.run(Request::from_parts(parts, body)).await
}

/// Counts failed logins per user name and per client address in a sliding
/// window; past the limit, logins are refused until the window passes.
pub struct LoginLimiter {
    inner: Mutex<HashMap<String, Vec<i64>>>,
    pub per_user: usize,
    pub per_client: usize,
    pub window_ms: i64,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            per_user: 5,
            per_client: 30,
            window_ms: 15 * 60 * 1000,
        }
    }
}

impl LoginLimiter {
    fn keys(username: &str, client: &str) -> [String; 2] {
        [format!("u:{username}"), format!("c:{client}")]
    }

    /// Seconds to wait before another attempt is allowed, if blocked now.
    pub fn blocked_for(&self, username: &str, client: &str, now: i64) -> Option<i64> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let [u, c] = Self::keys(username, client);
        let mut wait = None;
        for (key, limit) in [(u, self.per_user), (c, self.per_client)] {
            if let Some(v) = map.get_mut(&key) {
                v.retain(|t| now - t < self.window_ms);
                if v.len() >= limit {
                    let oldest = v.iter().min().copied().unwrap_or(now);
                    let secs = (oldest + self.window_ms - now) / 1000 + 1;
                    wait = Some(wait.map_or(secs, |w: i64| w.max(secs)));
                }
            }
        }
        wait
    }

    pub fn failed(&self, username: &str, client: &str, now: i64) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, v| v.iter().any(|t| now - t < self.window_ms));
        }
        for key in Self::keys(username, client) {
            map.entry(key).or_default().push(now);
        }
    }

    pub fn succeeded(&self, username: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("u:{username}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_then_releases() {
        let l = LoginLimiter::default();
        for i in 0..5 {
            assert!(l.blocked_for("a", "1.2.3.4", i).is_none());
            l.failed("a", "1.2.3.4", i);
        }
        assert!(l.blocked_for("a", "1.2.3.4", 10).is_some());
        assert!(
            l.blocked_for("b", "1.2.3.4", 10).is_none(),
            "other users unaffected"
        );
        assert!(l.blocked_for("a", "1.2.3.4", 15 * 60 * 1000 + 10).is_none());
    }

    #[test]
    fn form_parsing() {
        let pairs = form_urlencoded_pairs(b"csrf=ab%2Bc&name=%E6%95%B0+x");
        assert_eq!(pairs[0], ("csrf".into(), "ab+c".into()));
        assert_eq!(pairs[1], ("name".into(), "数 x".into()));
    }

    #[test]
    fn multipart_boundaries() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=----abc").as_deref(),
            Some("----abc")
        );
        assert_eq!(
            multipart_boundary("Multipart/Form-Data;charset=utf-8; boundary=\"x y\"").as_deref(),
            Some("x y")
        );
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        assert_eq!(multipart_boundary("text/csv; boundary=x"), None);
    }

    fn multipart(first_name: &str, filename: bool) -> Vec<u8> {
        let fname = if filename { "; filename=\"a.csv\"" } else { "" };
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"{first_name}\"{fname}\r\n\r\ntok-123\r\n--B\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n\r\n--B--\r\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn the_first_multipart_field_is_read_and_the_body_replayed() {
        for (first, filename, want) in [
            ("csrf", false, Some("tok-123")),
            ("format", false, None),
            ("csrf", true, None),
        ] {
            let bytes = multipart(first, filename);
            // Deliver the body three bytes at a time.
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
                .chunks(3)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            let body = Body::from_stream(futures_util::stream::iter(chunks));
            let (token, rest) = multipart_first_field(body, "B", "csrf").await;
            assert_eq!(token.as_deref(), want);
            let replay = axum::body::to_bytes(rest, usize::MAX).await.unwrap();
            assert_eq!(replay.as_ref(), bytes.as_slice(), "nothing is lost");
        }
        // A body that is not multipart at all, or whose first part never ends.
        let (t, _) = multipart_first_field(Body::from("garbage"), "B", "csrf").await;
        assert_eq!(t, None);
        let endless = format!(
            "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}",
            "x".repeat(100_000)
        );
        let (t, rest) = multipart_first_field(Body::from(endless.clone()), "B", "csrf").await;
        assert_eq!(t, None);
        assert_eq!(
            axum::body::to_bytes(rest, usize::MAX).await.unwrap().len(),
            endless.len()
        );
    }
}
