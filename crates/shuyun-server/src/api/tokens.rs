//! API tokens: one's own, and (for administrators) anyone's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shuyun_domain::{DomainError, Permission};
use shuyun_store::accounts::{ApiToken, IssuedToken};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// What the token is for.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Permissions the token may use (a subset of the owner's); empty = all.
    #[serde(default)]
    pub scopes: Vec<Permission>,
    /// Lifetime in days, 1 to 366.
    #[schemars(range(min = 1, max = 366))]
    pub expires_in_days: u32,
}

pub async fn list_mine(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(
        s.store.list_tokens(caller.principal()?.user_id).await?,
    ))
}

pub async fn issue_mine(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<IssueToken>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let p = caller.principal()?;
    let t = s
        .store
        .issue_token(p, p.user_id, &b.name, &b.scopes, b.expires_in_days, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

pub async fn revoke_mine(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ApiToken>> {
    let p = caller.principal()?;
    let t = s.store.token(id).await?;
    if t.user_id != p.user_id {
        return Err(DomainError::not_found(format!("token {id}")).into());
    }
    Ok(Json(s.store.revoke_token(p, id, s.now()).await?))
}

pub async fn list_for(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ApiToken>>> {
    s.store.user(id).await?;
    Ok(Json(s.store.list_tokens(id).await?))
}

pub async fn issue_for(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<IssueToken>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let p = caller.principal()?;
    let t = s
        .store
        .issue_token(p, id, &b.name, &b.scopes, b.expires_in_days, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

pub async fn revoke_any(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ApiToken>> {
    Ok(Json(
        s.store
            .revoke_token(caller.principal()?, id, s.now())
            .await?,
    ))
}
