//! The public disclosure page (信息公开, G6): every authorization with its
//! operator, content, scope, term and state in force, the public parts of
//! the implementation plans, and the selections. No login needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use shuyun_domain::authorization::plan::PlanMode;

use super::label;
use super::plans::products_list;
use crate::AppState;
use crate::pages::{PageCtx, fmt_time, html_response, layout};

pub async fn page(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let now = state.now();
    let authorizations = state
        .store
        .public_authorizations(now)
        .await
        .unwrap_or_default();
    let plans = state.store.public_plans().await.unwrap_or_default();
    let selections = state.store.selections().await.unwrap_or_default();
    let body = html! {
        div.card {
            h1 { (ctx.t("nav.disclosure")) }
            p.muted { (ctx.t("az.disclosure.intro")) }
            h2 { (ctx.t("az.agreements")) }
            @if authorizations.is_empty() { p.muted #no-authorizations { (ctx.t("az.disclosure.none")) } } @else {
                table #authorizations {
                    tr { th { (ctx.t("az.operator")) } th { (ctx.t("az.plan")) } th { (ctx.t("az.scope")) } th { (ctx.t("az.products")) } th { (ctx.t("az.term")) } th { (ctx.t("az.state")) } }
                    @for a in &authorizations {
                        tr data-agreement=(a.agreement.agreement_id) {
                            td.operator { (a.operator_org_name) }
                            td { (a.plan_name) }
                            td { @for line in &a.scope_summary { (line) br; } }
                            td { (products_list(&ctx, &a.agreement.products)) }
                            td { (a.agreement.term.start) " — " (a.agreement.term.end)
                                @if let Some(at) = a.signed_at { br; span.muted { (ctx.t("az.signed_at")) " " (fmt_time(at)) } }
                                @if let Some(at) = a.ended_at { br; span.muted { (ctx.t("az.ended_at")) " " (fmt_time(at)) } } }
                            td.state { (label(&ctx, "ag_state", a.agreement.state.as_str())) }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { (ctx.t("az.plans")) " " span.muted { (ctx.t("az.public_only")) } }
            @for p in &plans {
                div.plan data-plan=(p.id) style="border-top:1px solid #e4e7eb;padding-top:.5rem" {
                    h3 { (p.name) " " span.muted { "v" (p.version) " · " (label(&ctx, "plan_state", p.state.as_str())) } }
                    table {
                        tr { th style="width:14rem" { (ctx.t("az.item.mode")) } td { @match &p.authorization {
                            PlanMode::Whole => { (label(&ctx, "mode", "whole")) },
                            PlanMode::ByDomain { domains } => { (label(&ctx, "mode", "by_domain")) "：" @for d in domains { (d.as_str()) " " } },
                            PlanMode::ByScenario { scenarios } => { (label(&ctx, "mode", "by_scenario")) "：" @for s in scenarios { (s.as_str()) "　" } },
                        } } }
                        tr { th { (ctx.t("az.item.scope")) } td { @for c in &p.data_scope { code { (c) } " " } } }
                        tr { th { (ctx.t("az.item.term")) } td { (p.term_months) " " (ctx.t("az.months")) } }
                        tr { th { (ctx.t("az.item.criteria")) } td style="white-space:pre-wrap" { (p.operator_criteria) } }
                        tr { th { (ctx.t("az.item.schedule")) } td style="white-space:pre-wrap" { (p.schedule) } }
                        tr { th { (ctx.t("az.item.evaluation")) } td style="white-space:pre-wrap" { (p.evaluation_exit) } }
                        tr { th { (ctx.t("az.products")) } td { (products_list(&ctx, &p.products)) } }
                        tr { th { (ctx.t("az.item.supervision")) } td style="white-space:pre-wrap" { (p.supervision) } }
                        @if !p.filing_reference.is_empty() { tr { th { (ctx.t("az.filing_ref")) } td { (p.filing_reference) } } }
                    }
                }
            }
        }
        div.card {
            h2 { (ctx.t("az.selections")) }
            @if selections.is_empty() { p.muted { (ctx.t("az.selections.none")) } } @else { (super::selections::table(&ctx, &selections)) }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("nav.disclosure"), body))
}
