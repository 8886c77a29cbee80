//! Scenario applications (应用场景 / 数据产品开发方案, B4): before any
//! development the operator submits, per scenario, a plan naming its use,
//! the data it needs (a subset of the agreement's scope), the output
//! forms, its security measures and the product it leads to; the
//! implementing institution reviews it (seed 002 §3(3)).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::agreement::AgreementState;
use super::scope::{ResourceGrant, Scope, check_grants_schemas};
use super::{ProductKind, Purpose, ScenarioName, illegal, text};
use crate::access::Role;
use crate::catalogue::{ResourceCode, Schema};
use crate::error::{DomainError, DomainResult};

/// What leaves the secure environment for this scenario ("原始数据不出域":
/// never raw rows).
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
pub enum OutputForm {
    /// 统计结果: aggregates subject to output checks.
    Aggregate,
    /// 模型: a trained model or its parameters.
    Model,
    /// 核验结果: yes/no or score answers about a subject (数据核验).
    Verification,
    /// 报告: a written analysis.
    Report,
    /// 接口服务: answers served through an API.
    ApiService,
}

impl OutputForm {
    pub const ALL: [OutputForm; 5] = [
        OutputForm::Aggregate,
        OutputForm::Model,
        OutputForm::Verification,
        OutputForm::Report,
        OutputForm::ApiService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputForm::Aggregate => "aggregate",
            OutputForm::Model => "model",
            OutputForm::Verification => "verification",
            OutputForm::Report => "report",
            OutputForm::ApiService => "api_service",
        }
    }
}

/// The product a scenario leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioProduct {
    /// 1–100 characters, e.g. 个人信用画像.
    pub name: String,
    pub kind: ProductKind,
}

/// The wire form of [`ScenarioPlan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ScenarioPlan")]
pub struct ScenarioPlanInput {
    pub name: ScenarioName,
    pub purpose: Purpose,
    /// The use: who is served and how (用途), 1–5000 characters.
    pub description: String,
    /// The data needed, each resource at most once: 1 to 100 grants, all
    /// within the agreement's scope.
    pub data: Vec<ResourceGrant>,
    /// At least one output form.
    pub outputs: BTreeSet<OutputForm>,
    /// Security measures (安全措施), 1–5000 characters.
    pub security_measures: String,
    pub product: ScenarioProduct,
}

/// A checked scenario plan (场景开发方案).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioPlan(ScenarioPlanInput);
validated!(ScenarioPlan, ScenarioPlanInput);

impl ScenarioPlan {
    pub fn new(mut i: ScenarioPlanInput) -> DomainResult<Self> {
        i.description = text("description", &i.description, 1, 5000)?;
        i.security_measures = text("security_measures", &i.security_measures, 1, 5000)?;
        i.product.name = text("product", &i.product.name, 1, 100)?;
        if i.data.is_empty() || i.data.len() > 100 {
            return Err(DomainError::invalid(
                "data",
                "a scenario asks for 1 to 100 resources",
            ));
        }
        for g in &i.data {
            g.check_size()?;
        }
        i.data.sort_by(|a, b| a.resource.cmp(&b.resource));
        if let Some(w) = i.data.windows(2).find(|w| w[0].resource == w[1].resource) {
            return Err(DomainError::invalid(
                "data",
                format!("{} is asked for twice", w[0].resource),
            ));
        }
        if i.outputs.is_empty() {
            return Err(DomainError::invalid(
                "outputs",
                "name at least one output form",
            ));
        }
        Ok(Self(i))
    }

    /// The scenario lies within the agreement's scope (B6): every grant
    /// covered, the purpose allowed, and the scenario among the scope's
    /// scenarios when it names any. `Forbidden` otherwise.
    pub fn check_within(&self, scope: &Scope) -> DomainResult<()> {
        let outside: Vec<&str> = self
            .0
            .data
            .iter()
            .filter(|g| !scope.covers(g))
            .map(|g| g.resource.as_str())
            .collect();
        if !outside.is_empty() {
            return Err(DomainError::forbidden(format!(
                "the scenario asks for data beyond the agreement's scope: {}",
                outside.join(", ")
            )));
        }
        if !scope.purposes.contains(&self.0.purpose) {
            return Err(DomainError::forbidden(format!(
                "the agreement does not allow the purpose {}",
                self.0.purpose.as_str()
            )));
        }
        if !scope.scenarios.is_empty() && !scope.scenarios.contains(&self.0.name) {
            return Err(DomainError::forbidden(format!(
                "scenario '{}' is not among the agreement's scenarios",
                self.0.name
            )));
        }
        Ok(())
    }

    /// Fields and row conditions exist in the resources' schemas.
    pub fn check_schemas<'a>(
        &self,
        schema_of: impl Fn(&ResourceCode) -> Option<&'a Schema>,
    ) -> DomainResult<()> {
        check_grants_schemas(&self.0.data, schema_of)
    }
}

/// Whether `org_id` may submit a scenario plan on an agreement of
/// `operator_org_id` in state `agreement_state` (its state now): only the
/// operator, on a filed or active agreement.
pub fn check_submission(
    agreement_state: AgreementState,
    operator_org_id: i64,
    org_id: i64,
) -> DomainResult<()> {
    if org_id != operator_org_id {
        return Err(DomainError::forbidden(
            "only the agreement's operator submits scenario plans",
        ));
    }
    if !matches!(
        agreement_state,
        AgreementState::Filed | AgreementState::Active
    ) {
        return Err(DomainError::conflict(format!(
            "the agreement is {}: scenario plans are submitted on a filed or active agreement",
            agreement_state.as_str()
        )));
    }
    Ok(())
}

/// The state of a scenario plan.
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
pub enum ScenarioState {
    /// Awaiting the implementing institution's review.
    Submitted,
    /// Development may start within its data.
    Approved,
    /// Refused with reasons; the operator may submit a new plan.
    Rejected,
    /// Withdrawn by the operator before a decision.
    Withdrawn,
    /// An approval taken back (e.g. a linkage risk, C5).
    Revoked,
}

impl ScenarioState {
    pub const ALL: [ScenarioState; 5] = [
        ScenarioState::Submitted,
        ScenarioState::Approved,
        ScenarioState::Rejected,
        ScenarioState::Withdrawn,
        ScenarioState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioState::Submitted => "submitted",
            ScenarioState::Approved => "approved",
            ScenarioState::Rejected => "rejected",
            ScenarioState::Withdrawn => "withdrawn",
            ScenarioState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown scenario state '{s}'")))
    }

    /// The one transition function. `agreement_state` is the agreement's
    /// state now ([`AgreementState::at`]): no scenario is approved on an
    /// agreement that is not active. Rejection and revocation need a
    /// reason ([`super::reason`]), which the caller records.
    pub fn apply(
        self,
        action: ScenarioAction,
        agreement_state: AgreementState,
    ) -> DomainResult<ScenarioState> {
        use ScenarioAction as A;
        use ScenarioState as S;
        match (self, action) {
            (S::Submitted, A::Approve) if agreement_state == AgreementState::Active => {
                Ok(S::Approved)
            }
            (S::Submitted, A::Approve) => Err(DomainError::conflict(format!(
                "the agreement is {}: scenarios are approved only on an active agreement",
                agreement_state.as_str()
            ))),
            (S::Submitted, A::Reject) => Ok(S::Rejected),
            (S::Submitted, A::Withdraw) => Ok(S::Withdrawn),
            (S::Approved, A::Revoke) => Ok(S::Revoked),
            (s, a) => Err(illegal("a scenario plan", a.as_str(), s.as_str())),
        }
    }
}

/// A step in a scenario plan's review.
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
pub enum ScenarioAction {
    Approve,
    Reject,
    Withdraw,
    Revoke,
}

impl ScenarioAction {
    pub const ALL: [ScenarioAction; 4] = [
        ScenarioAction::Approve,
        ScenarioAction::Reject,
        ScenarioAction::Withdraw,
        ScenarioAction::Revoke,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioAction::Approve => "approve",
            ScenarioAction::Reject => "reject",
            ScenarioAction::Withdraw => "withdraw",
            ScenarioAction::Revoke => "revoke",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::invalid("action", format!("unknown scenario action '{s}'")))
    }

    /// The implementing institution reviews; the operator withdraws.
    pub fn actors(self) -> &'static [Role] {
        match self {
            ScenarioAction::Withdraw => &[Role::Operator],
            _ => &[Role::ImplementingInstitution],
        }
    }

    /// Whether the step needs a reason.
    pub fn needs_reason(self) -> bool {
        matches!(self, ScenarioAction::Reject | ScenarioAction::Revoke)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::scope::{FieldSet, ScopeInput};
    use crate::error::ErrorCode;

    fn code(s: &str) -> ResourceCode {
        s.parse().unwrap()
    }

    fn input() -> ScenarioPlanInput {
        ScenarioPlanInput {
            name: "个人信用画像".parse().unwrap(),
            purpose: Purpose::IndustryDevelopment,
            description: "为银行提供个人信用评分".into(),
            data: vec![ResourceGrant {
                resource: code("360200-XY-000001"),
                fields: FieldSet::Only(["credit_level".parse().unwrap()].into()),
                rows: None,
            }],
            outputs: [OutputForm::Verification, OutputForm::ApiService].into(),
            security_measures: "数据沙箱内计算，结果出域审核".into(),
            product: ScenarioProduct {
                name: "个人信用画像".into(),
                kind: ProductKind::ApiService,
            },
        }
    }

    fn scope(scenarios: &[&str]) -> Scope {
        Scope::new(ScopeInput {
            resources: vec![ResourceGrant::whole(code("360200-XY-000001"))],
            domains: BTreeSet::new(),
            scenarios: scenarios.iter().map(|s| s.parse().unwrap()).collect(),
            purposes: [Purpose::IndustryDevelopment].into(),
        })
        .unwrap()
    }

    #[test]
    fn validation() {
        assert!(ScenarioPlan::new(input()).is_ok());
        let mut i = input();
        i.data.clear();
        assert!(ScenarioPlan::new(i).is_err());
        let mut i = input();
        i.data.push(i.data[0].clone());
        assert!(ScenarioPlan::new(i).is_err());
        let mut i = input();
        i.outputs.clear();
        assert_eq!(
            ScenarioPlan::new(i).unwrap_err().field.as_deref(),
            Some("outputs")
        );
        let mut i = input();
        i.security_measures = " ".into();
        assert!(ScenarioPlan::new(i).is_err());
        let json = serde_json::to_value(ScenarioPlan::new(input()).unwrap()).unwrap();
        assert_eq!(json["data"][0]["fields"][0], "credit_level");
        assert!(serde_json::from_value::<ScenarioPlan>(json).is_ok());
    }

    #[test]
    fn within_the_agreement_scope() {
        let p = ScenarioPlan::new(input()).unwrap();
        assert!(p.check_within(&scope(&[])).is_ok());
        assert!(p.check_within(&scope(&["个人信用画像"])).is_ok());
        assert_eq!(
            p.check_within(&scope(&["普惠金融服务"]))
                .map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        let mut i = input();
        i.data.push(ResourceGrant::whole(code("360200-JT-000001")));
        let e = ScenarioPlan::new(i)
            .unwrap()
            .check_within(&scope(&[]))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(e.message.contains("360200-JT-000001"));
        let mut i = input();
        i.purpose = Purpose::PublicWelfare;
        assert!(
            ScenarioPlan::new(i)
                .unwrap()
                .check_within(&scope(&[]))
                .is_err()
        );
    }

    #[test]
    fn submission() {
        assert!(check_submission(AgreementState::Active, 5, 5).is_ok());
        assert!(check_submission(AgreementState::Filed, 5, 5).is_ok());
        assert_eq!(
            check_submission(AgreementState::Active, 5, 6).map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        for s in [
            AgreementState::Drafted,
            AgreementState::Signed,
            AgreementState::Suspended,
            AgreementState::Expired,
            AgreementState::Terminated,
        ] {
            assert_eq!(
                check_submission(s, 5, 5).map_err(|e| e.code),
                Err(ErrorCode::Conflict)
            );
        }
    }

    #[test]
    fn every_state_action_and_agreement_state() {
        use ScenarioAction as A;
        use ScenarioState as S;
        for s in S::ALL {
            for a in A::ALL {
                for ag in AgreementState::ALL {
                    let expected = match (s, a) {
                        (S::Submitted, A::Approve) if ag == AgreementState::Active => {
                            Some(S::Approved)
                        }
                        (S::Submitted, A::Reject) => Some(S::Rejected),
                        (S::Submitted, A::Withdraw) => Some(S::Withdrawn),
                        (S::Approved, A::Revoke) => Some(S::Revoked),
                        _ => None,
                    };
                    match (s.apply(a, ag), expected) {
                        (Ok(got), Some(want)) => assert_eq!(got, want),
                        (Err(e), None) => {
                            assert_eq!(e.code, ErrorCode::Conflict, "{s:?} {a:?} {ag:?}")
                        }
                        (got, want) => panic!("{s:?} {a:?} {ag:?}: {got:?} vs {want:?}"),
                    }
                }
            }
            assert_eq!(S::parse(s.as_str()), Ok(s));
        }
        for a in A::ALL {
            assert_eq!(A::parse(a.as_str()), Ok(a));
        }
        assert_eq!(A::Withdraw.actors(), &[Role::Operator]);
        assert!(A::Reject.needs_reason() && !A::Approve.needs_reason());
        assert_eq!(OutputForm::ALL.len(), 5);
        assert_eq!(OutputForm::ApiService.as_str(), "api_service");
    }
}
