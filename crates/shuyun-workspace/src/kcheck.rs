//! The output checks' rewrite of the plan, before execution: every
//! released row derived from person- or enterprise-level tables must be a
//! cell of an aggregate that passes the checks of `checks.rs` (at least k
//! distinct units, dominance, p% rule, differencing, rounding, totals,
//! optional noise).
//!
//! When the query's result is an aggregate (under projections, sorts,
//! limits, `HAVING` and aliases), the rewrite adds hidden aggregates to it
//! and puts the check node directly above it, which judges the cells and
//! drops the hidden columns. A result that is not an aggregate over
//! unit-level tables describes single units: all its rows are suppressed.
//!
//! The hidden aggregates depend on how rows relate to units:
//!
//! - **one row per unit**: the aggregate reads one table keyed by its unit
//!   (ingest guarantees the key is unique), through filters, projections,
//!   sorts, limits and aliases only, so every row of a cell is a
//!   different unit. The cell's units are its rows (`count(*)`), and a
//!   unit's contribution to a sum is its row's value (`shuyun_magnitude`:
//!   total and two largest). Nothing reads the unit.
//! - **otherwise** (joins, unions, several rows per unit…): distinct units
//!   per unit column (`shuyun_units` over keyed unit digests, counted up
//!   to k, which is all the rule needs), and per-unit contributions of
//!   each `SUM`/`AVG` (`shuyun_contributions`).
//!
//! With a differencing history, each unit column also gets the cell's
//! sketch (`shuyun_sketch`); under noise, bounded contributions per unit
//! (and, when rows are not units, the cells' unit lists, to check that
//! each unit falls into one cell).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, AggregateUDF, Expr, Extension, JoinType, LogicalPlan, Projection, ScalarUDF, cast,
};
use shuyun_domain::workspace::Epsilon;
use shuyun_domain::workspace::checks::OutputPolicy;
use shuyun_domain::workspace::privacy::sum_sensitivity;

use crate::checks::{CellPlan, CheckNode, NoiseSpec, Noisy, ResultHistory, Role};
use crate::error::{WorkspaceError, WorkspaceResult};
use crate::lineage::{identity, scanned, table_index};
use crate::table::{Exposure, Guarded};
use crate::units::{Summary, contributions_udaf, magnitude_udaf, sketch_udaf, units_udaf};
use shuyun_domain::workspace::{UnitSketch, unit_digest};

/// The prefix of hidden columns.
pub const HIDDEN_PREFIX: &str = "__shuyun_";

/// How the result of a plan is checked.
#[derive(Debug, Clone)]
pub(crate) enum UnitCheck {
    /// No unit-level table feeds the result.
    None,
    /// The result's aggregate is checked cell by cell.
    Cells(Arc<CellPlan>),
    /// Rows describe single units: all are suppressed.
    RowLevel,
}

/// What the rewrite needs besides the plan.
pub(crate) struct CheckSetup<'a> {
    pub tables: &'a [Arc<Guarded>],
    pub policy: OutputPolicy,
    pub max_cells: usize,
    pub digest: Arc<ScalarUDF>,
    /// The same digest of raw values below the masks (`carry_raw_digests`).
    pub raw_digest: Arc<ScalarUDF>,
    /// The agreement's digest keys, which sketches apply to the stored
    /// digests of a scan as they read them.
    pub agreement: (u64, u64),
    pub history: Option<ResultHistory>,
    pub noise: Option<NoiseSpec>,
}

/// Rewrite `plan` for the checks; returns the plan and how to check its
/// rows.
pub(crate) fn plan_unit_check(
    plan: LogicalPlan,
    setup: &CheckSetup<'_>,
) -> WorkspaceResult<(LogicalPlan, UnitCheck)> {
    let tables = setup.tables;
    let unit_level: BTreeSet<usize> = scanned(&plan, tables)
        .into_iter()
        .filter(|i| tables[*i].view.unit.is_some())
        .collect();
    if unit_level.is_empty() {
        if setup.noise.is_some() {
            return Err(WorkspaceError::not_allowed(
                "noise (differential privacy) applies to aggregates over person- or \
                 enterprise-level tables; this query reads none",
            ));
        }
        return Ok((plan, UnitCheck::None));
    }
    match wrap(&plan, setup)? {
        Some((p, cells)) => Ok((p, UnitCheck::Cells(cells))),
        None if setup.noise.is_some() => Err(WorkspaceError::not_allowed(
            "under noise (differential privacy) the result must be an aggregate \
             (COUNT, SUM or AVG) over a person- or enterprise-level table",
        )),
        None => Ok((plan, UnitCheck::RowLevel)),
    }
}

fn internal(e: datafusion::error::DataFusionError) -> WorkspaceError {
    WorkspaceError::internal(format!("output-check rewrite: {e}"))
}

/// Descend the chain above the result's aggregate, put the check node
/// above it, and rebuild the chain. `None` when the result is not such an
/// aggregate.
fn wrap(
    plan: &LogicalPlan,
    setup: &CheckSetup<'_>,
) -> WorkspaceResult<Option<(LogicalPlan, Arc<CellPlan>)>> {
    match plan {
        LogicalPlan::Aggregate(a) => check_aggregate(a, setup).map(Some),
        LogicalPlan::Projection(p) => {
            let Some((input, cells)) = wrap(&p.input, setup)? else {
                return Ok(None);
            };
            let new = Projection::try_new(p.expr.clone(), Arc::new(input)).map_err(internal)?;
            Ok(Some((LogicalPlan::Projection(new), cells)))
        }
        LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::SubqueryAlias(_) => {
            let [input] = plan.inputs()[..] else {
                return Ok(None);
            };
            let Some((input, cells)) = wrap(input, setup)? else {
                return Ok(None);
            };
            let new = rebuild(plan, input).map_err(internal)?;
            Ok(Some((new, cells)))
        }
        _ => Ok(None),
    }
}

/// The aggregate function behind an aggregate expression.
fn aggregate_function(e: &Expr) -> Option<&AggregateFunction> {
    let mut e = e;
    while let Expr::Alias(a) = e {
        e = &a.expr;
    }
    match e {
        Expr::AggregateFunction(f) => Some(f),
        _ => None,
    }
}

fn role_of(e: &Expr) -> Role {
    match aggregate_function(e) {
        Some(f) => match (f.func.name(), f.params.distinct) {
            ("count", false) => Role::Count,
            ("count", true) => Role::CountDistinct,
            ("sum", false) => Role::Sum,
            _ => Role::Other,
        },
        None => Role::Other,
    }
}

/// A numeric literal (possibly negated or cast).
fn literal(e: &Expr) -> Option<f64> {
    match e {
        Expr::Literal(v, _) => match v.cast_to(&DataType::Float64).ok()? {
            ScalarValue::Float64(Some(x)) if x.is_finite() => Some(x),
            _ => None,
        },
        Expr::Negative(x) => literal(x).map(|v| -v),
        Expr::Cast(c) => literal(&c.expr),
        Expr::TryCast(c) => literal(&c.expr),
        Expr::Alias(a) => literal(&a.expr),
        _ => None,
    }
}

/// `(name, [a, b])` of a two-argument scalar function call.
fn call2<'a>(e: &'a Expr, name: &str) -> Option<(&'a Expr, &'a Expr)> {
    match e {
        Expr::ScalarFunction(f) if f.func.name() == name => match f.args.as_slice() {
            [a, b] => Some((a, b)),
            _ => None,
        },
        _ => None,
    }
}

/// One argument literal, the other not: (literal, other).
fn split_literal<'a>(a: &'a Expr, b: &'a Expr) -> Option<(f64, &'a Expr)> {
    match (literal(a), literal(b)) {
        (Some(x), None) => Some((x, b)),
        (None, Some(x)) => Some((x, a)),
        _ => None,
    }
}

/// The operator's bounds of a summed value: `least(greatest(x, lo), hi)`
/// or `greatest(least(x, hi), lo)`, literals, `lo <= hi`.
pub(crate) fn stated_bounds(e: &Expr) -> Option<(f64, f64)> {
    let mut e = e;
    // Aliases, and the widening casts type coercion adds (AVG of integers
    // reads them as floats), keep the bounds.
    loop {
        match e {
            Expr::Alias(a) => e = &a.expr,
            Expr::Cast(c) if matches!(c.field.data_type(), DataType::Float64 | DataType::Int64) => {
                e = &c.expr
            }
            _ => break,
        }
    }
    if let Some((a, b)) = call2(e, "least") {
        let (hi, inner) = split_literal(a, b)?;
        let (c, d) = call2(inner, "greatest")?;
        let (lo, _) = split_literal(c, d)?;
        return (lo <= hi).then_some((lo, hi));
    }
    if let Some((a, b)) = call2(e, "greatest") {
        let (lo, inner) = split_literal(a, b)?;
        let (c, d) = call2(inner, "least")?;
        let (hi, _) = split_literal(c, d)?;
        return (lo <= hi).then_some((lo, hi));
    }
    None
}

fn hidden(
    func: Arc<AggregateUDF>,
    args: Vec<Expr>,
    filter: Option<Box<Expr>>,
    name: String,
) -> Expr {
    Expr::AggregateFunction(AggregateFunction::new_udf(
        func,
        args,
        false,
        filter,
        vec![],
        None,
    ))
    .alias(name)
}

fn refuse_noise(what: &str) -> WorkspaceError {
    WorkspaceError::not_allowed(format!(
        "under noise (differential privacy) only COUNT(*), COUNT(x), SUM(x) and AVG(x) over one \
         person- or enterprise-level table are allowed, without DISTINCT and grouping sets; \
         {what}"
    ))
}

/// Add the hidden aggregates to `a` and put the check node above it.
fn check_aggregate(
    a: &Aggregate,
    setup: &CheckSetup<'_>,
) -> WorkspaceResult<(LogicalPlan, Arc<CellPlan>)> {
    let tables = setup.tables;
    let ids = identity(&a.input, tables);
    let schema = a.input.schema();
    let unit_tables: Vec<usize> = scanned(&a.input, tables)
        .into_iter()
        .filter(|t| tables[*t].view.unit.is_some())
        .collect();
    let rows_are_units = match unit_tables.as_slice() {
        [t] => tables[*t].unit_is_key && one_row_per_unit(&a.input, tables) == Some(*t),
        _ => false,
    };
    let noise = setup.noise;
    let history = setup.history.is_some();
    // Under a history, pseudonymised units are carried up from below the
    // masks as digests of their raw values (see `carry_raw_digests`).
    let pseudonymised = |t: usize| {
        tables[t].view.unit.as_ref().is_some_and(|u| {
            tables[t]
                .field(u)
                .is_some_and(|f| f.exposure == Exposure::Pseudonymised)
        })
    };
    // Tables with stored unit digests are carried too (reading eight bytes
    // a row instead of the identifier), where the query's shape allows;
    // otherwise their visible units are digested at the aggregate.
    let wanted: BTreeSet<usize> = if history {
        unit_tables
            .iter()
            .copied()
            .filter(|t| pseudonymised(*t) || tables[*t].stored_digests)
            .collect()
    } else {
        BTreeSet::new()
    };
    let must_carry: BTreeSet<usize> = wanted
        .iter()
        .copied()
        .filter(|t| pseudonymised(*t))
        .collect();
    let mut input = a.input.clone();
    let mut carried = Vec::new();
    if !wanted.is_empty() {
        let mut n = 0;
        let refuse = || {
            WorkspaceError::not_allowed(
                "differencing protection follows each person through the query to its \
                 result cells, and this query's shape (a union, window or nested \
                 aggregate before the result's aggregate) loses them; aggregate over \
                 the tables, their joins and filters directly",
            )
        };
        let found = carry_raw_digests(&a.input, setup, &wanted, &mut n)
            .filter(|(_, c)| wanted.iter().all(|t| c.iter().any(|(ct, _)| ct == t)));
        match found {
            Some((new, c)) => {
                input = Arc::new(new);
                carried = c;
            }
            None if must_carry.is_empty() => {}
            None => return Err(refuse()),
        }
    }
    let carried_tables: BTreeSet<usize> = carried.iter().map(|(t, _)| *t).collect();
    // Whether the plan must read the units themselves.
    let need_units = !rows_are_units || noise.is_some();
    let mut unit_cols = Vec::new();
    let mut unit_col_tables = Vec::new();
    for &t in &unit_tables {
        let Some(unit) = &tables[t].view.unit else {
            continue;
        };
        let cols: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| id.as_ref() == Some(&(t, unit.clone())))
            .map(|(i, _)| i)
            .collect();
        if cols.is_empty() && (need_units || (history && !carried_tables.contains(&t))) {
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
            unit_cols.push(setup.digest.call(vec![Expr::Column(c)]));
            unit_col_tables.push(t);
        }
    }

    let visible = a.schema.fields().len();
    let grouping = matches!(a.group_expr.as_slice(), [Expr::GroupingSet(_)]);
    let first_aggr = visible - a.aggr_expr.len();
    let mut roles = vec![Role::Group; first_aggr];
    if grouping && let Some(r) = roles.last_mut() {
        *r = Role::GroupingId;
    }
    roles.extend(a.aggr_expr.iter().map(role_of));

    let k = setup.policy.min_units;
    // Under noise, each unit must fall into one cell: with several rows
    // per unit that takes the cells' unit lists.
    let lists = noise.is_some() && !rows_are_units;
    let mut aggr = a.aggr_expr.clone();
    let next = |aggr: &mut Vec<Expr>, f, args, filter, what: &str| -> usize {
        let i = aggr.len();
        aggr.push(hidden(
            f,
            args,
            filter,
            format!("{HIDDEN_PREFIX}{what}_{i}"),
        ));
        first_aggr + i
    };

    let mut units = Vec::new();
    let mut magnitudes = Vec::new();
    let sums = a.aggr_expr.iter().filter_map(|e| {
        let f = aggregate_function(e)?;
        let arg = f.params.args.first()?;
        matches!(f.func.name(), "sum" | "avg" | "mean").then_some((f, arg))
    });
    if rows_are_units {
        units.push(next(
            &mut aggr,
            datafusion::functions_aggregate::count::count_udaf(),
            vec![Expr::Literal(ScalarValue::Int64(Some(1)), None)],
            None,
            "rows",
        ));
        for (f, arg) in sums {
            let c = next(
                &mut aggr,
                magnitude_udaf(),
                vec![cast(arg.clone(), DataType::Float64)],
                f.params.filter.clone(),
                "magnitude",
            );
            magnitudes.push((c, 0));
        }
    } else {
        // Counted up to k: the rule needs no more.
        let cap = Some((k as usize).max(1));
        for u in &unit_cols {
            units.push(next(
                &mut aggr,
                units_udaf(lists, cap),
                vec![u.clone()],
                None,
                "units",
            ));
        }
        for (f, arg) in sums {
            for (ui, u) in unit_cols.iter().enumerate() {
                let c = next(
                    &mut aggr,
                    contributions_udaf(Summary::Magnitude),
                    vec![u.clone(), cast(arg.clone(), DataType::Float64)],
                    f.params.filter.clone(),
                    "magnitude",
                );
                magnitudes.push((c, ui));
            }
        }
    }
    let mut sketches = Vec::new();
    if history {
        let buckets = UnitSketch::buckets_for(k);
        // Stored digests go to the sketch as they are read: it applies the
        // agreement's bijection itself.
        let mut sketch_args: Vec<(Expr, Option<(u64, u64)>)> = carried
            .iter()
            .map(|(_, c)| match c {
                Carried::Raw(c) => (setup.digest.call(vec![Expr::Column(c.clone())]), None),
                Carried::Stored(c) => (Expr::Column(c.clone()), Some(setup.agreement)),
                Carried::Digest(c) => (Expr::Column(c.clone()), None),
            })
            .collect();
        sketch_args.extend(
            unit_cols
                .iter()
                .zip(&unit_col_tables)
                .filter(|(_, t)| !carried_tables.contains(t))
                .map(|(u, _)| (u.clone(), None)),
        );
        for (u, stored) in sketch_args {
            sketches.push(next(
                &mut aggr,
                sketch_udaf(buckets, stored),
                vec![u],
                None,
                "sketch",
            ));
        }
    }

    let mut noisy = Vec::new();
    let mut epsilon_each = Epsilon(0);
    if let Some(spec) = noise {
        if grouping {
            return Err(refuse_noise("this query has grouping sets (ROLLUP, CUBE)"));
        }
        let [unit] = unit_cols.as_slice() else {
            return Err(refuse_noise(&format!(
                "this query's aggregate has {} unit columns",
                unit_cols.len()
            )));
        };
        if spec.rows_per_unit == 0 {
            return Err(WorkspaceError::not_allowed(
                "the bound on rows per unit must be at least 1",
            ));
        }
        let rows = f64::from(spec.rows_per_unit);
        let count_sensitivity = sum_sensitivity(0.0, 1.0, spec.rows_per_unit);
        for (j, e) in a.aggr_expr.iter().enumerate() {
            let col = first_aggr + j;
            let Some(f) = aggregate_function(e) else {
                return Err(refuse_noise("an output is not an aggregate function"));
            };
            let name = f.func.name();
            if f.params.distinct {
                return Err(refuse_noise(&format!("'{name}(DISTINCT …)' is refused")));
            }
            let filter = f.params.filter.clone();
            let arg = f.params.args.first().cloned();
            let count = |aggr: &mut Vec<Expr>| {
                let value = match &arg {
                    Some(x) => cast(x.clone().is_not_null(), DataType::Float64),
                    None => Expr::Literal(ScalarValue::Float64(Some(1.0)), None),
                };
                next(
                    aggr,
                    contributions_udaf(Summary::bounded(0.0, rows)),
                    vec![unit.clone(), value],
                    filter.clone(),
                    "dp_count",
                )
            };
            match name {
                "count" => noisy.push(Noisy::Count {
                    col,
                    count: count(&mut aggr),
                    sensitivity: count_sensitivity,
                }),
                "sum" | "avg" | "mean" => {
                    let Some(x) = &arg else {
                        return Err(refuse_noise(&format!("'{name}' needs an argument")));
                    };
                    let Some((lo, hi)) = stated_bounds(x) else {
                        return Err(WorkspaceError::not_allowed(format!(
                            "under noise the value of '{name}' must state its bounds with \
                             literals, e.g. {name}(least(greatest(x, 0), 100000))"
                        )));
                    };
                    let sensitivity = sum_sensitivity(lo, hi, spec.rows_per_unit);
                    let sum = next(
                        &mut aggr,
                        contributions_udaf(Summary::bounded(
                            (rows * lo).min(0.0),
                            (rows * hi).max(0.0),
                        )),
                        vec![unit.clone(), cast(x.clone(), DataType::Float64)],
                        filter.clone(),
                        "dp_sum",
                    );
                    if name == "sum" {
                        let t = a.schema.field(col).data_type();
                        if !matches!(t, DataType::Int64 | DataType::UInt64 | DataType::Float64) {
                            return Err(refuse_noise(&format!(
                                "a sum of type {t} cannot take noise; cast the value to \
                                 BIGINT or DOUBLE"
                            )));
                        }
                        noisy.push(Noisy::Sum {
                            col,
                            sum,
                            sensitivity,
                        });
                    } else {
                        noisy.push(Noisy::Avg {
                            col,
                            sum,
                            count: count(&mut aggr),
                            sum_sensitivity: sensitivity,
                            count_sensitivity,
                        });
                    }
                }
                other => return Err(refuse_noise(&format!("'{other}' is refused"))),
            }
        }
        let statistics: u32 = noisy.iter().map(Noisy::statistics).sum();
        if statistics == 0 {
            return Err(refuse_noise("this query has no aggregate to add noise to"));
        }
        epsilon_each = Epsilon((spec.epsilon.0 / u64::from(statistics)).max(1));
        spec.mechanism
            .noise(1.0, epsilon_each, 0.5, 0.5)
            .map_err(|e| WorkspaceError::not_allowed(e.message))?;
    }

    let plan = Arc::new(CellPlan {
        policy: setup.policy,
        max_cells: setup.max_cells,
        roles,
        grouping_id: grouping.then(|| first_aggr - 1),
        units,
        rows_are_units,
        lists,
        sketches,
        magnitudes,
        noisy,
        noise,
        epsilon_each,
        history: setup.history.clone(),
        report: Mutex::new(None),
    });
    let new = Aggregate::try_new(input, a.group_expr.clone(), aggr).map_err(internal)?;
    let node = CheckNode {
        input: LogicalPlan::Aggregate(new),
        schema: a.schema.clone(),
        plan: plan.clone(),
    };
    Ok((
        LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        }),
        plan,
    ))
}

/// The table whose rows `plan`'s rows are, one for one (each row of the
/// plan is a different row of the table): a scan under filters,
/// projections, sorts, limits and aliases only. Subqueries in filters and
/// projections may read other tables; they add no rows.
fn one_row_per_unit(plan: &LogicalPlan, tables: &[Arc<Guarded>]) -> Option<usize> {
    match plan {
        LogicalPlan::TableScan(s) => table_index(s, tables),
        LogicalPlan::Filter(_)
        | LogicalPlan::Projection(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_) => match plan.inputs()[..] {
            [input] => one_row_per_unit(input, tables),
            _ => None,
        },
        _ => None,
    }
}

/// Where a unit's raw value or digest is in a plan's schema.
#[derive(Debug, Clone)]
enum Carried {
    /// The raw unit column of a scan (below the guard's masks).
    Raw(Column),
    /// The stored unit digests of a scan, as stored (platform-keyed; the
    /// sketch applies the agreement's bijection).
    Stored(Column),
    /// A hidden column holding the unit's digest.
    Digest(Column),
}

/// The plan with hidden columns carrying the digest of the *raw* unit of
/// every occurrence of the tables in `wanted` (tables whose unit is a
/// pseudonymised identifier), from the guard's mask projection up to the
/// plan's output; with, per table, the hidden columns. The digest of the
/// raw value is the digest every other query of the agreement uses for
/// that unit (the digest of a raw identifier where it is visible), so
/// sketches of all queries compare; and no pseudonym (SM3) is computed
/// for it. `None` when a node between does not let them through
/// (aggregates, unions, windows…): the caller refuses the query.
fn carry_raw_digests(
    plan: &LogicalPlan,
    setup: &CheckSetup<'_>,
    wanted: &BTreeSet<usize>,
    next: &mut usize,
) -> Option<(LogicalPlan, Vec<(usize, Carried)>)> {
    let tables = setup.tables;
    if scanned(plan, tables).is_disjoint(wanted) {
        return Some((plan.clone(), Vec::new()));
    }
    match plan {
        LogicalPlan::TableScan(scan) => {
            let t = table_index(scan, tables)?;
            let schema = &scan.projected_schema;
            if tables[t].stored_digests
                && let Ok((q, f)) =
                    schema.qualified_field_with_unqualified_name(unit_digest::COLUMN)
            {
                let c = Column::new(q.cloned(), f.name());
                return Some((plan.clone(), vec![(t, Carried::Stored(c))]));
            }
            let unit = tables[t].view.unit.as_ref()?;
            let (q, f) = schema.qualified_field_with_unqualified_name(unit).ok()?;
            Some((
                plan.clone(),
                vec![(t, Carried::Raw(Column::new(q.cloned(), f.name())))],
            ))
        }
        LogicalPlan::Projection(p) => {
            let (input, carried) = carry_raw_digests(&p.input, setup, wanted, next)?;
            let mut exprs = p.expr.clone();
            let mut out = Vec::new();
            for (t, c) in carried {
                let name = format!("{HIDDEN_PREFIX}unit_{t}_{next}");
                *next += 1;
                // Stored digests stay as stored up to the sketch, which
                // applies the agreement's bijection as it reads them.
                let (e, carried) = match c {
                    Carried::Raw(c) => (
                        setup.raw_digest.call(vec![Expr::Column(c)]),
                        Carried::Digest(Column::from_name(&name)),
                    ),
                    Carried::Stored(c) => {
                        (Expr::Column(c), Carried::Stored(Column::from_name(&name)))
                    }
                    Carried::Digest(c) => {
                        (Expr::Column(c), Carried::Digest(Column::from_name(&name)))
                    }
                };
                exprs.push(e.alias(&name));
                out.push((t, carried));
            }
            let new = Projection::try_new(exprs, Arc::new(input)).ok()?;
            Some((LogicalPlan::Projection(new), out))
        }
        LogicalPlan::Filter(_) | LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => {
            let [only] = plan.inputs()[..] else {
                return None;
            };
            let (input, carried) = carry_raw_digests(only, setup, wanted, next)?;
            Some((rebuild(plan, input).ok()?, carried))
        }
        LogicalPlan::SubqueryAlias(a) => {
            let (input, carried) = carry_raw_digests(&a.input, setup, wanted, next)?;
            let new = rebuild(plan, input).ok()?;
            let requalify = |c: Column| Column::new(Some(a.alias.clone()), c.name);
            let carried = carried
                .into_iter()
                .map(|(t, c)| {
                    (
                        t,
                        match c {
                            Carried::Raw(c) => Carried::Raw(requalify(c)),
                            Carried::Stored(c) => Carried::Stored(requalify(c)),
                            Carried::Digest(c) => Carried::Digest(requalify(c)),
                        },
                    )
                })
                .collect();
            Some((new, carried))
        }
        LogicalPlan::Join(j) => {
            let (l, lc) = carry_raw_digests(&j.left, setup, wanted, next)?;
            let (r, rc) = carry_raw_digests(&j.right, setup, wanted, next)?;
            let carried = match j.join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    lc.into_iter().chain(rc).collect()
                }
                JoinType::LeftSemi | JoinType::LeftAnti => lc,
                JoinType::RightSemi | JoinType::RightAnti => rc,
                _ => return None,
            };
            let new = plan.with_new_exprs(plan.expressions(), vec![l, r]).ok()?;
            Some((new, carried))
        }
        _ => None,
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
