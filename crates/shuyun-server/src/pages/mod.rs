//! The web portal: server-rendered pages (maud), Chinese first. Forms post
//! with the session's CSRF token (file uploads as multipart forms whose
//! first field is the token); no JavaScript is needed.

pub mod account;
pub mod admin;
pub mod authorization;
pub mod catalogue;
pub mod data;
pub mod home;
pub mod ledger;
pub mod login;
pub mod open;
pub mod tickets;
pub mod workspace;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use shuyun_domain::{DomainError, Permission};
use shuyun_store::accounts::{AuthKind, Principal};

use crate::auth::Caller;
use crate::extract::ApiPath;
use crate::i18n::{Lang, t};

/// What every page needs: language, caller, CSRF token, flash messages.
pub struct PageCtx {
    pub lang: Lang,
    pub principal: Option<Principal>,
    pub msg: Option<String>,
    pub err: Option<String>,
}

impl PageCtx {
    pub fn t(&self, key: &str) -> String {
        t(self.lang, key).to_string()
    }

    pub fn csrf(&self) -> String {
        match &self.principal {
            Some(Principal {
                auth: AuthKind::Session { csrf, .. },
                ..
            }) => csrf.clone(),
            _ => String::new(),
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        self.principal.as_ref().is_some_and(|x| x.allows(p))
    }

    /// The actor string for the ledger.
    pub fn actor(&self) -> String {
        self.principal
            .as_ref()
            .map_or_else(|| "anonymous".into(), Principal::actor)
    }

    /// After a form post: back to `to` with "done" (and what was done) or
    /// the refusal's message.
    pub fn after(&self, to: &str, result: Result<String, DomainError>) -> Response {
        match result {
            Ok(what) if what.is_empty() => back(to, Ok(self.t("common.done"))),
            Ok(what) => back(to, Ok(format!("{} {what}", self.t("common.done")))),
            Err(e) => back(to, Err(e.message)),
        }
    }

    /// Hidden CSRF field for forms.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf()); }
    }
}

fn query_param(parts: &Parts, name: &str) -> Option<String> {
    parts.uri.query().and_then(|q| {
        crate::auth::form_urlencoded_pairs(q.as_bytes())
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    })
}

impl<S: Send + Sync> FromRequestParts<S> for PageCtx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Caller(principal) = Caller::from_request_parts(parts, s).await?;
        Ok(Self {
            lang: Lang::from_cookie(jar.get("lang").map(|c| c.value())),
            principal,
            msg: query_param(parts, "msg"),
            err: query_param(parts, "err"),
        })
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Format Unix milliseconds as Beijing time (UTC+8), `2026-11-22 11:05:09`.
pub fn fmt_time(ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

const STYLE: &str = r#"
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif;margin:0;background:#f4f6f9;color:#1f2933}
header{background:#8b1a1a;color:#fff;padding:.6rem 1.5rem;display:flex;align-items:center;gap:1.5rem;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;font-size:1.1rem}
header nav{display:flex;gap:1rem;flex:1}header .who{display:flex;gap:.8rem;align-items:center}
header form{margin:0}header button{background:none;border:1px solid #fff;color:#fff;border-radius:3px;padding:.15rem .6rem;cursor:pointer}
main{max-width:1100px;margin:1.5rem auto;padding:0 1rem}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1rem 1.3rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e4e7eb;font-size:.92rem;vertical-align:top}
th{background:#f0f2f5}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
label{display:block;margin:.4rem 0 .1rem;font-size:.9rem}input,select{padding:.35rem;border:1px solid #cbd2d9;border-radius:3px;min-width:16rem}
button.primary{background:#8b1a1a;color:#fff;border:0;border-radius:3px;padding:.45rem 1rem;margin-top:.6rem;cursor:pointer}
button.small{padding:.15rem .5rem;font-size:.85rem;cursor:pointer}
.msg{background:#e3f9e5;border-left:4px solid #31b237;padding:.6rem 1rem;margin-bottom:1rem}
.err{background:#ffe3e3;border-left:4px solid #e12d39;padding:.6rem 1rem;margin-bottom:1rem}
.ok{color:#207227;font-weight:600}.bad{color:#c01f2e;font-weight:600}.warn{color:#a35a00;font-weight:600}.muted{color:#7b8794}
.tasks{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.8rem}
.tasks a{display:block;background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:1rem;text-decoration:none;color:#8b1a1a}
pre{white-space:pre-wrap;background:#f0f2f5;padding:.6rem;border-radius:4px}
"#;

/// The page frame: header with navigation for what the caller may do.
pub fn layout(ctx: &PageCtx, title: &str, body: Markup) -> Markup {
    let role = ctx
        .principal
        .as_ref()
        .map_or("anonymous", |p| p.role.as_str());
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (ctx.t("app.name")) }
                style { (PreEscaped(STYLE)) }
            }
            body data-role=(role) {
                header {
                    a.brand href="/" { (ctx.t("app.name")) }
                    nav {
                        a href="/" { (ctx.t("nav.home")) }
                        a href="/catalogue" { (ctx.t("nav.catalogue")) }
                        a href="/negative-list" { (ctx.t("nav.negative")) }
                        a #nav-open href="/open-data" { (ctx.t("nav.open")) }
                        a #nav-disclosure href="/disclosure" { (ctx.t("nav.disclosure")) }
                        @if ctx.principal.is_some() { a #nav-authorization href="/authorization" { (ctx.t("nav.authorization")) } }
                        @if ctx.can(Permission::WorkspaceUse) || ctx.can(Permission::AuthorizationRead) { a #nav-releases href="/workspace/releases" { (ctx.t("nav.releases")) } }
                        @if ctx.can(Permission::AuthorizationRead) { a #nav-alerts href="/workspace/alerts" { (ctx.t("nav.alerts")) } }
                        @if ctx.can(Permission::OrgRead) { a href="/admin/orgs" { (ctx.t("nav.orgs")) } }
                        @if ctx.can(Permission::UserRead) { a href="/admin/users" { (ctx.t("nav.users")) } }
                        @if ctx.principal.is_some() { a href="/tickets" { (ctx.t("nav.tickets")) } }
                        @if ctx.can(Permission::LedgerRead) { a href="/ledger" { (ctx.t("nav.ledger")) } }
                        @if ctx.principal.is_some() { a href="/account" { (ctx.t("nav.account")) } }
                    }
                    div.who {
                        @if ctx.lang == Lang::Zh { a #lang-switch href="/lang/en" { "English" } } @else { a #lang-switch href="/lang/zh" { "中文" } }
                        @if let Some(p) = &ctx.principal {
                            span #who { (p.display_name) " · " (ctx.t(&format!("role.{}", p.role.as_str()))) }
                            form method="post" action="/logout" { (ctx.csrf_field()) button #logout type="submit" { (ctx.t("nav.logout")) } }
                        } @else {
                            a #login-link href="/login" { (ctx.t("nav.login")) }
                        }
                    }
                }
                main {
                    @if let Some(m) = &ctx.msg { div.msg #flash { (m) } }
                    @if let Some(e) = &ctx.err { div.err #error { (e) } }
                    (body)
                }
            }
        }
    }
}

/// An HTML response with the right content type.
pub fn html_response(status: StatusCode, m: Markup) -> Response {
    let mut r = (status, m.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A friendly error page (the portal's face of a domain error).
pub fn error_page(e: &DomainError) -> Response {
    let ctx = PageCtx {
        lang: Lang::Zh,
        principal: None,
        msg: None,
        err: None,
    };
    error_page_for(&ctx, e)
}

/// The error page inside the caller's own frame (navigation, language).
pub fn error_page_for(ctx: &PageCtx, e: &DomainError) -> Response {
    let status = crate::error::status_of(e.code);
    let detail = if status.is_server_error() {
        "internal error".to_string()
    } else {
        e.message.clone()
    };
    let body = html! {
        div.card {
            h1 { (ctx.t("error.title")) " / Something went wrong" }
            p #error-code { code { (e.code.as_str()) } }
            p { (detail) }
            p { a href="/" { (ctx.t("error.back")) } }
        }
    };
    html_response(status, layout(ctx, &ctx.t("error.title"), body))
}

/// Redirect after a form post, with a message or an error for the next page.
pub fn back(to: &str, msg: Result<String, String>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let q = match msg {
        Ok(m) => format!("msg={}", urlencode(&m)),
        Err(e) => format!("err={}", urlencode(&e)),
    };
    Redirect::to(&format!("{to}{sep}{q}")).into_response()
}

pub async fn set_lang(
    jar: CookieJar,
    ApiPath(lang): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let value = if lang == "en" { "en" } else { "zh" };
    let cookie = Cookie::build(("lang", value))
        .path("/")
        .same_site(SameSite::Lax)
        .build();
    // Return to the page the user came from when it is ours.
    let back_to = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]))
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".to_string());
    (jar.add(cookie), Redirect::to(&back_to)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_coding() {
        assert_eq!(urldecode(&urlencode("数据 a/b?c=d&e")), "数据 a/b?c=d&e");
        assert_eq!(urldecode("%"), "%");
        assert_eq!(urldecode("%4"), "%4");
        assert_eq!(urldecode("a%zzb"), "a%zzb");
        assert_eq!(fmt_time(0), "1970-01-01 08:00:00");
    }
}
