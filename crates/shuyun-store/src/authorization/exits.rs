//! Exits (退出, B5, G9) as stored: when an agreement expires, is
//! terminated or the operator leaves, an exit record opens in the same
//! transaction — access is already cut by the agreement's state (every
//! later [`Store::authorize`] denies) — with the deletion of the operator's
//! working copies due at once, the standard handover checklist, and the
//! date until which its work logs are kept (three years at least).
//! Destruction is recorded with a second person's confirmation and written
//! to the ledger (销毁记录); handover items are ticked off with their
//! evidence; releasing the logs for deletion before the retention ends is
//! refused. The ledger itself is never deleted.

use serde::Serialize;
use serde_json::json;
use shuyun_domain::DomainError;
use shuyun_domain::authorization::AgreementAction;
use shuyun_domain::authorization::exit::{
    DestructionRecord, ExitCause, HandoverChecklist, HandoverKind, check_log_deletion,
    retention_ends_ms, working_copies_due_ms,
};
use shuyun_domain::calendar::Date;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{changed_meanwhile, from_json, require_role, to_json};
use crate::accounts::Principal;
use crate::ledger::LedgerEvent;
use crate::tx::Tx;
use crate::{Store, StoreResult};

/// The exit of an operator from one agreement.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Exit {
    pub agreement_id: i64,
    pub cause: ExitCause,
    /// When access ended.
    pub exited_at: i64,
    /// When the operator's working copies are due for deletion (at once).
    pub copies_due_at: i64,
    /// The destruction record (销毁记录), once the copies are deleted.
    pub destruction: Option<DestructionRecord>,
    pub handover: HandoverChecklist,
    /// The work logs are kept at least until then (three years, G9).
    pub logs_retained_until: i64,
    /// When the logs were released for deletion (after the retention).
    pub logs_released_at: Option<i64>,
    /// Copies destroyed and every handover item done.
    pub complete: bool,
}

fn exit_from_row(row: &AnyRow) -> StoreResult<Exit> {
    let destruction: Option<String> = row.try_get("destruction")?;
    let destruction: Option<DestructionRecord> = destruction
        .map(|d| from_json(&d, "destruction record"))
        .transpose()?;
    let handover: HandoverChecklist =
        from_json(&row.try_get::<String, _>("handover")?, "handover")?;
    Ok(Exit {
        agreement_id: row.try_get("agreement_id")?,
        cause: ExitCause::parse(&row.try_get::<String, _>("cause")?)?,
        exited_at: row.try_get("exited_at")?,
        copies_due_at: row.try_get("copies_due_at")?,
        complete: destruction.is_some() && handover.is_complete(),
        destruction,
        handover,
        logs_retained_until: row.try_get("logs_retained_until")?,
        logs_released_at: row.try_get("logs_released_at")?,
    })
}

/// Opens the exit of an agreement that just expired, was terminated or
/// exited, in the transaction that recorded it.
pub(crate) async fn open_exit(
    tx: &mut Tx,
    agreement_id: i64,
    cause: ExitCause,
    actor: &str,
) -> StoreResult<()> {
    let now = tx.now_ms();
    let handover = HandoverChecklist::standard();
    let copies_due_at = working_copies_due_ms(now);
    let logs_retained_until = retention_ends_ms(now);
    sqlx::query(
        "INSERT INTO agreement_exits (agreement_id, cause, exited_at, copies_due_at, handover, logs_retained_until) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(agreement_id)
    .bind(cause.as_str())
    .bind(now)
    .bind(copies_due_at)
    .bind(to_json(&handover)?)
    .bind(logs_retained_until)
    .execute(tx.conn())
    .await?;
    tx.record(LedgerEvent::new(
        actor,
        "exit.open",
        format!("agreement:{agreement_id}"),
        json!({"cause": cause, "access": "cut", "copies_due_at": copies_due_at,
               "logs_retained_until": logs_retained_until,
               "handover": handover.items().iter().map(|i| i.kind).collect::<Vec<_>>()}),
    ));
    Ok(())
}

/// Who manages exits: the implementing institution.
fn managers() -> &'static [shuyun_domain::Role] {
    AgreementAction::Exit.actors()
}

impl Store {
    /// The exit of an agreement (`NotFound` while it has none).
    pub async fn exit(&self, agreement_id: i64) -> StoreResult<Exit> {
        let row = sqlx::query("SELECT * FROM agreement_exits WHERE agreement_id = $1")
            .bind(agreement_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| {
                DomainError::not_found(format!("the exit of agreement {agreement_id}"))
            })?;
        exit_from_row(&row)
    }

    /// Every exit, newest first.
    pub async fn exits(&self) -> StoreResult<Vec<Exit>> {
        let rows = sqlx::query("SELECT * FROM agreement_exits ORDER BY exited_at DESC LIMIT 1000")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(exit_from_row).collect()
    }

    /// Exits whose working copies are due for deletion at `now_ms` and not
    /// yet destroyed (what the secure workspace deletes).
    pub async fn destructions_due(&self, now_ms: i64) -> StoreResult<Vec<Exit>> {
        let rows = sqlx::query(
            "SELECT * FROM agreement_exits WHERE destroyed_at IS NULL AND copies_due_at <= $1 \
             ORDER BY copies_due_at",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(exit_from_row).collect()
    }

    /// Writes a changed checklist (and destruction) if nobody changed it
    /// meanwhile.
    async fn save_exit(&self, tx: &mut Tx, before: &Exit, after: &Exit) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE agreement_exits SET handover = $1, destruction = $2, destroyed_at = $3, logs_released_at = $4 \
             WHERE agreement_id = $5 AND handover = $6 \
             AND COALESCE(destroyed_at, -1) = $7 AND COALESCE(logs_released_at, -1) = $8",
        )
        .bind(to_json(&after.handover)?)
        .bind(after.destruction.as_ref().map(to_json).transpose()?)
        .bind(after.destruction.as_ref().map(|d| d.destroyed_at_ms))
        .bind(after.logs_released_at)
        .bind(before.agreement_id)
        .bind(to_json(&before.handover)?)
        .bind(before.destruction.as_ref().map_or(-1, |d| d.destroyed_at_ms))
        .bind(before.logs_released_at.unwrap_or(-1))
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(changed_meanwhile("exit").into())
        }
    }

    /// Record the deletion of the operator's working copies (销毁记录):
    /// what was destroyed and how, confirmed by a second person outside
    /// the operator. Written to the ledger; ticks the handover item.
    pub async fn record_destruction(
        &self,
        p: &Principal,
        agreement_id: i64,
        object: &str,
        method: &str,
        confirmed_by_user_id: i64,
        now_ms: i64,
    ) -> StoreResult<Exit> {
        let before = self.exit(agreement_id).await?;
        require_role(p, managers(), "record exits")?;
        if before.destruction.is_some() {
            return Err(DomainError::conflict("the destruction is already recorded").into());
        }
        let record = DestructionRecord {
            object: object.to_string(),
            method: method.to_string(),
            destroyed_at_ms: now_ms,
            destroyed_by_user_id: p.user_id,
            confirmed_by_user_id,
        }
        .check()?;
        let confirmer = self.user(confirmed_by_user_id).await.map_err(|e| {
            if e.is_not_found() {
                DomainError::invalid(
                    "confirmed_by_user_id",
                    format!("user {confirmed_by_user_id} does not exist"),
                )
                .into()
            } else {
                e
            }
        })?;
        let operator = self
            .agreement(super::agreements::AgreementScope::All, agreement_id, now_ms)
            .await?
            .operator_org_id;
        if confirmer.org_id == operator || confirmer.disabled {
            return Err(DomainError::forbidden(
                "the destruction is confirmed by an active user outside the operator",
            )
            .into());
        }
        let mut after = before.clone();
        let index =
            after.handover.items().iter().position(|i| {
                i.kind == HandoverKind::DeleteWorkingCopies && i.done_at_ms.is_none()
            });
        if let Some(i) = index {
            let evidence = format!(
                "销毁记录 {}: {}",
                Date::from_epoch_ms_beijing(now_ms),
                record.object
            );
            let evidence: String = evidence.chars().take(500).collect();
            after.handover.complete(i, p.user_id, &evidence, now_ms)?;
        }
        after.destruction = Some(record.clone());
        let mut tx = self.begin(now_ms).await?;
        self.save_exit(&mut tx, &before, &after).await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "exit.destroy",
            format!("agreement:{agreement_id}"),
            json!({"destruction": record}),
        ));
        tx.commit().await?;
        self.exit(agreement_id).await
    }

    /// Add an item to an exit's handover checklist.
    pub async fn add_handover_item(
        &self,
        p: &Principal,
        agreement_id: i64,
        title: &str,
        now_ms: i64,
    ) -> StoreResult<Exit> {
        let before = self.exit(agreement_id).await?;
        require_role(p, managers(), "record exits")?;
        let mut after = before.clone();
        let index = after.handover.add(title)?;
        let mut tx = self.begin(now_ms).await?;
        self.save_exit(&mut tx, &before, &after).await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "exit.handover_add",
            format!("agreement:{agreement_id}"),
            json!({"item": index, "title": after.handover.items().get(index).map(|i| i.title.clone())}),
        ));
        tx.commit().await?;
        self.exit(agreement_id).await
    }

    /// Tick off a handover item with its evidence. The deletion of working
    /// copies is ticked by recording the destruction.
    pub async fn complete_handover(
        &self,
        p: &Principal,
        agreement_id: i64,
        index: usize,
        evidence: &str,
        now_ms: i64,
    ) -> StoreResult<Exit> {
        let before = self.exit(agreement_id).await?;
        require_role(p, managers(), "record exits")?;
        if before
            .handover
            .items()
            .get(index)
            .is_some_and(|i| i.kind == HandoverKind::DeleteWorkingCopies)
        {
            return Err(DomainError::conflict(
                "the deletion of working copies is done by recording the destruction",
            )
            .into());
        }
        let mut after = before.clone();
        after
            .handover
            .complete(index, p.user_id, evidence, now_ms)?;
        let mut tx = self.begin(now_ms).await?;
        self.save_exit(&mut tx, &before, &after).await?;
        let item = after.handover.items().get(index);
        tx.record(LedgerEvent::new(
            p.actor(),
            "exit.handover",
            format!("agreement:{agreement_id}"),
            json!({"item": index, "kind": item.map(|i| i.kind), "evidence": item.map(|i| i.evidence.clone()),
                   "complete": after.handover.is_complete()}),
        ));
        tx.commit().await?;
        self.exit(agreement_id).await
    }

    /// Release an exited operator's work logs for deletion — refused
    /// (`Forbidden`) before the retention period ends (G9). The ledger is
    /// never deleted.
    pub async fn release_work_logs(
        &self,
        p: &Principal,
        agreement_id: i64,
        now_ms: i64,
    ) -> StoreResult<Exit> {
        let before = self.exit(agreement_id).await?;
        require_role(p, managers(), "record exits")?;
        check_log_deletion(before.exited_at, now_ms)?;
        if before.logs_released_at.is_some() {
            return Err(DomainError::conflict("the work logs are already released").into());
        }
        let mut after = before.clone();
        after.logs_released_at = Some(now_ms);
        let mut tx = self.begin(now_ms).await?;
        self.save_exit(&mut tx, &before, &after).await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "exit.logs_release",
            format!("agreement:{agreement_id}"),
            json!({"exited_at": before.exited_at, "retained_until": before.logs_retained_until}),
        ));
        tx.commit().await?;
        self.exit(agreement_id).await
    }
}
