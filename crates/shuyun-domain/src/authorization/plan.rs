//! Implementation plans (实施方案, B1): the twelve items of the national
//! norm (发改数据规〔2025〕27号), the lifecycle draft → deliberation (the
//! government's "三重一大" collective decision) → approved (审定) → filed
//! (备案, within 20 working days) → active, and versioning: an approved
//! version never changes; a change makes a new version, and a major change
//! (较大变更) goes through the whole review again (Jiangxi measures §9).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::scope::check_not_excluded;
use super::{AuthorizationMode, MAX_TERM_MONTHS, ProductUse, ScenarioName, illegal, text};
use crate::access::Role;
use crate::catalogue::{DataDomain, ResourceCode};
use crate::error::{DomainError, DomainResult};

/// Longest free-text item, in characters.
pub const MAX_ITEM_CHARS: usize = 5000;
/// Most resources a plan's data scope may list.
pub const MAX_PLAN_RESOURCES: usize = 1000;
/// Most products in a product list.
pub const MAX_PRODUCTS: usize = 200;

/// The authorization mode with what it names (授权模式).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanMode {
    /// 整体授权
    Whole,
    /// 分领域授权: the domains (at least one); every resource of the data
    /// scope belongs to one of them.
    ByDomain { domains: BTreeSet<DataDomain> },
    /// 依场景授权: the scenarios (1 to 100).
    ByScenario { scenarios: BTreeSet<ScenarioName> },
}

impl PlanMode {
    pub fn mode(&self) -> AuthorizationMode {
        match self {
            PlanMode::Whole => AuthorizationMode::Whole,
            PlanMode::ByDomain { .. } => AuthorizationMode::ByDomain,
            PlanMode::ByScenario { .. } => AuthorizationMode::ByScenario,
        }
    }
}

/// One line of a product and service list (数据产品和服务清单), e.g.
/// 个人信用画像 in 金融服务 for industry use (seed 002 annex 2).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ProductLine {
    /// 1–100 characters; unique in the list.
    pub name: String,
    /// The application area (领域), e.g. 金融服务, 城市治理: 1–50 characters.
    pub area: String,
    /// Public governance and welfare (free) or industry use (charged).
    #[serde(rename = "use")]
    pub product_use: ProductUse,
}

/// Checks and trims a product list: 1 to 200 lines, unique names.
pub(crate) fn check_products(products: Vec<ProductLine>) -> DomainResult<Vec<ProductLine>> {
    if products.is_empty() || products.len() > MAX_PRODUCTS {
        return Err(DomainError::invalid(
            "products",
            format!("a product list has 1 to {MAX_PRODUCTS} products"),
        ));
    }
    let mut seen = BTreeSet::new();
    products
        .into_iter()
        .map(|p| {
            let name = text("products", &p.name, 1, 100)?;
            let area = text("products", &p.area, 1, 50)?;
            if !seen.insert(name.clone()) {
                return Err(DomainError::invalid(
                    "products",
                    format!("'{name}' is listed twice"),
                ));
            }
            Ok(ProductLine {
                name,
                area,
                product_use: p.product_use,
            })
        })
        .collect()
}

/// The wire form of [`PlanContent`]: the twelve items of the national norm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PlanContent")]
pub struct PlanContentInput {
    /// 1. Name (授权运营名称): 1–100 characters.
    pub name: String,
    /// 2. Necessity and feasibility (必要性和可行性).
    pub necessity_feasibility: String,
    /// 3. Operator criteria (运营机构的选择条件): capabilities, standing,
    ///    credit, security.
    pub operator_criteria: String,
    /// 4. Authorization mode (授权模式).
    pub authorization: PlanMode,
    /// 5. Data scope (数据范围): catalogue codes, 1 to 1000.
    pub data_scope: BTreeSet<ResourceCode>,
    /// 6a. Term of the authorization (授权运营期限), 1 to 60 months.
    pub term_months: u32,
    /// 6b. Schedule (实施计划).
    pub schedule: String,
    /// 6c. Evaluation and exit (评估和退出机制).
    pub evaluation_exit: String,
    /// 7. Products and services, public-good and industry use
    ///    (公共数据产品和服务清单).
    pub products: Vec<ProductLine>,
    /// 8. Cost and revenue accounting and sharing (成本收益核算和分配方式).
    pub cost_revenue: String,
    /// 9. Security and emergency measures (安全和应急措施).
    pub security_emergency: String,
    /// 10. Rights and duties of the parties (各方权利义务).
    pub rights_duties: String,
    /// 11. Supervision (监督管理).
    pub supervision: String,
    /// 12. Other matters (其他), may be empty.
    #[serde(default)]
    pub other: String,
}

/// A checked implementation plan: every required item filled in (1 to 5000
/// characters; `other` may be empty), the mode consistent with the data
/// scope, a term of 1 to 60 months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanContent(PlanContentInput);
validated!(PlanContent, PlanContentInput);

impl PlanContent {
    pub fn new(mut i: PlanContentInput) -> DomainResult<Self> {
        let long = |field: &str, s: &str| text(field, s, 1, MAX_ITEM_CHARS);
        i.name = text("name", &i.name, 1, 100)?;
        i.necessity_feasibility = long("necessity_feasibility", &i.necessity_feasibility)?;
        i.operator_criteria = long("operator_criteria", &i.operator_criteria)?;
        i.schedule = long("schedule", &i.schedule)?;
        i.evaluation_exit = long("evaluation_exit", &i.evaluation_exit)?;
        i.cost_revenue = long("cost_revenue", &i.cost_revenue)?;
        i.security_emergency = long("security_emergency", &i.security_emergency)?;
        i.rights_duties = long("rights_duties", &i.rights_duties)?;
        i.supervision = long("supervision", &i.supervision)?;
        i.other = text("other", &i.other, 0, MAX_ITEM_CHARS)?;
        if i.data_scope.is_empty() || i.data_scope.len() > MAX_PLAN_RESOURCES {
            return Err(DomainError::invalid(
                "data_scope",
                format!("a data scope lists 1 to {MAX_PLAN_RESOURCES} resources"),
            ));
        }
        if !(1..=MAX_TERM_MONTHS).contains(&i.term_months) {
            return Err(DomainError::invalid(
                "term_months",
                format!("the term is 1 to {MAX_TERM_MONTHS} months (five years at most)"),
            ));
        }
        match &i.authorization {
            PlanMode::Whole => {}
            PlanMode::ByDomain { domains } => {
                if domains.is_empty() {
                    return Err(DomainError::invalid(
                        "authorization",
                        "authorization by domain names at least one domain",
                    ));
                }
                if let Some(c) = i.data_scope.iter().find(|c| !domains.contains(&c.domain())) {
                    return Err(DomainError::invalid(
                        "data_scope",
                        format!(
                            "{c} is in the {} domain, which the plan does not authorize",
                            c.domain().as_str()
                        ),
                    ));
                }
            }
            PlanMode::ByScenario { scenarios } => {
                if scenarios.is_empty() || scenarios.len() > 100 {
                    return Err(DomainError::invalid(
                        "authorization",
                        "authorization by scenario names 1 to 100 scenarios",
                    ));
                }
            }
        }
        i.products = check_products(std::mem::take(&mut i.products))?;
        Ok(Self(i))
    }

    pub fn mode(&self) -> AuthorizationMode {
        self.0.authorization.mode()
    }

    /// Resources on the negative list (负面清单) cannot enter a plan.
    pub fn check_not_excluded(&self, excluded: &BTreeSet<ResourceCode>) -> DomainResult<()> {
        check_not_excluded(&self.0.data_scope, excluded)
    }

    /// The items that differ between `self` and `next`, in item order.
    pub fn changed_items(&self, next: &PlanContent) -> Vec<PlanItem> {
        let (a, b) = (&self.0, &next.0);
        let products = |p: &[ProductLine]| -> BTreeSet<ProductLine> { p.iter().cloned().collect() };
        PlanItem::ALL
            .into_iter()
            .filter(|item| match item {
                PlanItem::Name => a.name != b.name,
                PlanItem::NecessityFeasibility => {
                    a.necessity_feasibility != b.necessity_feasibility
                }
                PlanItem::OperatorCriteria => a.operator_criteria != b.operator_criteria,
                PlanItem::Mode => a.authorization != b.authorization,
                PlanItem::DataScope => a.data_scope != b.data_scope,
                PlanItem::Term => a.term_months != b.term_months,
                PlanItem::ScheduleEvaluationExit => {
                    a.schedule != b.schedule || a.evaluation_exit != b.evaluation_exit
                }
                // The order of the list does not matter.
                PlanItem::Products => products(&a.products) != products(&b.products),
                PlanItem::CostRevenue => a.cost_revenue != b.cost_revenue,
                PlanItem::SecurityEmergency => a.security_emergency != b.security_emergency,
                PlanItem::RightsDuties => a.rights_duties != b.rights_duties,
                PlanItem::Supervision => a.supervision != b.supervision,
                PlanItem::Other => a.other != b.other,
            })
            .collect()
    }

    /// What kind of revision `next` is of this (approved) content: `None`
    /// when nothing changed, `Major` when any major item changed.
    pub fn revision_to(&self, next: &PlanContent) -> Option<Revision> {
        let items = self.changed_items(next);
        if items.is_empty() {
            None
        } else if items.iter().any(|i| i.is_major()) {
            Some(Revision::Major)
        } else {
            Some(Revision::Minor)
        }
    }
}

/// An item of a plan, for comparing versions. The national item 6 (term,
/// schedule, evaluation and exit) is split: the term is major, the rest is
/// not.
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
pub enum PlanItem {
    Name,
    NecessityFeasibility,
    OperatorCriteria,
    Mode,
    DataScope,
    Term,
    ScheduleEvaluationExit,
    Products,
    CostRevenue,
    SecurityEmergency,
    RightsDuties,
    Supervision,
    Other,
}

impl PlanItem {
    pub const ALL: [PlanItem; 13] = [
        PlanItem::Name,
        PlanItem::NecessityFeasibility,
        PlanItem::OperatorCriteria,
        PlanItem::Mode,
        PlanItem::DataScope,
        PlanItem::Term,
        PlanItem::ScheduleEvaluationExit,
        PlanItem::Products,
        PlanItem::CostRevenue,
        PlanItem::SecurityEmergency,
        PlanItem::RightsDuties,
        PlanItem::Supervision,
        PlanItem::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanItem::Name => "name",
            PlanItem::NecessityFeasibility => "necessity_feasibility",
            PlanItem::OperatorCriteria => "operator_criteria",
            PlanItem::Mode => "mode",
            PlanItem::DataScope => "data_scope",
            PlanItem::Term => "term",
            PlanItem::ScheduleEvaluationExit => "schedule_evaluation_exit",
            PlanItem::Products => "products",
            PlanItem::CostRevenue => "cost_revenue",
            PlanItem::SecurityEmergency => "security_emergency",
            PlanItem::RightsDuties => "rights_duties",
            PlanItem::Supervision => "supervision",
            PlanItem::Other => "other",
        }
    }

    /// A change to this item is a major change (较大变更) that goes back
    /// through deliberation: what is authorized (mode, data scope, term,
    /// products), to whom (operator criteria), and who gains or owes what
    /// (cost and revenue, rights and duties). Wording, schedule, security
    /// measures and supervision arrangements are minor.
    pub fn is_major(self) -> bool {
        matches!(
            self,
            PlanItem::OperatorCriteria
                | PlanItem::Mode
                | PlanItem::DataScope
                | PlanItem::Term
                | PlanItem::Products
                | PlanItem::CostRevenue
                | PlanItem::RightsDuties
        )
    }
}

/// How a plan version came about.
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
pub enum Revision {
    /// The first version.
    Original,
    /// A major change of an approved version: the whole review again.
    Major,
    /// A minor change of an approved version: the data authority may
    /// approve it without a new deliberation.
    Minor,
}

impl Revision {
    pub const ALL: [Revision; 3] = [Revision::Original, Revision::Major, Revision::Minor];

    pub fn as_str(self) -> &'static str {
        match self {
            Revision::Original => "original",
            Revision::Major => "major",
            Revision::Minor => "minor",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown plan revision '{s}'")))
    }
}

/// The state of one plan version.
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
pub enum PlanState {
    /// Being written; the only editable state.
    Draft,
    /// Before the government's collective decision (审议).
    Deliberation,
    /// Approved (审定); filing due within 20 working days. Immutable from
    /// here on.
    Approved,
    /// Filed (备案) with the provincial data authority.
    Filed,
    /// In force.
    Active,
    /// Withdrawn before approval.
    Withdrawn,
    /// Replaced by a later approved version.
    Superseded,
}

impl PlanState {
    pub const ALL: [PlanState; 7] = [
        PlanState::Draft,
        PlanState::Deliberation,
        PlanState::Approved,
        PlanState::Filed,
        PlanState::Active,
        PlanState::Withdrawn,
        PlanState::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "draft",
            PlanState::Deliberation => "deliberation",
            PlanState::Approved => "approved",
            PlanState::Filed => "filed",
            PlanState::Active => "active",
            PlanState::Withdrawn => "withdrawn",
            PlanState::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown plan state '{s}'")))
    }

    /// Only a draft's content may be edited; anything later is immutable
    /// and changes by a new version.
    pub fn editable(self) -> bool {
        self == PlanState::Draft
    }

    /// An approved version in force: operators may be selected and
    /// agreements signed under it (Jiangxi measures §10: "根据审定后的实施
    /// 方案").
    pub fn permits_selection(self) -> bool {
        matches!(
            self,
            PlanState::Approved | PlanState::Filed | PlanState::Active
        )
    }

    /// Filing is outstanding (the 20-working-day clock runs).
    pub fn awaits_filing(self) -> bool {
        self == PlanState::Approved
    }

    /// The one transition function. `revision` is how this version came
    /// about: a minor revision may be approved straight from draft.
    pub fn apply(self, action: PlanAction, revision: Revision) -> DomainResult<PlanState> {
        use PlanAction as A;
        use PlanState as S;
        match (self, action) {
            (S::Draft, A::Submit) => Ok(S::Deliberation),
            (S::Deliberation, A::Reject) => Ok(S::Draft),
            (S::Deliberation, A::Approve) => Ok(S::Approved),
            (S::Draft, A::Approve) if revision == Revision::Minor => Ok(S::Approved),
            (S::Draft, A::Approve) => Err(DomainError::conflict(
                "only a minor revision is approved without deliberation; submit it",
            )),
            (S::Approved, A::File) => Ok(S::Filed),
            (S::Filed, A::Activate) => Ok(S::Active),
            (S::Draft | S::Deliberation, A::Withdraw) => Ok(S::Withdrawn),
            (S::Approved | S::Filed | S::Active, A::Supersede) => Ok(S::Superseded),
            (s, a) => Err(illegal("a plan", a.as_str(), s.as_str())),
        }
    }
}

/// A step in a plan version's life.
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
pub enum PlanAction {
    /// Submit for deliberation (报请审议).
    Submit,
    /// Send back to draft with the deliberation's reasons.
    Reject,
    /// Record the approval (审定).
    Approve,
    /// Record the filing (备案).
    File,
    /// Put in force.
    Activate,
    /// Withdraw before approval.
    Withdraw,
    /// Mark as replaced when a later version comes into force.
    Supersede,
}

impl PlanAction {
    pub const ALL: [PlanAction; 7] = [
        PlanAction::Submit,
        PlanAction::Reject,
        PlanAction::Approve,
        PlanAction::File,
        PlanAction::Activate,
        PlanAction::Withdraw,
        PlanAction::Supersede,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanAction::Submit => "submit",
            PlanAction::Reject => "reject",
            PlanAction::Approve => "approve",
            PlanAction::File => "file",
            PlanAction::Activate => "activate",
            PlanAction::Withdraw => "withdraw",
            PlanAction::Supersede => "supersede",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::invalid("action", format!("unknown plan action '{s}'")))
    }

    /// The roles that take this step: the data authority drafts (or the
    /// implementing institution under its guidance, §8) and records the
    /// government's decisions.
    pub fn actors(self) -> &'static [Role] {
        match self {
            PlanAction::Submit | PlanAction::Withdraw => {
                &[Role::DataAuthority, Role::ImplementingInstitution]
            }
            PlanAction::Reject
            | PlanAction::Approve
            | PlanAction::File
            | PlanAction::Activate
            | PlanAction::Supersede => &[Role::DataAuthority],
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::ErrorCode;

    pub(crate) fn code(s: &str) -> ResourceCode {
        s.parse().unwrap()
    }

    pub(crate) fn input() -> PlanContentInput {
        PlanContentInput {
            name: "景德镇市公共数据资源授权运营".into(),
            necessity_feasibility: "数据资源富集但开发利用不足".into(),
            operator_criteria: "具备数据加工运营能力，经营和信用状况良好".into(),
            authorization: PlanMode::Whole,
            data_scope: [
                code("360200-XY-000001"),
                code("360200-XY-000002"),
                code("360200-JT-000001"),
            ]
            .into(),
            term_months: 60,
            schedule: "2026年启动".into(),
            evaluation_exit: "期满退出".into(),
            products: vec![
                ProductLine {
                    name: "个人信用画像".into(),
                    area: "金融服务".into(),
                    product_use: ProductUse::Industry,
                },
                ProductLine {
                    name: "出行便民查询服务".into(),
                    area: "交通运输".into(),
                    product_use: ProductUse::PublicGood,
                },
            ],
            cost_revenue: "谁投入、谁贡献、谁受益".into(),
            security_emergency: "数据沙箱，应急预案".into(),
            rights_duties: "见协议".into(),
            supervision: "数据局监督".into(),
            other: String::new(),
        }
    }

    pub(crate) fn content() -> PlanContent {
        PlanContent::new(input()).unwrap()
    }

    #[test]
    fn content_validation() {
        let c = content();
        assert_eq!(c.mode(), AuthorizationMode::Whole);
        let mut i = input();
        i.name = "  ".into();
        assert_eq!(
            PlanContent::new(i).unwrap_err().field.as_deref(),
            Some("name")
        );
        let mut i = input();
        i.supervision = "长".repeat(MAX_ITEM_CHARS + 1);
        assert!(PlanContent::new(i).is_err());
        let mut i = input();
        i.term_months = 61;
        assert_eq!(
            PlanContent::new(i).unwrap_err().field.as_deref(),
            Some("term_months")
        );
        let mut i = input();
        i.term_months = 0;
        assert!(PlanContent::new(i).is_err());
        let mut i = input();
        i.data_scope.clear();
        assert!(PlanContent::new(i).is_err());
        let mut i = input();
        i.products.clear();
        assert!(PlanContent::new(i).is_err());
        let mut i = input();
        i.products.push(i.products[0].clone());
        assert!(PlanContent::new(i).is_err());
        // By domain: every resource in a named domain.
        let mut i = input();
        i.authorization = PlanMode::ByDomain {
            domains: [DataDomain::Credit].into(),
        };
        assert_eq!(
            PlanContent::new(i.clone()).unwrap_err().field.as_deref(),
            Some("data_scope")
        );
        i.authorization = PlanMode::ByDomain {
            domains: [DataDomain::Credit, DataDomain::Transport].into(),
        };
        assert_eq!(
            PlanContent::new(i).unwrap().mode(),
            AuthorizationMode::ByDomain
        );
        let mut i = input();
        i.authorization = PlanMode::ByDomain {
            domains: BTreeSet::new(),
        };
        assert!(PlanContent::new(i).is_err());
        let mut i = input();
        i.authorization = PlanMode::ByScenario {
            scenarios: BTreeSet::new(),
        };
        assert!(PlanContent::new(i).is_err());
        // Trimmed.
        let mut i = input();
        i.name = " 方案 ".into();
        assert_eq!(PlanContent::new(i).unwrap().name, "方案");
    }

    #[test]
    fn content_json_round_trip_and_refusal() {
        let c = content();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["authorization"]["mode"], "whole");
        assert_eq!(json["products"][0]["use"], "industry");
        let back: PlanContent = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, c);
        let mut bad = json.clone();
        bad["term_months"] = 72.into();
        let err = serde_json::from_value::<PlanContent>(bad).unwrap_err();
        assert!(err.to_string().contains("term_months"), "{err}");
        let mut bad = json;
        bad["surprise"] = 1.into();
        assert!(serde_json::from_value::<PlanContent>(bad).is_err());
        let by_domain: PlanMode =
            serde_json::from_str(r#"{"mode":"by_domain","domains":["credit"]}"#).unwrap();
        assert_eq!(by_domain.mode(), AuthorizationMode::ByDomain);
    }

    #[test]
    fn negative_list_keeps_resources_out() {
        let c = content();
        assert!(c.check_not_excluded(&BTreeSet::new()).is_ok());
        assert!(
            c.check_not_excluded(&[code("360200-HJ-000001")].into())
                .is_ok()
        );
        let err = c
            .check_not_excluded(&[code("360200-XY-000002")].into())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Validation);
        assert!(err.message.contains("360200-XY-000002"));
    }

    #[test]
    fn major_and_minor_changes() {
        let a = content();
        assert_eq!(a.revision_to(&a), None);
        let change = |f: &dyn Fn(&mut PlanContentInput)| {
            let mut i = input();
            f(&mut i);
            let b = PlanContent::new(i).unwrap();
            (a.changed_items(&b), a.revision_to(&b))
        };
        assert_eq!(
            change(&|i| i.term_months = 36),
            (vec![PlanItem::Term], Some(Revision::Major))
        );
        assert_eq!(
            change(&|i| {
                i.data_scope.insert(code("360200-HJ-000001"));
            }),
            (vec![PlanItem::DataScope], Some(Revision::Major))
        );
        assert_eq!(
            change(&|i| i.authorization = PlanMode::ByScenario {
                scenarios: ["个人信用画像".parse().unwrap()].into()
            }),
            (vec![PlanItem::Mode], Some(Revision::Major))
        );
        assert_eq!(
            change(&|i| i.products[1].product_use = ProductUse::Industry),
            (vec![PlanItem::Products], Some(Revision::Major))
        );
        assert_eq!(
            change(&|i| i.products.reverse()),
            (vec![], None),
            "the order of the product list does not matter"
        );
        assert_eq!(
            change(&|i| i.security_emergency = "加强演练".into()),
            (vec![PlanItem::SecurityEmergency], Some(Revision::Minor))
        );
        assert_eq!(
            change(&|i| {
                i.name = "新名称".into();
                i.schedule = "2027年".into();
                i.other = "附注".into();
            }),
            (
                vec![
                    PlanItem::Name,
                    PlanItem::ScheduleEvaluationExit,
                    PlanItem::Other
                ],
                Some(Revision::Minor)
            )
        );
        assert_eq!(
            change(&|i| {
                i.name = "新名称".into();
                i.cost_revenue = "另议".into();
            })
            .1,
            Some(Revision::Major)
        );
        let majors: Vec<PlanItem> = PlanItem::ALL.into_iter().filter(|i| i.is_major()).collect();
        assert_eq!(
            majors,
            vec![
                PlanItem::OperatorCriteria,
                PlanItem::Mode,
                PlanItem::DataScope,
                PlanItem::Term,
                PlanItem::Products,
                PlanItem::CostRevenue,
                PlanItem::RightsDuties
            ]
        );
    }

    #[test]
    fn every_state_action_and_revision() {
        use PlanAction as A;
        use PlanState as S;
        for s in S::ALL {
            for a in A::ALL {
                for r in Revision::ALL {
                    let expected = match (s, a) {
                        (S::Draft, A::Submit) => Some(S::Deliberation),
                        (S::Deliberation, A::Reject) => Some(S::Draft),
                        (S::Deliberation, A::Approve) => Some(S::Approved),
                        (S::Draft, A::Approve) if r == Revision::Minor => Some(S::Approved),
                        (S::Approved, A::File) => Some(S::Filed),
                        (S::Filed, A::Activate) => Some(S::Active),
                        (S::Draft | S::Deliberation, A::Withdraw) => Some(S::Withdrawn),
                        (S::Approved | S::Filed | S::Active, A::Supersede) => Some(S::Superseded),
                        _ => None,
                    };
                    match (s.apply(a, r), expected) {
                        (Ok(got), Some(want)) => assert_eq!(got, want, "{s:?} {a:?} {r:?}"),
                        (Err(e), None) => {
                            assert_eq!(e.code, ErrorCode::Conflict, "{s:?} {a:?} {r:?}")
                        }
                        (got, want) => panic!("{s:?} {a:?} {r:?}: {got:?}, expected {want:?}"),
                    }
                }
            }
            assert_eq!(S::parse(s.as_str()), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for a in A::ALL {
            assert_eq!(A::parse(a.as_str()), Ok(a));
            assert!(a.actors().contains(&Role::DataAuthority));
        }
        for r in Revision::ALL {
            assert_eq!(Revision::parse(r.as_str()), Ok(r));
        }
        let editable: Vec<S> = S::ALL.into_iter().filter(|s| s.editable()).collect();
        assert_eq!(editable, vec![S::Draft]);
        let selectable: Vec<S> = S::ALL
            .into_iter()
            .filter(|s| s.permits_selection())
            .collect();
        assert_eq!(selectable, vec![S::Approved, S::Filed, S::Active]);
        assert!(S::Approved.awaits_filing() && !S::Filed.awaits_filing());
    }
}
