//! Correction tickets and objections (A6) as stored: each ticket with its
//! state and the department's deadline, each step with its note, all in
//! the ledger. Deadlines are computed by the caller (from the working-day
//! calendar) and passed in; a step is a compare-and-set on the state, so
//! two concurrent steps on one ticket cannot both succeed.

use serde::{Deserialize, Serialize};
use serde_json::json;
use shuyun_domain::tickets::{Outcome, Party, TicketAction, TicketKind, TicketState};
use shuyun_domain::{DomainError, Permission, policy};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::Principal;
use crate::catalogue::CatalogueView;
use crate::ledger::LedgerEvent;
use crate::{Store, StoreResult};

/// A new ticket on a resource.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub kind: TicketKind,
    /// The data version concerned (default: the current one).
    #[serde(default)]
    pub data_version: Option<i64>,
    /// The field concerned, if one.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub field: Option<String>,
    /// Which records: row numbers or key values, as the raiser knows them.
    #[schemars(length(min = 1, max = 2000))]
    pub records: String,
    /// What is wrong and what it should be, with the evidence.
    #[schemars(length(min = 4, max = 4000))]
    pub description: String,
}

/// One step on a ticket.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TicketStep {
    pub action: TicketAction,
    pub from_state: TicketState,
    pub to_state: TicketState,
    pub actor: i64,
    pub note: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Ticket {
    pub id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_name: String,
    pub data_version: Option<i64>,
    pub kind: TicketKind,
    pub state: TicketState,
    pub field: Option<String>,
    pub records: String,
    pub description: String,
    pub raised_by: i64,
    pub raiser_org_id: i64,
    pub raiser_org_name: String,
    pub owner_org_id: i64,
    pub owner_org_name: String,
    pub outcome: Option<Outcome>,
    pub answer: String,
    pub disputes: i64,
    /// End of the last working day for the department's answer (epoch ms).
    pub due_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which tickets to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketScope {
    /// Everything (data authority, institution, regulator).
    All,
    /// Tickets raised by, or addressed to, one organisation.
    Org(i64),
}

impl TicketScope {
    pub fn of(p: &Principal) -> Self {
        if p.allows(Permission::CatalogueRead) {
            TicketScope::All
        } else {
            TicketScope::Org(p.org_id)
        }
    }
}

const TICKET_SELECT: &str = "SELECT t.*, r.code AS resource_code, r.name AS resource_name, \
     ro.name AS raiser_org_name, oo.name AS owner_org_name FROM tickets t \
     JOIN resources r ON r.id = t.resource_id \
     JOIN orgs ro ON ro.id = t.raiser_org_id JOIN orgs oo ON oo.id = t.owner_org_id";

fn ticket_from_row(row: &AnyRow) -> StoreResult<Ticket> {
    let outcome: Option<String> = row.try_get("outcome")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        resource_id: row.try_get("resource_id")?,
        resource_code: row.try_get("resource_code")?,
        resource_name: row.try_get("resource_name")?,
        data_version: row.try_get("data_version")?,
        kind: TicketKind::parse(&row.try_get::<String, _>("kind")?)
            .map_err(|e| DomainError::internal(e.message))?,
        state: TicketState::parse(&row.try_get::<String, _>("state")?)?,
        field: row.try_get("field")?,
        records: row.try_get("records")?,
        description: row.try_get("description")?,
        raised_by: row.try_get("raised_by")?,
        raiser_org_id: row.try_get("raiser_org_id")?,
        raiser_org_name: row.try_get("raiser_org_name")?,
        owner_org_id: row.try_get("owner_org_id")?,
        owner_org_name: row.try_get("owner_org_name")?,
        outcome: outcome
            .map(|o| Outcome::parse(&o).map_err(|e| DomainError::internal(e.message)))
            .transpose()?,
        answer: row.try_get("answer")?,
        disputes: row.try_get("disputes")?,
        due_at: row.try_get("due_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn check_len(field: &str, v: &str, min: usize, max: usize) -> Result<(), DomainError> {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("{field} must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

impl Store {
    /// Raise a ticket on a resource the caller can see; the owning
    /// department must answer by `due_at`.
    pub async fn raise_ticket(
        &self,
        p: &Principal,
        resource_id: i64,
        new: NewTicket,
        due_at: i64,
        now_ms: i64,
    ) -> StoreResult<Ticket> {
        let r = self
            .resource(resource_id, CatalogueView::of(Some(p)))
            .await?;
        if r.owner_org_id == p.org_id {
            return Err(DomainError::conflict(
                "the owning department corrects its own data by loading a new version",
            )
            .into());
        }
        check_len("records", &new.records, 1, 2000)?;
        check_len("description", &new.description, 4, 4000)?;
        if let Some(f) = &new.field {
            let g = self.current_grading(resource_id).await?;
            if g.is_none_or(|g| g.schema.field(f).is_none()) {
                return Err(DomainError::invalid(
                    "field",
                    format!("no field '{f}' in the resource"),
                )
                .into());
            }
        }
        let data_version = match new.data_version {
            Some(v) => Some(self.data_version(resource_id, v).await?.version),
            None => self.current_data(resource_id).await?.map(|v| v.version),
        };
        let mut tx = self.begin(now_ms).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO tickets (resource_id, data_version, kind, state, field, records, description, raised_by, raiser_org_id, owner_org_id, due_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(resource_id)
        .bind(data_version)
        .bind(new.kind.as_str())
        .bind(TicketState::Open.as_str())
        .bind(&new.field)
        .bind(new.records.trim())
        .bind(new.description.trim())
        .bind(p.user_id)
        .bind(p.org_id)
        .bind(r.owner_org_id)
        .bind(due_at)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "ticket.raise",
            format!("ticket:{id}"),
            json!({"resource": resource_id, "kind": new.kind, "data_version": data_version, "due_at": due_at}),
        ));
        tx.commit().await?;
        self.ticket(p, id).await
    }

    /// One ticket, if the caller may see it (raiser's or owner's
    /// organisation, or a whole-catalogue reader).
    pub async fn ticket(&self, p: &Principal, id: i64) -> StoreResult<Ticket> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TICKET_SELECT} WHERE t.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let t = row.as_ref().map(ticket_from_row).transpose()?;
        match t {
            Some(t)
                if TicketScope::of(p) == TicketScope::All
                    || p.org_id == t.raiser_org_id
                    || p.org_id == t.owner_org_id =>
            {
                Ok(t)
            }
            _ => Err(DomainError::not_found(format!("ticket {id}")).into()),
        }
    }

    /// Tickets in scope, optionally of one resource, newest first.
    pub async fn tickets(
        &self,
        scope: TicketScope,
        resource_id: Option<i64>,
    ) -> StoreResult<Vec<Ticket>> {
        let (org, all) = match scope {
            TicketScope::All => (0, 1),
            TicketScope::Org(o) => (o, 0),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TICKET_SELECT} WHERE ($1 = 1 OR t.raiser_org_id = $2 OR t.owner_org_id = $2) \
             AND ($3 = 0 OR t.resource_id = $3) ORDER BY t.id DESC LIMIT 500"
        )))
        .bind(all)
        .bind(org)
        .bind(resource_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    pub async fn ticket_steps(&self, ticket_id: i64) -> StoreResult<Vec<TicketStep>> {
        let rows = sqlx::query("SELECT * FROM ticket_steps WHERE ticket_id = $1 ORDER BY id")
            .bind(ticket_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TicketStep {
                    action: TicketAction::parse(&row.try_get::<String, _>("action")?)
                        .map_err(|e| DomainError::internal(e.message))?,
                    from_state: TicketState::parse(&row.try_get::<String, _>("from_state")?)?,
                    to_state: TicketState::parse(&row.try_get::<String, _>("to_state")?)?,
                    actor: row.try_get("actor")?,
                    note: row.try_get("note")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    /// Take a step on a ticket. An answer needs an outcome and a note; a
    /// dispute needs a note and `new_due_at`, the restarted deadline.
    #[allow(clippy::too_many_arguments)]
    pub async fn ticket_step(
        &self,
        p: &Principal,
        id: i64,
        action: TicketAction,
        outcome: Option<Outcome>,
        note: &str,
        new_due_at: i64,
        now_ms: i64,
    ) -> StoreResult<Ticket> {
        let t = self.ticket(p, id).await?;
        let party = if p.org_id == t.owner_org_id {
            Party::Owner
        } else if p.org_id == t.raiser_org_id {
            Party::Raiser
        } else {
            return Err(DomainError::forbidden(
                "only the owning department and the raiser take steps on a ticket",
            )
            .into());
        };
        let next = t.state.apply(action, party, t.disputes)?;
        policy::check_note(note)?;
        let outcome = match action {
            TicketAction::Answer => {
                let o = outcome.ok_or_else(|| {
                    DomainError::invalid(
                        "outcome",
                        "an answer says whether the data was corrected or the ticket is unfounded",
                    )
                })?;
                if note.trim().chars().count() < 4 {
                    return Err(DomainError::invalid(
                        "note",
                        "an answer explains the finding (at least 4 characters)",
                    )
                    .into());
                }
                Some(o)
            }
            _ if outcome.is_some() => {
                return Err(
                    DomainError::invalid("outcome", "only an answer has an outcome").into(),
                );
            }
            TicketAction::Dispute if note.trim().chars().count() < 4 => {
                return Err(DomainError::invalid(
                    "note",
                    "a dispute gives its reasons (at least 4 characters)",
                )
                .into());
            }
            _ => t.outcome,
        };
        let due_at = if action.restarts_clock() {
            new_due_at
        } else {
            t.due_at
        };
        let answer = if action == TicketAction::Answer {
            note.trim().to_string()
        } else {
            t.answer.clone()
        };
        let disputes = t.disputes + i64::from(action == TicketAction::Dispute);
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE tickets SET state = $1, outcome = $2, answer = $3, disputes = $4, due_at = $5, updated_at = $6 \
             WHERE id = $7 AND state = $8",
        )
        .bind(next.as_str())
        .bind(outcome.map(Outcome::as_str))
        .bind(&answer)
        .bind(disputes)
        .bind(due_at)
        .bind(now_ms)
        .bind(id)
        .bind(t.state.as_str())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(DomainError::conflict(
                "the ticket changed meanwhile; reload and try again",
            )
            .into());
        }
        sqlx::query(
            "INSERT INTO ticket_steps (ticket_id, action, from_state, to_state, actor, note, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(action.as_str())
        .bind(t.state.as_str())
        .bind(next.as_str())
        .bind(p.user_id)
        .bind(note.trim())
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("ticket.{}", action.as_str()),
            format!("ticket:{id}"),
            json!({"from": t.state, "to": next, "outcome": outcome, "due_at": due_at}),
        ));
        tx.commit().await?;
        self.ticket(p, id).await
    }
}
