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
use std::sync::Arc;

use object_store::ObjectStore;
use shuyun_data::ingest::{IngestError, InputFormat, RejectionReport, TextEncoding, ingest_with};
use shuyun_data::quality::{self, Timing};
use shuyun_domain::catalogue::Schema;
use shuyun_domain::workspace::UnitDigestKey;
use shuyun_domain::{DomainError, ErrorCode};
use shuyun_store::Store;
use shuyun_store::accounts::Principal;
use shuyun_store::catalogue::{CatalogueView, Resource};
use shuyun_store::data::{AcceptedLoad, DataVersion, Rejection};
use shuyun_store::quality::Evaluation;

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

/// Why a load did not produce a version.
pub enum LoadError {
    /// Refused before reading (permission, state, bad parameters) or a
    /// storage failure.
    Refused(DomainError),
    /// The file was read and rejected; the report is stored.
    Rejected {
        rejection: Rejection,
        report: RejectionReport,
    },
}

impl LoadError {
    /// The coded error a client sees.
    pub fn into_domain(self, resource_id: i64) -> DomainError {
        match self {
            LoadError::Refused(e) => e,
            LoadError::Rejected { rejection, report } => {
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
                DomainError::new(
                    ErrorCode::Validation,
                    format!(
                        "the file was rejected with {} error(s){first}; the current version is unchanged; report: /api/v1/resources/{resource_id}/rejections/{}/report",
                        report.total_errors, rejection.id
                    ),
                )
            }
        }
    }
}

/// Validate a file against the resource's schema in force and store it as
/// its next data version, or record the rejection. Shared by the API and
/// the `shuyun ingest` command.
#[allow(clippy::too_many_arguments)]
pub async fn load_reader<R: tokio::io::AsyncRead + Unpin + Send>(
    store: &Store,
    objects: Arc<dyn ObjectStore>,
    p: &Principal,
    id: i64,
    format: InputFormat,
    format_name: &str,
    name: &str,
    reader: R,
    now_ms: i64,
    unit_digests: UnitDigestKey,
) -> Result<DataVersion, LoadError> {
    let refused = |e: shuyun_store::StoreError| LoadError::Refused(e.into_domain());
    let (version, grading_version) = store.prepare_load(p, id).await.map_err(refused)?;
    let resource = store
        .resource(id, CatalogueView::Whole)
        .await
        .map_err(refused)?;
    let grading = store
        .current_grading(id)
        .await
        .map_err(refused)?
        .ok_or_else(|| {
            LoadError::Refused(DomainError::conflict(
                "the resource has no confirmed grading",
            ))
        })?;
    let dest =
        object_store::path::Path::from(format!("resources/{}/v{version}.parquet", resource.code));
    let name = display_name(Some(name));
    match ingest_with(
        reader,
        format,
        &grading.schema,
        objects.clone(),
        &dest,
        Some(unit_digests),
    )
    .await
    {
        Ok(out) => {
            let quality = evaluate_quality(
                store,
                objects,
                &resource,
                &grading.schema,
                &out.path,
                now_ms,
            )
            .await
            .map_err(LoadError::Refused)?;
            let load = AcceptedLoad {
                version,
                grading_version,
                format: format_name.into(),
                original_name: name,
                rows: i64::try_from(out.rows).unwrap_or(i64::MAX),
                bytes: i64::try_from(out.bytes).unwrap_or(i64::MAX),
                sm3: hex::encode(out.sm3),
                path: out.path.to_string(),
                quality,
            };
            store
                .record_load(p, id, load, now_ms)
                .await
                .map_err(refused)
        }
        Err(IngestError::Rejected(report)) => {
            let rejection = store
                .record_rejection(
                    p,
                    id,
                    &name,
                    i64::try_from(report.rows_read).unwrap_or(i64::MAX),
                    i64::try_from(report.total_errors).unwrap_or(i64::MAX),
                    &report.to_csv(),
                    now_ms,
                )
                .await
                .map_err(refused)?;
            Err(LoadError::Rejected { rejection, report })
        }
        Err(IngestError::Io(msg)) => Err(LoadError::Refused(DomainError::internal(format!(
            "storing the data failed: {msg}"
        )))),
    }
}

/// Measure the resource's quality rules over a stored object uploaded at
/// `uploaded_at_ms` (timeliness is judged against the previous upload).
pub async fn evaluate_quality(
    store: &Store,
    objects: Arc<dyn ObjectStore>,
    resource: &Resource,
    schema: &Schema,
    path: &object_store::path::Path,
    uploaded_at_ms: i64,
) -> Result<Evaluation, DomainError> {
    let rules = store
        .quality_rules(resource.id)
        .await
        .map_err(|e| e.into_domain())?;
    let previous = store
        .last_upload_before(resource.id, uploaded_at_ms)
        .await
        .map_err(|e| e.into_domain())?;
    let timing = Timing {
        uploaded_at_ms,
        previous_uploaded_at_ms: previous,
        max_age_days: resource.frequency.max_age_days(),
    };
    let report = quality::evaluate(objects, path, schema, &rules.rules, &timing)
        .await
        .map_err(DomainError::internal)?;
    Ok(Evaluation {
        rules_version: rules.version,
        report,
    })
}

/// Parse the format and encoding parameters.
pub fn parse_format(
    format: Option<&str>,
    encoding: Option<&str>,
) -> Result<(InputFormat, &'static str), DomainError> {
    input_format(&LoadQuery {
        format: format.map(String::from),
        encoding: encoding.map(String::from),
        name: None,
    })
}

pub async fn upload(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LoadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<DataVersion>)> {
    let p = caller.principal()?;
    let (format, format_name) = input_format(&q)?;
    let reader =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let name = q.name.clone().unwrap_or_default();
    match load_reader(
        &s.store,
        s.objects.clone(),
        p,
        id,
        format,
        format_name,
        &name,
        reader,
        s.now(),
        s.workspaces.unit_digest_key(),
    )
    .await
    {
        Ok(v) => Ok((StatusCode::CREATED, Json(v))),
        Err(e) => Err(e.into_domain(id).into()),
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
