//! Correction tickets and objections (纠错工单、异议核实, A6): anyone using
//! a resource reports a problem with it or with specific records; the
//! owning department verifies and answers within a number of working days;
//! the raiser accepts the answer or disputes it once more.
//!
//! The state machine names who may take each step, so that a raiser cannot
//! answer their own ticket and a department cannot close one for the
//! raiser.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};

/// What the raiser asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// 数据纠错: the data is wrong and should be corrected.
    Correction,
    /// 异议: the raiser disputes records (e.g. about themselves or their
    /// organisation) and asks for verification.
    Objection,
}

impl TicketKind {
    pub const ALL: [TicketKind; 2] = [TicketKind::Correction, TicketKind::Objection];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Correction => "correction",
            TicketKind::Objection => "objection",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "kind",
                    format!("unknown ticket kind '{s}': correction or objection"),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Raised; the department has not yet taken it up (the clock runs).
    Open,
    /// The department is verifying (核实中; the clock runs).
    Verifying,
    /// The department answered; the raiser accepts or disputes.
    Answered,
    /// Finished: the raiser accepted the answer.
    Closed,
    /// The raiser withdrew it before an answer.
    Withdrawn,
}

impl TicketState {
    pub const ALL: [TicketState; 5] = [
        TicketState::Open,
        TicketState::Verifying,
        TicketState::Answered,
        TicketState::Closed,
        TicketState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Verifying => "verifying",
            TicketState::Answered => "answered",
            TicketState::Closed => "closed",
            TicketState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown ticket state '{s}'")))
    }

    /// The department owes an answer (the deadline applies).
    pub fn awaits_department(self) -> bool {
        matches!(self, TicketState::Open | TicketState::Verifying)
    }
}

/// The department's finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The data was wrong and has been (or will be, in the next version)
    /// corrected.
    Corrected,
    /// Verified as correct; nothing changes (异议不成立).
    Unfounded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Corrected => "corrected",
            Outcome::Unfounded => "unfounded",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "corrected" => Ok(Outcome::Corrected),
            "unfounded" => Ok(Outcome::Unfounded),
            _ => Err(DomainError::invalid(
                "outcome",
                format!("unknown outcome '{s}': corrected or unfounded"),
            )),
        }
    }
}

/// Who takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The owning department.
    Owner,
    /// The organisation that raised the ticket.
    Raiser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    /// The department takes the ticket up for verification.
    Acknowledge,
    /// The department answers with its finding.
    Answer,
    /// The raiser accepts the answer.
    Accept,
    /// The raiser disputes the answer; verification starts again with a
    /// new deadline. Allowed [`MAX_DISPUTES`] times.
    Dispute,
    /// The raiser withdraws the ticket before it is answered.
    Withdraw,
}

/// How often a raiser may dispute an answer.
pub const MAX_DISPUTES: i64 = 1;

impl TicketAction {
    pub const ALL: [TicketAction; 5] = [
        TicketAction::Acknowledge,
        TicketAction::Answer,
        TicketAction::Accept,
        TicketAction::Dispute,
        TicketAction::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketAction::Acknowledge => "acknowledge",
            TicketAction::Answer => "answer",
            TicketAction::Accept => "accept",
            TicketAction::Dispute => "dispute",
            TicketAction::Withdraw => "withdraw",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "action",
                    format!(
                        "unknown action '{s}': acknowledge, answer, accept, dispute or withdraw"
                    ),
                )
            })
    }

    /// Who may take this step.
    pub fn party(self) -> Party {
        match self {
            TicketAction::Acknowledge | TicketAction::Answer => Party::Owner,
            TicketAction::Accept | TicketAction::Dispute | TicketAction::Withdraw => Party::Raiser,
        }
    }

    /// Whether the step restarts the department's working-day clock.
    pub fn restarts_clock(self) -> bool {
        self == TicketAction::Dispute
    }
}

impl TicketState {
    /// The one transition function: `party` takes `action` on a ticket in
    /// this state that has been disputed `disputes` times.
    pub fn apply(
        self,
        action: TicketAction,
        party: Party,
        disputes: i64,
    ) -> Result<Self, DomainError> {
        use TicketAction as A;
        use TicketState as S;
        if action.party() != party {
            let who = match action.party() {
                Party::Owner => "the owning department",
                Party::Raiser => "the organisation that raised the ticket",
            };
            return Err(DomainError::forbidden(format!(
                "only {who} may {} this ticket",
                action.as_str()
            )));
        }
        match (self, action) {
            (S::Open, A::Acknowledge) => Ok(S::Verifying),
            (S::Open | S::Verifying, A::Answer) => Ok(S::Answered),
            (S::Answered, A::Accept) => Ok(S::Closed),
            (S::Answered, A::Dispute) if disputes < MAX_DISPUTES => Ok(S::Verifying),
            (S::Answered, A::Dispute) => Err(DomainError::new(
                ErrorCode::Conflict,
                "the answer was already disputed once; take it to the data authority",
            )),
            (S::Open | S::Verifying, A::Withdraw) => Ok(S::Withdrawn),
            (s, a) => Err(DomainError::new(
                ErrorCode::Conflict,
                format!("cannot {} a ticket in state '{}'", a.as_str(), s.as_str()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_action_and_party() {
        use TicketAction as A;
        use TicketState as S;
        for s in S::ALL {
            for a in A::ALL {
                for party in [Party::Owner, Party::Raiser] {
                    for disputes in [0, MAX_DISPUTES] {
                        let got = s.apply(a, party, disputes);
                        let expected = if party != a.party() {
                            Err(ErrorCode::Forbidden)
                        } else {
                            match (s, a) {
                                (S::Open, A::Acknowledge) => Ok(S::Verifying),
                                (S::Open | S::Verifying, A::Answer) => Ok(S::Answered),
                                (S::Answered, A::Accept) => Ok(S::Closed),
                                (S::Answered, A::Dispute) if disputes == 0 => Ok(S::Verifying),
                                (S::Open | S::Verifying, A::Withdraw) => Ok(S::Withdrawn),
                                _ => Err(ErrorCode::Conflict),
                            }
                        };
                        assert_eq!(
                            got.map_err(|e| e.code),
                            expected,
                            "{s:?} {a:?} {party:?} {disputes}"
                        );
                    }
                }
            }
            assert_eq!(S::parse(s.as_str()), Ok(s));
        }
        for a in A::ALL {
            assert_eq!(A::parse(a.as_str()), Ok(a));
        }
        assert!(A::parse("close").is_err());
        assert!(S::Open.awaits_department() && S::Verifying.awaits_department());
        assert!(!S::Answered.awaits_department());
        assert_eq!(TicketKind::parse("objection"), Ok(TicketKind::Objection));
        assert!(TicketKind::parse("complaint").is_err());
        assert_eq!(Outcome::parse("unfounded"), Ok(Outcome::Unfounded));
    }
}
