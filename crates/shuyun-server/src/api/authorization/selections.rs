//! Operator selections (运营机构遴选, B2): the announcement under an
//! approved plan, applications, the review panel and its scores, the public
//! notice of the result with objections and answers, and the award.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shuyun_domain::authorization::selection::Score;
use shuyun_domain::authorization::{SelectionAction, SelectionSpec};
use shuyun_store::authorization::selections::{
    Objection, PanelMember, Selection, SelectionApplication, SelectionDetail,
};

use super::StepNote;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// An application to a selection.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// The applicant's materials (应选材料): capabilities, plan, security
    /// measures, credit; 1 to 20000 characters.
    #[schemars(length(min = 1, max = 20000))]
    pub materials: String,
}

/// A member for the review panel.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReviewer {
    pub user_id: i64,
}

/// One reviewer's scores of one application.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreSheet {
    pub application_id: i64,
    /// Hundredths of a point per criterion, in the order of the criteria;
    /// each at most the criterion's weight × 100.
    pub centipoints: Vec<u32>,
}

/// The qualification check of an application.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    pub qualified: bool,
    /// The reasons, required when it does not qualify.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub note: String,
}

/// An objection to a published result.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewObjection {
    /// The objection and its grounds, 4 to 2000 characters.
    #[schemars(length(min = 4, max = 2000))]
    pub text: String,
}

/// The answer to an objection.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionAnswer {
    /// Whether the objection is upheld (then reopen the review or fail the
    /// selection).
    pub upheld: bool,
    #[schemars(length(min = 1, max = 500))]
    pub answer: String,
}

pub async fn open(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(plan_id): ApiPath<i64>,
    ApiJson(spec): ApiJson<SelectionSpec>,
) -> ApiResult<(StatusCode, Json<Selection>)> {
    let now = s.now();
    let earliest = spec.method.earliest_deadline_ms(&s.calendar, now);
    let sel = s
        .store
        .open_selection(caller.principal()?, plan_id, spec, earliest, now)
        .await?;
    Ok((StatusCode::CREATED, Json(sel)))
}

pub async fn public_list(State(s): State<AppState>) -> ApiResult<Json<Vec<Selection>>> {
    Ok(Json(s.store.selections().await?))
}

pub async fn show(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SelectionDetail>> {
    Ok(Json(
        s.store.selection_detail(caller.principal()?, id).await?,
    ))
}

pub async fn apply(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewApplication>,
) -> ApiResult<(StatusCode, Json<SelectionApplication>)> {
    let a = s
        .store
        .apply_selection(caller.principal()?, id, &body.materials, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

pub async fn add_reviewer(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewReviewer>,
) -> ApiResult<Json<Vec<PanelMember>>> {
    Ok(Json(
        s.store
            .add_reviewer(caller.principal()?, id, body.user_id, s.now())
            .await?,
    ))
}

pub async fn score(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScoreSheet>,
) -> ApiResult<Json<Vec<Score>>> {
    Ok(Json(
        s.store
            .score_application(
                caller.principal()?,
                id,
                body.application_id,
                &body.centipoints,
                s.now(),
            )
            .await?,
    ))
}

pub async fn qualify(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Qualification>,
) -> ApiResult<Json<SelectionApplication>> {
    Ok(Json(
        s.store
            .qualify_application(caller.principal()?, id, body.qualified, &body.note, s.now())
            .await?,
    ))
}

pub async fn object(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewObjection>,
) -> ApiResult<(StatusCode, Json<Objection>)> {
    let o = s
        .store
        .raise_objection(caller.principal()?, id, &body.text, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(o)))
}

pub async fn answer(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ObjectionAnswer>,
) -> ApiResult<Json<Objection>> {
    Ok(Json(
        s.store
            .answer_objection(caller.principal()?, id, body.upheld, &body.answer, s.now())
            .await?,
    ))
}

async fn step(
    s: AppState,
    caller: Caller,
    id: i64,
    action: SelectionAction,
    body: StepNote,
) -> ApiResult<Json<Selection>> {
    let now = s.now();
    // The notice, if published now, runs for the announced working days.
    let sel = s.store.selection(id).await?;
    let notice_ends = sel.spec.notice_ends_ms(&s.calendar, now);
    Ok(Json(
        s.store
            .selection_step(
                caller.principal()?,
                id,
                action,
                &body.note,
                notice_ends,
                now,
            )
            .await?,
    ))
}

macro_rules! selection_steps {
    ($($name:ident => $action:expr),* $(,)?) => {$(
        pub async fn $name(
            State(s): State<AppState>,
            caller: Caller,
            ApiPath(id): ApiPath<i64>,
            ApiJson(body): ApiJson<StepNote>,
        ) -> ApiResult<Json<Selection>> {
            step(s, caller, id, $action, body).await
        }
    )*};
}

selection_steps! {
    close => SelectionAction::Close,
    publish => SelectionAction::Publish,
    reopen => SelectionAction::Reopen,
    award => SelectionAction::Award,
    fail => SelectionAction::Fail,
    cancel => SelectionAction::Cancel,
}
