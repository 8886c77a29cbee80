//! The open-data page (A8): what the public may download, with the links
//! and the DCAT catalogue for harvesting. No sign-in needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;
use crate::api::open::open_version;
use shuyun_store::catalogue::{CatalogueView, Resource};

/// Download links of a resource, if the public may download it.
pub async fn links(state: &AppState, ctx: &PageCtx, r: &Resource) -> Option<Markup> {
    let (_, v) = open_version(state, r.id).await.ok()?;
    let base = format!("/api/v1/public/resources/{}/download", r.id);
    Some(html! {
        span.downloads {
            a.download-csv href=(format!("{base}?format=csv")) download { "CSV" }
            " · "
            a.download-parquet href=(format!("{base}?format=parquet")) download { "Parquet" }
            " " span.muted { "v" (v.version) " · " (v.rows) " " (ctx.t("data.rows")) " · " (fmt_time(v.uploaded_at)) }
        }
    })
}

pub async fn page(State(state): State<AppState>, ctx: PageCtx) -> Response {
    let resources = state
        .store
        .resources(CatalogueView::Public)
        .await
        .unwrap_or_default();
    let mut rows = Vec::new();
    for r in resources.iter().filter(|r| r.open_data) {
        if let Some(l) = links(&state, &ctx, r).await {
            rows.push((r, l));
        }
    }
    let body = html! {
        div.card {
            h1 { (ctx.t("open.title")) }
            p { (ctx.t("open.intro")) }
            p { a #dcat-link href="/api/v1/public/dcat.jsonld" { (ctx.t("open.dcat")) } }
            @if rows.is_empty() { p.muted { (ctx.t("open.none")) } } @else {
                table #open-data {
                    tr { th { (ctx.t("cat.code")) } th { (ctx.t("cat.name")) } th { (ctx.t("cat.owner")) } th { (ctx.t("open.download")) } }
                    @for (r, l) in &rows {
                        tr data-code=(r.code) {
                            td { code { (r.code) } }
                            td { a href=(format!("/catalogue/{}", r.id)) { (r.name) } }
                            td { (r.owner_org_name) }
                            td { (l) }
                        }
                    }
                }
            }
            h2 #terms { (ctx.t("open.terms_title")) }
            p.muted { (ctx.t("open.terms")) }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("open.title"), body))
}
