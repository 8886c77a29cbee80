//! Implementation plans (实施方案, B1): drafts, deliberation, approval,
//! filing within 20 working days (shown with its deadline status), entry
//! into force, and new versions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use shuyun_domain::authorization::{PlanAction, PlanContent, PlanState, Revision, filing_due_ms};
use shuyun_domain::calendar::Deadline;
use shuyun_store::authorization::plans::Plan;
use shuyun_store::authorization::{Step, StepObject};

use super::StepNote;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// A plan version with its filing deadline as of now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PlanView {
    #[serde(flatten)]
    pub plan: Plan,
    /// While filing (备案) is outstanding: due 20 working days after
    /// approval; `overdue` once passed.
    pub filing_deadline: Option<Deadline>,
}

/// Another version of the same plan.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct VersionRef {
    pub id: i64,
    pub version: i64,
    pub revision: Revision,
    pub state: PlanState,
}

/// A plan version with its siblings and history.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PlanDetail {
    #[serde(flatten)]
    pub view: PlanView,
    /// All versions of the plan, oldest first.
    pub versions: Vec<VersionRef>,
    pub steps: Vec<Step>,
}

pub fn view(s: &AppState, plan: Plan) -> PlanView {
    let filing_deadline = plan
        .state
        .awaits_filing()
        .then_some(plan.filing_due_at)
        .flatten()
        .map(|due| s.calendar.deadline_status(due, s.now()));
    PlanView {
        plan,
        filing_deadline,
    }
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PlanContent>,
) -> ApiResult<(StatusCode, Json<PlanView>)> {
    let plan = s
        .store
        .create_plan(caller.principal()?, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(view(&s, plan))))
}

pub async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<PlanView>>> {
    let plans = s.store.plans().await?;
    Ok(Json(plans.into_iter().map(|p| view(&s, p)).collect()))
}

pub async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PlanDetail>> {
    let plan = s.store.plan(id).await?;
    let versions = s
        .store
        .plan_versions(plan.series_id)
        .await?
        .into_iter()
        .map(|v| VersionRef {
            id: v.id,
            version: v.version,
            revision: v.revision,
            state: v.state,
        })
        .collect();
    let steps = s.store.authorization_steps(StepObject::Plan, id).await?;
    Ok(Json(PlanDetail {
        view: view(&s, plan),
        versions,
        steps,
    }))
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PlanContent>,
) -> ApiResult<Json<PlanView>> {
    let plan = s
        .store
        .update_plan(caller.principal()?, id, body, s.now())
        .await?;
    Ok(Json(view(&s, plan)))
}

pub async fn revise(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PlanContent>,
) -> ApiResult<(StatusCode, Json<PlanView>)> {
    let plan = s
        .store
        .revise_plan(caller.principal()?, id, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(view(&s, plan))))
}

async fn step(
    s: AppState,
    caller: Caller,
    id: i64,
    action: PlanAction,
    body: StepNote,
) -> ApiResult<Json<PlanView>> {
    let now = s.now();
    let due = filing_due_ms(&s.calendar, now);
    let plan = s
        .store
        .plan_step(caller.principal()?, id, action, &body.note, due, now)
        .await?;
    Ok(Json(view(&s, plan)))
}

macro_rules! plan_steps {
    ($($name:ident => $action:expr),* $(,)?) => {$(
        pub async fn $name(
            State(s): State<AppState>,
            caller: Caller,
            ApiPath(id): ApiPath<i64>,
            ApiJson(body): ApiJson<StepNote>,
        ) -> ApiResult<Json<PlanView>> {
            step(s, caller, id, $action, body).await
        }
    )*};
}

plan_steps! {
    submit => PlanAction::Submit,
    withdraw => PlanAction::Withdraw,
    approve => PlanAction::Approve,
    reject => PlanAction::Reject,
    file => PlanAction::File,
    activate => PlanAction::Activate,
}
