//! The caller's own account: password and API tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use shuyun_domain::{DomainError, Permission};
use shuyun_store::StoreError;
use shuyun_store::accounts::{ApiToken, Principal};

use super::{PageCtx, back, fmt_time, html_response, layout};
use crate::AppState;
use crate::auth::FormFields;
use crate::extract::{ApiPath, PageForm};

async fn render(state: &AppState, ctx: &PageCtx, new_token: Option<String>) -> Response {
    let Some(p) = &ctx.principal else {
        return super::error_page(&shuyun_domain::DomainError::new(
            shuyun_domain::ErrorCode::Unauthenticated,
            "sign in",
        ));
    };
    let tokens = state.store.list_tokens(p.user_id).await.unwrap_or_default();
    let scopable: Vec<Permission> = p
        .role
        .permissions()
        .into_iter()
        .filter(|x| x.scopable())
        .collect();
    let now = state.now();
    let body = html! {
        div.card {
            h1 { (ctx.t("nav.account")) }
            p { (p.display_name) " (" code { (p.username) } ") · " (p.org_name) }
        }
        div.card {
            h2 { (ctx.t("account.password")) }
            form method="post" action="/account/password" {
                (ctx.csrf_field())
                label for="current_password" { (ctx.t("account.current")) }
                input #current_password name="current_password" type="password" autocomplete="current-password" required;
                label for="new_password" { (ctx.t("account.new")) }
                input #new_password name="new_password" type="password" autocomplete="new-password" required minlength="10";
                div { button.primary #change-password type="submit" { (ctx.t("common.submit")) } }
            }
        }
        (tokens_card(ctx, &tokens, &scopable, now, new_token.as_deref(), "/account/tokens", "/account/tokens"))
    };
    html_response(StatusCode::OK, layout(ctx, &ctx.t("nav.account"), body))
}

/// The API-token card: list with revoke buttons, the one-time display of a
/// new token, and the issue form. `issue_action` receives the form;
/// revoking posts to `{revoke_prefix}/{id}/revoke`.
pub fn tokens_card(
    ctx: &PageCtx,
    tokens: &[ApiToken],
    scopable: &[Permission],
    now: i64,
    new_token: Option<&str>,
    issue_action: &str,
    revoke_prefix: &str,
) -> Markup {
    html! {
        div.card {
            h2 { (ctx.t("account.tokens")) }
            @if let Some(t) = new_token {
                div.msg { (ctx.t("account.new_token")) ": " code #new-token { (t) } }
            }
            table #tokens {
                tr { th { (ctx.t("account.token_name")) } th { (ctx.t("account.prefix")) } th { (ctx.t("account.token_scopes")) } th { (ctx.t("account.expires")) } th { (ctx.t("common.state")) } th {} }
                @for t in tokens {
                    tr data-token=(t.id) {
                        td { (t.name) } td { code { (t.prefix) "…" } }
                        td { @for s in &t.scopes { code { (s.as_str()) } " " } }
                        td { (fmt_time(t.expires_at)) }
                        td {
                            @if t.revoked_at.is_some() { (ctx.t("account.revoked")) }
                            @else if t.expires_at <= now { span.muted { "expired" } }
                            @else { (ctx.t("common.enabled")) }
                        }
                        td {
                            @if t.revoked_at.is_none() {
                                form method="post" action=(format!("{revoke_prefix}/{}/revoke", t.id)) {
                                    (ctx.csrf_field()) button.small.revoke type="submit" { (ctx.t("account.revoke")) }
                                }
                            }
                        }
                    }
                }
            }
            h3 { (ctx.t("account.issue")) }
            form method="post" action=(issue_action) {
                (ctx.csrf_field())
                label for="token_name" { (ctx.t("account.token_name")) }
                input #token_name name="name" required maxlength="100";
                label for="token_days" { (ctx.t("account.token_days")) }
                input #token_days name="expires_in_days" type="number" min="1" max="366" value="90" required;
                label { (ctx.t("account.token_scopes")) }
                @for s in scopable {
                    label style="display:inline-block;margin-right:1rem" { input type="checkbox" name="scope" value=(s.as_str()) style="min-width:0"; " " (s.as_str()) }
                }
                div { button.primary #issue-token type="submit" { (ctx.t("account.issue")) } }
            }
        }
    }
}

/// Parse the token form and issue a token to `user_id`.
pub async fn issue_from_form(
    state: &AppState,
    actor: &Principal,
    user_id: i64,
    body: &[u8],
) -> Result<String, String> {
    let form = FormFields::parse(body);
    let get = |k: &str| form.get(k);
    let scopes: Vec<Permission> = form
        .all("scope")
        .map(Permission::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| e.message)?;
    let days: u32 = get("expires_in_days")
        .parse()
        .map_err(|_| "expires_in_days: a whole number of days".to_string())?;
    state
        .store
        .issue_token(actor, user_id, &get("name"), &scopes, days, state.now())
        .await
        .map(|t| t.token)
        .map_err(|e| e.into_domain().message)
}

pub async fn show(State(state): State<AppState>, ctx: PageCtx) -> Response {
    render(&state, &ctx, None).await
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ctx: PageCtx,
    PageForm(f): PageForm<PasswordForm>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return back("/login", Err(String::new()));
    };
    let result = state
        .store
        .change_password(p, &f.current_password, &f.new_password, state.now())
        .await;
    ctx.after(
        "/account",
        result
            .map(|()| String::new())
            .map_err(StoreError::into_domain),
    )
}

pub async fn issue_token(
    State(state): State<AppState>,
    ctx: PageCtx,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return back("/login", Err(String::new()));
    };
    match issue_from_form(&state, p, p.user_id, &body).await {
        Ok(token) => render(&state, &ctx, Some(token)).await,
        Err(e) => back("/account", Err(e)),
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return back("/login", Err(String::new()));
    };
    let result: Result<_, StoreError> = async {
        if state.store.token(id).await?.user_id != p.user_id {
            return Err(DomainError::not_found(format!("token {id}")).into());
        }
        state.store.revoke_token(p, id, state.now()).await
    }
    .await;
    ctx.after(
        "/account",
        result.map(|t| t.name).map_err(StoreError::into_domain),
    )
}
