//! The authorization lifecycle in the portal (授权运营, B1–B6, G6): the hub
//! with each role's lists, implementation plans (`plans`), operator
//! selections (`selections`), agreements with their scenarios and exits
//! (`agreements`), the public disclosure page (`disclosure`) and the
//! per-role to-do list of the home page (`tasks`). Forms post to thin
//! handlers that parse the form into the domain's validated content and
//! call the same store operations as the JSON API.

pub mod agreements;
pub mod disclosure;
pub mod plans;
pub mod selections;
pub mod tasks;
pub mod texts;

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use shuyun_domain::calendar::Date;
use shuyun_domain::{DomainError, Permission};
use shuyun_store::authorization::Step;
use shuyun_store::authorization::agreements::AgreementScope;

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;

/// The label of a lifecycle value: `az.{group}.{value}`.
pub fn label(ctx: &PageCtx, group: &str, value: &str) -> String {
    ctx.t(&format!("az.{group}.{value}"))
}

/// The history of a plan, selection, agreement or scenario.
pub fn steps_table(ctx: &PageCtx, group: &str, steps: &[Step], users: &Names) -> Markup {
    html! {
        table.steps {
            tr { th { (ctx.t("az.time")) } th { (ctx.t("az.step")) } th { (ctx.t("az.state")) } th { (ctx.t("az.reviewer")) } th { (ctx.t("az.note")) } }
            @for s in steps {
                tr {
                    td { (fmt_time(s.at)) }
                    td { (label(ctx, &format!("{group}_action"), &s.action)) }
                    td { (label(ctx, &format!("{group}_state"), &s.to_state)) }
                    td { @if let Some(u) = s.actor { (users.user(u)) } }
                    td { (s.note) }
                }
            }
        }
    }
}

/// The form of the steps the caller may take: a note and one button per
/// action, posted as `action`.
pub fn step_form(ctx: &PageCtx, to: &str, group: &str, actions: &[&str]) -> Markup {
    html! {
        @if !actions.is_empty() {
            form.step-form method="post" action=(to) {
                (ctx.csrf_field())
                label { (ctx.t("az.note")) }
                textarea name="note" maxlength="500" rows="2" style="width:100%" {}
                div {
                    @for a in actions {
                        button.primary type="submit" name="action" value=(a) id=(format!("{group}-{a}")) { (label(ctx, &format!("{group}_action"), a)) }
                        " "
                    }
                }
            }
        }
    }
}

/// What a form post did: where to go next (default: back to the page of
/// the form) and what to say.
pub struct Done {
    pub to: Option<String>,
    pub what: String,
}

impl Done {
    /// Back to the form's page with "done".
    pub fn here() -> Self {
        Self {
            to: None,
            what: String::new(),
        }
    }

    /// Back to the form's page with "done" and what was done.
    pub fn said(what: String) -> Self {
        Self { to: None, what }
    }

    /// To the page of what was created.
    pub fn at(to: String) -> Self {
        Self {
            to: Some(to),
            what: String::new(),
        }
    }
}

/// A form-post handler: signed in or to the login page; the form parsed;
/// `$body` (a `Result<Done, DomainError>`) run; then a redirect to where it
/// leads, or back to `$to` with the refusal. With `$id`, the handler takes
/// one path parameter.
macro_rules! form_handler {
    ($name:ident, $to:expr, |$state:ident, $ctx:ident, $p:ident, $id:ident, $f:ident| $body:expr) => {
        pub async fn $name(
            axum::extract::State($state): axum::extract::State<crate::AppState>,
            $ctx: crate::pages::PageCtx,
            crate::extract::ApiPath($id): crate::extract::ApiPath<i64>,
            body: axum::body::Bytes,
        ) -> axum::response::Response {
            $crate::pages::authorization::form_handler!(@run $state, $ctx, $p, $f, body, $to, $body)
        }
    };
    ($name:ident, $to:expr, |$state:ident, $ctx:ident, $p:ident, $f:ident| $body:expr) => {
        pub async fn $name(
            axum::extract::State($state): axum::extract::State<crate::AppState>,
            $ctx: crate::pages::PageCtx,
            body: axum::body::Bytes,
        ) -> axum::response::Response {
            $crate::pages::authorization::form_handler!(@run $state, $ctx, $p, $f, body, $to, $body)
        }
    };
    (@run $state:ident, $ctx:ident, $p:ident, $f:ident, $bytes:ident, $to:expr, $body:expr) => {{
        use axum::response::IntoResponse;
        let Some($p) = &$ctx.principal else {
            return axum::response::Redirect::to("/login").into_response();
        };
        let $f = crate::auth::FormFields::parse(&$bytes);
        let back: String = $to;
        let result: Result<$crate::pages::authorization::Done, shuyun_domain::DomainError> =
            async { $body }.await;
        match result {
            Ok(done) => $ctx.after(done.to.as_deref().unwrap_or(&back), Ok(done.what)),
            Err(e) => $ctx.after(&back, Err(e)),
        }
    }};
}
pub(crate) use form_handler;

/// Non-empty lines of a text area, each split at `|` (or the full-width
/// `｜`) into trimmed parts.
pub fn lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(['|', '｜']).map(|p| p.trim().to_string()).collect())
        .collect()
}

/// A `datetime-local` value read as Beijing time, in Unix milliseconds.
pub fn beijing_ms(field: &str, value: &str) -> Result<i64, DomainError> {
    let bad = || DomainError::invalid(field, "expected a date and time, e.g. 2026-12-31T17:00");
    let (d, t) = value.trim().split_once('T').ok_or_else(bad)?;
    let date: Date = d.parse().map_err(|_| bad())?;
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.get(..2).unwrap_or(m).parse().map_err(|_| bad())?;
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(date.start_epoch_ms_beijing() + (h * 60 + m) * 60_000)
}

/// The `datetime-local` form of Unix milliseconds in Beijing time.
pub fn beijing_input(ms: i64) -> String {
    let t = fmt_time(ms);
    format!("{}T{}", &t[..10], &t[11..16])
}

/// Names of users and organisations, for showing ids.
#[derive(Default)]
pub struct Names {
    users: HashMap<i64, String>,
    orgs: HashMap<i64, String>,
}

impl Names {
    pub async fn load(state: &AppState) -> Self {
        let orgs: HashMap<i64, String> = state
            .store
            .list_orgs()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let users = state
            .store
            .list_users(None)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|u| {
                let org = orgs.get(&u.org_id).cloned().unwrap_or_default();
                (u.id, format!("{}（{org}）", u.display_name))
            })
            .collect();
        Self { users, orgs }
    }

    pub fn user(&self, id: i64) -> String {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    pub fn org(&self, id: i64) -> String {
        self.orgs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }
}

/// The hub (授权运营): plans for those who read the lifecycle, selections
/// for everyone signed in, agreements as the caller may see them.
pub async fn hub(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let now = state.now();
    let plans = if ctx.can(Permission::AuthorizationRead) {
        state.store.plans().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let selections = state.store.selections().await.unwrap_or_default();
    let agreements = state
        .store
        .agreements(AgreementScope::of(p), now)
        .await
        .unwrap_or_default();
    let body = html! {
        @if ctx.can(Permission::AuthorizationRead) {
            div.card {
                h1 { (ctx.t("az.plans")) }
                p.muted { (ctx.t("az.plan.intro")) }
                @if ctx.can(Permission::PlanDraft) { p { a #new-plan href="/plans/new" { "＋ " (ctx.t("az.plan.new")) } } }
                @if plans.is_empty() { p.muted { (ctx.t("az.plans.none")) } } @else {
                    table #plans {
                        tr { th { "#" } th { (ctx.t("az.item.name")) } th { (ctx.t("az.version")) } th { (ctx.t("az.state")) } th { (ctx.t("az.filing")) } }
                        @for pl in &plans {
                            @let v = crate::api::authorization::plans::view(&state, pl.clone());
                            tr data-plan=(pl.id) {
                                td { a href=(format!("/plans/{}", pl.id)) { (pl.id) } }
                                td { a href=(format!("/plans/{}", pl.id)) { (pl.content.name) } }
                                td { "v" (pl.version) }
                                td.state { (label(&ctx, "plan_state", pl.state.as_str())) }
                                td { (super::tickets::deadline_cell(&ctx, v.filing_deadline.as_ref())) }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { (ctx.t("az.selections")) }
            @if selections.is_empty() { p.muted { (ctx.t("az.selections.none")) } } @else { (selections::table(&ctx, &selections)) }
        }
        div.card {
            h2 { (ctx.t("az.agreements")) }
            @if agreements.is_empty() { p.muted #no-agreements { (ctx.t("az.agreements.none")) } } @else {
                table #agreements {
                    tr { th { "#" } th { (ctx.t("az.operator")) } th { (ctx.t("az.term")) } th { (ctx.t("az.state")) } th { (ctx.t("az.filing")) } }
                    @for a in agreements {
                        @let e = crate::api::authorization::agreements::entry(&state, a);
                        @let a = &e.agreement;
                        tr data-agreement=(a.id) {
                            td { a href=(format!("/agreements/{}", a.id)) { (a.id) } }
                            td { (a.operator_org_name) }
                            td { (a.content.term.start) " — " (a.content.term.end) }
                            td.state { (label(&ctx, "ag_state", a.state.as_str())) }
                            td { (super::tickets::deadline_cell(&ctx, e.filing_deadline.as_ref())) }
                        }
                    }
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout(&ctx, &ctx.t("nav.authorization"), body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, t};
    use shuyun_domain::authorization::*;

    #[test]
    fn form_helpers() {
        assert_eq!(
            lines("a | b ｜c\n\n  d  \n"),
            vec![vec!["a", "b", "c"], vec!["d"]]
        );
        let ms = beijing_ms("x", "2026-12-31T17:05").expect("parse");
        assert_eq!(fmt_time(ms), "2026-12-31 17:05:00");
        assert_eq!(beijing_input(ms), "2026-12-31T17:05");
        for bad in ["", "2026-12-31", "2026-13-01T10:00", "2026-12-31T25:00"] {
            assert!(beijing_ms("x", bad).is_err(), "{bad}");
        }
    }

    /// Every state, action and choice of the lifecycle has a label in
    /// both languages.
    #[test]
    fn every_value_is_labelled() {
        let mut keys: Vec<String> = Vec::new();
        let mut add = |group: &str, values: Vec<&str>| {
            keys.extend(values.into_iter().map(|v| format!("az.{group}.{v}")));
        };
        add("plan_state", PlanState::ALL.map(PlanState::as_str).to_vec());
        add(
            "plan_action",
            PlanAction::ALL.map(PlanAction::as_str).to_vec(),
        );
        add(
            "sel_state",
            SelectionState::ALL.map(SelectionState::as_str).to_vec(),
        );
        add(
            "sel_action",
            SelectionAction::ALL.map(SelectionAction::as_str).to_vec(),
        );
        add(
            "ag_state",
            AgreementState::ALL.map(AgreementState::as_str).to_vec(),
        );
        add(
            "ag_action",
            AgreementAction::ALL.map(AgreementAction::as_str).to_vec(),
        );
        add(
            "sc_state",
            ScenarioState::ALL.map(ScenarioState::as_str).to_vec(),
        );
        add(
            "sc_action",
            ScenarioAction::ALL.map(ScenarioAction::as_str).to_vec(),
        );
        add(
            "method",
            SelectionMethod::ALL.map(SelectionMethod::as_str).to_vec(),
        );
        add("purpose", Purpose::ALL.map(Purpose::as_str).to_vec());
        add("use", ProductUse::ALL.map(ProductUse::as_str).to_vec());
        add("kind", ProductKind::ALL.map(ProductKind::as_str).to_vec());
        add(
            "output",
            scenario::OutputForm::ALL
                .map(scenario::OutputForm::as_str)
                .to_vec(),
        );
        add(
            "rev",
            plan::Revision::ALL.map(plan::Revision::as_str).to_vec(),
        );
        add(
            "mode",
            AuthorizationMode::ALL
                .map(AuthorizationMode::as_str)
                .to_vec(),
        );
        add(
            "exit",
            exit::ExitCause::ALL.map(exit::ExitCause::as_str).to_vec(),
        );
        add("deny", DenyReason::ALL.map(DenyReason::as_str).to_vec());
        add(
            "outcome",
            shuyun_domain::workspace::QueryOutcome::ALL
                .map(shuyun_domain::workspace::QueryOutcome::as_str)
                .to_vec(),
        );
        for s in shuyun_domain::workspace::ReleaseState::ALL {
            let k = format!("ws.release.{}", s.as_str());
            assert_ne!(t(Lang::Zh, &k), k);
            assert_ne!(t(Lang::En, &k), k);
        }
        add(
            "obj_state",
            selection::ObjectionState::ALL
                .map(selection::ObjectionState::as_str)
                .to_vec(),
        );
        for k in keys {
            assert_ne!(t(Lang::Zh, &k), k, "no Chinese label for {k}");
            assert_ne!(t(Lang::En, &k), k, "no English label for {k}");
        }
    }
}
