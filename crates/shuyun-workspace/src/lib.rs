//! The secure workspace (数据沙箱, C1–C3): operators compute over authorized
//! data with SQL and never see raw rows. This is the only crate that knows
//! Apache DataFusion.
//!
//! A [`Workspace`] is opened per (operator, scenario) from its in-scope
//! tables ([`TableSpec`]: schema with grades and PI tags, the Parquet
//! objects of the current version, the allowance of `scope::decide`) and
//! the agreement's [`PseudonymKey`]. Each query is one SQL statement,
//! planned in a session of its own: only the session's tables exist (a
//! catalog of our own, no information schema), only curated functions,
//! no DDL, DML, `COPY`, `SET` or table functions. The guard (`guard.rs`)
//! puts the row filter and the masks directly above every scan; the
//! lineage check (`lineage.rs`) refuses outputs that show restricted
//! fields; the output checks (`kcheck.rs` plans them, `checks.rs` runs
//! them) judge every released cell. Limits on memory, time and result rows
//! stop runaway queries, and a [`CancelHandle`] stops a suspended
//! agreement's queries. Every result carries its [`AuditFacts`].
//!
//! # Output checks (C3)
//!
//! A result over person- or enterprise-level tables (tables with a
//! [`TableSpec::unit`]) is released only as cells of an aggregate. The
//! checks run inside the plan, directly above the result's aggregate, so
//! that `HAVING`, arithmetic, ordering and limits only ever see checked,
//! rounded (and, if asked, noisy) cells. Under the agreement's
//! [`OutputPolicy`](shuyun_domain::workspace::OutputPolicy)
//! ([`WorkspaceConfig::policy`]):
//!
//! - **minimum units**: a cell with fewer than `min_units` distinct units
//!   (per unit column: a join of two unit-level tables counts both) is
//!   withheld; a result that is not an aggregate is withheld entirely;
//! - **dominance and p% rule**: for every `SUM`/`AVG` in the aggregate, the
//!   engine computes each unit's contribution to each cell (its sum within
//!   the cell), and the largest two against the total; these hidden
//!   aggregates are only added when the query has such a column;
//! - **rounding**: `COUNT(*)`, `COUNT(x)` and `COUNT(DISTINCT x)` are rounded
//!   to a multiple of `round_counts_to`;
//! - **totals**: under `GROUPING SETS`, `ROLLUP` or `CUBE`, a total whose
//!   parts include a withheld cell is recomputed from the published parts
//!   (counts and sums); its other aggregates are withheld (NULL); a total
//!   whose parts are all withheld is withheld;
//! - **differencing**: with a [`ResultHistory`] in [`RunOptions`], each cell's
//!   units — a constant-size sketch of 64-bit digests keyed by the
//!   agreement's [`PseudonymKey`] — are compared with the scenario's
//!   earlier released cells; a cell whose
//!   population differs from an earlier one by fewer than k units on both
//!   sides ("all firms of a district", then "all but one") is withheld.
//!   Released cells are added to the history;
//! - **differential privacy**: with a [`NoiseSpec`] in [`RunOptions`], counts,
//!   sums and means get Laplace or Gaussian noise over per-unit bounded
//!   contributions; the ε spent is in [`AuditFacts::epsilon`] (see
//!   [`NoiseSpec`] for what is allowed and how ε is split).
//!
//! [`CheckOutcome`] tells the operator what happened: cells withheld per
//! rule, totals recomputed, rounding, noise, and reasons in words — never
//! a withheld value.
//!
//! # Calling it
//!
//! ```ignore
//! let ws = Workspace::open(tables, key, WorkspaceConfig { policy, ..Default::default() })?;
//! let out = ws.run("SELECT district, count(*) FROM persons GROUP BY district").await?;
//! // Per scenario, keep one history (persist it with serde) and pass it in:
//! let out = ws.run_with(sql, |facts| linkage_gate(facts), RunOptions {
//!     history: Some(history.clone()),
//!     noise: Some(NoiseSpec::new(Mechanism::Laplace, epsilon)),
//! }).await?;
//! if let Some(eps) = out.audit.epsilon { /* charge the agreement's budget */ }
//! ```

mod bridge;
mod checks;
mod error;
mod filter;
mod functions;
mod guard;
mod kcheck;
mod lineage;
mod pseudonym;
mod session;
mod table;
mod units;

pub use checks::{NoiseApplied, NoiseSpec, ResultHistory, RunOptions, SuppressedBy};
pub use error::{ErrorCode, WorkspaceError, WorkspaceResult};
pub use filter::{predicate_expr, row_filter_expr};
pub use functions::AGGREGATING;
pub use pseudonym::PseudonymKey;
pub use session::{
    AuditFacts, CATALOG, CancelHandle, CheckOutcome, PlanFacts, QueryOutput, SCHEMA, Workspace,
    WorkspaceConfig,
};
pub use table::{Exposure, TableSpec, VisibleField, VisibleTable};

/// DataFusion's Arrow, for callers that read the result batches.
pub use datafusion::arrow;
