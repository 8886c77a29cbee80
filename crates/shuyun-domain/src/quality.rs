//! Data quality rules (数据质量规则, A6): what a resource's data must satisfy
//! beyond its schema, grouped by the dimensions of GB/T 36344 (completeness,
//! uniqueness, validity, consistency, timeliness), and how a version's
//! results become a score.
//!
//! The schema already makes a load all-or-nothing on types, required fields
//! and key uniqueness; quality rules measure what is allowed but
//! undesirable (an empty optional field, an implausible value, a stale
//! file) and turn it into a per-version report and score. Rules are checked
//! against the schema when set, so a rule can never name a missing field or
//! compare a date with a number.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::catalogue::{FieldName, FieldType, Schema};

/// The quality dimension a rule measures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 完整性
    Completeness,
    /// 唯一性
    Uniqueness,
    /// 有效性 (ranges, code lists, formats)
    Validity,
    /// 一致性 (cross-field)
    Consistency,
    /// 时效性
    Timeliness,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Completeness,
        Dimension::Uniqueness,
        Dimension::Validity,
        Dimension::Consistency,
        Dimension::Timeliness,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Completeness => "completeness",
            Dimension::Uniqueness => "uniqueness",
            Dimension::Validity => "validity",
            Dimension::Consistency => "consistency",
            Dimension::Timeliness => "timeliness",
        }
    }
}

/// A format with a check digit or fixed shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// 统一社会信用代码 with its GB 32100 check character.
    CreditCode,
    /// 公民身份号码 with its GB 11643 check digit.
    ResidentId,
    /// Six-digit administrative division code (GB/T 2260).
    DivisionCode,
    /// Mainland mobile number: 11 digits starting 13–19.
    Mobile,
    /// Six-digit postal code.
    PostalCode,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::CreditCode => "credit_code",
            Format::ResidentId => "resident_id",
            Format::DivisionCode => "division_code",
            Format::Mobile => "mobile",
            Format::PostalCode => "postal_code",
        }
    }

    /// Whether `v` has this format.
    pub fn accepts(self, v: &str) -> bool {
        match self {
            Format::CreditCode => v.parse::<crate::CreditCode>().is_ok(),
            Format::ResidentId => v.parse::<crate::ResidentId>().is_ok(),
            Format::DivisionCode => v.parse::<crate::DivisionCode>().is_ok(),
            Format::Mobile => {
                v.len() == 11
                    && v.bytes().all(|b| b.is_ascii_digit())
                    && v.as_bytes()[0] == b'1'
                    && (b'3'..=b'9').contains(&v.as_bytes()[1])
            }
            Format::PostalCode => v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()),
        }
    }
}

/// A comparison between two fields of the same row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum CompareOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
}

impl CompareOp {
    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CompareOp::Lt => o == Less,
            CompareOp::Le => o != Greater,
            CompareOp::Eq => o == Equal,
            CompareOp::Ge => o != Less,
            CompareOp::Gt => o == Greater,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Eq => "=",
            CompareOp::Ge => ">=",
            CompareOp::Gt => ">",
        }
    }
}

/// What one rule checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// The field is filled in (completeness).
    NotEmpty { field: FieldName },
    /// The combination of fields is unique among rows where all are filled.
    Unique { fields: Vec<FieldName> },
    /// A number, money amount (fen), date (`YYYY-MM-DD`) or timestamp lies
    /// within bounds (inclusive). Bounds are written as the field's values
    /// are: numbers as numbers, dates as strings.
    Range {
        field: FieldName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Bound>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Bound>,
    },
    /// The value is one of a code list (e.g. a GB/T 2261 code table).
    CodeList {
        field: FieldName,
        values: Vec<String>,
    },
    /// The value has a format with a check digit or fixed shape.
    Format { field: FieldName, format: Format },
    /// `left op right` holds where both are filled (consistency).
    Compare {
        left: FieldName,
        op: CompareOp,
        right: FieldName,
    },
    /// The data is fresh for the resource's update frequency: the newest
    /// value of `field` (a date or timestamp) is no older than the
    /// frequency allows at upload time; without a field, the version came
    /// no later than that after the previous one (timeliness).
    Fresh {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<FieldName>,
    },
}

/// A bound of a range rule: a number or a date/timestamp string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Bound {
    Number(f64),
    Text(String),
}

impl Check {
    pub fn dimension(&self) -> Dimension {
        match self {
            Check::NotEmpty { .. } => Dimension::Completeness,
            Check::Unique { .. } => Dimension::Uniqueness,
            Check::Range { .. } | Check::CodeList { .. } | Check::Format { .. } => {
                Dimension::Validity
            }
            Check::Compare { .. } => Dimension::Consistency,
            Check::Fresh { .. } => Dimension::Timeliness,
        }
    }

    /// A short human-readable statement of the rule (English; field names
    /// as in the schema).
    pub fn describe(&self) -> String {
        match self {
            Check::NotEmpty { field } => format!("{field} is filled in"),
            Check::Unique { fields } => {
                let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
                format!("({}) is unique", names.join(", "))
            }
            Check::Range { field, min, max } => {
                let b = |b: &Option<Bound>| match b {
                    Some(Bound::Number(n)) => n.to_string(),
                    Some(Bound::Text(t)) => t.clone(),
                    None => "…".into(),
                };
                format!("{field} in [{}, {}]", b(min), b(max))
            }
            Check::CodeList { field, values } => {
                format!("{field} in a list of {} codes", values.len())
            }
            Check::Format { field, format } => {
                format!("{field} is a valid {}", format.as_str())
            }
            Check::Compare { left, op, right } => format!("{left} {} {right}", op.as_str()),
            Check::Fresh { field: Some(f) } => format!("newest {f} is recent enough"),
            Check::Fresh { field: None } => "updated as often as promised".into(),
        }
    }
}

/// One quality rule with its weight in the score.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Rule {
    #[serde(flatten)]
    pub check: Check,
    /// Weight in the score, 1 to 100 (default 1).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

/// The wire form of a rule: every key any check may have, so that a key
/// that does not belong to the named check (or a misspelt one) is refused
/// rather than ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleRepr {
    check: String,
    field: Option<FieldName>,
    fields: Option<Vec<FieldName>>,
    min: Option<Bound>,
    max: Option<Bound>,
    values: Option<Vec<String>>,
    format: Option<Format>,
    left: Option<FieldName>,
    op: Option<CompareOp>,
    right: Option<FieldName>,
    weight: Option<u32>,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Rule::try_from(RuleRepr::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<RuleRepr> for Rule {
    type Error = String;

    fn try_from(r: RuleRepr) -> Result<Self, String> {
        let mut used: Vec<&str> = Vec::new();
        fn need<T>(
            v: Option<T>,
            key: &'static str,
            used: &mut Vec<&'static str>,
        ) -> Result<T, String> {
            used.push(key);
            v.ok_or_else(|| format!("missing '{key}'"))
        }
        let present = [
            ("field", r.field.is_some()),
            ("fields", r.fields.is_some()),
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
            ("values", r.values.is_some()),
            ("format", r.format.is_some()),
            ("left", r.left.is_some()),
            ("op", r.op.is_some()),
            ("right", r.right.is_some()),
        ];
        let check = match r.check.as_str() {
            "not_empty" => Check::NotEmpty {
                field: need(r.field, "field", &mut used)?,
            },
            "unique" => Check::Unique {
                fields: need(r.fields, "fields", &mut used)?,
            },
            "range" => {
                used.extend(["min", "max"]);
                Check::Range {
                    field: need(r.field, "field", &mut used)?,
                    min: r.min,
                    max: r.max,
                }
            }
            "code_list" => Check::CodeList {
                field: need(r.field, "field", &mut used)?,
                values: need(r.values, "values", &mut used)?,
            },
            "format" => Check::Format {
                field: need(r.field, "field", &mut used)?,
                format: need(r.format, "format", &mut used)?,
            },
            "compare" => Check::Compare {
                left: need(r.left, "left", &mut used)?,
                op: need(r.op, "op", &mut used)?,
                right: need(r.right, "right", &mut used)?,
            },
            "fresh" => {
                used.push("field");
                Check::Fresh { field: r.field }
            }
            other => {
                return Err(format!(
                    "unknown check '{other}': not_empty, unique, range, code_list, format, compare or fresh"
                ));
            }
        };
        if let Some((key, _)) = present.iter().find(|(k, p)| *p && !used.contains(k)) {
            return Err(format!("'{key}' does not belong to a {} check", r.check));
        }
        Ok(Rule {
            check,
            weight: r.weight.unwrap_or(1),
        })
    }
}

/// A resource's quality rules, checked against its schema: at most 100
/// rules; every field named exists and has a type the check can read.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct RuleSet(Vec<Rule>);

fn is_numeric(t: FieldType) -> bool {
    matches!(t, FieldType::Int64 | FieldType::Float64 | FieldType::Fen)
}

fn is_temporal(t: FieldType) -> bool {
    matches!(t, FieldType::Date | FieldType::Timestamp)
}

/// A date `YYYY-MM-DD` or timestamp `YYYY-MM-DD HH:MM:SS` as text, checked
/// only for shape here; the data plane parses it.
fn looks_temporal(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..4]
            .iter()
            .chain(&b[5..7])
            .chain(&b[8..10])
            .all(u8::is_ascii_digit)
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>, schema: &Schema) -> Result<Self, DomainError> {
        if rules.len() > 100 {
            return Err(DomainError::invalid("rules", "at most 100 quality rules"));
        }
        for (i, r) in rules.iter().enumerate() {
            check_rule(r, schema)
                .map_err(|m| DomainError::invalid("rules", format!("rule {}: {m}", i + 1)))?;
        }
        Ok(RuleSet(rules))
    }

    /// The rules a resource gets until its department sets its own: every
    /// optional field should be filled in, and the data should be as fresh
    /// as the update frequency promises.
    pub fn defaults(schema: &Schema) -> Self {
        let mut rules: Vec<Rule> = schema
            .fields()
            .iter()
            .filter(|f| f.nullable)
            .map(|f| Rule {
                check: Check::NotEmpty {
                    field: f.name.clone(),
                },
                weight: 1,
            })
            .collect();
        rules.push(Rule {
            check: Check::Fresh { field: None },
            weight: 1,
        });
        RuleSet(rules)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.0
    }

    /// Rules that no longer fit a new schema (a field dropped or retyped).
    pub fn broken_by(&self, schema: &Schema) -> Vec<String> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                check_rule(r, schema)
                    .err()
                    .map(|m| format!("rule {}: {m}", i + 1))
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for RuleSet {
    /// Deserialises without a schema (stored rules were checked when set).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RuleSet(Vec::<Rule>::deserialize(d)?))
    }
}

fn field_type(schema: &Schema, f: &FieldName) -> Result<FieldType, String> {
    schema
        .field(f.as_str())
        .map(|s| s.field_type)
        .ok_or_else(|| format!("no field '{f}' in the schema"))
}

fn check_bound(t: FieldType, b: &Option<Bound>) -> Result<(), String> {
    match (b, t) {
        (None, _) => Ok(()),
        (Some(Bound::Number(n)), t) if is_numeric(t) => {
            if n.is_finite() {
                Ok(())
            } else {
                Err("bounds must be finite".into())
            }
        }
        (Some(Bound::Text(s)), t) if is_temporal(t) => {
            if looks_temporal(s) {
                Ok(())
            } else {
                Err(format!("'{s}' is not a date (YYYY-MM-DD)"))
            }
        }
        _ => Err(format!(
            "a {} field needs {} bounds",
            t.as_str(),
            if is_temporal(t) { "date" } else { "number" }
        )),
    }
}

fn check_rule(r: &Rule, schema: &Schema) -> Result<(), String> {
    if !(1..=100).contains(&r.weight) {
        return Err("weight must be 1 to 100".into());
    }
    match &r.check {
        Check::NotEmpty { field } => field_type(schema, field).map(|_| ()),
        Check::Unique { fields } => {
            if fields.is_empty() || fields.len() > 10 {
                return Err("a uniqueness rule names 1 to 10 fields".into());
            }
            let mut seen = BTreeSet::new();
            for f in fields {
                field_type(schema, f)?;
                if !seen.insert(f.as_str()) {
                    return Err(format!("'{f}' is named twice"));
                }
            }
            Ok(())
        }
        Check::Range { field, min, max } => {
            let t = field_type(schema, field)?;
            if !is_numeric(t) && !is_temporal(t) {
                return Err(format!(
                    "'{field}' is {}: ranges need numbers or dates",
                    t.as_str()
                ));
            }
            if min.is_none() && max.is_none() {
                return Err("a range needs min, max or both".into());
            }
            check_bound(t, min)?;
            check_bound(t, max)?;
            if let (Some(Bound::Number(a)), Some(Bound::Number(b))) = (min, max)
                && a > b
            {
                return Err("min is above max".into());
            }
            if let (Some(Bound::Text(a)), Some(Bound::Text(b))) = (min, max)
                && a > b
            {
                return Err("min is after max".into());
            }
            Ok(())
        }
        Check::CodeList { field, values } => {
            let t = field_type(schema, field)?;
            if !matches!(t, FieldType::String | FieldType::Int64) {
                return Err(format!(
                    "'{field}' is {}: code lists need text or integers",
                    t.as_str()
                ));
            }
            if values.is_empty() || values.len() > 5000 {
                return Err("a code list has 1 to 5000 values".into());
            }
            if values
                .iter()
                .any(|v| v.is_empty() || v.chars().count() > 200)
            {
                return Err("codes are 1 to 200 characters".into());
            }
            if t == FieldType::Int64 && values.iter().any(|v| v.parse::<i64>().is_err()) {
                return Err(format!(
                    "'{field}' is an integer field: codes must be integers"
                ));
            }
            Ok(())
        }
        Check::Format { field, .. } => match field_type(schema, field)? {
            FieldType::String => Ok(()),
            t => Err(format!(
                "'{field}' is {}: formats apply to text",
                t.as_str()
            )),
        },
        Check::Compare { left, right, .. } => {
            let (a, b) = (field_type(schema, left)?, field_type(schema, right)?);
            if left == right {
                return Err("compare two different fields".into());
            }
            let comparable =
                (is_numeric(a) && is_numeric(b) && (a == FieldType::Fen) == (b == FieldType::Fen))
                    || (is_temporal(a) && is_temporal(b))
                    || (a == b && a == FieldType::String);
            if comparable {
                Ok(())
            } else {
                Err(format!(
                    "'{left}' ({}) and '{right}' ({}) cannot be compared",
                    a.as_str(),
                    b.as_str()
                ))
            }
        }
        Check::Fresh { field: None } => Ok(()),
        Check::Fresh { field: Some(f) } => {
            let t = field_type(schema, f)?;
            if is_temporal(t) {
                Ok(())
            } else {
                Err(format!(
                    "'{f}' is {}: freshness needs a date or timestamp",
                    t.as_str()
                ))
            }
        }
    }
}

/// The result of one rule on one data version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuleResult {
    pub rule: Rule,
    pub dimension: Dimension,
    pub description: String,
    /// Rows (or, for timeliness, checks) the rule applied to.
    pub checked: u64,
    pub failed: u64,
    /// Up to 20 failing rows (1-based, in file order), for correction.
    pub sample_rows: Vec<u64>,
    /// What a failing timeliness check found, e.g. "newest date 2026-01-31
    /// is 45 days old; monthly data may be 35".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RuleResult {
    /// Share of checked rows that pass, 0.0 to 1.0 (1.0 when nothing
    /// applied).
    pub fn pass_ratio(&self) -> f64 {
        if self.checked == 0 {
            1.0
        } else {
            (self.checked - self.failed.min(self.checked)) as f64 / self.checked as f64
        }
    }
}

/// The quality report of one data version (质量报告).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QualityReport {
    pub rows: u64,
    pub results: Vec<RuleResult>,
    /// Per dimension, the weighted pass ratio × 100 (dimensions without
    /// rules are absent).
    pub dimensions: Vec<(Dimension, f64)>,
    /// The weighted mean of all rules' pass ratios × 100, to two decimals.
    pub score: f64,
}

impl QualityReport {
    /// Assemble a report from rule results: weighted scores overall and per
    /// dimension. With no rules, the score is 100.
    pub fn new(rows: u64, results: Vec<RuleResult>) -> Self {
        let weighted = |it: &mut dyn Iterator<Item = &RuleResult>| {
            let (mut sum, mut w) = (0.0, 0.0);
            for r in it {
                sum += r.pass_ratio() * f64::from(r.rule.weight);
                w += f64::from(r.rule.weight);
            }
            if w == 0.0 {
                None
            } else {
                Some(round2(sum / w * 100.0))
            }
        };
        let dimensions = Dimension::ALL
            .iter()
            .filter_map(|d| {
                weighted(&mut results.iter().filter(|r| r.dimension == *d)).map(|s| (*d, s))
            })
            .collect();
        let score = weighted(&mut results.iter()).unwrap_or(100.0);
        QualityReport {
            rows,
            results,
            dimensions,
            score,
        }
    }

    /// The score in hundredths (0 to 10000), as stored.
    pub fn score_centi(&self) -> i64 {
        (self.score * 100.0).round() as i64
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{FieldSpec, Grade, PiTag};

    fn schema() -> Schema {
        let f = |name: &str, t: FieldType, nullable: bool| FieldSpec {
            name: name.parse().unwrap(),
            label: name.into(),
            field_type: t,
            unit: None,
            nullable,
            key: false,
            grade: Grade::General2,
            pi: PiTag::None,
        };
        Schema::new(vec![
            f("code", FieldType::String, false),
            f("capital", FieldType::Fen, true),
            f("staff", FieldType::Int64, true),
            f("founded", FieldType::Date, true),
            f("closed", FieldType::Date, true),
            f("ratio", FieldType::Float64, true),
        ])
        .unwrap()
    }

    fn rules(json: &str) -> Result<RuleSet, DomainError> {
        let rules: Vec<Rule> =
            serde_json::from_str(json).map_err(|e| DomainError::invalid("rules", e.to_string()))?;
        RuleSet::new(rules, &schema())
    }

    #[test]
    fn valid_rules_parse() {
        let r = rules(
            r#"[{"check":"not_empty","field":"capital","weight":3},
                {"check":"unique","fields":["code"]},
                {"check":"range","field":"staff","min":0,"max":1000000},
                {"check":"range","field":"founded","min":"1949-10-01"},
                {"check":"code_list","field":"code","values":["a","b"]},
                {"check":"format","field":"code","format":"credit_code"},
                {"check":"compare","left":"closed","op":">=","right":"founded"},
                {"check":"fresh"},
                {"check":"fresh","field":"founded"}]"#,
        )
        .unwrap();
        assert_eq!(r.rules().len(), 9);
        assert_eq!(r.rules()[0].weight, 3);
        assert_eq!(r.rules()[1].weight, 1);
        assert_eq!(r.rules()[6].check.dimension(), Dimension::Consistency);
        // Round trip.
        let back: RuleSet = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_number() {
        for (json, needle) in [
            (
                r#"[{"check":"not_empty","field":"nope"}]"#,
                "rule 1: no field 'nope'",
            ),
            (
                r#"[{"check":"fresh"},{"check":"range","field":"code","min":1}]"#,
                "rule 2: 'code' is string",
            ),
            (r#"[{"check":"range","field":"staff"}]"#, "min, max or both"),
            (
                r#"[{"check":"range","field":"staff","min":5,"max":1}]"#,
                "min is above max",
            ),
            (
                r#"[{"check":"range","field":"founded","min":3}]"#,
                "needs date bounds",
            ),
            (
                r#"[{"check":"range","field":"founded","min":"yesterday"}]"#,
                "not a date",
            ),
            (
                r#"[{"check":"code_list","field":"code","values":[]}]"#,
                "1 to 5000",
            ),
            (
                r#"[{"check":"code_list","field":"staff","values":["x"]}]"#,
                "must be integers",
            ),
            (
                r#"[{"check":"format","field":"staff","format":"mobile"}]"#,
                "formats apply to text",
            ),
            (
                r#"[{"check":"compare","left":"capital","op":"<","right":"staff"}]"#,
                "cannot be compared",
            ),
            (
                r#"[{"check":"compare","left":"founded","op":"<","right":"ratio"}]"#,
                "cannot be compared",
            ),
            (
                r#"[{"check":"compare","left":"staff","op":"<","right":"staff"}]"#,
                "two different",
            ),
            (
                r#"[{"check":"unique","fields":["code","code"]}]"#,
                "named twice",
            ),
            (r#"[{"check":"fresh","field":"staff"}]"#, "needs a date"),
            (
                r#"[{"check":"not_empty","field":"code","weight":0}]"#,
                "weight",
            ),
        ] {
            let e = rules(json).unwrap_err();
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
        for (json, needle) in [
            (r#"[{"check":"sql","field":"code"}]"#, "unknown check 'sql'"),
            (r#"[{"check":"not_empty"}]"#, "missing 'field'"),
            (
                r#"[{"check":"not_empty","field":"code","values":["a"]}]"#,
                "'values' does not belong",
            ),
            (
                r#"[{"check":"fresh","wieght":2}]"#,
                "unknown field `wieght`",
            ),
        ] {
            let e = rules(json).unwrap_err();
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
        let many = format!("[{}]", vec![r#"{"check":"fresh"}"#; 101].join(","));
        assert!(rules(&many).is_err());
    }

    #[test]
    fn formats() {
        let first17 = "91360200MA35X0X0A";
        let code = format!(
            "{first17}{}",
            crate::CreditCode::check_char(first17).unwrap()
        );
        assert!(Format::CreditCode.accepts(&code));
        assert!(!Format::CreditCode.accepts(&format!("{first17}#")));
        assert!(Format::Mobile.accepts("13912345678"));
        assert!(!Format::Mobile.accepts("12912345678"));
        assert!(!Format::Mobile.accepts("1391234567"));
        assert!(Format::PostalCode.accepts("333000"));
        assert!(!Format::PostalCode.accepts("33300A"));
        assert!(Format::DivisionCode.accepts("360200"));
        assert!(!Format::ResidentId.accepts("360202199001011234x"));
    }

    #[test]
    fn defaults_cover_optional_fields_and_freshness() {
        let d = RuleSet::defaults(&schema());
        assert_eq!(d.rules().len(), 6);
        assert!(d.broken_by(&schema()).is_empty());
    }

    #[test]
    fn broken_by_a_schema_change() {
        let r = rules(r#"[{"check":"not_empty","field":"capital"},{"check":"fresh"}]"#).unwrap();
        let mut fields = schema().fields().to_vec();
        fields.retain(|f| f.name.as_str() != "capital");
        let next = Schema::new(fields).unwrap();
        assert_eq!(
            r.broken_by(&next),
            vec!["rule 1: no field 'capital' in the schema".to_string()]
        );
    }

    #[test]
    fn scores_are_weighted_means() {
        let res = |check: Check, weight, checked, failed| RuleResult {
            dimension: check.dimension(),
            description: check.describe(),
            rule: Rule { check, weight },
            checked,
            failed,
            sample_rows: vec![],
            note: None,
        };
        let f = |s: &str| -> FieldName { s.parse().unwrap() };
        let report = QualityReport::new(
            100,
            vec![
                res(
                    Check::NotEmpty {
                        field: f("capital"),
                    },
                    3,
                    100,
                    10,
                ),
                res(Check::Fresh { field: None }, 1, 1, 1),
                res(
                    Check::Unique {
                        fields: vec![f("code")],
                    },
                    1,
                    0,
                    0,
                ),
            ],
        );
        // (0.9*3 + 0*1 + 1*1) / 5 = 0.74
        assert_eq!(report.score, 74.0);
        assert_eq!(report.score_centi(), 7400);
        assert_eq!(
            report.dimensions,
            vec![
                (Dimension::Completeness, 90.0),
                (Dimension::Uniqueness, 100.0),
                (Dimension::Timeliness, 0.0)
            ]
        );
        assert_eq!(QualityReport::new(0, vec![]).score, 100.0);
    }
}
