//! The authorization lifecycle (授权运营, B1-B6, G6, G9) as stored: plan
//! versions (`plans`), operator selections (`selections`), operating
//! agreements with their scenario plans and the one access decision
//! [`Store::authorize`] (`agreements`), exits with handover, destruction
//! records and log retention (`exits`), the public disclosure
//! (`disclosure`), and the prohibitions of §15 (`prohibitions`).
//!
//! The rules are the domain's (`shuyun_domain::authorization`); this module
//! loads the facts they need, applies them, and writes the result. Every
//! step is one [`Tx`] with its ledger entry and a row in
//! `authorization_steps`; a step is a compare-and-set on the stored state
//! (`UPDATE … WHERE id = $n AND state = $old`), so two concurrent steps on
//! one object cannot both succeed. Content is stored as JSON and parsed back
//! through the validated domain types. Deadlines (filing, public notice) are
//! computed by the caller from the working-day calendar and passed in.

pub mod agreements;
pub mod disclosure;
pub mod exits;
pub mod plans;
pub mod prohibitions;
pub mod selections;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::de::DeserializeOwned;
use shuyun_domain::authorization::scope::check_not_excluded;
use shuyun_domain::catalogue::{ResourceCode, Schema};
use shuyun_domain::workflow::NegativeState;
use shuyun_domain::{DomainError, ErrorCode, Role};
use sqlx::Row;

use crate::accounts::Principal;
use crate::tx::Tx;
use crate::{Store, StoreResult};

/// One step taken on a plan, selection, agreement or scenario plan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Step {
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    /// The user who took it; none for the platform itself (expiry).
    pub actor: Option<i64>,
    pub note: String,
    pub at: i64,
}

/// The kinds of object whose steps are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepObject {
    Plan,
    Selection,
    Agreement,
    Scenario,
}

impl StepObject {
    pub fn as_str(self) -> &'static str {
        match self {
            StepObject::Plan => "plan",
            StepObject::Selection => "selection",
            StepObject::Agreement => "agreement",
            StepObject::Scenario => "scenario",
        }
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| DomainError::internal(e.to_string()).into())
}

pub(crate) fn from_json<T: DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s)
        .map_err(|e| DomainError::internal(format!("stored {what} unreadable: {e}")).into())
}

/// Refuses (`Forbidden`) a caller whose role does not take this step.
pub(crate) fn require_role(p: &Principal, actors: &[Role], what: &str) -> Result<(), DomainError> {
    if actors.contains(&p.role) {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!(
            "a {} does not {what}",
            p.role.as_str().replace('_', " ")
        )))
    }
}

/// The error of a compare-and-set that found the state changed.
pub(crate) fn changed_meanwhile(what: &str) -> DomainError {
    DomainError::new(
        ErrorCode::Conflict,
        format!("the {what} changed meanwhile; reload and try again"),
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_step(
    tx: &mut Tx,
    object: StepObject,
    id: i64,
    action: &str,
    from: &str,
    to: &str,
    actor: Option<i64>,
    note: &str,
) -> StoreResult<()> {
    let at = tx.now_ms();
    sqlx::query(
        "INSERT INTO authorization_steps (object_kind, object_id, action, from_state, to_state, actor, note, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(object.as_str())
    .bind(id)
    .bind(action)
    .bind(from)
    .bind(to)
    .bind(actor)
    .bind(note)
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

impl Store {
    /// The steps taken on an object, oldest first.
    pub async fn authorization_steps(&self, object: StepObject, id: i64) -> StoreResult<Vec<Step>> {
        let rows = sqlx::query(
            "SELECT * FROM authorization_steps WHERE object_kind = $1 AND object_id = $2 ORDER BY id",
        )
        .bind(object.as_str())
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Step {
                    action: row.try_get("action")?,
                    from_state: row.try_get("from_state")?,
                    to_state: row.try_get("to_state")?,
                    actor: row.try_get("actor")?,
                    note: row.try_get("note")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    /// The resources on the approved negative list (负面清单).
    pub async fn negative_codes(&self) -> StoreResult<BTreeSet<ResourceCode>> {
        Ok(self
            .negative_entries(&[NegativeState::Approved])
            .await?
            .into_iter()
            .filter_map(|e| e.resource_code.parse().ok())
            .collect())
    }

    /// Checks that resources may enter authorized operation: none on the
    /// negative list, each in the catalogue and operable (graded, shared
    /// data consented). Returns the current schema of each. `Validation`
    /// naming `field` otherwise.
    pub async fn operable_schemas<'a>(
        &self,
        field: &str,
        codes: impl IntoIterator<Item = &'a ResourceCode>,
    ) -> StoreResult<BTreeMap<ResourceCode, Schema>> {
        let codes: Vec<&ResourceCode> = codes.into_iter().collect();
        let excluded = self.negative_codes().await?;
        check_not_excluded(codes.iter().copied(), &excluded).map_err(|e| DomainError {
            field: Some(field.to_string()),
            ..e
        })?;
        let mut out = BTreeMap::new();
        for code in codes {
            let id = match self.resource_id_by_code(code.as_str()).await {
                Ok(id) => id,
                Err(e) if e.is_not_found() => {
                    return Err(DomainError::invalid(
                        field,
                        format!("{code} is not in the catalogue"),
                    )
                    .into());
                }
                Err(e) => return Err(e),
            };
            if let Err(reason) = self.operable(id).await? {
                return Err(DomainError::invalid(field, format!("{code}: {reason}")).into());
            }
            let grading = self.current_grading(id).await?.ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!("{code}: the resource has no confirmed grading"),
                )
            })?;
            out.insert(code.clone(), grading.schema);
        }
        Ok(out)
    }
}
