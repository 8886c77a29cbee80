//! The minimum-count rule (最小单元数), planned before execution: every
//! released row derived from person- or enterprise-level tables must
//! aggregate at least k distinct units.
//!
//! When the query's result is an aggregate (under projections, sorts,
//! limits, `HAVING` and aliases), the rule adds a hidden
//! `count(DISTINCT unit)` per unit-level table to that aggregate and
//! carries it to the output, after the visible columns; rows under k are
//! suppressed after execution and the hidden columns dropped. A result
//! that is not an aggregate over unit-level tables describes single units:
//! all its rows are suppressed. Later checks (dominance, p-ratio,
//! differencing) add their hidden aggregates the same way.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::{Column, Result};
use datafusion::functions_aggregate::expr_fn::count_distinct;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, Projection};

use crate::error::{WorkspaceError, WorkspaceResult};
use crate::lineage::{identity, scanned};
use crate::table::Guarded;

/// The prefix of hidden unit-count columns.
pub const UNITS_PREFIX: &str = "__shuyun_units_";

/// How the result of a plan is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UnitCheck {
    /// No unit-level table feeds the result.
    None,
    /// The last `hidden` columns are unit counts.
    Counted { hidden: usize },
    /// Rows describe single units: all are suppressed.
    RowLevel,
}

/// Rewrite `plan` for the rule; returns the plan and how to check its rows.
pub(crate) fn plan_unit_check(
    plan: LogicalPlan,
    tables: &[Arc<Guarded>],
) -> WorkspaceResult<(LogicalPlan, UnitCheck)> {
    let unit_level: BTreeSet<usize> = scanned(&plan, tables)
        .into_iter()
        .filter(|i| tables[*i].view.unit.is_some())
        .collect();
    if unit_level.is_empty() {
        return Ok((plan, UnitCheck::None));
    }
    match add_counts(&plan, tables)? {
        Some((p, hidden)) => Ok((p, UnitCheck::Counted { hidden })),
        None => Ok((plan, UnitCheck::RowLevel)),
    }
}

fn internal(e: datafusion::error::DataFusionError) -> WorkspaceError {
    WorkspaceError::internal(format!("minimum-count rewrite: {e}"))
}

/// Descend the chain above the result's aggregate, add the hidden counts
/// there, and rebuild the chain carrying them. `None` when the result is
/// not such an aggregate.
fn add_counts(
    plan: &LogicalPlan,
    tables: &[Arc<Guarded>],
) -> WorkspaceResult<Option<(LogicalPlan, usize)>> {
    match plan {
        LogicalPlan::Aggregate(a) => {
            let ids = identity(&a.input, tables);
            let schema = a.input.schema();
            let mut extra = Vec::new();
            for t in scanned(&a.input, tables) {
                let Some(unit) = &tables[t].view.unit else {
                    continue;
                };
                let cols: Vec<usize> = ids
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| id.as_ref() == Some(&(t, unit.clone())))
                    .map(|(i, _)| i)
                    .collect();
                if cols.is_empty() {
                    return Err(WorkspaceError::not_allowed(format!(
                        "the minimum-count rule counts the units ('{unit}') of table '{}' in each \
                         result row, but this query's shape hides that field from its \
                         aggregate; aggregate over the table (or a subquery that keeps '{unit}') \
                         directly",
                        tables[t].view.name
                    )));
                }
                for i in cols {
                    let c = Column::from(schema.qualified_field(i));
                    extra.push(count_distinct(Expr::Column(c)));
                }
            }
            let start = a.aggr_expr.len();
            let mut aggr = a.aggr_expr.clone();
            for (k, e) in extra.iter().enumerate() {
                aggr.push(e.clone().alias(format!("{UNITS_PREFIX}{}", start + k)));
            }
            let hidden = extra.len();
            let new = Aggregate::try_new(a.input.clone(), a.group_expr.clone(), aggr)
                .map_err(internal)?;
            Ok(Some((LogicalPlan::Aggregate(new), hidden)))
        }
        LogicalPlan::Projection(p) => {
            let Some((input, hidden)) = add_counts(&p.input, tables)? else {
                return Ok(None);
            };
            let n = input.schema().fields().len();
            let mut exprs = p.expr.clone();
            for i in n - hidden..n {
                exprs.push(Expr::Column(Column::from(
                    input.schema().qualified_field(i),
                )));
            }
            let new = Projection::try_new(exprs, Arc::new(input)).map_err(internal)?;
            Ok(Some((LogicalPlan::Projection(new), hidden)))
        }
        LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::SubqueryAlias(_) => {
            let [input] = plan.inputs()[..] else {
                return Ok(None);
            };
            let Some((input, hidden)) = add_counts(input, tables)? else {
                return Ok(None);
            };
            let new = rebuild(plan, input).map_err(internal)?;
            Ok(Some((new, hidden)))
        }
        _ => Ok(None),
    }
}

fn rebuild(plan: &LogicalPlan, input: LogicalPlan) -> Result<LogicalPlan> {
    match plan {
        LogicalPlan::SubqueryAlias(s) => Ok(LogicalPlan::SubqueryAlias(
            datafusion::logical_expr::SubqueryAlias::try_new(Arc::new(input), s.alias.clone())?,
        )),
        _ => plan.with_new_exprs(plan.expressions(), vec![input]),
    }
}
