//! Operator selection (运营机构遴选, B2) by fair competition (公开招标,
//! 邀请招标, 谈判): the announcement with its criteria, applications, a
//! scored review, the public notice of the result (结果公示) with
//! objections, and the award — or a failed (流标) or cancelled selection.
//!
//! Scoring is the comprehensive-score method (综合评分法): each criterion
//! has a weight, which is also its maximum points; the weights sum to 100.
//! Reviewers score in hundredths of a point, so all arithmetic is exact
//! integers.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{ScenarioName, illegal, text};
use crate::access::Role;
use crate::calendar::{Date, WorkCalendar};
use crate::error::{DomainError, DomainResult, ErrorCode};

/// How the operator is selected (Jiangxi measures §10).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMethod {
    /// 公开招标: anyone may apply.
    OpenTender,
    /// 邀请招标: only invited organisations (at least three) may apply.
    InvitedTender,
    /// 竞争性谈判 / 竞争性磋商: negotiation with the applicants.
    Negotiation,
}

impl SelectionMethod {
    pub const ALL: [SelectionMethod; 3] = [
        SelectionMethod::OpenTender,
        SelectionMethod::InvitedTender,
        SelectionMethod::Negotiation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SelectionMethod::OpenTender => "open_tender",
            SelectionMethod::InvitedTender => "invited_tender",
            SelectionMethod::Negotiation => "negotiation",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "method",
                    format!(
                        "unknown selection method '{s}': open_tender, invited_tender or negotiation"
                    ),
                )
            })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SelectionMethod::OpenTender => "公开招标",
            SelectionMethod::InvitedTender => "邀请招标",
            SelectionMethod::Negotiation => "竞争性谈判",
        }
    }

    /// The default least number of applicants below which the selection
    /// fails (流标): three for a tender (招标投标法 §28), two for a
    /// negotiation.
    pub fn default_min_applicants(self) -> u32 {
        match self {
            SelectionMethod::OpenTender | SelectionMethod::InvitedTender => 3,
            SelectionMethod::Negotiation => 2,
        }
    }

    /// The earliest application deadline for an announcement at
    /// `announced_at_ms`: 20 days for a tender (招标投标法 §24), 3 working
    /// days for a negotiation. The start of that day, Beijing time.
    pub fn earliest_deadline_ms(self, calendar: &WorkCalendar, announced_at_ms: i64) -> i64 {
        let day = Date::from_epoch_ms_beijing(announced_at_ms);
        match self {
            SelectionMethod::OpenTender | SelectionMethod::InvitedTender => day.add_days(20),
            SelectionMethod::Negotiation => calendar.add_working_days(day, 3),
        }
        .start_epoch_ms_beijing()
    }
}

/// One review criterion (评审标准).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// E.g. 技术方案, 运营能力, 安全保障, 信用状况: 1–100 characters.
    pub name: String,
    /// Weight, which is the criterion's maximum points: 1 to 100; the
    /// weights of a selection sum to 100.
    #[schemars(range(min = 1, max = 100))]
    pub weight: u32,
}

/// The wire form of [`SelectionSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SelectionSpec")]
pub struct SelectionSpecInput {
    /// 1–100 characters.
    pub title: String,
    pub method: SelectionMethod,
    /// The scenario competed for, when entry is "one scenario, one plan,
    /// one review" (一场景一方案一评审).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioName>,
    /// 1 to 20 criteria, unique names, weights summing to 100.
    pub criteria: Vec<Criterion>,
    /// Applications are accepted until this instant, inclusive.
    pub application_deadline_ms: i64,
    /// Length of the public notice of the result (公示期), 1 to 20 working
    /// days (default 5).
    #[serde(default = "default_notice_days")]
    pub notice_working_days: u32,
    /// Fewer applicants than this and the selection fails; default by
    /// method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_applicants: Option<u32>,
    /// For an invited tender: the organisations invited (at least three);
    /// empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub invited_org_ids: BTreeSet<i64>,
}

fn default_notice_days() -> u32 {
    5
}

/// A checked selection announcement (遴选公告).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionSpec(SelectionSpecInput);
validated!(SelectionSpec, SelectionSpecInput);

impl SelectionSpec {
    pub fn new(mut i: SelectionSpecInput) -> DomainResult<Self> {
        i.title = text("title", &i.title, 1, 100)?;
        if i.criteria.is_empty() || i.criteria.len() > 20 {
            return Err(DomainError::invalid("criteria", "1 to 20 criteria"));
        }
        let mut names = BTreeSet::new();
        let mut sum = 0_u32;
        for c in &mut i.criteria {
            c.name = text("criteria", &c.name, 1, 100)?;
            if !names.insert(c.name.clone()) {
                return Err(DomainError::invalid(
                    "criteria",
                    format!("criterion '{}' appears twice", c.name),
                ));
            }
            if !(1..=100).contains(&c.weight) {
                return Err(DomainError::invalid(
                    "criteria",
                    format!("criterion '{}': a weight is 1 to 100", c.name),
                ));
            }
            sum += c.weight;
        }
        if sum != 100 {
            return Err(DomainError::invalid(
                "criteria",
                format!("the weights sum to {sum}, not 100"),
            ));
        }
        if !(1..=20).contains(&i.notice_working_days) {
            return Err(DomainError::invalid(
                "notice_working_days",
                "a public notice lasts 1 to 20 working days",
            ));
        }
        if let Some(n) = i.min_applicants
            && !(1..=20).contains(&n)
        {
            return Err(DomainError::invalid(
                "min_applicants",
                "at least 1 and at most 20 applicants",
            ));
        }
        match i.method {
            SelectionMethod::InvitedTender => {
                if i.invited_org_ids.len() < 3 {
                    return Err(DomainError::invalid(
                        "invited_org_ids",
                        "an invited tender invites at least three organisations",
                    ));
                }
            }
            _ => {
                if !i.invited_org_ids.is_empty() {
                    return Err(DomainError::invalid(
                        "invited_org_ids",
                        "only an invited tender names invited organisations",
                    ));
                }
            }
        }
        Ok(Self(i))
    }

    pub fn min_applicants(&self) -> u32 {
        self.0
            .min_applicants
            .unwrap_or_else(|| self.0.method.default_min_applicants())
    }

    /// The deadline leaves applicants the time the method requires after
    /// an announcement at `announced_at_ms`.
    pub fn check_deadline(
        &self,
        calendar: &WorkCalendar,
        announced_at_ms: i64,
    ) -> DomainResult<()> {
        let earliest = self
            .0
            .method
            .earliest_deadline_ms(calendar, announced_at_ms);
        if self.0.application_deadline_ms < earliest {
            return Err(DomainError::invalid(
                "application_deadline_ms",
                format!(
                    "a {} accepts applications until {} at the earliest",
                    self.0.method.label_zh(),
                    Date::from_epoch_ms_beijing(earliest)
                ),
            ));
        }
        Ok(())
    }

    /// When the public notice of a result published at `published_at_ms`
    /// ends: the end of its last working day.
    pub fn notice_ends_ms(&self, calendar: &WorkCalendar, published_at_ms: i64) -> i64 {
        calendar.deadline_ms(published_at_ms, self.0.notice_working_days)
    }

    /// Whether `org_id` may apply now: the selection is announced, the
    /// deadline has not passed, the organisation has not applied, and for
    /// an invited tender it was invited (`Forbidden` otherwise).
    pub fn check_application(
        &self,
        state: SelectionState,
        org_id: i64,
        already_applied: bool,
        now_ms: i64,
    ) -> DomainResult<()> {
        if state != SelectionState::Announced {
            return Err(DomainError::conflict(format!(
                "the selection is {}: applications are closed",
                state.as_str()
            )));
        }
        if now_ms > self.0.application_deadline_ms {
            return Err(DomainError::conflict("the application deadline has passed"));
        }
        if self.0.method == SelectionMethod::InvitedTender
            && !self.0.invited_org_ids.contains(&org_id)
        {
            return Err(DomainError::forbidden(
                "an invited tender accepts only invited organisations",
            ));
        }
        if already_applied {
            return Err(DomainError::conflict(
                "the organisation has already applied",
            ));
        }
        Ok(())
    }
}

/// The state of a selection.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SelectionState {
    /// Announced (公告); applications accepted until the deadline.
    Announced,
    /// Applications closed; reviewers score.
    Reviewing,
    /// The result is published for objections (结果公示).
    PublicNotice,
    /// The operator is chosen; the agreement may be signed.
    Awarded,
    /// Too few applicants, or none qualified (流标/废标).
    Failed,
    Cancelled,
}

impl SelectionState {
    pub const ALL: [SelectionState; 6] = [
        SelectionState::Announced,
        SelectionState::Reviewing,
        SelectionState::PublicNotice,
        SelectionState::Awarded,
        SelectionState::Failed,
        SelectionState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SelectionState::Announced => "announced",
            SelectionState::Reviewing => "reviewing",
            SelectionState::PublicNotice => "public_notice",
            SelectionState::Awarded => "awarded",
            SelectionState::Failed => "failed",
            SelectionState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown selection state '{s}'")))
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            SelectionState::Awarded | SelectionState::Failed | SelectionState::Cancelled
        )
    }

    /// The one transition function; `facts` are what the store counts and
    /// the clock.
    pub fn apply(self, action: SelectionAction, facts: &SelectionFacts) -> DomainResult<Self> {
        use SelectionAction as A;
        use SelectionState as S;
        match (self, action) {
            (S::Announced, A::Close) => {
                if facts.now_ms <= facts.application_deadline_ms {
                    Err(DomainError::conflict(
                        "applications are open until the deadline",
                    ))
                } else if facts.applications < facts.min_applicants {
                    Ok(S::Failed)
                } else {
                    Ok(S::Reviewing)
                }
            }
            (S::Reviewing, A::Publish) => {
                if facts.ranked == 0 {
                    Err(DomainError::conflict(
                        "no qualified application is ranked: fail the selection instead",
                    ))
                } else {
                    Ok(S::PublicNotice)
                }
            }
            (S::Reviewing | S::PublicNotice, A::Fail) => Ok(S::Failed),
            (S::PublicNotice, A::Reopen) => Ok(S::Reviewing),
            (S::PublicNotice, A::Award) => match facts.notice_ends_ms {
                Some(end) if facts.now_ms > end => {
                    if facts.open_objections > 0 {
                        Err(DomainError::conflict(format!(
                            "{} objection(s) await an answer",
                            facts.open_objections
                        )))
                    } else {
                        Ok(S::Awarded)
                    }
                }
                _ => Err(DomainError::conflict(
                    "the public notice period has not ended",
                )),
            },
            (S::Announced | S::Reviewing | S::PublicNotice, A::Cancel) => Ok(S::Cancelled),
            (s, a) => Err(illegal("a selection", a.as_str(), s.as_str())),
        }
    }
}

/// What a selection step depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SelectionFacts {
    pub now_ms: i64,
    pub application_deadline_ms: i64,
    /// Applications received.
    pub applications: u32,
    /// [`SelectionSpec::min_applicants`].
    pub min_applicants: u32,
    /// Qualified applications with a complete ranking.
    pub ranked: u32,
    /// The end of the public notice, once published.
    pub notice_ends_ms: Option<i64>,
    /// Objections raised and not yet answered.
    pub open_objections: u32,
}

/// A step in a selection.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SelectionAction {
    /// Close applications after the deadline (fails with too few).
    Close,
    /// Publish the ranking for public notice.
    Publish,
    /// Back to review after an upheld objection.
    Reopen,
    /// Award after the notice period, all objections answered.
    Award,
    /// Declare the selection failed (废标).
    Fail,
    Cancel,
}

impl SelectionAction {
    pub const ALL: [SelectionAction; 6] = [
        SelectionAction::Close,
        SelectionAction::Publish,
        SelectionAction::Reopen,
        SelectionAction::Award,
        SelectionAction::Fail,
        SelectionAction::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SelectionAction::Close => "close",
            SelectionAction::Publish => "publish",
            SelectionAction::Reopen => "reopen",
            SelectionAction::Award => "award",
            SelectionAction::Fail => "fail",
            SelectionAction::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid("action", format!("unknown selection action '{s}'"))
            })
    }

    /// The implementing institution runs the selection (§10).
    pub fn actors(self) -> &'static [Role] {
        &[Role::ImplementingInstitution]
    }
}

/// The state of an objection to a published result (异议).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionState {
    /// Raised during the notice; blocks the award until answered.
    Raised,
    /// Answered and upheld: the selection goes back to review (or fails).
    Upheld,
    /// Answered and dismissed.
    Dismissed,
}

impl ObjectionState {
    pub const ALL: [ObjectionState; 3] = [
        ObjectionState::Raised,
        ObjectionState::Upheld,
        ObjectionState::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectionState::Raised => "raised",
            ObjectionState::Upheld => "upheld",
            ObjectionState::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown objection state '{s}'")))
    }

    pub fn is_open(self) -> bool {
        self == ObjectionState::Raised
    }

    /// Answer an objection: `upheld` or not. Only a raised objection can
    /// be answered, once.
    pub fn answer(self, upheld: bool) -> DomainResult<Self> {
        match self {
            ObjectionState::Raised if upheld => Ok(ObjectionState::Upheld),
            ObjectionState::Raised => Ok(ObjectionState::Dismissed),
            s => Err(illegal("an objection", "answer", s.as_str())),
        }
    }
}

/// Whether an objection may be raised now: only while the result is under
/// public notice, until the notice ends.
pub fn check_objection(
    state: SelectionState,
    notice_ends_ms: i64,
    now_ms: i64,
) -> DomainResult<()> {
    if state != SelectionState::PublicNotice {
        return Err(DomainError::conflict(format!(
            "objections are raised during the public notice; the selection is {}",
            state.as_str()
        )));
    }
    if now_ms > notice_ends_ms {
        return Err(DomainError::conflict("the public notice period has ended"));
    }
    Ok(())
}

/// A member of the review panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reviewer {
    pub user_id: i64,
    pub org_id: i64,
}

/// An application as the review sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Application {
    pub id: i64,
    pub org_id: i64,
    pub submitted_at_ms: i64,
    /// Passed the qualification check (资格审查) against the plan's
    /// operator criteria; only qualified applications are scored.
    pub qualified: bool,
}

/// One reviewer's score of one application on one criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Score {
    pub application_id: i64,
    pub reviewer_user_id: i64,
    /// Index of the criterion in the spec.
    pub criterion: usize,
    /// Hundredths of a point, 0 to the criterion's weight × 100.
    pub centipoints: u32,
}

/// Whether `reviewer` may give `centipoints` to `application` on
/// criterion `criterion`: not to an application of their own organisation
/// (回避, `Forbidden`), only to qualified applications, within 0 and the
/// criterion's maximum.
pub fn check_score(
    spec: &SelectionSpec,
    reviewer: &Reviewer,
    application: &Application,
    criterion: usize,
    centipoints: u32,
) -> DomainResult<()> {
    if reviewer.org_id == application.org_id {
        return Err(DomainError::forbidden(
            "a reviewer does not score an application of their own organisation",
        ));
    }
    if !application.qualified {
        return Err(DomainError::conflict(format!(
            "application {} did not qualify and is not scored",
            application.id
        )));
    }
    let c = spec.criteria.get(criterion).ok_or_else(|| {
        DomainError::invalid(
            "criterion",
            format!("there are {} criteria", spec.criteria.len()),
        )
    })?;
    if centipoints > c.weight * 100 {
        return Err(DomainError::invalid(
            "score",
            format!(
                "'{}' scores 0 to {} points; {}.{:02} is too many",
                c.name,
                c.weight,
                centipoints / 100,
                centipoints % 100
            ),
        ));
    }
    Ok(())
}

/// An application's place in the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ranked {
    /// 1 for the best; no two applications share a rank.
    pub rank: u32,
    pub application_id: i64,
    pub org_id: i64,
    /// The mean of the reviewers' totals, in hundredths of a point (out of
    /// 10000), rounded half up; for display — the ranking compares exactly.
    pub mean_centipoints: u32,
    /// Reviewers who scored it (those of its own organisation abstain).
    pub reviewers: u32,
}

struct Tally {
    app: Application,
    n: u64,
    total: u64,
    per_criterion: Vec<u64>,
}

/// `a / n_a` against `b / n_b`, exactly.
fn cmp_mean(a: u64, na: u64, b: u64, nb: u64) -> Ordering {
    (u128::from(a) * u128::from(nb)).cmp(&(u128::from(b) * u128::from(na)))
}

/// Ranks the qualified applications by the mean of their reviewers'
/// totals. Every score is checked ([`check_score`]); every reviewer not of
/// an application's organisation must have scored it on every criterion,
/// once. Ties break deterministically: the higher mean on the first
/// criterion, then the second, …; then the earlier submission; then the
/// lower application id.
pub fn rank(
    spec: &SelectionSpec,
    applications: &[Application],
    reviewers: &[Reviewer],
    scores: &[Score],
) -> DomainResult<Vec<Ranked>> {
    if reviewers.is_empty() {
        return Err(DomainError::conflict("the review panel is empty"));
    }
    let by_user: BTreeMap<i64, &Reviewer> = reviewers.iter().map(|r| (r.user_id, r)).collect();
    let by_app: BTreeMap<i64, &Application> = applications.iter().map(|a| (a.id, a)).collect();
    let mut given: BTreeMap<(i64, i64, usize), u32> = BTreeMap::new();
    for s in scores {
        let reviewer = by_user.get(&s.reviewer_user_id).ok_or_else(|| {
            DomainError::invalid(
                "scores",
                format!("user {} is not on the review panel", s.reviewer_user_id),
            )
        })?;
        let app = by_app.get(&s.application_id).ok_or_else(|| {
            DomainError::invalid(
                "scores",
                format!("there is no application {}", s.application_id),
            )
        })?;
        check_score(spec, reviewer, app, s.criterion, s.centipoints)?;
        if given
            .insert(
                (s.application_id, s.reviewer_user_id, s.criterion),
                s.centipoints,
            )
            .is_some()
        {
            return Err(DomainError::invalid(
                "scores",
                format!(
                    "user {} scored application {} twice on one criterion",
                    s.reviewer_user_id, s.application_id
                ),
            ));
        }
    }
    let mut tallies = Vec::new();
    for app in applications.iter().filter(|a| a.qualified) {
        let mut t = Tally {
            app: *app,
            n: 0,
            total: 0,
            per_criterion: vec![0; spec.criteria.len()],
        };
        for r in reviewers.iter().filter(|r| r.org_id != app.org_id) {
            t.n += 1;
            for (i, c) in spec.criteria.iter().enumerate() {
                let v = given.get(&(app.id, r.user_id, i)).ok_or_else(|| {
                    DomainError::new(
                        ErrorCode::Conflict,
                        format!(
                            "the review is incomplete: user {} has not scored application {} on '{}'",
                            r.user_id, app.id, c.name
                        ),
                    )
                })?;
                t.total += u64::from(*v);
                if let Some(slot) = t.per_criterion.get_mut(i) {
                    *slot += u64::from(*v);
                }
            }
        }
        if t.n == 0 {
            return Err(DomainError::conflict(format!(
                "no reviewer outside its organisation can score application {}",
                app.id
            )));
        }
        tallies.push(t);
    }
    tallies.sort_by(|a, b| {
        cmp_mean(b.total, b.n, a.total, a.n)
            .then_with(|| {
                a.per_criterion
                    .iter()
                    .zip(&b.per_criterion)
                    .map(|(x, y)| cmp_mean(*y, b.n, *x, a.n))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then(a.app.submitted_at_ms.cmp(&b.app.submitted_at_ms))
            .then(a.app.id.cmp(&b.app.id))
    });
    Ok(tallies
        .into_iter()
        .enumerate()
        .map(|(i, t)| Ranked {
            rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
            application_id: t.app.id,
            org_id: t.app.org_id,
            mean_centipoints: u32::try_from((2 * t.total + t.n) / (2 * t.n)).unwrap_or(u32::MAX),
            reviewers: u32::try_from(t.n).unwrap_or(u32::MAX),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_input(method: SelectionMethod) -> SelectionSpecInput {
        SelectionSpecInput {
            title: "景德镇市公共数据授权运营机构遴选".into(),
            method,
            scenario: None,
            criteria: vec![
                Criterion {
                    name: "技术方案".into(),
                    weight: 40,
                },
                Criterion {
                    name: "运营能力".into(),
                    weight: 30,
                },
                Criterion {
                    name: "安全保障".into(),
                    weight: 20,
                },
                Criterion {
                    name: "信用状况".into(),
                    weight: 10,
                },
            ],
            application_deadline_ms: 0,
            notice_working_days: 5,
            min_applicants: None,
            invited_org_ids: if method == SelectionMethod::InvitedTender {
                [101, 102, 103].into()
            } else {
                BTreeSet::new()
            },
        }
    }

    fn spec() -> SelectionSpec {
        SelectionSpec::new(spec_input(SelectionMethod::OpenTender)).unwrap()
    }

    #[test]
    fn spec_validation() {
        for m in SelectionMethod::ALL {
            assert!(SelectionSpec::new(spec_input(m)).is_ok(), "{m:?}");
            assert_eq!(SelectionMethod::parse(m.as_str()), Ok(m));
        }
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.criteria[0].weight = 41;
        let e = SelectionSpec::new(i).unwrap_err();
        assert!(e.message.contains("101"), "{}", e.message);
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.criteria[1].name = "技术方案".into();
        assert!(SelectionSpec::new(i).is_err());
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.criteria[3].weight = 0;
        i.criteria[0].weight = 50;
        assert!(SelectionSpec::new(i).is_err());
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.criteria.clear();
        assert!(SelectionSpec::new(i).is_err());
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.invited_org_ids.insert(5);
        assert!(SelectionSpec::new(i).is_err());
        let mut i = spec_input(SelectionMethod::InvitedTender);
        i.invited_org_ids.remove(&103);
        assert!(SelectionSpec::new(i).is_err());
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.notice_working_days = 0;
        assert!(SelectionSpec::new(i).is_err());
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.min_applicants = Some(0);
        assert!(SelectionSpec::new(i).is_err());
        assert_eq!(spec().min_applicants(), 3);
        assert_eq!(
            SelectionSpec::new(spec_input(SelectionMethod::Negotiation))
                .unwrap()
                .min_applicants(),
            2
        );
        let json = r#"{"title":"t","method":"open_tender","criteria":[{"name":"a","weight":100}],
            "application_deadline_ms":5}"#;
        let s: SelectionSpec = serde_json::from_str(json).unwrap();
        assert_eq!(s.notice_working_days, 5);
        let bad = json.replace("100", "99");
        assert!(serde_json::from_str::<SelectionSpec>(&bad).is_err());
    }

    #[test]
    fn deadlines_and_notice() {
        let cal = WorkCalendar::builtin();
        let d = |s: &str| s.parse::<Date>().unwrap();
        let announced = d("2026-09-28").start_epoch_ms_beijing() + 10 * 3_600_000;
        assert_eq!(
            SelectionMethod::OpenTender.earliest_deadline_ms(&cal, announced),
            d("2026-10-18").start_epoch_ms_beijing()
        );
        // 29, 30 September, then 8 October (National Day off).
        assert_eq!(
            SelectionMethod::Negotiation.earliest_deadline_ms(&cal, announced),
            d("2026-10-08").start_epoch_ms_beijing()
        );
        let mut i = spec_input(SelectionMethod::OpenTender);
        i.application_deadline_ms = d("2026-10-17").end_epoch_ms_beijing();
        let s = SelectionSpec::new(i.clone()).unwrap();
        assert!(s.check_deadline(&cal, announced).is_err());
        i.application_deadline_ms = d("2026-10-18").start_epoch_ms_beijing();
        let s = SelectionSpec::new(i).unwrap();
        assert!(s.check_deadline(&cal, announced).is_ok());
        // Five working days of notice from Wednesday 30 September: 8, 9,
        // Saturday 10 (worked), 12 and 13 October.
        let published = d("2026-09-30").start_epoch_ms_beijing() + 9 * 3_600_000;
        assert_eq!(
            s.notice_ends_ms(&cal, published),
            d("2026-10-13").end_epoch_ms_beijing()
        );
    }

    #[test]
    fn applications() {
        let s = SelectionSpec::new(spec_input(SelectionMethod::InvitedTender)).unwrap();
        let ok = s.check_application(SelectionState::Announced, 101, false, -1);
        assert!(ok.is_ok());
        let code = |r: DomainResult<()>| r.map_err(|e| e.code);
        assert_eq!(
            code(s.check_application(SelectionState::Announced, 999, false, -1)),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(
            code(s.check_application(SelectionState::Announced, 101, true, -1)),
            Err(ErrorCode::Conflict)
        );
        assert_eq!(
            code(s.check_application(SelectionState::Announced, 101, false, 1)),
            Err(ErrorCode::Conflict)
        );
        assert_eq!(
            code(s.check_application(SelectionState::Reviewing, 101, false, -1)),
            Err(ErrorCode::Conflict)
        );
        // An open tender takes anyone.
        assert!(
            spec()
                .check_application(SelectionState::Announced, 999, false, 0)
                .is_ok()
        );
    }

    #[test]
    fn every_state_and_action() {
        use SelectionAction as A;
        use SelectionState as S;
        let base = SelectionFacts {
            now_ms: 100,
            application_deadline_ms: 50,
            applications: 3,
            min_applicants: 3,
            ranked: 2,
            notice_ends_ms: Some(90),
            open_objections: 0,
        };
        let variants = [
            ("ready", base),
            ("before deadline", SelectionFacts { now_ms: 50, ..base }),
            (
                "too few",
                SelectionFacts {
                    applications: 2,
                    ..base
                },
            ),
            ("none ranked", SelectionFacts { ranked: 0, ..base }),
            (
                "notice running",
                SelectionFacts {
                    notice_ends_ms: Some(100),
                    ..base
                },
            ),
            (
                "not published",
                SelectionFacts {
                    notice_ends_ms: None,
                    ..base
                },
            ),
            (
                "objection open",
                SelectionFacts {
                    open_objections: 1,
                    ..base
                },
            ),
        ];
        for (name, f) in variants {
            for s in S::ALL {
                for a in A::ALL {
                    let expected: Result<S, ErrorCode> = match (s, a) {
                        (S::Announced, A::Close) if f.now_ms <= f.application_deadline_ms => {
                            Err(ErrorCode::Conflict)
                        }
                        (S::Announced, A::Close) if f.applications < f.min_applicants => {
                            Ok(S::Failed)
                        }
                        (S::Announced, A::Close) => Ok(S::Reviewing),
                        (S::Reviewing, A::Publish) if f.ranked == 0 => Err(ErrorCode::Conflict),
                        (S::Reviewing, A::Publish) => Ok(S::PublicNotice),
                        (S::Reviewing | S::PublicNotice, A::Fail) => Ok(S::Failed),
                        (S::PublicNotice, A::Reopen) => Ok(S::Reviewing),
                        (S::PublicNotice, A::Award)
                            if f.notice_ends_ms.is_some_and(|e| f.now_ms > e)
                                && f.open_objections == 0 =>
                        {
                            Ok(S::Awarded)
                        }
                        (S::Announced | S::Reviewing | S::PublicNotice, A::Cancel) => {
                            Ok(S::Cancelled)
                        }
                        _ => Err(ErrorCode::Conflict),
                    };
                    assert_eq!(
                        s.apply(a, &f).map_err(|e| e.code),
                        expected,
                        "{name}: {s:?} {a:?}"
                    );
                }
                assert_eq!(S::parse(s.as_str()), Ok(s));
            }
        }
        for a in A::ALL {
            assert_eq!(A::parse(a.as_str()), Ok(a));
            assert_eq!(a.actors(), &[Role::ImplementingInstitution]);
        }
    }

    #[test]
    fn objections() {
        use ObjectionState as O;
        assert_eq!(O::Raised.answer(true), Ok(O::Upheld));
        assert_eq!(O::Raised.answer(false), Ok(O::Dismissed));
        for s in [O::Upheld, O::Dismissed] {
            for upheld in [true, false] {
                assert_eq!(
                    s.answer(upheld).map_err(|e| e.code),
                    Err(ErrorCode::Conflict)
                );
            }
        }
        for s in O::ALL {
            assert_eq!(O::parse(s.as_str()), Ok(s));
        }
        assert!(O::Raised.is_open() && !O::Dismissed.is_open());
        assert!(check_objection(SelectionState::PublicNotice, 10, 10).is_ok());
        assert!(check_objection(SelectionState::PublicNotice, 10, 11).is_err());
        assert!(check_objection(SelectionState::Reviewing, 10, 5).is_err());
    }

    const A_ORG: i64 = 11;
    const B_ORG: i64 = 12;
    const C_ORG: i64 = 13;

    fn apps() -> Vec<Application> {
        vec![
            Application {
                id: 1,
                org_id: A_ORG,
                submitted_at_ms: 30,
                qualified: true,
            },
            Application {
                id: 2,
                org_id: B_ORG,
                submitted_at_ms: 20,
                qualified: true,
            },
            Application {
                id: 3,
                org_id: C_ORG,
                submitted_at_ms: 10,
                qualified: false,
            },
        ]
    }

    fn panel() -> Vec<Reviewer> {
        vec![
            Reviewer {
                user_id: 901,
                org_id: 1,
            },
            Reviewer {
                user_id: 902,
                org_id: 2,
            },
        ]
    }

    /// Scores for one application from every panel member: per criterion,
    /// the points in hundredths.
    fn scores_for(app: i64, by: &[(i64, [u32; 4])]) -> Vec<Score> {
        by.iter()
            .flat_map(|(user, pts)| {
                pts.iter().enumerate().map(move |(i, p)| Score {
                    application_id: app,
                    reviewer_user_id: *user,
                    criterion: i,
                    centipoints: *p,
                })
            })
            .collect()
    }

    #[test]
    fn scoring_rules() {
        let s = spec();
        let a = apps();
        let own = Reviewer {
            user_id: 903,
            org_id: A_ORG,
        };
        assert_eq!(
            check_score(&s, &own, &a[0], 0, 100).map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        let r = panel()[0];
        assert!(check_score(&s, &r, &a[0], 0, 4000).is_ok());
        assert!(check_score(&s, &r, &a[0], 0, 0).is_ok());
        assert_eq!(
            check_score(&s, &r, &a[0], 0, 4001).map_err(|e| e.code),
            Err(ErrorCode::Validation)
        );
        assert!(check_score(&s, &r, &a[0], 3, 1001).is_err());
        assert!(check_score(&s, &r, &a[0], 4, 0).is_err());
        assert_eq!(
            check_score(&s, &r, &a[2], 0, 100).map_err(|e| e.code),
            Err(ErrorCode::Conflict)
        );
    }

    #[test]
    fn ranking_by_mean_with_deterministic_ties() {
        let s = spec();
        let mut scores = scores_for(
            1,
            &[
                (901, [3000, 2500, 1500, 800]),
                (902, [3200, 2500, 1500, 900]),
            ],
        );
        scores.extend(scores_for(
            2,
            &[
                (901, [3500, 2000, 1500, 900]),
                (902, [3500, 2000, 1700, 900]),
            ],
        ));
        let r = rank(&s, &apps(), &panel(), &scores).unwrap();
        // 1: (7800 + 8100) / 2 = 7950; 2: (7900 + 8100) / 2 = 8000.
        assert_eq!(
            r.iter()
                .map(|x| (x.rank, x.application_id, x.mean_centipoints))
                .collect::<Vec<_>>(),
            vec![(1, 2, 8000), (2, 1, 7950)]
        );
        assert!(r.iter().all(|x| x.reviewers == 2));

        // Equal totals: the first criterion decides.
        let mut tie = scores_for(
            1,
            &[
                (901, [4000, 2000, 1000, 1000]),
                (902, [4000, 2000, 1000, 1000]),
            ],
        );
        tie.extend(scores_for(
            2,
            &[
                (901, [3900, 2100, 1000, 1000]),
                (902, [3900, 2100, 1000, 1000]),
            ],
        ));
        let r = rank(&s, &apps(), &panel(), &tie).unwrap();
        assert_eq!(r[0].application_id, 1);

        // Identical scores: the earlier submission (application 2) wins,
        // whatever the order of the input.
        let same = [
            (901, [3000, 2000, 1000, 500]),
            (902, [3000, 2000, 1000, 500]),
        ];
        let mut eq = scores_for(2, &same);
        eq.extend(scores_for(1, &same));
        let r = rank(&s, &apps(), &panel(), &eq).unwrap();
        assert_eq!(r[0].application_id, 2);
        let mut reversed_apps = apps();
        reversed_apps.reverse();
        eq.reverse();
        assert_eq!(rank(&s, &reversed_apps, &panel(), &eq).unwrap(), r);
        // Same submission instant: the lower id.
        let mut same_time = apps();
        same_time[1].submitted_at_ms = same_time[0].submitted_at_ms;
        assert_eq!(
            rank(&s, &same_time, &panel(), &eq).unwrap()[0].application_id,
            1
        );
    }

    #[test]
    fn own_organisation_abstains_and_means_stay_exact() {
        let s = spec();
        // Reviewer 903 belongs to A's organisation: scores B only.
        let mut panel = panel();
        panel.push(Reviewer {
            user_id: 903,
            org_id: A_ORG,
        });
        let mut scores = scores_for(
            1,
            &[
                (901, [3000, 2000, 1000, 1000]),
                (902, [3000, 2000, 1000, 1000]),
            ],
        );
        scores.extend(scores_for(
            2,
            &[
                (901, [3000, 2000, 1000, 1000]),
                (902, [3000, 2000, 1000, 1000]),
                (903, [3000, 2000, 1001, 1000]),
            ],
        ));
        // 903 may not score application 1.
        let mut with_own = scores.clone();
        with_own.extend(scores_for(1, &[(903, [0, 0, 0, 0])]));
        assert_eq!(
            rank(&s, &apps(), &panel, &with_own).map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        let r = rank(&s, &apps(), &panel, &scores).unwrap();
        assert_eq!(r[0].application_id, 2);
        assert_eq!((r[0].reviewers, r[1].reviewers), (3, 2));
        // B: 21001 / 3 shows as 7000 but ranks above A's 14000 / 2 = 7000.
        assert_eq!(r[0].mean_centipoints, 7000);
        assert_eq!(r[1].mean_centipoints, 7000);
    }

    #[test]
    fn ranking_refuses_incomplete_or_duplicate_scores() {
        let s = spec();
        let mut scores = scores_for(
            1,
            &[
                (901, [3000, 2000, 1000, 1000]),
                (902, [3000, 2000, 1000, 1000]),
            ],
        );
        scores.extend(scores_for(2, &[(901, [3000, 2000, 1000, 1000])]));
        assert_eq!(
            rank(&s, &apps(), &panel(), &scores).map_err(|e| e.code),
            Err(ErrorCode::Conflict)
        );
        scores.extend(scores_for(2, &[(902, [3000, 2000, 1000, 1000])]));
        assert!(rank(&s, &apps(), &panel(), &scores).is_ok());
        let mut dup = scores.clone();
        dup.push(scores[0]);
        assert_eq!(
            rank(&s, &apps(), &panel(), &dup).map_err(|e| e.code),
            Err(ErrorCode::Validation)
        );
        let mut stranger = scores.clone();
        stranger.push(Score {
            reviewer_user_id: 999,
            ..scores[0]
        });
        assert!(rank(&s, &apps(), &panel(), &stranger).is_err());
        assert!(rank(&s, &apps(), &[], &scores).is_err());
        // No qualified application: an empty ranking.
        let unqualified: Vec<Application> = apps()
            .into_iter()
            .map(|a| Application {
                qualified: false,
                ..a
            })
            .collect();
        assert_eq!(rank(&s, &unqualified, &panel(), &[]), Ok(vec![]));
    }
}
