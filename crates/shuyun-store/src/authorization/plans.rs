//! Implementation plans (实施方案, B1) as stored: one row per version, the
//! versions of a plan sharing a series. A draft is the only editable
//! version; an approved version never changes, and a change to it is a new
//! version whose revision (major or minor, from the domain's comparison of
//! the twelve items) decides whether it goes through deliberation again.
//! Filing is due 20 working days after approval (the caller computes the
//! instant); activating a version supersedes the earlier versions in force.

use serde::Serialize;
use serde_json::json;
use shuyun_domain::DomainError;
use shuyun_domain::authorization::plan::PlanItem;
use shuyun_domain::authorization::{PlanAction, PlanContent, PlanState, Revision, reason};
use shuyun_domain::policy;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StepObject, changed_meanwhile, from_json, record_step, require_role, to_json};
use crate::accounts::Principal;
use crate::ledger::LedgerEvent;
use crate::{Store, StoreResult};

/// One version of an implementation plan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Plan {
    /// The id of this version.
    pub id: i64,
    /// The id of the plan's first version, shared by all its versions.
    pub series_id: i64,
    /// 1, 2, … within the series.
    pub version: i64,
    /// The version this one revises.
    pub previous_id: Option<i64>,
    pub revision: Revision,
    pub state: PlanState,
    pub content: PlanContent,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub approved_at: Option<i64>,
    /// End of the 20th working day after approval (备案期限).
    pub filing_due_at: Option<i64>,
    pub filed_at: Option<i64>,
    /// The filing's document number (备案文号).
    pub filing_reference: String,
    pub activated_at: Option<i64>,
}

impl Plan {
    /// An approved version in force that selections and agreements may
    /// rely on.
    pub fn permits_selection(&self) -> bool {
        self.state.permits_selection()
    }
}

fn plan_from_row(row: &AnyRow) -> StoreResult<Plan> {
    Ok(Plan {
        id: row.try_get("id")?,
        series_id: row.try_get("series_id")?,
        version: row.try_get("version")?,
        previous_id: row.try_get("previous_id")?,
        revision: Revision::parse(&row.try_get::<String, _>("revision")?)?,
        state: PlanState::parse(&row.try_get::<String, _>("state")?)?,
        content: from_json(&row.try_get::<String, _>("content")?, "plan content")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        approved_at: row.try_get("approved_at")?,
        filing_due_at: row.try_get("filing_due_at")?,
        filed_at: row.try_get("filed_at")?,
        filing_reference: row.try_get("filing_reference")?,
        activated_at: row.try_get("activated_at")?,
    })
}

/// The plan actions of those who draft (the data authority, or the
/// implementing institution under its guidance, Jiangxi measures §8).
fn drafters() -> &'static [shuyun_domain::Role] {
    PlanAction::Submit.actors()
}

impl Store {
    /// Checks a plan's data scope against the catalogue: every resource
    /// registered, operable, and not on the negative list.
    async fn check_plan_scope(&self, content: &PlanContent) -> StoreResult<()> {
        self.operable_schemas("data_scope", content.data_scope.iter())
            .await?;
        Ok(())
    }

    /// Draft a new implementation plan (version 1).
    pub async fn create_plan(
        &self,
        p: &Principal,
        content: PlanContent,
        now_ms: i64,
    ) -> StoreResult<Plan> {
        require_role(p, drafters(), "draft implementation plans")?;
        self.check_plan_scope(&content).await?;
        let mut tx = self.begin(now_ms).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO plans (series_id, version, revision, state, content, created_by, created_at, updated_at) \
             VALUES (0, 1, $1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(Revision::Original.as_str())
        .bind(PlanState::Draft.as_str())
        .bind(to_json(&content)?)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        sqlx::query("UPDATE plans SET series_id = id WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "plan.create",
            format!("plan:{id}"),
            json!({"series": id, "version": 1, "name": content.name, "mode": content.mode(),
                   "resources": content.data_scope, "term_months": content.term_months}),
        ));
        tx.commit().await?;
        self.plan(id).await
    }

    /// One plan version.
    pub async fn plan(&self, id: i64) -> StoreResult<Plan> {
        let row = sqlx::query("SELECT * FROM plans WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("plan {id}")))?;
        plan_from_row(&row)
    }

    /// Every plan version, newest first.
    pub async fn plans(&self) -> StoreResult<Vec<Plan>> {
        let rows = sqlx::query("SELECT * FROM plans ORDER BY id DESC LIMIT 1000")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// The versions of one plan, oldest first.
    pub async fn plan_versions(&self, series_id: i64) -> StoreResult<Vec<Plan>> {
        let rows = sqlx::query("SELECT * FROM plans WHERE series_id = $1 ORDER BY version")
            .bind(series_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// Change a draft's content. Anything past draft is immutable (a
    /// `Conflict`): change it by a new version. A revision's kind (major
    /// or minor) is recomputed against the version it revises.
    pub async fn update_plan(
        &self,
        p: &Principal,
        id: i64,
        content: PlanContent,
        now_ms: i64,
    ) -> StoreResult<Plan> {
        let plan = self.plan(id).await?;
        require_role(p, drafters(), "draft implementation plans")?;
        if !plan.state.editable() {
            return Err(DomainError::conflict(format!(
                "plan version {} is {}: only a draft changes; make a new version",
                plan.version,
                plan.state.as_str()
            ))
            .into());
        }
        let revision = match plan.previous_id {
            None => Revision::Original,
            Some(prev) => self.revision_of(prev, &content).await?,
        };
        self.check_plan_scope(&content).await?;
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE plans SET content = $1, revision = $2, updated_at = $3 WHERE id = $4 AND state = 'draft'",
        )
        .bind(to_json(&content)?)
        .bind(revision.as_str())
        .bind(now_ms)
        .bind(id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(changed_meanwhile("plan").into());
        }
        let changed: Vec<PlanItem> = plan.content.changed_items(&content);
        tx.record(LedgerEvent::new(
            p.actor(),
            "plan.update",
            format!("plan:{id}"),
            json!({"revision": revision, "changed": changed}),
        ));
        tx.commit().await?;
        self.plan(id).await
    }

    /// What kind of revision `content` is of version `previous_id`
    /// (`Conflict` when nothing changed).
    async fn revision_of(&self, previous_id: i64, content: &PlanContent) -> StoreResult<Revision> {
        let prev = self.plan(previous_id).await?;
        prev.content.revision_to(content).ok_or_else(|| {
            DomainError::conflict(format!(
                "the content is that of version {}: nothing to revise",
                prev.version
            ))
            .into()
        })
    }

    /// Make a new version of an approved plan (approved, filed or in
    /// force). A major change (较大变更) goes through deliberation again; a
    /// minor one may be approved from draft. One open version at a time.
    pub async fn revise_plan(
        &self,
        p: &Principal,
        id: i64,
        content: PlanContent,
        now_ms: i64,
    ) -> StoreResult<Plan> {
        let base = self.plan(id).await?;
        require_role(p, drafters(), "draft implementation plans")?;
        if !base.state.permits_selection() {
            return Err(DomainError::conflict(format!(
                "plan version {} is {}: only an approved version is revised",
                base.version,
                base.state.as_str()
            ))
            .into());
        }
        let revision = self.revision_of(id, &content).await?;
        self.check_plan_scope(&content).await?;
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query(
            "SELECT MAX(version) AS v, \
             SUM(CASE WHEN state IN ('draft', 'deliberation') THEN 1 ELSE 0 END) AS open \
             FROM plans WHERE series_id = $1",
        )
        .bind(base.series_id)
        .fetch_one(tx.conn())
        .await?;
        let latest: i64 = row.try_get::<Option<i64>, _>("v")?.unwrap_or(0);
        if row.try_get::<Option<i64>, _>("open")?.unwrap_or(0) > 0 {
            return Err(DomainError::conflict(
                "a new version of this plan is already being drafted or deliberated",
            )
            .into());
        }
        let version = latest + 1;
        let new_id: i64 = sqlx::query(
            "INSERT INTO plans (series_id, version, previous_id, revision, state, content, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(base.series_id)
        .bind(version)
        .bind(id)
        .bind(revision.as_str())
        .bind(PlanState::Draft.as_str())
        .bind(to_json(&content)?)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "plan.revise",
            format!("plan:{new_id}"),
            json!({"series": base.series_id, "version": version, "revises": id,
                   "revision": revision, "changed": base.content.changed_items(&content)}),
        ));
        tx.commit().await?;
        self.plan(new_id).await
    }

    /// Take a step on a plan version: submit, withdraw (drafters); reject,
    /// approve, file, activate (the data authority). Rejection needs the
    /// deliberation's reasons; filing needs the filing's document number in
    /// `note`. `filing_due_at` is the end of the 20th working day from now,
    /// recorded on approval. Activation supersedes the series' earlier
    /// versions in force.
    pub async fn plan_step(
        &self,
        p: &Principal,
        id: i64,
        action: PlanAction,
        note: &str,
        filing_due_at: i64,
        now_ms: i64,
    ) -> StoreResult<Plan> {
        let plan = self.plan(id).await?;
        require_role(
            p,
            action.actors(),
            &format!("{} implementation plans", action.as_str()),
        )?;
        let next = plan.state.apply(action, plan.revision)?;
        let note = match action {
            PlanAction::Reject | PlanAction::Withdraw => reason(note)?,
            PlanAction::File => policy::check_name("note", note).map_err(|_| {
                DomainError::invalid("note", "give the filing's document number (备案文号)")
            })?,
            _ => policy::check_note(note)?,
        };
        if matches!(action, PlanAction::Submit | PlanAction::Approve) {
            // The negative list may have grown since the draft was written.
            self.check_plan_scope(&plan.content).await?;
        }
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE plans SET state = $1, updated_at = $2, \
             approved_at = CASE WHEN $3 = 1 THEN $2 ELSE approved_at END, \
             filing_due_at = CASE WHEN $3 = 1 THEN $4 ELSE filing_due_at END, \
             filed_at = CASE WHEN $5 = 1 THEN $2 ELSE filed_at END, \
             filing_reference = CASE WHEN $5 = 1 THEN $6 ELSE filing_reference END, \
             activated_at = CASE WHEN $7 = 1 THEN $2 ELSE activated_at END \
             WHERE id = $8 AND state = $9",
        )
        .bind(next.as_str())
        .bind(now_ms)
        .bind(i64::from(action == PlanAction::Approve))
        .bind(filing_due_at)
        .bind(i64::from(action == PlanAction::File))
        .bind(&note)
        .bind(i64::from(action == PlanAction::Activate))
        .bind(id)
        .bind(plan.state.as_str())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(changed_meanwhile("plan").into());
        }
        record_step(
            &mut tx,
            StepObject::Plan,
            id,
            action.as_str(),
            plan.state.as_str(),
            next.as_str(),
            Some(p.user_id),
            &note,
        )
        .await?;
        let mut detail = json!({"from": plan.state, "to": next, "note": note});
        if action == PlanAction::Approve {
            detail["filing_due_at"] = json!(filing_due_at);
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("plan.{}", action.as_str()),
            format!("plan:{id}"),
            detail,
        ));
        if action == PlanAction::Activate {
            let older = sqlx::query(
                "SELECT id, state FROM plans WHERE series_id = $1 AND id <> $2 \
                 AND state IN ('approved', 'filed', 'active') ORDER BY id",
            )
            .bind(plan.series_id)
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
            for row in older {
                let old_id: i64 = row.try_get("id")?;
                let old_state = PlanState::parse(&row.try_get::<String, _>("state")?)?;
                let superseded = old_state.apply(PlanAction::Supersede, Revision::Original)?;
                let done = sqlx::query(
                    "UPDATE plans SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
                )
                .bind(superseded.as_str())
                .bind(now_ms)
                .bind(old_id)
                .bind(old_state.as_str())
                .execute(tx.conn())
                .await?;
                if done.rows_affected() != 1 {
                    return Err(changed_meanwhile("plan").into());
                }
                let why = format!("superseded by version {}", plan.version);
                record_step(
                    &mut tx,
                    StepObject::Plan,
                    old_id,
                    PlanAction::Supersede.as_str(),
                    old_state.as_str(),
                    superseded.as_str(),
                    Some(p.user_id),
                    &why,
                )
                .await?;
                tx.record(LedgerEvent::new(
                    p.actor(),
                    "plan.supersede",
                    format!("plan:{old_id}"),
                    json!({"from": old_state, "to": superseded, "by": id}),
                ));
            }
        }
        tx.commit().await?;
        self.plan(id).await
    }
}
