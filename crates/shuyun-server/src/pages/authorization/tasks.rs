//! Each role's to-do list of the authorization lifecycle, with deadlines,
//! for the home page: plans to deliberate or file, selections to close,
//! score, answer or award, agreements to draft, file or activate, scenario
//! plans to review or submit, working copies to destroy.

use maud::{Markup, html};
use shuyun_domain::Permission;
use shuyun_domain::authorization::{AgreementState, PlanState, ScenarioState, SelectionState};
use shuyun_domain::calendar::Deadline;
use shuyun_store::authorization::agreements::AgreementScope;

use super::label;
use crate::AppState;
use crate::pages::PageCtx;

pub struct Task {
    pub href: String,
    pub what: String,
    pub subject: String,
    pub deadline: Option<Deadline>,
}

pub async fn tasks(state: &AppState, ctx: &PageCtx) -> Vec<Task> {
    let Some(p) = &ctx.principal else {
        return Vec::new();
    };
    let now = state.now();
    let mut out = Vec::new();
    let mut push = |href: String, key: &str, subject: String, deadline: Option<Deadline>| {
        out.push(Task {
            href,
            what: ctx.t(key),
            subject,
            deadline,
        });
    };
    if ctx.can(Permission::AuthorizationRead) {
        for plan in state.store.plans().await.unwrap_or_default() {
            let href = format!("/plans/{}", plan.id);
            let name = format!("{} v{}", plan.content.name, plan.version);
            match plan.state {
                PlanState::Draft
                    if ctx.can(Permission::PlanDraft) && plan.created_by == p.user_id =>
                {
                    push(href, "az.task.plan_draft", name, None)
                }
                PlanState::Deliberation if ctx.can(Permission::PlanDecide) => {
                    push(href, "az.task.plan_deliberation", name, None)
                }
                PlanState::Approved if ctx.can(Permission::PlanDecide) => {
                    let d = plan
                        .filing_due_at
                        .map(|due| state.calendar.deadline_status(due, now));
                    push(href, "az.task.plan_filing", name, d)
                }
                PlanState::Filed if ctx.can(Permission::PlanDecide) => {
                    push(href, "az.task.plan_activate", name, None)
                }
                _ => {}
            }
        }
    }
    let selections = state.store.selections().await.unwrap_or_default();
    let agreements = state
        .store
        .agreements(AgreementScope::of(p), now)
        .await
        .unwrap_or_default();
    for s in &selections {
        let href = format!("/selections/{}", s.id);
        let title = s.spec.title.clone();
        let manage = ctx.can(Permission::SelectionManage);
        match s.state {
            SelectionState::Announced if manage && now > s.spec.application_deadline_ms => {
                push(href, "az.task.sel_close", title, None)
            }
            SelectionState::Announced if ctx.can(Permission::SelectionApply) => {
                let deadline = Some(Deadline {
                    due_ms: s.spec.application_deadline_ms,
                    remaining_working_days: state
                        .calendar
                        .deadline_status(s.spec.application_deadline_ms, now)
                        .remaining_working_days,
                    overdue: false,
                });
                if now <= s.spec.application_deadline_ms {
                    push(href, "az.task.sel_apply", title, deadline)
                }
            }
            SelectionState::Reviewing => {
                let on_panel = state
                    .store
                    .selection_detail(p, s.id)
                    .await
                    .is_ok_and(|d| d.panel.iter().any(|m| m.user_id == p.user_id));
                if on_panel || manage {
                    push(href, "az.task.sel_review", title, None)
                }
            }
            SelectionState::PublicNotice if manage => {
                let open = state
                    .store
                    .objections(s.id)
                    .await
                    .unwrap_or_default()
                    .iter()
                    .filter(|o| o.state.is_open())
                    .count();
                if open > 0 {
                    push(href, "az.task.sel_objection", title, None)
                } else if s.notice_ends_at.is_some_and(|end| now > end) {
                    push(href, "az.task.sel_award", title, None)
                }
            }
            SelectionState::Awarded
                if ctx.can(Permission::AgreementManage)
                    && !agreements.iter().any(|a| a.selection_id == s.id) =>
            {
                push(href, "az.task.ag_draft", title, None)
            }
            _ => {}
        }
    }
    for a in &agreements {
        let href = format!("/agreements/{}", a.id);
        let name = format!("#{} {}", a.id, a.operator_org_name);
        let manage = ctx.can(Permission::AgreementManage);
        match a.state {
            AgreementState::Signed if manage => {
                let d = a
                    .filing_due_at
                    .map(|due| state.calendar.deadline_status(due, now));
                push(href.clone(), "az.task.ag_filing", name.clone(), d)
            }
            AgreementState::Filed if manage => {
                push(href.clone(), "az.task.ag_activate", name.clone(), None)
            }
            AgreementState::Suspended => {
                push(href.clone(), "az.task.ag_suspended", name.clone(), None)
            }
            AgreementState::Active if !manage => {
                push(href.clone(), "az.task.ag_active", name.clone(), None)
            }
            _ => {}
        }
        if a.state.is_live() {
            let scenarios = state.store.scenarios(a.id).await.unwrap_or_default();
            if ctx.can(Permission::ScenarioReview) {
                for sc in scenarios
                    .iter()
                    .filter(|sc| sc.state == ScenarioState::Submitted)
                {
                    push(
                        href.clone(),
                        "az.task.sc_review",
                        format!("{} · {}", name, sc.plan.name.as_str()),
                        None,
                    )
                }
            }
            if ctx.can(Permission::ScenarioSubmit)
                && matches!(a.state, AgreementState::Filed | AgreementState::Active)
                && !scenarios.iter().any(|sc| {
                    matches!(sc.state, ScenarioState::Submitted | ScenarioState::Approved)
                })
            {
                push(href.clone(), "az.task.scenario_submit", name.clone(), None)
            }
        }
    }
    if ctx.can(Permission::ScenarioReview) {
        for r in state.store.releases(p, true).await.unwrap_or_default() {
            if r.author_user_id != p.user_id && r.first_reviewer != Some(p.user_id) {
                push(
                    "/workspace/releases".into(),
                    "az.task.release_review",
                    r.title.clone(),
                    None,
                )
            }
        }
    }
    if ctx.can(Permission::AgreementEnforce) {
        for a in state.store.workspace_alerts(p).await.unwrap_or_default() {
            if a.state == "open" {
                push(
                    "/workspace/alerts".into(),
                    "az.task.alert",
                    format!("#{} · {}", a.agreement_id, a.kind),
                    None,
                )
            }
        }
    }
    if ctx.can(Permission::WorkspaceUse) {
        for r in state.store.releases(p, false).await.unwrap_or_default() {
            if r.state.released() {
                push(
                    "/workspace/releases".into(),
                    "az.task.release_ready",
                    r.title.clone(),
                    None,
                )
            }
        }
    }
    if ctx.can(Permission::AgreementManage) {
        for x in state.store.exits().await.unwrap_or_default() {
            if x.destruction.is_none() {
                let d = state.calendar.deadline_status(x.copies_due_at, now);
                push(
                    format!("/agreements/{}", x.agreement_id),
                    "az.task.destruction",
                    format!(
                        "#{} · {}",
                        x.agreement_id,
                        label(ctx, "exit", x.cause.as_str())
                    ),
                    Some(d),
                )
            }
        }
    }
    out
}

/// The to-do card of the home page.
pub fn card(ctx: &PageCtx, tasks: &[Task]) -> Markup {
    html! {
        div.card #todo {
            h2 { (ctx.t("az.pending")) }
            @if tasks.is_empty() { p.muted #no-todo { (ctx.t("az.pending.none")) } } @else {
                table #todo-list {
                    @for t in tasks {
                        tr.overdue[t.deadline.is_some_and(|d| d.overdue)] {
                            td { a href=(t.href) { (t.what) } }
                            td { (t.subject) }
                            td { (crate::pages::tickets::deadline_cell(ctx, t.deadline.as_ref())) }
                        }
                    }
                }
            }
        }
    }
}
