//! The resource catalogue (A1-A4, D2): registration with a unified
//! identifier, grading versions, the negative list and sharing consents.
//! Every change is one `Tx` with its ledger entries.

use serde::{Deserialize, Serialize};
use serde_json::json;
use shuyun_domain::catalogue::{
    DataDomain, Grade, GradeBasis, ResourceCode, Schema, UpdateFrequency,
};
use shuyun_domain::workflow::{
    Consent, GradingAction, GradingState, NegativeAction, NegativeState,
};
use shuyun_domain::{DivisionCode, DomainError, ErrorCode, OrgKind, Role, policy};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::Principal;
use crate::ledger::LedgerEvent;
use crate::{Store, StoreError, StoreResult};

/// The three rights recorded for every resource (三权分置, D2).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    /// Resource holding right (数据资源持有权): the government body.
    #[schemars(length(min = 1, max = 100))]
    pub holder: String,
    /// Processing and use right (加工使用权): the implementing institution.
    #[schemars(length(min = 1, max = 100))]
    pub processor: String,
    /// Product operation right (产品经营权): the operator, once authorized.
    #[schemars(length(min = 1, max = 100))]
    pub operator: String,
}

/// A catalogue entry as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Resource {
    pub id: i64,
    /// Unified identifier, e.g. 360200-XY-000001.
    pub code: String,
    pub owner_org_id: i64,
    pub owner_org_name: String,
    pub name: String,
    pub description: String,
    pub domain: DataDomain,
    pub frequency: UpdateFrequency,
    pub source_system: String,
    pub standard: String,
    pub contact: String,
    pub rights: Rights,
    /// The department this resource was obtained from through sharing.
    pub shared_from_org_id: Option<i64>,
    /// Listed in the public catalogue.
    pub public: bool,
    /// General-grade data the public may download (A8).
    pub open_data: bool,
    /// The grade in force (latest confirmed grading version).
    pub grade: Option<Grade>,
    /// The grading version in force.
    pub grading_version: Option<i64>,
    /// A grading version waiting for the data authority.
    pub pending_grading: Option<i64>,
    /// Kept out of authorized operation by an approved negative-list entry.
    pub on_negative_list: bool,
    pub created_at: i64,
}

/// A new catalogue entry with its first schema and grades.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResource {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(length(max = 2000))]
    pub description: String,
    pub domain: DataDomain,
    pub frequency: UpdateFrequency,
    #[schemars(length(min = 1, max = 100))]
    pub source_system: String,
    /// The standard it follows (一数一源一标准), e.g. GB/T 35295.
    #[schemars(length(min = 1, max = 100))]
    pub standard: String,
    #[schemars(length(min = 1, max = 100))]
    pub contact: String,
    pub rights: Rights,
    #[serde(default)]
    pub shared_from_org_id: Option<i64>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub open_data: bool,
    pub schema: Schema,
    /// The resource grade; default: the highest field grade.
    #[serde(default)]
    pub grade: Option<Grade>,
    pub basis: GradeBasis,
}

/// A new grading version (regrading or schema change).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrading {
    pub schema: Schema,
    #[serde(default)]
    pub grade: Option<Grade>,
    pub basis: GradeBasis,
}

/// One grading version: schema with field grades, resource grade, state.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Grading {
    pub resource_id: i64,
    pub version: i64,
    pub schema: Schema,
    pub grade: Grade,
    pub basis: GradeBasis,
    pub state: GradingState,
    pub proposed_by: i64,
    pub proposed_at: i64,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub decision_note: String,
}

/// A negative-list entry (负面清单).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NegativeEntry {
    pub id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_name: String,
    /// The legal basis for keeping the resource out (法律依据).
    pub legal_basis: String,
    pub state: NegativeState,
    pub requested_by: i64,
    pub requested_at: i64,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub decision_note: String,
    /// The version of the published list this decision produced.
    pub list_version: Option<i64>,
}

/// A providing department's recorded consent or refusal (A4).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConsentRecord {
    pub id: i64,
    pub resource_id: i64,
    pub provider_org_id: i64,
    pub consent: Consent,
    /// Reference to the consent document (文号).
    pub document: String,
    pub recorded_by: i64,
    pub recorded_at: i64,
}

/// Which part of the catalogue a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueView {
    /// Everything ("一本账"): data authority, institution, regulator, admin.
    Whole,
    /// Public entries plus one's own department's.
    PublicAndOwn(i64),
    /// Public entries only.
    Public,
}

impl CatalogueView {
    pub fn of(p: Option<&Principal>) -> Self {
        match p {
            Some(p) if p.allows(shuyun_domain::Permission::CatalogueRead) => CatalogueView::Whole,
            Some(p) if p.role == Role::SourceDepartment => CatalogueView::PublicAndOwn(p.org_id),
            _ => CatalogueView::Public,
        }
    }

    fn sees(self, r: &Resource) -> bool {
        match self {
            CatalogueView::Whole => true,
            CatalogueView::PublicAndOwn(org) => r.public || r.owner_org_id == org,
            CatalogueView::Public => r.public,
        }
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(s)
        .map_err(|e| DomainError::internal(format!("stored {what} unreadable: {e}")).into())
}

fn flag(row: &AnyRow, col: &str) -> StoreResult<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

const RESOURCE_SELECT: &str = "SELECT r.*, o.name AS owner_org_name, \
     (SELECT MAX(version) FROM resource_gradings g WHERE g.resource_id = r.id AND g.state = 'confirmed') AS grading_version, \
     (SELECT MAX(version) FROM resource_gradings g WHERE g.resource_id = r.id AND g.state = 'proposed') AS pending_grading, \
     (SELECT COUNT(*) FROM negative_list n WHERE n.resource_id = r.id AND n.state = 'approved') AS negative \
     FROM resources r JOIN orgs o ON o.id = r.owner_org_id";

fn resource_from_row(row: &AnyRow) -> StoreResult<(Resource, Option<i64>)> {
    let grading_version: Option<i64> = row.try_get("grading_version")?;
    Ok((
        Resource {
            id: row.try_get("id")?,
            code: row.try_get("code")?,
            owner_org_id: row.try_get("owner_org_id")?,
            owner_org_name: row.try_get("owner_org_name")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            domain: DataDomain::parse(&row.try_get::<String, _>("domain")?)?,
            frequency: parse_json(
                &format!("\"{}\"", row.try_get::<String, _>("frequency")?),
                "frequency",
            )?,
            source_system: row.try_get("source_system")?,
            standard: row.try_get("standard")?,
            contact: row.try_get("contact")?,
            rights: Rights {
                holder: row.try_get("rights_holder")?,
                processor: row.try_get("rights_processor")?,
                operator: row.try_get("rights_operator")?,
            },
            shared_from_org_id: row.try_get("shared_from_org_id")?,
            public: flag(row, "public")?,
            open_data: flag(row, "open_data")?,
            grade: None,
            grading_version,
            pending_grading: row.try_get("pending_grading")?,
            on_negative_list: row.try_get::<i64, _>("negative")? > 0,
            created_at: row.try_get("created_at")?,
        },
        grading_version,
    ))
}

fn grading_from_row(row: &AnyRow) -> StoreResult<Grading> {
    Ok(Grading {
        resource_id: row.try_get("resource_id")?,
        version: row.try_get("version")?,
        schema: parse_json(&row.try_get::<String, _>("schema_json")?, "schema")?,
        grade: Grade::parse(&row.try_get::<String, _>("resource_grade")?)?,
        basis: parse_json(&row.try_get::<String, _>("basis_json")?, "grade basis")?,
        state: GradingState::parse(&row.try_get::<String, _>("state")?)?,
        proposed_by: row.try_get("proposed_by")?,
        proposed_at: row.try_get("proposed_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
    })
}

fn negative_from_row(row: &AnyRow) -> StoreResult<NegativeEntry> {
    Ok(NegativeEntry {
        id: row.try_get("id")?,
        resource_id: row.try_get("resource_id")?,
        resource_code: row.try_get("code")?,
        resource_name: row.try_get("name")?,
        legal_basis: row.try_get("legal_basis")?,
        state: NegativeState::parse(&row.try_get::<String, _>("state")?)?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
        list_version: row.try_get("list_version")?,
    })
}

fn frequency_str(f: UpdateFrequency) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The resource grade a grading states: at least its highest field's.
fn resolve_grade(schema: &Schema, grade: Option<Grade>) -> Result<Grade, DomainError> {
    let min = schema.min_resource_grade();
    match grade {
        None => Ok(min),
        Some(g) if g >= min => Ok(g),
        Some(g) => Err(DomainError::invalid(
            "grade",
            format!(
                "the resource grade {} is below its highest field grade {}",
                g.as_str(),
                min.as_str()
            ),
        )),
    }
}

/// Only the owning department may change a resource or its data.
pub(crate) fn owner_only(p: &Principal, r: &Resource) -> Result<(), DomainError> {
    if p.org_id == r.owner_org_id {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only the owning department may change this resource",
        ))
    }
}

impl Store {
    /// Register a resource for the caller's department, with its first grading.
    pub async fn register_resource(
        &self,
        p: &Principal,
        division: &DivisionCode,
        new: NewResource,
        now_ms: i64,
    ) -> StoreResult<Resource> {
        let name = policy::check_name("name", &new.name)?;
        for (field, v) in [
            ("source_system", &new.source_system),
            ("standard", &new.standard),
            ("contact", &new.contact),
            ("rights.holder", &new.rights.holder),
            ("rights.processor", &new.rights.processor),
            ("rights.operator", &new.rights.operator),
        ] {
            policy::check_name(field, v)?;
        }
        if new.description.chars().count() > 2000 {
            return Err(DomainError::invalid(
                "description",
                "a description has at most 2000 characters",
            )
            .into());
        }
        if new.basis.reason.chars().count() > 500 {
            return Err(DomainError::invalid(
                "basis.reason",
                "a reason has at most 500 characters",
            )
            .into());
        }
        let grade = resolve_grade(&new.schema, new.grade)?;
        if new.open_data && grade >= Grade::Important {
            return Err(
                DomainError::invalid("open_data", "only general-grade data can be opened").into(),
            );
        }
        if new.open_data
            && new
                .schema
                .fields()
                .iter()
                .any(|f| f.pi != shuyun_domain::catalogue::PiTag::None)
        {
            return Err(DomainError::invalid(
                "open_data",
                "data with personal information cannot be opened",
            )
            .into());
        }
        if let Some(from) = new.shared_from_org_id {
            let org = self.org(from).await.map_err(|_| {
                DomainError::invalid(
                    "shared_from_org_id",
                    format!("organisation {from} does not exist"),
                )
            })?;
            if org.id == p.org_id || org.kind != OrgKind::SourceDepartment {
                return Err(DomainError::invalid(
                    "shared_from_org_id",
                    "shared data comes from another source department",
                )
                .into());
            }
        }
        let mut tx = self.begin(now_ms).await?;
        let prefix = format!("{}-{}-", division.as_str(), new.domain.code());
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM resources WHERE code LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_one(tx.conn())
            .await?
            .try_get("n")?;
        let code = ResourceCode::new(
            division,
            new.domain,
            u32::try_from(n + 1).unwrap_or(u32::MAX),
        )?;
        let row = sqlx::query(
            "INSERT INTO resources (code, owner_org_id, name, description, domain, frequency, source_system, standard, contact, \
             rights_holder, rights_processor, rights_operator, shared_from_org_id, public, open_data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
        )
        .bind(code.as_str())
        .bind(p.org_id)
        .bind(&name)
        .bind(new.description.trim())
        .bind(new.domain.as_str())
        .bind(frequency_str(new.frequency))
        .bind(new.source_system.trim())
        .bind(new.standard.trim())
        .bind(new.contact.trim())
        .bind(new.rights.holder.trim())
        .bind(new.rights.processor.trim())
        .bind(new.rights.operator.trim())
        .bind(new.shared_from_org_id)
        .bind(i64::from(new.public))
        .bind(i64::from(new.open_data))
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        let id: i64 = row.try_get("id")?;
        let state = GradingState::initial(grade);
        insert_grading(
            &mut tx,
            id,
            1,
            &new.schema,
            grade,
            &new.basis,
            state,
            p.user_id,
            now_ms,
        )
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "resource.register",
            format!("resource:{id}"),
            json!({"code": code.as_str(), "name": name, "grade": grade, "grading_state": state,
                   "fields": new.schema.fields().len(), "public": new.public, "open_data": new.open_data}),
        ));
        tx.commit().await?;
        self.resource(id, CatalogueView::Whole).await
    }

    /// One resource, if the view may see it.
    pub async fn resource(&self, id: i64, view: CatalogueView) -> StoreResult<Resource> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RESOURCE_SELECT} WHERE r.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("resource {id}")))?;
        let r = self.with_grade(resource_from_row(&row)?).await?;
        if view.sees(&r) {
            Ok(r)
        } else {
            Err(DomainError::not_found(format!("resource {id}")).into())
        }
    }

    async fn with_grade(&self, (mut r, version): (Resource, Option<i64>)) -> StoreResult<Resource> {
        if let Some(v) = version {
            let row = sqlx::query("SELECT resource_grade FROM resource_gradings WHERE resource_id = $1 AND version = $2")
                .bind(r.id)
                .bind(v)
                .fetch_one(&self.pool)
                .await?;
            r.grade = Some(Grade::parse(&row.try_get::<String, _>("resource_grade")?)?);
        }
        Ok(r)
    }

    /// The id of the resource with a unified identifier.
    pub async fn resource_id_by_code(&self, code: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT id FROM resources WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("resource {code}")))?;
        Ok(row.try_get("id")?)
    }

    /// The catalogue as the view may see it, ordered by identifier.
    pub async fn resources(&self, view: CatalogueView) -> StoreResult<Vec<Resource>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RESOURCE_SELECT} ORDER BY r.code"
        )))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let r = self.with_grade(resource_from_row(row)?).await?;
            if view.sees(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// All grading versions of a resource, newest first.
    pub async fn gradings(
        &self,
        resource_id: i64,
        view: CatalogueView,
    ) -> StoreResult<Vec<Grading>> {
        self.resource(resource_id, view).await?;
        let rows = sqlx::query(
            "SELECT * FROM resource_gradings WHERE resource_id = $1 ORDER BY version DESC",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grading_from_row).collect()
    }

    /// The grading in force (schema and grades the workspace enforces).
    pub async fn current_grading(&self, resource_id: i64) -> StoreResult<Option<Grading>> {
        let row = sqlx::query(
            "SELECT * FROM resource_gradings WHERE resource_id = $1 AND state = 'confirmed' ORDER BY version DESC LIMIT 1",
        )
        .bind(resource_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grading_from_row).transpose()
    }

    /// The owning department proposes a new grading version (regrading or
    /// a schema change). General grades take effect at once; important and
    /// core wait for the data authority.
    pub async fn propose_grading(
        &self,
        p: &Principal,
        resource_id: i64,
        new: NewGrading,
        now_ms: i64,
    ) -> StoreResult<Grading> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        let grade = resolve_grade(&new.schema, new.grade)?;
        if r.open_data && grade >= Grade::Important {
            return Err(DomainError::invalid(
                "grade",
                "open data must stay general-grade; close it first",
            )
            .into());
        }
        if r.pending_grading.is_some() {
            return Err(DomainError::conflict(
                "a grading proposal is already waiting for the data authority",
            )
            .into());
        }
        // A schema change may not drop or retype a field the quality rules use.
        if r.grading_version.is_some() {
            let rules = self.quality_rules(resource_id).await?;
            if rules.version > 0 {
                let broken = rules.rules.broken_by(&new.schema);
                if !broken.is_empty() {
                    return Err(DomainError::conflict(format!(
                        "the new schema breaks quality rules in use ({}); change the rules first",
                        broken.join("; ")
                    ))
                    .into());
                }
            }
        }
        let mut tx = self.begin(now_ms).await?;
        let version: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM resource_gradings WHERE resource_id = $1",
        )
        .bind(resource_id)
        .fetch_one(tx.conn())
        .await?
        .try_get("v")?;
        let state = GradingState::initial(grade);
        insert_grading(
            &mut tx,
            resource_id,
            version + 1,
            &new.schema,
            grade,
            &new.basis,
            state,
            p.user_id,
            now_ms,
        )
        .await?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "grading.propose",
            format!("resource:{resource_id}"),
            json!({"version": version + 1, "grade": grade, "state": state}),
        ));
        tx.commit().await?;
        self.grading(resource_id, version + 1).await
    }

    async fn grading(&self, resource_id: i64, version: i64) -> StoreResult<Grading> {
        let row =
            sqlx::query("SELECT * FROM resource_gradings WHERE resource_id = $1 AND version = $2")
                .bind(resource_id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    DomainError::not_found(format!(
                        "grading version {version} of resource {resource_id}"
                    ))
                })?;
        grading_from_row(&row)
    }

    /// The data authority confirms or rejects a proposed grading version.
    pub async fn decide_grading(
        &self,
        p: &Principal,
        resource_id: i64,
        version: i64,
        action: GradingAction,
        note: &str,
        now_ms: i64,
    ) -> StoreResult<Grading> {
        let note = policy::check_note(note)?;
        let note = note.as_str();
        let mut tx = self.begin(now_ms).await?;
        let row = sqlx::query(
            "SELECT state FROM resource_gradings WHERE resource_id = $1 AND version = $2",
        )
        .bind(resource_id)
        .bind(version)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| {
            DomainError::not_found(format!(
                "grading version {version} of resource {resource_id}"
            ))
        })?;
        let next = GradingState::parse(&row.try_get::<String, _>("state")?)?.apply(action)?;
        // The state in the WHERE clause makes concurrent decisions exclusive.
        let done = sqlx::query(
            "UPDATE resource_gradings SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
             WHERE resource_id = $5 AND version = $6 AND state = 'proposed'",
        )
        .bind(next.as_str())
        .bind(p.user_id)
        .bind(now_ms)
        .bind(note.trim())
        .bind(resource_id)
        .bind(version)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(DomainError::conflict("the grading was decided meanwhile").into());
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            if next == GradingState::Confirmed {
                "grading.confirm"
            } else {
                "grading.reject"
            },
            format!("resource:{resource_id}"),
            json!({"version": version, "note": note.trim()}),
        ));
        tx.commit().await?;
        self.grading(resource_id, version).await
    }

    /// Gradings waiting for the data authority.
    pub async fn pending_gradings(&self) -> StoreResult<Vec<Grading>> {
        let rows = sqlx::query(
            "SELECT * FROM resource_gradings WHERE state = 'proposed' ORDER BY proposed_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(grading_from_row).collect()
    }

    // ---- negative list --------------------------------------------------

    /// The owning department asks to keep a resource out of authorized
    /// operation, stating the legal basis.
    pub async fn request_negative(
        &self,
        p: &Principal,
        resource_id: i64,
        legal_basis: &str,
        now_ms: i64,
    ) -> StoreResult<NegativeEntry> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        let basis = legal_basis.trim();
        if basis.chars().count() < 4 || basis.chars().count() > 1000 {
            return Err(DomainError::invalid(
                "legal_basis",
                "state the legal basis (4 to 1000 characters)",
            )
            .into());
        }
        let mut tx = self.begin(now_ms).await?;
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM negative_list WHERE resource_id = $1 AND state IN ('requested', 'approved')",
        )
        .bind(resource_id)
        .fetch_one(tx.conn())
        .await?
        .try_get("n")?;
        if open > 0 {
            return Err(DomainError::conflict(
                "this resource already has an open or approved negative-list entry",
            )
            .into());
        }
        let id: i64 = sqlx::query(
            "INSERT INTO negative_list (resource_id, legal_basis, state, requested_by, requested_at) VALUES ($1, $2, 'requested', $3, $4) RETURNING id",
        )
        .bind(resource_id)
        .bind(basis)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "negative_list.request",
            format!("resource:{resource_id}"),
            json!({"entry": id, "legal_basis": basis}),
        ));
        tx.commit().await?;
        self.negative_entry(id).await
    }

    pub async fn negative_entry(&self, id: i64) -> StoreResult<NegativeEntry> {
        let row = sqlx::query(
            "SELECT n.*, r.code, r.name FROM negative_list n JOIN resources r ON r.id = n.resource_id WHERE n.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("negative-list entry {id}")))?;
        negative_from_row(&row)
    }

    /// Entries in the given states (all when empty), newest first.
    pub async fn negative_entries(
        &self,
        states: &[NegativeState],
    ) -> StoreResult<Vec<NegativeEntry>> {
        let rows = sqlx::query(
            "SELECT n.*, r.code, r.name FROM negative_list n JOIN resources r ON r.id = n.resource_id ORDER BY n.id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let all: Vec<NegativeEntry> = rows
            .iter()
            .map(negative_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(all
            .into_iter()
            .filter(|e| states.is_empty() || states.contains(&e.state))
            .collect())
    }

    /// Decide or withdraw an entry. The data authority approves or rejects;
    /// the owning department (or the authority) withdraws. A change to the
    /// published list gets the next list version.
    pub async fn decide_negative(
        &self,
        p: &Principal,
        id: i64,
        action: NegativeAction,
        note: &str,
        now_ms: i64,
    ) -> StoreResult<NegativeEntry> {
        let note = policy::check_note(note)?;
        let note = note.as_str();
        let entry = self.negative_entry(id).await?;
        let allowed = match action {
            NegativeAction::Approve | NegativeAction::Reject => {
                p.allows(shuyun_domain::Permission::NegativeListDecide)
            }
            NegativeAction::Withdraw => {
                p.allows(shuyun_domain::Permission::NegativeListDecide)
                    || self
                        .resource(entry.resource_id, CatalogueView::Whole)
                        .await?
                        .owner_org_id
                        == p.org_id
            }
        };
        if !allowed {
            return Err(DomainError::forbidden("you may not decide this entry").into());
        }
        let next = entry.state.apply(action)?;
        let mut tx = self.begin(now_ms).await?;
        let changes_list =
            next == NegativeState::Approved || entry.state == NegativeState::Approved;
        let list_version: Option<i64> = if changes_list {
            let v: i64 =
                sqlx::query("SELECT COALESCE(MAX(list_version), 0) AS v FROM negative_list")
                    .fetch_one(tx.conn())
                    .await?
                    .try_get("v")?;
            Some(v + 1)
        } else {
            entry.list_version
        };
        let done = sqlx::query(
            "UPDATE negative_list SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4, list_version = $5 \
             WHERE id = $6 AND state = $7",
        )
        .bind(next.as_str())
        .bind(p.user_id)
        .bind(now_ms)
        .bind(note.trim())
        .bind(list_version)
        .bind(id)
        .bind(entry.state.as_str())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(DomainError::conflict("the entry was decided meanwhile").into());
        }
        tx.record(LedgerEvent::new(
            p.actor(),
            &format!("negative_list.{}", format!("{action:?}").to_lowercase()),
            format!("resource:{}", entry.resource_id),
            json!({"entry": id, "state": next, "list_version": list_version, "note": note.trim()}),
        ));
        tx.commit().await?;
        self.negative_entry(id).await
    }

    // ---- sharing consent --------------------------------------------------

    /// Record the providing department's consent or refusal for a resource
    /// obtained through sharing.
    pub async fn record_consent(
        &self,
        p: &Principal,
        resource_id: i64,
        consent: Consent,
        document: &str,
        now_ms: i64,
    ) -> StoreResult<ConsentRecord> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        owner_only(p, &r)?;
        let Some(provider) = r.shared_from_org_id else {
            return Err(DomainError::invalid(
                "resource",
                "this resource was not obtained through sharing",
            )
            .into());
        };
        let document = policy::check_name("document", document)?;
        let mut tx = self.begin(now_ms).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO resource_consents (resource_id, provider_org_id, consent, document, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(resource_id)
        .bind(provider)
        .bind(consent.as_str())
        .bind(&document)
        .bind(p.user_id)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?
        .try_get("id")?;
        tx.record(LedgerEvent::new(
            p.actor(),
            "consent.record",
            format!("resource:{resource_id}"),
            json!({"provider_org_id": provider, "consent": consent, "document": document}),
        ));
        tx.commit().await?;
        Ok(ConsentRecord {
            id,
            resource_id,
            provider_org_id: provider,
            consent,
            document,
            recorded_by: p.user_id,
            recorded_at: now_ms,
        })
    }

    /// Consent records of a resource, newest first; the first is in force.
    pub async fn consents(&self, resource_id: i64) -> StoreResult<Vec<ConsentRecord>> {
        let rows =
            sqlx::query("SELECT * FROM resource_consents WHERE resource_id = $1 ORDER BY id DESC")
                .bind(resource_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(ConsentRecord {
                    id: row.try_get("id")?,
                    resource_id: row.try_get("resource_id")?,
                    provider_org_id: row.try_get("provider_org_id")?,
                    consent: Consent::parse(&row.try_get::<String, _>("consent")?)?,
                    document: row.try_get("document")?,
                    recorded_by: row.try_get("recorded_by")?,
                    recorded_at: row.try_get("recorded_at")?,
                })
            })
            .collect()
    }

    /// Whether a resource may enter authorized operation: not on the
    /// negative list, graded, and — if obtained through sharing — with the
    /// provider's consent in force. The reason when not.
    pub async fn operable(&self, resource_id: i64) -> StoreResult<Result<(), String>> {
        let r = self.resource(resource_id, CatalogueView::Whole).await?;
        if r.on_negative_list {
            return Ok(Err("the resource is on the negative list".into()));
        }
        if r.grade.is_none() {
            return Ok(Err("the resource has no confirmed grading".into()));
        }
        if r.shared_from_org_id.is_some() {
            let latest = self.consents(resource_id).await?.into_iter().next();
            if latest.is_none_or(|c| c.consent != Consent::Granted) {
                return Ok(Err("the providing department has not consented".into()));
            }
        }
        Ok(Ok(()))
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_grading(
    tx: &mut crate::Tx,
    resource_id: i64,
    version: i64,
    schema: &Schema,
    grade: Grade,
    basis: &GradeBasis,
    state: GradingState,
    user_id: i64,
    now_ms: i64,
) -> StoreResult<()> {
    let schema_json = serde_json::to_string(schema)
        .map_err(|e| StoreError::Domain(DomainError::internal(e.to_string())))?;
    let basis_json = serde_json::to_string(basis)
        .map_err(|e| StoreError::Domain(DomainError::internal(e.to_string())))?;
    sqlx::query(
        "INSERT INTO resource_gradings (resource_id, version, schema_json, resource_grade, basis_json, state, proposed_by, proposed_at, decision_note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '')",
    )
    .bind(resource_id)
    .bind(version)
    .bind(schema_json)
    .bind(grade.as_str())
    .bind(basis_json)
    .bind(state.as_str())
    .bind(user_id)
    .bind(now_ms)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Convenience for callers mapping a `StoreResult<Result<(), String>>`.
pub fn not_operable(reason: String) -> DomainError {
    DomainError::new(ErrorCode::Conflict, reason)
}
