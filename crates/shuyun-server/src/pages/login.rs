//! Sign-in and sign-out pages.

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use maud::html;
use serde::Deserialize;
use shuyun_domain::ErrorCode;

use super::{PageCtx, html_response, layout};
use crate::AppState;
use crate::api::auth::{attempt_login, session_cookie};
use crate::auth::{Caller, SESSION_COOKIE};
use crate::extract::PageForm;

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn login_page(ctx: &PageCtx, next: &str, error: Option<String>, status: StatusCode) -> Response {
    let body = html! {
        div.card style="max-width:26rem;margin:3rem auto" {
            h1 { (ctx.t("login.title")) }
            p.muted { (ctx.t("app.tagline")) }
            @if let Some(e) = error { div.err #login-error { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label for="username" { (ctx.t("login.username")) }
                input #username name="username" autocomplete="username" required;
                label for="password" { (ctx.t("login.password")) }
                input #password name="password" type="password" autocomplete="current-password" required;
                div { button.primary #login-submit type="submit" { (ctx.t("login.submit")) } }
            }
        }
    };
    html_response(status, layout(ctx, &ctx.t("login.title"), body))
}

pub async fn form(ctx: PageCtx, uri: axum::http::Uri) -> Response {
    let next = uri
        .query()
        .and_then(|q| {
            crate::auth::form_urlencoded_pairs(q.as_bytes())
                .into_iter()
                .find(|(k, _)| k == "next")
        })
        .map(|(_, v)| v)
        .unwrap_or_else(|| "/".into());
    if ctx.principal.is_some() {
        return Redirect::to(safe_next(&next)).into_response();
    }
    login_page(&ctx, safe_next(&next), None, StatusCode::OK)
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    jar: CookieJar,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    PageForm(f): PageForm<LoginForm>,
) -> Response {
    match attempt_login(
        &state,
        f.username.trim(),
        &f.password,
        &addr.ip().to_string(),
    )
    .await
    {
        Ok(s) => {
            let to = if s.principal.must_change_password {
                "/account?msg="
            } else {
                safe_next(&f.next)
            };
            let to = if to == "/account?msg=" {
                format!(
                    "/account?msg={}",
                    super::urlencode(&ctx.t("home.must_change"))
                )
            } else {
                to.to_string()
            };
            (jar.add(session_cookie(&state, s.token)), Redirect::to(&to)).into_response()
        }
        Err(e) => {
            let (msg, status) = match e.0.code {
                ErrorCode::Unauthenticated => (ctx.t("login.failed"), StatusCode::UNAUTHORIZED),
                _ => (e.0.message.clone(), crate::error::status_of(e.0.code)),
            };
            login_page(&ctx, safe_next(&f.next), Some(msg), status)
        }
    }
}

pub async fn logout(State(state): State<AppState>, caller: Caller, jar: CookieJar) -> Response {
    if let Some(p) = &caller.0
        && let Err(e) = state.store.logout(p, state.now()).await
    {
        return super::error_page(&e.into_domain());
    }
    (
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/"),
    )
        .into_response()
}
