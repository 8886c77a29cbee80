//! The agreement's row filter (行级范围) as query-engine expressions: each
//! typed [`Predicate`] becomes a DataFusion [`Expr`] built from typed
//! literals, never from SQL text.

use std::sync::Arc;

use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::logical_expr::{Expr, lit};
use shuyun_domain::authorization::scope::{Predicate, RowFilter, Value};

/// The time zone of stored timestamps (Beijing time), as ingestion writes
/// them.
pub const TIMESTAMP_TZ: &str = "+08:00";

/// A row-filter literal as a DataFusion scalar of the stored type.
pub fn scalar(v: &Value) -> ScalarValue {
    match v {
        Value::String(s) => ScalarValue::Utf8(Some(s.clone())),
        Value::Int64(n) | Value::Fen(n) => ScalarValue::Int64(Some(*n)),
        Value::Float64(x) => ScalarValue::Float64(Some(*x)),
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Date(d) => ScalarValue::Date32(Some(i32::try_from(d.days_since_epoch()).unwrap_or(
            if d.days_since_epoch() < 0 {
                i32::MIN
            } else {
                i32::MAX
            },
        ))),
        Value::Timestamp(ms) => {
            ScalarValue::TimestampMillisecond(Some(*ms), Some(Arc::from(TIMESTAMP_TZ)))
        }
    }
}

/// One predicate over the column `field` of the table `qualifier`.
pub fn predicate_expr(p: &Predicate, qualifier: Option<&TableReference>) -> Expr {
    let column = Expr::Column(Column::new(qualifier.cloned(), p.field().as_str()));
    match p {
        Predicate::Eq { value, .. } => column.eq(lit(scalar(value))),
        Predicate::In { values, .. } => {
            column.in_list(values.iter().map(|v| lit(scalar(v))).collect(), false)
        }
        Predicate::Range { min, max, .. } => {
            let lo = min.as_ref().map(|m| column.clone().gt_eq(lit(scalar(m))));
            let hi = max.as_ref().map(|m| column.clone().lt_eq(lit(scalar(m))));
            match (lo, hi) {
                (Some(a), Some(b)) => a.and(b),
                (Some(a), None) | (None, Some(a)) => a,
                // A validated range has a bound; admit nothing otherwise.
                (None, None) => lit(false),
            }
        }
    }
}

/// The whole filter: the conjunction of its predicates.
pub fn row_filter_expr(f: &RowFilter, qualifier: Option<&TableReference>) -> Expr {
    f.predicates()
        .iter()
        .map(|p| predicate_expr(p, qualifier))
        .reduce(Expr::and)
        .unwrap_or_else(|| lit(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shuyun_domain::calendar::Date;

    fn field(s: &str) -> shuyun_domain::catalogue::FieldName {
        s.parse().expect("valid field name")
    }

    #[test]
    fn eq_in_and_range_translate_to_typed_expressions() {
        let f = RowFilter::new(vec![
            Predicate::Eq {
                field: field("district"),
                value: Value::String("昌江区".into()),
            },
            Predicate::In {
                field: field("year"),
                values: vec![Value::Int64(2024), Value::Int64(2025)],
            },
            Predicate::Range {
                field: field("registered"),
                min: Some(Value::Date(Date::from_ymd(2020, 1, 1).expect("date"))),
                max: None,
            },
        ])
        .expect("valid filter");
        let t = TableReference::bare("enterprises");
        let e = row_filter_expr(&f, Some(&t));
        assert_eq!(
            e.to_string(),
            "enterprises.district = Utf8(\"昌江区\") AND enterprises.year IN ([Int64(2024), Int64(2025)]) \
             AND enterprises.registered >= Date32(\"2020-01-01\")"
        );
    }

    #[test]
    fn a_quote_in_a_literal_stays_a_literal() {
        let p = Predicate::Eq {
            field: field("name"),
            value: Value::String("x' OR 1=1 --".into()),
        };
        let e = predicate_expr(&p, None);
        let Expr::BinaryExpr(b) = e else {
            panic!("expected a comparison")
        };
        assert_eq!(
            *b.right,
            lit(ScalarValue::Utf8(Some("x' OR 1=1 --".into())))
        );
    }

    #[test]
    fn both_bounds_and_timestamps() {
        let p = Predicate::Range {
            field: field("at"),
            min: Some(Value::Timestamp(0)),
            max: Some(Value::Timestamp(1000)),
        };
        let e = predicate_expr(&p, None);
        let s = e.to_string();
        assert!(
            s.contains("at >= TimestampMillisecond(0, Some(\"+08:00\"))"),
            "{s}"
        );
        assert!(
            s.contains("at <= TimestampMillisecond(1000, Some(\"+08:00\"))"),
            "{s}"
        );
        let fen = predicate_expr(
            &Predicate::Eq {
                field: field("amount"),
                value: Value::Fen(12),
            },
            None,
        );
        assert_eq!(fen.to_string(), "amount = Int64(12)");
    }
}
