//! Running operators' SQL in the secure workspace (数据沙箱, C1–C5): the
//! server's side of `shuyun-workspace`. For each query it asks
//! `Store::authorize` for every resource of the approved scenario (nothing
//! is cached, so a suspension denies the next query), opens a session over
//! the current versions' Parquet (or their synthetic look-alikes, C4),
//! stops linkage risks before any data is read (C5), runs under the
//! limits, and writes the query to the ledger whatever became of it.
//!
//! Suspending or ending an agreement cancels its running queries
//! ([`Workspaces::cancel_agreement`]); each operator organisation runs at
//! most [`Limits::per_operator`] queries at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use shuyun_domain::DomainError;
use shuyun_domain::authorization::scope::{AccessRequest, Decision};
use shuyun_domain::catalogue::{PiTag, Schema};
use shuyun_domain::workspace::linkage::{LinkageRisk, OutputShape, SourceUse, assess};
use shuyun_domain::workspace::{OutputPolicy, QueryOutcome, ReleasedCell, UnitDigestKey};
use shuyun_store::accounts::Principal;
use shuyun_store::workspace::{QueryRecord, StoredQuery};
use shuyun_workspace::{
    CancelHandle, ErrorCode, NoiseSpec, PlanFacts, PseudonymKey, QueryOutput, ResultHistory,
    RunOptions, TableSpec, VisibleTable, Workspace, WorkspaceConfig, WorkspaceError,
};

use crate::AppState;
use crate::error::{Problem, status_of};

/// Limits of the workspace (C1 item 7).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Queries one operator organisation may run at once.
    pub per_operator: usize,
    /// Memory of one query, in bytes.
    pub memory: usize,
    /// Wall time of one query.
    pub time: Duration,
    /// Rows of a result before the checks.
    pub result_rows: usize,
    /// Rows generated per synthetic table (C4).
    pub synthetic_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_operator: 2,
            memory: 512 * 1024 * 1024,
            time: Duration::from_secs(120),
            result_rows: 10_000,
            synthetic_rows: 20_000,
        }
    }
}

/// A data version: (resource, version).
type VersionKey = (i64, i64);
/// A running query: its number, its scenario, its cancel handle.
type Running = (u64, i64, CancelHandle);
type SyntheticCache = HashMap<VersionKey, Arc<dyn object_store::ObjectStore>>;

/// The running workspace queries of the platform and their limits.
pub struct Workspaces {
    /// Pseudonym keys of agreements derive from this secret.
    master_key: [u8; 32],
    /// The platform's unit digest key, derived from the secret.
    unit_digests: UnitDigestKey,
    /// Whether a data version has stored unit digests under that key (its
    /// objects never change, so their footers are read once).
    stored_digests: Mutex<HashMap<VersionKey, bool>>,
    pub limits: Limits,
    next: AtomicU64,
    /// Running queries by agreement: (query, scenario, handle).
    running: Mutex<HashMap<i64, Vec<Running>>>,
    /// Running queries by operator organisation.
    per_org: Mutex<HashMap<i64, usize>>,
    /// Counts cancellations; a query notes it before asking for access.
    epoch: AtomicU64,
    /// The epoch of the last cancellation of (agreement, 0) or (agreement,
    /// scenario): a query that asked for access before it, but registered
    /// after it was swept, is cancelled when it registers.
    fences: Mutex<HashMap<(i64, i64), u64>>,
    /// Synthetic look-alikes by (resource, data version), in memory.
    synthetic: tokio::sync::Mutex<SyntheticCache>,
    /// Each scenario's released cells (sketches of keyed unit digests), against which
    /// new results are checked for differencing: loaded from the store on a scenario's
    /// first query, then kept here (bounded) and recorded with each query.
    histories: Mutex<HashMap<i64, ResultHistory>>,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The platform's unit digest key from its secret (see
/// [`Workspaces::unit_digest_key`]), for those that load data without a
/// running server (the `demo` seeding, the `ingest` command).
pub fn unit_digest_key(master_key: &[u8; 32]) -> UnitDigestKey {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(b"shuyun-unit-digest-v1\0");
    m.extend_from_slice(master_key);
    let d = shuyun_ledger::sm3(&m);
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    UnitDigestKey::from_bytes(k)
}

impl Workspaces {
    /// With the platform's pseudonym secret (32 bytes, kept in a file of
    /// the data directory by `serve` and `demo`).
    pub fn new(master_key: [u8; 32], limits: Limits) -> Self {
        Self {
            master_key,
            unit_digests: unit_digest_key(&master_key),
            stored_digests: Mutex::new(HashMap::new()),
            limits,
            next: AtomicU64::new(1),
            running: Mutex::new(HashMap::new()),
            per_org: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            fences: Mutex::new(HashMap::new()),
            synthetic: tokio::sync::Mutex::new(HashMap::new()),
            histories: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh random secret (tests; pseudonyms then change per process).
    pub fn random(limits: Limits) -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Self::new(key, limits)
    }

    /// The platform's unit digest key (SM3 of the secret): ingest stores
    /// each row's unit digest under it, and the output checks read them
    /// (see `shuyun_domain::workspace::unit_digest`).
    pub fn unit_digest_key(&self) -> UnitDigestKey {
        self.unit_digests
    }

    /// Whether the stored object of a data version carries unit digests
    /// under the current key (older versions, or ones loaded under another
    /// secret, are digested from their identifiers). A footer that cannot
    /// be read counts as none, and is read again next time.
    async fn has_stored_digests(
        &self,
        objects: Arc<dyn object_store::ObjectStore>,
        version: VersionKey,
        path: &object_store::path::Path,
    ) -> bool {
        if let Some(known) = self
            .stored_digests
            .lock()
            .ok()
            .and_then(|c| c.get(&version).copied())
        {
            return known;
        }
        let Ok(fingerprint) = shuyun_data::objects::unit_digest_fingerprint(objects, path).await
        else {
            return false;
        };
        let stored = fingerprint == Some(self.unit_digests.fingerprint());
        if let Ok(mut c) = self.stored_digests.lock() {
            c.insert(version, stored);
        }
        stored
    }

    /// The pseudonym key of an agreement: SM3 of the secret and the
    /// agreement, so pseudonyms of two agreements never match.
    fn key(&self, agreement_id: i64) -> PseudonymKey {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(b"shuyun-pseudonym-v1\0");
        m.extend_from_slice(&self.master_key);
        m.extend_from_slice(&agreement_id.to_be_bytes());
        PseudonymKey::new(shuyun_ledger::sm3(&m).to_vec()).expect("an SM3 digest has 32 bytes")
    }

    /// Cancel the running queries of an agreement (suspended, terminated,
    /// exited); later ones are refused by `Store::authorize`.
    pub fn cancel_agreement(&self, agreement_id: i64) -> usize {
        self.fence(agreement_id, 0);
        let handles = self
            .running
            .lock()
            .map(|mut r| r.remove(&agreement_id).unwrap_or_default())
            .unwrap_or_default();
        for (_, _, h) in &handles {
            h.cancel();
        }
        if !handles.is_empty() {
            tracing::info!(
                agreement = agreement_id,
                cancelled = handles.len(),
                "workspace queries cancelled"
            );
        }
        handles.len()
    }

    /// Cancel the running queries of one scenario (its plan revoked or
    /// withdrawn).
    pub fn cancel_scenario(&self, agreement_id: i64, scenario_id: i64) -> usize {
        self.fence(agreement_id, scenario_id);
        let Ok(mut r) = self.running.lock() else {
            return 0;
        };
        let Some(v) = r.get_mut(&agreement_id) else {
            return 0;
        };
        let before = v.len();
        v.retain(|(_, s, h)| {
            if *s == scenario_id {
                h.cancel();
                false
            } else {
                true
            }
        });
        before - v.len()
    }

    /// Record a cancellation before sweeping the running queries.
    fn fence(&self, agreement_id: i64, scenario_id: i64) {
        let e = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut f) = self.fences.lock() {
            f.insert((agreement_id, scenario_id), e);
        }
    }

    /// Whether the agreement or scenario was cancelled after `epoch`.
    fn fenced_since(&self, agreement_id: i64, scenario_id: i64, epoch: u64) -> bool {
        self.fences.lock().map_or(true, |f| {
            [0, scenario_id]
                .iter()
                .any(|s| f.get(&(agreement_id, *s)).is_some_and(|e| *e > epoch))
        })
    }

    /// Queries running now (for tests and metrics).
    pub fn running(&self, agreement_id: i64) -> usize {
        self.running
            .lock()
            .map(|r| r.get(&agreement_id).map_or(0, Vec::len))
            .unwrap_or(0)
    }

    fn admit(&self, org_id: i64) -> Result<Slot<'_>, RunError> {
        let mut m = self
            .per_org
            .lock()
            .map_err(|_| RunError::internal("workspace slots poisoned"))?;
        let n = m.entry(org_id).or_default();
        if *n >= self.limits.per_operator {
            return Err(RunError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_queries",
                format!(
                    "your organisation already runs {} workspace queries; wait for one to finish",
                    self.limits.per_operator
                ),
            ));
        }
        *n += 1;
        Ok(Slot {
            hub: self,
            org_id,
            query: None,
            epoch: self.epoch.load(Ordering::SeqCst),
        })
    }
}

/// One admitted query: releases its place when dropped.
struct Slot<'a> {
    hub: &'a Workspaces,
    org_id: i64,
    query: Option<(i64, u64)>,
    /// Cancellations seen before access was asked.
    epoch: u64,
}

impl Slot<'_> {
    /// Register the query for cancellation; a cancellation that swept
    /// the registry between the access check and now cancels it here.
    fn register(&mut self, agreement_id: i64, scenario_id: i64, handle: CancelHandle) {
        let id = self.hub.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.hub.running.lock() {
            r.entry(agreement_id)
                .or_default()
                .push((id, scenario_id, handle.clone()));
        }
        self.query = Some((agreement_id, id));
        if self.hub.fenced_since(agreement_id, scenario_id, self.epoch) {
            handle.cancel();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.hub.per_org.lock()
            && let Some(n) = m.get_mut(&self.org_id)
        {
            *n = n.saturating_sub(1);
        }
        if let Some((agreement, id)) = self.query
            && let Ok(mut r) = self.hub.running.lock()
            && let Some(v) = r.get_mut(&agreement)
        {
            v.retain(|(q, _, _)| *q != id);
            if v.is_empty() {
                r.remove(&agreement);
            }
        }
    }
}

/// A refused or failed workspace request: an `application/problem+json`
/// with a stable code (the workspace's or the access decision's), and the
/// audited query when one was recorded.
#[derive(Debug)]
pub struct RunError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub query_id: Option<i64>,
}

/// The problem document of a workspace request.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorkspaceProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// The audited query (in the ledger), when the query was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_id: Option<i64>,
}

impl RunError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            query_id: None,
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    fn engine(e: &WorkspaceError) -> Self {
        let status = match e.code {
            ErrorCode::ParseError => StatusCode::BAD_REQUEST,
            ErrorCode::NotAllowed | ErrorCode::RestrictedOutput | ErrorCode::LimitExceeded => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorCode::Cancelled => StatusCode::CONFLICT,
            ErrorCode::LinkageRisk => StatusCode::FORBIDDEN,
            ErrorCode::InvalidTable | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.code.as_str(), e.message.clone())
    }

    /// The message shown in the portal.
    pub fn text(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

impl From<DomainError> for RunError {
    fn from(e: DomainError) -> Self {
        Self::new(status_of(e.code), e.code.as_str(), e.message)
    }
}

impl From<shuyun_store::StoreError> for RunError {
    fn from(e: shuyun_store::StoreError) -> Self {
        e.into_domain().into()
    }
}

impl IntoResponse for RunError {
    fn into_response(self) -> Response {
        let detail = if self.status.is_server_error() {
            tracing::error!(code = %self.code, error = %self.message, "workspace error");
            "an internal error occurred; it has been logged".to_string()
        } else {
            self.message
        };
        let body = WorkspaceProblem {
            problem: Problem {
                kind: format!("urn:shuyun:problem:{}", self.code),
                title: self
                    .status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .to_string(),
                status: self.status.as_u16(),
                code: self.code,
                detail,
                field: None,
            },
            query_id: self.query_id,
        };
        let mut r = (self.status, Json(body)).into_response();
        r.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        r
    }
}

/// A table of a scenario's workspace as the schema browser shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WorkspaceTable {
    /// Catalogue code.
    pub resource: String,
    /// Catalogue name, e.g. 企业信用信息.
    pub resource_name: String,
    /// The providing department.
    pub owner_org_id: i64,
    /// The name to use in SQL.
    pub name: String,
    /// Rows of the current version (before the agreement's row filter).
    pub version: i64,
    pub fields: Vec<WorkspaceField>,
    /// The field naming the person or enterprise a row is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The agreement's row filter applies to every scan.
    pub row_filtered: bool,
}

/// A field of a workspace table.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WorkspaceField {
    pub name: String,
    pub label: String,
    /// `string`, `int64`, `fen`, `float64`, `bool`, `date`, `timestamp`.
    pub field_type: String,
    /// The grade, e.g. `general_3` or `important`.
    pub grade: String,
    /// `none`, `pi` or `sensitive_pi`.
    pub pi: String,
    /// `open` (usable anywhere), `restricted` (filters, joins, grouping
    /// and aggregates only) or `pseudonymised` (shown only as its keyed
    /// pseudonym).
    pub exposure: String,
}

/// What a scenario's workspace offers the operator.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WorkspaceInfo {
    pub scenario_id: i64,
    pub agreement_id: i64,
    pub tables: Vec<WorkspaceTable>,
    pub policy: OutputPolicy,
    /// Limits of one query.
    pub memory_limit_bytes: u64,
    pub time_limit_seconds: u64,
    pub result_row_limit: u64,
    pub concurrent_queries: u64,
}

/// A result shown to the operator.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct QueryResult {
    /// The audited query (in the ledger).
    pub query_id: i64,
    pub outcome: QueryOutcome,
    /// Computed on synthetic look-alike data (合成数据), not the real data.
    pub synthetic: bool,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The rows as CSV (header first): exactly what a release request
    /// must send; its SM3 is the query's result hash.
    pub csv: String,
    pub result_sm3: String,
    /// What the output checks did: k applied, rows produced, released and
    /// withheld, and why (never a value).
    pub check: serde_json::Value,
    pub rows_scanned: u64,
}

/// The name of a resource's table in SQL: its code in lower case with
/// `_`, e.g. `xy_000001` for 360200-XY-000001 on this platform's division,
/// `r_360100_xy_000001` for another division's.
pub fn table_name(code: &str, division: &str) -> String {
    let lower = code.to_ascii_lowercase().replace('-', "_");
    match lower.strip_prefix(&format!("{division}_")) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest.to_string(),
        _ => format!("r_{lower}"),
    }
}

struct Opened {
    agreement_id: i64,
    workspace: Workspace,
    tables: Vec<WorkspaceTable>,
    policy: OutputPolicy,
}

fn field_view(schema: &Schema, v: &VisibleTable) -> Vec<WorkspaceField> {
    v.fields
        .iter()
        .map(|f| WorkspaceField {
            name: f.name.clone(),
            label: schema
                .fields()
                .iter()
                .find(|s| s.name.as_str() == f.name)
                .map(|s| s.label.clone())
                .unwrap_or_default(),
            field_type: f.field_type.as_str().to_string(),
            grade: f.grade.as_str().to_string(),
            pi: f.pi.as_str().to_string(),
            exposure: match f.exposure {
                shuyun_workspace::Exposure::Open => "open",
                shuyun_workspace::Exposure::Restricted => "restricted",
                shuyun_workspace::Exposure::Pseudonymised => "pseudonymised",
            }
            .to_string(),
        })
        .collect()
}

/// Open the caller's workspace of an approved scenario: every resource of
/// the scenario asked of `Store::authorize` now.
async fn open(
    state: &AppState,
    p: &Principal,
    scenario_id: i64,
    synthetic: bool,
) -> Result<Opened, RunError> {
    use shuyun_store::authorization::agreements::AgreementScope;
    if !p.allows(shuyun_domain::Permission::WorkspaceUse) {
        return Err(DomainError::forbidden("only operators use the workspace").into());
    }
    let sc = state
        .store
        .scenario_in(AgreementScope::Operator(p.org_id), scenario_id)
        .await?;
    let now = state.now();
    let policy = state.store.output_policy(sc.agreement_id).await?;
    let division = state.division.to_string();
    let mut specs = Vec::new();
    let mut schemas = Vec::new();
    let mut metas = Vec::new();
    for g in &sc.plan.data {
        let decision = state
            .store
            .authorize(
                p,
                AccessRequest {
                    org_id: p.org_id,
                    resource: g.resource.clone(),
                    field: None,
                    purpose: None,
                    scenario_id: Some(sc.id),
                },
                now,
            )
            .await?;
        let allowance = match decision {
            Decision::Allow(a) => a,
            Decision::Deny(d) => {
                return Err(RunError::new(
                    StatusCode::FORBIDDEN,
                    d.reason.as_str(),
                    format!("{}: {}", g.resource, d.message),
                ));
            }
        };
        let rid = state.store.resource_id_by_code(g.resource.as_str()).await?;
        let resource = state
            .store
            .resource(rid, shuyun_store::catalogue::CatalogueView::Whole)
            .await?;
        let Some(data) = state.store.current_data(rid).await? else {
            return Err(RunError::new(
                StatusCode::CONFLICT,
                "no_data",
                format!(
                    "{} ({}) has no data loaded yet; its department must upload a version first",
                    resource.name, resource.code
                ),
            ));
        };
        let schema = state
            .store
            .gradings(rid, shuyun_store::catalogue::CatalogueView::Whole)
            .await?
            .into_iter()
            .find(|gr| gr.version == data.grading_version)
            .map(|gr| gr.schema)
            .ok_or_else(|| RunError::internal("the grading of the current version is missing"))?;
        let path = object_store::path::Path::from(data.path.as_str());
        let (store, objects, unit_digests) = if synthetic {
            let s = synthetic_store(state, rid, data.version, &path, &schema, &policy).await?;
            (
                s,
                vec![object_store::path::Path::from(SYNTHETIC_OBJECT)],
                false,
            )
        } else {
            let stored = state
                .workspaces
                .has_stored_digests(state.objects.clone(), (rid, data.version), &path)
                .await;
            (state.objects.clone(), vec![path], stored)
        };
        specs.push(TableSpec {
            resource: g.resource.clone(),
            name: table_name(&resource.code, &division),
            unit: TableSpec::default_unit(&schema),
            schema: schema.clone(),
            store,
            objects,
            allowance: allowance.clone(),
            unit_digests,
        });
        schemas.push(schema);
        metas.push((resource, data.version, allowance.rows.is_some()));
    }
    let limits = &state.workspaces.limits;
    let workspace = Workspace::open(
        specs,
        state.workspaces.key(sc.agreement_id),
        WorkspaceConfig {
            policy,
            memory_limit: limits.memory,
            time_limit: limits.time,
            max_result_rows: limits.result_rows,
            unit_digest_key: state.workspaces.unit_digest_key(),
            ..WorkspaceConfig::default()
        },
    )
    .map_err(|e| RunError::engine(&e))?;
    let tables = workspace
        .tables()
        .iter()
        .zip(schemas.iter().zip(metas))
        .map(|(v, (schema, (r, version, filtered)))| WorkspaceTable {
            resource: r.code.clone(),
            resource_name: r.name.clone(),
            owner_org_id: r.owner_org_id,
            name: v.name.clone(),
            version,
            fields: field_view(schema, v),
            unit: v.unit.clone(),
            row_filtered: filtered,
        })
        .collect();
    Ok(Opened {
        agreement_id: sc.agreement_id,
        workspace,
        tables,
        policy,
    })
}

const SYNTHETIC_OBJECT: &str = "synthetic/data.parquet";

/// The synthetic look-alike of a stored version (C4), generated once per
/// version from its marginal profile, kept in memory.
async fn synthetic_store(
    state: &AppState,
    resource_id: i64,
    version: i64,
    path: &object_store::path::Path,
    schema: &Schema,
    policy: &OutputPolicy,
) -> Result<Arc<dyn object_store::ObjectStore>, RunError> {
    let mut cache = state.workspaces.synthetic.lock().await;
    if let Some(s) = cache.get(&(resource_id, version)) {
        return Ok(s.clone());
    }
    let k = policy.min_units.clamp(2, 1000);
    let profile = shuyun_data::synthetic::profile(state.objects.clone(), path, schema, k)
        .await
        .map_err(|e| RunError::internal(format!("synthetic profile: {e}")))?;
    let rows = usize::try_from(profile.rows)
        .unwrap_or(usize::MAX)
        .clamp(1, state.workspaces.limits.synthetic_rows);
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let seed = u64::try_from(resource_id).unwrap_or(0) << 20 ^ u64::try_from(version).unwrap_or(0);
    shuyun_data::synthetic::write(
        store.clone(),
        &object_store::path::Path::from(SYNTHETIC_OBJECT),
        schema,
        &profile,
        rows,
        seed,
    )
    .await
    .map_err(|e| RunError::internal(format!("synthetic data: {e}")))?;
    cache.insert((resource_id, version), store.clone());
    Ok(store)
}

/// The workspace of a scenario as its operator sees it.
pub async fn info(
    state: &AppState,
    p: &Principal,
    scenario_id: i64,
) -> Result<WorkspaceInfo, RunError> {
    let o = open(state, p, scenario_id, false).await?;
    let l = &state.workspaces.limits;
    Ok(WorkspaceInfo {
        scenario_id,
        agreement_id: o.agreement_id,
        tables: o.tables,
        policy: o.policy,
        memory_limit_bytes: l.memory as u64,
        time_limit_seconds: l.time.as_secs(),
        result_row_limit: l.result_rows as u64,
        concurrent_queries: l.per_operator as u64,
    })
}

/// CSV of a result (header first, RFC 4180 quoting).
pub fn to_csv(columns: &[String], rows: &[Vec<String>]) -> String {
    fn cell(out: &mut String, s: &str) {
        if s.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(s);
        }
    }
    let mut out = String::new();
    for line in std::iter::once(columns).chain(rows.iter().map(Vec::as_slice)) {
        for (i, c) in line.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

/// The linkage assessment of a plan (C5): the PI tags of the fields each
/// resource contributes, the departments, how the output is keyed.
fn linkage(facts: &PlanFacts, tables: &[WorkspaceTable]) -> Option<LinkageRisk> {
    let pi_of = |qualified: &str| -> Option<(usize, PiTag)> {
        let (t, f) = qualified.split_once('.')?;
        let i = tables.iter().position(|x| x.name == t)?;
        let pi = match tables[i].fields.iter().find(|x| x.name == f)?.pi.as_str() {
            "pi" => PiTag::Pi,
            "sensitive_pi" => PiTag::SensitivePi,
            _ => PiTag::None,
        };
        Some((i, pi))
    };
    let mut used: BTreeMap<usize, BTreeSet<PiTag>> = BTreeMap::new();
    for f in &facts.fields {
        if let Some((i, pi)) = pi_of(f) {
            used.entry(i).or_default().insert(pi);
        }
    }
    let sources: Vec<SourceUse> = used
        .into_iter()
        .map(|(i, pi_used)| SourceUse {
            resource: tables[i].resource.clone(),
            owner_org_id: tables[i].owner_org_id,
            pi_used,
        })
        .collect();
    let shape = OutputShape {
        unit_level: facts.unit_level,
        keyed_by_pi: facts
            .group_keys
            .iter()
            .filter_map(|k| pi_of(k).map(|(_, pi)| pi))
            .collect(),
    };
    assess(&sources, &shape)
}

/// `table.field` → `code.field`, for the audit.
fn qualified_codes(fields: &[String], tables: &[WorkspaceTable]) -> Vec<String> {
    fields
        .iter()
        .map(|f| match f.split_once('.') {
            Some((t, rest)) => tables
                .iter()
                .find(|x| x.name == t)
                .map_or_else(|| f.clone(), |x| format!("{}.{rest}", x.resource)),
            None => f.clone(),
        })
        .collect()
}

/// Run one query of the caller in a scenario's workspace, on the real data
/// or (`synthetic`) its look-alike, optionally with differential-privacy
/// `noise` (its ε charged to the agreement's budget for a real run). Every
/// query is audited, whatever becomes of it.
pub async fn run(
    state: &AppState,
    p: &Principal,
    scenario_id: i64,
    sql: &str,
    synthetic: bool,
    noise: Option<NoiseSpec>,
) -> Result<QueryResult, RunError> {
    if sql.trim().is_empty() {
        return Err(DomainError::invalid("sql", "write a query").into());
    }
    if sql.chars().count() > 100_000 {
        return Err(DomainError::invalid("sql", "a query has at most 100000 characters").into());
    }
    let mut slot = state.workspaces.admit(p.org_id)?;
    let o = open(state, p, scenario_id, synthetic).await?;
    if let Some(spec) = noise.filter(|_| !synthetic) {
        budget_allows(state, p, scenario_id, sql, o.agreement_id, spec).await?;
    }
    slot.register(o.agreement_id, scenario_id, o.workspace.cancel_handle());

    let options = RunOptions {
        // Synthetic results say nothing of real units: no history.
        history: if synthetic {
            None
        } else {
            Some(history(state, scenario_id).await?)
        },
        noise,
    };
    let stopped: Mutex<Option<(LinkageRisk, PlanFacts)>> = Mutex::new(None);
    let result = o
        .workspace
        .run_with(sql, |facts| {
            if synthetic {
                return Ok(());
            }
            match linkage(facts, &o.tables) {
                None => Ok(()),
                Some(risk) => {
                    let msg = format!(
                        "the query was stopped and reported to the implementing institution: it {} ({})",
                        risk.reason,
                        risk.resources.iter().cloned().collect::<Vec<_>>().join(", ")
                    );
                    if let Ok(mut s) = stopped.lock() {
                        *s = Some((risk, facts.clone()));
                    }
                    Err(WorkspaceError::new(ErrorCode::LinkageRisk, msg))
                }
            }
        }, options)
        .await;
    drop(slot);
    let stopped = stopped.into_inner().ok().flatten();
    let now = state.now();
    match result {
        Ok(out) => shown(state, p, scenario_id, sql, synthetic, &o.tables, out, now).await,
        Err(e) => {
            let mut err = RunError::engine(&e);
            if err.status.is_server_error() {
                return Err(err);
            }
            let (outcome, detail, resources, fields) = match (&e.code, stopped) {
                (ErrorCode::LinkageRisk, Some((risk, facts))) => (
                    QueryOutcome::LinkageStopped,
                    json!({"code": e.code.as_str(), "message": e.message, "risk": risk}),
                    facts.resources,
                    qualified_codes(&facts.fields, &o.tables),
                ),
                (ErrorCode::Cancelled | ErrorCode::LimitExceeded, _) => (
                    QueryOutcome::Cancelled,
                    json!({"code": e.code.as_str(), "message": e.message}),
                    Vec::new(),
                    Vec::new(),
                ),
                _ => (
                    QueryOutcome::Refused,
                    json!({"code": e.code.as_str(), "message": e.message}),
                    Vec::new(),
                    Vec::new(),
                ),
            };
            let q = record(
                state,
                p,
                QueryRecord {
                    scenario_id,
                    synthetic,
                    sql: sql.to_string(),
                    plan_fingerprint: String::new(),
                    resources,
                    fields,
                    rows_scanned: 0,
                    result_sm3: String::new(),
                    outcome,
                    detail,
                    epsilon: Default::default(),
                },
                &[],
                now,
            )
            .await?;
            err.query_id = Some(q.id);
            Err(err)
        }
    }
}

/// The noise a query asks for, bounded: ε of one query at most 10, 1 to
/// 100 rows per unit and cell (default 1). The API and the portal both
/// read requests through this.
pub fn noise_spec(
    mechanism: shuyun_domain::workspace::Mechanism,
    epsilon: f64,
    rows_per_unit: Option<u32>,
) -> Result<NoiseSpec, DomainError> {
    let epsilon = shuyun_domain::workspace::Epsilon::from_f64(epsilon)?;
    if epsilon.as_f64() > 10.0 {
        return Err(DomainError::invalid(
            "noise.epsilon",
            "ε of one query is at most 10",
        ));
    }
    let rows = rows_per_unit.unwrap_or(1);
    if !(1..=100).contains(&rows) {
        return Err(DomainError::invalid(
            "noise.rows_per_unit",
            "rows per unit are 1 to 100",
        ));
    }
    let mut spec = NoiseSpec::new(mechanism, epsilon);
    spec.rows_per_unit = rows;
    Ok(spec)
}

/// A noisy query over the real data runs only if the agreement's privacy
/// budget has its ε left; otherwise it is refused (and audited).
async fn budget_allows(
    state: &AppState,
    p: &Principal,
    scenario_id: i64,
    sql: &str,
    agreement_id: i64,
    spec: NoiseSpec,
) -> Result<(), RunError> {
    let (code, message) = match state.store.privacy_budget(agreement_id).await? {
        None => (
            "no_privacy_budget",
            "the agreement has no differential-privacy budget; the implementing institution sets one"
                .to_string(),
        ),
        Some(b) if b.remaining().0 < spec.epsilon.0 => (
            "privacy_budget_spent",
            format!(
                "the privacy budget has ε = {} left, less than the {} this query asks",
                b.remaining().as_f64(),
                spec.epsilon.as_f64()
            ),
        ),
        Some(_) => return Ok(()),
    };
    let q = record(
        state,
        p,
        QueryRecord {
            scenario_id,
            synthetic: false,
            sql: sql.to_string(),
            plan_fingerprint: String::new(),
            resources: Vec::new(),
            fields: Vec::new(),
            rows_scanned: 0,
            result_sm3: String::new(),
            outcome: QueryOutcome::Refused,
            detail: json!({"code": code, "message": message}),
            epsilon: Default::default(),
        },
        &[],
        state.now(),
    )
    .await?;
    let mut e = RunError::new(StatusCode::CONFLICT, code, message);
    e.query_id = Some(q.id);
    Err(e)
}

/// The differencing history of a scenario's real results: in memory once
/// loaded, from the store (what its queries recorded) on first use, so a
/// restart forgets nothing.
async fn history(state: &AppState, scenario_id: i64) -> Result<ResultHistory, RunError> {
    let histories = &state.workspaces.histories;
    let poisoned = || RunError::internal("differencing histories poisoned");
    if let Some(h) = histories.lock().map_err(|_| poisoned())?.get(&scenario_id) {
        return Ok(h.clone());
    }
    let cells = state.store.differencing_history(scenario_id).await?;
    let loaded = ResultHistory::with_cells(ResultHistory::DEFAULT_MAX_CELLS, cells);
    // A query that loaded it first wins: its cells may already be newer.
    Ok(histories
        .lock()
        .map_err(|_| poisoned())?
        .entry(scenario_id)
        .or_insert(loaded)
        .clone())
}

/// Record a query with the cells it added to the differencing history.
async fn record(
    state: &AppState,
    p: &Principal,
    rec: QueryRecord,
    released: &[ReleasedCell],
    now: i64,
) -> Result<StoredQuery, RunError> {
    Ok(state.store.record_query(p, rec, released, now).await?)
}

#[allow(clippy::too_many_arguments)]
async fn shown(
    state: &AppState,
    p: &Principal,
    scenario_id: i64,
    sql: &str,
    synthetic: bool,
    tables: &[WorkspaceTable],
    out: QueryOutput,
    now: i64,
) -> Result<QueryResult, RunError> {
    let columns = out.columns();
    let rows = out.rows();
    let csv = to_csv(&columns, &rows);
    let result_sm3 = hex::encode(shuyun_ledger::sm3(csv.as_bytes()));
    let a = out.audit;
    let released = out.released;
    // Noise on synthetic data protects nobody and costs nothing.
    let epsilon = a.epsilon.filter(|_| !synthetic).unwrap_or_default();
    let outcome = if a.check.rows_suppressed > 0 {
        QueryOutcome::PartlySuppressed
    } else {
        QueryOutcome::Shown
    };
    let check = serde_json::to_value(&a.check)
        .map_err(|e| RunError::internal(format!("check outcome: {e}")))?;
    let q = record(
        state,
        p,
        QueryRecord {
            scenario_id,
            synthetic,
            sql: sql.to_string(),
            plan_fingerprint: a.plan_fingerprint,
            resources: a.resources,
            fields: qualified_codes(&a.fields, tables),
            rows_scanned: a.rows_scanned,
            result_sm3: result_sm3.clone(),
            outcome,
            detail: check.clone(),
            epsilon,
        },
        &released,
        now,
    )
    .await?;
    Ok(QueryResult {
        query_id: q.id,
        outcome,
        synthetic,
        columns,
        rows,
        csv,
        result_sm3,
        check,
        rows_scanned: a.rows_scanned,
    })
}

/// Read the platform's pseudonym secret from `path`, creating it (32
/// random bytes, owner-only) on first start.
pub fn load_or_create_key(path: &std::path::Path) -> Result<[u8; 32], String> {
    if path.exists() {
        let b = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return <[u8; 32]>::try_from(b.as_slice())
            .map_err(|_| format!("{} must hold exactly 32 bytes", path.display()));
    }
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    crate::write_private(path, &key)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::info!(file = %path.display(), "created the workspace pseudonym secret");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A suspension that sweeps the running queries between a query's
    /// access check and its registration still cancels it.
    #[test]
    fn a_cancellation_before_registration_is_not_missed() {
        let hub = Workspaces::random(Limits::default());
        let ws =
            || Workspace::open(Vec::new(), hub.key(1), WorkspaceConfig::default()).expect("open");
        let (late, other, unrelated) = (ws(), ws(), ws());
        let mut slot = hub.admit(7).expect("slot");
        let mut other_slot = hub.admit(7).expect("slot");
        hub.cancel_agreement(1);
        slot.register(1, 3, late.cancel_handle());
        assert!(late.cancel_handle().is_cancelled());
        other_slot.register(2, 4, other.cancel_handle());
        assert!(!other.cancel_handle().is_cancelled(), "another agreement");
        drop((slot, other_slot));
        // Admitted after the cancellation: access is decided anew, no fence.
        let mut after = hub.admit(7).expect("slot");
        after.register(1, 3, unrelated.cancel_handle());
        assert!(!unrelated.cancel_handle().is_cancelled());
        assert_eq!(hub.running(1), 1);
    }

    #[test]
    fn table_names_follow_codes() {
        assert_eq!(table_name("360200-XY-000001", "360200"), "xy_000001");
        assert_eq!(
            table_name("360100-XY-000001", "360200"),
            "r_360100_xy_000001"
        );
    }

    #[test]
    fn csv_quotes_what_it_must() {
        let csv = to_csv(
            &["a".into(), "b".into()],
            &[
                vec!["x,y".into(), "say \"hi\"".into()],
                vec!["1".into(), "".into()],
            ],
        );
        assert_eq!(csv, "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n1,\r\n");
    }
}
