//! The quality API (A6): rules per resource, the report of each data
//! version and scores over time. Reports hold row numbers, never values,
//! so whoever sees a resource in the catalogue sees its quality.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shuyun_domain::DomainError;
use shuyun_domain::quality::Rule;
use shuyun_store::catalogue::CatalogueView;
use shuyun_store::quality::{QualityRules, QualityScore, StoredReport};

use crate::AppState;
use crate::api::data::evaluate_quality;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

fn view(caller: &Caller) -> CatalogueView {
    CatalogueView::of(caller.0.as_ref())
}

pub async fn rules(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<QualityRules>> {
    s.store.resource(id, view(&caller)).await?;
    Ok(Json(s.store.quality_rules(id).await?))
}

pub async fn set_rules(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Vec<Rule>>,
) -> ApiResult<(StatusCode, Json<QualityRules>)> {
    let r = s
        .store
        .set_quality_rules(caller.principal()?, id, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<QualityScore>>> {
    s.store.resource(id, view(&caller)).await?;
    Ok(Json(s.store.quality_history(id).await?))
}

pub async fn report(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<StoredReport>> {
    s.store.resource(id, view(&caller)).await?;
    Ok(Json(s.store.quality_report(id, version).await?))
}

/// Measure the rules in force over a stored version again (after the rules
/// changed); timeliness is judged as at the version's upload.
pub async fn reevaluate(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> ApiResult<(StatusCode, Json<StoredReport>)> {
    let p = caller.principal()?;
    let r = s.store.resource(id, CatalogueView::Whole).await?;
    if r.owner_org_id != p.org_id {
        return Err(DomainError::forbidden("only the owning department may re-evaluate").into());
    }
    let v = s.store.data_version(id, version).await?;
    let grading = s
        .store
        .gradings(id, CatalogueView::Whole)
        .await?
        .into_iter()
        .find(|g| g.version == v.grading_version)
        .ok_or_else(|| DomainError::internal("the version's grading is missing"))?;
    let path = object_store::path::Path::from(v.path.as_str());
    let e = evaluate_quality(
        &s.store,
        s.objects.clone(),
        &r,
        &grading.schema,
        &path,
        v.uploaded_at,
    )
    .await?;
    let stored = s.store.record_quality(p, id, version, e, s.now()).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}
