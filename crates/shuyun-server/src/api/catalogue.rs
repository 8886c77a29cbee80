//! The catalogue API: resources, grading versions, the negative list and
//! sharing consents. Visibility follows `CatalogueView`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shuyun_domain::workflow::{Consent, GradingAction, NegativeAction, NegativeState};
use shuyun_store::catalogue::{
    CatalogueView, ConsentRecord, Grading, NegativeEntry, NewGrading, NewResource, Resource,
};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

fn view(caller: &Caller) -> CatalogueView {
    CatalogueView::of(caller.0.as_ref())
}

pub async fn public_list(State(s): State<AppState>) -> ApiResult<Json<Vec<Resource>>> {
    Ok(Json(s.store.resources(CatalogueView::Public).await?))
}

pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Resource>>> {
    Ok(Json(s.store.resources(view(&caller)).await?))
}

pub async fn register(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewResource>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    let r = s
        .store
        .register_resource(caller.principal()?, &s.division, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

pub async fn show(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(s.store.resource(id, view(&caller)).await?))
}

pub async fn gradings(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Grading>>> {
    Ok(Json(s.store.gradings(id, view(&caller)).await?))
}

pub async fn propose(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewGrading>,
) -> ApiResult<(StatusCode, Json<Grading>)> {
    let g = s
        .store
        .propose_grading(caller.principal()?, id, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(g)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The reasoning recorded with the decision.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub note: String,
}

async fn decide_grading(
    s: &AppState,
    caller: &Caller,
    (id, version): (i64, i64),
    action: GradingAction,
    note: &str,
) -> ApiResult<Json<Grading>> {
    Ok(Json(
        s.store
            .decide_grading(caller.principal()?, id, version, action, note, s.now())
            .await?,
    ))
}

pub async fn confirm(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(k): ApiPath<(i64, i64)>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<Grading>> {
    decide_grading(&s, &caller, k, GradingAction::Confirm, &d.note).await
}

pub async fn reject(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(k): ApiPath<(i64, i64)>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<Grading>> {
    decide_grading(&s, &caller, k, GradingAction::Reject, &d.note).await
}

pub async fn pending(State(s): State<AppState>) -> ApiResult<Json<Vec<Grading>>> {
    Ok(Json(s.store.pending_gradings().await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NegativeRequest {
    /// The law or regulation that keeps the resource out (法律依据).
    #[schemars(length(min = 4, max = 1000))]
    pub legal_basis: String,
}

pub async fn request_negative(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NegativeRequest>,
) -> ApiResult<(StatusCode, Json<NegativeEntry>)> {
    let e = s
        .store
        .request_negative(caller.principal()?, id, &b.legal_basis, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(e)))
}

pub async fn negative_all(State(s): State<AppState>) -> ApiResult<Json<Vec<NegativeEntry>>> {
    Ok(Json(s.store.negative_entries(&[]).await?))
}

pub async fn negative_public(State(s): State<AppState>) -> ApiResult<Json<Vec<NegativeEntry>>> {
    Ok(Json(
        s.store.negative_entries(&[NegativeState::Approved]).await?,
    ))
}

async fn decide_negative(
    s: &AppState,
    caller: &Caller,
    id: i64,
    action: NegativeAction,
    note: &str,
) -> ApiResult<Json<NegativeEntry>> {
    Ok(Json(
        s.store
            .decide_negative(caller.principal()?, id, action, note, s.now())
            .await?,
    ))
}

pub async fn approve_negative(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<NegativeEntry>> {
    decide_negative(&s, &caller, id, NegativeAction::Approve, &d.note).await
}

pub async fn reject_negative(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<NegativeEntry>> {
    decide_negative(&s, &caller, id, NegativeAction::Reject, &d.note).await
}

pub async fn withdraw_negative(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<NegativeEntry>> {
    decide_negative(&s, &caller, id, NegativeAction::Withdraw, &d.note).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    pub consent: Consent,
    /// Reference of the providing department's document (文号).
    #[schemars(length(min = 1, max = 100))]
    pub document: String,
}

pub async fn record_consent(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ConsentBody>,
) -> ApiResult<(StatusCode, Json<ConsentRecord>)> {
    let c = s
        .store
        .record_consent(caller.principal()?, id, b.consent, &b.document, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

pub async fn consents(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ConsentRecord>>> {
    s.store.resource(id, view(&caller)).await?;
    Ok(Json(s.store.consents(id).await?))
}
