//! Operating agreements (运营协议, B3): the term of at most five years, the
//! scope, the product list and revenue sharing, and the lifecycle drafted →
//! signed → filed (备案) → active → suspended / expired / terminated /
//! exited. Expiry is a function of the clock: [`AgreementState::at`] gives
//! the state in force at an instant, and [`AgreementAction::Expire`] records
//! it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::plan::{PlanContent, PlanMode, PlanState, ProductLine, check_products};
use super::scope::Scope;
use super::selection::SelectionState;
use super::{MAX_TERM_MONTHS, add_months, illegal};
use crate::access::Role;
use crate::calendar::Date;
use crate::error::{DomainError, DomainResult, ErrorCode};

/// The wire form of a [`Term`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Term")]
pub struct TermInput {
    /// First day in force (from 00:00 Beijing time).
    pub start: Date,
    /// Last day in force, inclusive (until 23:59:59.999 Beijing time).
    pub end: Date,
}

/// The term of an agreement (授权运营期限): from `start` to `end`, both
/// days included, at most five years: `end` is before the fifth anniversary
/// of `start` (2026-03-15 to 2031-03-14 is exactly five years; to
/// 2031-03-15 is a day too long). An anniversary that does not exist (29
/// February) falls on 1 March.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term(TermInput);
validated!(Term, TermInput);

impl Term {
    pub fn new(input: TermInput) -> DomainResult<Self> {
        Self::within_months(input, MAX_TERM_MONTHS)
    }

    /// A term of at most `months` months (and never beyond five years).
    pub fn within_months(input: TermInput, months: u32) -> DomainResult<Self> {
        let months = months.min(MAX_TERM_MONTHS);
        if input.end < input.start {
            return Err(DomainError::invalid(
                "term",
                format!(
                    "the term ends ({}) before it starts ({})",
                    input.end, input.start
                ),
            ));
        }
        let last = Self::last_day(input.start, months);
        if input.end > last {
            return Err(DomainError::invalid(
                "term",
                format!(
                    "a term of at most {months} months starting {} ends by {last}, not {}",
                    input.start, input.end
                ),
            ));
        }
        Ok(Self(input))
    }

    /// The last day of a term of exactly `months` months from `start`.
    pub fn last_day(start: Date, months: u32) -> Date {
        add_months(start, months).add_days(-1)
    }

    /// Whether the term is no longer than `months` months.
    pub fn fits_months(&self, months: u32) -> bool {
        self.0.end <= Self::last_day(self.0.start, months)
    }

    /// The instant the term ends: the last millisecond of `end`.
    pub fn ends_at_ms(&self) -> i64 {
        self.0.end.end_epoch_ms_beijing()
    }

    /// The instant the term begins: the first millisecond of `start`.
    pub fn starts_at_ms(&self) -> i64 {
        self.0.start.start_epoch_ms_beijing()
    }

    /// `now_ms` is after the last day.
    pub fn has_ended(&self, now_ms: i64) -> bool {
        now_ms > self.ends_at_ms()
    }

    /// `now_ms` is on or after the first day.
    pub fn has_begun(&self, now_ms: i64) -> bool {
        now_ms >= self.starts_at_ms()
    }

    /// `now_ms` falls within the term.
    pub fn contains(&self, now_ms: i64) -> bool {
        self.has_begun(now_ms) && !self.has_ended(now_ms)
    }

    /// The following term of a renewal (续期): from the day after `end` to
    /// `new_end`, again at most five years. Seed 002 §3(8): an operator that
    /// wants to go on applies again, so a renewal is a new agreement with
    /// this term, not an extension of the old one.
    pub fn renewal(&self, new_end: Date) -> DomainResult<Term> {
        Term::new(TermInput {
            start: self.0.end.add_days(1),
            end: new_end,
        })
    }
}

/// The state of an agreement.
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
pub enum AgreementState {
    /// Being drafted by the implementing institution with the awarded
    /// operator.
    Drafted,
    /// Signed (签订) after the institution's collective decision; filing
    /// is due within 20 working days.
    Signed,
    /// Filed (备案) with the provincial data authority.
    Filed,
    /// In operation: the operator may work within the scope.
    Active,
    /// Suspended (暂停执行) for a breach or a major risk; access is cut
    /// until reinstated.
    Suspended,
    /// The term ended (期满).
    Expired,
    /// Terminated early by the authorities (提前终止 / 终止运营权) for a
    /// breach, unmet targets or a violation.
    Terminated,
    /// Ended early at the operator's own request, bearing the liability
    /// for breach (申请提前终止).
    Exited,
    /// Abandoned before signing.
    Cancelled,
}

impl AgreementState {
    pub const ALL: [AgreementState; 9] = [
        AgreementState::Drafted,
        AgreementState::Signed,
        AgreementState::Filed,
        AgreementState::Active,
        AgreementState::Suspended,
        AgreementState::Expired,
        AgreementState::Terminated,
        AgreementState::Exited,
        AgreementState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgreementState::Drafted => "drafted",
            AgreementState::Signed => "signed",
            AgreementState::Filed => "filed",
            AgreementState::Active => "active",
            AgreementState::Suspended => "suspended",
            AgreementState::Expired => "expired",
            AgreementState::Terminated => "terminated",
            AgreementState::Exited => "exited",
            AgreementState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown agreement state '{s}'")))
    }

    /// Signed and not yet ended: the term's end turns it into `Expired`.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            AgreementState::Signed
                | AgreementState::Filed
                | AgreementState::Active
                | AgreementState::Suspended
        )
    }

    /// No step leads out of this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AgreementState::Expired
                | AgreementState::Terminated
                | AgreementState::Exited
                | AgreementState::Cancelled
        )
    }

    /// Filing is outstanding: due within 20 working days of signing
    /// ([`super::filing_due_ms`]).
    pub fn awaits_filing(self) -> bool {
        self == AgreementState::Signed
    }

    /// The state in force at `now_ms`: a live agreement whose term has
    /// ended is expired, whatever is stored.
    pub fn at(self, term: &Term, now_ms: i64) -> AgreementState {
        if self.is_live() && term.has_ended(now_ms) {
            AgreementState::Expired
        } else {
            self
        }
    }

    /// Whether the stored state lags the clock: a sweep records
    /// [`AgreementAction::Expire`] for such agreements.
    pub fn needs_expiry(self, term: &Term, now_ms: i64) -> bool {
        self.at(term, now_ms) != self
    }

    /// Only a drafted agreement's content may change; a signed one is
    /// changed by a new agreement.
    pub fn editable(self) -> bool {
        self == AgreementState::Drafted
    }

    /// The one transition function. `term` and `now_ms` decide expiry:
    /// once the term has ended, a live agreement can only be expired, and
    /// it cannot be expired before.
    pub fn apply(
        self,
        action: AgreementAction,
        term: &Term,
        now_ms: i64,
    ) -> DomainResult<AgreementState> {
        use AgreementAction as A;
        use AgreementState as S;
        let ended = term.has_ended(now_ms);
        match (self, action) {
            (S::Drafted, A::Cancel) => Ok(S::Cancelled),
            (s, A::Expire) if s.is_live() => {
                if ended {
                    Ok(S::Expired)
                } else {
                    Err(DomainError::new(
                        ErrorCode::Conflict,
                        format!("the term runs until {}", term.end),
                    ))
                }
            }
            (s, _) if ended && (s.is_live() || s == S::Drafted) => Err(DomainError::new(
                ErrorCode::Conflict,
                format!(
                    "the term ended on {}: the agreement can only expire (or be cancelled \
                         if never signed)",
                    term.end
                ),
            )),
            (S::Drafted, A::Sign) => Ok(S::Signed),
            (S::Signed, A::File) => Ok(S::Filed),
            (S::Filed, A::Activate) => Ok(S::Active),
            (S::Active, A::Suspend) => Ok(S::Suspended),
            (S::Suspended, A::Reinstate) => Ok(S::Active),
            (S::Signed | S::Filed | S::Active | S::Suspended, A::Terminate) => Ok(S::Terminated),
            (S::Signed | S::Filed | S::Active | S::Suspended, A::Exit) => Ok(S::Exited),
            (s, a) => Err(illegal("an agreement", a.as_str(), s.as_str())),
        }
    }
}

/// A step in an agreement's life.
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
pub enum AgreementAction {
    Sign,
    File,
    Activate,
    Suspend,
    Reinstate,
    /// Record the end of the term (the clock decides; see
    /// [`AgreementState::at`]).
    Expire,
    Terminate,
    Exit,
    Cancel,
}

impl AgreementAction {
    pub const ALL: [AgreementAction; 9] = [
        AgreementAction::Sign,
        AgreementAction::File,
        AgreementAction::Activate,
        AgreementAction::Suspend,
        AgreementAction::Reinstate,
        AgreementAction::Expire,
        AgreementAction::Terminate,
        AgreementAction::Exit,
        AgreementAction::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgreementAction::Sign => "sign",
            AgreementAction::File => "file",
            AgreementAction::Activate => "activate",
            AgreementAction::Suspend => "suspend",
            AgreementAction::Reinstate => "reinstate",
            AgreementAction::Expire => "expire",
            AgreementAction::Terminate => "terminate",
            AgreementAction::Exit => "exit",
            AgreementAction::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid("action", format!("unknown agreement action '{s}'"))
            })
    }

    /// The roles that take this step. Suspension may also be ordered by a
    /// regulator (G4); termination is the implementing institution's, or
    /// the data authority's on its request (seed 002 §3(8)); an exit is
    /// the operator's request, recorded by the implementing institution;
    /// expiry is recorded by the platform when the clock says so.
    pub fn actors(self) -> &'static [Role] {
        use AgreementAction as A;
        match self {
            A::Sign | A::File | A::Activate | A::Exit | A::Cancel => {
                &[Role::ImplementingInstitution]
            }
            A::Suspend => &[
                Role::ImplementingInstitution,
                Role::DataAuthority,
                Role::Regulator,
            ],
            A::Reinstate | A::Terminate => &[Role::ImplementingInstitution, Role::DataAuthority],
            A::Expire => &[Role::ImplementingInstitution, Role::PlatformAdmin],
        }
    }
}

/// Who receives a revenue share (F1: "谁投入、谁贡献、谁受益").
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
pub enum ShareParty {
    /// 数源部门
    SourceDepartment,
    /// 实施机构
    ImplementingInstitution,
    /// 运营机构
    Operator,
    /// The platform (运营平台).
    Platform,
}

impl ShareParty {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareParty::SourceDepartment => "source_department",
            ShareParty::ImplementingInstitution => "implementing_institution",
            ShareParty::Operator => "operator",
            ShareParty::Platform => "platform",
        }
    }
}

/// One share of revenue, in basis points (万分之一).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevenueShare {
    pub party: ShareParty,
    pub org_id: i64,
    /// 1 to 10000.
    #[schemars(range(min = 1, max = 10000))]
    pub basis_points: u32,
}

/// Revenue sharing (收益分配): 1 to 50 shares, one per (party,
/// organisation), summing to exactly 10000 basis points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueSharing(Vec<RevenueShare>);
validated!(RevenueSharing, Vec<RevenueShare>);

/// All of it, in basis points.
pub const WHOLE_BASIS_POINTS: u32 = 10_000;

impl RevenueSharing {
    pub fn new(shares: Vec<RevenueShare>) -> DomainResult<Self> {
        let bad = |m: String| DomainError::invalid("revenue_sharing", m);
        if shares.is_empty() || shares.len() > 50 {
            return Err(bad("1 to 50 shares".into()));
        }
        let mut seen = BTreeSet::new();
        let mut sum = 0_u64;
        for s in &shares {
            if !(1..=WHOLE_BASIS_POINTS).contains(&s.basis_points) {
                return Err(bad("a share is 1 to 10000 basis points".into()));
            }
            if !seen.insert((s.party, s.org_id)) {
                return Err(bad(format!(
                    "organisation {} has two {} shares",
                    s.org_id,
                    s.party.as_str()
                )));
            }
            sum += u64::from(s.basis_points);
        }
        if sum != u64::from(WHOLE_BASIS_POINTS) {
            return Err(bad(format!("shares sum to {sum} basis points, not 10000")));
        }
        Ok(Self(shares))
    }

    pub fn shares(&self) -> &[RevenueShare] {
        &self.0
    }

    /// Splits an amount of fen exactly (largest remainder): the parts sum
    /// to `amount_fen`; leftover fen go to the largest remainders, ties to
    /// the earlier share. In the order of the shares.
    pub fn split(&self, amount_fen: i64) -> Vec<i64> {
        let whole = i128::from(WHOLE_BASIS_POINTS);
        let amount = i128::from(amount_fen);
        let exact: Vec<(i128, i128)> = self
            .0
            .iter()
            .map(|s| {
                let p = amount * i128::from(s.basis_points);
                (p.div_euclid(whole), p.rem_euclid(whole))
            })
            .collect();
        let mut parts: Vec<i128> = exact.iter().map(|(q, _)| *q).collect();
        let mut left = amount - parts.iter().sum::<i128>();
        let mut order: Vec<usize> = (0..exact.len()).collect();
        order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
        for i in order.into_iter().cycle() {
            if left <= 0 {
                break;
            }
            parts[i] += 1;
            left -= 1;
        }
        parts
            .into_iter()
            .map(|p| i64::try_from(p).unwrap_or(i64::MAX))
            .collect()
    }
}

/// The wire form of [`AgreementContent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AgreementContent")]
pub struct AgreementContentInput {
    pub term: Term,
    pub scope: Scope,
    /// The products and services the operator may offer (from the plan's
    /// list): 1 to 200, unique names.
    pub products: Vec<ProductLine>,
    pub revenue_sharing: RevenueSharing,
}

/// What an agreement says: term, scope, product list, revenue sharing.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementContent(AgreementContentInput);
validated!(AgreementContent, AgreementContentInput);

impl AgreementContent {
    pub fn new(mut input: AgreementContentInput) -> DomainResult<Self> {
        input.products = check_products(std::mem::take(&mut input.products))?;
        Ok(Self(input))
    }

    /// The agreement stays within the plan it implements: resources from
    /// the plan's data scope, a term no longer than the plan's, the plan's
    /// domains or scenarios when it authorizes by domain or scenario, and
    /// products from the plan's list. `Forbidden` otherwise (B6: nothing
    /// beyond the authorization).
    pub fn check_against_plan(&self, plan: &PlanContent) -> DomainResult<()> {
        let outside: Vec<&str> = self
            .scope
            .resource_codes()
            .filter(|c| !plan.data_scope.contains(*c))
            .map(|c| c.as_str())
            .collect();
        if !outside.is_empty() {
            return Err(DomainError::forbidden(format!(
                "not in the plan's data scope: {}",
                outside.join(", ")
            )));
        }
        if !self.term.fits_months(plan.term_months) {
            return Err(DomainError::forbidden(format!(
                "the plan authorizes at most {} months; the term ends {}",
                plan.term_months, self.term.end
            )));
        }
        match &plan.authorization {
            PlanMode::Whole => {}
            PlanMode::ByDomain { domains } => {
                if self.scope.domains.is_empty() || !self.scope.domains.is_subset(domains) {
                    return Err(DomainError::forbidden(
                        "the plan authorizes by domain: the scope must name domains of the plan",
                    ));
                }
            }
            PlanMode::ByScenario { scenarios } => {
                if self.scope.scenarios.is_empty() || !self.scope.scenarios.is_subset(scenarios) {
                    return Err(DomainError::forbidden(
                        "the plan authorizes by scenario: the scope must name scenarios of the plan",
                    ));
                }
            }
        }
        if let Some(p) = self
            .products
            .iter()
            .find(|p| !plan.products.iter().any(|q| q.name == p.name))
        {
            return Err(DomainError::forbidden(format!(
                "product '{}' is not in the plan's product list",
                p.name
            )));
        }
        Ok(())
    }
}

/// What the public sees of an agreement (G6; Jiangxi measures §19: "公开
/// 授权对象、内容、范围和时限"): the operator, the state in force, the term,
/// the scope and the product list. Revenue sharing is not disclosed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgreementDisclosure {
    pub agreement_id: i64,
    /// The authorization object (授权对象).
    pub operator_org_id: i64,
    /// The state in force at the time of disclosure.
    pub state: AgreementState,
    /// The time limit (时限).
    pub term: Term,
    /// The content and scope (内容、范围).
    pub scope: Scope,
    /// The operator's product and service list (产品和服务清单).
    pub products: Vec<ProductLine>,
}

impl AgreementDisclosure {
    pub fn new(
        agreement_id: i64,
        operator_org_id: i64,
        state: AgreementState,
        content: &AgreementContent,
        now_ms: i64,
    ) -> Self {
        Self {
            agreement_id,
            operator_org_id,
            state: state.at(&content.term, now_ms),
            term: content.term,
            scope: content.scope.clone(),
            products: content.products.clone(),
        }
    }

    /// Only signed agreements are disclosed (not drafts or cancelled ones).
    pub fn is_public(state: AgreementState) -> bool {
        !matches!(state, AgreementState::Drafted | AgreementState::Cancelled)
    }
}

/// Whether an agreement may be signed: the plan approved (and not
/// superseded or withdrawn) and the selection awarded to this operator
/// (seed 002 §3(4): "经评审且结果公示无异议后 … 签订授权运营协议").
pub fn check_can_sign(
    plan: PlanState,
    selection: SelectionState,
    operator_is_awardee: bool,
) -> DomainResult<()> {
    if !plan.permits_selection() {
        return Err(DomainError::conflict(format!(
            "the implementation plan is {}, not approved",
            plan.as_str()
        )));
    }
    if selection != SelectionState::Awarded {
        return Err(DomainError::conflict(format!(
            "the operator selection is {}, not awarded",
            selection.as_str()
        )));
    }
    if !operator_is_awardee {
        return Err(DomainError::forbidden(
            "an agreement is signed only with the operator the selection awarded",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn term(a: &str, b: &str) -> DomainResult<Term> {
        Term::new(TermInput {
            start: d(a),
            end: d(b),
        })
    }

    fn noon(s: &str) -> i64 {
        d(s).start_epoch_ms_beijing() + 12 * 3_600_000
    }

    #[test]
    fn five_years_exactly_and_not_a_day_more() {
        assert!(term("2026-03-15", "2031-03-14").is_ok());
        assert!(term("2026-03-15", "2031-03-15").is_err());
        assert!(term("2026-01-01", "2030-12-31").is_ok());
        assert!(term("2026-01-01", "2031-01-01").is_err());
        // A six-year term.
        assert!(term("2026-01-01", "2031-12-31").is_err());
        // Leap days: a start on 29 February has its anniversary on 1 March.
        assert!(term("2028-02-29", "2033-02-28").is_ok());
        assert!(term("2028-02-29", "2033-03-01").is_err());
        // A term over a leap day into a leap year.
        assert!(term("2027-03-01", "2032-02-29").is_ok());
        assert!(term("2027-03-01", "2032-03-01").is_err());
        assert!(term("2028-03-01", "2033-02-28").is_ok());
        assert!(term("2028-03-01", "2033-03-01").is_err());
        // One day; ends before it starts.
        assert!(term("2026-05-01", "2026-05-01").is_ok());
        assert!(term("2026-05-01", "2026-04-30").is_err());
        let t = term("2026-03-15", "2031-03-14").unwrap();
        assert!(t.fits_months(60) && !t.fits_months(59));
        assert!(
            Term::within_months(
                TermInput {
                    start: d("2026-03-15"),
                    end: d("2027-03-15")
                },
                12
            )
            .is_err()
        );
        // Serde goes through the check.
        assert!(
            serde_json::from_str::<Term>(r#"{"start":"2026-01-01","end":"2031-01-01"}"#).is_err()
        );
        let ok: Term =
            serde_json::from_str(r#"{"start":"2026-01-01","end":"2030-12-31"}"#).unwrap();
        assert_eq!(ok.end, d("2030-12-31"));
    }

    #[test]
    fn renewal_is_a_new_term_of_at_most_five_years() {
        let t = term("2026-03-15", "2031-03-14").unwrap();
        let r = t.renewal(d("2036-03-14")).unwrap();
        assert_eq!(r.start, d("2031-03-15"));
        assert!(t.renewal(d("2036-03-15")).is_err());
        assert!(t.renewal(d("2031-03-14")).is_err());
    }

    #[test]
    fn term_instants() {
        let t = term("2026-03-15", "2026-03-16").unwrap();
        assert!(!t.has_begun(d("2026-03-15").start_epoch_ms_beijing() - 1));
        assert!(t.contains(d("2026-03-15").start_epoch_ms_beijing()));
        assert!(t.contains(d("2026-03-16").end_epoch_ms_beijing()));
        assert!(t.has_ended(d("2026-03-16").end_epoch_ms_beijing() + 1));
    }

    #[test]
    fn every_state_and_action_within_and_after_the_term() {
        use AgreementAction as A;
        use AgreementState as S;
        let t = term("2026-01-01", "2026-12-31").unwrap();
        for now in [noon("2025-12-01"), noon("2026-06-01"), noon("2027-01-01")] {
            let ended = t.has_ended(now);
            for s in S::ALL {
                for a in A::ALL {
                    let expected: Result<S, ErrorCode> = match (s, a) {
                        (S::Drafted, A::Cancel) => Ok(S::Cancelled),
                        (S::Signed | S::Filed | S::Active | S::Suspended, A::Expire) => {
                            if ended {
                                Ok(S::Expired)
                            } else {
                                Err(ErrorCode::Conflict)
                            }
                        }
                        _ if ended => Err(ErrorCode::Conflict),
                        (S::Drafted, A::Sign) => Ok(S::Signed),
                        (S::Signed, A::File) => Ok(S::Filed),
                        (S::Filed, A::Activate) => Ok(S::Active),
                        (S::Active, A::Suspend) => Ok(S::Suspended),
                        (S::Suspended, A::Reinstate) => Ok(S::Active),
                        (S::Signed | S::Filed | S::Active | S::Suspended, A::Terminate) => {
                            Ok(S::Terminated)
                        }
                        (S::Signed | S::Filed | S::Active | S::Suspended, A::Exit) => Ok(S::Exited),
                        _ => Err(ErrorCode::Conflict),
                    };
                    assert_eq!(
                        s.apply(a, &t, now).map_err(|e| e.code),
                        expected,
                        "{s:?} {a:?} ended={ended}"
                    );
                }
                assert_eq!(S::parse(s.as_str()), Ok(s));
                assert_eq!(
                    serde_json::to_string(&s).unwrap(),
                    format!("\"{}\"", s.as_str())
                );
                assert_eq!(s.needs_expiry(&t, now), ended && s.is_live());
                assert_eq!(s.editable(), s == S::Drafted);
                // The state in force.
                let at = s.at(&t, now);
                if ended && s.is_live() {
                    assert_eq!(at, S::Expired);
                } else {
                    assert_eq!(at, s);
                }
                assert!(!(s.is_live() && s.is_final()));
            }
        }
        for a in A::ALL {
            assert_eq!(A::parse(a.as_str()), Ok(a));
            assert!(!a.actors().is_empty());
        }
        assert!(A::Suspend.actors().contains(&Role::Regulator));
        assert!(!A::Sign.actors().contains(&Role::Operator));
    }

    #[test]
    fn expiry_at_the_last_millisecond() {
        let t = term("2026-01-01", "2026-12-31").unwrap();
        let last = d("2026-12-31").end_epoch_ms_beijing();
        assert_eq!(AgreementState::Active.at(&t, last), AgreementState::Active);
        assert_eq!(
            AgreementState::Active.at(&t, last + 1),
            AgreementState::Expired
        );
        assert!(
            AgreementState::Active
                .apply(AgreementAction::Expire, &t, last)
                .is_err()
        );
        assert_eq!(
            AgreementState::Suspended.apply(AgreementAction::Expire, &t, last + 1),
            Ok(AgreementState::Expired)
        );
    }

    fn shares(bps: &[(ShareParty, i64, u32)]) -> DomainResult<RevenueSharing> {
        RevenueSharing::new(
            bps.iter()
                .map(|&(party, org_id, basis_points)| RevenueShare {
                    party,
                    org_id,
                    basis_points,
                })
                .collect(),
        )
    }

    #[test]
    fn revenue_sharing_sums_to_ten_thousand() {
        use ShareParty::*;
        let r = shares(&[
            (SourceDepartment, 11, 3000),
            (SourceDepartment, 12, 1000),
            (ImplementingInstitution, 2, 1000),
            (Operator, 5, 4500),
            (Platform, 1, 500),
        ])
        .unwrap();
        assert_eq!(
            r.split(100_000),
            vec![30_000, 10_000, 10_000, 45_000, 5_000]
        );
        // Exact: leftover fen to the largest remainders.
        let thirds = shares(&[
            (Operator, 1, 3333),
            (Operator, 2, 3333),
            (Operator, 3, 3334),
        ])
        .unwrap();
        let parts = thirds.split(100);
        assert_eq!(parts.iter().sum::<i64>(), 100);
        assert_eq!(parts, vec![33, 33, 34]);
        let parts = thirds.split(1);
        assert_eq!(parts, vec![0, 0, 1]);
        assert_eq!(thirds.split(0), vec![0, 0, 0]);
        assert!(shares(&[(Operator, 1, 9999)]).is_err());
        assert!(shares(&[(Operator, 1, 5000), (Operator, 2, 5001)]).is_err());
        assert!(shares(&[(Operator, 1, 5000), (Operator, 1, 5000)]).is_err());
        assert!(shares(&[(Operator, 1, 10000), (Platform, 2, 0)]).is_err());
        assert!(shares(&[]).is_err());
        assert!(
            serde_json::from_str::<RevenueSharing>(
                r#"[{"party":"operator","org_id":1,"basis_points":10000}]"#
            )
            .is_ok()
        );
        assert!(
            serde_json::from_str::<RevenueSharing>(
                r#"[{"party":"operator","org_id":1,"basis_points":9000}]"#
            )
            .is_err()
        );
    }

    fn content() -> AgreementContent {
        use crate::authorization::plan::tests as plan;
        use crate::authorization::scope::{ResourceGrant, ScopeInput};
        AgreementContent::new(AgreementContentInput {
            term: term("2026-01-01", "2030-12-31").unwrap(),
            scope: Scope::new(ScopeInput {
                resources: vec![ResourceGrant::whole(plan::code("360200-XY-000001"))],
                domains: BTreeSet::new(),
                scenarios: BTreeSet::new(),
                purposes: [crate::authorization::Purpose::IndustryDevelopment].into(),
            })
            .unwrap(),
            products: plan::input().products[..1].to_vec(),
            revenue_sharing: shares(&[(ShareParty::Operator, 5, 10000)]).unwrap(),
        })
        .unwrap()
    }

    #[test]
    fn agreements_stay_within_their_plan() {
        use crate::authorization::plan::tests as plan;
        let p = plan::content();
        let a = content();
        assert!(a.check_against_plan(&p).is_ok());
        let forbidden =
            |f: &dyn Fn(&mut AgreementContentInput),
             pf: &dyn Fn(&mut crate::authorization::plan::PlanContentInput)| {
                let mut i = a.clone().into_input();
                f(&mut i);
                let mut pi = plan::input();
                pf(&mut pi);
                AgreementContent::new(i)
                    .unwrap()
                    .check_against_plan(&PlanContent::new(pi).unwrap())
                    .map_err(|e| e.code)
            };
        let none = |_: &mut crate::authorization::plan::PlanContentInput| {};
        // A resource the plan does not list.
        assert_eq!(
            forbidden(
                &|i| {
                    let mut s = i.scope.clone().into_input();
                    s.resources
                        .push(crate::authorization::scope::ResourceGrant::whole(
                            plan::code("360200-HJ-000001"),
                        ));
                    i.scope = Scope::new(s).unwrap();
                },
                &none
            ),
            Err(ErrorCode::Forbidden)
        );
        // A term longer than the plan's.
        assert_eq!(
            forbidden(&|_| {}, &|p| p.term_months = 36),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(forbidden(&|_| {}, &|p| p.term_months = 60), Ok(()));
        // A product not in the plan's list.
        assert_eq!(
            forbidden(&|i| i.products[0].name = "新产品".into(), &none),
            Err(ErrorCode::Forbidden)
        );
        // By scenario: the scope must name the plan's scenarios.
        let by_scenario = |p: &mut crate::authorization::plan::PlanContentInput| {
            p.authorization = PlanMode::ByScenario {
                scenarios: ["个人信用画像".parse().unwrap()].into(),
            }
        };
        assert_eq!(forbidden(&|_| {}, &by_scenario), Err(ErrorCode::Forbidden));
        let named = |i: &mut AgreementContentInput| {
            let mut s = i.scope.clone().into_input();
            s.scenarios = ["个人信用画像".parse().unwrap()].into();
            i.scope = Scope::new(s).unwrap();
        };
        assert_eq!(forbidden(&named, &by_scenario), Ok(()));
        // By domain likewise.
        let by_domain = |p: &mut crate::authorization::plan::PlanContentInput| {
            p.authorization = PlanMode::ByDomain {
                domains: [
                    crate::catalogue::DataDomain::Credit,
                    crate::catalogue::DataDomain::Transport,
                ]
                .into(),
            }
        };
        assert_eq!(forbidden(&|_| {}, &by_domain), Err(ErrorCode::Forbidden));
        let credit = |i: &mut AgreementContentInput| {
            let mut s = i.scope.clone().into_input();
            s.domains = [crate::catalogue::DataDomain::Credit].into();
            i.scope = Scope::new(s).unwrap();
        };
        assert_eq!(forbidden(&credit, &by_domain), Ok(()));
        // An empty or duplicated product list is refused outright.
        let mut i = a.clone().into_input();
        i.products.clear();
        assert!(AgreementContent::new(i).is_err());
    }

    #[test]
    fn disclosure() {
        let c = content();
        let d = AgreementDisclosure::new(1, 5, AgreementState::Active, &c, noon("2031-01-01"));
        assert_eq!(d.state, AgreementState::Expired);
        let json = serde_json::to_value(&d).unwrap();
        assert!(json.get("revenue_sharing").is_none());
        assert_eq!(json["term"]["end"], "2030-12-31");
        assert!(!AgreementDisclosure::is_public(AgreementState::Drafted));
        assert!(AgreementDisclosure::is_public(AgreementState::Signed));
        assert!(AgreementState::Signed.awaits_filing());
        assert!(!AgreementState::Filed.awaits_filing());
    }

    #[test]
    fn signing_needs_an_approved_plan_and_an_award() {
        assert!(check_can_sign(PlanState::Filed, SelectionState::Awarded, true).is_ok());
        assert!(check_can_sign(PlanState::Approved, SelectionState::Awarded, true).is_ok());
        assert_eq!(
            check_can_sign(PlanState::Draft, SelectionState::Awarded, true).map_err(|e| e.code),
            Err(ErrorCode::Conflict)
        );
        assert_eq!(
            check_can_sign(PlanState::Active, SelectionState::PublicNotice, true)
                .map_err(|e| e.code),
            Err(ErrorCode::Conflict)
        );
        assert_eq!(
            check_can_sign(PlanState::Active, SelectionState::Awarded, false).map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
    }
}
