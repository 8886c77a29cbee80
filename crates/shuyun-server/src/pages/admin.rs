//! Administration pages: organisations and users.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use shuyun_domain::DomainError;
use shuyun_domain::{OrgKind, Permission};
use shuyun_store::StoreError;
use shuyun_store::accounts::{NewOrg, NewUser};

use super::{PageCtx, back, fmt_time, html_response, layout};
use crate::AppState;
use crate::extract::{ApiPath, PageForm};

fn kind_label(ctx: &PageCtx, k: OrgKind) -> String {
    ctx.t(&format!("role.{}", k.role().as_str()))
}

pub async fn orgs(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let orgs = state.store.list_orgs().await.unwrap_or_default();
    let admin = ctx.can(Permission::OrgAdmin);
    let body = html! {
        div.card {
            h1 { (ctx.t("nav.orgs")) }
            table #orgs {
                tr { th { "ID" } th { (ctx.t("org.name")) } th { (ctx.t("org.kind")) } th { (ctx.t("org.credit_code")) } th { (ctx.t("org.division_code")) } th { (ctx.t("common.state")) } @if admin { th { (ctx.t("common.actions")) } } }
                @for o in &orgs {
                    tr data-org=(o.credit_code) {
                        td { (o.id) } td { (o.name) br; span.muted { (o.name_en) } } td { (kind_label(&ctx, o.kind)) }
                        td { code { (o.credit_code) } } td { (o.division_code) }
                        td { @if o.disabled { span.bad { (ctx.t("common.disabled")) } } @else { (ctx.t("common.enabled")) } }
                        @if admin {
                            td { form method="post" action=(format!("/admin/orgs/{}/toggle", o.id)) {
                                (ctx.csrf_field())
                                button.small type="submit" { @if o.disabled { (ctx.t("common.enable")) } @else { (ctx.t("common.disable")) } }
                            } }
                        }
                    }
                }
            }
        }
        @if admin {
            div.card {
                h2 { (ctx.t("org.create")) }
                form method="post" action="/admin/orgs" {
                    (ctx.csrf_field())
                    label for="org_name" { (ctx.t("org.name")) } input #org_name name="name" required;
                    label for="org_name_en" { (ctx.t("org.name_en")) } input #org_name_en name="name_en" required;
                    label for="org_kind" { (ctx.t("org.kind")) }
                    select #org_kind name="kind" { @for k in OrgKind::ALL { option value=(k.as_str()) { (kind_label(&ctx, k)) } } }
                    label for="org_credit_code" { (ctx.t("org.credit_code")) } input #org_credit_code name="credit_code" required maxlength="18";
                    label for="org_division_code" { (ctx.t("org.division_code")) } input #org_division_code name="division_code" value="360200" required maxlength="6";
                    div { button.primary #create-org type="submit" { (ctx.t("common.submit")) } }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("nav.orgs"), body))
}

#[derive(Deserialize)]
pub struct OrgForm {
    name: String,
    name_en: String,
    kind: String,
    credit_code: String,
    division_code: String,
}

pub async fn create_org(
    State(state): State<AppState>,
    ctx: PageCtx,
    PageForm(f): PageForm<OrgForm>,
) -> Response {
    let result: Result<String, DomainError> = async {
        let new = NewOrg {
            name: f.name,
            name_en: f.name_en,
            kind: OrgKind::parse(&f.kind)?,
            credit_code: f.credit_code.parse()?,
            division_code: f.division_code.parse()?,
        };
        let org = state
            .store
            .create_org(&ctx.actor(), new, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(org.name)
    }
    .await;
    ctx.after("/admin/orgs", result)
}

pub async fn toggle_org(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let result: Result<_, StoreError> = async {
        let o = state.store.org(id).await?;
        state
            .store
            .set_org_disabled(&ctx.actor(), id, !o.disabled, state.now())
            .await
    }
    .await;
    ctx.after(
        "/admin/orgs",
        result.map(|o| o.name).map_err(StoreError::into_domain),
    )
}

async fn render_users(state: &AppState, ctx: &PageCtx, temp: Option<(String, String)>) -> Response {
    let users = state.store.list_users(None).await.unwrap_or_default();
    let orgs = state.store.list_orgs().await.unwrap_or_default();
    let org_name = |id: i64| {
        orgs.iter()
            .find(|o| o.id == id)
            .map_or_else(String::new, |o| o.name.clone())
    };
    let admin = ctx.can(Permission::UserAdmin);
    let body = html! {
        @if let Some((user, pw)) = temp {
            div.msg { (ctx.t("user.temp_password")) " — " (user) ": " code #temp-password { (pw) } }
        }
        div.card {
            h1 { (ctx.t("nav.users")) }
            table #users {
                tr { th { "ID" } th { (ctx.t("user.username")) } th { (ctx.t("user.display_name")) } th { (ctx.t("user.org")) } th { (ctx.t("user.role")) } th { (ctx.t("common.state")) } th { (ctx.t("common.created")) } @if admin { th { (ctx.t("common.actions")) } } }
                @for u in &users {
                    tr data-user=(u.username) {
                        td { (u.id) } td { a href=(format!("/admin/users/{}", u.id)) { code { (u.username) } } } td { (u.display_name) } td { (org_name(u.org_id)) }
                        td { (ctx.t(&format!("role.{}", u.role.as_str()))) }
                        td { @if u.disabled { span.bad { (ctx.t("common.disabled")) } } @else { (ctx.t("common.enabled")) } }
                        td { (fmt_time(u.created_at)) }
                        @if admin {
                            td {
                                form method="post" action=(format!("/admin/users/{}/toggle", u.id)) style="display:inline" {
                                    (ctx.csrf_field())
                                    button.small.toggle type="submit" { @if u.disabled { (ctx.t("common.enable")) } @else { (ctx.t("common.disable")) } }
                                }
                                " "
                                form method="post" action=(format!("/admin/users/{}/reset-password", u.id)) style="display:inline" {
                                    (ctx.csrf_field()) button.small.reset type="submit" { (ctx.t("user.reset")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if admin {
            div.card {
                h2 { (ctx.t("user.create")) }
                form method="post" action="/admin/users" {
                    (ctx.csrf_field())
                    label for="user_org" { (ctx.t("user.org")) }
                    select #user_org name="org_id" { @for o in &orgs { option value=(o.id) { (o.name) } } }
                    label for="user_username" { (ctx.t("user.username")) } input #user_username name="username" required;
                    label for="user_display_name" { (ctx.t("user.display_name")) } input #user_display_name name="display_name" required;
                    label for="user_password" { (ctx.t("user.initial_password")) } input #user_password name="password" type="password" required minlength="10";
                    div { button.primary #create-user type="submit" { (ctx.t("common.submit")) } }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout(ctx, &ctx.t("nav.users"), body))
}

pub async fn users(State(state): State<AppState>, ctx: PageCtx) -> Response {
    render_users(&state, &ctx, None).await
}

#[derive(Deserialize)]
pub struct UserForm {
    org_id: i64,
    username: String,
    display_name: String,
    password: String,
}

pub async fn create_user(
    State(state): State<AppState>,
    ctx: PageCtx,
    PageForm(f): PageForm<UserForm>,
) -> Response {
    let result: Result<String, DomainError> = async {
        let new = NewUser {
            org_id: f.org_id,
            username: f.username.parse()?,
            display_name: f.display_name,
            password: f.password,
        };
        let user = state
            .store
            .create_user(&ctx.actor(), new, true, state.now())
            .await
            .map_err(StoreError::into_domain)?;
        Ok(user.username)
    }
    .await;
    ctx.after("/admin/users", result)
}

pub async fn toggle_user(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let result: Result<_, StoreError> = async {
        let u = state.store.user(id).await?;
        state
            .store
            .set_user_disabled(&ctx.actor(), id, !u.disabled, state.now())
            .await
    }
    .await;
    ctx.after(
        "/admin/users",
        result.map(|u| u.username).map_err(StoreError::into_domain),
    )
}

pub async fn reset_password(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let result: Result<_, StoreError> = async {
        let user = state.store.user(id).await?;
        let pw = state
            .store
            .reset_password(&ctx.actor(), id, state.now())
            .await?;
        Ok((user.username, pw))
    }
    .await;
    match result {
        Ok(temp) => render_users(&state, &ctx, Some(temp)).await,
        Err(e) => ctx.after("/admin/users", Err(e.into_domain())),
    }
}

async fn render_user(
    state: &AppState,
    ctx: &PageCtx,
    id: i64,
    new_token: Option<&str>,
) -> Response {
    let user = match state.store.user(id).await {
        Ok(u) => u,
        Err(e) => return super::error_page_for(ctx, &e.into_domain()),
    };
    let org = state.store.org(user.org_id).await.ok();
    let token_admin = ctx.can(Permission::TokenAdmin);
    let tokens = if token_admin {
        state.store.list_tokens(id).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let scopable: Vec<Permission> = user
        .role
        .permissions()
        .into_iter()
        .filter(|p| p.scopable())
        .collect();
    let body = html! {
        div.card {
            h1 { (user.display_name) " " code { (user.username) } }
            table {
                tr { th { (ctx.t("user.org")) } td { (org.as_ref().map_or("", |o| o.name.as_str())) } }
                tr { th { (ctx.t("user.role")) } td { (ctx.t(&format!("role.{}", user.role.as_str()))) } }
                tr { th { (ctx.t("common.state")) } td { @if user.disabled { span.bad { (ctx.t("common.disabled")) } } @else { (ctx.t("common.enabled")) } } }
                tr { th { (ctx.t("common.created")) } td { (fmt_time(user.created_at)) } }
            }
            p { a href="/admin/users" { "← " (ctx.t("nav.users")) } }
        }
        @if token_admin {
            (super::account::tokens_card(ctx, &tokens, &scopable, state.now(), new_token,
                &format!("/admin/users/{id}/tokens"), "/admin/tokens"))
        }
    };
    html_response(StatusCode::OK, layout(ctx, &ctx.t("nav.users"), body))
}

pub async fn user(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    render_user(&state, &ctx, id, None).await
}

pub async fn issue_user_token(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return back("/login", Err(String::new()));
    };
    match super::account::issue_from_form(&state, p, id, &body).await {
        Ok(token) => render_user(&state, &ctx, id, Some(&token)).await,
        Err(e) => back(&format!("/admin/users/{id}"), Err(e)),
    }
}

pub async fn revoke_any_token(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return back("/login", Err(String::new()));
    };
    let token = match state.store.token(id).await {
        Ok(t) => t,
        Err(e) => return ctx.after("/admin/users", Err(e.into_domain())),
    };
    let result = state.store.revoke_token(p, id, state.now()).await;
    ctx.after(
        &format!("/admin/users/{}", token.user_id),
        result.map(|t| t.name).map_err(StoreError::into_domain),
    )
}
