//! Implementation plans in the portal (实施方案, B1): the twelve-item form
//! (draft, edit, new version), a plan with its versions, filing deadline,
//! history and the steps the caller may take, and the selections opened
//! under it.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use shuyun_domain::authorization::plan::{PlanContentInput, PlanMode, ProductLine};
use shuyun_domain::authorization::{PlanAction, PlanContent, ProductUse, filing_due_ms};
use shuyun_domain::catalogue::{DataDomain, ResourceCode};
use shuyun_domain::{DomainError, Permission};
use shuyun_store::StoreError;
use shuyun_store::authorization::StepObject;
use shuyun_store::authorization::plans::Plan;
use shuyun_store::catalogue::{CatalogueView, Resource};

use super::{Done, Names, form_handler, label, lines, step_form, steps_table};
use crate::AppState;
use crate::auth::FormFields;
use crate::extract::ApiPath;
use crate::pages::{PageCtx, fmt_time, html_response, layout};

/// Product lines as the form shows them: `name | area | use`.
pub fn products_text(products: &[ProductLine]) -> String {
    products
        .iter()
        .map(|p| format!("{} | {} | {}", p.name, p.area, p.product_use.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parse product lines; the use may be written as its code or in Chinese.
pub fn parse_products(text: &str) -> Result<Vec<ProductLine>, DomainError> {
    lines(text)
        .into_iter()
        .map(|parts| {
            let [name, area, product_use] = parts.as_slice() else {
                return Err(DomainError::invalid(
                    "products",
                    "each product line is: name | area | public_good or industry",
                ));
            };
            let product_use = match product_use.as_str() {
                "public_good" | "公益" | "公共治理和公益事业" => ProductUse::PublicGood,
                "industry" | "产业" | "产业和行业发展" => ProductUse::Industry,
                other => {
                    return Err(DomainError::invalid(
                        "products",
                        format!("'{other}': the use is public_good (公益) or industry (产业)"),
                    ));
                }
            };
            Ok(ProductLine {
                name: name.clone(),
                area: area.clone(),
                product_use,
            })
        })
        .collect()
}

fn parse_form(f: &FormFields) -> Result<PlanContent, DomainError> {
    let listed: Vec<String> = lines(&f.get("mode_list"))
        .into_iter()
        .filter_map(|l| l.into_iter().next())
        .collect();
    let authorization = match f.get("mode").as_str() {
        "whole" => PlanMode::Whole,
        "by_domain" => PlanMode::ByDomain {
            domains: listed
                .iter()
                .map(|d| DataDomain::parse(d))
                .collect::<Result<_, _>>()?,
        },
        "by_scenario" => PlanMode::ByScenario {
            scenarios: listed.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
        },
        other => {
            return Err(DomainError::invalid(
                "authorization",
                format!("unknown authorization mode '{other}'"),
            ));
        }
    };
    let data_scope: BTreeSet<ResourceCode> = f
        .all("data_scope")
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let term_months = f.get("term_months").trim().parse().map_err(|_| {
        DomainError::invalid("term_months", "the term is a number of months, 1 to 60")
    })?;
    PlanContent::new(PlanContentInput {
        name: f.get("name"),
        necessity_feasibility: f.get("necessity_feasibility"),
        operator_criteria: f.get("operator_criteria"),
        authorization,
        data_scope,
        term_months,
        schedule: f.get("schedule"),
        evaluation_exit: f.get("evaluation_exit"),
        products: parse_products(&f.get("products"))?,
        cost_revenue: f.get("cost_revenue"),
        security_emergency: f.get("security_emergency"),
        rights_duties: f.get("rights_duties"),
        supervision: f.get("supervision"),
        other: f.get("other"),
    })
}

/// The twelve-item form, empty or filled with `content`.
fn form(
    ctx: &PageCtx,
    resources: &[Resource],
    content: Option<&PlanContentInput>,
    action: &str,
    button: &str,
) -> Markup {
    let text = |k: &str| -> String {
        content
            .map(|c| match k {
                "name" => c.name.clone(),
                "necessity_feasibility" => c.necessity_feasibility.clone(),
                "operator_criteria" => c.operator_criteria.clone(),
                "schedule" => c.schedule.clone(),
                "evaluation_exit" => c.evaluation_exit.clone(),
                "cost_revenue" => c.cost_revenue.clone(),
                "security_emergency" => c.security_emergency.clone(),
                "rights_duties" => c.rights_duties.clone(),
                "supervision" => c.supervision.clone(),
                "other" => c.other.clone(),
                _ => String::new(),
            })
            .unwrap_or_default()
    };
    let (mode, listed) = match content.map(|c| &c.authorization) {
        None | Some(PlanMode::Whole) => ("whole", String::new()),
        Some(PlanMode::ByDomain { domains }) => (
            "by_domain",
            domains
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Some(PlanMode::ByScenario { scenarios }) => (
            "by_scenario",
            scenarios
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    };
    let chosen: BTreeSet<String> = content
        .map(|c| c.data_scope.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let area = |name: &str, key: &str, required: bool| {
        html! {
            label for=(format!("plan-{name}")) { (ctx.t(key)) }
            textarea id=(format!("plan-{name}")) name=(name) rows="3" maxlength="5000" required[required] style="width:100%" { (text(name)) }
        }
    };
    html! {
        form #plan-form method="post" action=(action) {
            (ctx.csrf_field())
            label for="plan-name" { (ctx.t("az.item.name")) }
            input #plan-name name="name" required maxlength="100" style="width:40rem" value=(text("name"));
            (area("necessity_feasibility", "az.item.necessity", true))
            (area("operator_criteria", "az.item.criteria", true))
            label for="plan-mode" { (ctx.t("az.item.mode")) }
            select #plan-mode name="mode" {
                @for m in ["whole", "by_domain", "by_scenario"] {
                    option value=(m) selected[m == mode] { (label(ctx, "mode", m)) }
                }
            }
            label for="plan-mode_list" { (ctx.t("az.item.mode_list")) }
            textarea #plan-mode_list name="mode_list" rows="3" style="width:100%" { (listed) }
            label { (ctx.t("az.item.scope")) }
            div #plan-scope style="max-height:16rem;overflow:auto;border:1px solid #e4e7eb;padding:.4rem" {
                @for r in resources {
                    label.scope-choice {
                        input type="checkbox" name="data_scope" value=(r.code) checked[chosen.contains(&r.code)] disabled[r.on_negative_list] style="min-width:0";
                        " " code { (r.code) } " " (r.name) " · " (r.owner_org_name)
                        @if r.on_negative_list { " " span.bad { (ctx.t("cat.on_negative")) } }
                    }
                }
            }
            label for="plan-term" { (ctx.t("az.item.term")) }
            input #plan-term name="term_months" type="number" min="1" max="60" required value=(content.map_or(60, |c| c.term_months));
            (area("schedule", "az.item.schedule", true))
            (area("evaluation_exit", "az.item.evaluation", true))
            label for="plan-products" { (ctx.t("az.item.products")) }
            textarea #plan-products name="products" rows="3" required style="width:100%" { (content.map(|c| products_text(&c.products)).unwrap_or_default()) }
            (area("cost_revenue", "az.item.cost", true))
            (area("security_emergency", "az.item.security", true))
            (area("rights_duties", "az.item.rights", true))
            (area("supervision", "az.item.supervision", true))
            (area("other", "az.item.other", false))
            div { button.primary #plan-save type="submit" { (button) } }
        }
    }
}

async fn operable_resources(state: &AppState, ctx: &PageCtx) -> Vec<Resource> {
    state
        .store
        .resources(CatalogueView::of(ctx.principal.as_ref()))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.grading_version.is_some())
        .collect()
}

pub async fn new_form(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let resources = operable_resources(&state, &ctx).await;
    let body = html! {
        div.card {
            p { a href="/authorization" { "← " (ctx.t("nav.authorization")) } }
            h1 { (ctx.t("az.plan.new")) }
            p.muted { (ctx.t("az.plan.intro")) }
            (form(&ctx, &resources, None, "/plans", &ctx.t("az.save")))
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("az.plan.new"), body))
}

form_handler!(create, "/plans/new".to_string(), |state, ctx, p, f| {
    let content = parse_form(&f)?;
    let plan = state
        .store
        .create_plan(p, content, state.now())
        .await
        .map_err(StoreError::into_domain)?;
    Ok(Done::at(format!("/plans/{}", plan.id)))
});

fn content_table(ctx: &PageCtx, plan: &Plan) -> Markup {
    let c = plan.content.input();
    let row = |key: &str, value: &str| {
        html! { tr { th style="width:14rem" { (ctx.t(key)) } td style="white-space:pre-wrap" { (value) } } }
    };
    let (mode, listed) = match &c.authorization {
        PlanMode::Whole => ("whole", Vec::new()),
        PlanMode::ByDomain { domains } => (
            "by_domain",
            domains.iter().map(|d| d.as_str().to_string()).collect(),
        ),
        PlanMode::ByScenario { scenarios } => (
            "by_scenario",
            scenarios.iter().map(|s| s.as_str().to_string()).collect(),
        ),
    };
    html! {
        table #plan-content {
            (row("az.item.name", &c.name))
            (row("az.item.necessity", &c.necessity_feasibility))
            (row("az.item.criteria", &c.operator_criteria))
            tr { th { (ctx.t("az.item.mode")) } td #plan-mode-shown { (label(ctx, "mode", mode)) @if !listed.is_empty() { "：" (listed.join("、")) } } }
            tr { th { (ctx.t("az.item.scope")) } td { @for code in &c.data_scope { code { (code) } " " } } }
            tr { th { (ctx.t("az.item.term")) } td { (c.term_months) " " (ctx.t("az.months")) } }
            (row("az.item.schedule", &c.schedule))
            (row("az.item.evaluation", &c.evaluation_exit))
            tr { th { (ctx.t("az.products")) } td { (products_list(ctx, &c.products)) } }
            (row("az.item.cost", &c.cost_revenue))
            (row("az.item.security", &c.security_emergency))
            (row("az.item.rights", &c.rights_duties))
            (row("az.item.supervision", &c.supervision))
            (row("az.item.other", &c.other))
        }
    }
}

pub fn products_list(ctx: &PageCtx, products: &[ProductLine]) -> Markup {
    html! {
        ul.products { @for p in products { li { (p.name) " · " (p.area) " · " (label(ctx, "use", p.product_use.as_str())) } } }
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
    let plan = match state.store.plan(id).await {
        Ok(plan) => plan,
        Err(e) => return crate::pages::error_page_for(&ctx, &e.into_domain()),
    };
    let versions = state
        .store
        .plan_versions(plan.series_id)
        .await
        .unwrap_or_default();
    let steps = state
        .store
        .authorization_steps(StepObject::Plan, id)
        .await
        .unwrap_or_default();
    let selections: Vec<_> = state
        .store
        .selections()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.plan_id == id)
        .collect();
    let names = Names::load(&state).await;
    let view = crate::api::authorization::plans::view(&state, plan.clone());
    let actions: Vec<&str> = PlanAction::ALL
        .into_iter()
        .filter(|a| *a != PlanAction::Supersede && a.actors().contains(&p.role))
        .filter(|a| plan.state.apply(*a, plan.revision).is_ok())
        .map(PlanAction::as_str)
        .collect();
    let resources = if ctx.can(Permission::PlanDraft) {
        operable_resources(&state, &ctx).await
    } else {
        Vec::new()
    };
    let body = html! {
        div.card {
            p { a href="/authorization" { "← " (ctx.t("nav.authorization")) } }
            h1 { (plan.content.name) " " span.muted { "v" (plan.version) } }
            p {
                (ctx.t("az.state")) "：" strong #plan-state { (label(&ctx, "plan_state", plan.state.as_str())) }
                " · " (ctx.t("az.revision")) "：" (label(&ctx, "rev", plan.revision.as_str()))
                @if let Some(d) = &view.filing_deadline { " · " (ctx.t("az.filing")) "：" span #plan-filing { (crate::pages::tickets::deadline_cell(&ctx, Some(d))) } }
                @if !plan.filing_reference.is_empty() { " · " (ctx.t("az.filing_ref")) "：" (plan.filing_reference) }
            }
            (content_table(&ctx, &plan))
        }
        div.card {
            h2 { (ctx.t("az.actions")) }
            (step_form(&ctx, &format!("/plans/{id}/steps"), "plan", &actions))
            @if plan.state.editable() && ctx.can(Permission::PlanDraft) {
                details #plan-edit { summary { (ctx.t("az.edit")) } (form(&ctx, &resources, Some(plan.content.input()), &format!("/plans/{id}/edit"), &ctx.t("az.save"))) }
            }
            @if plan.state.permits_selection() && ctx.can(Permission::PlanDraft) {
                details #plan-revise { summary { (ctx.t("az.revise")) } (form(&ctx, &resources, Some(plan.content.input()), &format!("/plans/{id}/versions"), &ctx.t("az.revise"))) }
            }
        }
        div.card {
            h2 { (ctx.t("az.versions")) }
            table #plan-versions {
                tr { th { (ctx.t("az.version")) } th { (ctx.t("az.revision")) } th { (ctx.t("az.state")) } th { (ctx.t("az.time")) } }
                @for v in &versions {
                    tr { td { a href=(format!("/plans/{}", v.id)) { "v" (v.version) } } td { (label(&ctx, "rev", v.revision.as_str())) } td { (label(&ctx, "plan_state", v.state.as_str())) } td { (fmt_time(v.updated_at)) } }
                }
            }
            h2 { (ctx.t("az.steps")) }
            (steps_table(&ctx, "plan", &steps, &names))
        }
        div.card {
            h2 { (ctx.t("az.selections")) }
            @if !selections.is_empty() { (super::selections::table(&ctx, &selections)) }
            @if plan.state.permits_selection() && ctx.can(Permission::SelectionManage) {
                details #open-selection { summary { (ctx.t("az.sel.open")) } (super::selections::open_form(&ctx, &state, &plan).await) }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &plan.content.name, body))
}

form_handler!(edit, format!("/plans/{id}"), |state, ctx, p, id, f| {
    let content = parse_form(&f)?;
    state
        .store
        .update_plan(p, id, content, state.now())
        .await
        .map_err(StoreError::into_domain)?;
    Ok(Done::here())
});

form_handler!(revise, format!("/plans/{id}"), |state, ctx, p, id, f| {
    let content = parse_form(&f)?;
    let plan = state
        .store
        .revise_plan(p, id, content, state.now())
        .await
        .map_err(StoreError::into_domain)?;
    Ok(Done {
        to: Some(format!("/plans/{}", plan.id)),
        what: format!(
            "v{} · {}",
            plan.version,
            label(&ctx, "rev", plan.revision.as_str())
        ),
    })
});

form_handler!(step, format!("/plans/{id}"), |state, ctx, p, id, f| {
    let action = PlanAction::parse(&f.get("action"))?;
    let now = state.now();
    let plan = state
        .store
        .plan_step(
            p,
            id,
            action,
            &f.get("note"),
            filing_due_ms(&state.calendar, now),
            now,
        )
        .await
        .map_err(StoreError::into_domain)?;
    Ok(Done::said(label(&ctx, "plan_state", plan.state.as_str())))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_lines() {
        let p =
            parse_products("企业信用辅助评估 | 金融服务 | 产业\n公交线网优化｜交通｜public_good")
                .expect("parse");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].product_use, ProductUse::Industry);
        assert_eq!(p[1].area, "交通");
        assert_eq!(parse_products(&products_text(&p)).expect("again"), p);
        assert!(parse_products("只有名称").is_err());
        assert!(parse_products("a | b | 商业").is_err());
    }
}
