//! Organisations: list, register, disable, enable.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shuyun_store::accounts::{NewOrg, Org};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

pub async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Org>>> {
    Ok(Json(s.store.list_orgs().await?))
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewOrg>,
) -> ApiResult<(StatusCode, Json<Org>)> {
    let org = s.store.create_org(&caller.actor(), body, s.now()).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

pub async fn show(State(s): State<AppState>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Org>> {
    Ok(Json(s.store.org(id).await?))
}

pub async fn disable(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Org>> {
    Ok(Json(
        s.store
            .set_org_disabled(&caller.actor(), id, true, s.now())
            .await?,
    ))
}

pub async fn enable(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Org>> {
    Ok(Json(
        s.store
            .set_org_disabled(&caller.actor(), id, false, s.now())
            .await?,
    ))
}
