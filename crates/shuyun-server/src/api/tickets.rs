//! Correction tickets and objections (A6): raised by anyone who can see a
//! resource, answered by its department within the configured working
//! days; each ticket is shown with its deadline status.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shuyun_domain::calendar::Deadline;
use shuyun_domain::tickets::{Outcome, TicketAction};
use shuyun_store::tickets::{NewTicket, Ticket, TicketScope, TicketStep};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// A ticket with its deadline as of now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The department's deadline while it owes an answer.
    pub deadline: Option<Deadline>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub view: TicketView,
    pub steps: Vec<TicketStep>,
}

/// A step on a ticket.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    pub action: TicketAction,
    /// For an answer: corrected or unfounded.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The finding (answer), the reasons (dispute) or a remark.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub note: String,
}

pub fn view(s: &AppState, t: Ticket) -> TicketView {
    let deadline = t
        .state
        .awaits_department()
        .then(|| s.calendar.deadline_status(t.due_at, s.now()));
    TicketView {
        ticket: t,
        deadline,
    }
}

/// The deadline of an answer owed from `now`.
pub fn due_from(s: &AppState, now: i64) -> i64 {
    s.calendar.deadline_ms(now, s.ticket_working_days)
}

pub async fn raise(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewTicket>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let now = s.now();
    let t = s
        .store
        .raise_ticket(caller.principal()?, id, body, due_from(&s, now), now)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&s, t))))
}

pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TicketView>>> {
    let p = caller.principal()?;
    let ts = s.store.tickets(TicketScope::of(p), None).await?;
    Ok(Json(ts.into_iter().map(|t| view(&s, t)).collect()))
}

pub async fn show(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TicketDetail>> {
    let t = s.store.ticket(caller.principal()?, id).await?;
    let steps = s.store.ticket_steps(id).await?;
    Ok(Json(TicketDetail {
        view: view(&s, t),
        steps,
    }))
}

pub async fn step(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StepBody>,
) -> ApiResult<Json<TicketView>> {
    let now = s.now();
    let t = s
        .store
        .ticket_step(
            caller.principal()?,
            id,
            body.action,
            body.outcome,
            &body.note,
            due_from(&s, now),
            now,
        )
        .await?;
    Ok(Json(view(&s, t)))
}
