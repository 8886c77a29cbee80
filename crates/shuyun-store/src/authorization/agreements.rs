//! Operating agreements (运营协议, B3) and scenario plans (应用场景, B4) as
//! stored, and [`Store::authorize`], the one access decision everything
//! that touches authorized data asks (the secure workspace, product
//! registration, delivery).
//!
//! An agreement is drafted from an award, its scope checked against the
//! plan, the negative list and the resources' current schemas; it is
//! signed (filing due in 20 working days), filed, activated, and may be
//! suspended, reinstated, terminated, exited or renewed. Expiry is a
//! function of the clock: reads show the state in force
//! ([`AgreementState::at`]) and [`Store::expire_due`] records it. No state
//! is cached anywhere: every decision reads the agreement as stored, so a
//! suspension or an exit cuts access on the operator's next request.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;
use shuyun_domain::authorization::agreement::{AgreementContentInput, check_can_sign};
use shuyun_domain::authorization::exit::ExitCause;
use shuyun_domain::authorization::scenario::check_submission;
use shuyun_domain::authorization::scope::{Denial, ScenarioView};
use shuyun_domain::authorization::{
    AccessRequest, AgreementAction, AgreementContent, AgreementState, AgreementView, Decision,
    DenyReason, ScenarioAction, ScenarioPlan, ScenarioState, decide, reason,
};
use shuyun_domain::calendar::Date;
use shuyun_domain::{DomainError, Permission, Role, policy};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StepObject, changed_meanwhile, from_json, record_step, require_role, to_json};
use crate::accounts::Principal;
use crate::ledger::LedgerEvent;
use crate::tx::Tx;
use crate::{Store, StoreResult};

/// An operating agreement.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Agreement {
    pub id: i64,
    /// The selection whose award it implements.
    pub selection_id: i64,
    /// The plan version it implements.
    pub plan_id: i64,
    /// The operator (运营机构) it authorizes.
    pub operator_org_id: i64,
    pub operator_org_name: String,
    /// The agreement this one renews (续期).
    pub renewal_of: Option<i64>,
    /// The state in force now: a live agreement whose term has ended is
    /// expired, whatever is recorded.
    pub state: AgreementState,
    /// The state as recorded (behind `state` until the expiry is recorded).
    pub recorded_state: AgreementState,
    pub content: AgreementContent,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub signed_at: Option<i64>,
    /// End of the 20th working day after signing (备案期限).
    pub filing_due_at: Option<i64>,
    pub filed_at: Option<i64>,
    pub filing_reference: String,
    pub activated_at: Option<i64>,
    /// When it expired, was terminated, exited or cancelled.
    pub ended_at: Option<i64>,
}

/// A scenario plan (场景开发方案) on an agreement.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Scenario {
    pub id: i64,
    pub agreement_id: i64,
    pub operator_org_id: i64,
    pub state: ScenarioState,
    pub plan: ScenarioPlan,
    pub submitted_by: i64,
    pub submitted_at: i64,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    /// The reasons of a rejection or revocation.
    pub reason: String,
}

/// Which agreements a caller sees: all (readers of the whole lifecycle),
/// or its own organisation's as operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementScope {
    All,
    Operator(i64),
}

impl AgreementScope {
    pub fn of(p: &Principal) -> Self {
        if p.allows(Permission::AuthorizationRead) {
            AgreementScope::All
        } else {
            AgreementScope::Operator(p.org_id)
        }
    }

    fn sees(self, operator_org_id: i64) -> bool {
        match self {
            AgreementScope::All => true,
            AgreementScope::Operator(org) => org == operator_org_id,
        }
    }
}

const AGREEMENT_SELECT: &str = "SELECT a.*, o.name AS operator_org_name FROM agreements a \
     JOIN orgs o ON o.id = a.operator_org_id";

fn agreement_from_row(row: &AnyRow, now_ms: i64) -> StoreResult<Agreement> {
    let content: AgreementContent = from_json(&row.try_get::<String, _>("content")?, "agreement")?;
    let recorded = AgreementState::parse(&row.try_get::<String, _>("state")?)?;
    Ok(Agreement {
        id: row.try_get("id")?,
        selection_id: row.try_get("selection_id")?,
        plan_id: row.try_get("plan_id")?,
        operator_org_id: row.try_get("operator_org_id")?,
        operator_org_name: row.try_get("operator_org_name")?,
        renewal_of: row.try_get("renewal_of")?,
        state: recorded.at(&content.term, now_ms),
        recorded_state: recorded,
        content,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        signed_at: row.try_get("signed_at")?,
        filing_due_at: row.try_get("filing_due_at")?,
        filed_at: row.try_get("filed_at")?,
        filing_reference: row.try_get("filing_reference")?,
        activated_at: row.try_get("activated_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

fn scenario_from_row(row: &AnyRow) -> StoreResult<Scenario> {
    Ok(Scenario {
        id: row.try_get("id")?,
        agreement_id: row.try_get("agreement_id")?,
        operator_org_id: row.try_get("operator_org_id")?,
        state: ScenarioState::parse(&row.try_get::<String, _>("state")?)?,
        plan: from_json(&row.try_get::<String, _>("plan")?, "scenario plan")?,
        submitted_by: row.try_get("submitted_by")?,
        submitted_at: row.try_get("submitted_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        reason: row.try_get("reason")?,
    })
}

fn institution() -> &'static [Role] {
    AgreementAction::Sign.actors()
}

/// Claims an agreement in its recorded state for this transaction (a
/// compare-and-set that only moves `updated_at`), so that a scenario
/// decision and a suspension cannot cross.
async fn claim(tx: &mut Tx, id: i64, recorded: AgreementState) -> StoreResult<()> {
    let now = tx.now_ms();
    let done = sqlx::query("UPDATE agreements SET updated_at = $1 WHERE id = $2 AND state = $3")
        .bind(now)
        .bind(id)
        .bind(recorded.as_str())
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(changed_meanwhile("agreement").into())
    }
}

/// The place of a denial in the order of [`decide`]'s checks: the later,
/// the nearer to an allowance (the most telling answer among agreements).
fn progress(reason: DenyReason) -> usize {
    DenyReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(0)
}

fn deny(reason: DenyReason, message: String) -> Decision {
    Decision::Deny(Denial { reason, message })
}

impl Store {
    /// Checks an agreement's content: within its plan (resources, term,
    /// mode, products — `Forbidden` beyond it, B6), every resource operable
    /// and off the negative list, fields and row filters matching the
    /// resources' current schemas, revenue shares naming existing
    /// organisations and the operator's share naming the operator.
    async fn check_agreement_content(
        &self,
        content: &AgreementContent,
        plan: &super::plans::Plan,
        operator_org_id: i64,
    ) -> StoreResult<()> {
        content.check_against_plan(&plan.content)?;
        let schemas = self
            .operable_schemas("scope", content.scope.resource_codes())
            .await?;
        content.scope.check_schemas(|c| schemas.get(c))?;
        let mut orgs = BTreeSet::new();
        for share in content.revenue_sharing.shares() {
            if share.party == shuyun_domain::authorization::agreement::ShareParty::Operator
                && share.org_id != operator_org_id
            {
                return Err(DomainError::invalid(
                    "revenue_sharing",
                    "the operator's share goes to the agreement's operator",
                )
                .into());
            }
            orgs.insert(share.org_id);
        }
        for org in orgs {
            if let Err(e) = self.org(org).await {
                return Err(if e.is_not_found() {
                    DomainError::invalid(
                        "revenue_sharing",
                        format!("organisation {org} does not exist"),
                    )
                    .into()
                } else {
                    e
                });
            }
        }
        Ok(())
    }

    /// Draft the agreement of an awarded selection with its awardee.
    pub async fn draft_agreement(
        &self,
        p: &Principal,
        selection_id: i64,
        content: AgreementContent,
        now_ms: i64,
    ) -> StoreResult<Agreement> {
        let sel = self.selection(selection_id).await?;
        require_role(p, institution(), "draft operating agreements")?;
        let plan = self.plan(sel.plan_id).await?;
        let operator = sel.awarded_org_id.unwrap_or(0);
        check_can_sign(plan.state, sel.state, sel.awarded_org_id.is_some())?;
        self.check_agreement_content(&content, &plan, operator)
            .await?;
        let mut tx = self.begin(now_ms).await?;
        let id = insert_agreement(&mut tx, &sel, operator, None, &content, p.user_id).await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "agreement.draft",
            format!("agreement:{id}"),
            json!({"selection": selection_id, "plan": sel.plan_id, "operator": operator,
                   "term": content.term, "resources": content.scope.resource_codes().collect::<Vec<_>>()}),
        ));
        tx.commit().await?;
        self.agreement(AgreementScope::All, id, now_ms).await
    }

    /// One agreement, if the scope sees it.
    pub async fn agreement(
        &self,
        scope: AgreementScope,
        id: i64,
        now_ms: i64,
    ) -> StoreResult<Agreement> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AGREEMENT_SELECT} WHERE a.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let a = agreement_from_row(&row, now_ms)?;
                if scope.sees(a.operator_org_id) {
                    Ok(a)
                } else {
                    Err(DomainError::not_found(format!("agreement {id}")).into())
                }
            }
            None => Err(DomainError::not_found(format!("agreement {id}")).into()),
        }
    }

    /// Agreements in scope, newest first, in the state in force at `now_ms`.
    pub async fn agreements(
        &self,
        scope: AgreementScope,
        now_ms: i64,
    ) -> StoreResult<Vec<Agreement>> {
        let (all, org) = match scope {
            AgreementScope::All => (1_i64, 0_i64),
            AgreementScope::Operator(o) => (0, o),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AGREEMENT_SELECT} WHERE ($1 = 1 OR a.operator_org_id = $2) ORDER BY a.id DESC LIMIT 1000"
        )))
        .bind(all)
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| agreement_from_row(r, now_ms)).collect()
    }

    /// Change a drafted agreement (a signed one is changed by a new one).
    pub async fn update_agreement(
        &self,
        p: &Principal,
        id: i64,
        content: AgreementContent,
        now_ms: i64,
    ) -> StoreResult<Agreement> {
        let a = self.agreement(AgreementScope::All, id, now_ms).await?;
        require_role(p, institution(), "draft operating agreements")?;
        if !a.recorded_state.editable() {
            return Err(DomainError::conflict(format!(
                "the agreement is {}: only a drafted agreement changes",
                a.recorded_state.as_str()
            ))
            .into());
        }
        let plan = self.plan(a.plan_id).await?;
        self.check_agreement_content(&content, &plan, a.operator_org_id)
            .await?;
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE agreements SET content = $1, term_end = $2, updated_at = $3 WHERE id = $4 AND state = 'drafted'",
        )
        .bind(to_json(&content)?)
        .bind(content.term.end.to_string())
        .bind(now_ms)
        .bind(id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(changed_meanwhile("agreement").into());
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "agreement.update",
            format!("agreement:{id}"),
            json!({"term": content.term, "resources": content.scope.resource_codes().collect::<Vec<_>>()}),
        ));
        tx.commit().await?;
        self.agreement(AgreementScope::All, id, now_ms).await
    }

    /// Take a step on an agreement: sign (re-checking the plan, the award
    /// and the scope; filing due at `filing_due_at`), file (with the
    /// document number), activate, suspend, reinstate, terminate, exit or
    /// cancel (with reasons). Suspension, termination and exit cut the
    /// operator's access at once: every later [`Store::authorize`] denies.
    pub async fn agreement_step(
        &self,
        p: &Principal,
        id: i64,
        action: AgreementAction,
        note: &str,
        filing_due_at: i64,
        now_ms: i64,
    ) -> StoreResult<Agreement> {
        let a = self.agreement(AgreementScope::All, id, now_ms).await?;
        require_role(
            p,
            action.actors(),
            &format!("{} operating agreements", action.as_str()),
        )?;
        let note = match action {
            AgreementAction::Suspend
            | AgreementAction::Terminate
            | AgreementAction::Exit
            | AgreementAction::Cancel => reason(note)?,
            AgreementAction::File => policy::check_name("note", note).map_err(|_| {
                DomainError::invalid("note", "give the filing's document number (备案文号)")
            })?,
            _ => policy::check_note(note)?,
        };
        let next = a.recorded_state.apply(action, &a.content.term, now_ms)?;
        if action == AgreementAction::Sign {
            let sel = self.selection(a.selection_id).await?;
            let plan = self.plan(a.plan_id).await?;
            check_can_sign(
                plan.state,
                sel.state,
                sel.awarded_org_id == Some(a.operator_org_id),
            )?;
            self.check_agreement_content(&a.content, &plan, a.operator_org_id)
                .await?;
        }
        let mut detail = json!({"from": a.recorded_state, "to": next, "note": note});
        if action == AgreementAction::Sign {
            detail["filing_due_at"] = json!(filing_due_at);
        }
        if matches!(
            next,
            AgreementState::Suspended
                | AgreementState::Terminated
                | AgreementState::Exited
                | AgreementState::Expired
        ) {
            detail["access"] = json!("cut");
        }
        let mut tx = self.begin(now_ms).await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("agreement.{}", action.as_str()),
            format!("agreement:{id}"),
            detail,
        ));
        transition(&mut tx, &a, action, next, &note, filing_due_at, Some(p)).await?;
        tx.commit().await?;
        self.agreement(AgreementScope::All, id, now_ms).await
    }

    /// Renew a live agreement (续期): a new drafted agreement with the same
    /// content and the following term, from the day after the current end
    /// to `new_end` (at most five years, and within the plan).
    pub async fn renew_agreement(
        &self,
        p: &Principal,
        id: i64,
        new_end: Date,
        now_ms: i64,
    ) -> StoreResult<Agreement> {
        let a = self.agreement(AgreementScope::All, id, now_ms).await?;
        require_role(p, institution(), "draft operating agreements")?;
        if !a.state.is_live() {
            return Err(DomainError::conflict(format!(
                "the agreement is {}: only a live agreement is renewed",
                a.state.as_str()
            ))
            .into());
        }
        let term = a.content.term.renewal(new_end)?;
        let content = AgreementContent::new(AgreementContentInput {
            term,
            ..a.content.clone().into_input()
        })?;
        let sel = self.selection(a.selection_id).await?;
        let plan = self.plan(a.plan_id).await?;
        self.check_agreement_content(&content, &plan, a.operator_org_id)
            .await?;
        let mut tx = self.begin(now_ms).await?;
        let new_id = insert_agreement(
            &mut tx,
            &sel,
            a.operator_org_id,
            Some(id),
            &content,
            p.user_id,
        )
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "agreement.renew",
            format!("agreement:{new_id}"),
            json!({"renews": id, "term": content.term}),
        ));
        tx.commit().await?;
        self.agreement(AgreementScope::All, new_id, now_ms).await
    }

    /// Record the expiry of every live agreement whose term has ended (the
    /// platform's own step, run on a timer); returns their ids. Reads and
    /// decisions do not wait for it: they derive expiry from the clock.
    pub async fn expire_due(&self, now_ms: i64) -> StoreResult<Vec<i64>> {
        let today = Date::from_epoch_ms_beijing(now_ms).to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AGREEMENT_SELECT} WHERE a.state IN ('signed', 'filed', 'active', 'suspended') \
             AND a.term_end < $1 ORDER BY a.id"
        )))
        .bind(&today)
        .fetch_all(&self.pool)
        .await?;
        let mut expired = Vec::new();
        for row in &rows {
            let a = agreement_from_row(row, now_ms)?;
            if !a.recorded_state.needs_expiry(&a.content.term, now_ms) {
                continue;
            }
            let next = a
                .recorded_state
                .apply(AgreementAction::Expire, &a.content.term, now_ms)?;
            let mut tx = self.begin(now_ms).await?;
            tx.record(LedgerEvent::new(
                "system",
                "agreement.expire",
                format!("agreement:{}", a.id),
                json!({"from": a.recorded_state, "to": next, "term_end": a.content.term.end,
                       "access": "cut"}),
            ));
            match transition(&mut tx, &a, AgreementAction::Expire, next, "", 0, None).await {
                Ok(()) => {}
                // Someone else recorded it (or another step) meanwhile.
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e),
            }
            tx.commit().await?;
            expired.push(a.id);
        }
        Ok(expired)
    }

    // ---- scenario plans --------------------------------------------------

    pub async fn scenario(&self, id: i64) -> StoreResult<Scenario> {
        let row = sqlx::query("SELECT * FROM scenarios WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("scenario plan {id}")))?;
        scenario_from_row(&row)
    }

    /// A scenario plan, if the scope sees its agreement.
    pub async fn scenario_in(&self, scope: AgreementScope, id: i64) -> StoreResult<Scenario> {
        let s = self.scenario(id).await?;
        if scope.sees(s.operator_org_id) {
            Ok(s)
        } else {
            Err(DomainError::not_found(format!("scenario plan {id}")).into())
        }
    }

    /// The scenario plans of an agreement, oldest first.
    pub async fn scenarios(&self, agreement_id: i64) -> StoreResult<Vec<Scenario>> {
        let rows = sqlx::query("SELECT * FROM scenarios WHERE agreement_id = $1 ORDER BY id")
            .bind(agreement_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(scenario_from_row).collect()
    }

    /// The operator submits a scenario plan on its filed or active
    /// agreement: the data within the agreement's scope (`Forbidden`
    /// beyond it), fields and filters matching the schemas, one open or
    /// approved plan per scenario ("一场景一方案一评审").
    pub async fn submit_scenario(
        &self,
        p: &Principal,
        agreement_id: i64,
        plan: ScenarioPlan,
        now_ms: i64,
    ) -> StoreResult<Scenario> {
        let a = self
            .agreement(AgreementScope::of(p), agreement_id, now_ms)
            .await?;
        check_submission(a.state, a.operator_org_id, p.org_id)?;
        plan.check_within(&a.content.scope)?;
        let schemas = self
            .operable_schemas("data", plan.data.iter().map(|g| &g.resource))
            .await?;
        plan.check_schemas(|c| schemas.get(c))?;
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, agreement_id, a.recorded_state).await?;
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM scenarios WHERE agreement_id = $1 AND name = $2 \
             AND state IN ('submitted', 'approved')",
        )
        .bind(agreement_id)
        .bind(plan.name.as_str())
        .fetch_one(tx.conn())
        .await?
        .try_get("n")?;
        if open > 0 {
            return Err(DomainError::conflict(format!(
                "scenario '{}' already has a plan under review or approved",
                plan.name
            ))
            .into());
        }
        let id: i64 = sqlx::query(
            "INSERT INTO scenarios (agreement_id, operator_org_id, name, state, plan, submitted_by, submitted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(agreement_id)
        .bind(a.operator_org_id)
        .bind(plan.name.as_str())
        .bind(ScenarioState::Submitted.as_str())
        .bind(to_json(&plan)?)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        record_step(
            &mut tx,
            StepObject::Scenario,
            id,
            "submit",
            "",
            ScenarioState::Submitted.as_str(),
            Some(p.user_id),
            "",
        )
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "scenario.submit",
            format!("scenario:{id}"),
            json!({"agreement": agreement_id, "name": plan.name, "purpose": plan.purpose,
                   "resources": plan.data.iter().map(|g| &g.resource).collect::<Vec<_>>()}),
        ));
        tx.commit().await?;
        self.scenario(id).await
    }

    /// Review a scenario plan (approve; reject or revoke with reasons) or
    /// withdraw it (its operator). Approval only on an agreement active
    /// now.
    pub async fn scenario_step(
        &self,
        p: &Principal,
        id: i64,
        action: ScenarioAction,
        note: &str,
        now_ms: i64,
    ) -> StoreResult<Scenario> {
        let sc = self.scenario_in(AgreementScope::of(p), id).await?;
        require_role(
            p,
            action.actors(),
            &format!("{} scenario plans", action.as_str()),
        )?;
        if action == ScenarioAction::Withdraw && p.org_id != sc.operator_org_id {
            return Err(
                DomainError::forbidden("only the operator withdraws its scenario plan").into(),
            );
        }
        let note = if action.needs_reason() {
            reason(note)?
        } else {
            policy::check_note(note)?
        };
        let a = self
            .agreement(AgreementScope::All, sc.agreement_id, now_ms)
            .await?;
        let next = sc.state.apply(action, a.state)?;
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, a.id, a.recorded_state).await?;
        let done = sqlx::query(
            "UPDATE scenarios SET state = $1, decided_by = $2, decided_at = $3, reason = $4 \
             WHERE id = $5 AND state = $6",
        )
        .bind(next.as_str())
        .bind(p.user_id)
        .bind(now_ms)
        .bind(&note)
        .bind(id)
        .bind(sc.state.as_str())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(changed_meanwhile("scenario plan").into());
        }
        record_step(
            &mut tx,
            StepObject::Scenario,
            id,
            action.as_str(),
            sc.state.as_str(),
            next.as_str(),
            Some(p.user_id),
            &note,
        )
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("scenario.{}", action.as_str()),
            format!("scenario:{id}"),
            json!({"agreement": a.id, "from": sc.state, "to": next, "note": note}),
        ));
        tx.commit().await?;
        self.scenario(id).await
    }

    // ---- the access decision -------------------------------------------

    /// What [`decide`] needs to know of an agreement, as stored now.
    pub async fn agreement_view(&self, id: i64) -> StoreResult<AgreementView> {
        let a = self.agreement(AgreementScope::All, id, 0).await?;
        let scenarios = self
            .scenarios(id)
            .await?
            .iter()
            .map(|s| ScenarioView::of(s.id, s.state, &s.plan))
            .collect();
        Ok(AgreementView {
            agreement_id: a.id,
            operator_org_id: a.operator_org_id,
            state: a.recorded_state,
            term: a.content.term,
            scope: a.content.scope.clone(),
            scenarios,
        })
    }

    /// The agreements of an operator as [`decide`] sees them.
    pub async fn agreement_views(&self, operator_org_id: i64) -> StoreResult<Vec<AgreementView>> {
        let rows = sqlx::query(
            "SELECT id FROM agreements WHERE operator_org_id = $1 AND state <> 'drafted' \
             AND state <> 'cancelled' ORDER BY id",
        )
        .bind(operator_org_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.agreement_view(row.try_get("id")?).await?);
        }
        Ok(out)
    }

    /// The one access decision (B3, B6): may the caller's organisation use
    /// `request.resource` (and `request.field`) for the purpose, in the
    /// approved scenario named, at `now_ms`? The organisation is always
    /// the caller's (`request.org_id` is ignored). With a scenario, its
    /// agreement decides — another organisation's agreement denies
    /// `not_operator` (no sharing or sub-licensing); without, every
    /// agreement of the organisation is asked and an allowance wins, else
    /// the most telling denial. A resource put on the negative list since
    /// is denied. Nothing is cached: a suspension, termination, exit or
    /// expiry denies from the next call on.
    pub async fn authorize(
        &self,
        p: &Principal,
        request: AccessRequest,
        now_ms: i64,
    ) -> StoreResult<Decision> {
        let request = AccessRequest {
            org_id: p.org_id,
            ..request
        };
        let views = match request.scenario_id {
            Some(sid) => match self.scenario(sid).await {
                Ok(s) => vec![self.agreement_view(s.agreement_id).await?],
                Err(e) if e.is_not_found() => {
                    return Ok(deny(
                        DenyReason::ScenarioNotApproved,
                        format!("there is no scenario plan {sid}"),
                    ));
                }
                Err(e) => return Err(e),
            },
            None => self.agreement_views(p.org_id).await?,
        };
        let mut best: Option<Decision> = None;
        for v in &views {
            let d = decide(v, &request, now_ms);
            let better = match (&best, &d) {
                (_, Decision::Allow(_)) => true,
                (None, _) => true,
                (Some(Decision::Allow(_)), _) => false,
                (Some(Decision::Deny(b)), Decision::Deny(n)) => {
                    progress(n.reason) > progress(b.reason)
                }
            };
            if better {
                let allowed = d.is_allowed();
                best = Some(d);
                if allowed {
                    break;
                }
            }
        }
        let Some(decision) = best else {
            return Ok(deny(
                DenyReason::ResourceNotInScope,
                format!(
                    "no operating agreement of your organisation grants {}",
                    request.resource
                ),
            ));
        };
        if decision.is_allowed() && self.negative_codes().await?.contains(&request.resource) {
            return Ok(deny(
                DenyReason::ResourceNotInScope,
                format!(
                    "{} is now on the negative list (负面清单)",
                    request.resource
                ),
            ));
        }
        Ok(decision)
    }
}

async fn insert_agreement(
    tx: &mut Tx,
    sel: &super::selections::Selection,
    operator_org_id: i64,
    renewal_of: Option<i64>,
    content: &AgreementContent,
    user_id: i64,
) -> StoreResult<i64> {
    let now = tx.now_ms();
    Ok(sqlx::query(
        "INSERT INTO agreements (selection_id, plan_id, operator_org_id, renewal_of, state, content, term_end, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(sel.id)
    .bind(sel.plan_id)
    .bind(operator_org_id)
    .bind(renewal_of)
    .bind(AgreementState::Drafted.as_str())
    .bind(to_json(content)?)
    .bind(content.term.end.to_string())
    .bind(user_id)
    .bind(now)
    .fetch_one(tx.conn())
    .await?
    .try_get("id")?)
}

/// Records a step taken by `actor` (`None`: the platform itself): the
/// compare-and-set on the recorded state, the timestamps it sets, the step
/// row and, for an exit, its record.
async fn transition(
    tx: &mut Tx,
    a: &Agreement,
    action: AgreementAction,
    next: AgreementState,
    note: &str,
    filing_due_at: i64,
    actor: Option<&Principal>,
) -> StoreResult<()> {
    let now = tx.now_ms();
    let ends = matches!(
        next,
        AgreementState::Expired
            | AgreementState::Terminated
            | AgreementState::Exited
            | AgreementState::Cancelled
    );
    let done = sqlx::query(
        "UPDATE agreements SET state = $1, updated_at = $2, \
         signed_at = CASE WHEN $3 = 1 THEN $2 ELSE signed_at END, \
         filing_due_at = CASE WHEN $3 = 1 THEN $4 ELSE filing_due_at END, \
         filed_at = CASE WHEN $5 = 1 THEN $2 ELSE filed_at END, \
         filing_reference = CASE WHEN $5 = 1 THEN $6 ELSE filing_reference END, \
         activated_at = CASE WHEN $7 = 1 AND activated_at IS NULL THEN $2 ELSE activated_at END, \
         ended_at = CASE WHEN $8 = 1 THEN $2 ELSE ended_at END \
         WHERE id = $9 AND state = $10",
    )
    .bind(next.as_str())
    .bind(now)
    .bind(i64::from(action == AgreementAction::Sign))
    .bind(filing_due_at)
    .bind(i64::from(action == AgreementAction::File))
    .bind(note)
    .bind(i64::from(action == AgreementAction::Activate))
    .bind(i64::from(ends))
    .bind(a.id)
    .bind(a.recorded_state.as_str())
    .execute(tx.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Err(changed_meanwhile("agreement").into());
    }
    record_step(
        tx,
        StepObject::Agreement,
        a.id,
        action.as_str(),
        a.recorded_state.as_str(),
        next.as_str(),
        actor.map(|p| p.user_id),
        note,
    )
    .await?;
    if let Some(cause) = ExitCause::of(next) {
        let ledger_actor = actor.map_or_else(|| "system".to_string(), Principal::actor);
        super::exits::open_exit(tx, a.id, cause, &ledger_actor).await?;
    }
    Ok(())
}
