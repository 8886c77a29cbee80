//! The scope policy (授权范围, B3/B6): what an operating agreement lets its
//! operator touch — resources by code, the fields of each, the rows (a small
//! typed predicate language, never SQL text), the domains and scenarios, and
//! the purposes — and [`decide`], the one decision function every later
//! check (the secure workspace, product registration, API delivery) calls.
//!
//! Grades and personal-information rules (C2) are not part of the scope:
//! they apply on top of an `Allow`, in the workspace.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::agreement::{AgreementState, Term};
use super::scenario::ScenarioState;
use super::{Purpose, ScenarioName};
use crate::calendar::Date;
use crate::catalogue::{DataDomain, FieldName, FieldType, ResourceCode, Schema};
use crate::error::{DomainError, DomainResult};

/// Most resources one scope may grant.
pub const MAX_SCOPE_RESOURCES: usize = 500;
/// Most predicates one row filter may hold.
pub const MAX_PREDICATES: usize = 32;
/// Most predicates the row filter of one grant may hold: half of
/// [`MAX_PREDICATES`], so that an agreement's and a scenario's filters
/// together still make a valid filter.
pub const MAX_GRANT_PREDICATES: usize = MAX_PREDICATES / 2;
/// Most values of one `in` predicate.
pub const MAX_IN_VALUES: usize = 1000;
/// Longest text literal, in characters.
pub const MAX_TEXT_LITERAL: usize = 200;

/// A typed literal in a row filter, or a value of a row. The type names are
/// those of [`FieldType`]: `{"type": "date", "value": "2026-01-01"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    String(String),
    Int64(i64),
    Float64(f64),
    /// Integer fen (分).
    Fen(i64),
    Bool(bool),
    Date(Date),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
}

impl Value {
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::String(_) => FieldType::String,
            Value::Int64(_) => FieldType::Int64,
            Value::Float64(_) => FieldType::Float64,
            Value::Fen(_) => FieldType::Fen,
            Value::Bool(_) => FieldType::Bool,
            Value::Date(_) => FieldType::Date,
            Value::Timestamp(_) => FieldType::Timestamp,
        }
    }

    /// The order of two values of the same type; `None` across types and
    /// for NaN.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Int64(a), Value::Int64(b))
            | (Value::Fen(a), Value::Fen(b))
            | (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
            (Value::Float64(a), Value::Float64(b)) => a.partial_cmp(b),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    fn same(&self, other: &Value) -> bool {
        self.compare(other) == Some(Ordering::Equal)
    }

    fn check_literal(&self) -> Result<(), String> {
        match self {
            Value::Float64(f) if !f.is_finite() => Err("numbers must be finite".into()),
            Value::String(s) if s.chars().count() > MAX_TEXT_LITERAL => Err(format!(
                "text literals have at most {MAX_TEXT_LITERAL} characters"
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Int64(n) | Value::Fen(n) | Value::Timestamp(n) => write!(f, "{n}"),
            Value::Float64(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Date(d) => write!(f, "{d}"),
        }
    }
}

/// A row to evaluate a filter against: the value of each field, `None` for
/// an empty (null) value or an unknown field.
pub trait Row {
    fn value(&self, field: &FieldName) -> Option<&Value>;
}

impl Row for BTreeMap<FieldName, Value> {
    fn value(&self, field: &FieldName) -> Option<&Value> {
        self.get(field)
    }
}

impl Row for std::collections::HashMap<FieldName, Value> {
    fn value(&self, field: &FieldName) -> Option<&Value> {
        self.get(field)
    }
}

/// One condition on one field of a row. Like SQL, a condition on an empty
/// (null) value is never true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Predicate {
    /// `field = value`
    Eq { field: FieldName, value: Value },
    /// `field IN (values)`: 1 to 1000 values of one type.
    In {
        field: FieldName,
        values: Vec<Value>,
    },
    /// `min <= field <= max`, either bound optional (not both).
    Range {
        field: FieldName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Value>,
    },
}

impl Predicate {
    pub fn field(&self) -> &FieldName {
        match self {
            Predicate::Eq { field, .. }
            | Predicate::In { field, .. }
            | Predicate::Range { field, .. } => field,
        }
    }

    fn literals(&self) -> Vec<&Value> {
        match self {
            Predicate::Eq { value, .. } => vec![value],
            Predicate::In { values, .. } => values.iter().collect(),
            Predicate::Range { min, max, .. } => min.iter().chain(max.iter()).collect(),
        }
    }

    /// Shape checks that need no schema.
    fn check(&self) -> Result<(), String> {
        let lits = self.literals();
        for v in &lits {
            v.check_literal()?;
        }
        if let Some(first) = lits.first()
            && lits.iter().any(|v| v.field_type() != first.field_type())
        {
            return Err(format!(
                "'{}': all values of a condition have one type",
                self.field()
            ));
        }
        match self {
            Predicate::Eq { .. } => Ok(()),
            Predicate::In { field, values } => {
                if values.is_empty() || values.len() > MAX_IN_VALUES {
                    Err(format!("'{field}': 'in' takes 1 to {MAX_IN_VALUES} values"))
                } else {
                    Ok(())
                }
            }
            Predicate::Range { field, min, max } => match (min, max) {
                (None, None) => Err(format!("'{field}': a range needs min, max or both")),
                (Some(a), Some(b)) if a.compare(b) == Some(Ordering::Greater) => {
                    Err(format!("'{field}': min is above max"))
                }
                (Some(v), _) | (_, Some(v)) if v.field_type() == FieldType::Bool => {
                    Err(format!("'{field}': true and false have no range"))
                }
                _ => Ok(()),
            },
        }
    }

    /// Whether the condition holds for a value (`None`: empty, never holds).
    pub fn holds(&self, v: Option<&Value>) -> bool {
        let Some(v) = v else { return false };
        match self {
            Predicate::Eq { value, .. } => v.same(value),
            Predicate::In { values, .. } => values.iter().any(|x| v.same(x)),
            Predicate::Range { min, max, .. } => {
                // A bound of another type compares as `None` and fails.
                let at_least =
                    |m: &Value| matches!(v.compare(m), Some(Ordering::Greater | Ordering::Equal));
                let at_most =
                    |m: &Value| matches!(v.compare(m), Some(Ordering::Less | Ordering::Equal));
                min.as_ref().is_none_or(at_least) && max.as_ref().is_none_or(at_most)
            }
        }
    }

    /// Whether every value satisfying `self` satisfies `other`, decided
    /// conservatively: `false` may be a missed implication, `true` never
    /// is wrong.
    pub fn implies(&self, other: &Predicate) -> bool {
        if self.field() != other.field() {
            return false;
        }
        // The values `self` admits, when it admits finitely many.
        let finite: Option<Vec<&Value>> = match self {
            Predicate::Eq { value, .. } => Some(vec![value]),
            Predicate::In { values, .. } => Some(values.iter().collect()),
            Predicate::Range { .. } => None,
        };
        if let Some(vals) = finite {
            return vals.iter().all(|v| other.holds(Some(v)));
        }
        let (Predicate::Range { min: a, max: b, .. }, Predicate::Range { min: c, max: d, .. }) =
            (self, other)
        else {
            return false;
        };
        let lower_ok = match (a, c) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(c)) => matches!(a.compare(c), Some(Ordering::Greater | Ordering::Equal)),
        };
        let upper_ok = match (b, d) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(b), Some(d)) => matches!(b.compare(d), Some(Ordering::Less | Ordering::Equal)),
        };
        // Types must agree with the other's bounds (the literals of one
        // predicate share a type).
        let typed = match (a.as_ref().or(b.as_ref()), c.as_ref().or(d.as_ref())) {
            (Some(x), Some(y)) => x.field_type() == y.field_type(),
            _ => true,
        };
        lower_ok && upper_ok && typed
    }

    fn check_schema(&self, schema: &Schema) -> Result<(), String> {
        let field = self.field();
        let spec = schema
            .field(field.as_str())
            .ok_or_else(|| format!("no field '{field}'"))?;
        if let Some(v) = self
            .literals()
            .into_iter()
            .find(|v| v.field_type() != spec.field_type)
        {
            return Err(format!(
                "'{field}' is {} but the condition compares it with {} {v}",
                spec.field_type.as_str(),
                v.field_type().as_str()
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Eq { field, value } => write!(f, "{field} = {value}"),
            Predicate::In { field, values } => {
                let vs: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "{field} IN ({})", vs.join(", "))
            }
            Predicate::Range { field, min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "{field} BETWEEN {a} AND {b}"),
                (Some(a), None) => write!(f, "{field} >= {a}"),
                (None, Some(b)) => write!(f, "{field} <= {b}"),
                (None, None) => write!(f, "TRUE"),
            },
        }
    }
}

/// A row filter (行级范围): a conjunction (AND) of 1 to 32 [`Predicate`]s
/// over typed literals. A row is in scope when every predicate holds.
/// Deliberately not SQL: the workspace translates it into query-engine
/// expressions, so nothing an operator or official writes is ever parsed as
/// SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter(Vec<Predicate>);
validated!(RowFilter, Vec<Predicate>);

impl RowFilter {
    pub fn new(predicates: Vec<Predicate>) -> DomainResult<Self> {
        if predicates.is_empty() || predicates.len() > MAX_PREDICATES {
            return Err(DomainError::invalid(
                "rows",
                format!("a row filter has 1 to {MAX_PREDICATES} conditions"),
            ));
        }
        for p in &predicates {
            p.check().map_err(|m| DomainError::invalid("rows", m))?;
        }
        Ok(Self(predicates))
    }

    pub fn predicates(&self) -> &[Predicate] {
        &self.0
    }

    /// Whether a row is in scope.
    pub fn matches(&self, row: &impl Row) -> bool {
        self.0.iter().all(|p| p.holds(row.value(p.field())))
    }

    /// Whether every row `self` admits is admitted by `other` (each of
    /// `other`'s conditions is implied by one of `self`'s). Conservative:
    /// may answer `false` for a real subset, never `true` for a non-subset.
    pub fn implies(&self, other: &RowFilter) -> bool {
        other.0.iter().all(|q| self.0.iter().any(|p| p.implies(q)))
    }

    /// The conjunction of two optional filters (`None` admits every row).
    pub fn and(a: Option<&RowFilter>, b: Option<&RowFilter>) -> Option<RowFilter> {
        match (a, b) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (Some(x), Some(y)) => {
                let mut ps = x.0.clone();
                ps.extend(y.0.iter().filter(|q| !x.0.contains(q)).cloned());
                Some(RowFilter(ps))
            }
        }
    }

    /// Every field named exists in the schema and every literal has its
    /// field's type.
    pub fn check_schema(&self, schema: &Schema) -> Result<(), String> {
        self.0.iter().try_for_each(|p| p.check_schema(schema))
    }
}

impl fmt::Display for RowFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(" AND "))
    }
}

/// Which fields of a resource are granted: `"all"` or a non-empty list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FieldSet {
    #[default]
    All,
    Only(BTreeSet<FieldName>),
}

impl FieldSet {
    pub fn contains(&self, field: &FieldName) -> bool {
        match self {
            FieldSet::All => true,
            FieldSet::Only(fs) => fs.contains(field),
        }
    }

    pub fn is_subset_of(&self, outer: &FieldSet) -> bool {
        match (self, outer) {
            (_, FieldSet::All) => true,
            (FieldSet::All, FieldSet::Only(_)) => false,
            (FieldSet::Only(a), FieldSet::Only(b)) => a.is_subset(b),
        }
    }

    /// The fields in both (possibly an empty list).
    pub fn intersect(&self, other: &FieldSet) -> FieldSet {
        match (self, other) {
            (FieldSet::All, x) | (x, FieldSet::All) => x.clone(),
            (FieldSet::Only(a), FieldSet::Only(b)) => {
                FieldSet::Only(a.intersection(b).cloned().collect())
            }
        }
    }

    fn names(&self) -> impl Iterator<Item = &FieldName> {
        match self {
            FieldSet::All => None,
            FieldSet::Only(fs) => Some(fs.iter()),
        }
        .into_iter()
        .flatten()
    }
}

impl Serialize for FieldSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldSet::All => s.serialize_str("all"),
            FieldSet::Only(fs) => fs.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            List(Vec<FieldName>),
        }
        use serde::de::Error;
        match Repr::deserialize(d)? {
            Repr::Word(w) if w == "all" => Ok(FieldSet::All),
            Repr::Word(w) => Err(D::Error::custom(format!(
                "fields: \"all\" or a list of field names, not \"{w}\""
            ))),
            Repr::List(l) if l.is_empty() || l.len() > 500 => {
                Err(D::Error::custom("fields: a list names 1 to 500 fields"))
            }
            Repr::List(l) => Ok(FieldSet::Only(l.into_iter().collect())),
        }
    }
}

impl schemars::JsonSchema for FieldSet {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldSet".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = g.subschema_for::<FieldName>();
        schemars::json_schema!({
            "description": "\"all\" fields, or a list of 1 to 500 field names",
            "oneOf": [
                { "const": "all" },
                { "type": "array", "items": item, "minItems": 1, "maxItems": 500, "uniqueItems": true }
            ]
        })
    }
}

/// The grant of one resource: which fields, which rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceGrant {
    pub resource: ResourceCode,
    /// Default: all fields.
    #[serde(default)]
    pub fields: FieldSet,
    /// Default: all rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowFilter>,
}

impl ResourceGrant {
    /// The whole resource: all fields, all rows.
    pub fn whole(resource: ResourceCode) -> Self {
        Self {
            resource,
            fields: FieldSet::All,
            rows: None,
        }
    }

    /// Whether `self` grants no more than `outer` (same resource, fields a
    /// subset, rows implied).
    pub fn is_within(&self, outer: &ResourceGrant) -> bool {
        self.resource == outer.resource
            && self.fields.is_subset_of(&outer.fields)
            && match (&self.rows, &outer.rows) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(a), Some(b)) => a.implies(b),
            }
    }

    /// A grant's row filter holds at most [`MAX_GRANT_PREDICATES`]
    /// conditions.
    pub(crate) fn check_size(&self) -> DomainResult<()> {
        match &self.rows {
            Some(r) if r.predicates().len() > MAX_GRANT_PREDICATES => Err(DomainError::invalid(
                "rows",
                format!(
                    "{}: a grant's row filter has at most {MAX_GRANT_PREDICATES} conditions",
                    self.resource
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Fields and row conditions exist in the schema, with literal types
    /// matching field types.
    pub fn check_schema(&self, schema: &Schema) -> Result<(), String> {
        if let Some(f) = self
            .fields
            .names()
            .find(|f| schema.field(f.as_str()).is_none())
        {
            return Err(format!("{}: no field '{f}'", self.resource));
        }
        if let Some(rows) = &self.rows {
            rows.check_schema(schema)
                .map_err(|m| format!("{}: {m}", self.resource))?;
        }
        Ok(())
    }
}

/// The wire form of a [`Scope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Scope")]
pub struct ScopeInput {
    /// The resources granted, each at most once: 1 to 500.
    pub resources: Vec<ResourceGrant>,
    /// If not empty, the domains (分领域) the scope is confined to: every
    /// resource must belong to one. Domains narrow a scope, never widen it:
    /// only listed resources are granted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub domains: BTreeSet<DataDomain>,
    /// If not empty, the scenarios (依场景) the scope is confined to:
    /// scenario plans may be approved only for these.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub scenarios: BTreeSet<ScenarioName>,
    /// The purposes data may be used for: at least one.
    pub purposes: BTreeSet<Purpose>,
}

/// A machine-readable scope (授权范围): resources, fields, rows, domains,
/// scenarios and purposes. Resources are kept sorted by code.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope(ScopeInput);
validated!(Scope, ScopeInput);

impl Scope {
    pub fn new(mut input: ScopeInput) -> DomainResult<Self> {
        if input.resources.is_empty() || input.resources.len() > MAX_SCOPE_RESOURCES {
            return Err(DomainError::invalid(
                "resources",
                format!("a scope grants 1 to {MAX_SCOPE_RESOURCES} resources"),
            ));
        }
        for g in &input.resources {
            g.check_size()?;
        }
        input.resources.sort_by(|a, b| a.resource.cmp(&b.resource));
        if let Some(w) = input
            .resources
            .windows(2)
            .find(|w| w[0].resource == w[1].resource)
        {
            return Err(DomainError::invalid(
                "resources",
                format!("{} is granted twice", w[0].resource),
            ));
        }
        if !input.domains.is_empty()
            && let Some(g) = input
                .resources
                .iter()
                .find(|g| !input.domains.contains(&g.resource.domain()))
        {
            return Err(DomainError::invalid(
                "resources",
                format!(
                    "{} belongs to the {} domain, which the scope does not include",
                    g.resource,
                    g.resource.domain().as_str()
                ),
            ));
        }
        if input.scenarios.len() > 100 {
            return Err(DomainError::invalid(
                "scenarios",
                "a scope names at most 100 scenarios",
            ));
        }
        if input.purposes.is_empty() {
            return Err(DomainError::invalid(
                "purposes",
                "a scope allows at least one purpose",
            ));
        }
        Ok(Self(input))
    }

    /// The grant of a resource, if the scope has one.
    pub fn grant(&self, resource: &ResourceCode) -> Option<&ResourceGrant> {
        self.0
            .resources
            .binary_search_by(|g| g.resource.cmp(resource))
            .ok()
            .and_then(|i| self.0.resources.get(i))
    }

    pub fn resource_codes(&self) -> impl Iterator<Item = &ResourceCode> {
        self.0.resources.iter().map(|g| &g.resource)
    }

    /// Whether a grant (e.g. a scenario's data) lies within this scope.
    pub fn covers(&self, grant: &ResourceGrant) -> bool {
        self.grant(&grant.resource)
            .is_some_and(|outer| grant.is_within(outer))
    }

    /// What `self` grants beyond `outer`, one line per excess; empty when
    /// `self` ⊆ `outer`.
    pub fn excess_over(&self, outer: &Scope) -> Vec<String> {
        let mut out = Vec::new();
        for g in &self.0.resources {
            match outer.grant(&g.resource) {
                None => out.push(format!("{} is not granted", g.resource)),
                Some(o) => {
                    if !g.fields.is_subset_of(&o.fields) {
                        out.push(format!("{}: fields beyond those granted", g.resource));
                    }
                    let rows_ok = match (&g.rows, &o.rows) {
                        (_, None) => true,
                        (None, Some(_)) => false,
                        (Some(a), Some(b)) => a.implies(b),
                    };
                    if !rows_ok {
                        out.push(format!(
                            "{}: rows beyond {}",
                            g.resource,
                            o.rows.as_ref().map(ToString::to_string).unwrap_or_default()
                        ));
                    }
                }
            }
        }
        for p in self.0.purposes.difference(&outer.0.purposes) {
            out.push(format!("purpose {} is not allowed", p.as_str()));
        }
        // An empty outer set does not confine; an empty inner set is
        // unconfined, so it is within only an unconfined outer.
        let within = |inner: bool, outer_empty: bool| outer_empty || inner;
        if !within(
            !self.0.domains.is_empty() && self.0.domains.is_subset(&outer.0.domains),
            outer.0.domains.is_empty(),
        ) {
            out.push("domains beyond those granted".into());
        }
        if !within(
            !self.0.scenarios.is_empty() && self.0.scenarios.is_subset(&outer.0.scenarios),
            outer.0.scenarios.is_empty(),
        ) {
            out.push("scenarios beyond those granted".into());
        }
        out
    }

    /// `self` ⊆ `outer`: every resource, field, row, purpose, domain and
    /// scenario of `self` is granted by `outer`.
    pub fn is_subset_of(&self, outer: &Scope) -> bool {
        self.excess_over(outer).is_empty()
    }

    /// B6 "no use beyond the authorization": refuses (`Forbidden`) a scope
    /// that grants anything `outer` does not.
    pub fn check_within(&self, outer: &Scope) -> DomainResult<()> {
        let excess = self.excess_over(outer);
        if excess.is_empty() {
            Ok(())
        } else {
            Err(DomainError::forbidden(format!(
                "beyond the authorized scope: {}",
                excess.join("; ")
            )))
        }
    }

    /// Every resource exists (`schema_of` gives its current schema), every
    /// field named exists, and row-filter literals have their fields' types.
    pub fn check_schemas<'a>(
        &self,
        schema_of: impl Fn(&ResourceCode) -> Option<&'a Schema>,
    ) -> DomainResult<()> {
        check_grants_schemas(&self.0.resources, schema_of)
    }

    /// No resource of the scope is on the negative list (负面清单).
    pub fn check_not_excluded(&self, excluded: &BTreeSet<ResourceCode>) -> DomainResult<()> {
        check_not_excluded(self.resource_codes(), excluded)
    }
}

/// Checks grants against the resources' schemas (see
/// [`Scope::check_schemas`]).
pub fn check_grants_schemas<'a>(
    grants: &[ResourceGrant],
    schema_of: impl Fn(&ResourceCode) -> Option<&'a Schema>,
) -> DomainResult<()> {
    for g in grants {
        let schema = schema_of(&g.resource).ok_or_else(|| {
            DomainError::invalid(
                "resources",
                format!("{} is not in the catalogue", g.resource),
            )
        })?;
        g.check_schema(schema)
            .map_err(|m| DomainError::invalid("resources", m))?;
    }
    Ok(())
}

/// Refuses (`Validation`, field `resources`) any code on the negative list.
pub fn check_not_excluded<'a>(
    codes: impl IntoIterator<Item = &'a ResourceCode>,
    excluded: &BTreeSet<ResourceCode>,
) -> DomainResult<()> {
    let hits: Vec<&str> = codes
        .into_iter()
        .filter(|c| excluded.contains(*c))
        .map(ResourceCode::as_str)
        .collect();
    if hits.is_empty() {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "resources",
            format!(
                "on the negative list (负面清单), so not for authorized operation: {}",
                hits.join(", ")
            ),
        ))
    }
}

/// A scenario plan as the decision needs it (built by the store from the
/// scenario plans of the agreement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioView {
    pub id: i64,
    pub name: ScenarioName,
    pub state: ScenarioState,
    pub purpose: Purpose,
    /// The data the scenario plan asked for (within the agreement scope).
    pub data: Vec<ResourceGrant>,
}

impl ScenarioView {
    /// The view of a stored scenario plan.
    pub fn of(id: i64, state: ScenarioState, plan: &super::scenario::ScenarioPlan) -> Self {
        Self {
            id,
            name: plan.name.clone(),
            state,
            purpose: plan.purpose,
            data: plan.data.clone(),
        }
    }
}

/// What [`decide`] needs to know about an agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgreementView {
    pub agreement_id: i64,
    /// The operator (运营机构) the agreement authorizes: the only
    /// organisation that may use it.
    pub operator_org_id: i64,
    /// The stored state; expiry is derived from `term` and the clock.
    pub state: AgreementState,
    pub term: Term,
    pub scope: Scope,
    /// The agreement's scenario plans (any state; only approved ones count).
    pub scenarios: Vec<ScenarioView>,
}

/// One access an organisation asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    /// The organisation asking (from the caller's identity, never from the
    /// request body).
    pub org_id: i64,
    pub resource: ResourceCode,
    /// A single field; `None` asks for the resource (the answer says which
    /// fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldName>,
    /// The purpose stated; `None` takes the scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// The approved scenario plan the access serves (B4: no development
    /// without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_id: Option<i64>,
}

/// Why an access is denied. Stable codes (`as_str`) for the ledger and the
/// API.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// The organisation is not the agreement's operator (no sharing or
    /// sub-licensing to third parties, B6).
    NotOperator,
    /// The agreement is not active (drafted, signed, filed, suspended,
    /// terminated, exited, cancelled).
    AgreementNotActive,
    /// The agreement's term has ended.
    AgreementExpired,
    /// The agreement is active but its term has not begun.
    NotYetInForce,
    /// The resource is not granted.
    ResourceNotInScope,
    /// The field is not granted.
    FieldNotInScope,
    /// No scenario named: development needs an approved scenario plan (B4).
    ScenarioRequired,
    /// The scenario plan is unknown on this agreement or not approved.
    ScenarioNotApproved,
    /// The resource or field is outside the data the scenario plan
    /// asked for.
    OutsideScenarioData,
    /// The stated purpose differs from the scenario's.
    PurposeMismatch,
    /// The agreement does not allow the purpose.
    PurposeNotAllowed,
}

impl DenyReason {
    pub const ALL: [DenyReason; 11] = [
        DenyReason::NotOperator,
        DenyReason::AgreementNotActive,
        DenyReason::AgreementExpired,
        DenyReason::NotYetInForce,
        DenyReason::ResourceNotInScope,
        DenyReason::FieldNotInScope,
        DenyReason::ScenarioRequired,
        DenyReason::ScenarioNotApproved,
        DenyReason::OutsideScenarioData,
        DenyReason::PurposeMismatch,
        DenyReason::PurposeNotAllowed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NotOperator => "not_operator",
            DenyReason::AgreementNotActive => "agreement_not_active",
            DenyReason::AgreementExpired => "agreement_expired",
            DenyReason::NotYetInForce => "not_yet_in_force",
            DenyReason::ResourceNotInScope => "resource_not_in_scope",
            DenyReason::FieldNotInScope => "field_not_in_scope",
            DenyReason::ScenarioRequired => "scenario_required",
            DenyReason::ScenarioNotApproved => "scenario_not_approved",
            DenyReason::OutsideScenarioData => "outside_scenario_data",
            DenyReason::PurposeMismatch => "purpose_mismatch",
            DenyReason::PurposeNotAllowed => "purpose_not_allowed",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown deny reason '{s}'")))
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an allowed access may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Allowance {
    pub agreement_id: i64,
    pub scenario_id: i64,
    pub purpose: Purpose,
    /// The fields visible: the agreement's grant narrowed by the
    /// scenario's.
    pub fields: FieldSet,
    /// The rows visible (`None`: all): the agreement's and the scenario's
    /// filters together. The workspace must apply it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowFilter>,
}

/// A denial with its coded reason and an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Denial {
    pub reason: DenyReason,
    pub message: String,
}

/// The answer of [`decide`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Allow(Allowance),
    Deny(Denial),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    pub fn deny_reason(&self) -> Option<DenyReason> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(d) => Some(d.reason),
        }
    }

    /// The allowance, or a `Forbidden` error whose message starts with the
    /// reason code.
    pub fn into_result(self) -> DomainResult<Allowance> {
        match self {
            Decision::Allow(a) => Ok(a),
            Decision::Deny(d) => Err(DomainError::forbidden(format!(
                "{}: {}",
                d.reason.as_str(),
                d.message
            ))),
        }
    }
}

fn deny(reason: DenyReason, message: impl Into<String>) -> Decision {
    Decision::Deny(Denial {
        reason,
        message: message.into(),
    })
}

/// The one scope decision: may `request.org_id` use `request.resource`
/// (and `request.field`) under `agreement` at `now_ms`?
///
/// Checks in this order, the first failure deciding:
/// 1. the organisation is the agreement's operator ([`DenyReason::NotOperator`]);
/// 2. the agreement is in force: its state at `now_ms` (expiry derived from
///    the term) is active ([`DenyReason::AgreementExpired`],
///    [`DenyReason::AgreementNotActive`]) and its term has begun
///    ([`DenyReason::NotYetInForce`]);
/// 3. the resource is granted, and the field if one is named
///    ([`DenyReason::ResourceNotInScope`], [`DenyReason::FieldNotInScope`]);
/// 4. an approved scenario plan of this agreement is named and its data
///    covers the resource and field ([`DenyReason::ScenarioRequired`],
///    [`DenyReason::ScenarioNotApproved`],
///    [`DenyReason::OutsideScenarioData`]);
/// 5. the purpose — the stated one, else the scenario's — is the
///    scenario's and the agreement allows it
///    ([`DenyReason::PurposeMismatch`], [`DenyReason::PurposeNotAllowed`]).
///
/// An `Allow` carries the visible fields (agreement grant ∩ scenario grant)
/// and the row filter to apply (both filters ANDed).
pub fn decide(agreement: &AgreementView, request: &AccessRequest, now_ms: i64) -> Decision {
    use DenyReason as R;
    if request.org_id != agreement.operator_org_id {
        return deny(
            R::NotOperator,
            format!(
                "agreement {} authorizes another organisation; authorized data is not shared \
                 or sub-licensed",
                agreement.agreement_id
            ),
        );
    }
    match agreement.state.at(&agreement.term, now_ms) {
        AgreementState::Active => {}
        AgreementState::Expired => {
            return deny(
                R::AgreementExpired,
                format!("the agreement's term ended on {}", agreement.term.end),
            );
        }
        s => {
            return deny(
                R::AgreementNotActive,
                format!("the agreement is {}", s.as_str()),
            );
        }
    }
    if Date::from_epoch_ms_beijing(now_ms) < agreement.term.start {
        return deny(
            R::NotYetInForce,
            format!("the agreement's term begins on {}", agreement.term.start),
        );
    }
    let Some(grant) = agreement.scope.grant(&request.resource) else {
        return deny(
            R::ResourceNotInScope,
            format!("{} is not in the agreement's scope", request.resource),
        );
    };
    if let Some(f) = &request.field
        && !grant.fields.contains(f)
    {
        return deny(
            R::FieldNotInScope,
            format!("field '{f}' of {} is not in the scope", request.resource),
        );
    }
    let Some(sid) = request.scenario_id else {
        return deny(
            R::ScenarioRequired,
            "name the approved scenario plan this access serves",
        );
    };
    let Some(scenario) = agreement
        .scenarios
        .iter()
        .find(|s| s.id == sid && s.state == ScenarioState::Approved)
    else {
        return deny(
            R::ScenarioNotApproved,
            format!(
                "scenario plan {sid} is not an approved scenario of agreement {}",
                agreement.agreement_id
            ),
        );
    };
    if !agreement.scope.scenarios.is_empty() && !agreement.scope.scenarios.contains(&scenario.name)
    {
        return deny(
            R::ScenarioNotApproved,
            format!(
                "scenario '{}' is not in the agreement's scope",
                scenario.name
            ),
        );
    }
    let Some(sgrant) = scenario
        .data
        .iter()
        .find(|g| g.resource == request.resource)
    else {
        return deny(
            R::OutsideScenarioData,
            format!(
                "scenario '{}' did not ask for {}",
                scenario.name, request.resource
            ),
        );
    };
    if let Some(f) = &request.field
        && !sgrant.fields.contains(f)
    {
        return deny(
            R::OutsideScenarioData,
            format!("scenario '{}' did not ask for field '{f}'", scenario.name),
        );
    }
    let purpose = request.purpose.unwrap_or(scenario.purpose);
    if purpose != scenario.purpose {
        return deny(
            R::PurposeMismatch,
            format!(
                "scenario '{}' serves {}, not {}",
                scenario.name,
                scenario.purpose.as_str(),
                purpose.as_str()
            ),
        );
    }
    if !agreement.scope.purposes.contains(&purpose) {
        return deny(
            R::PurposeNotAllowed,
            format!("the agreement does not allow {}", purpose.as_str()),
        );
    }
    Decision::Allow(Allowance {
        agreement_id: agreement.agreement_id,
        scenario_id: scenario.id,
        purpose,
        fields: grant.fields.intersect(&sgrant.fields),
        rows: RowFilter::and(grant.rows.as_ref(), sgrant.rows.as_ref()),
    })
}

#[cfg(test)]
mod tests;
