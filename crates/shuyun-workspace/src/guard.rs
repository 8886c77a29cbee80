//! The guard (守卫): an analyzer rule that replaces every scan of a
//! [`GuardedTable`] — in the main plan and in every subquery — by
//! `Projection(masks) ← Filter(row filter) ← TableScan(raw Parquet)`,
//! directly above the data and below anything the operator wrote. The
//! projection keeps only visible fields and replaces sensitive identifiers
//! by their keyed pseudonyms, under the table's own name, so the plan
//! above sees exactly the schema it was planned against.

use std::sync::Arc;

use datafusion::catalog::default_table_source::{provider_as_source, source_as_provider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ScalarUDF, TableScan};
use datafusion::optimizer::AnalyzerRule;

use crate::filter::row_filter_expr;
use crate::table::{Exposure, Guarded, guarded_of};

#[derive(Debug)]
pub(crate) struct Guard {
    pub pseudonym: Arc<ScalarUDF>,
}

impl AnalyzerRule for Guard {
    fn name(&self) -> &str {
        "shuyun_guard"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = &node
                && let Ok(p) = source_as_provider(&scan.source)
                && let Some(g) = guarded_of(&p)
            {
                return Ok(Transformed::yes(self.guard(scan, &g)?));
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }
}

impl Guard {
    fn guard(&self, scan: &TableScan, g: &Guarded) -> Result<LogicalPlan> {
        let q = scan.table_name.clone();
        let mut b = LogicalPlanBuilder::scan(q.clone(), provider_as_source(g.raw.clone()), None)?;
        if let Some(rf) = &g.row_filter {
            b = b.filter(row_filter_expr(rf, Some(&q)))?;
        }
        // The fields the scan asked for (all when the planner did not
        // narrow it), by the visible schema's positions.
        let wanted: Vec<usize> = match &scan.projection {
            Some(p) => p.clone(),
            None => (0..g.view.fields.len()).collect(),
        };
        let exprs: Vec<Expr> = wanted
            .iter()
            .filter_map(|i| g.view.fields.get(*i))
            .map(|f| {
                let c = Expr::Column(Column::new(Some(q.clone()), &f.name));
                match f.exposure {
                    Exposure::Pseudonymised => self
                        .pseudonym
                        .call(vec![c])
                        .alias_qualified(Some(q.clone()), &f.name),
                    Exposure::Open | Exposure::Restricted => c,
                }
            })
            .collect();
        b = b.project(exprs)?;
        let mut filters = scan.filters.clone();
        if let Some(f) = filters.pop() {
            let all = filters.into_iter().fold(f, Expr::and);
            b = b.filter(all)?;
        }
        if let Some(n) = scan.fetch {
            b = b.limit(0, Some(n))?;
        }
        b.build()
    }
}
