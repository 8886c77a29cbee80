//! Column lineage over a logical plan: for each output column, the
//! restricted fields (important grade, personal information, and sensitive
//! identifiers before they are pseudonymised) it shows *raw* — passed
//! through, or through a non-aggregating function (text functions, `CASE`,
//! casts, arithmetic, window functions, `min`/`max`). A restricted field
//! inside an aggregate of [`AGGREGATING`] is hidden, and the pseudonym
//! function hides the identifier it masks. [`check_output`] refuses a plan
//! whose output shows a restricted field.
//!
//! Also [`identity`]: which output columns are exactly a table's field
//! (pass-through), used to count units for the minimum-count rule.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};

use crate::checks::as_check;
use crate::error::WorkspaceError;
use crate::functions::AGGREGATING;
use crate::pseudonym::PSEUDONYM_FN;
use crate::table::{Exposure, Guarded};

/// The restricted fields (`table.field`) a column shows raw.
pub type Taint = BTreeSet<String>;

/// A source whose lineage cannot be followed.
const UNKNOWN: &str = "(a correlated reference)";

pub(crate) struct Lineage<'a> {
    pub tables: &'a [Arc<Guarded>],
    /// Taints of recursive-query work tables, by name.
    work: BTreeMap<String, Vec<Taint>>,
}

impl<'a> Lineage<'a> {
    pub fn new(tables: &'a [Arc<Guarded>]) -> Self {
        Self {
            tables,
            work: BTreeMap::new(),
        }
    }

    fn table_of(&self, plan: &LogicalPlan) -> Option<&'a Arc<Guarded>> {
        let LogicalPlan::TableScan(s) = plan else {
            return None;
        };
        let p = source_as_provider(&s.source).ok()?;
        // Only raw scans: a guarded scan left in a plan is unknown.
        self.tables.iter().find(|g| Arc::ptr_eq(&g.raw, &p))
    }

    /// The taint of each output column of `plan`.
    pub fn taints(&mut self, plan: &LogicalPlan) -> Result<Vec<Taint>> {
        let n = plan.schema().fields().len();
        let inputs = plan.inputs();
        let all_of_inputs = |me: &mut Self| -> Result<Vec<Taint>> {
            let mut u = Taint::new();
            for i in plan.inputs() {
                for t in me.taints(i)? {
                    u.extend(t);
                }
            }
            Ok(vec![u; n])
        };
        Ok(match plan {
            LogicalPlan::TableScan(s) => {
                if let Some(g) = self.table_of(plan) {
                    s.projected_schema
                        .fields()
                        .iter()
                        .map(|f| match g.field(f.name()) {
                            Some(v) if v.exposure == Exposure::Open => Taint::new(),
                            _ => Taint::from([format!("{}.{}", g.view.name, f.name())]),
                        })
                        .collect()
                } else if let Some(w) = self.work.get(s.table_name.table()) {
                    w.clone()
                } else {
                    vec![Taint::from([UNKNOWN.to_string()]); n]
                }
            }
            LogicalPlan::Projection(p) => {
                let input = self.taints(&p.input)?;
                p.expr
                    .iter()
                    .map(|e| self.expr_taint(e, p.input.schema(), &input))
                    .collect::<Result<_>>()?
            }
            LogicalPlan::Aggregate(a) => {
                let input = self.taints(&a.input)?;
                let mut out = Vec::new();
                for g in &a.group_expr {
                    match g {
                        Expr::GroupingSet(gs) => {
                            for e in gs.distinct_expr() {
                                out.push(self.expr_taint(e, a.input.schema(), &input)?);
                            }
                        }
                        e => out.push(self.expr_taint(e, a.input.schema(), &input)?),
                    }
                }
                // The grouping id column of grouping sets, if any.
                while out.len() + a.aggr_expr.len() < n {
                    out.push(Taint::new());
                }
                for e in &a.aggr_expr {
                    out.push(self.expr_taint(e, a.input.schema(), &input)?);
                }
                out
            }
            LogicalPlan::Window(w) => {
                let mut out = self.taints(&w.input)?;
                let input = out.clone();
                for e in &w.window_expr {
                    // A window function shows values of its rows: all it
                    // reads counts, whatever the function.
                    out.push(self.all_columns_taint(e, w.input.schema(), &input)?);
                }
                out
            }
            LogicalPlan::Join(j) => {
                let l = self.taints(&j.left)?;
                let r = self.taints(&j.right)?;
                match j.join_type {
                    JoinType::LeftSemi | JoinType::LeftAnti => l,
                    JoinType::RightSemi | JoinType::RightAnti => r,
                    JoinType::LeftMark => {
                        let mut out = l;
                        out.push(r.into_iter().flatten().collect());
                        out
                    }
                    JoinType::RightMark => {
                        let mut out = r;
                        out.push(l.into_iter().flatten().collect());
                        out
                    }
                    _ => l.into_iter().chain(r).collect(),
                }
            }
            LogicalPlan::Union(u) => {
                let mut out = vec![Taint::new(); n];
                for i in &u.inputs {
                    for (k, t) in self.taints(i)?.into_iter().enumerate() {
                        if let Some(o) = out.get_mut(k) {
                            o.extend(t);
                        }
                    }
                }
                out
            }
            LogicalPlan::RecursiveQuery(r) => {
                let mut acc = self.taints(&r.static_term)?;
                // Iterate to a fixed point (taints only grow, and are
                // bounded by the fields of the session).
                for _ in 0..16 {
                    self.work.insert(r.name.clone(), acc.clone());
                    let next = self.taints(&r.recursive_term)?;
                    let mut grown = false;
                    for (a, t) in acc.iter_mut().zip(next) {
                        let before = a.len();
                        a.extend(t);
                        grown |= a.len() != before;
                    }
                    if !grown {
                        break;
                    }
                }
                acc
            }
            LogicalPlan::Filter(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Subquery(_)
            | LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(_))
                if inputs.len() == 1 =>
            {
                self.taints(inputs[0])?
            }
            LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => vec![Taint::new(); n],
            // The output checks pass their input's leading columns through.
            LogicalPlan::Extension(e) if as_check(e.node.as_ref()).is_some() => {
                let mut t = self.taints(inputs[0])?;
                t.truncate(n);
                t
            }
            _ => all_of_inputs(self)?,
        })
    }

    /// The taint of one expression over an input with column taints.
    fn expr_taint(&mut self, e: &Expr, schema: &DFSchema, input: &[Taint]) -> Result<Taint> {
        Ok(match e {
            Expr::Column(c) => input
                .get(schema.index_of_column(c)?)
                .cloned()
                .unwrap_or_default(),
            Expr::AggregateFunction(f) if AGGREGATING.contains(&f.func.name()) => Taint::new(),
            Expr::ScalarFunction(f) if f.func.name() == PSEUDONYM_FN => Taint::new(),
            Expr::OuterReferenceColumn(..) => Taint::from([UNKNOWN.to_string()]),
            Expr::ScalarSubquery(sq) => self.taints(&sq.subquery)?.into_iter().flatten().collect(),
            Expr::Exists(x) => self
                .taints(&x.subquery.subquery)?
                .into_iter()
                .flatten()
                .collect(),
            Expr::InSubquery(x) => {
                let mut t = self.expr_taint(&x.expr, schema, input)?;
                t.extend(self.taints(&x.subquery.subquery)?.into_iter().flatten());
                t
            }
            _ => {
                let mut t = Taint::new();
                let mut err = None;
                e.apply_children(|c| {
                    match self.expr_taint(c, schema, input) {
                        Ok(ct) => t.extend(ct),
                        Err(x) => {
                            err = Some(x);
                            return Ok(TreeNodeRecursion::Stop);
                        }
                    }
                    Ok(TreeNodeRecursion::Continue)
                })?;
                if let Some(x) = err {
                    return Err(x);
                }
                t
            }
        })
    }

    /// The taint of every column an expression reads, aggregated or not.
    fn all_columns_taint(&self, e: &Expr, schema: &DFSchema, input: &[Taint]) -> Result<Taint> {
        let mut t = Taint::new();
        for c in e.column_refs() {
            if let Some(x) = input.get(schema.index_of_column(c)?) {
                t.extend(x.iter().cloned());
            }
        }
        Ok(t)
    }
}

/// The index of the session table a scan reads: its raw listing (after the
/// guard) or its guarded provider (before).
pub(crate) fn table_index(
    scan: &datafusion::logical_expr::TableScan,
    tables: &[Arc<Guarded>],
) -> Option<usize> {
    let p = source_as_provider(&scan.source).ok()?;
    let guarded = crate::table::guarded_of(&p);
    tables.iter().position(|g| {
        Arc::ptr_eq(&g.raw, &p) || guarded.as_ref().is_some_and(|x| Arc::ptr_eq(x, g))
    })
}

/// Refuse a plan whose output shows a restricted field raw, naming the
/// output column and the field.
pub(crate) fn check_output(
    plan: &LogicalPlan,
    tables: &[Arc<Guarded>],
    visible_columns: usize,
) -> Result<(), WorkspaceError> {
    let taints = Lineage::new(tables)
        .taints(plan)
        .map_err(|e| WorkspaceError::internal(format!("lineage: {e}")))?;
    for (i, (f, t)) in plan.schema().fields().iter().zip(taints).enumerate() {
        if i >= visible_columns || t.is_empty() {
            continue;
        }
        let fields: Vec<String> = t.into_iter().collect();
        return Err(WorkspaceError::restricted(format!(
            "output column '{}' shows {} outside an aggregate; important and personal fields may \
             be used in filters, joins, grouping and inside count/sum/avg-like aggregates, but \
             never shown",
            f.name(),
            fields.join(", ")
        )));
    }
    Ok(())
}

/// For each output column, the table (by index) and field it passes
/// through unchanged (or pseudonymised), if any.
pub(crate) fn identity(
    plan: &LogicalPlan,
    tables: &[Arc<Guarded>],
) -> Vec<Option<(usize, String)>> {
    let n = plan.schema().fields().len();
    let inputs = plan.inputs();
    match plan {
        LogicalPlan::TableScan(s) => match table_index(s, tables) {
            Some(t) => s
                .projected_schema
                .fields()
                .iter()
                .map(|f| Some((t, f.name().clone())))
                .collect(),
            None => vec![None; n],
        },
        LogicalPlan::Projection(p) => {
            let input = identity(&p.input, tables);
            p.expr
                .iter()
                .map(|e| {
                    let mut e = e;
                    while let Expr::Alias(a) = e {
                        e = &a.expr;
                    }
                    if let Expr::ScalarFunction(f) = e
                        && f.func.name() == PSEUDONYM_FN
                        && let [arg] = f.args.as_slice()
                    {
                        e = arg;
                    }
                    match e {
                        Expr::Column(c) => p
                            .input
                            .schema()
                            .index_of_column(c)
                            .ok()
                            .and_then(|i| input.get(i).cloned().flatten()),
                        _ => None,
                    }
                })
                .collect()
        }
        LogicalPlan::Join(j) => {
            let l = identity(&j.left, tables);
            let r = identity(&j.right, tables);
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti => l,
                JoinType::RightSemi | JoinType::RightAnti => r,
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    l.into_iter().chain(r).collect()
                }
                _ => vec![None; n],
            }
        }
        LogicalPlan::Window(w) => {
            let mut out = identity(&w.input, tables);
            out.resize(n, None);
            out
        }
        LogicalPlan::Extension(e) if as_check(e.node.as_ref()).is_some() => {
            let mut out = identity(inputs[0], tables);
            out.resize(n, None);
            out
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Subquery(_)
            if inputs.len() == 1 =>
        {
            identity(inputs[0], tables)
        }
        _ => vec![None; n],
    }
}

/// The guarded tables scanned in the main tree of `plan` (not in
/// expression subqueries, which only filter), by index.
pub(crate) fn scanned(plan: &LogicalPlan, tables: &[Arc<Guarded>]) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let _ = plan.apply(|p| {
        if let LogicalPlan::TableScan(s) = p
            && let Some(i) = table_index(s, tables)
        {
            out.insert(i);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// Every guarded table scanned anywhere in `plan`, subqueries included,
/// with the fields read.
pub(crate) fn touched(
    plan: &LogicalPlan,
    tables: &[Arc<Guarded>],
) -> BTreeMap<usize, BTreeSet<String>> {
    let mut out: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let _ = plan.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(s) = p
            && let Some(i) = table_index(s, tables)
        {
            let e = out.entry(i).or_default();
            for f in s.projected_schema.fields() {
                e.insert(f.name().clone());
            }
            for f in &s.filters {
                for c in f.column_refs() {
                    e.insert(c.name.clone());
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// The `table.field`s the result is keyed by: the fields behind the
/// grouping expressions of the result's aggregate (raw, or passed through
/// the pseudonym function). Empty when the result is not an aggregate.
/// The linkage check (C5) asks whether these are personal information.
pub(crate) fn group_keys(plan: &LogicalPlan, tables: &[Arc<Guarded>]) -> BTreeSet<String> {
    let mut p = plan;
    loop {
        match p {
            LogicalPlan::Aggregate(a) => {
                let ids = identity(&a.input, tables);
                let taints = Lineage::new(tables).taints(&a.input).unwrap_or_default();
                let schema = a.input.schema();
                let mut out = BTreeSet::new();
                for e in &a.group_expr {
                    for c in e.column_refs() {
                        let Ok(i) = schema.index_of_column(c) else {
                            continue;
                        };
                        if let Some(Some((t, f))) = ids.get(i) {
                            out.insert(format!("{}.{f}", tables[*t].view.name));
                        }
                        if let Some(t) = taints.get(i) {
                            out.extend(t.iter().filter(|f| f.as_str() != UNKNOWN).cloned());
                        }
                    }
                }
                return out;
            }
            LogicalPlan::Projection(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::Extension(_)
                if p.inputs().len() == 1 =>
            {
                p = p.inputs()[0];
            }
            _ => return BTreeSet::new(),
        }
    }
}
