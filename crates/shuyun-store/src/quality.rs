//! Data quality records (A6): each resource's versioned quality rules and
//! the quality report of every evaluation of a data version. Reports carry
//! row numbers, never values, so they may be shown to whoever sees the
//! resource in the catalogue.

use serde::Serialize;
use serde_json::json;
use shuyun_domain::DomainError;
use shuyun_domain::quality::{Dimension, QualityReport, Rule, RuleSet};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::Principal;
use crate::catalogue::{CatalogueView, owner_only};
use crate::ledger::LedgerEvent;
use crate::tx::Tx;
use crate::{Store, StoreResult};

/// The rules in force for a resource.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct QualityRules {
    pub resource_id: i64,
    /// 0 while the resource uses the defaults derived from its schema.
    pub version: i64,
    pub rules: RuleSet,
    pub set_by: Option<i64>,
    pub set_at: Option<i64>,
}

/// A quality report produced for a data version, to be recorded.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub rules_version: i64,
    pub report: QualityReport,
}

/// One evaluation as listed: the score history of a resource.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct QualityScore {
    pub id: i64,
    pub data_version: i64,
    pub rules_version: i64,
    /// 0 to 100, two decimals.
    pub score: f64,
    pub rows: u64,
    pub dimensions: Vec<(Dimension, f64)>,
    /// When the version was uploaded (the time axis of the history).
    pub uploaded_at: i64,
    pub evaluated_at: i64,
}

/// A full quality report of a data version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StoredReport {
    pub id: i64,
    pub resource_id: i64,
    pub data_version: i64,
    pub rules_version: i64,
    pub evaluated_at: i64,
    pub report: QualityReport,
}

fn parse_report(row: &AnyRow) -> StoreResult<QualityReport> {
    let text: String = row.try_get("report")?;
    serde_json::from_str(&text)
        .map_err(|e| DomainError::internal(format!("stored quality report unreadable: {e}")).into())
}

/// Insert a report inside a transaction, with its ledger entry.
pub(crate) async fn insert_report(
    tx: &mut Tx,
    p: &Principal,
    resource_id: i64,
    data_version: i64,
    e: &Evaluation,
) -> StoreResult<i64> {
    let text = serde_json::to_string(&e.report)
        .map_err(|err| DomainError::internal(format!("quality report: {err}")))?;
    let now = tx.now_ms();
    let id: i64 = sqlx::query(
        "INSERT INTO quality_reports (resource_id, data_version, rules_version, score_centi, report, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(resource_id)
    .bind(data_version)
    .bind(e.rules_version)
    .bind(e.report.score_centi())
    .bind(text)
    .bind(now)
    .fetch_one(tx.conn())
    .await?
    .try_get("id")?;
    tx.record(LedgerEvent::new(
        p.actor(),
        "quality.report",
        format!("resource:{resource_id}"),
        json!({"data_version": data_version, "rules_version": e.rules_version,
               "score": e.report.score, "rows": e.report.rows, "report": id}),
    ));
    Ok(id)
}

impl Store {
    /// The quality rules in force: the latest set by the department, or
    /// the defaults derived from the schema in force.
    pub async fn quality_rules(&self, resource_id: i64) -> StoreResult<QualityRules> {
        let row = sqlx::query(
            "SELECT * FROM quality_rule_sets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(resource_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            let text: String = row.try_get("rules")?;
            let rules: RuleSet = serde_json::from_str(&text).map_err(|e| {
                DomainError::internal(format!("stored quality rules unreadable: {e}"))
            })?;
            return Ok(QualityRules {
                resource_id,
                version: row.try_get("version")?,
                rules,
                set_by: Some(row.try_get("set_by")?),
                set_at: Some(row.try_get("set_at")?),
            });
        }
        let grading = self
            .current_grading(resource_id)
            .await?
            .ok_or_else(|| DomainError::conflict("the resource has no confirmed grading yet"))?;
        Ok(QualityRules {
            resource_id,
            version: 0,
            rules: RuleSet::defaults(&grading.schema),
            set_by: None,
            set_at: None,
        })
    }

    /// The owning department sets new quality rules, checked against the
    /// schema in force (and any grading waiting for confirmation, so a
    /// pending schema change cannot strand them).
    pub async fn set_quality_rules(
        &self,
        p: &Principal,
        resource_id: i64,
        rules: Vec<Rule>,
        now_ms: i64,
    ) -> StoreResult<QualityRules> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        let grading = self.current_grading(resource_id).await?.ok_or_else(|| {
            DomainError::conflict("the resource has no confirmed grading yet; rules wait for it")
        })?;
        let set = RuleSet::new(rules, &grading.schema)?;
        if let Some(pending) = r.pending_grading {
            let g = self.gradings(resource_id, CatalogueView::Whole).await?;
            if let Some(g) = g.iter().find(|g| g.version == pending) {
                let broken = set.broken_by(&g.schema);
                if !broken.is_empty() {
                    return Err(DomainError::invalid(
                        "rules",
                        format!(
                            "the schema waiting for confirmation (version {pending}) would break {}",
                            broken.join("; ")
                        ),
                    )
                    .into());
                }
            }
        }
        let text = serde_json::to_string(&set)
            .map_err(|e| DomainError::internal(format!("quality rules: {e}")))?;
        let mut tx = self.begin(now_ms).await?;
        let version: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM quality_rule_sets WHERE resource_id = $1",
        )
        .bind(resource_id)
        .fetch_one(tx.conn())
        .await?
        .try_get("v")?;
        sqlx::query(
            "INSERT INTO quality_rule_sets (resource_id, version, rules, set_by, set_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(resource_id)
        .bind(version + 1)
        .bind(&text)
        .bind(p.user_id)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "quality.rules",
            format!("resource:{resource_id}"),
            json!({"version": version + 1, "rules": set.rules().len()}),
        ));
        tx.commit().await?;
        self.quality_rules(resource_id).await
    }

    /// Record a re-evaluation of a data version (after the rules changed,
    /// or for timeliness); earlier reports are kept.
    pub async fn record_quality(
        &self,
        p: &Principal,
        resource_id: i64,
        data_version: i64,
        e: Evaluation,
        now_ms: i64,
    ) -> StoreResult<StoredReport> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        self.data_version(resource_id, data_version).await?;
        let mut tx = self.begin(now_ms).await?;
        insert_report(&mut tx, p, resource_id, data_version, &e).await?;
        tx.commit().await?;
        self.quality_report(resource_id, data_version).await
    }

    /// The newest report of a data version.
    pub async fn quality_report(
        &self,
        resource_id: i64,
        data_version: i64,
    ) -> StoreResult<StoredReport> {
        let row = sqlx::query(
            "SELECT * FROM quality_reports WHERE resource_id = $1 AND data_version = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(resource_id)
        .bind(data_version)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            DomainError::not_found(format!(
                "a quality report of version {data_version} of resource {resource_id}"
            ))
        })?;
        Ok(StoredReport {
            id: row.try_get("id")?,
            resource_id,
            data_version,
            rules_version: row.try_get("rules_version")?,
            evaluated_at: row.try_get("created_at")?,
            report: parse_report(&row)?,
        })
    }

    /// Scores over time: the newest evaluation of each data version, oldest
    /// version first.
    pub async fn quality_history(&self, resource_id: i64) -> StoreResult<Vec<QualityScore>> {
        let rows = sqlx::query(
            "SELECT q.*, d.uploaded_at FROM quality_reports q \
             JOIN data_versions d ON d.resource_id = q.resource_id AND d.version = q.data_version \
             WHERE q.resource_id = $1 AND q.id = (SELECT MAX(id) FROM quality_reports x \
               WHERE x.resource_id = q.resource_id AND x.data_version = q.data_version) \
             ORDER BY q.data_version",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let report = parse_report(row)?;
                Ok(QualityScore {
                    id: row.try_get("id")?,
                    data_version: row.try_get("data_version")?,
                    rules_version: row.try_get("rules_version")?,
                    score: report.score,
                    rows: report.rows,
                    dimensions: report.dimensions,
                    uploaded_at: row.try_get("uploaded_at")?,
                    evaluated_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
