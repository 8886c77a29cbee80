//! The secure workspace's records in the portal: release requests (出域
//!申请) with the institution's two-person review and the operator's
//! download, linkage alerts (关联风险告警) for the institution, and a
//! scenario's audited queries on its agreement page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use shuyun_domain::Permission;
use shuyun_domain::workspace::{ReleaseAction, ReleaseState};
use shuyun_store::StoreError;
use shuyun_store::workspace::StoredQuery;

use super::authorization::{Done, Names, form_handler, label};
use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;

/// The audited queries of a scenario, newest first.
pub fn queries_table(ctx: &PageCtx, queries: &[StoredQuery], names: &Names) -> Markup {
    html! {
        table.queries {
            tr { th { (ctx.t("az.time")) } th { (ctx.t("ws.user")) } th { "SQL" } th { (ctx.t("ws.rows")) } th { (ctx.t("ws.outcome")) } }
            @for q in queries {
                tr data-query=(q.id) {
                    td { (fmt_time(q.created_at)) @if q.record.synthetic { br; span.muted { (ctx.t("ws.synthetic")) } } }
                    td { (names.user(q.user_id)) }
                    td { code { (q.record.sql.chars().take(300).collect::<String>()) } }
                    td { (q.record.rows_scanned) }
                    td { (label(ctx, "outcome", q.record.outcome.as_str())) }
                }
            }
        }
    }
}

fn state_label(ctx: &PageCtx, s: ReleaseState) -> String {
    ctx.t(&format!("ws.release.{}", s.as_str()))
}

pub async fn releases(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let all = state.store.releases(p, false).await.unwrap_or_default();
    let names = Names::load(&state).await;
    let reviewer = ctx.can(Permission::ScenarioReview);
    let body = html! {
        div.card {
            h1 { (ctx.t("ws.releases")) }
            p.muted { (ctx.t("ws.releases.intro")) }
            @if all.is_empty() { p.muted #no-releases { (ctx.t("ws.releases.none")) } } @else {
                table #releases {
                    tr { th { "#" } th { (ctx.t("ws.title")) } th { (ctx.t("az.operator")) } th { "SM3" } th { (ctx.t("az.state")) } th { (ctx.t("az.actions")) } }
                    @for r in &all {
                        tr data-release=(r.id) {
                            td { (r.id) }
                            td { (r.title) br; span.muted { (fmt_time(r.created_at)) " · " (names.user(r.author_user_id)) " · " (r.size) " B" } }
                            td { (names.org(r.operator_org_id)) }
                            td { code { (r.content_sm3.get(..16).unwrap_or("")) "…" } }
                            td.state {
                                (state_label(&ctx, r.state))
                                @if let Some(u) = r.first_reviewer { br; span.muted { "① " (names.user(u)) " " (r.first_note) } }
                                @if let Some(u) = r.second_reviewer { br; span.muted { "② " (names.user(u)) " " (r.second_note) } }
                                @if !r.reason.is_empty() { br; span.muted { (r.reason) } }
                            }
                            td {
                                @if r.state.released() {
                                    a.download href=(format!("/api/v1/releases/{}/content", r.id)) { (ctx.t("ws.download")) }
                                }
                                @let pending = matches!(r.state, ReleaseState::Requested | ReleaseState::Approved1);
                                @if pending && reviewer && r.author_user_id != p.user_id && r.first_reviewer != Some(p.user_id) {
                                    form.review method="post" action=(format!("/workspace/releases/{}/steps", r.id)) {
                                        (ctx.csrf_field())
                                        input name="note" maxlength="500" placeholder=(ctx.t("az.note"));
                                        " " button.small type="submit" name="action" value="approve" { (ctx.t("ws.approve")) }
                                        " " button.small type="submit" name="action" value="reject" { (ctx.t("ws.reject")) }
                                    }
                                }
                                @if pending && r.author_user_id == p.user_id {
                                    form method="post" action=(format!("/workspace/releases/{}/steps", r.id)) {
                                        (ctx.csrf_field())
                                        input name="note" maxlength="500" placeholder=(ctx.t("az.note"));
                                        " " button.small type="submit" name="action" value="withdraw" { (ctx.t("ws.withdraw")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("ws.releases"), body))
}

form_handler!(
    release_step,
    "/workspace/releases".to_string(),
    |state, ctx, p, id, f| {
        let action = match f.get("action").as_str() {
            "approve" => ReleaseAction::Approve,
            "reject" => ReleaseAction::Reject,
            "withdraw" => ReleaseAction::Withdraw,
            other => {
                return Err(shuyun_domain::DomainError::invalid(
                    "action",
                    format!("unknown step '{other}'"),
                ));
            }
        };
        let r = state
            .store
            .release_step(p, id, action, &f.get("note"), state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::said(state_label(&ctx, r.state)))
    }
);

pub async fn alerts(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let alerts = match state.store.workspace_alerts(p).await {
        Ok(a) => a,
        Err(e) => return super::error_page_for(&ctx, &e.into_domain()),
    };
    let names = Names::load(&state).await;
    let handler = ctx.can(Permission::AgreementEnforce);
    let body = html! {
        div.card {
            h1 { (ctx.t("ws.alerts")) }
            p.muted { (ctx.t("ws.alerts.intro")) }
            @if alerts.is_empty() { p.muted #no-alerts { (ctx.t("ws.alerts.none")) } } @else {
                table #alerts {
                    tr { th { (ctx.t("az.time")) } th { (ctx.t("az.operator")) } th { (ctx.t("az.agreement")) } th { (ctx.t("ws.detail")) } th { (ctx.t("az.state")) } }
                    @for a in &alerts {
                        tr data-alert=(a.id) {
                            td { (fmt_time(a.created_at)) }
                            td { (names.org(a.operator_org_id)) }
                            td { a href=(format!("/agreements/{}", a.agreement_id)) { "#" (a.agreement_id) } " · " (ctx.t("ws.query")) " #" (a.query_id) }
                            td { code { (a.detail.to_string().chars().take(300).collect::<String>()) } }
                            td.state {
                                @if a.state == "open" {
                                    span.bad { (ctx.t("ws.alert.open")) }
                                    @if handler {
                                        form method="post" action=(format!("/workspace/alerts/{}/handle", a.id)) {
                                            (ctx.csrf_field())
                                            input name="note" required minlength="4" maxlength="500" placeholder=(ctx.t("az.note"));
                                            " " button.small type="submit" { (ctx.t("ws.handle")) }
                                        }
                                    }
                                } @else {
                                    span.ok { (ctx.t("ws.alert.handled")) } br;
                                    span.muted { (a.handled_note) @if let Some(u) = a.handled_by { " · " (names.user(u)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("ws.alerts"), body))
}

form_handler!(
    handle_alert,
    "/workspace/alerts".to_string(),
    |state, ctx, p, id, f| {
        state
            .store
            .handle_alert(p, id, &f.get("note"), state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);
