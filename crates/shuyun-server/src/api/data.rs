//! Loading data into a resource (A5): the department streams a file; it is
//! validated and stored as Parquet in the object store, all or nothing, with
//! its SM3 hash in the ledger; a rejected file leaves a downloadable report
//! and the current version untouched.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use shuyun_data::ingest::{IngestError, InputFormat, TextEncoding, ingest};
use shuyun_domain::{DomainError, ErrorCode};
use shuyun_store::catalogue::CatalogueView;
use shuyun_store::data::{AcceptedLoad, DataVersion, Rejection};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadQuery {
    /// `csv` (default), `jsonl` or `parquet`.
    #[serde(default)]
    pub format: Option<String>,
    /// For CSV: `auto` (default), `utf8` or `gb18030`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// The original file name, for the record (never used as a path).
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub name: Option<String>,
}

fn input_format(q: &LoadQuery) -> Result<(InputFormat, &'static str), DomainError> {
    let enc = match q.encoding.as_deref().unwrap_or("auto") {
        "auto" => TextEncoding::Auto,
        "utf8" | "utf-8" => TextEncoding::Utf8,
        "gb18030" | "gbk" => TextEncoding::Gb18030,
        other => {
            return Err(DomainError::invalid(
                "encoding",
                format!("unknown encoding '{other}'"),
            ));
        }
    };
    match q.format.as_deref().unwrap_or("csv") {
        "csv" => Ok((InputFormat::Csv(enc), "csv")),
        "jsonl" | "ndjson" => Ok((InputFormat::JsonLines, "jsonl")),
        "parquet" => Ok((InputFormat::Parquet, "parquet")),
        other => Err(DomainError::invalid(
            "format",
            format!("unknown format '{other}': csv, jsonl or parquet"),
        )),
    }
}

/// The name a file is recorded under: printable, at most 200 characters.
fn display_name(name: Option<&str>) -> String {
    let n: String = name
        .unwrap_or("upload")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if n.trim().is_empty() {
        "upload".into()
    } else {
        n
    }
}

/// Validate and store an upload; shared by the API and the portal.
pub async fn load(
    s: &AppState,
    caller: &Caller,
    id: i64,
    q: &LoadQuery,
    body: Body,
) -> Result<DataVersion, (DomainError, Option<Rejection>)> {
    let p = caller.principal().map_err(|e| (e.0, None))?;
    let (format, format_name) = input_format(q).map_err(|e| (e, None))?;
    let (version, grading_version) = s
        .store
        .prepare_load(p, id)
        .await
        .map_err(|e| (e.into_domain(), None))?;
    let resource = s
        .store
        .resource(id, CatalogueView::Whole)
        .await
        .map_err(|e| (e.into_domain(), None))?;
    let grading = s
        .store
        .current_grading(id)
        .await
        .map_err(|e| (e.into_domain(), None))?
        .ok_or_else(|| {
            (
                DomainError::conflict("the resource has no confirmed grading"),
                None,
            )
        })?;
    let dest =
        object_store::path::Path::from(format!("resources/{}/v{version}.parquet", resource.code));
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let name = display_name(q.name.as_deref());
    match ingest(reader, format, &grading.schema, s.objects.clone(), &dest).await {
        Ok(out) => {
            let load = AcceptedLoad {
                version,
                grading_version,
                format: format_name.into(),
                original_name: name,
                rows: i64::try_from(out.rows).unwrap_or(i64::MAX),
                bytes: i64::try_from(out.bytes).unwrap_or(i64::MAX),
                sm3: hex::encode(out.sm3),
                path: out.path.to_string(),
            };
            s.store
                .record_load(p, id, load, s.now())
                .await
                .map_err(|e| (e.into_domain(), None))
        }
        Err(IngestError::Rejected(report)) => {
            let rejection = s
                .store
                .record_rejection(
                    p,
                    id,
                    &name,
                    i64::try_from(report.rows_read).unwrap_or(i64::MAX),
                    i64::try_from(report.total_errors).unwrap_or(i64::MAX),
                    &report.to_csv(),
                    s.now(),
                )
                .await
                .map_err(|e| (e.into_domain(), None))?;
            let first = report
                .errors
                .first()
                .map(|e| {
                    format!(
                        "; first: row {} {}: {}",
                        e.row,
                        e.field.clone().unwrap_or_default(),
                        e.reason
                    )
                })
                .unwrap_or_default();
            let e = DomainError::new(
                ErrorCode::Validation,
                format!(
                    "the file was rejected with {} error(s){first}; the current version is unchanged; report: /api/v1/resources/{id}/rejections/{}/report",
                    report.total_errors, rejection.id
                ),
            );
            Err((e, Some(rejection)))
        }
        Err(IngestError::Io(msg)) => Err((
            DomainError::internal(format!("storing the data failed: {msg}")),
            None,
        )),
    }
}

pub async fn upload(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LoadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<DataVersion>)> {
    match load(&s, &caller, id, &q, body).await {
        Ok(v) => Ok((StatusCode::CREATED, Json(v))),
        Err((e, _)) => Err(e.into()),
    }
}

pub async fn versions(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DataVersion>>> {
    s.store
        .resource(id, CatalogueView::of(caller.0.as_ref()))
        .await?;
    Ok(Json(s.store.data_versions(id).await?))
}

pub async fn make_current(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<DataVersion>> {
    Ok(Json(
        s.store
            .make_current(caller.principal()?, id, version, s.now())
            .await?,
    ))
}

async fn owner_or_reader(s: &AppState, caller: &Caller, id: i64) -> ApiResult<()> {
    let p = caller.principal()?;
    let r = s.store.resource(id, CatalogueView::of(Some(p))).await?;
    if r.owner_org_id == p.org_id || p.allows(shuyun_domain::Permission::CatalogueRead) {
        Ok(())
    } else {
        Err(DomainError::forbidden("rejection reports belong to the owning department").into())
    }
}

pub async fn rejections(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Rejection>>> {
    owner_or_reader(&s, &caller, id).await?;
    Ok(Json(s.store.rejections(id).await?))
}

pub async fn report(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, rid)): ApiPath<(i64, i64)>,
) -> ApiResult<Response> {
    owner_or_reader(&s, &caller, id).await?;
    let csv = s.store.rejection_report(id, rid).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"rejection-{rid}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}
