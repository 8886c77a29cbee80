//! Open data (A8, H3): the public downloads the current version of
//! general-grade resources marked open, and harvests the public catalogue
//! as DCAT (JSON-LD). Every download is a data access and is in the ledger.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use serde::Deserialize;
use serde_json::{Value, json};
use shuyun_data::export::{csv_header, csv_rows};
use shuyun_domain::DomainError;
use shuyun_domain::catalogue::{Grade, UpdateFrequency};
use shuyun_store::catalogue::{CatalogueView, Resource};
use shuyun_store::data::DataVersion;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// `csv` (default) or `parquet`.
    #[serde(default)]
    pub format: Option<String>,
}

/// Whether the public may download a resource: in the public catalogue,
/// marked open, general grade, no personal information in its schema.
pub async fn open_version(s: &AppState, id: i64) -> Result<(Resource, DataVersion), DomainError> {
    let r = s
        .store
        .resource(id, CatalogueView::Public)
        .await
        .map_err(|e| e.into_domain())?;
    if !r.open_data || r.grade.is_none_or(|g| g >= Grade::Important) {
        return Err(DomainError::forbidden("this resource is not open data"));
    }
    let v = s
        .store
        .current_data(id)
        .await
        .map_err(|e| e.into_domain())?
        .ok_or_else(|| DomainError::not_found("data of this resource (none loaded yet)"))?;
    let grading = s
        .store
        .gradings(id, CatalogueView::Whole)
        .await
        .map_err(|e| e.into_domain())?
        .into_iter()
        .find(|g| g.version == v.grading_version)
        .ok_or_else(|| DomainError::internal("the version's grading is missing"))?;
    if grading.schema.has_pi() || grading.grade >= Grade::Important {
        return Err(DomainError::forbidden(
            "this version holds personal information or is not general-grade; it is not open",
        ));
    }
    Ok((r, v))
}

pub async fn download(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> ApiResult<Response> {
    let parquet = match q.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "parquet" => true,
        other => {
            return Err(DomainError::invalid(
                "format",
                format!("unknown format '{other}': csv or parquet"),
            )
            .into());
        }
    };
    let (r, v) = open_version(&s, id).await?;
    let path = object_store::path::Path::from(v.path.as_str());
    let fail = |e: String| DomainError::internal(format!("reading the stored data failed: {e}"));
    let (body, media, ext) = if parquet {
        // The stored file as it is (its SM3 is the version's): open data
        // has no personal information, hence no unit and no hidden column
        // of stored unit digests (`Schema::unit_field`).
        let got = s
            .objects
            .get(&path)
            .await
            .map_err(|e| fail(e.to_string()))?;
        (
            Body::from_stream(got.into_stream()),
            "application/vnd.apache.parquet",
            "parquet",
        )
    } else {
        let batches = shuyun_data::objects::read_batches(s.objects.clone(), &path, 8192)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let schema = batches.schema().clone();
        let header = futures_util::stream::once(async move {
            Ok::<_, parquet::errors::ParquetError>(bytes::Bytes::from(csv_header(&schema)))
        });
        let rows = batches.map(|b| b.map(|b| bytes::Bytes::from(csv_rows(&b))));
        (
            Body::from_stream(header.chain(rows)),
            "text/csv; charset=utf-8",
            "csv",
        )
    };
    let actor = caller
        .0
        .as_ref()
        .map_or_else(|| "public".to_string(), |p| p.actor());
    s.store
        .record_open_download(&actor, &v, ext, s.now())
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, media.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-v{}.{ext}\"", r.code, v.version),
            ),
            (
                header::HeaderName::from_static("x-shuyun-version"),
                v.version.to_string(),
            ),
            (
                header::HeaderName::from_static("x-shuyun-parquet-sm3"),
                v.sm3.clone(),
            ),
        ],
        body,
    )
        .into_response())
}

/// The EU frequency vocabulary DCAT-AP uses for `dct:accrualPeriodicity`.
fn frequency_iri(f: UpdateFrequency) -> &'static str {
    match f {
        UpdateFrequency::Realtime => {
            "http://publications.europa.eu/resource/authority/frequency/UPDATE_CONT"
        }
        UpdateFrequency::Daily => {
            "http://publications.europa.eu/resource/authority/frequency/DAILY"
        }
        UpdateFrequency::Weekly => {
            "http://publications.europa.eu/resource/authority/frequency/WEEKLY"
        }
        UpdateFrequency::Monthly => {
            "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
        }
        UpdateFrequency::Quarterly => {
            "http://publications.europa.eu/resource/authority/frequency/QUARTERLY"
        }
        UpdateFrequency::Yearly => {
            "http://publications.europa.eu/resource/authority/frequency/ANNUAL"
        }
        UpdateFrequency::Irregular => {
            "http://publications.europa.eu/resource/authority/frequency/IRREG"
        }
    }
}

fn iso_date(ms: i64) -> String {
    let d = shuyun_domain::Date::from_epoch_ms_beijing(ms);
    d.to_string()
}

/// The base IRI of this platform as the client reached it.
fn base_url(s: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = if s.secure_cookies { "https" } else { "http" };
    format!("{scheme}://{host}")
}

pub async fn dcat(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let base = base_url(&s, &headers);
    let mut datasets = Vec::new();
    for r in s.store.resources(CatalogueView::Public).await? {
        let current = s.store.current_data(r.id).await?;
        let mut ds = json!({
            "@id": format!("{base}/catalogue/{}", r.id),
            "@type": "dcat:Dataset",
            "dct:identifier": r.code,
            "dct:title": {"@value": r.name, "@language": "zh"},
            "dct:description": {"@value": r.description, "@language": "zh"},
            "dct:publisher": {"@type": "foaf:Organization", "foaf:name": r.owner_org_name},
            "dcat:keyword": [r.domain.as_str()],
            "dct:accrualPeriodicity": {"@id": frequency_iri(r.frequency)},
            "dct:conformsTo": {"@type": "dct:Standard", "dct:title": r.standard},
            "dcat:contactPoint": {"@type": "vcard:Kind", "vcard:fn": r.contact},
            "dct:spatial": {"@type": "dct:Location", "dct:identifier": s.division.as_str()},
            "dct:issued": {"@value": iso_date(r.created_at), "@type": "xsd:date"},
            "dct:accessRights": if r.open_data { "PUBLIC" } else { "RESTRICTED" },
            "shuyun:grade": r.grade.map(|g| g.as_str()),
            "dcat:landingPage": {"@id": format!("{base}/catalogue/{}", r.id)},
        });
        if let Some(v) = &current {
            ds["dct:modified"] = json!({"@value": iso_date(v.uploaded_at), "@type": "xsd:date"});
        }
        if r.open_data
            && let Some(v) = current
            && open_version(&s, r.id).await.is_ok()
        {
            let dist = |fmt: &str, media: &str| {
                json!({
                    "@type": "dcat:Distribution",
                    "dct:title": format!("{} v{} ({fmt})", r.name, v.version),
                    "dcat:downloadURL": {"@id": format!("{base}/api/v1/public/resources/{}/download?format={fmt}", r.id)},
                    "dcat:mediaType": media,
                    "dct:license": {"@id": format!("{base}/open-data#terms")},
                })
            };
            let mut parquet = dist("parquet", "application/vnd.apache.parquet");
            parquet["dcat:byteSize"] =
                json!({"@value": v.bytes.to_string(), "@type": "xsd:nonNegativeInteger"});
            parquet["spdx:checksum"] = json!({"@type": "spdx:Checksum", "spdx:algorithm": "shuyun:sm3", "spdx:checksumValue": v.sm3});
            ds["dcat:distribution"] = json!([dist("csv", "text/csv"), parquet]);
        }
        datasets.push(ds);
    }
    let doc: Value = json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "spdx": "http://spdx.org/rdf/terms#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "shuyun": format!("{base}/ns#"),
        },
        "@id": format!("{base}/api/v1/public/dcat.jsonld"),
        "@type": "dcat:Catalog",
        "dct:title": [{"@value": "公共数据资源目录", "@language": "zh"}, {"@value": "Public data resource catalogue", "@language": "en"}],
        "dct:spatial": {"@type": "dct:Location", "dct:identifier": s.division.as_str()},
        "foaf:homepage": {"@id": format!("{base}/catalogue")},
        "dcat:dataset": datasets,
    });
    Ok((
        [(header::CONTENT_TYPE, "application/ld+json; charset=utf-8")],
        doc.to_string(),
    )
        .into_response())
}
