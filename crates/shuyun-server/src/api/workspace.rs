//! The secure workspace's records through the API (C3, C5): a scenario's
//! audited queries, release requests and their two-person review, the
//! download of approved releases, linkage alerts, and privacy budgets.
//! Thin handlers: the store checks who may do what.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shuyun_domain::workspace::{Budget, Epsilon, OutputPolicy, ReleaseAction};
use shuyun_store::authorization::agreements::AgreementScope;
use shuyun_store::workspace::{Alert, Release, StoredQuery};

use super::authorization::StepNote;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueriesQuery {
    /// At most this many, newest first (1–1000, default 100).
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn queries(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(scenario): ApiPath<i64>,
    ApiQuery(q): ApiQuery<QueriesQuery>,
) -> ApiResult<Json<Vec<StoredQuery>>> {
    Ok(Json(
        s.store
            .workspace_queries(caller.principal()?, scenario, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// A request to take a checked result out of the domain.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    /// 1–100 characters, e.g. 各区县企业信用等级分布.
    #[schemars(length(min = 1, max = 100))]
    pub title: String,
    /// `text/csv` or `application/json`.
    pub media_type: String,
    /// The result exactly as the workspace returned it (its SM3 must be
    /// the query's result hash).
    pub content: String,
}

pub async fn request_release(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(query): ApiPath<i64>,
    ApiJson(body): ApiJson<NewRelease>,
) -> ApiResult<(StatusCode, Json<Release>)> {
    let r = s
        .store
        .request_release(
            caller.principal()?,
            query,
            &body.title,
            &body.media_type,
            body.content.into_bytes(),
            s.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasesQuery {
    /// Only those awaiting a decision.
    #[serde(default)]
    pub pending: Option<bool>,
}

pub async fn releases(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReleasesQuery>,
) -> ApiResult<Json<Vec<Release>>> {
    Ok(Json(
        s.store
            .releases(caller.principal()?, q.pending.unwrap_or(false))
            .await?,
    ))
}

pub async fn release(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Release>> {
    Ok(Json(s.store.release(caller.principal()?, id).await?))
}

async fn release_step(
    s: AppState,
    caller: Caller,
    id: i64,
    action: ReleaseAction,
    note: StepNote,
) -> ApiResult<Json<Release>> {
    Ok(Json(
        s.store
            .release_step(caller.principal()?, id, action, &note.note, s.now())
            .await?,
    ))
}

macro_rules! release_steps {
    ($($name:ident => $action:expr),* $(,)?) => {$(
        pub async fn $name(
            State(s): State<AppState>,
            caller: Caller,
            ApiPath(id): ApiPath<i64>,
            ApiJson(body): ApiJson<StepNote>,
        ) -> ApiResult<Json<Release>> {
            release_step(s, caller, id, $action, body).await
        }
    )*};
}

release_steps! {
    approve_release => ReleaseAction::Approve,
    reject_release => ReleaseAction::Reject,
    withdraw_release => ReleaseAction::Withdraw,
}

/// The content of an approved release, as a download.
pub async fn release_content(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let (r, content) = s
        .store
        .release_content(caller.principal()?, id, s.now())
        .await?;
    let ext = if r.media_type == "text/csv" {
        "csv"
    } else {
        "json"
    };
    let mut resp = Body::from(content).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{}; charset=utf-8", r.media_type)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"release-{id}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&r.content_sm3) {
        h.insert("x-content-sm3", v);
    }
    Ok(resp)
}

pub async fn alerts(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Alert>>> {
    Ok(Json(s.store.workspace_alerts(caller.principal()?).await?))
}

pub async fn handle_alert(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StepNote>,
) -> ApiResult<Json<Alert>> {
    Ok(Json(
        s.store
            .handle_alert(caller.principal()?, id, &body.note, s.now())
            .await?,
    ))
}

/// An agreement's privacy budget, in ε.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    /// The total ε the agreement may spend on noisy queries (0.0001–100).
    pub total: f64,
}

/// The budget as shown: total, spent and remaining ε.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BudgetView {
    pub total: f64,
    pub spent: f64,
    pub remaining: f64,
}

impl From<Budget> for BudgetView {
    fn from(b: Budget) -> Self {
        Self {
            total: b.total.as_f64(),
            spent: b.spent.as_f64(),
            remaining: b.remaining().as_f64(),
        }
    }
}

pub async fn budget(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Option<BudgetView>>> {
    let p = caller.principal()?;
    s.store
        .agreement(AgreementScope::of(p), id, s.now())
        .await?;
    Ok(Json(
        s.store.privacy_budget(id).await?.map(BudgetView::from),
    ))
}

pub async fn set_budget(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<BudgetBody>,
) -> ApiResult<Json<BudgetView>> {
    let total = Epsilon::from_f64(body.total)?;
    Ok(Json(
        s.store
            .set_privacy_budget(caller.principal()?, id, total, s.now())
            .await?
            .into(),
    ))
}

pub async fn output_policy(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<OutputPolicy>> {
    let p = caller.principal()?;
    s.store
        .agreement(AgreementScope::of(p), id, s.now())
        .await?;
    Ok(Json(s.store.output_policy(id).await?))
}

pub async fn set_output_policy(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<OutputPolicy>,
) -> ApiResult<Json<OutputPolicy>> {
    Ok(Json(
        s.store
            .set_output_policy(caller.principal()?, id, body, s.now())
            .await?,
    ))
}

impl From<crate::error::ApiError> for crate::workspace::RunError {
    fn from(e: crate::error::ApiError) -> Self {
        e.0.into()
    }
}

/// The workspace of an approved scenario: its tables as the scope allows
/// them (each field with grade and exposure), the output policy and the
/// limits (schema browser).
pub async fn workspace(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(scenario): ApiPath<i64>,
) -> Result<Json<crate::workspace::WorkspaceInfo>, crate::workspace::RunError> {
    Ok(Json(
        crate::workspace::info(&s, caller.principal()?, scenario).await?,
    ))
}

/// One SQL query in a scenario's workspace.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// One query (SELECT … or WITH …), 1–100000 characters.
    #[schemars(length(min = 1, max = 100000))]
    pub sql: String,
    /// Run on synthetic look-alike data (合成数据) for writing and
    /// debugging; the result is labelled synthetic.
    #[serde(default)]
    pub synthetic: bool,
    /// Differential privacy for this query: noise added to each released
    /// count, sum or mean, its ε charged to the agreement's budget.
    #[serde(default)]
    pub noise: Option<NoiseRequest>,
}

/// The noise a query asks for.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NoiseRequest {
    #[serde(flatten)]
    pub mechanism: shuyun_domain::workspace::Mechanism,
    /// ε spent by the query, e.g. 0.5 (greater than 0, at most 10).
    pub epsilon: f64,
    /// Rows one person or enterprise may contribute to one cell (1–100,
    /// default 1); contributions beyond are clamped.
    #[serde(default)]
    pub rows_per_unit: Option<u32>,
}

impl NoiseRequest {
    fn spec(&self) -> Result<shuyun_workspace::NoiseSpec, crate::workspace::RunError> {
        Ok(crate::workspace::noise_spec(
            self.mechanism,
            self.epsilon,
            self.rows_per_unit,
        )?)
    }
}

/// Run a query in the workspace: checked before it is shown, audited in
/// the ledger whatever becomes of it.
pub async fn run_query(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(scenario): ApiPath<i64>,
    ApiJson(body): ApiJson<RunQuery>,
) -> Result<Json<crate::workspace::QueryResult>, crate::workspace::RunError> {
    Ok(Json(
        crate::workspace::run(
            &s,
            caller.principal()?,
            scenario,
            &body.sql,
            body.synthetic,
            body.noise.as_ref().map(NoiseRequest::spec).transpose()?,
        )
        .await?,
    ))
}
