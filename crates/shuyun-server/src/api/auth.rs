//! Sign-in, sign-out, the caller's own profile and password.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use shuyun_domain::{ErrorCode, Permission, Role};
use shuyun_store::accounts::NewSession;

use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schemars(length(min = 1, max = 64))]
    pub username: String,
    #[schemars(length(min = 1, max = 128))]
    pub password: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    pub org_name: String,
    pub role: Role,
    pub permissions: Vec<Permission>,
    pub must_change_password: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct LoginResponse {
    pub me: Me,
    /// Send this as `X-CSRF-Token` on unsafe requests made with the cookie.
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schemars(length(min = 1, max = 128))]
    pub current_password: String,
    /// 10-128 characters mixing letters with digits or symbols.
    #[schemars(length(min = 10, max = 128))]
    pub new_password: String,
}

pub fn me_of(p: &shuyun_store::accounts::Principal) -> Me {
    Me {
        user_id: p.user_id,
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        org_id: p.org_id,
        org_name: p.org_name.clone(),
        role: p.role,
        permissions: Permission::ALL
            .into_iter()
            .filter(|x| p.allows(*x))
            .collect(),
        must_change_password: p.must_change_password,
    }
}

pub fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .path("/")
        .build()
}

/// Check the rate limit, then the password; shared by the API and the page.
pub async fn attempt_login(
    state: &AppState,
    username: &str,
    password: &str,
    client: &str,
) -> Result<NewSession, ApiError> {
    let now = state.now();
    if let Some(wait) = state.limiter.blocked_for(username, client, now) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many failed sign-ins; try again in {wait} s"),
        ));
    }
    match state.store.login(username, password, client, now).await {
        Ok(s) => {
            state.limiter.succeeded(username);
            Ok(s)
        }
        Err(e) => {
            let e = e.into_domain();
            if e.code == ErrorCode::Unauthenticated {
                state.limiter.failed(username, client, now);
            }
            Err(ApiError(e))
        }
    }
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    req_parts: axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let client = req_parts.0.ip().to_string();
    let s = attempt_login(&state, &body.username, &body.password, &client).await?;
    let jar = jar.add(session_cookie(&state, s.token.clone()));
    Ok((
        jar,
        Json(LoginResponse {
            me: me_of(&s.principal),
            csrf_token: s.csrf,
            expires_at: s.expires_at,
        }),
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
) -> ApiResult<Response> {
    let p = caller.principal()?;
    state.store.logout(p, state.now()).await?;
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

pub async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    Ok(Json(me_of(caller.principal()?)))
}

pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    _headers: HeaderMap,
    ApiJson(body): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    let p = caller.principal()?;
    state
        .store
        .change_password(p, &body.current_password, &body.new_password, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
