//! The ledger explorer: look up entries and see their proofs verified.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use shuyun_store::ledger::EntryFilter;

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;
use crate::extract::{ApiPath, ApiQuery};

#[derive(Deserialize)]
pub struct ExplorerQuery {
    #[serde(default)]
    index: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    before: Option<u64>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    err: Option<String>,
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

pub async fn explorer(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiQuery(q): ApiQuery<ExplorerQuery>,
) -> Response {
    let _ = (&q.msg, &q.err);
    if let Some(idx) = nonempty(q.index.clone()) {
        return match idx.parse::<u64>() {
            Ok(i) => Redirect::to(&format!("/ledger/entries/{i}")).into_response(),
            Err(_) => super::back("/ledger", Err(format!("'{idx}': not an index"))),
        };
    }
    let filter = EntryFilter {
        actor: nonempty(q.actor.clone()),
        action: nonempty(q.action.clone()),
        object: nonempty(q.object.clone()),
        before: q.before,
        limit: 50,
    };
    let entries = state
        .store
        .ledger_entries(&filter)
        .await
        .unwrap_or_default();
    let cp = state.store.latest_checkpoint().await.ok().flatten();
    let older = entries.last().map(|e| e.index).filter(|i| *i > 0);
    let body = html! {
        div.card {
            h1 { (ctx.t("ledger.title")) }
            @if let Some(cp) = &cp {
                p { (ctx.t("ledger.size")) ": " strong #ledger-size { (cp.size) } " · " (fmt_time(cp.ts)) }
                p { (ctx.t("ledger.root")) ": " code { (cp.root) } }
            }
            p { (ctx.t("ledger.key")) ": " code #vkey { (state.store.verifier().to_vkey_string()) } }
            form method="get" action="/ledger" {
                label for="index" { (ctx.t("ledger.goto")) }
                input #index name="index" inputmode="numeric";
                button.small #goto type="submit" { (ctx.t("common.search")) }
            }
            form method="get" action="/ledger" {
                label { (ctx.t("ledger.actor")) } input name="actor" value=(filter.actor.clone().unwrap_or_default()) placeholder="user:3";
                label { (ctx.t("ledger.action")) } input name="action" value=(filter.action.clone().unwrap_or_default()) placeholder="auth.login";
                label { (ctx.t("ledger.object")) } input name="object" value=(filter.object.clone().unwrap_or_default()) placeholder="org:2";
                div { button.small type="submit" { (ctx.t("common.search")) } }
            }
        }
        div.card {
            table #entries {
                tr { th { (ctx.t("ledger.index")) } th { (ctx.t("ledger.time")) } th { (ctx.t("ledger.actor")) } th { (ctx.t("ledger.action")) } th { (ctx.t("ledger.object")) } }
                @for e in &entries {
                    tr { td { a href=(format!("/ledger/entries/{}", e.index)) { (e.index) } } td { (fmt_time(e.ts)) } td { code { (e.actor) } } td { code { (e.action) } } td { (e.object) } }
                }
            }
            @if let Some(o) = older {
                p { a href=(format!("/ledger?before={o}&actor={}&action={}&object={}",
                    super::urlencode(&filter.actor.clone().unwrap_or_default()),
                    super::urlencode(&filter.action.clone().unwrap_or_default()),
                    super::urlencode(&filter.object.clone().unwrap_or_default()))) { (ctx.t("common.more")) " →" } }
            }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("ledger.title"), body))
}

pub async fn entry(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(index): ApiPath<u64>,
) -> Response {
    let result = crate::api::ledger::entry(State(state.clone()), ApiPath(index)).await;
    let e = match result {
        Ok(axum::Json(e)) => e,
        Err(err) => return super::error_page_for(&ctx, &err.0),
    };
    let body = html! {
        div.card {
            h1 { (ctx.t("ledger.entry")) " #" (e.entry.index) }
            @if e.verified { p.ok #verified { "✓ " (ctx.t("ledger.verified")) } } @else { p.bad #verified { "✗ " (ctx.t("ledger.not_verified")) } }
            table {
                tr { th { (ctx.t("ledger.time")) } td { (fmt_time(e.entry.ts)) } }
                tr { th { (ctx.t("ledger.actor")) } td { code { (e.entry.actor) } } }
                tr { th { (ctx.t("ledger.action")) } td { code #entry-action { (e.entry.action) } } }
                tr { th { (ctx.t("ledger.object")) } td { (e.entry.object) } }
                tr { th { (ctx.t("ledger.detail")) } td { code { (e.entry.detail.to_string()) } } }
                tr { th { (ctx.t("ledger.leaf")) } td { code { (e.entry.leaf_hash) } } }
            }
        }
        div.card {
            h2 { (ctx.t("ledger.leaf_data")) }
            pre.mono { (e.leaf_data) }
            h2 { (ctx.t("ledger.proof")) }
            ol.mono #proof { @for h in &e.inclusion.proof { li { (h) } } }
            h2 { (ctx.t("ledger.checkpoint")) " (" (e.inclusion.tree_size) ")" }
            pre.mono #checkpoint-note { (e.inclusion.checkpoint.note) }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("ledger.entry"), body))
}
