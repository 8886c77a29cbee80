//! Quality evaluation (A6): a stored data version is read back from the
//! object store batch by batch and every quality rule of the resource is
//! measured column-wise, giving a [`QualityReport`] with failing row
//! numbers (never values: reports are shown more widely than the data).
//!
//! Memory is bounded by one record batch plus, per uniqueness rule, 16
//! bytes per row (a 128-bit hash of the key).

use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use futures_util::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use shuyun_domain::catalogue::{FieldType, Schema};
use shuyun_domain::quality::{Bound, Check, QualityReport, Rule, RuleResult, RuleSet};

use crate::ingest::{parse_date, parse_timestamp_ms};

/// Failing rows kept per rule.
const SAMPLE_ROWS: usize = 20;
const DAY_MS: i64 = 86_400_000;
/// Beijing time is UTC+8 all year.
const BEIJING_MS: i64 = 8 * 3_600_000;

/// What timeliness is measured against.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When this version was uploaded (ms since the epoch).
    pub uploaded_at_ms: i64,
    /// When the previous version was uploaded, if any.
    pub previous_uploaded_at_ms: Option<i64>,
    /// The longest the data may age under the update frequency, in days
    /// (none for irregular resources).
    pub max_age_days: Option<i64>,
}

/// A value read from a column, for comparisons across types.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Num {
    /// Integers, fen and floats, as f64.
    Real(f64),
    /// Dates and timestamps, as ms since the epoch (dates at Beijing
    /// midnight).
    Instant(i64),
}

fn num_at(a: &ArrayRef, i: usize) -> Option<Num> {
    if a.is_null(i) {
        return None;
    }
    if let Some(x) = a.as_primitive_opt::<Int64Type>() {
        return Some(Num::Real(x.value(i) as f64));
    }
    if let Some(x) = a.as_primitive_opt::<Float64Type>() {
        return Some(Num::Real(x.value(i)));
    }
    if let Some(x) = a.as_primitive_opt::<Date32Type>() {
        return Some(Num::Instant(i64::from(x.value(i)) * DAY_MS - BEIJING_MS));
    }
    if let Some(x) = a.as_primitive_opt::<TimestampMillisecondType>() {
        return Some(Num::Instant(x.value(i)));
    }
    None
}

fn bound_num(b: &Option<Bound>, ty: FieldType) -> Option<Num> {
    match b {
        Some(Bound::Number(n)) => Some(Num::Real(*n)),
        Some(Bound::Text(t)) => match ty {
            FieldType::Date => {
                parse_date(t).map(|d| Num::Instant(i64::from(d) * DAY_MS - BEIJING_MS))
            }
            _ => parse_timestamp_ms(t)
                .or_else(|| parse_date(t).map(|d| i64::from(d) * DAY_MS - BEIJING_MS))
                .map(Num::Instant),
        },
        None => None,
    }
}

/// A 128-bit hash of a row's values in the given columns, or `None` if any
/// is empty.
fn row_key(cols: &[ArrayRef], i: usize) -> Option<u128> {
    let mut h1 = std::hash::DefaultHasher::new();
    let mut h2 = std::hash::DefaultHasher::new();
    0xa5u8.hash(&mut h2);
    for c in cols {
        if c.is_null(i) {
            return None;
        }
        let mut put = |bytes: &[u8]| {
            bytes.hash(&mut h1);
            bytes.hash(&mut h2);
        };
        if let Some(s) = c.as_string_opt::<i32>() {
            put(s.value(i).as_bytes());
        } else if let Some(b) = c.as_boolean_opt() {
            put(&[u8::from(b.value(i))]);
        } else {
            match num_at(c, i) {
                Some(Num::Real(f)) => put(&f.to_bits().to_le_bytes()),
                Some(Num::Instant(ms)) => put(&ms.to_le_bytes()),
                None => return None,
            }
        }
    }
    Some((u128::from(h1.finish()) << 64) | u128::from(h2.finish()))
}

enum State {
    Plain,
    Unique(HashSet<u128>),
    Codes(HashSet<String>),
    Newest(Option<i64>),
}

struct Eval<'a> {
    rule: &'a Rule,
    cols: Vec<usize>,
    types: Vec<FieldType>,
    state: State,
    checked: u64,
    failed: u64,
    sample: Vec<u64>,
}

impl Eval<'_> {
    fn fail(&mut self, row: u64) {
        self.failed += 1;
        if self.sample.len() < SAMPLE_ROWS {
            self.sample.push(row);
        }
    }

    fn observe(&mut self, batch: &RecordBatch, first_row: u64) {
        let cols: Vec<ArrayRef> = self.cols.iter().map(|&c| batch.column(c).clone()).collect();
        let n = batch.num_rows();
        match &self.rule.check {
            Check::NotEmpty { .. } => {
                let c = &cols[0];
                self.checked += n as u64;
                if c.null_count() > 0 {
                    for i in 0..n {
                        if c.is_null(i) {
                            self.fail(first_row + i as u64);
                        }
                    }
                }
            }
            Check::Unique { .. } => {
                for i in 0..n {
                    if let Some(k) = row_key(&cols, i) {
                        self.checked += 1;
                        let State::Unique(seen) = &mut self.state else {
                            continue;
                        };
                        if !seen.insert(k) {
                            self.fail(first_row + i as u64);
                        }
                    }
                }
            }
            Check::Range { min, max, .. } => {
                let (lo, hi) = (bound_num(min, self.types[0]), bound_num(max, self.types[0]));
                for i in 0..n {
                    if let Some(v) = num_at(&cols[0], i) {
                        self.checked += 1;
                        let below = lo.is_some_and(|lo| v.partial_cmp(&lo) == Some(Ordering::Less));
                        let above =
                            hi.is_some_and(|hi| v.partial_cmp(&hi) == Some(Ordering::Greater));
                        if below || above {
                            self.fail(first_row + i as u64);
                        }
                    }
                }
            }
            Check::CodeList { .. } => {
                let State::Codes(codes) = &self.state else {
                    return;
                };
                let mut bad = Vec::new();
                let c = &cols[0];
                for i in 0..n {
                    if c.is_null(i) {
                        continue;
                    }
                    self.checked += 1;
                    let ok = if let Some(s) = c.as_string_opt::<i32>() {
                        codes.contains(s.value(i))
                    } else if let Some(x) = c.as_primitive_opt::<Int64Type>() {
                        codes.contains(&x.value(i).to_string())
                    } else {
                        true
                    };
                    if !ok {
                        bad.push(first_row + i as u64);
                    }
                }
                for r in bad {
                    self.fail(r);
                }
            }
            Check::Format { format, .. } => {
                let Some(s) = cols[0].as_string_opt::<i32>() else {
                    return;
                };
                let s = s.clone();
                for i in 0..n {
                    if s.is_valid(i) {
                        self.checked += 1;
                        if !format.accepts(s.value(i)) {
                            self.fail(first_row + i as u64);
                        }
                    }
                }
            }
            Check::Compare { op, .. } => {
                let strings = (
                    cols[0].as_string_opt::<i32>().cloned(),
                    cols[1].as_string_opt::<i32>().cloned(),
                );
                for i in 0..n {
                    let ord = match &strings {
                        (Some(a), Some(b)) if a.is_valid(i) && b.is_valid(i) => {
                            Some(a.value(i).cmp(b.value(i)))
                        }
                        (Some(_), Some(_)) => None,
                        _ => match (num_at(&cols[0], i), num_at(&cols[1], i)) {
                            (Some(a), Some(b)) => a.partial_cmp(&b),
                            _ => None,
                        },
                    };
                    if let Some(o) = ord {
                        self.checked += 1;
                        if !op.holds(o) {
                            self.fail(first_row + i as u64);
                        }
                    }
                }
            }
            Check::Fresh { field: Some(_) } => {
                let State::Newest(newest) = &mut self.state else {
                    return;
                };
                for i in 0..n {
                    if let Some(Num::Instant(ms)) = num_at(&cols[0], i) {
                        *newest = Some(newest.map_or(ms, |m: i64| m.max(ms)));
                    }
                }
            }
            Check::Fresh { field: None } => {}
        }
    }

    fn finish(self, timing: &Timing) -> RuleResult {
        let mut note = None;
        let (mut checked, mut failed) = (self.checked, self.failed);
        match (&self.rule.check, timing.max_age_days) {
            (Check::Fresh { .. }, None) => {
                note = Some("irregular updates: timeliness not measured".into());
            }
            (Check::Fresh { field: Some(f) }, Some(max)) => {
                checked = 1;
                if let State::Newest(Some(newest)) = self.state {
                    let age = beijing_day(timing.uploaded_at_ms) - beijing_day(newest);
                    failed = u64::from(age > max);
                    note = Some(format!(
                        "newest {f} is {age} day(s) old at upload; at most {max} allowed"
                    ));
                } else {
                    failed = 1;
                    note = Some(format!("no {f} values to date the data"));
                }
            }
            (Check::Fresh { field: None }, Some(max)) => {
                if let Some(prev) = timing.previous_uploaded_at_ms {
                    checked = 1;
                    let gap = beijing_day(timing.uploaded_at_ms) - beijing_day(prev);
                    failed = u64::from(gap > max);
                    note = Some(format!(
                        "{gap} day(s) since the previous version; at most {max} allowed"
                    ));
                } else {
                    note = Some("first version".into());
                }
            }
            _ => {}
        }
        RuleResult {
            rule: self.rule.clone(),
            dimension: self.rule.check.dimension(),
            description: self.rule.check.describe(),
            checked,
            failed,
            sample_rows: self.sample,
            note,
        }
    }
}

fn beijing_day(ms: i64) -> i64 {
    (ms + BEIJING_MS).div_euclid(DAY_MS)
}

/// Measures rules over record batches in file order.
pub struct Evaluator<'a> {
    evals: Vec<Eval<'a>>,
    rows: u64,
}

impl<'a> Evaluator<'a> {
    /// Rules are matched to the schema's columns (in schema order, as the
    /// stored Parquet has them). A rule naming a field the schema lacks is
    /// reported as checking nothing.
    pub fn new(schema: &Schema, rules: &'a RuleSet) -> Self {
        let index = |name: &str| schema.fields().iter().position(|f| f.name.as_str() == name);
        let evals = rules
            .rules()
            .iter()
            .filter_map(|rule| {
                let names: Vec<&str> = match &rule.check {
                    Check::NotEmpty { field }
                    | Check::Range { field, .. }
                    | Check::CodeList { field, .. }
                    | Check::Format { field, .. }
                    | Check::Fresh { field: Some(field) } => vec![field.as_str()],
                    Check::Unique { fields } => fields.iter().map(|f| f.as_str()).collect(),
                    Check::Compare { left, right, .. } => vec![left.as_str(), right.as_str()],
                    Check::Fresh { field: None } => vec![],
                };
                let cols: Option<Vec<usize>> = names.iter().map(|n| index(n)).collect();
                let cols = cols?;
                let types = cols
                    .iter()
                    .map(|&c| schema.fields()[c].field_type)
                    .collect();
                let state = match &rule.check {
                    Check::Unique { .. } => State::Unique(HashSet::new()),
                    Check::CodeList { values, .. } => {
                        State::Codes(values.iter().cloned().collect())
                    }
                    Check::Fresh { .. } => State::Newest(None),
                    _ => State::Plain,
                };
                Some(Eval {
                    rule,
                    cols,
                    types,
                    state,
                    checked: 0,
                    failed: 0,
                    sample: Vec::new(),
                })
            })
            .collect();
        Evaluator { evals, rows: 0 }
    }

    /// Measure one batch; rows are numbered from 1 across batches.
    pub fn observe(&mut self, batch: &RecordBatch) {
        let first = self.rows + 1;
        for e in &mut self.evals {
            e.observe(batch, first);
        }
        self.rows += batch.num_rows() as u64;
    }

    pub fn finish(self, timing: &Timing) -> QualityReport {
        let rows = self.rows;
        QualityReport::new(
            rows,
            self.evals.into_iter().map(|e| e.finish(timing)).collect(),
        )
    }
}

/// Read a stored version back and measure `rules` over it.
pub async fn evaluate(
    objects: Arc<dyn ObjectStore>,
    path: &Path,
    schema: &Schema,
    rules: &RuleSet,
    timing: &Timing,
) -> Result<QualityReport, String> {
    let mut stream = crate::objects::read_batches(objects, path, 8192)
        .await
        .map_err(|e| format!("reading {path} for quality checks: {e}"))?;
    let mut ev = Evaluator::new(schema, rules);
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| format!("reading {path} for quality checks: {e}"))?;
        ev.observe(&batch);
    }
    Ok(ev.finish(timing))
}
