//! Public disclosure (信息公开, G6; Jiangxi measures §19): every
//! authorization — the operator, the content and scope, the term and the
//! state in force — and the public parts of the implementation plans. No
//! login is needed to read them; drafts, cancelled agreements, revenue
//! sharing and security arrangements are not disclosed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use shuyun_domain::authorization::PlanState;
use shuyun_domain::authorization::agreement::AgreementDisclosure;
use shuyun_domain::authorization::plan::{PlanMode, ProductLine};
use shuyun_domain::authorization::scope::FieldSet;
use shuyun_domain::catalogue::ResourceCode;

use super::agreements::AgreementScope;
use crate::catalogue::CatalogueView;
use crate::{Store, StoreResult};

/// What the public sees of an approved plan version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlanDisclosure {
    pub id: i64,
    pub series_id: i64,
    pub version: i64,
    pub state: PlanState,
    /// 授权运营名称
    pub name: String,
    /// 运营机构的选择条件
    pub operator_criteria: String,
    /// 授权模式
    pub authorization: PlanMode,
    /// 数据范围
    pub data_scope: BTreeSet<ResourceCode>,
    /// 授权运营期限, in months.
    pub term_months: u32,
    pub schedule: String,
    pub evaluation_exit: String,
    /// 公共数据产品和服务清单
    pub products: Vec<ProductLine>,
    pub supervision: String,
    pub approved_at: Option<i64>,
    pub filed_at: Option<i64>,
    pub filing_reference: String,
    pub activated_at: Option<i64>,
}

/// What the public sees of an authorization (授权对象、内容、范围和时限).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuthorizationDisclosure {
    #[serde(flatten)]
    pub agreement: AgreementDisclosure,
    /// The authorization object (授权对象).
    pub operator_org_name: String,
    pub plan_id: i64,
    pub plan_name: String,
    pub selection_id: i64,
    /// The scope in words: each resource with its name, fields and rows,
    /// then the scenarios and purposes.
    pub scope_summary: Vec<String>,
    pub signed_at: Option<i64>,
    pub activated_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Store {
    /// The approved versions of every plan (in force, awaiting filing or
    /// superseded), newest first.
    pub async fn public_plans(&self) -> StoreResult<Vec<PlanDisclosure>> {
        Ok(self
            .plans()
            .await?
            .into_iter()
            .filter(|p| p.state.permits_selection() || p.state == PlanState::Superseded)
            .map(|p| {
                let c = p.content.into_input();
                PlanDisclosure {
                    id: p.id,
                    series_id: p.series_id,
                    version: p.version,
                    state: p.state,
                    name: c.name,
                    operator_criteria: c.operator_criteria,
                    authorization: c.authorization,
                    data_scope: c.data_scope,
                    term_months: c.term_months,
                    schedule: c.schedule,
                    evaluation_exit: c.evaluation_exit,
                    products: c.products,
                    supervision: c.supervision,
                    approved_at: p.approved_at,
                    filed_at: p.filed_at,
                    filing_reference: p.filing_reference,
                    activated_at: p.activated_at,
                }
            })
            .collect())
    }

    /// Every signed authorization, newest first, in the state in force at
    /// `now_ms` (a suspension or an expiry shows at once).
    pub async fn public_authorizations(
        &self,
        now_ms: i64,
    ) -> StoreResult<Vec<AuthorizationDisclosure>> {
        let names: BTreeMap<String, String> = self
            .resources(CatalogueView::Whole)
            .await?
            .into_iter()
            .map(|r| (r.code, r.name))
            .collect();
        let mut plan_names: BTreeMap<i64, String> = BTreeMap::new();
        let mut out = Vec::new();
        for a in self.agreements(AgreementScope::All, now_ms).await? {
            if !AgreementDisclosure::is_public(a.recorded_state) {
                continue;
            }
            let plan_name = match plan_names.get(&a.plan_id) {
                Some(n) => n.clone(),
                None => {
                    let n = self.plan(a.plan_id).await?.content.name.clone();
                    plan_names.insert(a.plan_id, n.clone());
                    n
                }
            };
            let scope = &a.content.scope;
            let mut summary: Vec<String> = scope
                .resources
                .iter()
                .map(|g| {
                    let name = names.get(g.resource.as_str()).map_or("", String::as_str);
                    let fields = match &g.fields {
                        FieldSet::All => "全部字段".to_string(),
                        FieldSet::Only(fs) => {
                            fs.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    };
                    match &g.rows {
                        Some(rows) => format!("{name}（{}）：{fields}；范围：{rows}", g.resource),
                        None => format!("{name}（{}）：{fields}", g.resource),
                    }
                })
                .collect();
            if !scope.scenarios.is_empty() {
                summary.push(format!(
                    "场景：{}",
                    scope
                        .scenarios
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("、")
                ));
            }
            summary.push(format!(
                "用途：{}",
                scope
                    .purposes
                    .iter()
                    .map(|p| p.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")
            ));
            out.push(AuthorizationDisclosure {
                agreement: AgreementDisclosure::new(
                    a.id,
                    a.operator_org_id,
                    a.recorded_state,
                    &a.content,
                    now_ms,
                ),
                operator_org_name: a.operator_org_name,
                plan_id: a.plan_id,
                plan_name,
                selection_id: a.selection_id,
                scope_summary: summary,
                signed_at: a.signed_at,
                activated_at: a.activated_at,
                ended_at: a.ended_at,
            });
        }
        Ok(out)
    }
}
