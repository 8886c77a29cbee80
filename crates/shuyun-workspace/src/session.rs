//! A locked-down workspace session for one (operator, scenario): the
//! in-scope tables behind the guard, one SQL query per request, a curated
//! function registry, limits, a cancellation handle, output checks and the
//! audit facts of every query.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array};
use datafusion::arrow::compute::filter_record_batch;
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
use sm3::{Digest, Sm3};

use crate::error::{ErrorCode, WorkspaceError, WorkspaceResult, from_execution, from_planning};
use crate::functions;
use crate::guard::Guard;
use crate::kcheck::{UnitCheck, plan_unit_check};
use crate::lineage::{check_output, group_keys, touched};
use crate::pseudonym::{PseudonymKey, pseudonym_udf};
use crate::table::{Guarded, GuardedTable, TableSpec, TableStores, VisibleTable, build};

/// The catalog and schema the operator's tables live in; nothing else
/// exists.
pub const CATALOG: &str = "shuyun";
pub const SCHEMA: &str = "workspace";

/// Limits and thresholds of a session.
#[derive(Debug, Clone)]
pub struct WorkspaceConfig {
    /// Minimum distinct units per released row (k), per agreement.
    pub min_units: u64,
    /// Memory one query may use, in bytes. Nothing spills to disk.
    pub memory_limit: usize,
    /// Wall time one query may take, planning included.
    pub time_limit: Duration,
    /// Most rows a result may have before the checks.
    pub max_result_rows: usize,
    /// Parallelism of one query.
    pub target_partitions: usize,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            min_units: 10,
            memory_limit: 256 * 1024 * 1024,
            time_limit: Duration::from_secs(60),
            max_result_rows: 10_000,
            target_partitions: 2,
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

/// What the output checks did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    /// The k applied.
    pub min_units: u64,
    /// Rows the query produced.
    pub rows_produced: usize,
    /// Rows released to the operator.
    pub rows_released: usize,
    /// Rows withheld.
    pub rows_suppressed: usize,
    /// Why rows were withheld, in words (no values).
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
}

/// A released result.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub audit: AuditFacts,
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
        Ok(Self {
            tables: out,
            stores,
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
            r = self.run_inner(sql, gate) => r,
        }
    }

    async fn run_inner(
        &self,
        sql: &str,
        gate: impl FnOnce(&PlanFacts) -> WorkspaceResult<()>,
    ) -> WorkspaceResult<QueryOutput> {
        let ctx = self.context()?;
        let state = ctx.state();
        let plan = self.plan(&state, sql).await?;
        let (plan, unit_check) = plan_unit_check(plan, &self.tables)?;
        let visible = plan.schema().fields().len()
            - match unit_check {
                UnitCheck::Counted { hidden } => hidden,
                _ => 0,
            };
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
            unit_level: unit_check == UnitCheck::RowLevel,
            group_keys: group_keys(&optimized, &self.tables).into_iter().collect(),
        };
        gate(&facts)?;

        let physical = DefaultPhysicalPlanner::default()
            .create_physical_plan(&optimized, &state)
            .await
            .map_err(from_planning)?;
        let mut stream =
            execute_stream(physical.clone(), state.task_ctx()).map_err(|e| from_execution(&e))?;
        let mut batches = Vec::new();
        let mut rows = 0usize;
        while let Some(b) = stream.next().await {
            let b = b.map_err(|e| from_execution(&e))?;
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

        let (batches, check) = self.apply_unit_check(batches, rows, &unit_check, visible)?;
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
                check,
            },
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
        visible: usize,
    ) -> WorkspaceResult<(Vec<RecordBatch>, CheckOutcome)> {
        let k = self.config.min_units;
        let mut outcome = CheckOutcome {
            min_units: k,
            rows_produced: rows,
            rows_released: rows,
            rows_suppressed: 0,
            reasons: Vec::new(),
        };
        let proj: Vec<usize> = (0..visible).collect();
        let project = |b: &RecordBatch| {
            b.project(&proj)
                .map_err(|e| WorkspaceError::internal(format!("project: {e}")))
        };
        match check {
            UnitCheck::None => Ok((batches, outcome)),
            UnitCheck::RowLevel => {
                let kept: Vec<RecordBatch> = batches
                    .iter()
                    .map(|b| project(&b.slice(0, 0)))
                    .collect::<Result<_, _>>()?;
                outcome.rows_released = 0;
                outcome.rows_suppressed = rows;
                if rows > 0 {
                    outcome.reasons.push(format!(
                        "{rows} row(s) withheld: the result is not an aggregate, so each row \
                         describes a single person or enterprise (fewer than {k} units)"
                    ));
                }
                Ok((kept, outcome))
            }
            UnitCheck::Counted { hidden } => {
                let mut kept = Vec::new();
                let mut suppressed = 0usize;
                for b in &batches {
                    let n = b.num_rows();
                    let mut keep = vec![true; n];
                    for c in visible..visible + hidden {
                        let col = b.column(c);
                        let Some(counts) = col.as_any().downcast_ref::<Int64Array>() else {
                            return Err(WorkspaceError::internal("unit counts are not integers"));
                        };
                        for (r, k_r) in keep.iter_mut().enumerate() {
                            if counts.is_null(r) || (counts.value(r) as u64) < k {
                                *k_r = false;
                            }
                        }
                    }
                    suppressed += keep.iter().filter(|x| !**x).count();
                    let mask = BooleanArray::from(keep);
                    let f = filter_record_batch(b, &mask)
                        .map_err(|e| WorkspaceError::internal(format!("filter: {e}")))?;
                    kept.push(project(&f)?);
                }
                outcome.rows_suppressed = suppressed;
                outcome.rows_released = rows - suppressed;
                if suppressed > 0 {
                    outcome.reasons.push(format!(
                        "{suppressed} row(s) withheld: each aggregates fewer than {k} distinct \
                         persons or enterprises"
                    ));
                }
                Ok((kept, outcome))
            }
        }
    }
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
