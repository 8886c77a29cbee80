//! The release review (出域审核, C3): a result leaves the domain only after
//! two reviewers of the implementing institution, neither of them its
//! author, approve it. One transition function decides every step, given
//! who acts.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Requested by the operator, no approval yet.
    Requested,
    /// One reviewer approved; a second, different one must.
    Approved1,
    /// Two reviewers approved: the output may be downloaded or used in a
    /// product.
    Approved,
    /// A reviewer refused (with reasons).
    Rejected,
    /// The author withdrew it before the decision.
    Withdrawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseAction {
    Approve,
    Reject,
    Withdraw,
}

impl ReleaseState {
    pub const ALL: [ReleaseState; 5] = [
        ReleaseState::Requested,
        ReleaseState::Approved1,
        ReleaseState::Approved,
        ReleaseState::Rejected,
        ReleaseState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Requested => "requested",
            ReleaseState::Approved1 => "approved1",
            ReleaseState::Approved => "approved",
            ReleaseState::Rejected => "rejected",
            ReleaseState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown release state '{s}'")))
    }

    /// Whether the output may leave the domain.
    pub fn released(self) -> bool {
        self == ReleaseState::Approved
    }

    /// The one transition function. `actor` takes `action`; `author` made
    /// the request; `first` approved it first, if anyone did; `reviewer`
    /// says whether the actor may review releases (the implementing
    /// institution's staff).
    pub fn apply(
        self,
        action: ReleaseAction,
        actor: i64,
        author: i64,
        first: Option<i64>,
        reviewer: bool,
    ) -> DomainResult<ReleaseState> {
        use ReleaseAction as A;
        use ReleaseState as S;
        let pending = matches!(self, S::Requested | S::Approved1);
        match action {
            A::Withdraw => {
                if actor != author {
                    Err(DomainError::forbidden(
                        "only the author withdraws a release request",
                    ))
                } else if pending {
                    Ok(S::Withdrawn)
                } else {
                    Err(illegal(self, action))
                }
            }
            A::Approve | A::Reject if !reviewer => Err(DomainError::forbidden(
                "release requests are reviewed by the implementing institution",
            )),
            A::Approve | A::Reject if actor == author => Err(DomainError::forbidden(
                "the author of an output cannot review its release",
            )),
            A::Approve => match self {
                S::Requested => Ok(S::Approved1),
                S::Approved1 if first == Some(actor) => Err(DomainError::forbidden(
                    "a second, different reviewer must approve",
                )),
                S::Approved1 => Ok(S::Approved),
                _ => Err(illegal(self, action)),
            },
            A::Reject if pending => Ok(S::Rejected),
            A::Reject => Err(illegal(self, action)),
        }
    }
}

fn illegal(s: ReleaseState, a: ReleaseAction) -> DomainError {
    DomainError::new(
        ErrorCode::Conflict,
        format!("a release request that is {} cannot be {a:?}d", s.as_str()).to_lowercase(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReleaseAction as A;
    use ReleaseState as S;

    const AUTHOR: i64 = 1;
    const R1: i64 = 2;
    const R2: i64 = 3;

    /// Every state × action × actor (author, first reviewer, second
    /// reviewer, a non-reviewer).
    #[test]
    fn every_state_action_and_actor() {
        for s in S::ALL {
            let first = (s == S::Approved1).then_some(R1);
            for a in [A::Approve, A::Reject, A::Withdraw] {
                for (actor, reviewer) in [(AUTHOR, false), (R1, true), (R2, true), (9, false)] {
                    let got = s.apply(a, actor, AUTHOR, first, reviewer);
                    let pending = matches!(s, S::Requested | S::Approved1);
                    let want: Result<S, ErrorCode> = match (a, actor) {
                        (A::Withdraw, AUTHOR) if pending => Ok(S::Withdrawn),
                        (A::Withdraw, AUTHOR) => Err(ErrorCode::Conflict),
                        (A::Withdraw, _) => Err(ErrorCode::Forbidden),
                        (_, AUTHOR) | (_, 9) => Err(ErrorCode::Forbidden),
                        (A::Reject, _) if pending => Ok(S::Rejected),
                        (A::Reject, _) => Err(ErrorCode::Conflict),
                        (A::Approve, _) if s == S::Requested => Ok(S::Approved1),
                        (A::Approve, R1) if s == S::Approved1 => Err(ErrorCode::Forbidden),
                        (A::Approve, _) if s == S::Approved1 => Ok(S::Approved),
                        (A::Approve, _) => Err(ErrorCode::Conflict),
                    };
                    assert_eq!(got.map_err(|e| e.code), want, "{s:?} {a:?} by {actor}");
                }
            }
        }
    }

    #[test]
    fn two_different_reviewers_release() {
        let s = S::Requested
            .apply(A::Approve, R1, AUTHOR, None, true)
            .expect("first");
        assert!(!s.released());
        let s = s
            .apply(A::Approve, R2, AUTHOR, Some(R1), true)
            .expect("second");
        assert!(s.released());
        for st in S::ALL {
            assert_eq!(S::parse(st.as_str()).expect("parse"), st);
        }
    }
}
