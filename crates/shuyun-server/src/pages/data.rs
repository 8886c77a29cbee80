//! Data and quality on a resource's page: versions with their SM3 and
//! score, the upload form (a multipart form, no script), rejected loads
//! with their reports, quality rules, scores over time and the quality
//! report of a version.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::TryStreamExt;
use maud::{Markup, html};
use shuyun_domain::quality::{Dimension, Rule};
use shuyun_domain::{DomainError, Permission};
use shuyun_store::StoreError;
use shuyun_store::catalogue::{CatalogueView, Resource};
use shuyun_store::quality::QualityScore;

use super::{PageCtx, fmt_time, html_response, layout};
use crate::AppState;
use crate::api::data::{LoadError, load_reader, parse_format};
use crate::auth::FormFields;
use crate::extract::ApiPath;

pub fn dimension_label(ctx: &PageCtx, d: Dimension) -> String {
    ctx.t(&format!("q.dim.{}", d.as_str()))
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Scores over time as a bar chart (inline SVG, one bar per version).
fn score_chart(ctx: &PageCtx, h: &[QualityScore]) -> Markup {
    let (w, hgt, bar) = (560.0_f64, 140.0_f64, 28.0_f64);
    let step = if h.is_empty() {
        w
    } else {
        (w - 40.0) / h.len().max(1) as f64
    };
    html! {
        svg #quality-chart width=(w) height=(hgt + 30.0) role="img" aria-label=(ctx.t("q.history")) {
            line x1="30" y1="10" x2="30" y2=(hgt + 10.0) stroke="#9aa5b1" {}
            line x1="30" y1=(hgt + 10.0) x2=(w) y2=(hgt + 10.0) stroke="#9aa5b1" {}
            text x="0" y="16" font-size="10" fill="#7b8794" { "100" }
            text x="8" y=(hgt + 12.0) font-size="10" fill="#7b8794" { "0" }
            @for (i, s) in h.iter().enumerate() {
                @let x = 36.0 + i as f64 * step;
                @let bh = s.score / 100.0 * hgt;
                @let color = if s.score >= 90.0 { "#31b237" } else if s.score >= 70.0 { "#f0b429" } else { "#e12d39" };
                rect x=(x) y=(hgt + 10.0 - bh) width=(bar.min(step - 4.0)) height=(bh) fill=(color) {
                    title { "v" (s.data_version) ": " (format!("{:.2}", s.score)) " · " (fmt_time(s.uploaded_at)) }
                }
                text x=(x) y=(hgt + 24.0) font-size="10" fill="#3e4c59" { "v" (s.data_version) }
            }
        }
    }
}

/// The data and quality cards of a resource page.
pub async fn section(state: &AppState, ctx: &PageCtx, r: &Resource, owner: bool) -> Markup {
    let versions = state.store.data_versions(r.id).await.unwrap_or_default();
    let history = state.store.quality_history(r.id).await.unwrap_or_default();
    let rules = state.store.quality_rules(r.id).await.ok();
    let sees_rejections = owner || ctx.can(Permission::CatalogueRead);
    let rejections = if sees_rejections {
        state.store.rejections(r.id).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let score_of = |v: i64| {
        history
            .iter()
            .find(|s| s.data_version == v)
            .map(|s| s.score)
    };
    html! {
        div.card {
            h2 { (ctx.t("data.versions")) }
            @if versions.is_empty() {
                p.muted #no-data { (ctx.t("data.none")) }
            } @else {
                table #data-versions {
                    tr { th { (ctx.t("cat.version")) } th { (ctx.t("data.file")) } th { (ctx.t("data.rows")) } th { (ctx.t("data.size")) } th { "SM3" } th { (ctx.t("data.uploaded_at")) } th { (ctx.t("q.score")) } th {} }
                    @for v in &versions {
                        tr.current[v.current] data-version=(v.version) {
                            td { "v" (v.version) @if v.current { " " span.ok.current-mark { (ctx.t("data.current")) } } }
                            td { (v.original_name) }
                            td.rows { (v.rows) }
                            td { (size(v.bytes)) }
                            td { code title=(v.sm3) { (&v.sm3[..v.sm3.len().min(16)]) "…" } }
                            td { (fmt_time(v.uploaded_at)) }
                            td { @if let Some(s) = score_of(v.version) { a.score href=(format!("/catalogue/{}/data/{}/quality", r.id, v.version)) { (format!("{s:.2}")) } } }
                            td { @if owner && !v.current {
                                form method="post" action=(format!("/catalogue/{}/data/{}/current", r.id, v.version)) {
                                    (ctx.csrf_field())
                                    button.small.make-current type="submit" { (ctx.t("data.make_current")) }
                                }
                            } }
                        }
                    }
                }
            }
            @if !history.is_empty() {
                h3 { (ctx.t("q.history")) }
                (score_chart(ctx, &history))
            }
        }
        @if owner {
            div.card {
                h2 { (ctx.t("data.upload")) }
                p.muted { (ctx.t("data.upload_hint")) }
                form #upload-form method="post" action=(format!("/catalogue/{}/data", r.id)) enctype="multipart/form-data" {
                    (ctx.csrf_field())
                    label for="format" { (ctx.t("data.format")) }
                    select #format name="format" { option value="csv" { "CSV" } option value="jsonl" { "JSON Lines" } option value="parquet" { "Parquet" } }
                    label for="encoding" { (ctx.t("data.encoding")) }
                    select #encoding name="encoding" { option value="auto" { (ctx.t("data.enc_auto")) } option value="utf8" { "UTF-8" } option value="gb18030" { "GB18030 / GBK" } }
                    label for="file" { (ctx.t("data.file")) }
                    input #file type="file" name="file" required;
                    div { button.primary #upload type="submit" { (ctx.t("data.upload_submit")) } }
                }
            }
        }
        @if sees_rejections && !rejections.is_empty() {
            div.card {
                h2 { (ctx.t("data.rejections")) }
                table #rejections {
                    tr { th { (ctx.t("data.uploaded_at")) } th { (ctx.t("data.file")) } th { (ctx.t("data.rows_read")) } th { (ctx.t("data.errors")) } th {} }
                    @for j in &rejections {
                        tr data-rejection=(j.id) {
                            td { (fmt_time(j.uploaded_at)) } td { (j.original_name) } td { (j.rows_read) } td.errors { (j.total_errors) }
                            td { a.report href=(format!("/api/v1/resources/{}/rejections/{}/report", r.id, j.id)) download { (ctx.t("data.report")) } }
                        }
                    }
                }
            }
        }
        @if let Some(rules) = &rules {
            div.card {
                h2 { (ctx.t("q.rules")) " " span.muted { @if rules.version == 0 { (ctx.t("q.defaults")) } @else { (ctx.t("cat.version")) " " (rules.version) } } }
                table #quality-rules {
                    tr { th { (ctx.t("q.dimension")) } th { (ctx.t("q.rule")) } th { (ctx.t("q.weight")) } }
                    @for rule in rules.rules.rules() {
                        tr { td { (dimension_label(ctx, rule.check.dimension())) } td { code { (rule.check.describe()) } } td { (rule.weight) } }
                    }
                }
                @if owner {
                    details {
                        summary { (ctx.t("q.edit")) }
                        form method="post" action=(format!("/catalogue/{}/quality/rules", r.id)) {
                            (ctx.csrf_field())
                            p.muted { (ctx.t("q.edit_hint")) }
                            textarea #rules-json name="rules" rows="12" style="width:100%;font-family:monospace" {
                                (serde_json::to_string_pretty(&rules.rules).unwrap_or_default())
                            }
                            div { button.primary #save-rules type="submit" { (ctx.t("common.submit")) } }
                        }
                    }
                }
            }
        }
    }
}

/// The upload form's target: fields `csrf` (checked by the guard),
/// `format`, `encoding`, then `file`, streamed into the shared load path.
pub async fn upload(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    mut form: Multipart,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let to = format!("/catalogue/{id}");
    let (mut format, mut encoding) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return super::back(&to, Err(ctx.t("data.no_file"))),
            Err(e) => return super::back(&to, Err(format!("{}: {e}", ctx.t("data.bad_form")))),
        };
        match field.name().unwrap_or("") {
            "format" => format = field.text().await.ok(),
            "encoding" => encoding = field.text().await.ok(),
            "file" => {
                let name = field.file_name().unwrap_or("upload").to_string();
                if name.is_empty() {
                    return super::back(&to, Err(ctx.t("data.no_file")));
                }
                let (fmt, fmt_name) = match parse_format(format.as_deref(), encoding.as_deref()) {
                    Ok(f) => f,
                    Err(e) => return super::back(&to, Err(e.message)),
                };
                let reader = tokio_util::io::StreamReader::new(
                    field.map_err(|e| std::io::Error::other(e.to_string())),
                );
                let result = load_reader(
                    &state.store,
                    state.objects.clone(),
                    p,
                    id,
                    fmt,
                    fmt_name,
                    &name,
                    reader,
                    state.now(),
                    state.workspaces.unit_digest_key(),
                )
                .await;
                return match result {
                    Ok(v) => super::back(
                        &to,
                        Ok(format!(
                            "{} v{} · {} {}",
                            ctx.t("data.loaded"),
                            v.version,
                            v.rows,
                            ctx.t("data.rows")
                        )),
                    ),
                    Err(LoadError::Rejected { report, .. }) => super::back(
                        &to,
                        Err(format!(
                            "{} {} · {}",
                            ctx.t("data.rejected"),
                            report.total_errors,
                            ctx.t("data.unchanged")
                        )),
                    ),
                    Err(LoadError::Refused(e)) => super::back(&to, Err(e.message)),
                };
            }
            _ => {}
        }
    }
}

pub async fn make_current(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let result = state.store.make_current(p, id, version, state.now()).await;
    ctx.after(
        &format!("/catalogue/{id}"),
        result
            .map(|v| format!("v{}", v.version))
            .map_err(StoreError::into_domain),
    )
}

pub async fn set_rules(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = &ctx.principal else {
        return Redirect::to("/login").into_response();
    };
    let text = FormFields::parse(&body).get("rules");
    let result = async {
        let rules: Vec<Rule> = serde_json::from_str(&text)
            .map_err(|e| DomainError::invalid("rules", format!("not valid rules: {e}")))?;
        state
            .store
            .set_quality_rules(p, id, rules, state.now())
            .await
            .map_err(StoreError::into_domain)
    }
    .await;
    ctx.after(
        &format!("/catalogue/{id}"),
        result.map(|r| format!("{} {}", ctx.t("q.rules"), r.version)),
    )
}

/// The quality report of one version: scores per dimension and per rule,
/// with failing row numbers for correction.
pub async fn report(
    State(state): State<AppState>,
    ctx: PageCtx,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> Response {
    let view = CatalogueView::of(ctx.principal.as_ref());
    let r = match state.store.resource(id, view).await {
        Ok(r) => r,
        Err(e) => return super::error_page_for(&ctx, &e.into_domain()),
    };
    let q = match state.store.quality_report(id, version).await {
        Ok(q) => q,
        Err(e) => return super::error_page_for(&ctx, &e.into_domain()),
    };
    let body = html! {
        div.card {
            p { a href=(format!("/catalogue/{id}")) { "← " (r.name) } }
            h1 { (ctx.t("q.report")) " · " (r.name) " v" (version) }
            p {
                (ctx.t("q.score")) ": " strong #quality-score { (format!("{:.2}", q.report.score)) }
                " · " (q.report.rows) " " (ctx.t("data.rows"))
                " · " (ctx.t("q.rules")) " " @if q.rules_version == 0 { (ctx.t("q.defaults")) } @else { "v" (q.rules_version) }
                " · " (fmt_time(q.evaluated_at))
            }
            table #dimensions {
                tr { @for (d, _) in &q.report.dimensions { th { (dimension_label(&ctx, *d)) } } }
                tr { @for (_, s) in &q.report.dimensions { td { (format!("{s:.2}")) } } }
            }
        }
        div.card {
            table #quality-results {
                tr { th { (ctx.t("q.dimension")) } th { (ctx.t("q.rule")) } th { (ctx.t("q.weight")) } th { (ctx.t("q.checked")) } th { (ctx.t("q.failed")) } th { (ctx.t("q.pass")) } th { (ctx.t("q.rows")) } }
                @for res in &q.report.results {
                    tr.failing[res.failed > 0] {
                        td { (dimension_label(&ctx, res.dimension)) }
                        td { code { (res.description) } @if let Some(n) = &res.note { br; span.muted { (n) } } }
                        td { (res.rule.weight) }
                        td { (res.checked) }
                        td.failed { @if res.failed > 0 { span.bad { (res.failed) } } @else { "0" } }
                        td { (format!("{:.2}%", res.pass_ratio() * 100.0)) }
                        td.sample { (res.sample_rows.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")) @if res.failed > res.sample_rows.len() as u64 { " …" } }
                    }
                }
            }
            p.muted { (ctx.t("q.rows_hint")) }
        }
    };
    html_response(StatusCode::OK, layout(&ctx, &ctx.t("q.report"), body))
}
