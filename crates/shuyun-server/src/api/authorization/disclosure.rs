//! Public disclosure (信息公开, G6): every authorization with its operator,
//! content, scope, term and state in force, and the public parts of the
//! approved implementation plans. No login needed.

use axum::Json;
use axum::extract::State;
use shuyun_store::authorization::disclosure::{AuthorizationDisclosure, PlanDisclosure};

use crate::AppState;
use crate::error::ApiResult;

pub async fn authorizations(
    State(s): State<AppState>,
) -> ApiResult<Json<Vec<AuthorizationDisclosure>>> {
    Ok(Json(s.store.public_authorizations(s.now()).await?))
}

pub async fn plans(State(s): State<AppState>) -> ApiResult<Json<Vec<PlanDisclosure>>> {
    Ok(Json(s.store.public_plans().await?))
}
