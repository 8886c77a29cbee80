//! Operating agreements (运营协议, B3), scenario plans (应用场景, B4) and
//! the access decision an operator can ask ("may I?") — the one the secure
//! workspace will ask for every query.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shuyun_domain::authorization::{
    AccessRequest, AgreementAction, AgreementContent, Decision, Purpose, ScenarioAction,
    ScenarioPlan, filing_due_ms,
};
use shuyun_domain::calendar::{Date, Deadline};
use shuyun_domain::catalogue::{FieldName, ResourceCode};
use shuyun_store::authorization::agreements::{Agreement, AgreementScope, Scenario};
use shuyun_store::authorization::exits::Exit;
use shuyun_store::authorization::{Step, StepObject};

use super::StepNote;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// An agreement with its filing deadline as of now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AgreementEntry {
    #[serde(flatten)]
    pub agreement: Agreement,
    /// While filing (备案) is outstanding: due 20 working days after
    /// signing.
    pub filing_deadline: Option<Deadline>,
}

/// An agreement with its scenario plans and history.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AgreementDetail {
    #[serde(flatten)]
    pub entry: AgreementEntry,
    pub scenarios: Vec<Scenario>,
    pub steps: Vec<Step>,
    /// Once it expired, was terminated or exited: the deletion of working
    /// copies, the handover and the retention of work logs.
    pub exit: Option<Exit>,
}

/// A renewal (续期): the new term's last day.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    pub end: Date,
}

/// "May I?": the access the caller's organisation asks about. The
/// organisation is the caller's own, never named in the request.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    pub resource: ResourceCode,
    /// One field; omitted, the answer says which fields are visible.
    #[serde(default)]
    pub field: Option<FieldName>,
    /// The purpose; omitted, the scenario's.
    #[serde(default)]
    pub purpose: Option<Purpose>,
    /// The approved scenario plan the access serves.
    #[serde(default)]
    pub scenario_id: Option<i64>,
}

pub fn entry(s: &AppState, agreement: Agreement) -> AgreementEntry {
    let filing_deadline = agreement
        .state
        .awaits_filing()
        .then_some(agreement.filing_due_at)
        .flatten()
        .map(|due| s.calendar.deadline_status(due, s.now()));
    AgreementEntry {
        agreement,
        filing_deadline,
    }
}

pub async fn draft(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(selection_id): ApiPath<i64>,
    ApiJson(body): ApiJson<AgreementContent>,
) -> ApiResult<(StatusCode, Json<AgreementEntry>)> {
    let a = s
        .store
        .draft_agreement(caller.principal()?, selection_id, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(entry(&s, a))))
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<AgreementEntry>>> {
    let scope = AgreementScope::of(caller.principal()?);
    let all = s.store.agreements(scope, s.now()).await?;
    Ok(Json(all.into_iter().map(|a| entry(&s, a)).collect()))
}

pub async fn show(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AgreementDetail>> {
    let scope = AgreementScope::of(caller.principal()?);
    let a = s.store.agreement(scope, id, s.now()).await?;
    let scenarios = s.store.scenarios(id).await?;
    let steps = s
        .store
        .authorization_steps(StepObject::Agreement, id)
        .await?;
    let exit = match s.store.exit(id).await {
        Ok(e) => Some(e),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(AgreementDetail {
        entry: entry(&s, a),
        scenarios,
        steps,
        exit,
    }))
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AgreementContent>,
) -> ApiResult<Json<AgreementEntry>> {
    let a = s
        .store
        .update_agreement(caller.principal()?, id, body, s.now())
        .await?;
    Ok(Json(entry(&s, a)))
}

pub async fn renew(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Renewal>,
) -> ApiResult<(StatusCode, Json<AgreementEntry>)> {
    let a = s
        .store
        .renew_agreement(caller.principal()?, id, body.end, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(entry(&s, a))))
}

async fn step(
    s: AppState,
    caller: Caller,
    id: i64,
    action: AgreementAction,
    body: StepNote,
) -> ApiResult<Json<AgreementEntry>> {
    let now = s.now();
    let due = filing_due_ms(&s.calendar, now);
    let a = s
        .store
        .agreement_step(caller.principal()?, id, action, &body.note, due, now)
        .await?;
    if a.state != shuyun_domain::authorization::AgreementState::Active {
        s.workspaces.cancel_agreement(a.id);
    }
    Ok(Json(entry(&s, a)))
}

macro_rules! agreement_steps {
    ($($name:ident => $action:expr),* $(,)?) => {$(
        pub async fn $name(
            State(s): State<AppState>,
            caller: Caller,
            ApiPath(id): ApiPath<i64>,
            ApiJson(body): ApiJson<StepNote>,
        ) -> ApiResult<Json<AgreementEntry>> {
            step(s, caller, id, $action, body).await
        }
    )*};
}

agreement_steps! {
    sign => AgreementAction::Sign,
    file => AgreementAction::File,
    activate => AgreementAction::Activate,
    suspend => AgreementAction::Suspend,
    reinstate => AgreementAction::Reinstate,
    terminate => AgreementAction::Terminate,
    exit => AgreementAction::Exit,
    cancel => AgreementAction::Cancel,
}

pub async fn submit_scenario(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(agreement_id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScenarioPlan>,
) -> ApiResult<(StatusCode, Json<Scenario>)> {
    let sc = s
        .store
        .submit_scenario(caller.principal()?, agreement_id, body, s.now())
        .await?;
    Ok((StatusCode::CREATED, Json(sc)))
}

pub async fn show_scenario(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Scenario>> {
    let scope = AgreementScope::of(caller.principal()?);
    Ok(Json(s.store.scenario_in(scope, id).await?))
}

async fn scenario_step(
    s: AppState,
    caller: Caller,
    id: i64,
    action: ScenarioAction,
    body: StepNote,
) -> ApiResult<Json<Scenario>> {
    let sc = s
        .store
        .scenario_step(caller.principal()?, id, action, &body.note, s.now())
        .await?;
    if sc.state != shuyun_domain::authorization::ScenarioState::Approved {
        s.workspaces.cancel_scenario(sc.agreement_id, sc.id);
    }
    Ok(Json(sc))
}

macro_rules! scenario_steps {
    ($($name:ident => $action:expr),* $(,)?) => {$(
        pub async fn $name(
            State(s): State<AppState>,
            caller: Caller,
            ApiPath(id): ApiPath<i64>,
            ApiJson(body): ApiJson<StepNote>,
        ) -> ApiResult<Json<Scenario>> {
            scenario_step(s, caller, id, $action, body).await
        }
    )*};
}

scenario_steps! {
    approve_scenario => ScenarioAction::Approve,
    reject_scenario => ScenarioAction::Reject,
    revoke_scenario => ScenarioAction::Revoke,
    withdraw_scenario => ScenarioAction::Withdraw,
}

/// The access decision for the caller's organisation, now.
pub async fn authorize(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(q): ApiJson<AccessQuery>,
) -> ApiResult<Json<Decision>> {
    let p = caller.principal()?;
    let request = AccessRequest {
        org_id: p.org_id,
        resource: q.resource,
        field: q.field,
        purpose: q.purpose,
        scenario_id: q.scenario_id,
    };
    Ok(Json(s.store.authorize(p, request, s.now()).await?))
}

/// The destruction of an exited operator's working copies (销毁记录).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Destruction {
    /// What was destroyed (workspaces, object keys), 1–500 characters.
    #[schemars(length(min = 1, max = 500))]
    pub object: String,
    /// How (e.g. deletion of the objects and their encryption keys),
    /// 1–200 characters.
    #[schemars(length(min = 1, max = 200))]
    pub method: String,
    /// The second person who confirms it, outside the operator.
    pub confirmed_by_user_id: i64,
}

/// A handover item to add.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHandoverItem {
    #[schemars(length(min = 1, max = 100))]
    pub title: String,
}

/// The evidence that a handover item is done.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverDone {
    /// A document number, a ledger index, …; up to 500 characters.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub evidence: String,
}

pub async fn exits(State(s): State<AppState>) -> ApiResult<Json<Vec<Exit>>> {
    Ok(Json(s.store.exits().await?))
}

pub async fn destroy(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Destruction>,
) -> ApiResult<Json<Exit>> {
    Ok(Json(
        s.store
            .record_destruction(
                caller.principal()?,
                id,
                &body.object,
                &body.method,
                body.confirmed_by_user_id,
                s.now(),
            )
            .await?,
    ))
}

pub async fn add_handover(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewHandoverItem>,
) -> ApiResult<Json<Exit>> {
    Ok(Json(
        s.store
            .add_handover_item(caller.principal()?, id, &body.title, s.now())
            .await?,
    ))
}

pub async fn complete_handover(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, item)): ApiPath<(i64, usize)>,
    ApiJson(body): ApiJson<HandoverDone>,
) -> ApiResult<Json<Exit>> {
    Ok(Json(
        s.store
            .complete_handover(caller.principal()?, id, item, &body.evidence, s.now())
            .await?,
    ))
}

pub async fn release_logs(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(_): ApiJson<StepNote>,
) -> ApiResult<Json<Exit>> {
    Ok(Json(
        s.store
            .release_work_logs(caller.principal()?, id, s.now())
            .await?,
    ))
}
