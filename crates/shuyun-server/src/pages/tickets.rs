//! Correction tickets and objections in the portal: raising one from a
//! resource page, the list with deadlines (overdue ones marked), and a
//! ticket with its steps and the forms of the steps the caller may take.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use shuyun_domain::DomainError;
use shuyun_domain::calendar::Deadline;
use shuyun_domain::tickets::{Outcome, TicketAction, TicketKind};
use shuyun_store::StoreError;
use shuyun_store::catalogue::Resource;
use shuyun_store::tickets::{NewTicket, Ticket, TicketScope};

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;
use crate::api::tickets::{due_from, view};
use crate::auth::FormFields;
use crate::extract::ApiPath;

pub fn deadline_cell(ctx: &PageCtx, d: Option<&Deadline>) -> Markup {
    html! {
        @match d {
            None => span.muted { "—" },
            Some(d) if d.overdue => span.bad.overdue { (ctx.t("tk.overdue")) " " (-d.remaining_working_days) " " (ctx.t("tk.workdays")) " · " (fmt_time(d.due_ms)) },
            Some(d) => span.due { (ctx.t("tk.remaining")) " " (d.remaining_working_days) " " (ctx.t("tk.workdays")) " · " (fmt_time(d.due_ms)) },
        }
    }
}

fn table(ctx: &PageCtx, state: &AppState, tickets: Vec<Ticket>) -> Markup {
    html! {
        table #tickets {
            tr { th { "#" } th { (ctx.t("tk.kind")) } th { (ctx.t("cat.name")) } th { (ctx.t("tk.raiser")) } th { (ctx.t("cat.status")) } th { (ctx.t("tk.deadline")) } }
            @for t in tickets {
                @let v = view(state, t);
                tr.overdue[v.deadline.is_some_and(|d| d.overdue)] data-ticket=(v.ticket.id) {
                    td { a href=(format!("/tickets/{}", v.ticket.id)) { (v.ticket.id) } }
                    td { (ctx.t(&format!("tk.kind.{}", v.ticket.kind.as_str()))) }
                    td { (v.ticket.resource_name) " " code { (v.ticket.resource_code) } }
                    td { (v.ticket.raiser_org_name) }
                    td.state { (ctx.t(&format!("tk.state.{}", v.ticket.state.as_str()))) }
                    td { (deadline_cell(ctx, v.deadline.as_ref())) }
                }
            }
        }
    }
}

/// The tickets card of a resource page: its tickets the caller may see,
/// and the form to raise one (signed in, not the owner).
pub async fn section(state: &AppState, ctx: &PageCtx, r: &Resource) -> Markup {
    let Some(p) = &ctx.principal else {
        return html! {};
    };
    let tickets = state
        .store
        .tickets(TicketScope::of(p), Some(r.id))
        .await
        .unwrap_or_default();
    let can_raise = p.org_id != r.owner_org_id;
    html! {
        div.card {
            h2 { (ctx.t("tk.title")) }
            @if !tickets.is_empty() { (table(ctx, state, tickets)) }
            @if can_raise {
                details #raise-ticket {
                    summary { (ctx.t("tk.raise")) }
                    form method="post" action=(format!("/catalogue/{}/tickets", r.id)) {
                        (ctx.csrf_field())
                        label for="tk_kind" { (ctx.t("tk.kind")) }
                        select #tk_kind name="kind" {
                            option value="objection" { (ctx.t("tk.kind.objection")) }
                            option value="correction" { (ctx.t("tk.kind.correction")) }
                        }
                        label for="tk_field" { (ctx.t("tk.field")) }
                        input #tk_field name="field" maxlength="64";
                        label for="tk_records" { (ctx.t("tk.records")) }
                        input #tk_records name="records" required maxlength="2000" style="width:40rem";
                        label for="tk_description" { (ctx.t("tk.description")) }
                        textarea #tk_description name="description" required minlength="4" maxlength="4000" rows="4" style="width:100%" {}
                        div { button.primary #submit-ticket type="submit" { (ctx.t("common.submit")) } }
                    }
                }
            }
        }
    }
}

pub async fn raise(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let f = FormFields::parse(&body);
    let result = async {
        let field = Some(f.get("field")).filter(|v| !v.trim().is_empty());
        let new = NewTicket {
            kind: TicketKind::parse(&f.get("kind"))?,
            data_version: None,
            field: field.map(|v| v.trim().to_string()),
            records: f.get("records"),
            description: f.get("description"),
        };
        let now = state.now();
        state
            .store
            .raise_ticket(p, id, new, due_from(&state, now), now)
            .await
            .map_err(StoreError::into_domain)
    }
    .await;
    match result {
        Ok(t) => super::back(&format!("/tickets/{}", t.id), Ok(ctx.t("common.done"))),
        Err(e) => super::back(&format!("/catalogue/{id}"), Err(e.message)),
    }
}

pub async fn list(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let tickets = state
        .store
        .tickets(TicketScope::of(p), None)
        .await
        .unwrap_or_default();
    let body = html! {
        div.card {
            h1 { (ctx.t("tk.title")) }
            p.muted { (ctx.t("tk.intro")) " " (state.ticket_working_days) " " (ctx.t("tk.workdays")) "." }
            @if tickets.is_empty() { p.muted #no-tickets { (ctx.t("tk.none")) } } @else { (table(&ctx, &state, tickets)) }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("tk.title"), body))
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let t = match state.store.ticket(p, id).await {
        Ok(t) => t,
        Err(e) => return super::error_page_for(&ctx, &e.into_domain()),
    };
    let steps = state.store.ticket_steps(id).await.unwrap_or_default();
    let owner = p.org_id == t.owner_org_id;
    let raiser = p.org_id == t.raiser_org_id;
    let v = view(&state, t);
    let t = &v.ticket;
    let actions: Vec<TicketAction> = TicketAction::ALL
        .into_iter()
        .filter(|a| {
            let party = if owner {
                Some(shuyun_domain::tickets::Party::Owner)
            } else if raiser {
                Some(shuyun_domain::tickets::Party::Raiser)
            } else {
                None
            };
            party.is_some_and(|party| t.state.apply(*a, party, t.disputes).is_ok())
        })
        .collect();
    let body = html! {
        div.card {
            p { a href="/tickets" { "← " (ctx.t("tk.title")) } }
            h1 { (ctx.t(&format!("tk.kind.{}", t.kind.as_str()))) " #" (t.id) }
            table {
                tr { th { (ctx.t("cat.name")) } td { a href=(format!("/catalogue/{}", t.resource_id)) { (t.resource_name) } " " code { (t.resource_code) } @if let Some(v) = t.data_version { " v" (v) } } }
                tr { th { (ctx.t("tk.raiser")) } td { (t.raiser_org_name) } }
                tr { th { (ctx.t("cat.owner")) } td { (t.owner_org_name) } }
                tr { th { (ctx.t("cat.status")) } td #ticket-state { (ctx.t(&format!("tk.state.{}", t.state.as_str()))) } }
                tr { th { (ctx.t("tk.deadline")) } td #ticket-deadline { (deadline_cell(&ctx, v.deadline.as_ref())) } }
                @if let Some(f) = &t.field { tr { th { (ctx.t("tk.field")) } td { code { (f) } } } }
                tr { th { (ctx.t("tk.records")) } td { (t.records) } }
                tr { th { (ctx.t("tk.description")) } td { (t.description) } }
                @if let Some(o) = t.outcome {
                    tr { th { (ctx.t("tk.outcome")) } td #ticket-outcome { (ctx.t(&format!("tk.outcome.{}", o.as_str()))) " · " (t.answer) } }
                }
            }
        }
        div.card {
            h2 { (ctx.t("tk.steps")) }
            table #ticket-steps {
                tr { th { (ctx.t("ledger.time")) } th { (ctx.t("tk.step")) } th { (ctx.t("cat.status")) } th { (ctx.t("cat.note")) } }
                tr { td { (fmt_time(t.created_at)) } td { (ctx.t("tk.raise")) } td { (ctx.t("tk.state.open")) } td {} }
                @for s in &steps {
                    tr { td { (fmt_time(s.at)) } td { (ctx.t(&format!("tk.action.{}", s.action.as_str()))) } td { (ctx.t(&format!("tk.state.{}", s.to_state.as_str()))) } td { (s.note) } }
                }
            }
            @if !actions.is_empty() {
                form #ticket-step method="post" action=(format!("/tickets/{}/steps", t.id)) {
                    (ctx.csrf_field())
                    @if actions.contains(&TicketAction::Answer) {
                        label for="outcome" { (ctx.t("tk.outcome")) }
                        select #outcome name="outcome" {
                            option value="" { "—" }
                            option value="corrected" { (ctx.t("tk.outcome.corrected")) }
                            option value="unfounded" { (ctx.t("tk.outcome.unfounded")) }
                        }
                    }
                    label for="step-note" { (ctx.t("cat.note")) }
                    textarea #step-note name="note" maxlength="500" rows="3" style="width:100%" {}
                    div {
                        @for a in &actions {
                            button.primary type="submit" name="action" value=(a.as_str()) id=(format!("step-{}", a.as_str())) { (ctx.t(&format!("tk.action.{}", a.as_str()))) }
                            " "
                        }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("tk.title"), body))
}

pub async fn step(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let f = FormFields::parse(&body);
    let result: Result<Ticket, DomainError> = async {
        let action = TicketAction::parse(&f.get("action"))?;
        let outcome = match f.get("outcome").as_str() {
            "" => None,
            o => Some(Outcome::parse(o)?),
        };
        let now = state.now();
        state
            .store
            .ticket_step(
                p,
                id,
                action,
                outcome,
                &f.get("note"),
                due_from(&state, now),
                now,
            )
            .await
            .map_err(StoreError::into_domain)
    }
    .await;
    ctx.after(
        &format!("/tickets/{id}"),
        result.map(|t| ctx.t(&format!("tk.state.{}", t.state.as_str()))),
    )
}
