//! Users: list, create, disable, enable, reset password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shuyun_store::accounts::{NewUser, User};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Only users of this organisation.
    pub org_id: Option<i64>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct TempPassword {
    /// Shown once; the user must change it at next sign-in.
    pub temporary_password: String,
}

pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.store.list_users(q.org_id).await?))
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = s
        .store
        .create_user(&caller.actor(), body, true, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub async fn show(State(s): State<AppState>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<User>> {
    Ok(Json(s.store.user(id).await?))
}

pub async fn disable(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        s.store
            .set_user_disabled(&caller.actor(), id, true, s.now())
            .await?,
    ))
}

pub async fn enable(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        s.store
            .set_user_disabled(&caller.actor(), id, false, s.now())
            .await?,
    ))
}

pub async fn reset_password(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TempPassword>> {
    let temporary_password = s.store.reset_password(&caller.actor(), id, s.now()).await?;
    Ok(Json(TempPassword { temporary_password }))
}
