//! Operating agreements in the portal (运营协议, B3–B5): the draft form of
//! an awarded selection (term, scope per resource with fields and row
//! filters, domains, scenarios, purposes, products, revenue sharing), an
//! agreement with its steps, renewal, scenario plans (submitted by the
//! operator, reviewed by the institution) and, after it ends, the exit:
//! destruction record, handover items and log retention.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use shuyun_domain::authorization::agreement::{
    AgreementContentInput, RevenueShare, ShareParty, TermInput,
};
use shuyun_domain::authorization::plan::PlanMode;
use shuyun_domain::authorization::scenario::{OutputForm, ScenarioPlanInput, ScenarioProduct};
use shuyun_domain::authorization::scope::{FieldSet, ResourceGrant, ScopeInput};
use shuyun_domain::authorization::{
    AccessRequest, AgreementAction, AgreementContent, AgreementState, ProductKind, Purpose,
    RevenueSharing, RowFilter, ScenarioAction, ScenarioPlan, ScenarioState, Scope, Term,
    filing_due_ms,
};
use shuyun_domain::calendar::Date;
use shuyun_domain::catalogue::{DataDomain, FieldName, ResourceCode};
use shuyun_domain::{DomainError, Permission};
use shuyun_store::StoreError;
use shuyun_store::authorization::StepObject;
use shuyun_store::authorization::agreements::{Agreement, AgreementScope, Scenario};
use shuyun_store::authorization::plans::Plan;
use shuyun_store::authorization::selections::Selection;
use shuyun_store::catalogue::CatalogueView;

use super::plans::{parse_products, products_list, products_text};
use super::{Done, Names, form_handler, label, lines, step_form, steps_table};
use crate::AppState;
use crate::auth::FormFields;
use crate::extract::ApiPath;
use crate::pages::{PageCtx, fmt_time, html_response, layout};

/// One resource offered in a grants form: its code and name, and what is
/// pre-filled.
struct GrantRow {
    code: String,
    name: String,
    checked: bool,
    fields: String,
    rows: String,
}

fn grant_rows_of(grants: &[ResourceGrant], names: &[(String, String)]) -> Vec<GrantRow> {
    grants
        .iter()
        .map(|g| {
            let code = g.resource.to_string();
            GrantRow {
                name: names
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default(),
                code,
                checked: true,
                fields: match &g.fields {
                    FieldSet::All => String::new(),
                    FieldSet::Only(fs) => fs
                        .iter()
                        .map(FieldName::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                },
                rows: g
                    .rows
                    .as_ref()
                    .and_then(|r| serde_json::to_string(r).ok())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Per resource: a checkbox, the fields and the row filter.
fn grants_fields(ctx: &PageCtx, rows: &[GrantRow]) -> Markup {
    html! {
        table.grants {
            tr { th {} th { (ctx.t("az.resource")) } th { (ctx.t("az.fields")) } th { (ctx.t("az.rows")) } }
            @for r in rows {
                tr data-code=(r.code) {
                    td { input type="checkbox" name="grant" value=(r.code) checked[r.checked] style="min-width:0"; }
                    td { code { (r.code) } " " (r.name) }
                    td { input name=(format!("fields:{}", r.code)) value=(r.fields) style="min-width:14rem"; }
                    td { textarea name=(format!("rows:{}", r.code)) rows="2" style="width:22rem" { (r.rows) } }
                }
            }
        }
    }
}

fn parse_grants(f: &FormFields) -> Result<Vec<ResourceGrant>, DomainError> {
    f.all("grant")
        .map(|code| {
            let resource: ResourceCode = code.parse()?;
            let fields_text = f.get(&format!("fields:{code}"));
            let fields: BTreeSet<FieldName> = fields_text
                .split([',', '，', '、', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()?;
            let rows_text = f.get(&format!("rows:{code}"));
            let rows = match rows_text.trim() {
                "" => None,
                json => Some(serde_json::from_str::<RowFilter>(json).map_err(|e| {
                    DomainError::invalid("rows", format!("{code}: row filter: {e}"))
                })?),
            };
            Ok(ResourceGrant {
                resource,
                fields: if fields.is_empty() {
                    FieldSet::All
                } else {
                    FieldSet::Only(fields)
                },
                rows,
            })
        })
        .collect()
}

fn parse_party(s: &str) -> Result<ShareParty, DomainError> {
    Ok(match s {
        "source_department" | "数源部门" => ShareParty::SourceDepartment,
        "implementing_institution" | "实施机构" => ShareParty::ImplementingInstitution,
        "operator" | "运营机构" => ShareParty::Operator,
        "platform" | "运营平台" => ShareParty::Platform,
        other => {
            return Err(DomainError::invalid(
                "revenue_sharing",
                format!("unknown party '{other}'"),
            ));
        }
    })
}

fn parse_date(field: &str, v: &str) -> Result<Date, DomainError> {
    v.trim()
        .parse()
        .map_err(|_| DomainError::invalid(field, format!("'{v}' is not a date (YYYY-MM-DD)")))
}

fn parse_agreement(f: &FormFields) -> Result<AgreementContent, DomainError> {
    let term = Term::new(TermInput {
        start: parse_date("term", &f.get("start"))?,
        end: parse_date("term", &f.get("end"))?,
    })?;
    let scope = Scope::new(ScopeInput {
        resources: parse_grants(f)?,
        domains: f
            .all("domains")
            .map(DataDomain::parse)
            .collect::<Result<_, _>>()?,
        scenarios: lines(&f.get("scenarios"))
            .into_iter()
            .filter_map(|l| l.into_iter().next())
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?,
        purposes: f
            .all("purposes")
            .map(Purpose::parse)
            .collect::<Result<_, _>>()?,
    })?;
    let shares = lines(&f.get("revenue"))
        .into_iter()
        .map(|parts| match parts.as_slice() {
            [party, org, bp] => Ok(RevenueShare {
                party: parse_party(party)?,
                org_id: org.parse().map_err(|_| {
                    DomainError::invalid("revenue_sharing", format!("'{org}' is not an id"))
                })?,
                basis_points: bp.parse().map_err(|_| {
                    DomainError::invalid("revenue_sharing", format!("'{bp}' is not a number"))
                })?,
            }),
            _ => Err(DomainError::invalid(
                "revenue_sharing",
                "each line is: party | organisation id | basis points",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    AgreementContent::new(AgreementContentInput {
        term,
        scope,
        products: parse_products(&f.get("products"))?,
        revenue_sharing: RevenueSharing::new(shares)?,
    })
}

async fn resource_names(state: &AppState) -> Vec<(String, String)> {
    state
        .store
        .resources(CatalogueView::Whole)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.code, r.name))
        .collect()
}

/// The draft form of an awarded selection, filled from the plan.
pub async fn draft_form(ctx: &PageCtx, state: &AppState, sel: &Selection, plan: &Plan) -> Markup {
    let c = plan.content.input();
    let names = resource_names(state).await;
    let grants: Vec<ResourceGrant> = c
        .data_scope
        .iter()
        .cloned()
        .map(ResourceGrant::whole)
        .collect();
    let start = Date::from_epoch_ms_beijing(state.now());
    let end = Term::last_day(start, c.term_months);
    let scenarios = match (&c.authorization, &sel.spec.scenario) {
        (_, Some(s)) => s.as_str().to_string(),
        (PlanMode::ByScenario { scenarios }, None) => scenarios
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let institution = ctx.principal.as_ref().map_or(0, |p| p.org_id);
    let operator = sel.awarded_org_id.unwrap_or(0);
    let orgs = Names::load(state).await;
    html! {
        form #agreement-form method="post" action=(format!("/selections/{}/agreements", sel.id)) {
            (ctx.csrf_field())
            p { (ctx.t("az.operator")) "：" strong { (orgs.org(operator)) } }
            label for="ag-start" { (ctx.t("az.term_start")) }
            input #ag-start name="start" type="date" required value=(start.to_string());
            label for="ag-end" { (ctx.t("az.term_end")) }
            input #ag-end name="end" type="date" required value=(end.to_string());
            h3 { (ctx.t("az.scope")) }
            (grants_fields(ctx, &grant_rows_of(&grants, &names)))
            label { (ctx.t("az.domains")) }
            div { @for d in DataDomain::ALL { label style="display:inline-block;margin-right:.8rem" { input type="checkbox" name="domains" value=(d.as_str()) style="min-width:0"; " " (d.as_str()) } } }
            label for="ag-scenarios" { (ctx.t("az.scenarios_lines")) }
            textarea #ag-scenarios name="scenarios" rows="2" style="width:100%" { (scenarios) }
            label { (ctx.t("az.purposes")) }
            div { @for p in Purpose::ALL { label style="display:inline-block;margin-right:.8rem" { input type="checkbox" name="purposes" value=(p.as_str()) checked[p == Purpose::IndustryDevelopment] style="min-width:0"; " " (label(ctx, "purpose", p.as_str())) } } }
            label for="ag-products" { (ctx.t("az.item.products")) }
            textarea #ag-products name="products" rows="3" required style="width:100%" { (products_text(&c.products)) }
            label for="ag-revenue" { (ctx.t("az.revenue_lines")) }
            textarea #ag-revenue name="revenue" rows="3" required style="width:100%" { "operator | " (operator) " | 6000\nimplementing_institution | " (institution) " | 4000" }
            p.muted { (orgs.org(operator)) " = " (operator) "；" (orgs.org(institution)) " = " (institution) }
            div { button.primary #ag-save type="submit" { (ctx.t("az.ag.draft")) } }
        }
    }
}

form_handler!(
    draft,
    format!("/selections/{selection_id}"),
    |state, ctx, p, selection_id, f| {
        let content = parse_agreement(&f)?;
        let a = state
            .store
            .draft_agreement(p, selection_id, content, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::at(format!("/agreements/{}", a.id)))
    }
);

fn scope_table(ctx: &PageCtx, scope: &Scope, names: &[(String, String)]) -> Markup {
    html! {
        table #agreement-scope {
            tr { th { (ctx.t("az.resource")) } th { (ctx.t("az.fields")) } th { (ctx.t("az.rows")) } }
            @for g in &scope.resources {
                @let code = g.resource.to_string();
                tr {
                    td { code { (code) } " " (names.iter().find(|(c, _)| *c == code).map(|(_, n)| n.as_str()).unwrap_or("")) }
                    td { @match &g.fields { FieldSet::All => { "*" }, FieldSet::Only(fs) => { @for f in fs { code { (f.as_str()) } " " } } } }
                    td { @if let Some(r) = &g.rows { code { (r.to_string()) } } @else { "—" } }
                }
            }
        }
        p {
            @if !scope.domains.is_empty() { (ctx.t("az.domains")) "：" @for d in &scope.domains { (d.as_str()) " " } br; }
            @if !scope.scenarios.is_empty() { (ctx.t("az.scenarios")) "：" @for s in &scope.scenarios { (s.as_str()) "　" } br; }
            (ctx.t("az.purposes")) "：" @for p in &scope.purposes { (label(ctx, "purpose", p.as_str())) "　" }
        }
    }
}

fn agreement_actions(a: &Agreement, role: shuyun_domain::Role, now: i64) -> Vec<&'static str> {
    AgreementAction::ALL
        .into_iter()
        .filter(|x| *x != AgreementAction::Expire && x.actors().contains(&role))
        .filter(|x| a.state.apply(*x, &a.content.term, now).is_ok())
        .map(AgreementAction::as_str)
        .collect()
}

fn scenario_actions(
    sc: &Scenario,
    agreement: AgreementState,
    role: shuyun_domain::Role,
) -> Vec<&'static str> {
    ScenarioAction::ALL
        .into_iter()
        .filter(|x| x.actors().contains(&role))
        .filter(|x| sc.state.apply(*x, agreement).is_ok())
        .map(ScenarioAction::as_str)
        .collect()
}

fn scenario_card(
    ctx: &PageCtx,
    sc: &Scenario,
    actions: &[&str],
    names: &Names,
    queries: &[shuyun_store::workspace::StoredQuery],
) -> Markup {
    let plan = sc.plan.input();
    html! {
        div.scenario data-scenario=(sc.id) style="border-top:1px solid #e4e7eb;padding-top:.6rem" {
            h3 { (plan.name.as_str()) " " span.muted { "#" (sc.id) } " · " span.scenario-state { (label(ctx, "sc_state", sc.state.as_str())) } }
            p { (ctx.t("az.sc.purpose")) "：" (label(ctx, "purpose", plan.purpose.as_str())) "　" (ctx.t("az.sc.product")) "：" (plan.product.name) "（" (label(ctx, "kind", plan.product.kind.as_str())) "）" }
            p style="white-space:pre-wrap" { (plan.description) }
            p { (ctx.t("az.sc.outputs")) "：" @for o in &plan.outputs { (label(ctx, "output", o.as_str())) "　" } }
            p { (ctx.t("az.sc.data")) "：" @for g in &plan.data { code { (g.resource.to_string()) } @if let FieldSet::Only(fs) = &g.fields { "（" @for f in fs { (f.as_str()) " " } "）" } " " } }
            p style="white-space:pre-wrap" { (ctx.t("az.sc.security")) "：" (plan.security_measures) }
            p.muted { (fmt_time(sc.submitted_at)) " · " (names.user(sc.submitted_by)) @if let Some(at) = sc.decided_at { " · " (fmt_time(at)) } @if !sc.reason.is_empty() { " · " (sc.reason) } }
            @if sc.state == ScenarioState::Approved && ctx.can(Permission::WorkspaceUse) {
                p { a.workspace href=(format!("/scenarios/{}/workspace", sc.id)) { "▶ " (ctx.t("ws.open")) } }
            }
            (step_form(ctx, &format!("/scenarios/{}/steps", sc.id), "sc", actions))
            @if !queries.is_empty() {
                h4 { (ctx.t("ws.queries")) }
                (crate::pages::workspace::queries_table(ctx, queries, names))
            }
        }
    }
}

fn scenario_form(ctx: &PageCtx, a: &Agreement, names: &[(String, String)]) -> Markup {
    let scope = a.content.scope.input();
    html! {
        form #scenario-form method="post" action=(format!("/agreements/{}/scenarios", a.id)) {
            (ctx.csrf_field())
            label for="sc-name" { (ctx.t("az.sc.name")) }
            @if scope.scenarios.is_empty() {
                input #sc-name name="name" required maxlength="100" style="width:30rem";
            } @else {
                select #sc-name name="name" { @for s in &scope.scenarios { option value=(s.as_str()) { (s.as_str()) } } }
            }
            label for="sc-purpose" { (ctx.t("az.sc.purpose")) }
            select #sc-purpose name="purpose" { @for p in &scope.purposes { option value=(p.as_str()) { (label(ctx, "purpose", p.as_str())) } } }
            label for="sc-description" { (ctx.t("az.sc.description")) }
            textarea #sc-description name="description" required maxlength="5000" rows="3" style="width:100%" {}
            label { (ctx.t("az.sc.data")) }
            (grants_fields(ctx, &grant_rows_of(&scope.resources, names)))
            label { (ctx.t("az.sc.outputs")) }
            div { @for o in OutputForm::ALL { label style="display:inline-block;margin-right:.8rem" { input type="checkbox" name="outputs" value=(o.as_str()) style="min-width:0"; " " (label(ctx, "output", o.as_str())) } } }
            label for="sc-security" { (ctx.t("az.sc.security")) }
            textarea #sc-security name="security_measures" required maxlength="5000" rows="3" style="width:100%" {}
            label for="sc-product" { (ctx.t("az.sc.product")) }
            @if a.content.products.is_empty() {
                input #sc-product name="product" required maxlength="100";
            } @else {
                select #sc-product name="product" { @for p in &a.content.products { option value=(p.name) { (p.name) } } }
            }
            label for="sc-kind" { (ctx.t("az.sc.kind")) }
            select #sc-kind name="kind" { @for k in ProductKind::ALL { option value=(k.as_str()) { (label(ctx, "kind", k.as_str())) } } }
            div { button.primary #sc-submit type="submit" { (ctx.t("az.sc.submit")) } }
        }
    }
}

fn parse_scenario(f: &FormFields) -> Result<ScenarioPlan, DomainError> {
    ScenarioPlan::new(ScenarioPlanInput {
        name: f.get("name").parse()?,
        purpose: Purpose::parse(&f.get("purpose"))?,
        description: f.get("description"),
        data: parse_grants(f)?,
        outputs: f
            .all("outputs")
            .map(|o| {
                OutputForm::ALL
                    .into_iter()
                    .find(|x| x.as_str() == o)
                    .ok_or_else(|| DomainError::invalid("outputs", format!("unknown output '{o}'")))
            })
            .collect::<Result<_, _>>()?,
        security_measures: f.get("security_measures"),
        product: ScenarioProduct {
            name: f.get("product"),
            kind: ProductKind::parse(&f.get("kind"))?,
        },
    })
}

fn exit_card(
    ctx: &PageCtx,
    a: &Agreement,
    exit: &shuyun_store::authorization::exits::Exit,
    names: &Names,
    users: &[shuyun_store::accounts::User],
) -> Markup {
    let manage = ctx.can(Permission::AgreementManage);
    html! {
        div.card #exit {
            h2 { (ctx.t("az.exit")) " · " (label(ctx, "exit", exit.cause.as_str())) }
            p { (ctx.t("az.copies_due")) "：" (fmt_time(exit.copies_due_at)) "　" (ctx.t("az.logs_until")) "：" span #logs-until { (fmt_time(exit.logs_retained_until)) } }
            h3 { (ctx.t("az.destruction")) }
            @if let Some(d) = &exit.destruction {
                p #destruction { (d.object) " · " (d.method) " · " (fmt_time(d.destroyed_at_ms)) " · " (names.user(d.destroyed_by_user_id)) " / " (names.user(d.confirmed_by_user_id)) }
            } @else if manage {
                form #destruction-form method="post" action=(format!("/agreements/{}/destruction", a.id)) {
                    (ctx.csrf_field())
                    label { (ctx.t("az.destroyed_object")) } input name="object" required maxlength="500" style="width:30rem";
                    label { (ctx.t("az.destroyed_method")) } input name="method" required maxlength="200" style="width:30rem";
                    label { (ctx.t("az.confirmer")) }
                    select name="confirmed_by_user_id" { @for u in users { option value=(u.id) { (names.user(u.id)) } } }
                    div { button.primary type="submit" { (ctx.t("az.record")) } }
                }
            }
            h3 { (ctx.t("az.handover")) }
            table #handover {
                tr { th { "#" } th { (ctx.t("az.handover")) } th { (ctx.t("az.done")) } th { (ctx.t("az.evidence")) } }
                @for (i, item) in exit.handover.items().iter().enumerate() {
                    tr {
                        td { (i) } td { (item.title) }
                        td { @if let Some(at) = item.done_at_ms { span.ok { "✓ " (fmt_time(at)) } } }
                        td {
                            (item.evidence)
                            @if item.done_at_ms.is_none() && manage {
                                form method="post" action=(format!("/agreements/{}/handover/{i}/complete", a.id)) {
                                    (ctx.csrf_field())
                                    input name="evidence" maxlength="500" placeholder=(ctx.t("az.evidence"));
                                    " " button.small type="submit" { (ctx.t("az.done")) }
                                }
                            }
                        }
                    }
                }
            }
            @if manage {
                form method="post" action=(format!("/agreements/{}/handover", a.id)) {
                    (ctx.csrf_field())
                    input name="title" required maxlength="100";
                    " " button.small type="submit" { (ctx.t("az.add_item")) }
                }
                @if exit.logs_released_at.is_none() {
                    form method="post" action=(format!("/agreements/{}/logs/release", a.id)) {
                        (ctx.csrf_field())
                        button.small #release-logs type="submit" { (ctx.t("az.release_logs")) }
                    }
                }
            }
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let now = state.now();
    let a = match state.store.agreement(AgreementScope::of(p), id, now).await {
        Ok(a) => a,
        Err(e) => return crate::pages::error_page_for(&ctx, &e.into_domain()),
    };
    let e = crate::api::authorization::agreements::entry(&state, a);
    let a = &e.agreement;
    let scenarios = state.store.scenarios(id).await.unwrap_or_default();
    let steps = state
        .store
        .authorization_steps(StepObject::Agreement, id)
        .await
        .unwrap_or_default();
    let exit = state.store.exit(id).await.ok();
    let names = Names::load(&state).await;
    let resource_names = resource_names(&state).await;
    let users: Vec<_> = if exit.is_some() {
        state
            .store
            .list_users(None)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|u| !u.disabled && u.id != p.user_id && u.org_id != a.operator_org_id)
            .collect()
    } else {
        Vec::new()
    };
    let acts = agreement_actions(a, p.role, now);
    let is_operator = p.org_id == a.operator_org_id;
    let may_submit = is_operator
        && ctx.can(Permission::ScenarioSubmit)
        && matches!(a.state, AgreementState::Filed | AgreementState::Active);
    let c = a.content.input();
    let mut queries = Vec::new();
    for sc in &scenarios {
        queries.push(
            state
                .store
                .workspace_queries(p, sc.id, 10)
                .await
                .unwrap_or_default(),
        );
    }
    let budget = state.store.privacy_budget(id).await.ok().flatten();
    let policy = state.store.output_policy(id).await.unwrap_or_default();
    // The operator's access now, per scenario and resource: the one
    // decision the workspace asks, so a suspension shows at once.
    let mut access = Vec::new();
    if is_operator {
        for sc in scenarios
            .iter()
            .filter(|sc| sc.state == ScenarioState::Approved)
        {
            for g in &sc.plan.data {
                let request = AccessRequest {
                    org_id: p.org_id,
                    resource: g.resource.clone(),
                    field: None,
                    purpose: None,
                    scenario_id: Some(sc.id),
                };
                if let Ok(d) = state.store.authorize(p, request, now).await {
                    access.push((sc.plan.name.as_str().to_string(), g.resource.to_string(), d));
                }
            }
        }
    }
    let body = html! {
        div.card {
            p { a href="/authorization" { "← " (ctx.t("nav.authorization")) } }
            h1 { (ctx.t("az.agreement")) " #" (a.id) " · " (a.operator_org_name) }
            table #agreement {
                tr { th { (ctx.t("az.state")) } td { strong #agreement-state { (label(&ctx, "ag_state", a.state.as_str())) } @if let Some(d) = &e.filing_deadline { " · " (ctx.t("az.filing")) "：" span #agreement-filing { (crate::pages::tickets::deadline_cell(&ctx, Some(d))) } } } }
                tr { th { (ctx.t("az.term")) } td #agreement-term { (c.term.start) " — " (c.term.end) } }
                @if ctx.can(Permission::AuthorizationRead) { tr { th { (ctx.t("az.plan")) } td { a href=(format!("/plans/{}", a.plan_id)) { "#" (a.plan_id) } } } }
                tr { th { (ctx.t("az.selection")) } td { a href=(format!("/selections/{}", a.selection_id)) { "#" (a.selection_id) } } }
                @if !a.filing_reference.is_empty() { tr { th { (ctx.t("az.filing_ref")) } td { (a.filing_reference) } } }
                tr { th { (ctx.t("az.products")) } td { (products_list(&ctx, &c.products)) } }
                tr { th { (ctx.t("az.revenue")) } td { @for s in c.revenue_sharing.iter() { (label(&ctx, "party", s.party.as_str())) " " (names.org(s.org_id)) " " (format!("{}.{:02}%", s.basis_points / 100, s.basis_points % 100)) br; } } }
            }
            h2 { (ctx.t("az.scope")) }
            (scope_table(&ctx, &c.scope, &resource_names))
            @if !access.is_empty() {
                h2 { (ctx.t("az.access")) }
                table #access {
                    @for (scenario, resource, d) in &access {
                        tr {
                            td { (scenario) } td { code { (resource) } }
                            td.decision {
                                @match d.deny_reason() {
                                    None => span.ok { (ctx.t("az.allowed")) },
                                    Some(r) => span.bad { (ctx.t("az.denied")) "：" (label(&ctx, "deny", r.as_str())) },
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card {
            h2 { (ctx.t("az.actions")) }
            (step_form(&ctx, &format!("/agreements/{id}/steps"), "ag", &acts))
            @if ctx.can(Permission::AgreementManage) && a.state.is_live() {
                details #renew {
                    summary { (ctx.t("az.renew")) }
                    form method="post" action=(format!("/agreements/{id}/renewals")) {
                        (ctx.csrf_field())
                        label { (ctx.t("az.term_end")) }
                        input name="end" type="date" required value=(Term::last_day(c.term.end.add_days(1), 60).to_string());
                        div { button.primary type="submit" { (ctx.t("az.renew")) } }
                    }
                }
            }
            h2 { (ctx.t("az.steps")) }
            (steps_table(&ctx, "ag", &steps, &names))
        }
        div.card #scenarios {
            h2 { (ctx.t("az.scenarios")) }
            @for (sc, queries) in scenarios.iter().zip(&queries) { (scenario_card(&ctx, sc, &scenario_actions(sc, a.state, p.role), &names, queries)) }
            @if may_submit { details #submit-scenario { summary { (ctx.t("az.sc.submit")) } (scenario_form(&ctx, a, &resource_names)) } }
        }
        div.card #output-policy {
            h2 { (ctx.t("ws.policy")) }
            p #policy {
                "k = " (policy.min_units) "；" (ctx.t("ws.policy.dominance")) " " (policy.dominance_top) " / " (policy.dominance_pct) "%；"
                (ctx.t("ws.policy.p")) " " (policy.p_pct) "%；" (ctx.t("ws.policy.rounding")) " " (policy.round_counts_to)
            }
            @if ctx.can(Permission::AgreementManage) && a.state.is_live() {
                form method="post" action=(format!("/agreements/{id}/output-policy")) {
                    (ctx.csrf_field())
                    label { "k" } input name="min_units" type="number" min="2" max="1000" value=(policy.min_units);
                    label { (ctx.t("ws.policy.dominance")) } input name="dominance_pct" type="number" min="50" max="99" value=(policy.dominance_pct);
                    label { (ctx.t("ws.policy.p")) } input name="p_pct" type="number" min="0" max="50" value=(policy.p_pct);
                    label { (ctx.t("ws.policy.rounding")) } input name="round_counts_to" type="number" min="1" max="100" value=(policy.round_counts_to);
                    div { button.small type="submit" { (ctx.t("az.save")) } }
                }
            }
        }
        div.card #privacy-budget {
            h2 { (ctx.t("ws.budget")) }
            @match budget {
                Some(b) => p #budget { (format!("{:.4}", b.total.as_f64())) "，" (ctx.t("ws.budget.spent")) " " (format!("{:.4}", b.spent.as_f64())) "，" (ctx.t("ws.budget.remaining")) " " (format!("{:.4}", b.remaining().as_f64())) },
                None => p.muted #budget { (ctx.t("ws.budget.none")) },
            }
            @if ctx.can(Permission::AgreementManage) && a.state.is_live() {
                form method="post" action=(format!("/agreements/{id}/privacy-budget")) {
                    (ctx.csrf_field())
                    input name="total" inputmode="decimal" required style="min-width:6rem" placeholder="1.0";
                    " " button.small type="submit" { (ctx.t("ws.budget.set")) }
                }
            }
        }
        @if let Some(x) = &exit { (exit_card(&ctx, a, x, &names, &users)) }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("az.agreement"), body))
}

form_handler!(step, format!("/agreements/{id}"), |state, ctx, p, id, f| {
    let action = AgreementAction::parse(&f.get("action"))?;
    let now = state.now();
    let a = state
        .store
        .agreement_step(
            p,
            id,
            action,
            &f.get("note"),
            filing_due_ms(&state.calendar, now),
            now,
        )
        .await
        .map_err(StoreError::into_domain)?;
    if a.state != AgreementState::Active {
        state.workspaces.cancel_agreement(a.id);
    }
    Ok(Done::said(label(&ctx, "ag_state", a.state.as_str())))
});

form_handler!(
    renew,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        let end = parse_date("end", &f.get("end"))?;
        let a = state
            .store
            .renew_agreement(p, id, end, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::at(format!("/agreements/{}", a.id)))
    }
);

form_handler!(
    submit_scenario,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        let plan = parse_scenario(&f)?;
        state
            .store
            .submit_scenario(p, id, plan, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

pub async fn scenario_step(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let f = FormFields::parse(&body);
    let sc = match state.store.scenario_in(AgreementScope::of(p), id).await {
        Ok(sc) => sc,
        Err(e) => return crate::pages::error_page_for(&ctx, &e.into_domain()),
    };
    let result = async {
        let action = ScenarioAction::ALL
            .into_iter()
            .find(|a| a.as_str() == f.get("action"))
            .ok_or_else(|| DomainError::invalid("action", "unknown scenario step"))?;
        let sc = state
            .store
            .scenario_step(p, id, action, &f.get("note"), state.now())
            .await
            .map_err(StoreError::into_domain)?;
        if sc.state != ScenarioState::Approved {
            state.workspaces.cancel_scenario(sc.agreement_id, sc.id);
        }
        Ok(label(&ctx, "sc_state", sc.state.as_str()))
    }
    .await;
    ctx.after(&format!("/agreements/{}", sc.agreement_id), result)
}

form_handler!(
    destroy,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        let confirmer: i64 = f
            .get("confirmed_by_user_id")
            .parse()
            .map_err(|_| DomainError::invalid("confirmed_by_user_id", "choose who confirms"))?;
        state
            .store
            .record_destruction(
                p,
                id,
                &f.get("object"),
                &f.get("method"),
                confirmer,
                state.now(),
            )
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    add_handover,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        state
            .store
            .add_handover_item(p, id, &f.get("title"), state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

pub async fn complete_handover(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath((id, item)): ApiPath<(i64, usize)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let f = FormFields::parse(&body);
    let result = state
        .store
        .complete_handover(p, id, item, &f.get("evidence"), state.now())
        .await
        .map(|_| String::new())
        .map_err(StoreError::into_domain);
    ctx.after(&format!("/agreements/{id}"), result)
}

form_handler!(
    release_logs,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        let _ = &f;
        state
            .store
            .release_work_logs(p, id, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    set_budget,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        let total: f64 = f
            .get("total")
            .trim()
            .parse()
            .map_err(|_| DomainError::invalid("total", "ε is a number, e.g. 1.0"))?;
        let total = shuyun_domain::workspace::Epsilon::from_f64(total)?;
        state
            .store
            .set_privacy_budget(p, id, total, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);

form_handler!(
    set_output_policy,
    format!("/agreements/{id}"),
    |state, ctx, p, id, f| {
        let number = |name: &str| -> Result<u32, DomainError> {
            f.get(name)
                .trim()
                .parse()
                .map_err(|_| DomainError::invalid(name, "a whole number"))
        };
        let small = |name: &str| -> Result<u8, DomainError> {
            u8::try_from(number(name)?).map_err(|_| DomainError::invalid(name, "at most 255"))
        };
        let policy = shuyun_domain::workspace::OutputPolicy {
            min_units: number("min_units")?,
            dominance_pct: small("dominance_pct")?,
            p_pct: small("p_pct")?,
            round_counts_to: number("round_counts_to")?,
            ..state.store.output_policy(id).await.unwrap_or_default()
        };
        state
            .store
            .set_output_policy(p, id, policy, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(Done::here())
    }
);
