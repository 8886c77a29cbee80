//! Catalogue workflows as explicit state machines: grading versions (分级
//!确认), negative-list entries (负面清单) and sharing consents (共享同意).
//! Each has one transition function; illegal transitions return a typed
//! error and leave the state as it was.

use serde::{Deserialize, Serialize};

use crate::catalogue::Grade;
use crate::error::{DomainError, ErrorCode};

/// State of one grading version of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GradingState {
    /// Proposed by the owning department; awaits the data authority
    /// (important and core grades only).
    Proposed,
    /// In force.
    Confirmed,
    /// Refused by the data authority; the previous version stays in force.
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GradingAction {
    Confirm,
    Reject,
}

impl GradingState {
    pub const ALL: [GradingState; 3] = [
        GradingState::Proposed,
        GradingState::Confirmed,
        GradingState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GradingState::Proposed => "proposed",
            GradingState::Confirmed => "confirmed",
            GradingState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown grading state '{s}'")))
    }

    /// The state a new grading version starts in: general grades take effect
    /// on the owner's word; important and core wait for the data authority.
    pub fn initial(resource_grade: Grade) -> Self {
        if resource_grade.needs_confirmation() {
            GradingState::Proposed
        } else {
            GradingState::Confirmed
        }
    }

    pub fn apply(self, action: GradingAction) -> Result<Self, DomainError> {
        match (self, action) {
            (GradingState::Proposed, GradingAction::Confirm) => Ok(GradingState::Confirmed),
            (GradingState::Proposed, GradingAction::Reject) => Ok(GradingState::Rejected),
            (s, a) => Err(illegal(s.as_str(), &format!("{a:?}").to_lowercase())),
        }
    }
}

/// State of a negative-list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NegativeState {
    /// Requested by the owning department with its legal basis.
    Requested,
    /// Approved: the resource is kept out of authorized operation.
    Approved,
    /// Refused by the data authority.
    Rejected,
    /// Withdrawn by the department before a decision, or lifted after approval.
    Withdrawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NegativeAction {
    Approve,
    Reject,
    Withdraw,
}

impl NegativeState {
    pub const ALL: [NegativeState; 4] = [
        NegativeState::Requested,
        NegativeState::Approved,
        NegativeState::Rejected,
        NegativeState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NegativeState::Requested => "requested",
            NegativeState::Approved => "approved",
            NegativeState::Rejected => "rejected",
            NegativeState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown negative-list state '{s}'")))
    }

    /// Whether an entry in this state keeps its resource out of operation.
    pub fn excludes(self) -> bool {
        self == NegativeState::Approved
    }

    pub fn apply(self, action: NegativeAction) -> Result<Self, DomainError> {
        use NegativeAction as A;
        use NegativeState as S;
        match (self, action) {
            (S::Requested, A::Approve) => Ok(S::Approved),
            (S::Requested, A::Reject) => Ok(S::Rejected),
            (S::Requested | S::Approved, A::Withdraw) => Ok(S::Withdrawn),
            (s, a) => Err(illegal(s.as_str(), &format!("{a:?}").to_lowercase())),
        }
    }
}

/// A providing department's answer on shared data (A4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    Granted,
    Refused,
}

impl Consent {
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Granted => "granted",
            Consent::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "granted" => Ok(Consent::Granted),
            "refused" => Ok(Consent::Refused),
            _ => Err(DomainError::invalid(
                "consent",
                format!("unknown consent '{s}'"),
            )),
        }
    }
}

fn illegal(state: &str, action: &str) -> DomainError {
    DomainError::new(
        ErrorCode::Conflict,
        format!("cannot {action} in state '{state}'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_every_state_and_action() {
        for s in GradingState::ALL {
            for a in [GradingAction::Confirm, GradingAction::Reject] {
                let r = s.apply(a);
                match (s, a) {
                    (GradingState::Proposed, GradingAction::Confirm) => {
                        assert_eq!(r, Ok(GradingState::Confirmed))
                    }
                    (GradingState::Proposed, GradingAction::Reject) => {
                        assert_eq!(r, Ok(GradingState::Rejected))
                    }
                    _ => assert_eq!(
                        r.map_err(|e| e.code),
                        Err(ErrorCode::Conflict),
                        "{s:?} {a:?}"
                    ),
                }
            }
        }
        assert_eq!(
            GradingState::initial(Grade::General4),
            GradingState::Confirmed
        );
        assert_eq!(
            GradingState::initial(Grade::Important),
            GradingState::Proposed
        );
        assert_eq!(GradingState::initial(Grade::Core), GradingState::Proposed);
    }

    #[test]
    fn negative_list_every_state_and_action() {
        use NegativeAction as A;
        use NegativeState as S;
        for s in S::ALL {
            for a in [A::Approve, A::Reject, A::Withdraw] {
                let expected = match (s, a) {
                    (S::Requested, A::Approve) => Some(S::Approved),
                    (S::Requested, A::Reject) => Some(S::Rejected),
                    (S::Requested | S::Approved, A::Withdraw) => Some(S::Withdrawn),
                    _ => None,
                };
                assert_eq!(s.apply(a).ok(), expected, "{s:?} {a:?}");
            }
            assert_eq!(S::parse(s.as_str()), Ok(s));
        }
        assert!(S::Approved.excludes());
        assert!(!S::Requested.excludes());
    }
}
