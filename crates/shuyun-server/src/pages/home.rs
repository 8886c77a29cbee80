//! The home page: a public landing page, or the caller's role workbench.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use shuyun_domain::Permission;
use shuyun_store::ledger::EntryFilter;

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;

pub async fn home(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let checkpoint = state.store.latest_checkpoint().await.ok().flatten();
    let Some(p) = &ctx.principal else {
        let body = html! {
            div.card {
                h1 { (ctx.t("app.name")) }
                p { (ctx.t("app.tagline")) }
                p { (ctx.t("home.public_intro")) }
                p { a #login-link-main href="/login" { (ctx.t("nav.login")) } }
            }
            @if let Some(cp) = &checkpoint {
                div.card {
                    h2 { (ctx.t("home.checkpoint")) }
                    p { (ctx.t("ledger.size")) ": " strong #ledger-size { (cp.size) } }
                    p { (ctx.t("ledger.root")) ": " code { (cp.root) } }
                    pre.mono { (cp.note) }
                    p { (ctx.t("ledger.key")) ": " code { (state.store.verifier().to_vkey_string()) } }
                }
            }
        };
        return html_response(StatusCode::OK, layout(&ctx, &ctx.t("nav.home"), body));
    };
    let role = p.role.as_str();
    let recent = state
        .store
        .ledger_entries(&EntryFilter {
            actor: Some(format!("user:{}", p.user_id)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let mut tasks: Vec<(&str, String)> = Vec::new();
    if ctx.can(Permission::OrgAdmin) {
        tasks.push(("/admin/orgs", ctx.t("task.orgs")));
    } else if ctx.can(Permission::OrgRead) {
        tasks.push(("/admin/orgs", ctx.t("task.orgs_read")));
    }
    if ctx.can(Permission::UserAdmin) {
        tasks.push(("/admin/users", ctx.t("task.users")));
    } else if ctx.can(Permission::UserRead) {
        tasks.push(("/admin/users", ctx.t("task.users_read")));
    }
    if ctx.can(Permission::ResourceManage) {
        tasks.push(("/catalogue/new", ctx.t("cat.register")));
    }
    tasks.push(("/catalogue", ctx.t("cat.title")));
    if ctx.principal.is_some() {
        tasks.push(("/tickets", ctx.t("tk.title")));
        tasks.push(("/authorization", ctx.t("nav.authorization")));
    }
    if ctx.can(Permission::NegativeListDecide) {
        tasks.push(("/negative-list", ctx.t("neg.requests")));
    }
    if ctx.can(Permission::LedgerRead) {
        tasks.push(("/ledger", ctx.t("task.ledger")));
    }
    tasks.push(("/account", ctx.t("task.account")));
    let todo = super::authorization::tasks::tasks(&state, &ctx).await;
    let body = html! {
        div.card #role-home data-role=(role) {
            h1 { (ctx.t("home.welcome")) "，" (p.display_name) }
            p { (ctx.t("home.org")) ": " strong #org-name { (if ctx.lang == crate::i18n::Lang::En { &p.org_name_en } else { &p.org_name }) } }
            p { (ctx.t("home.role")) ": " strong #role-name { (ctx.t(&format!("role.{role}"))) } }
            p { (ctx.t("home.duties")) ": " (ctx.t(&format!("duty.{role}"))) }
            @if p.must_change_password { div.err { a href="/account" { (ctx.t("home.must_change")) } } }
        }
        (super::authorization::tasks::card(&ctx, &todo))
        div.card {
            h2 { (ctx.t("home.tasks")) }
            div.tasks { @for (href, label) in &tasks { a href=(href) { (label) } } }
        }
        div.card {
            h2 { (ctx.t("home.recent")) }
            table #recent {
                tr { th { (ctx.t("ledger.time")) } th { (ctx.t("ledger.action")) } th { (ctx.t("ledger.object")) } }
                @for e in &recent { tr { td { (fmt_time(e.ts)) } td { code { (e.action) } } td { (e.object) } } }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("nav.home"), body))
}
