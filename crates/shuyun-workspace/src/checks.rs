//! The output checks (输出审查, C3) of a result's cells, run inside the
//! plan directly above the result's aggregate, before anything the query
//! does with it (`HAVING`, arithmetic, ordering, limits):
//!
//! 1. every cell (a row of the aggregate over person- or enterprise-level
//!    tables) gets its [`CellStats`] from hidden aggregates: distinct units
//!    per unit column and, for every `SUM`/`AVG`, each unit's contribution
//!    (total, largest, second largest); the agreement's [`OutputPolicy`]
//!    judges them (minimum units, dominance, p% rule);
//! 2. with a [`ResultHistory`], each cell's units (a [`UnitSketch`] of
//!    keyed digests, of constant size) are compared with the scenario's
//!    earlier released cells: a cell that differs from one by fewer than k
//!    units is withheld (differencing);
//! 3. with a [`NoiseSpec`], counts, sums and means get noise
//!    (differential privacy) over per-unit bounded contributions;
//! 4. counts are rounded (`round_counts_to`);
//! 5. under `GROUPING SETS`/`ROLLUP`/`CUBE`, a total whose parts include a
//!    withheld cell is recomputed from the published parts only (counts
//!    and sums); its other aggregates (means, distinct counts, min/max…)
//!    are withheld (NULL);
//! 6. the withheld cells are removed and the hidden columns dropped.
//!
//! The node is [`CheckNode`] in the logical plan and [`CheckExec`] in the
//! physical one; what it did is left in [`CellPlan::report`].

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, Int64Builder, RecordBatch,
    UInt64Builder,
};
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch, nullif};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, UInt64Type};
use datafusion::common::{DFSchemaRef, DataFusionError, ScalarValue};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use futures::TryStreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use shuyun_domain::workspace::checks::{CellStats, Magnitude, OutputPolicy, published_total};
use shuyun_domain::workspace::differencing::{HISTORY_CELLS, ReleasedCell, check_sketch_history};
use shuyun_domain::workspace::{Epsilon, Mechanism, Suppression, UnitSet, UnitSketch};

use crate::error::{WorkspaceError, WorkspaceResult};

/// The name of the check node in plans.
pub const CHECK_NODE: &str = "ShuyunCheck";

// ---- The caller's options ------------------------------------------------------

/// A scenario's released cells, for differencing protection: the
/// [`UnitSketch`] (of keyed digests of the units, meaningless outside the
/// agreement; 4 KB at k = 10 whatever the cell's size) of every cell
/// released so far, oldest first, at most `max_cells` of them (the oldest
/// are forgotten first; a cell equal to one kept is not kept twice).
///
/// Cheap to clone (shared); safe to use from concurrent queries: a query
/// checks its cells and records them in one step, so two queries running
/// at once are checked against each other. Cells are recorded when they
/// pass the checks, before the rest of the query (`HAVING`, `LIMIT`) runs;
/// a query that then fails leaves them recorded (stricter, never weaker).
/// Serialise it (serde) to keep it across restarts; it holds sketches
/// only.
#[derive(Clone)]
pub struct ResultHistory(Arc<Mutex<History>>);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct History {
    max_cells: usize,
    cells: VecDeque<ReleasedCell>,
}

impl ResultHistory {
    /// The default bound ([`HISTORY_CELLS`]: 5,000 cells, about 20 MB at
    /// k = 10).
    pub const DEFAULT_MAX_CELLS: usize = HISTORY_CELLS;

    /// An empty history keeping at most `max_cells` cells.
    pub fn new(max_cells: usize) -> Self {
        Self(Arc::new(Mutex::new(History {
            max_cells,
            cells: VecDeque::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, History> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A history holding `cells` (oldest first; the oldest beyond
    /// `max_cells` are forgotten, equal cells kept once), as a store gives
    /// them back after a restart.
    pub fn with_cells(max_cells: usize, cells: impl IntoIterator<Item = ReleasedCell>) -> Self {
        let h = Self::new(max_cells);
        {
            let mut g = h.lock();
            for c in cells {
                g.push(&c);
            }
        }
        h
    }

    /// Cells remembered.
    pub fn cells(&self) -> usize {
        self.lock().cells.len()
    }

    /// Forget everything (e.g. when the scenario's data version changes).
    pub fn clear(&self) {
        self.lock().cells.clear();
    }
}

impl Default for ResultHistory {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_CELLS)
    }
}

impl fmt::Debug for ResultHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.lock();
        write!(
            f,
            "ResultHistory {{ cells: {}/{} }}",
            h.cells.len(),
            h.max_cells
        )
    }
}

impl Serialize for ResultHistory {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.lock().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResultHistory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut h = History::deserialize(d)?;
        h.evict();
        Ok(Self(Arc::new(Mutex::new(h))))
    }
}

impl History {
    fn evict(&mut self) {
        while self.cells.len() > self.max_cells {
            self.cells.pop_front();
        }
    }

    /// Remember a released cell; `false` when it adds nothing (no units,
    /// or a cell equal to one kept).
    fn push(&mut self, cell: &ReleasedCell) -> bool {
        if cell.sketch.rows() == 0 || self.cells.contains(cell) {
            return false;
        }
        self.cells.push_back(cell.clone());
        self.evict();
        true
    }

    /// The size of the small group a new cell differs from an earlier
    /// cell by.
    fn differs(&self, sketch: &UnitSketch, distinct: bool, min: u32) -> Option<u64> {
        check_sketch_history(sketch, distinct, &self.cells, min)
    }
}

/// Differential privacy for one query: noise from `mechanism`, spending
/// `epsilon` in total.
///
/// Only `COUNT(*)`, `COUNT(x)`, `SUM(x)` and `AVG(x)` (not `DISTINCT`) over
/// exactly one person- or enterprise-level unit are allowed, without
/// `GROUPING SETS`/`ROLLUP`/`CUBE`; anything else is refused
/// (`not_allowed`). Contributions are bounded per unit and cell:
///
/// - a unit counts at most `rows_per_unit` rows in a cell;
/// - the argument of `SUM`/`AVG` must state its bounds with literals as
///   `least(greatest(x, lo), hi)` (or `greatest(least(x, hi), lo)`); a
///   unit's total in a cell is then clamped to
///   `[min(0, rows_per_unit·lo), max(0, rows_per_unit·hi)]`;
/// - each unit may fall into one cell only (group by attributes of the
///   unit, e.g. its district); a query whose groups share a unit is
///   refused.
///
/// A count's sensitivity is `rows_per_unit`; a sum's is
/// `max(|lo|, |hi|)·rows_per_unit`; a mean is a noisy sum over a noisy
/// count (two statistics). The query's statistics (one per count or sum
/// column, two per mean) share `epsilon` equally (sequential
/// composition); disjoint cells compose in parallel, so the whole query
/// costs `epsilon`, reported in [`crate::AuditFacts::epsilon`]. The
/// engine does not keep the budget: the caller checks and spends it
/// (`Budget::spend`) with that ε. The usual checks (k, dominance, p%,
/// differencing) still apply to the exact statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseSpec {
    #[serde(flatten)]
    pub mechanism: Mechanism,
    pub epsilon: Epsilon,
    /// Rows one unit may contribute to one cell (at least 1; default 1).
    #[serde(default = "one")]
    pub rows_per_unit: u32,
}

fn one() -> u32 {
    1
}

impl NoiseSpec {
    /// Noise of `mechanism` spending `epsilon`, one row per unit and cell.
    pub fn new(mechanism: Mechanism, epsilon: Epsilon) -> Self {
        Self {
            mechanism,
            epsilon,
            rows_per_unit: 1,
        }
    }
}

/// Per-query options of [`crate::Workspace::run_with`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The scenario's released cells, for differencing protection; the
    /// query's released cells are added to it.
    pub history: Option<ResultHistory>,
    /// Differential privacy for this query.
    pub noise: Option<NoiseSpec>,
}

// ---- What the checks did -------------------------------------------------------

/// Cells withheld, by the first rule each broke.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SuppressedBy {
    pub too_few_units: usize,
    pub dominance: usize,
    pub p_rule: usize,
    pub differencing: usize,
}

impl SuppressedBy {
    fn add(&mut self, s: &Suppression) {
        match s {
            Suppression::TooFewUnits { .. } => self.too_few_units += 1,
            Suppression::Dominance { .. } => self.dominance += 1,
            Suppression::PRule { .. } => self.p_rule += 1,
            Suppression::Differencing { .. } => self.differencing += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.too_few_units + self.dominance + self.p_rule + self.differencing
    }
}

/// The noise a query's cells received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoiseApplied {
    /// `laplace` or `gaussian`.
    pub mechanism: String,
    /// δ of the Gaussian mechanism, in millionths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_micros: Option<u32>,
    /// ε of the whole query (what the budget is charged).
    pub epsilon: Epsilon,
    /// Noisy statistics per cell (one per count or sum, two per mean).
    pub statistics: u32,
    /// ε of each statistic (`epsilon / statistics`).
    pub epsilon_per_statistic: Epsilon,
    /// The bound on rows per unit and cell.
    pub rows_per_unit: u32,
}

/// What the check node did, for [`crate::CheckOutcome`].
#[derive(Debug, Clone, Default)]
pub(crate) struct CellReport {
    pub cells: usize,
    pub suppressed: SuppressedBy,
    /// Totals withheld because every part of them was withheld, or they
    /// could not be recomputed.
    pub totals_withheld: usize,
    pub totals_recomputed: usize,
    pub rounded_to: Option<u32>,
    pub noise: Option<NoiseApplied>,
    /// The cells this query added to the history.
    pub released: Vec<ReleasedCell>,
}

// ---- The plan of the checks ---------------------------------------------------

/// What an aggregate output column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Group,
    GroupingId,
    /// `COUNT(*)`, `COUNT(x)`: rounded, additive.
    Count,
    /// `COUNT(DISTINCT x)`: rounded, not additive.
    CountDistinct,
    /// `SUM(x)`: additive.
    Sum,
    /// Anything else (means, dispersion, min/max…): not additive.
    Other,
}

/// A noisy statistic: the visible column it replaces and the hidden
/// bounded aggregates it is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Noisy {
    Count {
        col: usize,
        count: usize,
        sensitivity: f64,
    },
    Sum {
        col: usize,
        sum: usize,
        sensitivity: f64,
    },
    Avg {
        col: usize,
        sum: usize,
        count: usize,
        sum_sensitivity: f64,
        count_sensitivity: f64,
    },
}

impl Noisy {
    pub fn statistics(&self) -> u32 {
        match self {
            Noisy::Avg { .. } => 2,
            _ => 1,
        }
    }
}

/// Everything the check node needs, shared by the logical and the
/// physical node; the outcome is left in `report`.
pub(crate) struct CellPlan {
    pub policy: OutputPolicy,
    /// Most cells the aggregate may produce (the session's result cap).
    pub max_cells: usize,
    /// Roles of the visible columns (the original aggregate's).
    pub roles: Vec<Role>,
    pub grouping_id: Option<usize>,
    /// Hidden distinct-unit columns, one per unit column (one `count(*)`
    /// when rows are units).
    pub units: Vec<usize>,
    /// Every row of a cell is a different unit (one table keyed by its
    /// unit, read row for row).
    pub rows_are_units: bool,
    /// Whether the unit columns are lists of digests (else counts).
    pub lists: bool,
    /// Hidden sketch columns (with a history), one per unit column.
    pub sketches: Vec<usize>,
    /// Hidden magnitude columns: (column, index into `units`).
    pub magnitudes: Vec<(usize, usize)>,
    pub noisy: Vec<Noisy>,
    pub noise: Option<NoiseSpec>,
    /// ε per noisy statistic.
    pub epsilon_each: Epsilon,
    pub history: Option<ResultHistory>,
    pub report: Mutex<Option<WorkspaceResult<CellReport>>>,
}

impl fmt::Debug for CellPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "k={}, units={}{}, magnitudes={}, noisy={}, differencing={}",
            self.policy.min_units,
            self.units.len(),
            if self.rows_are_units { " (rows)" } else { "" },
            self.magnitudes.len(),
            self.noisy.len(),
            self.history.is_some()
        )
    }
}

impl CellPlan {
    pub fn visible(&self) -> usize {
        self.roles.len()
    }

    pub fn take_report(&self) -> Option<WorkspaceResult<CellReport>> {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn set_report(&self, r: WorkspaceResult<CellReport>) {
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }
}

// ---- The logical node ------------------------------------------------------------

/// The check node above the result's aggregate. Its schema is the
/// aggregate's without the hidden columns. Predicates and limits are not
/// pushed through it.
#[derive(Debug, Clone)]
pub(crate) struct CheckNode {
    pub input: LogicalPlan,
    pub schema: DFSchemaRef,
    pub plan: Arc<CellPlan>,
}

impl PartialEq for CheckNode {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.plan, &other.plan) && self.input == other.input
    }
}

impl Eq for CheckNode {}

impl std::hash::Hash for CheckNode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.input.hash(state);
    }
}

impl PartialOrd for CheckNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        if self == other {
            Some(std::cmp::Ordering::Equal)
        } else {
            None
        }
    }
}

impl UserDefinedLogicalNodeCore for CheckNode {
    fn name(&self) -> &str {
        CHECK_NODE
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{CHECK_NODE}: {:?}", self.plan)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> datafusion::common::Result<Self> {
        let Some(input) = inputs.pop() else {
            return datafusion::common::internal_err!("{CHECK_NODE} has one input");
        };
        Ok(Self {
            input,
            schema: self.schema.clone(),
            plan: self.plan.clone(),
        })
    }
}

/// The check node under `node`, if it is one.
pub(crate) fn as_check(node: &dyn UserDefinedLogicalNode) -> Option<&CheckNode> {
    node.as_any().downcast_ref::<CheckNode>()
}

// ---- The physical node -------------------------------------------------------------

/// Plans [`CheckNode`]s.
#[derive(Debug)]
pub(crate) struct CheckPlanner;

#[async_trait::async_trait]
impl ExtensionPlanner for CheckPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> datafusion::common::Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = as_check(node) else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return datafusion::common::internal_err!("{CHECK_NODE} has one input");
        };
        Ok(Some(Arc::new(CheckExec::new(
            input.clone(),
            node.plan.clone(),
        )?)))
    }
}

/// Collects the aggregate's cells, checks them and releases the rest.
#[derive(Debug)]
pub(crate) struct CheckExec {
    input: Arc<dyn ExecutionPlan>,
    plan: Arc<CellPlan>,
    props: Arc<PlanProperties>,
}

impl CheckExec {
    fn new(input: Arc<dyn ExecutionPlan>, plan: Arc<CellPlan>) -> datafusion::common::Result<Self> {
        let input: Arc<dyn ExecutionPlan> = if input.output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(input))
        } else {
            input
        };
        let schema = Arc::new(
            input
                .schema()
                .project(&(0..plan.visible()).collect::<Vec<_>>())?,
        );
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(Self {
            input,
            plan,
            props: Arc::new(props),
        })
    }
}

impl DisplayAs for CheckExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{CHECK_NODE}Exec: {:?}", self.plan)
    }
}

impl ExecutionPlan for CheckExec {
    fn name(&self) -> &str {
        "ShuyunCheckExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn PhysicalExpr>,
        ) -> datafusion::common::Result<
            datafusion::common::tree_node::TreeNodeRecursion,
        >,
    ) -> datafusion::common::Result<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.pop() else {
            return datafusion::common::internal_err!("{CHECK_NODE} has one input");
        };
        Ok(Arc::new(CheckExec::new(input, self.plan.clone())?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        if partition != 0 || self.input.output_partitioning().partition_count() != 1 {
            return datafusion::common::internal_err!("{CHECK_NODE} runs in one partition");
        }
        let input = self.input.execute(0, context)?;
        let in_schema = self.input.schema();
        let plan = self.plan.clone();
        let fut = async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            let batch = concat_batches(&in_schema, &batches)?;
            match check_cells(&plan, &batch) {
                Ok((out, report)) => {
                    plan.set_report(Ok(report));
                    Ok(out)
                }
                Err(e) => {
                    plan.set_report(Err(e.clone()));
                    Err(DataFusionError::External(Box::new(e)))
                }
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            futures::stream::once(fut),
        )))
    }
}

// ---- The checks ---------------------------------------------------------------------

fn internal(what: &str) -> impl Fn(datafusion::arrow::error::ArrowError) -> WorkspaceError + '_ {
    move |e| WorkspaceError::internal(format!("{what}: {e}"))
}

/// A change to one value of a visible column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Patch {
    Keep,
    Null,
    Int(i64),
    Float(f64),
}

/// The value of a numeric cell (after patches), if any.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

fn num_at(col: &ArrayRef, patch: Patch, r: usize) -> Option<Num> {
    match patch {
        Patch::Null => None,
        Patch::Int(v) => Some(Num::I(v)),
        Patch::Float(v) => Some(Num::F(v)),
        Patch::Keep if col.is_null(r) => None,
        Patch::Keep => match col.data_type() {
            DataType::Int64 => Some(Num::I(col.as_primitive::<Int64Type>().value(r))),
            DataType::UInt64 => Some(Num::U(col.as_primitive::<UInt64Type>().value(r))),
            DataType::Float64 => Some(Num::F(col.as_primitive::<Float64Type>().value(r))),
            _ => None,
        },
    }
}

/// The column with its patches applied.
fn patched(col: &ArrayRef, patches: &[Patch]) -> WorkspaceResult<ArrayRef> {
    if patches.iter().all(|p| *p == Patch::Keep) {
        return Ok(col.clone());
    }
    let n = col.len();
    Ok(match col.data_type() {
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(n);
            for (r, p) in patches.iter().enumerate() {
                b.append_option(match (p, num_at(col, *p, r)) {
                    (_, Some(Num::I(v))) => Some(v),
                    (_, Some(Num::F(v))) => Some(v.round() as i64),
                    (_, Some(Num::U(v))) => Some(v as i64),
                    (_, None) => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::UInt64 => {
            let mut b = UInt64Builder::with_capacity(n);
            for (r, p) in patches.iter().enumerate() {
                b.append_option(match num_at(col, *p, r) {
                    Some(Num::U(v)) => Some(v),
                    Some(Num::I(v)) => Some(v.max(0) as u64),
                    Some(Num::F(v)) => Some(v.round().max(0.0) as u64),
                    None => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(n);
            for (r, p) in patches.iter().enumerate() {
                b.append_option(match num_at(col, *p, r) {
                    Some(Num::F(v)) => Some(v),
                    Some(Num::I(v)) => Some(v as f64),
                    Some(Num::U(v)) => Some(v as f64),
                    None => None,
                });
            }
            Arc::new(b.finish())
        }
        _ => {
            if patches
                .iter()
                .any(|p| !matches!(p, Patch::Keep | Patch::Null))
            {
                return Err(WorkspaceError::internal(format!(
                    "a value of type {} cannot be replaced",
                    col.data_type()
                )));
            }
            let mask = BooleanArray::from(
                patches
                    .iter()
                    .map(|p| *p == Patch::Null)
                    .collect::<Vec<_>>(),
            );
            nullif(col, &mask).map_err(internal("nullif"))?
        }
    })
}

/// The sum of the sketches of disjoint parts, per unit column.
fn sketch_sum(parts: &[&Vec<UnitSketch>], columns: usize) -> Vec<UnitSketch> {
    (0..columns)
        .filter_map(|u| {
            let mut it = parts.iter().filter_map(|p| p.get(u));
            let mut total = it.next()?.clone();
            for s in it {
                total.merge(s);
            }
            Some(total)
        })
        .collect()
}

/// Check the aggregate's cells (one batch): the released cells, with the
/// visible columns only, and what was done.
pub(crate) fn check_cells(
    plan: &CellPlan,
    batch: &RecordBatch,
) -> WorkspaceResult<(RecordBatch, CellReport)> {
    let n = batch.num_rows();
    if n > plan.max_cells {
        return Err(WorkspaceError::limit(format!(
            "the result has more than {} rows; aggregate further",
            plan.max_cells
        )));
    }
    let policy = &plan.policy;
    let k = policy.min_units;
    let visible = plan.visible();
    let mut report = CellReport {
        cells: n,
        ..CellReport::default()
    };

    // Units per cell and unit column: counts (rows when rows are units,
    // distinct units up to k otherwise) or lists.
    let mut counts: Vec<Vec<u64>> = Vec::new();
    let mut sets: Vec<Vec<UnitSet>> = vec![Vec::new(); n];
    for &c in &plan.units {
        let col = batch.column(c);
        if plan.lists {
            let l = col.as_list::<i32>();
            let mut cs = Vec::with_capacity(n);
            for (r, s) in sets.iter_mut().enumerate() {
                let set = if l.is_null(r) {
                    UnitSet::default()
                } else {
                    UnitSet::new(l.value(r).as_primitive::<UInt64Type>().values().to_vec())
                };
                cs.push(set.len() as u64);
                s.push(set);
            }
            counts.push(cs);
        } else {
            let a = cast(col, &DataType::UInt64).map_err(internal("unit counts"))?;
            let a = a.as_primitive::<UInt64Type>();
            counts.push(
                (0..n)
                    .map(|r| if a.is_null(r) { 0 } else { a.value(r) })
                    .collect(),
            );
        }
    }
    // Sketches per cell and unit column (with a history).
    let mut sketches: Vec<Vec<UnitSketch>> = vec![Vec::new(); n];
    for &c in &plan.sketches {
        let b = batch.column(c).as_binary::<i32>();
        for (r, s) in sketches.iter_mut().enumerate() {
            let sk = if b.is_null(r) {
                None
            } else {
                UnitSketch::from_bytes(b.value(r))
            };
            s.push(sk.ok_or_else(|| WorkspaceError::internal("a malformed cell sketch"))?);
        }
    }

    // The policy's rules on each cell.
    let mut why: Vec<Option<Suppression>> = vec![None; n];
    let magnitudes: Vec<(usize, Vec<Magnitude>)> = plan
        .magnitudes
        .iter()
        .map(|(c, u)| {
            let s = batch.column(*c).as_struct();
            let f = |i: usize| s.column(i).as_primitive::<Float64Type>().clone();
            let (t, a, b) = (f(0), f(1), f(2));
            let m = (0..n)
                .map(|r| Magnitude {
                    total: t.value(r),
                    top1: a.value(r),
                    top2: b.value(r),
                })
                .collect();
            (*u, m)
        })
        .collect();
    for (r, w) in why.iter_mut().enumerate() {
        let unit_checks = counts.iter().map(|cs| CellStats {
            units: cs[r],
            magnitude: None,
        });
        let magnitude_checks = magnitudes.iter().map(|(u, m)| CellStats {
            units: counts[*u][r],
            magnitude: Some(m[r]),
        });
        *w = unit_checks
            .chain(magnitude_checks)
            .find_map(|s| policy.check_cell(&s).err());
    }

    // Under noise, each unit must fall into one cell (when rows are
    // units, the groups already part them).
    if plan.noise.is_some() && plan.lists {
        let mut seen = HashSet::new();
        for s in sets.iter().flatten() {
            for d in s.digests() {
                if !seen.insert(*d) {
                    return Err(WorkspaceError::not_allowed(
                        "under noise each person or enterprise must fall into one group; group \
                         by attributes of the unit (e.g. its district), not of its rows",
                    ));
                }
            }
        }
    }

    // Differencing against the scenario's earlier cells; the lock is held
    // until this query's cells are recorded.
    let mut history = plan.history.as_ref().map(ResultHistory::lock);
    if let Some(h) = &history {
        for (r, w) in why.iter_mut().enumerate() {
            if w.is_some() {
                continue;
            }
            if let Some(d) = sketches[r]
                .iter()
                .find_map(|s| h.differs(s, plan.rows_are_units, k))
            {
                *w = Some(Suppression::Differencing { units: d, min: k });
            }
        }
    }
    for w in why.iter().flatten() {
        report.suppressed.add(w);
    }

    let mut patches: Vec<Vec<Patch>> = vec![vec![Patch::Keep; n]; visible];

    // Noise on the released cells.
    if let Some(spec) = &plan.noise {
        let mut rng = rand::rng();
        let eps = plan.epsilon_each;
        let mut draw = |sensitivity: f64| -> WorkspaceResult<f64> {
            let (u1, u2): (f64, f64) = (rng.random(), rng.random());
            spec.mechanism
                .noise(sensitivity, eps, u1, u2)
                .map_err(|e| WorkspaceError::not_allowed(e.message))
        };
        let bounded = |c: usize, r: usize| -> f64 {
            let a = batch.column(c).as_primitive::<Float64Type>();
            if a.is_null(r) { 0.0 } else { a.value(r) }
        };
        for r in (0..n).filter(|r| why[*r].is_none()) {
            for x in &plan.noisy {
                match *x {
                    Noisy::Count {
                        col,
                        count,
                        sensitivity,
                    } => {
                        let v = (bounded(count, r) + draw(sensitivity)?).round().max(0.0);
                        patches[col][r] = Patch::Float(v);
                    }
                    Noisy::Sum {
                        col,
                        sum,
                        sensitivity,
                    } => {
                        patches[col][r] = Patch::Float(bounded(sum, r) + draw(sensitivity)?);
                    }
                    Noisy::Avg {
                        col,
                        sum,
                        count,
                        sum_sensitivity,
                        count_sensitivity,
                    } => {
                        let s = bounded(sum, r) + draw(sum_sensitivity)?;
                        let c = bounded(count, r) + draw(count_sensitivity)?;
                        patches[col][r] = Patch::Float(s / c.max(1.0));
                    }
                }
            }
        }
        let statistics = plan.noisy.iter().map(Noisy::statistics).sum();
        report.noise = Some(NoiseApplied {
            mechanism: match spec.mechanism {
                Mechanism::Laplace => "laplace".into(),
                Mechanism::Gaussian { .. } => "gaussian".into(),
            },
            delta_micros: match spec.mechanism {
                Mechanism::Laplace => None,
                Mechanism::Gaussian { delta_micros } => Some(delta_micros),
            },
            epsilon: spec.epsilon,
            statistics,
            epsilon_per_statistic: eps,
            rows_per_unit: spec.rows_per_unit,
        });
    }

    // Counts are rounded.
    if policy.round_counts_to > 1 {
        for (c, role) in plan.roles.iter().enumerate() {
            if !matches!(role, Role::Count | Role::CountDistinct) {
                continue;
            }
            let col = batch.column(c);
            for (r, p) in patches[c].iter_mut().enumerate() {
                let v = match num_at(col, *p, r) {
                    Some(Num::I(v)) => v.max(0) as u64,
                    Some(Num::U(v)) => v,
                    Some(Num::F(v)) => v.round().max(0.0) as u64,
                    None => continue,
                };
                *p = Patch::Int(policy.round_count(v) as i64);
            }
        }
        report.rounded_to = Some(policy.round_counts_to);
    }

    // Totals over withheld cells are recomputed from the published ones.
    let mut total_withheld = vec![false; n];
    let mut recomputed = vec![false; n];
    if let Some(g) = plan.grouping_id {
        let group_cols: Vec<usize> = (0..visible)
            .filter(|c| plan.roles[*c] == Role::Group)
            .collect();
        let ng = group_cols.len();
        let gid = cast(batch.column(g), &DataType::UInt64).map_err(internal("grouping id"))?;
        let gid = gid.as_primitive::<UInt64Type>();
        // Bit c set: group column c is grouped in the row's grouping set.
        let grouped: Vec<u64> = (0..n)
            .map(|r| {
                let id = gid.value(r);
                (0..ng)
                    .filter(|c| (id >> (ng - 1 - c)) & 1 == 0)
                    .fold(0u64, |acc, c| acc | (1 << c))
            })
            .collect();
        let mut grouping_sets: Vec<u64> = grouped
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        grouping_sets.sort_by_key(|s| std::cmp::Reverse(s.count_ones()));
        if grouping_sets.len() > 1 {
            let keys: Vec<Vec<ScalarValue>> = (0..n)
                .map(|r| {
                    group_cols
                        .iter()
                        .map(|c| ScalarValue::try_from_array(batch.column(*c), r))
                        .collect::<Result<_, _>>()
                })
                .collect::<Result<_, _>>()
                .map_err(|e| WorkspaceError::internal(format!("group keys: {e}")))?;
            let key_on = |r: usize, s: u64| -> Vec<ScalarValue> {
                (0..ng)
                    .filter(|c| (s >> c) & 1 == 1)
                    .map(|c| keys[r][c].clone())
                    .collect()
            };
            let additive: Vec<usize> = (0..visible)
                .filter(|c| matches!(plan.roles[*c], Role::Count | Role::Sum))
                .collect();
            let other: Vec<usize> = (0..visible)
                .filter(|c| matches!(plan.roles[*c], Role::CountDistinct | Role::Other))
                .collect();
            for &s in &grouping_sets {
                let finer: Vec<u64> = grouping_sets
                    .iter()
                    .copied()
                    .filter(|f| f & s == s && *f != s)
                    .collect();
                let Some(child_set) = finer.iter().copied().min_by_key(|f| f.count_ones()) else {
                    continue;
                };
                // Per key of the total: whether a finer cell under it is
                // withheld, and its parts in the nearest finer set.
                let mut under: HashMap<Vec<ScalarValue>, (bool, Vec<usize>)> = HashMap::new();
                for c in (0..n).filter(|c| finer.contains(&grouped[*c])) {
                    let e = under.entry(key_on(c, s)).or_default();
                    e.0 |= why[c].is_some() || total_withheld[c];
                    if grouped[c] == child_set {
                        e.1.push(c);
                    }
                }
                for t in 0..n {
                    if grouped[t] != s || why[t].is_some() {
                        continue;
                    }
                    let Some((true, parts)) = under.get(&key_on(t, s)) else {
                        continue;
                    };
                    let shown: Vec<usize> = parts
                        .iter()
                        .copied()
                        .filter(|p| why[*p].is_none() && !total_withheld[*p])
                        .collect();
                    let mut ok = !shown.is_empty();
                    let mut new = Vec::new();
                    for &c in &additive {
                        let col = batch.column(c);
                        let vals: Vec<(Num, bool)> = parts
                            .iter()
                            .filter_map(|p| {
                                num_at(col, patches[c][*p], *p)
                                    .map(|v| (v, why[*p].is_some() || total_withheld[*p]))
                            })
                            .collect();
                        let total = match col.data_type() {
                            DataType::Int64 => published_total(
                                &vals
                                    .iter()
                                    .map(|(v, w)| match v {
                                        Num::I(x) => (*x, *w),
                                        Num::U(x) => (*x as i64, *w),
                                        Num::F(x) => (x.round() as i64, *w),
                                    })
                                    .collect::<Vec<_>>(),
                            )
                            .map(Patch::Int),
                            DataType::UInt64 | DataType::Float64 => published_total(
                                &vals
                                    .iter()
                                    .map(|(v, w)| match v {
                                        Num::I(x) => (*x as f64, *w),
                                        Num::U(x) => (*x as f64, *w),
                                        Num::F(x) => (*x, *w),
                                    })
                                    .collect::<Vec<_>>(),
                            )
                            .map(Patch::Float),
                            _ => None,
                        };
                        match total {
                            Some(p) => new.push((c, p)),
                            None if shown.is_empty() => ok = false,
                            // Every published part is NULL: so is the total.
                            None if vals.iter().all(|(_, w)| *w) => new.push((c, Patch::Null)),
                            None => ok = false,
                        }
                    }
                    if !ok {
                        total_withheld[t] = true;
                        continue;
                    }
                    for (c, p) in new {
                        patches[c][t] = p;
                    }
                    for &c in &other {
                        patches[c][t] = Patch::Null;
                    }
                    recomputed[t] = true;
                    if !plan.sketches.is_empty() {
                        let parts: Vec<&Vec<UnitSketch>> =
                            shown.iter().map(|p| &sketches[*p]).collect();
                        sketches[t] = sketch_sum(&parts, plan.sketches.len());
                    }
                }
            }
        }
    }
    report.totals_recomputed = recomputed.iter().filter(|x| **x).count();
    report.totals_withheld = total_withheld.iter().filter(|x| **x).count();

    // Record the released cells.
    let keep: Vec<bool> = (0..n)
        .map(|r| why[r].is_none() && !total_withheld[r])
        .collect();
    if let Some(h) = history.as_mut() {
        for (r, s) in sketches.into_iter().enumerate() {
            if keep[r] {
                for sketch in s {
                    let cell = ReleasedCell {
                        sketch,
                        distinct: plan.rows_are_units,
                    };
                    if h.push(&cell) {
                        report.released.push(cell);
                    }
                }
            }
        }
    }
    drop(history);

    let columns: Vec<ArrayRef> = (0..visible)
        .map(|c| patched(batch.column(c), &patches[c]))
        .collect::<Result<_, _>>()?;
    let schema: SchemaRef = Arc::new(
        batch
            .schema()
            .project(&(0..visible).collect::<Vec<_>>())
            .map_err(internal("schema"))?,
    );
    let out = RecordBatch::try_new(schema, columns).map_err(internal("batch"))?;
    let out = filter_record_batch(&out, &BooleanArray::from(keep)).map_err(internal("filter"))?;
    Ok((out, report))
}
