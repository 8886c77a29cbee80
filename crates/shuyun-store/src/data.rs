//! Data versions of catalogue resources (A5): the record of each accepted
//! load (Parquet object, row count, SM3 content hash — 存证) and of each
//! rejected one (with its row-level report). The bytes themselves live in
//! the object store; this module keeps the facts and the ledger entries.

use serde::Serialize;
use serde_json::json;
use shuyun_domain::DomainError;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::Principal;
use crate::catalogue::{CatalogueView, owner_only};
use crate::ledger::LedgerEvent;
use crate::quality::{Evaluation, insert_report};
use crate::{Store, StoreResult};

/// One accepted data version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DataVersion {
    pub resource_id: i64,
    pub version: i64,
    /// The grading version (schema) the data was validated against.
    pub grading_version: i64,
    /// `csv`, `jsonl` or `parquet`.
    pub format: String,
    pub original_name: String,
    pub rows: i64,
    pub bytes: i64,
    /// Hex SM3 of the stored Parquet object.
    pub sm3: String,
    /// Object-store path of the Parquet object.
    pub path: String,
    pub current: bool,
    pub uploaded_by: i64,
    pub uploaded_at: i64,
}

/// What an accepted load produced, to be recorded.
#[derive(Debug, Clone)]
pub struct AcceptedLoad {
    pub version: i64,
    pub grading_version: i64,
    pub format: String,
    pub original_name: String,
    pub rows: i64,
    pub bytes: i64,
    pub sm3: String,
    pub path: String,
    /// The quality report of the stored data, recorded with it.
    pub quality: Evaluation,
}

/// A rejected load as listed (the report is fetched separately).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rejection {
    pub id: i64,
    pub resource_id: i64,
    pub original_name: String,
    pub rows_read: i64,
    pub total_errors: i64,
    pub uploaded_by: i64,
    pub uploaded_at: i64,
}

fn version_from_row(row: &AnyRow) -> StoreResult<DataVersion> {
    Ok(DataVersion {
        resource_id: row.try_get("resource_id")?,
        version: row.try_get("version")?,
        grading_version: row.try_get("grading_version")?,
        format: row.try_get("format")?,
        original_name: row.try_get("original_name")?,
        rows: row.try_get("row_count")?,
        bytes: row.try_get("bytes")?,
        sm3: row.try_get("sm3")?,
        path: row.try_get("path")?,
        current: row.try_get::<i64, _>("current")? != 0,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

fn rejection_from_row(row: &AnyRow) -> StoreResult<Rejection> {
    Ok(Rejection {
        id: row.try_get("id")?,
        resource_id: row.try_get("resource_id")?,
        original_name: row.try_get("original_name")?,
        rows_read: row.try_get("rows_read")?,
        total_errors: row.try_get("total_errors")?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

impl Store {
    /// The owning department, before a load: checks ownership and returns
    /// the next version number and the grading version in force.
    pub async fn prepare_load(&self, p: &Principal, resource_id: i64) -> StoreResult<(i64, i64)> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        let Some(grading) = r.grading_version else {
            return Err(DomainError::conflict(
                "the resource has no confirmed grading yet; data waits for it",
            )
            .into());
        };
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM data_versions WHERE resource_id = $1",
        )
        .bind(resource_id)
        .fetch_one(&self.pool)
        .await?
        .try_get("v")?;
        Ok((next + 1, grading))
    }

    /// Record an accepted load and make it current, with its SM3 hash in
    /// the ledger.
    pub async fn record_load(
        &self,
        p: &Principal,
        resource_id: i64,
        load: AcceptedLoad,
        now_ms: i64,
    ) -> StoreResult<DataVersion> {
        let mut tx = self.begin(now_ms).await?;
        sqlx::query("UPDATE data_versions SET current = 0 WHERE resource_id = $1 AND current = 1")
            .bind(resource_id)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO data_versions (resource_id, version, grading_version, format, original_name, row_count, bytes, sm3, path, current, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)",
        )
        .bind(resource_id)
        .bind(load.version)
        .bind(load.grading_version)
        .bind(&load.format)
        .bind(&load.original_name)
        .bind(load.rows)
        .bind(load.bytes)
        .bind(&load.sm3)
        .bind(&load.path)
        .bind(p.user_id)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "data.ingest",
            format!("resource:{resource_id}"),
            json!({"version": load.version, "rows": load.rows, "bytes": load.bytes, "sm3": load.sm3,
                   "format": load.format, "grading_version": load.grading_version}),
        ));
        insert_report(&mut tx, p, resource_id, load.version, &load.quality).await?;
        tx.commit().await?;
        self.data_version(resource_id, load.version).await
    }

    /// Record a rejected load with its report; nothing else changes.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_rejection(
        &self,
        p: &Principal,
        resource_id: i64,
        original_name: &str,
        rows_read: i64,
        total_errors: i64,
        report_csv: &str,
        now_ms: i64,
    ) -> StoreResult<Rejection> {
        let mut tx = self.begin(now_ms).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO ingest_rejections (resource_id, original_name, rows_read, total_errors, report_csv, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(resource_id)
        .bind(original_name)
        .bind(rows_read)
        .bind(total_errors)
        .bind(report_csv)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "data.reject",
            format!("resource:{resource_id}"),
            json!({"rejection": id, "rows_read": rows_read, "errors": total_errors}),
        ));
        tx.commit().await?;
        Ok(Rejection {
            id,
            resource_id,
            original_name: original_name.to_string(),
            rows_read,
            total_errors,
            uploaded_by: p.user_id,
            uploaded_at: now_ms,
        })
    }

    pub async fn data_version(&self, resource_id: i64, version: i64) -> StoreResult<DataVersion> {
        let row =
            sqlx::query("SELECT * FROM data_versions WHERE resource_id = $1 AND version = $2")
                .bind(resource_id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    DomainError::not_found(format!(
                        "data version {version} of resource {resource_id}"
                    ))
                })?;
        version_from_row(&row)
    }

    /// Data versions of a resource, newest first.
    pub async fn data_versions(&self, resource_id: i64) -> StoreResult<Vec<DataVersion>> {
        let rows =
            sqlx::query("SELECT * FROM data_versions WHERE resource_id = $1 ORDER BY version DESC")
                .bind(resource_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// When the latest version uploaded before `before_ms` was uploaded,
    /// if any (timeliness is measured against it).
    pub async fn last_upload_before(
        &self,
        resource_id: i64,
        before_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT MAX(uploaded_at) AS t FROM data_versions WHERE resource_id = $1 AND uploaded_at < $2",
        )
        .bind(resource_id)
        .bind(before_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>("t")?)
    }

    /// Record a download of open data (every data access is in the ledger;
    /// `actor` is the signed-in user or `public`).
    pub async fn record_open_download(
        &self,
        actor: &str,
        v: &DataVersion,
        format: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin(now_ms).await?;
        tx.record(LedgerEvent::new(
            actor,
            "data.open_download",
            format!("resource:{}", v.resource_id),
            json!({"version": v.version, "format": format, "sm3": v.sm3}),
        ));
        tx.commit().await?;
        Ok(())
    }

    /// The current data version, if any.
    pub async fn current_data(&self, resource_id: i64) -> StoreResult<Option<DataVersion>> {
        let row = sqlx::query("SELECT * FROM data_versions WHERE resource_id = $1 AND current = 1")
            .bind(resource_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    /// Mark an earlier version current again.
    pub async fn make_current(
        &self,
        p: &Principal,
        resource_id: i64,
        version: i64,
        now_ms: i64,
    ) -> StoreResult<DataVersion> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        let v = self.data_version(resource_id, version).await?;
        if v.current {
            return Err(
                DomainError::conflict(format!("version {version} is already current")).into(),
            );
        }
        let mut tx = self.begin(now_ms).await?;
        sqlx::query("UPDATE data_versions SET current = CASE WHEN version = $1 THEN 1 ELSE 0 END WHERE resource_id = $2")
            .bind(version)
            .bind(resource_id)
            .execute(tx.conn())
            .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "data.make_current",
            format!("resource:{resource_id}"),
            json!({"version": version, "sm3": v.sm3}),
        ));
        tx.commit().await?;
        self.data_version(resource_id, version).await
    }

    pub async fn rejections(&self, resource_id: i64) -> StoreResult<Vec<Rejection>> {
        let rows = sqlx::query(
            "SELECT id, resource_id, original_name, rows_read, total_errors, uploaded_by, uploaded_at FROM ingest_rejections \
             WHERE resource_id = $1 ORDER BY id DESC",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rejection_from_row).collect()
    }

    /// The CSV report of a rejected load.
    pub async fn rejection_report(&self, resource_id: i64, id: i64) -> StoreResult<String> {
        let row = sqlx::query(
            "SELECT report_csv FROM ingest_rejections WHERE id = $1 AND resource_id = $2",
        )
        .bind(id)
        .bind(resource_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("rejection {id}")))?;
        Ok(row.try_get("report_csv")?)
    }
}
