//! The secure workspace's rules that need no query engine (C3, C5): the
//! output checks every result passes before an operator sees it
//! ([`checks`]: minimum units, dominance, the p% rule, rounding, totals
//! without suppressed cells), differencing between results of a scenario
//! ([`differencing`]), differential privacy with a budget per agreement
//! ([`privacy`]), and the two-person review of a release out of the domain
//! ([`release`]). The engine (DataFusion) computes the statistics these
//! functions judge; nothing here sees a raw value.

pub mod checks;
pub mod differencing;
pub mod privacy;
pub mod release;

pub use checks::{CellStats, OutputPolicy, Suppression};
pub use differencing::UnitSet;
pub use privacy::{Budget, Epsilon, Mechanism};
pub use release::{ReleaseAction, ReleaseState};
