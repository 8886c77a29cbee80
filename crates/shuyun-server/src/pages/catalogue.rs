//! Catalogue pages: the list, a resource with its schema, grades and
//! history, registration by a department, grading decisions, and the
//! negative list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use shuyun_domain::catalogue::{
    DataDomain, FieldSpec, FieldType, Grade, GradeBasis, PiTag, Schema,
};
use shuyun_domain::workflow::{GradingAction, NegativeAction, NegativeState};
use shuyun_domain::{DomainError, Permission};
use shuyun_store::StoreError;
use shuyun_store::catalogue::{CatalogueView, NewResource, Resource, Rights};

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;
use crate::auth::FormFields;
use crate::extract::ApiPath;

/// Rows offered by the registration form.
const FIELD_ROWS: usize = 12;

pub fn grade_label(ctx: &PageCtx, g: Grade) -> String {
    if ctx.lang == crate::i18n::Lang::En {
        g.as_str().to_string()
    } else {
        g.label_zh().to_string()
    }
}

fn badges(ctx: &PageCtx, r: &Resource) -> Markup {
    html! {
        @if r.pending_grading.is_some() { span.muted { (ctx.t("cat.pending")) " " } }
        @if r.on_negative_list { span.bad { (ctx.t("cat.on_negative")) " " } }
        @if r.public { span { (ctx.t("cat.public")) " " } }
        @if r.open_data { span.ok { (ctx.t("cat.open")) } }
    }
}

pub async fn list(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let view = CatalogueView::of(ctx.principal.as_ref());
    let resources = state.store.resources(view).await.unwrap_or_default();
    let body = html! {
        div.card {
            h1 { (ctx.t("cat.title")) }
            @if ctx.can(Permission::ResourceManage) { p { a #register-resource href="/catalogue/new" { "＋ " (ctx.t("cat.register")) } } }
            table #resources {
                tr { th { (ctx.t("cat.code")) } th { (ctx.t("cat.name")) } th { (ctx.t("cat.owner")) } th { (ctx.t("cat.domain")) } th { (ctx.t("cat.grade")) } th { (ctx.t("cat.status")) } }
                @for r in &resources {
                    tr data-code=(r.code) {
                        td { code { (r.code) } }
                        td { a href=(format!("/catalogue/{}", r.id)) { (r.name) } }
                        td { (r.owner_org_name) }
                        td { (r.domain.as_str()) }
                        td { @if let Some(g) = r.grade { (grade_label(&ctx, g)) } @else { span.muted { "—" } } }
                        td { (badges(&ctx, r)) }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("cat.title"), body))
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let view = CatalogueView::of(ctx.principal.as_ref());
    let r = match state.store.resource(id, view).await {
        Ok(r) => r,
        Err(e) => return super::error_page_for(&ctx, &e.into_domain()),
    };
    let gradings = state.store.gradings(id, view).await.unwrap_or_default();
    let current = gradings
        .iter()
        .find(|g| Some(g.version) == r.grading_version)
        .or(gradings.first());
    let owner = ctx
        .principal
        .as_ref()
        .is_some_and(|p| p.org_id == r.owner_org_id && ctx.can(Permission::ResourceManage));
    let data_section = super::data::section(&state, &ctx, &r, owner).await;
    let ticket_section = super::tickets::section(&state, &ctx, &r).await;
    let open_links = super::open::links(&state, &ctx, &r).await;
    let body = html! {
        div.card {
            h1 { (r.name) " " code #resource-code { (r.code) } }
            p { (badges(&ctx, &r)) }
            p { (r.description) }
            table {
                tr { th { (ctx.t("cat.owner")) } td { (r.owner_org_name) } }
                tr { th { (ctx.t("cat.domain")) } td { (r.domain.as_str()) } }
                tr { th { (ctx.t("cat.grade")) } td #resource-grade { @if let Some(g) = r.grade { (grade_label(&ctx, g)) } @else { "—" } } }
                tr { th { (ctx.t("cat.source_system")) } td { (r.source_system) } }
                tr { th { (ctx.t("cat.standard")) } td { (r.standard) } }
                tr { th { (ctx.t("cat.contact")) } td { (r.contact) } }
                tr { th { (ctx.t("cat.rights_holder")) } td { (r.rights.holder) } }
                tr { th { (ctx.t("cat.rights_processor")) } td { (r.rights.processor) } }
                tr { th { (ctx.t("cat.rights_operator")) } td { (r.rights.operator) } }
                @if let Some(l) = &open_links { tr #open-download { th { (ctx.t("open.download")) } td { (l) } } }
            }
        }
        @if let Some(g) = current {
            div.card {
                h2 { (ctx.t("cat.schema")) " (" (ctx.t("cat.version")) " " (g.version) ")" }
                table #schema {
                    tr { th { (ctx.t("cat.field_name")) } th { (ctx.t("cat.field_label")) } th { (ctx.t("cat.field_type")) } th { (ctx.t("cat.field_unit")) } th { (ctx.t("cat.grade")) } th { (ctx.t("cat.field_pi")) } th { (ctx.t("cat.field_key")) } }
                    @for f in g.schema.fields() {
                        tr { td { code { (f.name) } } td { (f.label) } td { (f.field_type.as_str()) } td { (f.unit.clone().unwrap_or_default()) }
                             td { (grade_label(&ctx, f.grade)) } td { (f.pi.as_str()) } td { @if f.key { "✓" } } }
                    }
                }
            }
        }
        div.card {
            h2 { (ctx.t("cat.gradings")) }
            table #gradings {
                tr { th { (ctx.t("cat.version")) } th { (ctx.t("cat.grade")) } th { (ctx.t("cat.status")) } th { (ctx.t("cat.basis")) } th { (ctx.t("ledger.time")) } th {} }
                @for g in &gradings {
                    tr data-version=(g.version) {
                        td { (g.version) } td { (grade_label(&ctx, g.grade)) } td.state { (g.state.as_str()) }
                        td { (g.basis.reason) @if !g.decision_note.is_empty() { br; span.muted { (g.decision_note) } } }
                        td { (fmt_time(g.proposed_at)) }
                        td {
                            @if g.state == shuyun_domain::workflow::GradingState::Proposed && ctx.can(Permission::GradeConfirm) {
                                form method="post" action=(format!("/catalogue/{}/gradings/{}/decide", r.id, g.version)) {
                                    (ctx.csrf_field())
                                    input name="note" placeholder=(ctx.t("cat.note"));
                                    button.small.confirm type="submit" name="action" value="confirm" { (ctx.t("cat.confirm")) }
                                    " "
                                    button.small.reject type="submit" name="action" value="reject" { (ctx.t("cat.reject")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        (data_section)
        (ticket_section)
        @if owner && !r.on_negative_list {
            div.card {
                h2 { (ctx.t("cat.request_negative")) }
                form method="post" action=(format!("/catalogue/{}/negative-list", r.id)) {
                    (ctx.csrf_field())
                    label for="legal_basis" { (ctx.t("cat.legal_basis")) }
                    input #legal_basis name="legal_basis" required minlength="4" maxlength="1000" style="width:40rem";
                    div { button.primary #request-negative type="submit" { (ctx.t("common.submit")) } }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &r.name, body))
}

fn options(names: &[&'static str], selected: Option<&str>) -> Markup {
    html! { @for v in names { option value=(v) selected[selected == Some(*v)] { (v) } } }
}

const FIELD_TYPES: [FieldType; 7] = [
    FieldType::String,
    FieldType::Int64,
    FieldType::Float64,
    FieldType::Fen,
    FieldType::Bool,
    FieldType::Date,
    FieldType::Timestamp,
];
const FREQUENCIES: [&str; 7] = [
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
    "irregular",
];

pub async fn new_form(ctx: PageCtx) -> Response {
    let org = ctx
        .principal
        .as_ref()
        .map(|p| p.org_name.clone())
        .unwrap_or_default();
    let body = html! {
        div.card {
            h1 { (ctx.t("cat.register")) }
            form method="post" action="/catalogue" {
                (ctx.csrf_field())
                label for="r_name" { (ctx.t("cat.name")) } input #r_name name="name" required maxlength="100";
                label for="r_description" { (ctx.t("cat.description")) } input #r_description name="description" maxlength="2000" style="width:40rem";
                label for="r_domain" { (ctx.t("cat.domain")) }
                select #r_domain name="domain" { (options(&DataDomain::ALL.map(DataDomain::as_str), None)) }
                label for="r_frequency" { (ctx.t("cat.frequency")) }
                select #r_frequency name="frequency" { (options(&FREQUENCIES, Some("monthly"))) }
                label for="r_source_system" { (ctx.t("cat.source_system")) } input #r_source_system name="source_system" required;
                label for="r_standard" { (ctx.t("cat.standard")) } input #r_standard name="standard" required;
                label for="r_contact" { (ctx.t("cat.contact")) } input #r_contact name="contact" required;
                h3 { (ctx.t("cat.rights")) }
                label { (ctx.t("cat.rights_holder")) } input name="rights_holder" value=(org) required;
                label { (ctx.t("cat.rights_processor")) } input name="rights_processor" value="景德镇市数字经济发展中心" required;
                label { (ctx.t("cat.rights_operator")) } input name="rights_operator" value="待授权运营机构" required;
                label { input #r_public type="checkbox" name="public" value="1" style="min-width:0"; " " (ctx.t("cat.public")) }
                label { input #r_open type="checkbox" name="open_data" value="1" style="min-width:0"; " " (ctx.t("cat.open")) " " span.muted { (ctx.t("cat.open_hint")) } }
                h3 { (ctx.t("cat.schema")) }
                p.muted { (ctx.t("cat.fields_hint")) }
                table #field-rows {
                    tr { th { (ctx.t("cat.field_name")) } th { (ctx.t("cat.field_label")) } th { (ctx.t("cat.field_type")) } th { (ctx.t("cat.field_unit")) } th { (ctx.t("cat.grade")) } th { (ctx.t("cat.field_pi")) } th { (ctx.t("cat.field_key")) } th { (ctx.t("cat.field_nullable")) } }
                    @for i in 0..FIELD_ROWS {
                        tr {
                            td { input name=(format!("f{i}_name")) style="min-width:8rem"; }
                            td { input name=(format!("f{i}_label")) style="min-width:8rem"; }
                            td { select name=(format!("f{i}_type")) { (options(&FIELD_TYPES.map(FieldType::as_str), None)) } }
                            td { input name=(format!("f{i}_unit")) style="min-width:4rem"; }
                            td { select name=(format!("f{i}_grade")) { (options(&Grade::ALL.map(Grade::as_str), Some("general2"))) } }
                            td { select name=(format!("f{i}_pi")) { (options(&[PiTag::None, PiTag::Pi, PiTag::SensitivePi].map(PiTag::as_str), None)) } }
                            td { input type="checkbox" name=(format!("f{i}_key")) value="1" style="min-width:0"; }
                            td { input type="checkbox" name=(format!("f{i}_nullable")) value="1" style="min-width:0"; }
                        }
                    }
                }
                h3 { (ctx.t("cat.basis")) }
                label { (ctx.t("cat.impact_object")) }
                select name="impact_object" { @for o in ["organisation_rights", "personal_rights", "public_interest", "economic_operation", "social_order", "national_security"] { option value=(o) { (o) } } }
                label { (ctx.t("cat.impact_degree")) }
                select name="impact_degree" { @for d in ["minor", "moderate", "serious", "severe"] { option value=(d) { (d) } } }
                label for="r_reason" { (ctx.t("cat.reason")) } input #r_reason name="reason" maxlength="500" style="width:40rem";
                div { button.primary #submit-resource type="submit" { (ctx.t("common.submit")) } }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("cat.register"), body))
}

fn parse_form(body: &[u8]) -> Result<NewResource, DomainError> {
    let form = FormFields::parse(body);
    let get = |k: &str| form.get(k).trim().to_string();
    let json_enum = |field: &str, v: String| -> Result<serde_json::Value, DomainError> {
        if v.is_empty() {
            return Err(DomainError::invalid(field, "choose a value"));
        }
        Ok(serde_json::Value::String(v))
    };
    let mut fields = Vec::new();
    for i in 0..FIELD_ROWS {
        let name = get(&format!("f{i}_name"));
        if name.is_empty() {
            continue;
        }
        let unit = get(&format!("f{i}_unit"));
        let spec: FieldSpec = serde_json::from_value(serde_json::json!({
            "name": name,
            "label": get(&format!("f{i}_label")),
            "type": get(&format!("f{i}_type")),
            "unit": if unit.is_empty() { serde_json::Value::Null } else { serde_json::Value::String(unit) },
            "grade": get(&format!("f{i}_grade")),
            "pi": get(&format!("f{i}_pi")),
            "key": !get(&format!("f{i}_key")).is_empty(),
            "nullable": !get(&format!("f{i}_nullable")).is_empty(),
        }))
        .map_err(|e| DomainError::invalid("schema", format!("field row {}: {e}", i + 1)))?;
        fields.push(spec);
    }
    let basis: GradeBasis = serde_json::from_value(serde_json::json!({
        "impact_object": json_enum("impact_object", get("impact_object"))?,
        "impact_degree": json_enum("impact_degree", get("impact_degree"))?,
        "reason": get("reason"),
    }))
    .map_err(|e| DomainError::invalid("basis", e.to_string()))?;
    Ok(NewResource {
        name: get("name"),
        description: get("description"),
        domain: DataDomain::parse(&get("domain"))?,
        frequency: serde_json::from_value(json_enum("frequency", get("frequency"))?)
            .map_err(|_| DomainError::invalid("frequency", "unknown update frequency"))?,
        source_system: get("source_system"),
        standard: get("standard"),
        contact: get("contact"),
        rights: Rights {
            holder: get("rights_holder"),
            processor: get("rights_processor"),
            operator: get("rights_operator"),
        },
        shared_from_org_id: None,
        public: !get("public").is_empty(),
        open_data: !get("open_data").is_empty(),
        schema: Schema::new(fields)?,
        grade: None,
        basis,
    })
}

pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let result: Result<Resource, DomainError> = async {
        let new = parse_form(&body)?;
        state
            .store
            .register_resource(p, &state.division, new, state.now())
            .await
            .map_err(StoreError::into_domain)
    }
    .await;
    match result {
        Ok(r) => super::back(
            &format!("/catalogue/{}", r.id),
            Ok(format!("{} {}", ctx.t("common.done"), r.code)),
        ),
        Err(e) => super::back("/catalogue/new", Err(e.message)),
    }
}

pub async fn decide_grading(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let form = FormFields::parse(&body);
    let get = |k: &str| form.get(k);
    let action = if get("action") == "reject" {
        GradingAction::Reject
    } else {
        GradingAction::Confirm
    };
    let result = state
        .store
        .decide_grading(p, id, version, action, &get("note"), state.now())
        .await;
    ctx.after(
        &format!("/catalogue/{id}"),
        result
            .map(|g| format!("v{}", g.version))
            .map_err(StoreError::into_domain),
    )
}

pub async fn request_negative(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let basis = FormFields::parse(&body).get("legal_basis");
    let result = state
        .store
        .request_negative(p, id, &basis, state.now())
        .await;
    ctx.after(
        &format!("/catalogue/{id}"),
        result
            .map(|_| String::new())
            .map_err(StoreError::into_domain),
    )
}

pub async fn negative_list(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let published = state
        .store
        .negative_entries(&[NegativeState::Approved])
        .await
        .unwrap_or_default();
    let requests = if ctx.can(Permission::NegativeListDecide) {
        state
            .store
            .negative_entries(&[NegativeState::Requested])
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let body = html! {
        div.card {
            h1 { (ctx.t("neg.published")) }
            table #negative-published {
                tr { th { (ctx.t("cat.code")) } th { (ctx.t("cat.name")) } th { (ctx.t("cat.legal_basis")) } th { (ctx.t("neg.list_version")) } }
                @for e in &published { tr { td { code { (e.resource_code) } } td { (e.resource_name) } td { (e.legal_basis) } td { (e.list_version.unwrap_or(0)) } } }
            }
        }
        @if ctx.can(Permission::NegativeListDecide) {
            div.card {
                h2 { (ctx.t("neg.requests")) }
                table #negative-requests {
                    tr { th { (ctx.t("cat.code")) } th { (ctx.t("cat.name")) } th { (ctx.t("cat.legal_basis")) } th {} }
                    @for e in &requests {
                        tr data-entry=(e.id) {
                            td { code { (e.resource_code) } } td { (e.resource_name) } td { (e.legal_basis) }
                            td { form method="post" action=(format!("/negative-list/{}/decide", e.id)) {
                                (ctx.csrf_field())
                                input name="note" placeholder=(ctx.t("cat.note"));
                                button.small.approve type="submit" name="action" value="approve" { (ctx.t("neg.approve")) }
                                " "
                                button.small.reject type="submit" name="action" value="reject" { (ctx.t("cat.reject")) }
                            } }
                        }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("neg.title"), body))
}

pub async fn decide_negative(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let form = FormFields::parse(&body);
    let get = |k: &str| form.get(k);
    let action = if get("action") == "reject" {
        NegativeAction::Reject
    } else {
        NegativeAction::Approve
    };
    let result = state
        .store
        .decide_negative(p, id, action, &get("note"), state.now())
        .await;
    ctx.after(
        "/negative-list",
        result
            .map(|e| e.resource_code)
            .map_err(StoreError::into_domain),
    )
}
