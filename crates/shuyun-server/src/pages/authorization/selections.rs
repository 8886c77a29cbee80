//! Operator selections in the portal (运营机构遴选, B2): the announcement
//! form under a plan, the selection page (public part for everyone; for the
//! signed in, what the store lets each see of applications, panel, scores
//! and objections), applying, the panel, score sheets, qualification,
//! objections and answers, and the steps to the award.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use shuyun_domain::authorization::selection::{Criterion, SelectionFacts, SelectionSpecInput};
use shuyun_domain::authorization::{SelectionAction, SelectionMethod, SelectionSpec};
use shuyun_domain::{DomainError, OrgKind, Permission, Role};
use shuyun_store::StoreError;
use shuyun_store::authorization::plans::Plan;
use shuyun_store::authorization::selections::{RankedApplicant, Selection, SelectionDetail};

use super::{
    Done, Names, beijing_input, beijing_ms, form_handler, label, lines, step_form, steps_table,
};
use crate::AppState;
use crate::auth::FormFields;
use crate::extract::ApiPath;
use crate::pages::{PageCtx, fmt_time, html_response, layout};

const DAY_MS: i64 = 86_400_000;

pub fn table(ctx: &PageCtx, selections: &[Selection]) -> Markup {
    html! {
        table #selections {
            tr { th { "#" } th { (ctx.t("az.sel.title")) } th { (ctx.t("az.sel.method")) } th { (ctx.t("az.deadline")) } th { (ctx.t("az.state")) } }
            @for s in selections {
                tr data-selection=(s.id) {
                    td { a href=(format!("/selections/{}", s.id)) { (s.id) } }
                    td { a href=(format!("/selections/{}", s.id)) { (s.spec.title) } }
                    td { (label(ctx, "method", s.spec.method.as_str())) }
                    td { (fmt_time(s.spec.application_deadline_ms)) }
                    td.state { (label(ctx, "sel_state", s.state.as_str())) }
                }
            }
        }
    }
}

/// Points as typed (`36`, `36.5`, `36.25`) in hundredths of a point.
pub fn centipoints(text: &str) -> Result<u32, DomainError> {
    let bad = || DomainError::invalid("centipoints", format!("'{text}' is not a score"));
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

fn points(c: u32) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// The announcement form under an approved plan.
pub async fn open_form(ctx: &PageCtx, state: &AppState, plan: &Plan) -> Markup {
    let operators: Vec<_> = state
        .store
        .list_orgs()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.kind == OrgKind::Operator && !o.disabled)
        .collect();
    let scenarios: Vec<String> = match &plan.content.authorization {
        shuyun_domain::authorization::plan::PlanMode::ByScenario { scenarios } => {
            scenarios.iter().map(|s| s.as_str().to_string()).collect()
        }
        _ => Vec::new(),
    };
    let earliest = SelectionMethod::OpenTender.earliest_deadline_ms(&state.calendar, state.now());
    html! {
        form #selection-form method="post" action=(format!("/plans/{}/selections", plan.id)) {
            (ctx.csrf_field())
            label for="sel-title" { (ctx.t("az.sel.title")) }
            input #sel-title name="title" required maxlength="100" style="width:40rem";
            label for="sel-method" { (ctx.t("az.sel.method")) }
            select #sel-method name="method" {
                @for m in SelectionMethod::ALL { option value=(m.as_str()) { (label(ctx, "method", m.as_str())) } }
            }
            label for="sel-scenario" { (ctx.t("az.sel.scenario")) }
            select #sel-scenario name="scenario" {
                option value="" { "—" }
                @for s in &scenarios { option value=(s) { (s) } }
            }
            label for="sel-criteria" { (ctx.t("az.sel.criteria")) }
            textarea #sel-criteria name="criteria" rows="4" required style="width:100%" { "技术方案 | 40\n运营能力 | 30\n安全保障 | 20\n信用状况 | 10" }
            label for="sel-deadline" { (ctx.t("az.sel.deadline")) }
            input #sel-deadline name="deadline" type="datetime-local" required value=(beijing_input(earliest + DAY_MS));
            label for="sel-notice" { (ctx.t("az.sel.notice_days")) }
            input #sel-notice name="notice_working_days" type="number" min="1" max="20" value="5";
            label for="sel-min" { (ctx.t("az.sel.min")) }
            input #sel-min name="min_applicants" type="number" min="1" max="100";
            label { (ctx.t("az.sel.invited")) }
            @for o in &operators {
                label { input type="checkbox" name="invited" value=(o.id) style="min-width:0"; " " (o.name) }
            }
            div { button.primary #sel-open type="submit" { (ctx.t("az.sel.open")) } }
        }
    }
}

fn parse_spec(f: &FormFields) -> Result<SelectionSpec, DomainError> {
    let criteria = lines(&f.get("criteria"))
        .into_iter()
        .map(|parts| match parts.as_slice() {
            [name, weight] => Ok(Criterion {
                name: name.clone(),
                weight: weight.parse().map_err(|_| {
                    DomainError::invalid("criteria", format!("'{weight}' is not a weight"))
                })?,
            }),
            _ => Err(DomainError::invalid(
                "criteria",
                "each criterion line is: name | weight",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scenario = match f.get("scenario").trim() {
        "" => None,
        s => Some(s.parse()?),
    };
    let number = |name: &str| -> Result<Option<u32>, DomainError> {
        match f.get(name).trim() {
            "" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| DomainError::invalid(name, format!("'{v}' is not a number"))),
        }
    };
    SelectionSpec::new(SelectionSpecInput {
        title: f.get("title"),
        method: SelectionMethod::parse(&f.get("method"))?,
        scenario,
        criteria,
        application_deadline_ms: beijing_ms("application_deadline_ms", &f.get("deadline"))?,
        notice_working_days: number("notice_working_days")?.unwrap_or(5),
        min_applicants: number("min_applicants")?,
        invited_org_ids: f
            .all("invited")
            .map(|v| {
                v.parse()
                    .map_err(|_| DomainError::invalid("invited_org_ids", "not an organisation"))
            })
            .collect::<Result<BTreeSet<i64>, _>>()?,
    })
}

form_handler!(
    open,
    format!("/plans/{plan_id}"),
    |state, ctx, p, plan_id, f| {
        let spec = parse_spec(&f)?;
        let now = state.now();
        let earliest = spec.method.earliest_deadline_ms(&state.calendar, now);
        let s = state
            .store
            .open_selection(p, plan_id, spec, earliest, now)
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::at(format!("/selections/{}", s.id)))
    }
);

fn ranking_table(ctx: &PageCtx, ranking: &[RankedApplicant], id: &str) -> Markup {
    html! {
        table id=(id) {
            tr { th { (ctx.t("az.rank")) } th { (ctx.t("az.applicant")) } th { (ctx.t("az.mean")) } th { (ctx.t("az.panel")) } }
            @for r in ranking {
                tr { td { (r.rank) } td { (r.org_name) } td { (points(r.mean_centipoints)) } td { (r.reviewers) } }
            }
        }
    }
}

/// The steps the caller may take now, from the domain's transition
/// function over the selection's facts.
fn actions(d: &SelectionDetail, role: Role, now: i64) -> Vec<&'static str> {
    let s = &d.selection;
    let facts = SelectionFacts {
        now_ms: now,
        application_deadline_ms: s.spec.application_deadline_ms,
        applications: u32::try_from(s.applications).unwrap_or(u32::MAX),
        min_applicants: s.spec.min_applicants(),
        ranked: d
            .provisional_ranking
            .as_ref()
            .or(s.ranking.as_ref())
            .map_or(0, |r| u32::try_from(r.len()).unwrap_or(u32::MAX)),
        notice_ends_ms: s.notice_ends_at,
        open_objections: u32::try_from(d.objections.iter().filter(|o| o.state.is_open()).count())
            .unwrap_or(u32::MAX),
    };
    SelectionAction::ALL
        .into_iter()
        .filter(|a| a.actors().contains(&role) && s.state.apply(*a, &facts).is_ok())
        .map(SelectionAction::as_str)
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let sel = match state.store.selection(id).await {
        Ok(s) => s,
        Err(e) => return crate::pages::error_page_for(&ctx, &e.into_domain()),
    };
    let detail = match &ctx.principal {
        Some(p) => state.store.selection_detail(p, id).await.ok(),
        None => None,
    };
    let names = Names::load(&state).await;
    let now = state.now();
    let public = html! {
        div.card {
            p { a href=(if ctx.principal.is_some() { "/authorization" } else { "/disclosure" }) { "← " (ctx.t("az.selections")) } }
            h1 { (sel.spec.title) }
            table #selection-spec {
                tr { th { (ctx.t("az.state")) } td #selection-state { (label(&ctx, "sel_state", sel.state.as_str())) } }
                tr { th { (ctx.t("az.sel.method")) } td { (label(&ctx, "method", sel.spec.method.as_str())) } }
                @if let Some(sc) = &sel.spec.scenario { tr { th { (ctx.t("az.sc.name")) } td { (sc.as_str()) } } }
                tr { th { (ctx.t("az.sel.criteria")) } td { @for c in &sel.spec.criteria { (c.name) " " (c.weight) "　" } } }
                tr { th { (ctx.t("az.sel.deadline")) } td { (fmt_time(sel.spec.application_deadline_ms)) } }
                tr { th { (ctx.t("az.applications")) } td { (sel.applications) } }
                @if let Some(end) = sel.notice_ends_at { tr { th { (ctx.t("az.notice_ends")) } td #notice-ends { (fmt_time(end)) } } }
                @if let Some(org) = sel.awarded_org_id { tr { th { (ctx.t("az.awarded_to")) } td #awarded-to { (names.org(org)) } } }
            }
            @if let Some(r) = &sel.ranking { h2 { (ctx.t("az.ranking")) } (ranking_table(&ctx, r, "ranking")) }
        }
    };
    let Some(d) = detail else {
        return html_response(StatusCode::OK, layout(&ctx, &sel.spec.title, public));
    };
    let Some(p) = &ctx.principal else {
        return html_response(StatusCode::OK, layout(&ctx, &sel.spec.title, public));
    };
    let acts = actions(&d, p.role, now);
    let manager = ctx.can(Permission::SelectionManage);
    let my_app = d.applications.iter().find(|a| a.org_id == p.org_id);
    let on_panel = d.panel.iter().any(|m| m.user_id == p.user_id);
    let candidates: Vec<_> = if manager {
        state
            .store
            .list_users(None)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|u| !u.disabled && !d.panel.iter().any(|m| m.user_id == u.id))
            .collect()
    } else {
        Vec::new()
    };
    let plan = state.store.plan(sel.plan_id).await.ok();
    let drafted = state
        .store
        .agreements(
            shuyun_store::authorization::agreements::AgreementScope::of(p),
            now,
        )
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.selection_id == id);
    let body = html! {
        (public)
        div.card {
            h2 { (ctx.t("az.applications")) }
            table #applications {
                tr { th { "#" } th { (ctx.t("az.applicant")) } th { (ctx.t("az.time")) } th { (ctx.t("az.materials")) } th { (ctx.t("az.qualified")) } }
                @for a in &d.applications {
                    tr data-application=(a.id) {
                        td { (a.id) } td { (a.org_name) } td { (fmt_time(a.submitted_at)) }
                        td style="white-space:pre-wrap" { (a.materials) }
                        td {
                            @if a.qualified { span.ok { "✓" } } @else { span.bad { "✗ " (a.qualification_note) } }
                            @if manager && sel.state == shuyun_domain::authorization::SelectionState::Reviewing {
                                form method="post" action=(format!("/applications/{}/qualification", a.id)) {
                                    (ctx.csrf_field())
                                    input type="hidden" name="selection" value=(id);
                                    input name="note" placeholder=(ctx.t("az.note")) maxlength="500";
                                    button.small type="submit" name="qualified" value="true" { (ctx.t("az.qualify")) }
                                    button.small type="submit" name="qualified" value="false" { (ctx.t("az.disqualify")) }
                                }
                            }
                        }
                    }
                }
            }
            @if ctx.can(Permission::SelectionApply) && my_app.is_none() && sel.state == shuyun_domain::authorization::SelectionState::Announced {
                form #apply-form method="post" action=(format!("/selections/{id}/applications")) {
                    (ctx.csrf_field())
                    label for="materials" { (ctx.t("az.materials")) }
                    textarea #materials name="materials" rows="5" required maxlength="20000" style="width:100%" {}
                    div { button.primary #apply type="submit" { (ctx.t("az.apply")) } }
                }
            }
        }
        @if manager || on_panel || !d.panel.is_empty() {
            div.card {
                h2 { (ctx.t("az.panel")) }
                ul #panel { @for m in &d.panel { li { (names.user(m.user_id)) } } }
                @if manager && !sel.state.is_final() {
                    form #reviewer-form method="post" action=(format!("/selections/{id}/reviewers")) {
                        (ctx.csrf_field())
                        select #reviewer name="user_id" {
                            @for u in &candidates { option value=(u.id) { (names.user(u.id)) } }
                        }
                        " " button.small #add-reviewer type="submit" { (ctx.t("az.add_reviewer")) }
                    }
                }
                @if !d.scores.is_empty() {
                    h3 { (ctx.t("az.scores")) }
                    table #scores {
                        tr { th { (ctx.t("az.applicant")) } th { (ctx.t("az.reviewer")) } @for c in &sel.spec.criteria { th { (c.name) } } }
                        @for ((app, reviewer), row) in score_rows(&d) {
                            tr { td { (d.applications.iter().find(|a| a.id == app).map(|a| a.org_name.clone()).unwrap_or_default()) } td { (names.user(reviewer)) } @for c in row { td { (points(c)) } } }
                        }
                    }
                }
                @if let Some(r) = &d.provisional_ranking { h3 { (ctx.t("az.ranking")) } (ranking_table(&ctx, r, "provisional-ranking")) }
                @if on_panel && sel.state == shuyun_domain::authorization::SelectionState::Reviewing {
                    @for a in d.applications.iter().filter(|a| a.qualified && a.org_id != p.org_id) {
                        form.score-form method="post" action=(format!("/selections/{id}/scores")) data-application=(a.id) {
                            (ctx.csrf_field())
                            input type="hidden" name="application_id" value=(a.id);
                            strong { (ctx.t("az.score")) "：" (a.org_name) }
                            @for (i, c) in sel.spec.criteria.iter().enumerate() {
                                label { (c.name) "（≤" (c.weight) "）" }
                                input name=(format!("c{i}")) required inputmode="decimal" style="min-width:6rem";
                            }
                            div { button.primary type="submit" { (ctx.t("az.score")) } }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { (ctx.t("az.objections")) }
            table #objections {
                tr { th { (ctx.t("az.applicant")) } th { (ctx.t("az.objections")) } th { (ctx.t("az.state")) } th { (ctx.t("az.answer")) } }
                @for o in &d.objections {
                    tr data-objection=(o.id) {
                        td { (names.org(o.org_id)) } td { (o.text) } td { (label(&ctx, "obj_state", o.state.as_str())) }
                        td {
                            (o.answer)
                            @if manager && o.state.is_open() {
                                form.answer-form method="post" action=(format!("/objections/{}/answer", o.id)) {
                                    (ctx.csrf_field())
                                    input type="hidden" name="selection" value=(id);
                                    textarea name="answer" required maxlength="500" rows="2" style="width:100%" {}
                                    button.small type="submit" name="upheld" value="false" { (ctx.t("az.dismissed")) }
                                    " "
                                    button.small type="submit" name="upheld" value="true" { (ctx.t("az.upheld")) }
                                }
                            }
                        }
                    }
                }
            }
            @if sel.state == shuyun_domain::authorization::SelectionState::PublicNotice && !manager {
                form #objection-form method="post" action=(format!("/selections/{id}/objections")) {
                    (ctx.csrf_field())
                    label for="objection" { (ctx.t("az.object")) }
                    textarea #objection name="text" required minlength="4" maxlength="2000" rows="3" style="width:100%" {}
                    div { button.primary #object type="submit" { (ctx.t("az.object")) } }
                }
            }
        }
        div.card {
            h2 { (ctx.t("az.actions")) }
            (step_form(&ctx, &format!("/selections/{id}/steps"), "sel", &acts))
            @if let Some(a) = &drafted {
                p { a #agreement-link href=(format!("/agreements/{}", a.id)) { (ctx.t("az.agreement")) " #" (a.id) } " · " (label(&ctx, "ag_state", a.state.as_str())) }
            } @else if sel.state == shuyun_domain::authorization::SelectionState::Awarded && ctx.can(Permission::AgreementManage) {
                @if let Some(plan) = &plan {
                    details #draft-agreement open { summary { (ctx.t("az.ag.draft")) } (super::agreements::draft_form(&ctx, &state, &sel, plan).await) }
                }
            }
            h2 { (ctx.t("az.steps")) }
            (steps_table(&ctx, "sel", &d.steps, &names))
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &sel.spec.title, body))
}

/// Scores grouped per (application, reviewer), in criterion order.
fn score_rows(d: &SelectionDetail) -> Vec<((i64, i64), Vec<u32>)> {
    let n = d.selection.spec.criteria.len();
    let mut rows: std::collections::BTreeMap<(i64, i64), Vec<u32>> = Default::default();
    for s in &d.scores {
        let row = rows
            .entry((s.application_id, s.reviewer_user_id))
            .or_insert_with(|| vec![0; n]);
        if let Some(c) = row.get_mut(s.criterion) {
            *c = s.centipoints;
        }
    }
    rows.into_iter().collect()
}

form_handler!(
    apply,
    format!("/selections/{id}"),
    |state, ctx, p, id, f| {
        state
            .store
            .apply_selection(p, id, &f.get("materials"), state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    add_reviewer,
    format!("/selections/{id}"),
    |state, ctx, p, id, f| {
        let user: i64 = f
            .get("user_id")
            .parse()
            .map_err(|_| DomainError::invalid("user_id", "choose a reviewer"))?;
        state
            .store
            .add_reviewer(p, id, user, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    score,
    format!("/selections/{id}"),
    |state, ctx, p, id, f| {
        let application: i64 = f
            .get("application_id")
            .parse()
            .map_err(|_| DomainError::invalid("application_id", "no application"))?;
        let sel = state
            .store
            .selection(id)
            .await
            .map_err(StoreError::into_domain)?;
        let pts = (0..sel.spec.criteria.len())
            .map(|i| centipoints(&f.get(&format!("c{i}"))))
            .collect::<Result<Vec<u32>, _>>()?;
        state
            .store
            .score_application(p, id, application, &pts, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    qualify,
    format!("/selections/{}", f.get("selection")),
    |state, ctx, p, id, f| {
        state
            .store
            .qualify_application(
                p,
                id,
                f.get("qualified") == "true",
                &f.get("note"),
                state.now(),
            )
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    object,
    format!("/selections/{id}"),
    |state, ctx, p, id, f| {
        state
            .store
            .raise_objection(p, id, &f.get("text"), state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    answer,
    format!("/selections/{}", f.get("selection")),
    |state, ctx, p, id, f| {
        state
            .store
            .answer_objection(
                p,
                id,
                f.get("upheld") == "true",
                &f.get("answer"),
                state.now(),
            )
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(step, format!("/selections/{id}"), |state, ctx, p, id, f| {
    let action = SelectionAction::parse(&f.get("action"))?;
    let now = state.now();
    let sel = state
        .store
        .selection(id)
        .await
        .map_err(StoreError::into_domain)?;
    let notice_ends = sel.spec.notice_ends_ms(&state.calendar, now);
    let s = state
        .store
        .selection_step(p, id, action, &f.get("note"), notice_ends, now)
        .await
        .map_err(StoreError::into_domain)?;
    Ok(Done::said(label(&ctx, "sel_state", s.state.as_str())))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_typed_as_decimals() {
        assert_eq!(centipoints("36").expect("36"), 3600);
        assert_eq!(centipoints("36.5").expect("36.5"), 3650);
        assert_eq!(centipoints(" 36.25 ").expect("36.25"), 3625);
        assert_eq!(centipoints("0.05").expect("0.05"), 5);
        for bad in ["", "-1", "36.255", "3a", ".5", "1e3", "99999999999"] {
            assert!(centipoints(bad).is_err(), "{bad}");
        }
        assert_eq!(points(3625), "36.25");
    }
}
