//! The secure workspace as stored (C1–C5, migration `0007_workspace.sql`):
//! the audit of every query (who, which scenario, SQL, plan fingerprint,
//! resources and fields touched, rows scanned, result hash, outcome) in
//! the ledger; the release of a checked result out of the domain after
//! two reviewers of the implementing institution approve it; the linkage
//! alerts queue; each agreement's differential-privacy budget, spent
//! in the same transaction as the query that uses it; and each scenario's
//! differencing history (migration `0008_differencing.sql`), the sketches
//! of the cells its queries released, recorded with the query.

use serde::{Deserialize, Serialize};
use serde_json::json;
use shuyun_domain::workspace::differencing::HISTORY_CELLS;
use shuyun_domain::workspace::{
    Budget, Epsilon, OutputPolicy, QueryOutcome, ReleaseAction, ReleaseState, ReleasedCell,
    UnitSketch,
};
use shuyun_domain::{DomainError, ErrorCode, Permission, Role, policy};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::Principal;
use crate::authorization::agreements::AgreementScope;
use crate::ledger::LedgerEvent;
use crate::{Store, StoreResult};

/// The largest result that may be asked out of the domain, in bytes.
pub const MAX_RELEASE_BYTES: usize = 16 * 1024 * 1024;

/// What the workspace reports of a query it ran (or refused).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QueryRecord {
    pub scenario_id: i64,
    /// Run against synthetic look-alike data (C4).
    pub synthetic: bool,
    pub sql: String,
    /// SM3 (hex) of the normalised logical plan.
    pub plan_fingerprint: String,
    /// Resource codes the plan scanned.
    pub resources: Vec<String>,
    /// `code.field` of every field the plan read.
    pub fields: Vec<String>,
    pub rows_scanned: u64,
    /// SM3 (hex) of the result as shown; empty when nothing was shown.
    pub result_sm3: String,
    pub outcome: QueryOutcome,
    /// Suppressed cells and why, or the refusal (never data values).
    pub detail: serde_json::Value,
    /// Privacy loss spent by this query (0 unless the scenario uses
    /// differential privacy).
    #[serde(default)]
    pub epsilon: Epsilon,
}

/// A stored query.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StoredQuery {
    pub id: i64,
    pub agreement_id: i64,
    pub operator_org_id: i64,
    pub user_id: i64,
    pub created_at: i64,
    #[serde(flatten)]
    pub record: QueryRecord,
}

/// A result asked out of the domain (出域申请).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Release {
    pub id: i64,
    pub query_id: i64,
    pub agreement_id: i64,
    pub scenario_id: i64,
    pub operator_org_id: i64,
    pub author_user_id: i64,
    pub title: String,
    pub media_type: String,
    pub size: i64,
    /// SM3 (hex) of the content: the hash of the checked result.
    pub content_sm3: String,
    pub state: ReleaseState,
    pub first_reviewer: Option<i64>,
    pub first_note: String,
    pub first_at: Option<i64>,
    pub second_reviewer: Option<i64>,
    pub second_note: String,
    pub reason: String,
    pub decided_at: Option<i64>,
    pub created_at: i64,
}

/// A linkage alert (关联风险告警, C5) for the implementing institution.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Alert {
    pub id: i64,
    pub query_id: i64,
    pub agreement_id: i64,
    pub operator_org_id: i64,
    pub kind: String,
    pub detail: serde_json::Value,
    /// `open` or `handled`.
    pub state: String,
    pub handled_by: Option<i64>,
    pub handled_note: String,
    pub handled_at: Option<i64>,
    pub created_at: i64,
}

/// Who sees which queries and releases: the lifecycle's readers all, an
/// organisation its own (for anyone but an operator, nothing).
fn scope_of(p: &Principal) -> StoreResult<AgreementScope> {
    Ok(AgreementScope::of(p))
}

fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(shuyun_ledger::sm3(bytes))
}

fn strings(row: &AnyRow, col: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(&row.try_get::<String, _>(col)?)
        .map_err(|e| DomainError::internal(format!("stored {col} unreadable: {e}")).into())
}

fn query_from(row: &AnyRow) -> StoreResult<StoredQuery> {
    let detail: String = row.try_get("detail")?;
    Ok(StoredQuery {
        id: row.try_get("id")?,
        agreement_id: row.try_get("agreement_id")?,
        operator_org_id: row.try_get("operator_org_id")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        record: QueryRecord {
            scenario_id: row.try_get("scenario_id")?,
            synthetic: row.try_get::<i64, _>("synthetic")? != 0,
            sql: row.try_get("sql_text")?,
            plan_fingerprint: row.try_get("plan_fingerprint")?,
            resources: strings(row, "resources")?,
            fields: strings(row, "fields")?,
            rows_scanned: u64::try_from(row.try_get::<i64, _>("rows_scanned")?).unwrap_or(0),
            result_sm3: row.try_get("result_sm3")?,
            outcome: QueryOutcome::parse(&row.try_get::<String, _>("outcome")?)?,
            detail: serde_json::from_str(&detail)
                .map_err(|e| DomainError::internal(format!("stored detail unreadable: {e}")))?,
            epsilon: Epsilon(u64::try_from(row.try_get::<i64, _>("epsilon_micros")?).unwrap_or(0)),
        },
    })
}

const RELEASE_COLUMNS: &str = "id, query_id, agreement_id, scenario_id, operator_org_id, author_user_id, title, \
     media_type, content_sm3, state, first_reviewer, first_note, first_at, second_reviewer, second_note, reason, \
     decided_at, created_at";

fn release_from(row: &AnyRow) -> StoreResult<Release> {
    Ok(Release {
        id: row.try_get("id")?,
        query_id: row.try_get("query_id")?,
        agreement_id: row.try_get("agreement_id")?,
        scenario_id: row.try_get("scenario_id")?,
        operator_org_id: row.try_get("operator_org_id")?,
        author_user_id: row.try_get("author_user_id")?,
        title: row.try_get("title")?,
        media_type: row.try_get("media_type")?,
        size: row.try_get("size")?,
        content_sm3: row.try_get("content_sm3")?,
        state: ReleaseState::parse(&row.try_get::<String, _>("state")?)?,
        first_reviewer: row.try_get("first_reviewer")?,
        first_note: row.try_get("first_note")?,
        first_at: row.try_get("first_at")?,
        second_reviewer: row.try_get("second_reviewer")?,
        second_note: row.try_get("second_note")?,
        reason: row.try_get("reason")?,
        decided_at: row.try_get("decided_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn alert_from(row: &AnyRow) -> StoreResult<Alert> {
    let detail: String = row.try_get("detail")?;
    Ok(Alert {
        id: row.try_get("id")?,
        query_id: row.try_get("query_id")?,
        agreement_id: row.try_get("agreement_id")?,
        operator_org_id: row.try_get("operator_org_id")?,
        kind: row.try_get("kind")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| DomainError::internal(format!("stored alert unreadable: {e}")))?,
        state: row.try_get("state")?,
        handled_by: row.try_get("handled_by")?,
        handled_note: row.try_get("handled_note")?,
        handled_at: row.try_get("handled_at")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Record a query the workspace ran or refused for the caller (an
    /// operator) in one of its organisation's scenarios: the row, its
    /// ledger entry, the privacy loss spent (refused, changing nothing,
    /// when the agreement's budget cannot cover it), the cells it added to
    /// the scenario's differencing history (`released`; the newest
    /// [`HISTORY_CELLS`] of a scenario are kept) and, for a linkage stop,
    /// the alert — all in one transaction.
    pub async fn record_query(
        &self,
        p: &Principal,
        rec: QueryRecord,
        released: &[ReleasedCell],
        now_ms: i64,
    ) -> StoreResult<StoredQuery> {
        if p.role != Role::Operator {
            return Err(DomainError::forbidden("only operators run workspace queries").into());
        }
        let sc = self
            .scenario_in(AgreementScope::Operator(p.org_id), rec.scenario_id)
            .await?;
        if rec.sql.chars().count() > 100_000 {
            return Err(
                DomainError::invalid("sql", "a query has at most 100000 characters").into(),
            );
        }
        if !released.is_empty() && (rec.synthetic || !rec.outcome.showed_result()) {
            return Err(DomainError::internal(
                "only a shown result of the real data adds to the differencing history",
            )
            .into());
        }
        let mut tx = self.begin(now_ms).await?;
        if rec.epsilon.0 > 0 {
            let eps = i64::try_from(rec.epsilon.0).unwrap_or(i64::MAX);
            let done = sqlx::query(
                "UPDATE privacy_budgets SET spent_micros = spent_micros + $1, updated_at = $2 \
                 WHERE agreement_id = $3 AND spent_micros + $1 <= total_micros",
            )
            .bind(eps)
            .bind(now_ms)
            .bind(sc.agreement_id)
            .execute(tx.conn())
            .await?;
            if done.rows_affected() != 1 {
                let budget = self.privacy_budget(sc.agreement_id).await?;
                return Err(match budget {
                    None => DomainError::new(
                        ErrorCode::Conflict,
                        "the agreement has no privacy budget for noisy queries",
                    ),
                    Some(b) => b.spend(rec.epsilon).err().unwrap_or_else(|| {
                        DomainError::conflict("the privacy budget changed; try again")
                    }),
                }
                .into());
            }
        }
        let id: i64 = sqlx::query(
            "INSERT INTO workspace_queries (agreement_id, scenario_id, operator_org_id, user_id, synthetic, \
             sql_text, plan_fingerprint, resources, fields, rows_scanned, result_sm3, outcome, detail, \
             epsilon_micros, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(sc.agreement_id)
        .bind(sc.id)
        .bind(p.org_id)
        .bind(p.user_id)
        .bind(i64::from(rec.synthetic))
        .bind(&rec.sql)
        .bind(&rec.plan_fingerprint)
        .bind(json!(rec.resources).to_string())
        .bind(json!(rec.fields).to_string())
        .bind(i64::try_from(rec.rows_scanned).unwrap_or(i64::MAX))
        .bind(&rec.result_sm3)
        .bind(rec.outcome.as_str())
        .bind(rec.detail.to_string())
        .bind(i64::try_from(rec.epsilon.0).unwrap_or(i64::MAX))
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "workspace.query",
            format!("query:{id}"),
            json!({
                "agreement": sc.agreement_id, "scenario": sc.id, "synthetic": rec.synthetic,
                "sql": rec.sql, "plan": rec.plan_fingerprint, "resources": rec.resources,
                "fields": rec.fields, "rows_scanned": rec.rows_scanned, "result_sm3": rec.result_sm3,
                "outcome": rec.outcome, "epsilon_micros": rec.epsilon.0,
            }),
        ));
        // A few statements whatever the number of cells (bound parameters
        // stay well below PostgreSQL's 65,535).
        for cells in released.chunks(1_000) {
            let sql = format!(
                "INSERT INTO workspace_released_cells (scenario_id, query_id, distinct_units, sketch) \
                 VALUES {}",
                self.backend.values_placeholders(cells.len(), 4)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for cell in cells {
                q = q
                    .bind(sc.id)
                    .bind(id)
                    .bind(i64::from(cell.distinct))
                    .bind(cell.sketch.to_bytes());
            }
            q.execute(tx.conn()).await?;
        }
        if !released.is_empty() {
            sqlx::query(
                "DELETE FROM workspace_released_cells WHERE scenario_id = $1 AND id <= \
                 (SELECT id FROM workspace_released_cells WHERE scenario_id = $1 \
                  ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(sc.id)
            .bind(i64::try_from(HISTORY_CELLS).unwrap_or(i64::MAX))
            .execute(tx.conn())
            .await?;
        }
        if rec.outcome == QueryOutcome::LinkageStopped {
            let alert: i64 = sqlx::query(
                "INSERT INTO workspace_alerts (query_id, agreement_id, operator_org_id, kind, detail, state, created_at) \
                 VALUES ($1, $2, $3, 'linkage', $4, 'open', $5) RETURNING id",
            )
            .bind(id)
            .bind(sc.agreement_id)
            .bind(p.org_id)
            .bind(rec.detail.to_string())
            .bind(now_ms)
            .fetch_one(tx.conn())
            .await?
            .try_get("id")?;
            tx.record(LedgerEvent::new(
                p.actor(),
                "workspace.alert",
                format!("alert:{alert}"),
                json!({"query": id, "kind": "linkage", "agreement": sc.agreement_id}),
            ));
        }
        tx.commit().await?;
        self.workspace_query(p, id).await
    }

    /// A scenario's differencing history as recorded with its queries
    /// (oldest first, at most [`HISTORY_CELLS`]), for the workspace to
    /// check new results against after a restart. Sketches only; no route
    /// serves them.
    pub async fn differencing_history(&self, scenario_id: i64) -> StoreResult<Vec<ReleasedCell>> {
        let rows = sqlx::query(
            "SELECT distinct_units, sketch FROM workspace_released_cells WHERE scenario_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(scenario_id)
        .bind(i64::try_from(HISTORY_CELLS).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut cells = rows
            .iter()
            .map(|r| {
                let sketch = UnitSketch::from_bytes(&r.try_get::<Vec<u8>, _>("sketch")?)
                    .ok_or_else(|| DomainError::internal("a stored cell sketch is unreadable"))?;
                Ok(ReleasedCell {
                    sketch,
                    distinct: r.try_get::<i64, _>("distinct_units")? != 0,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        cells.reverse();
        Ok(cells)
    }

    /// One query, as the caller may see it.
    pub async fn workspace_query(&self, p: &Principal, id: i64) -> StoreResult<StoredQuery> {
        let row = sqlx::query("SELECT * FROM workspace_queries WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no query {id}")))?;
        let q = query_from(&row)?;
        match scope_of(p)? {
            AgreementScope::Operator(org) if org != q.operator_org_id => {
                Err(DomainError::not_found(format!("no query {id}")).into())
            }
            _ => Ok(q),
        }
    }

    /// A scenario's queries, newest first (at most `limit`).
    pub async fn workspace_queries(
        &self,
        p: &Principal,
        scenario_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<StoredQuery>> {
        let scope = scope_of(p)?;
        self.scenario_in(scope, scenario_id).await?;
        let rows = sqlx::query(
            "SELECT * FROM workspace_queries WHERE scenario_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(scenario_id)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(query_from).collect()
    }

    /// Ask for a result to leave the domain. `content` must be the result
    /// the checks passed: its SM3 is the query's result hash.
    pub async fn request_release(
        &self,
        p: &Principal,
        query_id: i64,
        title: &str,
        media_type: &str,
        content: Vec<u8>,
        now_ms: i64,
    ) -> StoreResult<Release> {
        let q = self.workspace_query(p, query_id).await?;
        if p.role != Role::Operator || q.operator_org_id != p.org_id {
            return Err(DomainError::forbidden(
                "only the operator that ran a query asks to release it",
            )
            .into());
        }
        if q.record.synthetic {
            return Err(DomainError::conflict(
                "results over synthetic data are for development and never leave",
            )
            .into());
        }
        if !q.record.outcome.showed_result() {
            return Err(DomainError::conflict(
                "only a result that passed the output checks can be released",
            )
            .into());
        }
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(DomainError::invalid(
                "title",
                "a release has a title of 1 to 100 characters",
            )
            .into());
        }
        if !matches!(media_type, "text/csv" | "application/json") {
            return Err(DomainError::invalid(
                "media_type",
                "results are released as text/csv or application/json",
            )
            .into());
        }
        if content.len() > MAX_RELEASE_BYTES {
            return Err(
                DomainError::invalid("content", "a released result is at most 16 MiB").into(),
            );
        }
        let content_sm3 = sm3_hex(&content);
        if content_sm3 != q.record.result_sm3 {
            return Err(DomainError::invalid(
                "content",
                "this is not the checked result of the query (its SM3 differs)",
            )
            .into());
        }
        let mut tx = self.begin(now_ms).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO workspace_releases (query_id, agreement_id, scenario_id, operator_org_id, author_user_id, \
             title, media_type, content, content_sm3, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(q.id)
        .bind(q.agreement_id)
        .bind(q.record.scenario_id)
        .bind(q.operator_org_id)
        .bind(p.user_id)
        .bind(title)
        .bind(media_type)
        .bind(content)
        .bind(&content_sm3)
        .bind(ReleaseState::Requested.as_str())
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "workspace.release.request",
            format!("release:{id}"),
            json!({"query": q.id, "scenario": q.record.scenario_id, "content_sm3": content_sm3, "title": title}),
        ));
        tx.commit().await?;
        self.release(p, id).await
    }

    /// One release request, as the caller may see it.
    pub async fn release(&self, p: &Principal, id: i64) -> StoreResult<Release> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS}, LENGTH(content) AS size FROM workspace_releases WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("no release {id}")))?;
        let r = release_from(&row)?;
        match scope_of(p)? {
            AgreementScope::Operator(org) if org != r.operator_org_id => {
                Err(DomainError::not_found(format!("no release {id}")).into())
            }
            _ => Ok(r),
        }
    }

    /// Release requests the caller may see, newest first; `pending` keeps
    /// those awaiting a decision.
    pub async fn releases(&self, p: &Principal, pending: bool) -> StoreResult<Vec<Release>> {
        let (filter, org) = match scope_of(p)? {
            AgreementScope::All => ("1 = 1", 0),
            AgreementScope::Operator(org) => ("operator_org_id = $1", org),
        };
        let states = if pending {
            " AND state IN ('requested', 'approved1')"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {RELEASE_COLUMNS}, LENGTH(content) AS size FROM workspace_releases \
             WHERE {filter}{states} ORDER BY id DESC"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if org != 0 {
            q = q.bind(org);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(release_from).collect()
    }

    /// A step of the release review: two reviewers of the implementing
    /// institution, neither the author, approve; any of them may reject
    /// (with reasons); the author may withdraw. Compare-and-set on the
    /// state, in the ledger with the content's SM3.
    pub async fn release_step(
        &self,
        p: &Principal,
        id: i64,
        action: ReleaseAction,
        note: &str,
        now_ms: i64,
    ) -> StoreResult<Release> {
        let r = self.release(p, id).await?;
        let reviewer = p.role == Role::ImplementingInstitution;
        let next = r.state.apply(
            action,
            p.user_id,
            r.author_user_id,
            r.first_reviewer,
            reviewer,
        )?;
        policy::check_note(note)?;
        let note = note.trim();
        if matches!(action, ReleaseAction::Reject | ReleaseAction::Withdraw)
            && note.chars().count() < 4
        {
            return Err(
                DomainError::invalid("note", "give the reasons (at least 4 characters)").into(),
            );
        }
        let mut tx = self.begin(now_ms).await?;
        let query = match (action, r.state) {
            (ReleaseAction::Approve, ReleaseState::Requested) => sqlx::query(
                "UPDATE workspace_releases SET state = $1, first_reviewer = $2, first_note = $3, first_at = $4, \
                 updated_at = $4 WHERE id = $5 AND state = $6",
            ),
            (ReleaseAction::Approve, _) => sqlx::query(
                "UPDATE workspace_releases SET state = $1, second_reviewer = $2, second_note = $3, decided_at = $4, \
                 updated_at = $4 WHERE id = $5 AND state = $6",
            ),
            _ => sqlx::query(
                "UPDATE workspace_releases SET state = $1, reason = $2, decided_at = $3, updated_at = $3 \
                 WHERE id = $4 AND state = $5",
            ),
        };
        let query = query.bind(next.as_str());
        let query = if action == ReleaseAction::Approve {
            query.bind(p.user_id)
        } else {
            query
        };
        let done = query
            .bind(note)
            .bind(now_ms)
            .bind(id)
            .bind(r.state.as_str())
            .execute(tx.conn())
            .await?;
        if done.rows_affected() != 1 {
            return Err(
                DomainError::conflict("the release request changed meanwhile; reload it").into(),
            );
        }
        let verb = match action {
            ReleaseAction::Approve => "approve",
            ReleaseAction::Reject => "reject",
            ReleaseAction::Withdraw => "withdraw",
        };
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("workspace.release.{verb}"),
            format!("release:{id}"),
            json!({"from": r.state, "to": next, "content_sm3": r.content_sm3, "note": note}),
        ));
        tx.commit().await?;
        self.release(p, id).await
    }

    /// The content of an approved release, for its operator or the
    /// lifecycle's readers; each download is in the ledger.
    pub async fn release_content(
        &self,
        p: &Principal,
        id: i64,
        now_ms: i64,
    ) -> StoreResult<(Release, Vec<u8>)> {
        let r = self.release(p, id).await?;
        if !r.state.released() {
            return Err(DomainError::conflict(
                "only a release approved by two reviewers can be downloaded",
            )
            .into());
        }
        let content: Vec<u8> = sqlx::query("SELECT content FROM workspace_releases WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?
            .try_get("content")?;
        let mut tx = self.begin(now_ms).await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "workspace.release.download",
            format!("release:{id}"),
            json!({"content_sm3": r.content_sm3, "size": content.len()}),
        ));
        tx.commit().await?;
        Ok((r, content))
    }

    /// Linkage alerts, newest first (the lifecycle's readers).
    pub async fn workspace_alerts(&self, p: &Principal) -> StoreResult<Vec<Alert>> {
        if !p.allows(Permission::AuthorizationRead) {
            return Err(DomainError::forbidden(
                "alerts are for the implementing institution and overseers",
            )
            .into());
        }
        let rows = sqlx::query("SELECT * FROM workspace_alerts ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(alert_from).collect()
    }

    /// Record how the institution handled an alert.
    pub async fn handle_alert(
        &self,
        p: &Principal,
        id: i64,
        note: &str,
        now_ms: i64,
    ) -> StoreResult<Alert> {
        if !matches!(p.role, Role::ImplementingInstitution | Role::DataAuthority) {
            return Err(DomainError::forbidden(
                "alerts are handled by the implementing institution",
            )
            .into());
        }
        policy::check_note(note)?;
        if note.trim().chars().count() < 4 {
            return Err(DomainError::invalid(
                "note",
                "say how the alert was handled (at least 4 characters)",
            )
            .into());
        }
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE workspace_alerts SET state = 'handled', handled_by = $1, handled_note = $2, handled_at = $3 \
             WHERE id = $4 AND state = 'open'",
        )
        .bind(p.user_id)
        .bind(note.trim())
        .bind(now_ms)
        .bind(id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(DomainError::conflict(format!("alert {id} is not open")).into());
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "workspace.alert.handle",
            format!("alert:{id}"),
            json!({"note": note.trim()}),
        ));
        tx.commit().await?;
        self.workspace_alerts(p)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| DomainError::not_found(format!("no alert {id}")).into())
    }

    /// An agreement's privacy budget, if it has one.
    pub async fn privacy_budget(&self, agreement_id: i64) -> StoreResult<Option<Budget>> {
        let row = sqlx::query(
            "SELECT total_micros, spent_micros FROM privacy_budgets WHERE agreement_id = $1",
        )
        .bind(agreement_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let total: i64 = r.try_get("total_micros")?;
            let spent: i64 = r.try_get("spent_micros")?;
            Ok(Budget {
                total: Epsilon(u64::try_from(total).unwrap_or(0)),
                spent: Epsilon(u64::try_from(spent).unwrap_or(0)),
            })
        })
        .transpose()
    }

    /// Set an agreement's total privacy budget (the institution); never
    /// below what is spent.
    pub async fn set_privacy_budget(
        &self,
        p: &Principal,
        agreement_id: i64,
        total: Epsilon,
        now_ms: i64,
    ) -> StoreResult<Budget> {
        if p.role != Role::ImplementingInstitution {
            return Err(DomainError::forbidden(
                "the implementing institution sets privacy budgets",
            )
            .into());
        }
        self.agreement(AgreementScope::All, agreement_id, now_ms)
            .await?;
        let spent = self
            .privacy_budget(agreement_id)
            .await?
            .map_or(Epsilon(0), |b| b.spent);
        if total < spent || total.0 == 0 || total > Epsilon(100 * Epsilon::MICROS) {
            return Err(DomainError::invalid(
                "total",
                format!(
                    "the budget is above 0, at most ε 100 and not below what is spent (ε {:.4})",
                    spent.as_f64()
                ),
            )
            .into());
        }
        let total_i = i64::try_from(total.0).unwrap_or(i64::MAX);
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE privacy_budgets SET total_micros = $1, updated_at = $2 WHERE agreement_id = $3",
        )
        .bind(total_i)
        .bind(now_ms)
        .bind(agreement_id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO privacy_budgets (agreement_id, total_micros, spent_micros, updated_at) VALUES ($1, $2, 0, $3)",
            )
            .bind(agreement_id)
            .bind(total_i)
            .bind(now_ms)
            .execute(tx.conn())
            .await?;
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "workspace.budget",
            format!("agreement:{agreement_id}"),
            json!({"total_micros": total.0}),
        ));
        tx.commit().await?;
        self.privacy_budget(agreement_id)
            .await?
            .ok_or_else(|| DomainError::internal("budget not stored").into())
    }

    /// An agreement's output-checking policy (the defaults until one is
    /// set).
    pub async fn output_policy(&self, agreement_id: i64) -> StoreResult<OutputPolicy> {
        let row = sqlx::query("SELECT policy FROM workspace_policies WHERE agreement_id = $1")
            .bind(agreement_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(OutputPolicy::default()),
            Some(r) => serde_json::from_str(&r.try_get::<String, _>("policy")?).map_err(|e| {
                DomainError::internal(format!("stored output policy unreadable: {e}")).into()
            }),
        }
    }

    /// Set an agreement's output-checking policy (the institution).
    pub async fn set_output_policy(
        &self,
        p: &Principal,
        agreement_id: i64,
        policy: OutputPolicy,
        now_ms: i64,
    ) -> StoreResult<OutputPolicy> {
        if p.role != Role::ImplementingInstitution {
            return Err(DomainError::forbidden(
                "the implementing institution sets output-checking policies",
            )
            .into());
        }
        let policy = policy.check()?;
        self.agreement(AgreementScope::All, agreement_id, now_ms)
            .await?;
        let json =
            serde_json::to_string(&policy).map_err(|e| DomainError::internal(e.to_string()))?;
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE workspace_policies SET policy = $1, updated_at = $2 WHERE agreement_id = $3",
        )
        .bind(&json)
        .bind(now_ms)
        .bind(agreement_id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO workspace_policies (agreement_id, policy, updated_at) VALUES ($1, $2, $3)",
            )
            .bind(agreement_id)
            .bind(&json)
            .bind(now_ms)
            .execute(tx.conn())
            .await?;
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "workspace.policy",
            format!("agreement:{agreement_id}"),
            json!({"policy": policy}),
        ));
        tx.commit().await?;
        Ok(policy)
    }
}
