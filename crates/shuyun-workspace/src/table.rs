//! The tables of a workspace: what the caller gives ([`TableSpec`]), what
//! the operator sees of each field ([`Exposure`]), and the two providers of
//! a table — [`GuardedTable`], the only one that can be named in SQL, and
//! the raw Parquet listing it stands for, which only the guard (see
//! `guard.rs`) puts in a plan, under the row filter and the masks.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use shuyun_domain::authorization::scope::{Allowance, RowFilter};
use shuyun_domain::catalogue::{FieldName, FieldType, Grade, PiTag, ResourceCode, Schema};
use shuyun_domain::workspace::unit_digest;

use crate::bridge::ReadOnlyStore;
use crate::error::{WorkspaceError, WorkspaceResult};
use crate::filter::TIMESTAMP_TZ;

/// One in-scope table of a session, as the caller assembles it from the
/// catalogue, the data versions and `scope::decide`.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub resource: ResourceCode,
    /// The name operators use in SQL: `[a-z][a-z0-9_]{0,63}`.
    pub name: String,
    /// The resource's schema with each field's grade and PI tag.
    pub schema: Schema,
    /// Where the current version's Parquet objects are.
    pub store: Arc<dyn object_store::ObjectStore>,
    pub objects: Vec<object_store::path::Path>,
    /// What `scope::decide` allowed: visible fields and the row filter.
    pub allowance: Allowance,
    /// The field that identifies the person or enterprise a row is about
    /// (the unit of the minimum-count rule); `None` for a table whose rows
    /// are not about persons or enterprises. See [`TableSpec::default_unit`].
    pub unit: Option<FieldName>,
    /// Every object carries the unit's stored digests (a hidden column
    /// written at ingest) under the key of `WorkspaceConfig::unit_digest_key`
    /// (see `shuyun_domain::workspace::unit_digest`). Set it only when each
    /// object's metadata says so: a row without one fails the query.
    pub unit_digests: bool,
}

impl TableSpec {
    /// The unit field a schema implies: its single key field, when the
    /// resource holds personal information or the key is a
    /// personal/enterprise identifier. `None` otherwise.
    pub fn default_unit(schema: &Schema) -> Option<FieldName> {
        schema.unit_field().map(|f| f.name.clone())
    }
}

/// What the operator sees of a visible field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// General grade, not personal information: usable anywhere.
    Open,
    /// A sensitive personal identifier, replaced by its keyed pseudonym.
    Pseudonymised,
    /// Important grade or personal information: usable in filters, joins,
    /// grouping and aggregates, never shown raw.
    Restricted,
}

/// A field as the operator's schema browser shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisibleField {
    pub name: String,
    pub field_type: FieldType,
    pub grade: Grade,
    pub pi: PiTag,
    pub exposure: Exposure,
}

/// A table as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisibleTable {
    pub resource: String,
    pub name: String,
    pub fields: Vec<VisibleField>,
    /// The unit of the minimum-count rule, if rows are about persons or
    /// enterprises.
    pub unit: Option<String>,
}

/// What the guard and the checks know about a table.
#[derive(Debug)]
pub(crate) struct Guarded {
    pub view: VisibleTable,
    pub row_filter: Option<RowFilter>,
    /// The raw Parquet listing: visible fields plus those the row filter
    /// needs, with stored types.
    pub raw: Arc<dyn TableProvider>,
    /// Visible schema (pseudonymised fields are text).
    pub visible: SchemaRef,
    /// The unit is the table's single key field. Ingest refuses a version
    /// with a repeated or missing key, so every row is a different unit.
    pub unit_is_key: bool,
    /// The raw listing has the stored unit digests (`unit_digest::COLUMN`).
    pub stored_digests: bool,
}

impl Guarded {
    pub fn field(&self, name: &str) -> Option<&VisibleField> {
        self.view.fields.iter().find(|f| f.name == name)
    }
}

/// The Arrow type a field is read as. Text is read as `Utf8View`, as
/// DataFusion reads Parquet text by default: filters and grouping on it
/// are faster than on `Utf8`.
pub(crate) fn arrow_type(t: FieldType) -> DataType {
    match t {
        FieldType::String => DataType::Utf8View,
        FieldType::Int64 | FieldType::Fen => DataType::Int64,
        FieldType::Float64 => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        FieldType::Date => DataType::Date32,
        FieldType::Timestamp => {
            DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from(TIMESTAMP_TZ)))
        }
    }
}

fn exposure(grade: Grade, pi: PiTag, t: FieldType) -> Exposure {
    match (pi, t) {
        (PiTag::SensitivePi, FieldType::String) => Exposure::Pseudonymised,
        (PiTag::SensitivePi | PiTag::Pi, _) => Exposure::Restricted,
        (PiTag::None, _) if grade >= Grade::Important => Exposure::Restricted,
        _ => Exposure::Open,
    }
}

fn valid_table_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.starts_with("shuyun_")
}

/// The object stores of one session, under URLs of its own; nothing else
/// (no `file://`) can be reached.
#[derive(Debug, Default)]
pub(crate) struct TableStores {
    stores: RwLock<HashMap<String, Arc<dyn object_store_df::ObjectStore>>>,
}

impl ObjectStoreRegistry for TableStores {
    fn register_store(
        &self,
        _url: &url::Url,
        _store: Arc<dyn object_store_df::ObjectStore>,
    ) -> Option<Arc<dyn object_store_df::ObjectStore>> {
        // Stores are fixed when the session is built.
        None
    }

    fn get_store(
        &self,
        url: &url::Url,
    ) -> datafusion::error::Result<Arc<dyn object_store_df::ObjectStore>> {
        let key = format!("{}://{}", url.scheme(), url.authority());
        self.stores
            .read()
            .map_err(|_| datafusion::error::DataFusionError::Internal("store registry".into()))?
            .get(&key)
            .cloned()
            .ok_or_else(|| datafusion::error::DataFusionError::Plan("no such data location".into()))
    }
}

impl TableStores {
    fn add(
        &self,
        key: String,
        store: Arc<dyn object_store_df::ObjectStore>,
    ) -> WorkspaceResult<()> {
        self.stores
            .write()
            .map_err(|_| WorkspaceError::internal("store registry poisoned"))?
            .insert(key, store);
        Ok(())
    }
}

/// Check one spec and build what the guard needs.
pub(crate) fn build(
    idx: usize,
    spec: &TableSpec,
    stores: &TableStores,
) -> WorkspaceResult<Guarded> {
    if !valid_table_name(&spec.name) {
        return Err(WorkspaceError::invalid_table(format!(
            "'{}': a table name has 1-64 characters of a-z, 0-9 and '_' and starts with a letter",
            spec.name
        )));
    }
    if spec.objects.is_empty() {
        return Err(WorkspaceError::invalid_table(format!(
            "table '{}' has no data version",
            spec.name
        )));
    }
    let fields: Vec<VisibleField> = spec
        .schema
        .fields()
        .iter()
        .filter(|f| f.grade != Grade::Core && spec.allowance.fields.contains(&f.name))
        .map(|f| VisibleField {
            name: f.name.as_str().to_string(),
            field_type: f.field_type,
            grade: f.grade,
            pi: f.pi,
            exposure: exposure(f.grade, f.pi, f.field_type),
        })
        .collect();
    if fields.is_empty() {
        return Err(WorkspaceError::invalid_table(format!(
            "table '{}' has no visible field",
            spec.name
        )));
    }
    if let Some(u) = &spec.unit
        && !fields.iter().any(|f| f.name == u.as_str())
    {
        return Err(WorkspaceError::invalid_table(format!(
            "table '{}': the unit field '{u}' must be visible (in scope and not core) \
             so that minimum counts can be enforced",
            spec.name
        )));
    }
    if let Some(rf) = &spec.allowance.rows {
        rf.check_schema(&spec.schema)
            .map_err(|m| WorkspaceError::invalid_table(format!("table '{}': {m}", spec.name)))?;
    }
    // Raw columns: the visible ones and those the row filter reads.
    let filter_fields: Vec<&str> = spec
        .allowance
        .rows
        .iter()
        .flat_map(|r| r.predicates().iter().map(|p| p.field().as_str()))
        .collect();
    let mut raw_fields: Vec<Field> = spec
        .schema
        .fields()
        .iter()
        .filter(|f| {
            fields.iter().any(|v| v.name == f.name.as_str())
                || filter_fields.contains(&f.name.as_str())
        })
        .map(|f| Field::new(f.name.as_str(), arrow_type(f.field_type), true))
        .collect();
    // The guard's masks never pass this column up: only the output checks'
    // rewrite reads it, below them.
    let stored_digests = spec.unit_digests && spec.unit.is_some();
    if stored_digests {
        raw_fields.push(Field::new(unit_digest::COLUMN, DataType::UInt64, true));
    }
    let raw_schema = Arc::new(ArrowSchema::new(raw_fields));
    let visible = Arc::new(ArrowSchema::new(
        fields
            .iter()
            .map(|f| {
                let t = if f.exposure == Exposure::Pseudonymised {
                    DataType::Utf8
                } else {
                    arrow_type(f.field_type)
                };
                Field::new(&f.name, t, true)
            })
            .collect::<Vec<_>>(),
    ));

    let key = format!("shuyun-table://t{idx}");
    stores.add(
        key.clone(),
        Arc::new(ReadOnlyStore::new(spec.store.clone())),
    )?;
    let urls = spec
        .objects
        .iter()
        .map(|p| ListingTableUrl::parse(format!("{key}/{p}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WorkspaceError::invalid_table(format!("table '{}': {e}", spec.name)))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension("");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(raw_schema);
    let raw = ListingTable::try_new(config)
        .map_err(|e| WorkspaceError::invalid_table(format!("table '{}': {e}", spec.name)))?;
    let keys: Vec<_> = spec.schema.key_fields().collect();
    let unit_is_key = match (&spec.unit, keys.as_slice()) {
        (Some(u), [k]) => k.name == *u,
        _ => false,
    };
    Ok(Guarded {
        unit_is_key,
        stored_digests,
        view: VisibleTable {
            resource: spec.resource.as_str().to_string(),
            name: spec.name.clone(),
            fields,
            unit: spec.unit.as_ref().map(|u| u.as_str().to_string()),
        },
        row_filter: spec.allowance.rows.clone(),
        raw: Arc::new(raw),
        visible,
    })
}

/// The provider operators can name. It cannot be scanned: the guard
/// replaces each of its scans by the raw listing under the row filter and
/// the masks before anything runs.
#[derive(Debug)]
pub(crate) struct GuardedTable(pub Arc<Guarded>);

#[async_trait]
impl TableProvider for GuardedTable {
    fn schema(&self) -> SchemaRef {
        self.0.visible.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        Err(datafusion::error::DataFusionError::Internal(
            "an unguarded scan reached execution".into(),
        ))
    }
}

/// The guarded table behind a provider, if it is one.
pub(crate) fn guarded_of(p: &Arc<dyn TableProvider>) -> Option<Arc<Guarded>> {
    let any: &dyn Any = p.as_ref();
    any.downcast_ref::<GuardedTable>().map(|g| g.0.clone())
}
