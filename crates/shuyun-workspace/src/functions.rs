//! The curated function registry (函数白名单): the scalar, aggregate and
//! window functions an operator may call. Nothing here reads files, reaches
//! the network, sleeps or reveals the platform; there are no table
//! functions at all (`read_parquet`, `read_csv`, `generate_series`, …).
//!
//! The aggregates that hide individual values (counts, sums, means,
//! dispersion) are listed in [`AGGREGATING`]; the lineage check lets a
//! restricted field reach an output only through one of them. `min`,
//! `max`, `median` and the like return one unit's own value and count as
//! raw.

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};

const SCALAR: &[&str] = &[
    // math
    "abs",
    "ceil",
    "floor",
    "round",
    "trunc",
    "power",
    "pow",
    "sqrt",
    "cbrt",
    "exp",
    "ln",
    "log",
    "log2",
    "log10",
    "signum",
    "pi",
    "greatest",
    "least",
    // conditional
    "coalesce",
    "nullif",
    "nvl",
    "nvl2",
    "ifnull",
    // text
    "lower",
    "upper",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "concat",
    "concat_ws",
    "substr",
    "substring",
    "left",
    "right",
    "lpad",
    "rpad",
    "replace",
    "strpos",
    "instr",
    "starts_with",
    "ends_with",
    "split_part",
    "initcap",
    "reverse",
    "repeat",
    "translate",
    // dates and times
    "date_trunc",
    "date_part",
    "datepart",
    "datetrunc",
    "date_bin",
    "make_date",
    "to_date",
    "to_timestamp",
    "to_timestamp_millis",
    "to_timestamp_seconds",
    "to_char",
    "now",
    "current_date",
    "from_unixtime",
    "to_unixtime",
    // internal helpers the SQL planner and the optimizer emit
    "get_field",
    "named_struct",
    "struct",
    "arrow_cast",
    "arrow_typeof",
];

/// Aggregates that combine many values into one without returning any of
/// them.
pub const AGGREGATING: &[&str] = &[
    "count",
    "sum",
    "avg",
    "mean",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "var",
    "var_samp",
    "var_pop",
    "var_population",
    "var_sample",
    "corr",
    "covar",
    "covar_samp",
    "covar_pop",
    "regr_slope",
    "regr_intercept",
    "regr_count",
    "regr_r2",
    "regr_avgx",
    "regr_avgy",
    "regr_sxx",
    "regr_syy",
    "regr_sxy",
    "approx_distinct",
    "bool_and",
    "bool_or",
    "grouping",
];

/// Aggregates offered beyond [`AGGREGATING`]: usable over open fields;
/// over restricted ones they count as showing a raw value.
const REVEALING: &[&str] = &["min", "max", "median", "first_value", "last_value"];

const WINDOW: &[&str] = &[
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
];

pub(crate) fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    datafusion::functions::all_default_functions()
        .into_iter()
        .filter(|f| SCALAR.contains(&f.name()))
        .collect()
}

pub(crate) fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    datafusion::functions_aggregate::all_default_aggregate_functions()
        .into_iter()
        .filter(|f| AGGREGATING.contains(&f.name()) || REVEALING.contains(&f.name()))
        .collect()
}

pub(crate) fn window_functions() -> Vec<Arc<WindowUDF>> {
    datafusion::functions_window::all_default_window_functions()
        .into_iter()
        .filter(|f| WINDOW.contains(&f.name()))
        .collect()
}
