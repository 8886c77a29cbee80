//! A locked-down workspace session for one (operator, scenario): the
//! in-scope tables behind the guard, one SQL query per request, a curated
//! function registry, limits, a cancellation handle, output checks and the
//! audit facts of every query.
//!
//! [`Workspace::run`] and [`Workspace::run_gated`] run a query under the
//! agreement's [`OutputPolicy`]; [`Workspace::run_with`] adds the per-query
//! [`RunOptions`]: the scenario's result history (differencing) and
//! differential-privacy noise. With noise, the caller checks the
//! agreement's budget for `NoiseSpec::epsilon` before running and charges
//! [`AuditFacts::epsilon`] after (it is `None` when no noise was added).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::resolve_grouping_function::ResolveGroupingFunction;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use futures::StreamExt;
use shuyun_domain::workspace::checks::OutputPolicy;
use shuyun_domain::workspace::differencing::ReleasedCell;
use shuyun_domain::workspace::{Epsilon, Suppression, UnitDigestKey};
use sm3::{Digest, Sm3};

use crate::checks::{CellReport, CheckPlanner, NoiseApplied, RunOptions, SuppressedBy};
use crate::error::{ErrorCode, WorkspaceError, WorkspaceResult, from_execution, from_planning};
use crate::functions;
use crate::guard::Guard;
use crate::kcheck::{CheckSetup, UnitCheck, plan_unit_check};
use crate::lineage::{check_output, group_keys, touched};
use crate::pseudonym::{PseudonymKey, pseudonym_udf};
use crate::table::{Guarded, GuardedTable, TableSpec, TableStores, VisibleTable, build};
use crate::units::{DigestKind, digest_udf};

/// The catalog and schema the operator's tables live in; nothing else
/// exists.
pub const CATALOG: &str = "shuyun";
pub const SCHEMA: &str = "workspace";

/// Limits and thresholds of a session.
#[derive(Debug, Clone)]
pub struct WorkspaceConfig {
    /// The agreement's output-checking policy: minimum distinct units per
    /// released cell (k), dominance, p% rule, count rounding.
    pub policy: OutputPolicy,
    /// Memory one query may use, in bytes. Nothing spills to disk.
    pub memory_limit: usize,
    /// Wall time one query may take, planning included.
    pub time_limit: Duration,
    /// Most rows a result may have before the checks (for an aggregate
    /// over unit-level tables: most cells it may produce).
    pub max_result_rows: usize,
    /// Parallelism of one query.
    pub target_partitions: usize,
    /// The platform's unit digest key, which ingest stored digests with
    /// (see `shuyun_domain::workspace::unit_digest`). The default is a
    /// random key: stored digests are then not used, and the checks
    /// compute the digests themselves.
    pub unit_digest_key: UnitDigestKey,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            policy: OutputPolicy::default(),
            memory_limit: 256 * 1024 * 1024,
            time_limit: Duration::from_secs(60),
            max_result_rows: 10_000,
            target_partitions: 2,
            unit_digest_key: UnitDigestKey::from_bytes(rand::random()),
        }
    }
}

/// Cancels a session's running queries, and refuses its next ones (an
/// agreement suspended, a scenario withdrawn). Clone it freely.
#[derive(Debug, Clone)]
pub struct CancelHandle(Arc<tokio::sync::watch::Sender<bool>>);

impl CancelHandle {
    fn new() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }

    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
}

/// What the output checks did (shown to the operator as JSON; counts and
/// rules, never values).
///
/// For a result that is an aggregate over person- or enterprise-level
/// tables, the checks judge the aggregate's rows (cells) before anything
/// the query does with them: `rows_produced` counts those cells,
/// `rows_suppressed` those withheld, `rows_released` the rows of the
/// final result (after `HAVING`, `LIMIT`…). For a result that is not an
/// aggregate over unit-level tables all rows are withheld; for one that
/// reads no unit-level table all are released.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    /// The k applied.
    pub min_units: u64,
    /// Rows (cells) the query produced.
    pub rows_produced: usize,
    /// Rows released to the operator.
    pub rows_released: usize,
    /// Rows withheld.
    pub rows_suppressed: usize,
    /// Cells withheld by rule (`too_few_units`, `dominance`, `p_rule`,
    /// `differencing`), each under the first rule it broke.
    pub suppressed: SuppressedBy,
    /// Totals of `GROUPING SETS`/`ROLLUP`/`CUBE` withheld because every
    /// part of them was withheld (included in `rows_suppressed`).
    pub totals_withheld: usize,
    /// Totals recomputed from their published parts, because a part was
    /// withheld: counts and sums are the sums of the published parts; other
    /// aggregates of those rows (means, distinct counts, min/max…) are
    /// withheld (NULL).
    pub totals_recomputed: usize,
    /// The multiple counts were rounded to, if they were.
    pub rounded_to: Option<u32>,
    /// The noise added (differential privacy), if any.
    pub noise: Option<NoiseApplied>,
    /// Why rows were withheld or changed, in words (no values).
    pub reasons: Vec<String>,
}

/// What a query's plan reads and how its result is keyed, known before it
/// runs: the caller's gate (the linkage check, C5) decides on these.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanFacts {
    /// Resource codes read.
    pub resources: Vec<String>,
    /// `table.field` read (output, filters, joins, row filters).
    pub fields: Vec<String>,
    /// The result has a row per person or enterprise: it is not an
    /// aggregate, and it reads unit-level tables.
    pub unit_level: bool,
    /// `table.field`s the result's aggregate is grouped by.
    pub group_keys: Vec<String>,
}

/// The facts of one query, for the caller to write to the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditFacts {
    pub sql: String,
    /// SM3 (hex) of the optimized logical plan's indented display.
    pub plan_fingerprint: String,
    /// Resource codes read.
    pub resources: Vec<String>,
    /// `table.field` read (output, filters, joins, row filters).
    pub fields: Vec<String>,
    /// Rows read from storage.
    pub rows_scanned: u64,
    /// See [`PlanFacts::unit_level`].
    pub unit_level: bool,
    /// See [`PlanFacts::group_keys`].
    pub group_keys: Vec<String>,
    /// SM3 (hex) of the released rows (tab-separated text, one line each).
    pub result_sm3: String,
    pub check: CheckOutcome,
    /// The privacy loss of the query when noise was added: the caller
    /// charges it to the agreement's budget.
    pub epsilon: Option<Epsilon>,
}

/// A released result.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub audit: AuditFacts,
    /// The cells this query added to the scenario's differencing history
    /// ([`RunOptions::history`]), for the caller to keep with the query's
    /// record so that the history outlives the process.
    pub released: Vec<ReleasedCell>,
}

impl QueryOutput {
    /// The column names.
    pub fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The released rows as display text.
    pub fn rows(&self) -> Vec<Vec<String>> {
        rows_text(&self.batches)
    }
}

fn rows_text(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .filter_map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).ok())
            .collect();
        for r in 0..b.num_rows() {
            out.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

/// The secure workspace (数据沙箱) of one operator in one scenario.
#[derive(Debug)]
pub struct Workspace {
    tables: Vec<Arc<Guarded>>,
    stores: Arc<TableStores>,
    guard: Arc<Guard>,
    /// The keyed digest of units (keys derived from the pseudonym key).
    digest: Arc<datafusion::logical_expr::ScalarUDF>,
    raw_digest: Arc<datafusion::logical_expr::ScalarUDF>,
    /// The agreement's digest keys (derived from the pseudonym key).
    agreement: (u64, u64),
    config: WorkspaceConfig,
    cancel: CancelHandle,
}

impl Workspace {
    /// A session over `tables` with the agreement's pseudonym key.
    pub fn open(
        tables: Vec<TableSpec>,
        key: PseudonymKey,
        config: WorkspaceConfig,
    ) -> WorkspaceResult<Self> {
        let stores = Arc::new(TableStores::default());
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, spec) in tables.iter().enumerate() {
            if !names.insert(spec.name.clone()) {
                return Err(WorkspaceError::invalid_table(format!(
                    "two tables are named '{}'",
                    spec.name
                )));
            }
            out.push(Arc::new(build(i, spec, &stores)?));
        }
        let (agreement, platform) = (key.digest_keys(), config.unit_digest_key);
        Ok(Self {
            tables: out,
            stores,
            digest: digest_udf(agreement, platform, DigestKind::Value),
            raw_digest: digest_udf(agreement, platform, DigestKind::Raw),
            agreement,
            guard: Arc::new(Guard {
                pseudonym: pseudonym_udf(key),
            }),
            config,
            cancel: CancelHandle::new(),
        })
    }

    /// What the operator may see: tables, fields, grades and exposure.
    pub fn tables(&self) -> Vec<VisibleTable> {
        self.tables.iter().map(|g| g.view.clone()).collect()
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    fn context(&self) -> WorkspaceResult<SessionContext> {
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(self.config.memory_limit),
            std::num::NonZeroUsize::new(3).expect("3 is not zero"),
        );
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .with_object_store_registry(self.stores.clone())
            .build_arc()
            .map_err(|e| WorkspaceError::internal(format!("runtime: {e}")))?;
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(false)
            .with_target_partitions(self.config.target_partitions.max(1));
        let planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(datafusion::functions::core::planner::CoreFunctionPlanner::default()),
            Arc::new(datafusion::functions::datetime::planner::DatetimeFunctionPlanner),
            Arc::new(datafusion::functions::unicode::planner::UnicodeFunctionPlanner),
            Arc::new(datafusion::functions_aggregate::planner::AggregateFunctionPlanner),
            Arc::new(datafusion::functions_window::planner::WindowFunctionPlanner),
        ];
        let rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![
            self.guard.clone(),
            Arc::new(ResolveGroupingFunction::new()),
            Arc::new(TypeCoercion::new()),
        ];
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_analyzer_rules(rules)
            .with_expr_planners(planners)
            .with_scalar_functions(functions::scalar_functions())
            .with_aggregate_functions(functions::aggregate_functions())
            .with_window_functions(functions::window_functions())
            .build();
        let ctx = SessionContext::new_with_state(state);
        for g in &self.tables {
            ctx.register_table(g.view.name.as_str(), Arc::new(GuardedTable(g.clone())))
                .map_err(|e| WorkspaceError::internal(format!("register: {e}")))?;
        }
        Ok(ctx)
    }

    /// Run one SQL query under the session's rules and limits.
    pub async fn run(&self, sql: &str) -> WorkspaceResult<QueryOutput> {
        self.run_gated(sql, |_| Ok(())).await
    }

    /// Run one SQL query, first asking `gate` about its plan: an error
    /// from the gate stops the query before it reads any data.
    pub async fn run_gated(
        &self,
        sql: &str,
        gate: impl FnOnce(&PlanFacts) -> WorkspaceResult<()> + Send,
    ) -> WorkspaceResult<QueryOutput> {
        self.run_with(sql, gate, RunOptions::default()).await
    }

    /// Run one SQL query with per-query options: the scenario's
    /// [`ResultHistory`](crate::ResultHistory) (differencing protection;
    /// the released cells are added to it) and [`NoiseSpec`](crate::NoiseSpec)
    /// (differential privacy; the ε spent is in
    /// [`AuditFacts::epsilon`]). `gate` is asked about the plan first, as
    /// in [`Workspace::run_gated`].
    pub async fn run_with(
        &self,
        sql: &str,
        gate: impl FnOnce(&PlanFacts) -> WorkspaceResult<()> + Send,
        options: RunOptions,
    ) -> WorkspaceResult<QueryOutput> {
        if self.cancel.is_cancelled() {
            return Err(WorkspaceError::new(
                ErrorCode::Cancelled,
                "this workspace was closed (the agreement or scenario was suspended)",
            ));
        }
        let mut rx = self.cancel.0.subscribe();
        let limit = self.config.time_limit;
        tokio::select! {
            biased;
            _ = rx.wait_for(|c| *c) => Err(WorkspaceError::new(
                ErrorCode::Cancelled,
                "the query was cancelled (the agreement or scenario was suspended)",
            )),
            _ = tokio::time::sleep(limit) => Err(WorkspaceError::limit(format!(
                "the query ran longer than its time limit of {} s and was stopped",
                limit.as_secs_f64()
            ))),
            r = self.run_inner(sql, gate, options) => r,
        }
    }

    async fn run_inner(
        &self,
        sql: &str,
        gate: impl FnOnce(&PlanFacts) -> WorkspaceResult<()>,
        options: RunOptions,
    ) -> WorkspaceResult<QueryOutput> {
        let ctx = self.context()?;
        let state = ctx.state();
        let plan = self.plan(&state, sql).await?;
        // The guard first (the output checks' rewrite follows units from
        // below its masks); the optimizer runs the analyzer again, which
        // leaves a guarded plan as it is.
        let plan = state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})
            .map_err(from_planning)?;
        let setup = CheckSetup {
            tables: &self.tables,
            policy: self.config.policy,
            max_cells: self.config.max_result_rows,
            digest: self.digest.clone(),
            raw_digest: self.raw_digest.clone(),
            agreement: self.agreement,
            history: options.history,
            noise: options.noise,
        };
        let (plan, unit_check) = plan_unit_check(plan, &setup)?;
        let visible = plan.schema().fields().len();
        let optimized = state.optimize(&plan).map_err(from_planning)?;
        check_output(&optimized, &self.tables, visible)?;
        let fingerprint = hex::encode(Sm3::digest(
            optimized.display_indent().to_string().as_bytes(),
        ));
        let touched = touched(&optimized, &self.tables);
        let mut resources = BTreeSet::new();
        let mut fields = Vec::new();
        for (t, fs) in &touched {
            let g = &self.tables[*t];
            resources.insert(g.view.resource.clone());
            fields.extend(fs.iter().map(|f| format!("{}.{f}", g.view.name)));
        }
        let facts = PlanFacts {
            resources: resources.into_iter().collect(),
            fields,
            unit_level: matches!(unit_check, UnitCheck::RowLevel),
            group_keys: group_keys(&optimized, &self.tables).into_iter().collect(),
        };
        gate(&facts)?;

        let physical =
            DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(CheckPlanner)])
                .create_physical_plan(&optimized, &state)
                .await
                .map_err(from_planning)?;
        let failed = |e: datafusion::error::DataFusionError| match &unit_check {
            UnitCheck::Cells(c) => match c.take_report() {
                Some(Err(w)) => w,
                _ => from_execution(&e),
            },
            _ => from_execution(&e),
        };
        let mut stream = execute_stream(physical.clone(), state.task_ctx()).map_err(failed)?;
        let mut batches = Vec::new();
        let mut rows = 0usize;
        while let Some(b) = stream.next().await {
            let b = b.map_err(failed)?;
            rows += b.num_rows();
            if rows > self.config.max_result_rows {
                return Err(WorkspaceError::limit(format!(
                    "the result has more than {} rows; aggregate further",
                    self.config.max_result_rows
                )));
            }
            batches.push(b);
        }
        drop(stream);
        let rows_scanned = scanned_rows(physical.as_ref());

        let (batches, check, released) = self.apply_unit_check(batches, rows, &unit_check)?;
        let schema = Arc::new(
            optimized
                .schema()
                .as_arrow()
                .project(&(0..visible).collect::<Vec<_>>())
                .map_err(|e| WorkspaceError::internal(format!("schema: {e}")))?,
        );
        let mut h = Sm3::new();
        for r in rows_text(&batches) {
            h.update(r.join("\t").as_bytes());
            h.update(b"\n");
        }
        Ok(QueryOutput {
            schema,
            batches,
            audit: AuditFacts {
                sql: sql.to_string(),
                plan_fingerprint: fingerprint,
                resources: facts.resources,
                fields: facts.fields,
                rows_scanned,
                unit_level: facts.unit_level,
                group_keys: facts.group_keys,
                result_sm3: hex::encode(h.finalize()),
                epsilon: check.noise.as_ref().map(|n| n.epsilon),
                check,
            },
            released,
        })
    }

    /// Parse exactly one statement, accept only a query, plan it.
    async fn plan(&self, state: &SessionState, sql: &str) -> WorkspaceResult<LogicalPlan> {
        let mut stmts =
            DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(from_planning)?;
        if stmts.len() != 1 {
            return Err(WorkspaceError::not_allowed(format!(
                "send exactly one SQL statement per request (got {})",
                stmts.len()
            )));
        }
        let stmt = stmts
            .pop_front()
            .ok_or_else(|| WorkspaceError::internal("statement vanished"))?;
        match &stmt {
            DfStatement::Statement(s) if matches!(s.as_ref(), SqlStatement::Query(_)) => {}
            other => {
                return Err(WorkspaceError::not_allowed(format!(
                    "only queries (SELECT … / WITH …) run in the workspace; '{}' is refused",
                    statement_kind(other)
                )));
            }
        }
        let plan = state.statement_to_plan(stmt).await.map_err(|e| {
            let w = from_planning(e);
            if w.message.contains("table function") {
                WorkspaceError::not_allowed(
                    "table functions (reading files, generating rows) are not available",
                )
            } else {
                w
            }
        })?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| WorkspaceError::not_allowed(e.to_string()))?;
        match plan {
            LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::DescribeTable(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Extension(_) => Err(WorkspaceError::not_allowed(
                "only queries run in the workspace",
            )),
            p => Ok(p),
        }
    }

    fn apply_unit_check(
        &self,
        batches: Vec<RecordBatch>,
        rows: usize,
        check: &UnitCheck,
    ) -> WorkspaceResult<(Vec<RecordBatch>, CheckOutcome, Vec<ReleasedCell>)> {
        let policy = self.config.policy;
        let k = u64::from(policy.min_units);
        let mut outcome = CheckOutcome {
            min_units: k,
            rows_produced: rows,
            rows_released: rows,
            rows_suppressed: 0,
            suppressed: SuppressedBy::default(),
            totals_withheld: 0,
            totals_recomputed: 0,
            rounded_to: None,
            noise: None,
            reasons: Vec::new(),
        };
        match check {
            UnitCheck::None => Ok((batches, outcome, Vec::new())),
            UnitCheck::RowLevel => {
                let kept: Vec<RecordBatch> = batches.iter().map(|b| b.slice(0, 0)).collect();
                outcome.rows_released = 0;
                outcome.rows_suppressed = rows;
                outcome.suppressed.too_few_units = rows;
                if rows > 0 {
                    outcome.reasons.push(format!(
                        "{rows} row(s) withheld: the result is not an aggregate, so each row \
                         describes a single person or enterprise (fewer than {k} units)"
                    ));
                }
                Ok((kept, outcome, Vec::new()))
            }
            UnitCheck::Cells(cells) => {
                let report = match cells.take_report() {
                    Some(r) => r?,
                    // The optimizer removed the aggregate (nothing to check).
                    None => CellReport::default(),
                };
                outcome.rows_produced = report.cells;
                outcome.rows_suppressed = report.suppressed.total() + report.totals_withheld;
                outcome.suppressed = report.suppressed;
                outcome.totals_withheld = report.totals_withheld;
                outcome.totals_recomputed = report.totals_recomputed;
                outcome.rounded_to = report.rounded_to;
                outcome.reasons = reasons(&policy, &report);
                outcome.noise = report.noise;
                Ok((batches, outcome, report.released))
            }
        }
    }
}

/// The reasons of a check report, in words: rules and the policy's
/// numbers, never a cell's value or its number of units.
fn reasons(policy: &OutputPolicy, r: &CellReport) -> Vec<String> {
    let k = policy.min_units;
    let mut out = Vec::new();
    let s = &r.suppressed;
    if s.too_few_units > 0 {
        out.push(format!(
            "{} row(s) withheld: each aggregates fewer than {k} distinct persons or enterprises",
            s.too_few_units
        ));
    }
    if s.dominance > 0 {
        let rule = Suppression::Dominance {
            top: policy.dominance_top,
            max_pct: policy.dominance_pct,
        };
        out.push(format!(
            "{} row(s) withheld by the dominance rule: {rule}",
            s.dominance
        ));
    }
    if s.p_rule > 0 {
        let rule = Suppression::PRule {
            p_pct: policy.p_pct,
        };
        out.push(format!(
            "{} row(s) withheld by the p% rule: {rule}",
            s.p_rule
        ));
    }
    if s.differencing > 0 {
        out.push(format!(
            "{} row(s) withheld against differencing: each differs from an earlier result of \
             this scenario by fewer than {k} persons or enterprises",
            s.differencing
        ));
    }
    if r.totals_withheld > 0 {
        out.push(format!(
            "{} total row(s) withheld: every part of them was withheld",
            r.totals_withheld
        ));
    }
    if r.totals_recomputed > 0 {
        out.push(format!(
            "{} total row(s) recomputed from their published parts only (counts and sums); \
             their other aggregates are withheld (NULL)",
            r.totals_recomputed
        ));
    }
    if let Some(b) = r.rounded_to {
        out.push(format!("counts are rounded to a multiple of {b}"));
    }
    if let Some(n) = &r.noise {
        out.push(format!(
            "noise added ({}, ε = {} in total, {} per statistic over {} statistic(s), at most \
             {} row(s) per unit and cell): values are approximate",
            n.mechanism,
            n.epsilon.as_f64(),
            n.epsilon_per_statistic.as_f64(),
            n.statistics,
            n.rows_per_unit
        ));
    }
    out
}

fn statement_kind(s: &DfStatement) -> String {
    match s {
        DfStatement::Statement(s) => {
            let text = s.to_string();
            text.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase()
        }
        DfStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
        DfStatement::CopyTo(_) => "COPY".into(),
        DfStatement::Explain(_) => "EXPLAIN".into(),
        other => format!("{other}")
            .split_whitespace()
            .next()
            .unwrap_or("statement")
            .to_uppercase(),
    }
}

/// Rows read by the plan's data sources.
fn scanned_rows(plan: &dyn ExecutionPlan) -> u64 {
    let own = if plan.name() == "DataSourceExec" {
        plan.metrics()
            .and_then(|m| m.output_rows())
            .unwrap_or_default() as u64
    } else {
        0
    };
    own + plan
        .children()
        .into_iter()
        .map(|c| scanned_rows(c.as_ref()))
        .sum::<u64>()
}
