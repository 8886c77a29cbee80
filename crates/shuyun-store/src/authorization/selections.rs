//! Operator selections (运营机构遴选, B2) as stored: the announcement under
//! an approved plan, applications with their materials, the review panel
//! and its scores (a reviewer never scores their own organisation), the
//! ranking published for public notice with objections and answers, and
//! the award. The domain decides every step ([`SelectionState::apply`]
//! with the facts counted here); a step first claims the selection's row
//! (`UPDATE … WHERE state = $old`), so scores, applications, objections and
//! steps on one selection are serialised and exclusive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use shuyun_domain::authorization::plan::PlanMode;
use shuyun_domain::authorization::selection::{
    Application, ObjectionState, Ranked, Reviewer, Score, SelectionFacts, check_objection,
    check_score, rank,
};
use shuyun_domain::authorization::{SelectionAction, SelectionSpec, SelectionState, reason};
use shuyun_domain::{DomainError, OrgKind, Permission, Role, calendar::Date, policy};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StepObject, changed_meanwhile, from_json, record_step, require_role, to_json};
use crate::accounts::Principal;
use crate::ledger::LedgerEvent;
use crate::tx::Tx;
use crate::{Store, StoreResult};

/// Longest application materials, in characters.
pub const MAX_MATERIALS_CHARS: usize = 20_000;

/// A selection as announced, with its published result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Selection {
    pub id: i64,
    /// The implementation plan version it implements.
    pub plan_id: i64,
    pub spec: SelectionSpec,
    pub state: SelectionState,
    pub opened_by: i64,
    pub opened_at: i64,
    /// Applications received.
    pub applications: i64,
    /// The ranking published for public notice (结果公示), kept after the
    /// award.
    pub ranking: Option<Vec<RankedApplicant>>,
    /// When the public notice ends (end of its last working day).
    pub notice_ends_at: Option<i64>,
    pub awarded_application_id: Option<i64>,
    /// The operator chosen.
    pub awarded_org_id: Option<i64>,
    pub updated_at: i64,
}

/// A place in the ranking, with the applicant's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RankedApplicant {
    pub rank: u32,
    pub application_id: i64,
    pub org_id: i64,
    pub org_name: String,
    /// Mean of the reviewers' totals in hundredths of a point (of 10000).
    pub mean_centipoints: u32,
    pub reviewers: u32,
}

/// An application (应选材料) as stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SelectionApplication {
    pub id: i64,
    pub selection_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub submitted_by: i64,
    pub submitted_at: i64,
    pub materials: String,
    /// Passed the qualification check (资格审查); only these are scored.
    pub qualified: bool,
    pub qualification_note: String,
}

/// A member of the review panel (评审专家).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PanelMember {
    pub user_id: i64,
    pub org_id: i64,
    pub display_name: String,
    pub added_at: i64,
}

/// An objection to a published result (异议) and its answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Objection {
    pub id: i64,
    pub selection_id: i64,
    pub raised_by: i64,
    pub org_id: i64,
    pub text: String,
    pub state: ObjectionState,
    pub raised_at: i64,
    pub answer: String,
    pub answered_by: Option<i64>,
    pub answered_at: Option<i64>,
}

/// What a caller sees of a selection: the announcement and result for
/// everyone; the applications and scores for the implementing institution,
/// the other readers of the whole lifecycle and the panel; an applicant its
/// own application; objections for their raisers and the managers.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SelectionDetail {
    #[serde(flatten)]
    pub selection: Selection,
    pub applications: Vec<SelectionApplication>,
    pub panel: Vec<PanelMember>,
    pub scores: Vec<Score>,
    /// While reviewing, the ranking the scores give so far, once complete
    /// (managers and panel only).
    pub provisional_ranking: Option<Vec<RankedApplicant>>,
    pub objections: Vec<Objection>,
    pub steps: Vec<super::Step>,
}

fn selection_from_row(row: &AnyRow) -> StoreResult<Selection> {
    let ranking: Option<String> = row.try_get("ranking")?;
    Ok(Selection {
        id: row.try_get("id")?,
        plan_id: row.try_get("plan_id")?,
        spec: from_json(&row.try_get::<String, _>("spec")?, "selection spec")?,
        state: SelectionState::parse(&row.try_get::<String, _>("state")?)?,
        opened_by: row.try_get("opened_by")?,
        opened_at: row.try_get("opened_at")?,
        applications: row.try_get("applications")?,
        ranking: ranking.map(|r| from_json(&r, "ranking")).transpose()?,
        notice_ends_at: row.try_get("notice_ends_at")?,
        awarded_application_id: row.try_get("awarded_application_id")?,
        awarded_org_id: row.try_get("awarded_org_id")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn application_from_row(row: &AnyRow) -> StoreResult<SelectionApplication> {
    Ok(SelectionApplication {
        id: row.try_get("id")?,
        selection_id: row.try_get("selection_id")?,
        org_id: row.try_get("org_id")?,
        org_name: row.try_get("org_name")?,
        submitted_by: row.try_get("submitted_by")?,
        submitted_at: row.try_get("submitted_at")?,
        materials: row.try_get("materials")?,
        qualified: row.try_get::<i64, _>("qualified")? != 0,
        qualification_note: row.try_get("qualification_note")?,
    })
}

fn objection_from_row(row: &AnyRow) -> StoreResult<Objection> {
    Ok(Objection {
        id: row.try_get("id")?,
        selection_id: row.try_get("selection_id")?,
        raised_by: row.try_get("raised_by")?,
        org_id: row.try_get("org_id")?,
        text: row.try_get("text")?,
        state: ObjectionState::parse(&row.try_get::<String, _>("state")?)?,
        raised_at: row.try_get("raised_at")?,
        answer: row.try_get("answer")?,
        answered_by: row.try_get("answered_by")?,
        answered_at: row.try_get("answered_at")?,
    })
}

const SELECTION_SELECT: &str = "SELECT s.*, \
     (SELECT COUNT(*) FROM selection_applications a WHERE a.selection_id = s.id) AS applications \
     FROM selections s";

const APPLICATION_SELECT: &str = "SELECT a.*, o.name AS org_name FROM selection_applications a \
     JOIN orgs o ON o.id = a.org_id";

/// Everything the review needs, read on one connection.
struct Review {
    applications: Vec<SelectionApplication>,
    panel: Vec<PanelMember>,
    scores: Vec<Score>,
}

impl Review {
    async fn load(conn: &mut AnyConnection, id: i64) -> StoreResult<Self> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{APPLICATION_SELECT} WHERE a.selection_id = $1 ORDER BY a.id"
        )))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let applications = rows
            .iter()
            .map(application_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT p.*, u.display_name FROM selection_reviewers p JOIN users u ON u.id = p.user_id \
             WHERE p.selection_id = $1 ORDER BY p.added_at, p.user_id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let panel = rows
            .iter()
            .map(|row| {
                Ok(PanelMember {
                    user_id: row.try_get("user_id")?,
                    org_id: row.try_get("org_id")?,
                    display_name: row.try_get("display_name")?,
                    added_at: row.try_get("added_at")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT * FROM selection_scores WHERE selection_id = $1 \
             ORDER BY application_id, reviewer_user_id, criterion",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let scores = rows
            .iter()
            .map(|row| {
                Ok(Score {
                    application_id: row.try_get("application_id")?,
                    reviewer_user_id: row.try_get("reviewer_user_id")?,
                    criterion: usize::try_from(row.try_get::<i64, _>("criterion")?)
                        .map_err(|e| DomainError::internal(e.to_string()))?,
                    centipoints: u32::try_from(row.try_get::<i64, _>("centipoints")?)
                        .map_err(|e| DomainError::internal(e.to_string()))?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self {
            applications,
            panel,
            scores,
        })
    }

    fn reviewers(&self) -> Vec<Reviewer> {
        self.panel
            .iter()
            .map(|m| Reviewer {
                user_id: m.user_id,
                org_id: m.org_id,
            })
            .collect()
    }

    fn domain_applications(&self) -> Vec<Application> {
        self.applications.iter().map(domain_application).collect()
    }

    /// The domain's ranking, with names.
    fn rank(&self, spec: &SelectionSpec) -> StoreResult<Vec<RankedApplicant>> {
        let names: BTreeMap<i64, &str> = self
            .applications
            .iter()
            .map(|a| (a.id, a.org_name.as_str()))
            .collect();
        let ranked = rank(
            spec,
            &self.domain_applications(),
            &self.reviewers(),
            &self.scores,
        )?;
        Ok(ranked
            .into_iter()
            .map(|r: Ranked| RankedApplicant {
                rank: r.rank,
                application_id: r.application_id,
                org_id: r.org_id,
                org_name: names
                    .get(&r.application_id)
                    .map(|n| (*n).to_string())
                    .unwrap_or_default(),
                mean_centipoints: r.mean_centipoints,
                reviewers: r.reviewers,
            })
            .collect())
    }
}

fn domain_application(a: &SelectionApplication) -> Application {
    Application {
        id: a.id,
        org_id: a.org_id,
        submitted_at_ms: a.submitted_at,
        qualified: a.qualified,
    }
}

fn managers() -> &'static [Role] {
    SelectionAction::Close.actors()
}

/// Claims a selection in `state` for this transaction (a compare-and-set
/// that only moves `updated_at`): whatever else wants to change it waits,
/// and finds the state it expects or fails.
async fn claim(tx: &mut Tx, id: i64, state: SelectionState) -> StoreResult<()> {
    let now = tx.now_ms();
    let done = sqlx::query("UPDATE selections SET updated_at = $1 WHERE id = $2 AND state = $3")
        .bind(now)
        .bind(id)
        .bind(state.as_str())
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(changed_meanwhile("selection").into())
    }
}

impl Store {
    /// Announce a selection (遴选公告) under an approved plan version. The
    /// application deadline must leave the time the method requires:
    /// `earliest_deadline_ms` is the caller's
    /// `spec.method.earliest_deadline_ms(calendar, now)`. A plan that
    /// authorizes by scenario selects per scenario ("一场景一方案一评审").
    pub async fn open_selection(
        &self,
        p: &Principal,
        plan_id: i64,
        spec: SelectionSpec,
        earliest_deadline_ms: i64,
        now_ms: i64,
    ) -> StoreResult<Selection> {
        let plan = self.plan(plan_id).await?;
        require_role(p, managers(), "run operator selections")?;
        if !plan.permits_selection() {
            return Err(DomainError::conflict(format!(
                "plan version {} is {}: operators are selected under an approved plan",
                plan.version,
                plan.state.as_str()
            ))
            .into());
        }
        if let PlanMode::ByScenario { scenarios } = &plan.content.authorization {
            match &spec.scenario {
                Some(s) if scenarios.contains(s) => {}
                Some(s) => {
                    return Err(DomainError::invalid(
                        "scenario",
                        format!("the plan does not name the scenario '{s}'"),
                    )
                    .into());
                }
                None => {
                    return Err(DomainError::invalid(
                        "scenario",
                        "the plan authorizes by scenario: name the scenario competed for",
                    )
                    .into());
                }
            }
        }
        if spec.application_deadline_ms < earliest_deadline_ms {
            return Err(DomainError::invalid(
                "application_deadline_ms",
                format!(
                    "a {} accepts applications until {} at the earliest",
                    spec.method.label_zh(),
                    Date::from_epoch_ms_beijing(earliest_deadline_ms)
                ),
            )
            .into());
        }
        for org_id in &spec.invited_org_ids {
            let org = self.org(*org_id).await.map_err(|e| {
                if e.is_not_found() {
                    DomainError::invalid(
                        "invited_org_ids",
                        format!("organisation {org_id} does not exist"),
                    )
                    .into()
                } else {
                    e
                }
            })?;
            if org.kind != OrgKind::Operator {
                return Err(DomainError::invalid(
                    "invited_org_ids",
                    format!("{} is not an operator", org.name),
                )
                .into());
            }
        }
        let mut tx = self.begin(now_ms).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO selections (plan_id, spec, state, application_deadline, opened_by, opened_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(plan_id)
        .bind(to_json(&spec)?)
        .bind(SelectionState::Announced.as_str())
        .bind(spec.application_deadline_ms)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        record_step(
            &mut tx,
            StepObject::Selection,
            id,
            "open",
            "",
            SelectionState::Announced.as_str(),
            Some(p.user_id),
            "",
        )
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.open",
            format!("selection:{id}"),
            json!({"plan": plan_id, "title": spec.title, "method": spec.method,
                   "scenario": spec.scenario, "criteria": spec.criteria,
                   "application_deadline": spec.application_deadline_ms}),
        ));
        tx.commit().await?;
        self.selection(id).await
    }

    pub async fn selection(&self, id: i64) -> StoreResult<Selection> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECTION_SELECT} WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("selection {id}")))?;
        selection_from_row(&row)
    }

    /// Every selection, newest first: announcements and results are public.
    pub async fn selections(&self) -> StoreResult<Vec<Selection>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECTION_SELECT} ORDER BY s.id DESC LIMIT 1000"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(selection_from_row).collect()
    }

    /// A selection as `p` may see it (see [`SelectionDetail`]).
    pub async fn selection_detail(&self, p: &Principal, id: i64) -> StoreResult<SelectionDetail> {
        let selection = self.selection(id).await?;
        let mut conn = self.pool.acquire().await?;
        let review = Review::load(&mut conn, id).await?;
        drop(conn);
        let manager = p.allows(Permission::AuthorizationRead);
        let on_panel = review.panel.iter().any(|m| m.user_id == p.user_id);
        let provisional_ranking =
            if (manager || on_panel) && selection.state == SelectionState::Reviewing {
                review.rank(&selection.spec).ok()
            } else {
                None
            };
        let Review {
            applications,
            panel,
            scores,
        } = review;
        let (applications, panel, scores) = if manager {
            (applications, panel, scores)
        } else if on_panel {
            let mine = scores
                .into_iter()
                .filter(|s| s.reviewer_user_id == p.user_id)
                .collect();
            (applications, panel, mine)
        } else {
            let own = applications
                .into_iter()
                .filter(|a| a.org_id == p.org_id)
                .collect();
            (own, Vec::new(), Vec::new())
        };
        let objections = self
            .objections(id)
            .await?
            .into_iter()
            .filter(|o| manager || o.org_id == p.org_id)
            .collect();
        let steps = if manager {
            self.authorization_steps(StepObject::Selection, id).await?
        } else {
            Vec::new()
        };
        Ok(SelectionDetail {
            selection,
            applications,
            panel,
            scores,
            provisional_ranking,
            objections,
            steps,
        })
    }

    pub async fn selection_application(&self, id: i64) -> StoreResult<SelectionApplication> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{APPLICATION_SELECT} WHERE a.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("application {id}")))?;
        application_from_row(&row)
    }

    /// Apply to an announced selection with one's materials (operators;
    /// once per organisation; an invited tender only when invited).
    pub async fn apply_selection(
        &self,
        p: &Principal,
        id: i64,
        materials: &str,
        now_ms: i64,
    ) -> StoreResult<SelectionApplication> {
        let sel = self.selection(id).await?;
        require_role(p, &[Role::Operator], "apply to operator selections")?;
        let materials = materials.trim();
        let n = materials.chars().count();
        if n == 0 || n > MAX_MATERIALS_CHARS {
            return Err(DomainError::invalid(
                "materials",
                format!("materials have 1 to {MAX_MATERIALS_CHARS} characters"),
            )
            .into());
        }
        let applied: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM selection_applications WHERE selection_id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(p.org_id)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        sel.spec
            .check_application(sel.state, p.org_id, applied > 0, now_ms)?;
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, id, SelectionState::Announced).await?;
        let app_id: i64 = sqlx::query(
            "INSERT INTO selection_applications (selection_id, org_id, submitted_by, submitted_at, materials) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(id)
        .bind(p.org_id)
        .bind(p.user_id)
        .bind(now_ms)
        .bind(materials)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.apply",
            format!("selection:{id}"),
            json!({"application": app_id, "org": p.org_id, "characters": n}),
        ));
        tx.commit().await?;
        self.selection_application(app_id).await
    }

    /// Put a user on the review panel (before the result is published).
    pub async fn add_reviewer(
        &self,
        p: &Principal,
        id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> StoreResult<Vec<PanelMember>> {
        let sel = self.selection(id).await?;
        require_role(p, managers(), "run operator selections")?;
        if !matches!(
            sel.state,
            SelectionState::Announced | SelectionState::Reviewing
        ) {
            return Err(DomainError::conflict(format!(
                "the selection is {}: the panel is fixed",
                sel.state.as_str()
            ))
            .into());
        }
        let user = self.user(user_id).await.map_err(|e| {
            if e.is_not_found() {
                DomainError::invalid("user_id", format!("user {user_id} does not exist")).into()
            } else {
                e
            }
        })?;
        if user.disabled {
            return Err(DomainError::invalid("user_id", "the user is disabled").into());
        }
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, id, sel.state).await?;
        let exists: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM selection_reviewers WHERE selection_id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .fetch_one(tx.conn())
        .await?
        .try_get("n")?;
        if exists > 0 {
            return Err(DomainError::conflict("the user is already on the panel").into());
        }
        sqlx::query(
            "INSERT INTO selection_reviewers (selection_id, user_id, org_id, added_by, added_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user_id)
        .bind(user.org_id)
        .bind(p.user_id)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.reviewer_add",
            format!("selection:{id}"),
            json!({"user": user_id, "org": user.org_id}),
        ));
        tx.commit().await?;
        let mut conn = self.pool.acquire().await?;
        Ok(Review::load(&mut conn, id).await?.panel)
    }

    /// The qualification check (资格审查) while reviewing: an application
    /// that fails it (with reasons) is not scored, and its scores go.
    pub async fn qualify_application(
        &self,
        p: &Principal,
        application_id: i64,
        qualified: bool,
        note: &str,
        now_ms: i64,
    ) -> StoreResult<SelectionApplication> {
        let app = self.selection_application(application_id).await?;
        require_role(p, managers(), "run operator selections")?;
        let sel = self.selection(app.selection_id).await?;
        if sel.state != SelectionState::Reviewing {
            return Err(DomainError::conflict(format!(
                "the selection is {}: qualification is checked while reviewing",
                sel.state.as_str()
            ))
            .into());
        }
        let note = if qualified {
            policy::check_note(note)?
        } else {
            reason(note)?
        };
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, sel.id, SelectionState::Reviewing).await?;
        sqlx::query(
            "UPDATE selection_applications SET qualified = $1, qualification_note = $2 WHERE id = $3",
        )
        .bind(i64::from(qualified))
        .bind(&note)
        .bind(application_id)
        .execute(tx.conn())
        .await?;
        if !qualified {
            sqlx::query("DELETE FROM selection_scores WHERE application_id = $1")
                .bind(application_id)
                .execute(tx.conn())
                .await?;
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.qualify",
            format!("selection:{}", sel.id),
            json!({"application": application_id, "qualified": qualified, "note": note}),
        ));
        tx.commit().await?;
        self.selection_application(application_id).await
    }

    /// A panel member scores one application on every criterion (in
    /// hundredths of a point, in the order of the criteria), replacing
    /// their earlier scores of it. Not one's own organisation's
    /// application (`Forbidden`).
    pub async fn score_application(
        &self,
        p: &Principal,
        id: i64,
        application_id: i64,
        centipoints: &[u32],
        now_ms: i64,
    ) -> StoreResult<Vec<Score>> {
        let sel = self.selection(id).await?;
        let app = self.selection_application(application_id).await?;
        if app.selection_id != id {
            return Err(DomainError::not_found(format!(
                "application {application_id} of selection {id}"
            ))
            .into());
        }
        let mut conn = self.pool.acquire().await?;
        let review = Review::load(&mut conn, id).await?;
        drop(conn);
        let reviewer = review
            .reviewers()
            .into_iter()
            .find(|r| r.user_id == p.user_id)
            .ok_or_else(|| {
                DomainError::forbidden("you are not on this selection's review panel")
            })?;
        if sel.state != SelectionState::Reviewing {
            return Err(DomainError::conflict(format!(
                "the selection is {}: scores are given while reviewing",
                sel.state.as_str()
            ))
            .into());
        }
        if centipoints.len() != sel.spec.criteria.len() {
            return Err(DomainError::invalid(
                "centipoints",
                format!(
                    "give one score per criterion: {}",
                    sel.spec
                        .criteria
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
        }
        let domain_app = domain_application(&app);
        for (i, v) in centipoints.iter().enumerate() {
            check_score(&sel.spec, &reviewer, &domain_app, i, *v)?;
        }
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, id, SelectionState::Reviewing).await?;
        sqlx::query(
            "DELETE FROM selection_scores WHERE application_id = $1 AND reviewer_user_id = $2",
        )
        .bind(application_id)
        .bind(p.user_id)
        .execute(tx.conn())
        .await?;
        for (i, v) in centipoints.iter().enumerate() {
            sqlx::query(
                "INSERT INTO selection_scores (selection_id, application_id, reviewer_user_id, criterion, centipoints, scored_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(application_id)
            .bind(p.user_id)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(i64::from(*v))
            .bind(now_ms)
            .execute(tx.conn())
            .await?;
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.score",
            format!("selection:{id}"),
            json!({"application": application_id, "centipoints": centipoints}),
        ));
        tx.commit().await?;
        let mut conn = self.pool.acquire().await?;
        Ok(Review::load(&mut conn, id)
            .await?
            .scores
            .into_iter()
            .filter(|s| s.application_id == application_id && s.reviewer_user_id == p.user_id)
            .collect())
    }

    /// The ranking the scores give now (`Conflict` while incomplete).
    pub async fn selection_ranking(&self, id: i64) -> StoreResult<Vec<RankedApplicant>> {
        let sel = self.selection(id).await?;
        let mut conn = self.pool.acquire().await?;
        Review::load(&mut conn, id).await?.rank(&sel.spec)
    }

    /// Take a step on a selection: close applications (after the
    /// deadline; too few applicants fail it), publish the ranking for
    /// public notice until `notice_ends_at` (the caller's
    /// `spec.notice_ends_ms(calendar, now)`), reopen the review after an
    /// upheld objection, award to the first ranked after the notice with
    /// every objection answered, fail or cancel (with reasons).
    pub async fn selection_step(
        &self,
        p: &Principal,
        id: i64,
        action: SelectionAction,
        note: &str,
        notice_ends_at: i64,
        now_ms: i64,
    ) -> StoreResult<Selection> {
        let sel = self.selection(id).await?;
        require_role(p, action.actors(), "run operator selections")?;
        let note = match action {
            SelectionAction::Reopen | SelectionAction::Fail | SelectionAction::Cancel => {
                reason(note)?
            }
            _ => policy::check_note(note)?,
        };
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, id, sel.state).await?;
        let review = Review::load(tx.conn(), id).await?;
        let open_objections: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM selection_objections WHERE selection_id = $1 AND state = 'raised'",
        )
        .bind(id)
        .fetch_one(tx.conn())
        .await?
        .try_get("n")?;
        let ranking = match action {
            SelectionAction::Publish => Some(review.rank(&sel.spec)?),
            _ => None,
        };
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let facts = SelectionFacts {
            now_ms,
            application_deadline_ms: sel.spec.application_deadline_ms,
            applications: count(review.applications.len()),
            min_applicants: sel.spec.min_applicants(),
            ranked: ranking.as_ref().map_or(0, |r| count(r.len())),
            notice_ends_ms: sel.notice_ends_at,
            open_objections: u32::try_from(open_objections).unwrap_or(u32::MAX),
        };
        let next = sel.state.apply(action, &facts)?;
        let (ranking_json, notice_end, awarded_app, awarded_org) = match action {
            SelectionAction::Publish => (
                ranking.as_ref().map(to_json).transpose()?,
                Some(notice_ends_at),
                None,
                None,
            ),
            SelectionAction::Reopen => (None, None, None, None),
            SelectionAction::Award => {
                let first = sel
                    .ranking
                    .as_ref()
                    .and_then(|r| r.first())
                    .ok_or_else(|| DomainError::internal("a published selection has no ranking"))?;
                (
                    sel.ranking.as_ref().map(to_json).transpose()?,
                    sel.notice_ends_at,
                    Some(first.application_id),
                    Some(first.org_id),
                )
            }
            _ => (
                sel.ranking.as_ref().map(to_json).transpose()?,
                sel.notice_ends_at,
                None,
                None,
            ),
        };
        let done = sqlx::query(
            "UPDATE selections SET state = $1, ranking = $2, notice_ends_at = $3, \
             awarded_application_id = $4, awarded_org_id = $5, updated_at = $6 \
             WHERE id = $7 AND state = $8",
        )
        .bind(next.as_str())
        .bind(ranking_json)
        .bind(notice_end)
        .bind(awarded_app)
        .bind(awarded_org)
        .bind(now_ms)
        .bind(id)
        .bind(sel.state.as_str())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(changed_meanwhile("selection").into());
        }
        record_step(
            &mut tx,
            StepObject::Selection,
            id,
            action.as_str(),
            sel.state.as_str(),
            next.as_str(),
            Some(p.user_id),
            &note,
        )
        .await?;
        let mut detail = json!({"from": sel.state, "to": next, "note": note});
        if let Some(r) = &ranking {
            detail["ranking"] = json!(r);
            detail["notice_ends_at"] = json!(notice_ends_at);
        }
        if let Some(org) = awarded_org {
            detail["awarded_org"] = json!(org);
            detail["awarded_application"] = json!(awarded_app);
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("selection.{}", action.as_str()),
            format!("selection:{id}"),
            detail,
        ));
        tx.commit().await?;
        self.selection(id).await
    }

    /// Objections to a selection, oldest first.
    pub async fn objections(&self, selection_id: i64) -> StoreResult<Vec<Objection>> {
        let rows =
            sqlx::query("SELECT * FROM selection_objections WHERE selection_id = $1 ORDER BY id")
                .bind(selection_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(objection_from_row).collect()
    }

    pub async fn objection(&self, id: i64) -> StoreResult<Objection> {
        let row = sqlx::query("SELECT * FROM selection_objections WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("objection {id}")))?;
        objection_from_row(&row)
    }

    /// Lodge an objection to the published result during the notice.
    pub async fn raise_objection(
        &self,
        p: &Principal,
        selection_id: i64,
        text: &str,
        now_ms: i64,
    ) -> StoreResult<Objection> {
        let sel = self.selection(selection_id).await?;
        check_objection(sel.state, sel.notice_ends_at.unwrap_or(i64::MIN), now_ms)?;
        let text = text.trim();
        let n = text.chars().count();
        if !(4..=2000).contains(&n) {
            return Err(DomainError::invalid(
                "text",
                "state the objection and its grounds (4 to 2000 characters)",
            )
            .into());
        }
        let mut tx = self.begin(now_ms).await?;
        claim(&mut tx, selection_id, SelectionState::PublicNotice).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO selection_objections (selection_id, raised_by, org_id, text, state, raised_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(selection_id)
        .bind(p.user_id)
        .bind(p.org_id)
        .bind(text)
        .bind(ObjectionState::Raised.as_str())
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.objection",
            format!("selection:{selection_id}"),
            json!({"objection": id, "org": p.org_id}),
        ));
        tx.commit().await?;
        self.objection(id).await
    }

    /// Answer an objection: upheld or dismissed, with the answer. An
    /// upheld objection usually leads to reopening the review.
    pub async fn answer_objection(
        &self,
        p: &Principal,
        id: i64,
        upheld: bool,
        answer: &str,
        now_ms: i64,
    ) -> StoreResult<Objection> {
        let o = self.objection(id).await?;
        require_role(p, managers(), "run operator selections")?;
        let next = o.state.answer(upheld)?;
        let answer = reason(answer)
            .map_err(|_| DomainError::invalid("answer", "give the answer (1 to 500 characters)"))?;
        let mut tx = self.begin(now_ms).await?;
        let done = sqlx::query(
            "UPDATE selection_objections SET state = $1, answer = $2, answered_by = $3, answered_at = $4 \
             WHERE id = $5 AND state = $6",
        )
        .bind(next.as_str())
        .bind(&answer)
        .bind(p.user_id)
        .bind(now_ms)
        .bind(id)
        .bind(o.state.as_str())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(changed_meanwhile("objection").into());
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            "selection.objection_answer",
            format!("selection:{}", o.selection_id),
            json!({"objection": id, "upheld": upheld, "answer": answer}),
        ));
        tx.commit().await?;
        self.objection(id).await
    }
}
