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

/// The exposure of a field as the operator reads it in the schema browser.
fn exposure_label(ctx: &PageCtx, exposure: &str) -> Markup {
    let class = match exposure {
        "open" => "ok",
        "restricted" => "warn",
        _ => "bad",
    };
    html! { span class=(class) data-exposure=(exposure) { (ctx.t(&format!("ws.exposure.{exposure}"))) } }
}

/// The schema browser: each in-scope table with its fields, grades and
/// exposure; nothing outside the scope is listed.
fn schema_browser(ctx: &PageCtx, info: &crate::workspace::WorkspaceInfo) -> Markup {
    html! {
        div.card #schema {
            h2 { (ctx.t("ws.schema")) }
            p.muted { (ctx.t("ws.schema.intro")) }
            @for t in &info.tables {
                details.table open data-table=(t.name) {
                    summary {
                        code { (t.name) } " · " (t.resource_name) " " span.muted { "(" (t.resource) " v" (t.version) ")" }
                        @if t.row_filtered { " · " span.warn { (ctx.t("ws.row_filtered")) } }
                    }
                    table.fields {
                        tr { th { (ctx.t("ws.field")) } th { (ctx.t("ws.field.label")) } th { (ctx.t("ws.field.type")) } th { (ctx.t("ws.field.grade")) } th { (ctx.t("ws.field.use")) } }
                        @for f in &t.fields {
                            tr data-field=(f.name) {
                                td { code { (f.name) } @if t.unit.as_deref() == Some(f.name.as_str()) { " " span.muted { (ctx.t("ws.unit")) } } }
                                td { (f.label) }
                                td { (f.field_type) }
                                td { (shuyun_domain::catalogue::Grade::parse(&f.grade).map_or_else(|_| f.grade.clone(), |g| super::catalogue::grade_label(ctx, g))) @if f.pi != "none" { " · " (ctx.t(&format!("ws.pi.{}", f.pi))) } }
                                td { (exposure_label(ctx, &f.exposure)) }
                            }
                        }
                    }
                }
            }
            p.muted #limits {
                (ctx.t("ws.limits")) "：k = " (info.policy.min_units)
                " · " (ctx.t("ws.policy.dominance")) " " (info.policy.dominance_top) " / " (info.policy.dominance_pct) "%"
                " · " (ctx.t("ws.policy.p")) " " (info.policy.p_pct) "%"
                " · " (ctx.t("ws.limit.memory")) " " (info.memory_limit_bytes / (1024 * 1024)) " MiB"
                " · " (ctx.t("ws.limit.time")) " " (info.time_limit_seconds) " s"
                " · " (ctx.t("ws.limit.rows")) " " (info.result_row_limit)
                " · " (ctx.t("ws.limit.concurrent")) " " (info.concurrent_queries)
            }
        }
    }
}

/// A result as the operator sees it: synthetic label, what the checks
/// withheld and why, the rows, and the release request form for a checked
/// result over the real data.
fn result_card(ctx: &PageCtx, r: &crate::workspace::QueryResult) -> Markup {
    let check = &r.check;
    let count = |k: &str| check[k].as_u64().unwrap_or(0);
    let releasable = !r.synthetic && r.outcome.showed_result() && !r.rows.is_empty();
    html! {
        div.card #result data-query=(r.query_id) data-outcome=(r.outcome.as_str()) data-synthetic=(r.synthetic) {
            h2 { (ctx.t("ws.result")) " " span.muted { (ctx.t("ws.query")) " #" (r.query_id) } }
            @if r.synthetic {
                p.warn #synthetic-label { (ctx.t("ws.synthetic.label")) }
            }
            p #check {
                span class=(if count("rows_suppressed") > 0 { "warn" } else { "ok" }) { (crate::pages::authorization::label(ctx, "outcome", r.outcome.as_str())) }
                " · " (ctx.t("ws.check.produced")) " " (count("rows_produced"))
                " · " (ctx.t("ws.check.released")) " " (count("rows_released"))
                " · " (ctx.t("ws.check.suppressed")) " " (count("rows_suppressed"))
                " · " (ctx.t("ws.rows")) " " (r.rows_scanned)
            }
            @if let Some(eps) = check["noise"]["epsilon"].as_u64() {
                p #noise { (ctx.t("ws.noise.applied")) " ε = " (format!("{}", eps as f64 / 1e6)) " (" (check["noise"]["mechanism"].as_str().unwrap_or_default()) ")" }
            }
            @if let Some(reasons) = check["reasons"].as_array() {
                @if !reasons.is_empty() {
                    ul #reasons { @for x in reasons { li { (x.as_str().unwrap_or_default()) } } }
                }
            }
            @if r.rows.is_empty() { p.muted #no-rows { (ctx.t("ws.no_rows")) } } @else {
                div style="overflow-x:auto" {
                    table #rows {
                        tr { @for c in &r.columns { th { (c) } } }
                        @for row in &r.rows { tr { @for v in row { td { (v) } } } }
                    }
                }
            }
            p.muted { "SM3 " code #result-sm3 { (r.result_sm3) } }
            @if releasable {
                form #release-form method="post" action=(format!("/workspace/queries/{}/release", r.query_id)) {
                    (ctx.csrf_field())
                    input type="hidden" name="sm3" value=(r.result_sm3);
                    textarea name="content" hidden { (r.csv) }
                    label for="release-title" { (ctx.t("ws.release.title")) }
                    input #release-title name="title" required maxlength="100";
                    " " button.primary #request-release type="submit" { (ctx.t("ws.release.request")) }
                    p.muted { (ctx.t("ws.release.hint")) }
                }
            }
        }
    }
}

/// The workspace page (数据沙箱) of an approved scenario: the schema
/// browser, the SQL editor with its two runs (synthetic or real) and, after
/// a run, the checked result or the refusal.
async fn workspace_page(
    state: &AppState,
    ctx: &PageCtx,
    p: &shuyun_store::accounts::Principal,
    scenario: i64,
    sql: &str,
    epsilon: &str,
    ran: Option<Result<crate::workspace::QueryResult, crate::workspace::RunError>>,
) -> Response {
    let info = match crate::workspace::info(state, p, scenario).await {
        Ok(i) => i,
        Err(e) => {
            let body = html! {
                div.card #workspace-closed {
                    h1 { (ctx.t("ws.workspace")) }
                    p.bad { (e.message) " " span.muted { "(" (e.code) ")" } }
                }
            };
            return html_response(e.status, layout(ctx, &ctx.t("ws.workspace"), body));
        }
    };
    let example = info.tables.first().map_or_else(String::new, |t| {
        let group = t
            .fields
            .iter()
            .find(|f| f.exposure == "open" && f.field_type == "string")
            .map_or("1", |f| f.name.as_str());
        format!(
            "SELECT {group}, count(*) AS n\nFROM {}\nGROUP BY {group}\nORDER BY {group}",
            t.name
        )
    });
    let body = html! {
        div.card {
            h1 { (ctx.t("ws.workspace")) " " span.muted { "#" (scenario) } }
            p.muted { (ctx.t("ws.workspace.intro")) }
            p { a href=(format!("/agreements/{}", info.agreement_id)) { "← " (ctx.t("az.agreement")) " #" (info.agreement_id) } }
            form #sql-form method="post" action=(format!("/scenarios/{scenario}/workspace")) {
                (ctx.csrf_field())
                label for="sql" { "SQL" }
                textarea #sql name="sql" rows="9" spellcheck="false" required maxlength="100000"
                    style="width:100%;font-family:monospace" placeholder=(example) { (sql) }
                label for="epsilon" { (ctx.t("ws.noise")) }
                input #epsilon name="epsilon" inputmode="decimal" placeholder="0.5" value=(epsilon);
                span.muted { " " (ctx.t("ws.noise.hint")) }
                div {
                    button #run-synthetic type="submit" name="mode" value="synthetic" { (ctx.t("ws.run.synthetic")) }
                    " "
                    button.primary #run-real type="submit" name="mode" value="real" { (ctx.t("ws.run.real")) }
                }
            }
        }
        @match &ran {
            Some(Ok(r)) => (result_card(ctx, r)),
            Some(Err(e)) => div.card #refusal data-code=(e.code) {
                h2 { (ctx.t("ws.refused")) }
                p.bad { (e.message) }
                p.muted { (ctx.t("ws.code")) " " code #refusal-code { (e.code) } @if let Some(q) = e.query_id { " · " (ctx.t("ws.query")) " #" (q) } }
            },
            None => {}
        }
        (schema_browser(ctx, &info))
    };
    let status = match &ran {
        Some(Err(e)) => e.status,
        _ => StatusCode::OK,
    };
    html_response(status, layout(ctx, &ctx.t("ws.workspace"), body))
}

pub async fn workspace(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::ApiPath(scenario): crate::extract::ApiPath<i64>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    workspace_page(&state, &ctx, p, scenario, "", "", None).await
}

/// Run the editor's SQL and show the page again with the result (the SQL
/// stays in the editor).
pub async fn run(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::ApiPath(scenario): crate::extract::ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let f = crate::auth::FormFields::parse(&body);
    let sql = f.get("sql");
    let synthetic = f.get("mode") != "real";
    let epsilon = f.get("epsilon");
    let ran = match noise(&epsilon) {
        Ok(noise) => crate::workspace::run(&state, p, scenario, &sql, synthetic, noise).await,
        Err(e) => Err(e.into()),
    };
    workspace_page(&state, &ctx, p, scenario, &sql, &epsilon, Some(ran)).await
}

/// The editor's ε: blank for none, else Laplace noise spending it.
fn noise(epsilon: &str) -> Result<Option<shuyun_workspace::NoiseSpec>, shuyun_domain::DomainError> {
    let e = epsilon.trim();
    if e.is_empty() {
        return Ok(None);
    }
    let v: f64 = e
        .parse()
        .map_err(|_| shuyun_domain::DomainError::invalid("epsilon", "ε is a number, e.g. 0.5"))?;
    crate::workspace::noise_spec(shuyun_domain::workspace::Mechanism::Laplace, v, None).map(Some)
}

form_handler!(
    request_release,
    "/workspace/releases".to_string(),
    |state, ctx, p, id, f| {
        let r = state
            .store
            .request_release(
                p,
                id,
                &f.get("title"),
                "text/csv",
                f.get("content").into_bytes(),
                state.now(),
            )
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done {
            to: Some("/workspace/releases".into()),
            what: format!("#{} {}", r.id, state_label(&ctx, r.state)),
        })
    }
);
