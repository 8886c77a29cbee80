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
//! fields; the minimum-count rule (`kcheck.rs`) withholds rows about too
//! few persons or enterprises. Limits on memory, time and result rows
//! stop runaway queries, and a [`CancelHandle`] stops a suspended
//! agreement's queries. Every result carries its [`AuditFacts`].

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
