//! The secure workspace's rules that need no query engine (C3, C5): the
//! output checks every result passes before an operator sees it
//! ([`checks`]: minimum units, dominance, the p% rule, rounding, totals
//! without suppressed cells), differencing between results of a scenario
//! ([`differencing`]), differential privacy with a budget per agreement
//! ([`privacy`]), linkage risk across departments ([`linkage`]), and the
//! two-person review of a release out of the domain
//! ([`release`]). The engine (DataFusion) computes the statistics these
//! functions judge; nothing here sees a raw value.

pub mod checks;
pub mod differencing;
pub mod linkage;
pub mod privacy;
pub mod release;
pub mod unit_digest;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

pub use checks::{CellStats, OutputPolicy, Suppression};
pub use differencing::{ReleasedCell, SketchBank, UnitSet, UnitSketch};
pub use privacy::{Budget, Epsilon, Mechanism};
pub use release::{ReleaseAction, ReleaseState};
pub use unit_digest::UnitDigestKey;

/// What became of a query, as audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueryOutcome {
    /// Every cell passed the output checks and was shown.
    Shown,
    /// Shown with some cells suppressed (the detail says which and why).
    PartlySuppressed,
    /// Refused before or after running (out of scope, restricted output,
    /// parse error, budget spent …).
    Refused,
    /// Cancelled: over a limit, or the agreement was suspended.
    Cancelled,
    /// Stopped as a linkage risk and reported to the implementing
    /// institution (C5).
    LinkageStopped,
}

impl QueryOutcome {
    pub const ALL: [QueryOutcome; 5] = [
        QueryOutcome::Shown,
        QueryOutcome::PartlySuppressed,
        QueryOutcome::Refused,
        QueryOutcome::Cancelled,
        QueryOutcome::LinkageStopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueryOutcome::Shown => "shown",
            QueryOutcome::PartlySuppressed => "partly_suppressed",
            QueryOutcome::Refused => "refused",
            QueryOutcome::Cancelled => "cancelled",
            QueryOutcome::LinkageStopped => "linkage_stopped",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown query outcome '{s}'")))
    }

    /// Whether the operator saw a result (that may then be asked out).
    pub fn showed_result(self) -> bool {
        matches!(self, QueryOutcome::Shown | QueryOutcome::PartlySuppressed)
    }
}
