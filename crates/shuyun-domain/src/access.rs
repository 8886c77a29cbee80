//! Role-based access control, deny by default (G3).
//!
//! Every route of the server declares one [`Permission`]; a caller may use the
//! route only if its role grants that permission (and, for API tokens, the
//! token's scope includes it). The role table below is the whole policy.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A user's role, fixed by the kind of their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    DataAuthority,
    ImplementingInstitution,
    SourceDepartment,
    Operator,
    Buyer,
    Regulator,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::DataAuthority,
        Role::ImplementingInstitution,
        Role::SourceDepartment,
        Role::Operator,
        Role::Buyer,
        Role::Regulator,
        Role::PlatformAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::DataAuthority => "data_authority",
            Role::ImplementingInstitution => "implementing_institution",
            Role::SourceDepartment => "source_department",
            Role::Operator => "operator",
            Role::Buyer => "buyer",
            Role::Regulator => "regulator",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("role", format!("unknown role '{s}'")))
    }

    /// Whether this role holds `perm`. `Public` and `Authenticated` are held
    /// by every signed-in role.
    pub fn grants(self, perm: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match perm {
            Public | Authenticated => true,
            OrgRead | UserRead => matches!(
                self,
                DataAuthority | PlatformAdmin | ImplementingInstitution | Regulator
            ),
            OrgAdmin | UserAdmin | TokenAdmin => matches!(self, DataAuthority | PlatformAdmin),
            LedgerRead | CatalogueRead => matches!(
                self,
                DataAuthority | ImplementingInstitution | Regulator | PlatformAdmin
            ),
            ResourceManage => matches!(self, SourceDepartment),
            GradeConfirm | NegativeListDecide => matches!(self, DataAuthority),
            // The authorization lifecycle (授权运营, B1-B6): the data
            // authority drafts plans (or the implementing institution under
            // its guidance) and records the government's decisions; the
            // institution runs selections, agreements and scenario reviews;
            // suspension may also be ordered by a regulator.
            AuthorizationRead => matches!(
                self,
                DataAuthority | ImplementingInstitution | Regulator | PlatformAdmin
            ),
            PlanDraft => matches!(self, DataAuthority | ImplementingInstitution),
            PlanDecide => matches!(self, DataAuthority),
            SelectionManage | AgreementManage | ScenarioReview => {
                matches!(self, ImplementingInstitution)
            }
            SelectionApply | ScenarioSubmit | WorkspaceUse => matches!(self, Operator),
            AgreementSuspend => matches!(self, ImplementingInstitution | DataAuthority | Regulator),
            AgreementEnforce => matches!(self, ImplementingInstitution | DataAuthority),
        }
    }

    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.grants(*p))
            .collect()
    }
}

/// What a route needs. `Public` routes need no credentials at all;
/// `Authenticated` ones need any signed-in caller; the rest need a role that
/// grants them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Anyone, without credentials (health, public key, disclosure).
    Public,
    /// Any signed-in user (own profile, own tokens, logout).
    Authenticated,
    /// List and read organisations.
    #[serde(rename = "org.read")]
    OrgRead,
    /// Create, change and disable organisations.
    #[serde(rename = "org.admin")]
    OrgAdmin,
    /// List and read users.
    #[serde(rename = "user.read")]
    UserRead,
    /// Create, disable users and reset their passwords.
    #[serde(rename = "user.admin")]
    UserAdmin,
    /// Issue and revoke API tokens of other users.
    #[serde(rename = "token.admin")]
    TokenAdmin,
    /// Read ledger entries and proofs (存证/审计日志).
    #[serde(rename = "ledger.read")]
    LedgerRead,
    /// Read the whole resource catalogue ("一本账"), not only public entries.
    #[serde(rename = "catalogue.read")]
    CatalogueRead,
    /// Register and maintain one's own department's resources: schemas,
    /// grading proposals, negative-list requests, consents, data versions.
    #[serde(rename = "resource.manage")]
    ResourceManage,
    /// Confirm or reject important and core grades.
    #[serde(rename = "grade.confirm")]
    GradeConfirm,
    /// Approve or reject negative-list requests.
    #[serde(rename = "negative_list.decide")]
    NegativeListDecide,
    /// Read every implementation plan, selection, agreement and exit of
    /// the authorization lifecycle (授权运营), drafts included.
    #[serde(rename = "authorization.read")]
    AuthorizationRead,
    /// Draft implementation plans (实施方案) and their new versions, submit
    /// them for deliberation, withdraw them.
    #[serde(rename = "plan.draft")]
    PlanDraft,
    /// Record the decisions on a plan: approval or rejection after
    /// deliberation, filing (备案), entry into force.
    #[serde(rename = "plan.decide")]
    PlanDecide,
    /// Run operator selections (运营机构遴选): announce, panel, close,
    /// qualification, public notice, objections, award.
    #[serde(rename = "selection.manage")]
    SelectionManage,
    /// Apply to a selection as an operator.
    #[serde(rename = "selection.apply")]
    SelectionApply,
    /// Draft, sign, file and activate operating agreements (运营协议);
    /// record exits, handovers and destruction records.
    #[serde(rename = "agreement.manage")]
    AgreementManage,
    /// Suspend an active agreement (暂停执行).
    #[serde(rename = "agreement.suspend")]
    AgreementSuspend,
    /// Reinstate a suspended agreement or terminate one early (终止).
    #[serde(rename = "agreement.enforce")]
    AgreementEnforce,
    /// Submit and withdraw scenario plans (应用场景) on one's own agreement.
    #[serde(rename = "scenario.submit")]
    ScenarioSubmit,
    /// Approve, reject or revoke scenario plans.
    #[serde(rename = "scenario.review")]
    ScenarioReview,
    /// Use authorized data within one's agreements (the secure workspace;
    /// asks the one scope decision).
    #[serde(rename = "workspace.use")]
    WorkspaceUse,
}

impl Permission {
    pub const ALL: [Permission; 23] = [
        Permission::Public,
        Permission::Authenticated,
        Permission::OrgRead,
        Permission::OrgAdmin,
        Permission::UserRead,
        Permission::UserAdmin,
        Permission::TokenAdmin,
        Permission::LedgerRead,
        Permission::CatalogueRead,
        Permission::ResourceManage,
        Permission::GradeConfirm,
        Permission::NegativeListDecide,
        Permission::AuthorizationRead,
        Permission::PlanDraft,
        Permission::PlanDecide,
        Permission::SelectionManage,
        Permission::SelectionApply,
        Permission::AgreementManage,
        Permission::AgreementSuspend,
        Permission::AgreementEnforce,
        Permission::ScenarioSubmit,
        Permission::ScenarioReview,
        Permission::WorkspaceUse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::Authenticated => "authenticated",
            Permission::OrgRead => "org.read",
            Permission::OrgAdmin => "org.admin",
            Permission::UserRead => "user.read",
            Permission::UserAdmin => "user.admin",
            Permission::TokenAdmin => "token.admin",
            Permission::LedgerRead => "ledger.read",
            Permission::CatalogueRead => "catalogue.read",
            Permission::ResourceManage => "resource.manage",
            Permission::GradeConfirm => "grade.confirm",
            Permission::NegativeListDecide => "negative_list.decide",
            Permission::AuthorizationRead => "authorization.read",
            Permission::PlanDraft => "plan.draft",
            Permission::PlanDecide => "plan.decide",
            Permission::SelectionManage => "selection.manage",
            Permission::SelectionApply => "selection.apply",
            Permission::AgreementManage => "agreement.manage",
            Permission::AgreementSuspend => "agreement.suspend",
            Permission::AgreementEnforce => "agreement.enforce",
            Permission::ScenarioSubmit => "scenario.submit",
            Permission::ScenarioReview => "scenario.review",
            Permission::WorkspaceUse => "workspace.use",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| DomainError::invalid("scopes", format!("unknown permission '{s}'")))
    }

    /// Whether a token scope may name this permission (the pseudo
    /// permissions are implied by any token).
    pub fn scopable(self) -> bool {
        !matches!(self, Permission::Public | Permission::Authenticated)
    }
}

/// A token's scope: the permissions it may exercise, a subset of its owner's.
/// An empty list means "everything the owner's role grants".
pub fn token_allows(role: Role, scopes: &[Permission], perm: Permission) -> bool {
    role.grants(perm) && (!perm.scopable() || scopes.is_empty() || scopes.contains(&perm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Ok(p));
        }
    }

    #[test]
    fn serde_names_match_as_str() {
        for p in Permission::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
    }

    #[test]
    fn admin_rights_are_narrow() {
        let admins: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.grants(Permission::UserAdmin))
            .collect();
        assert_eq!(admins, vec![Role::DataAuthority, Role::PlatformAdmin]);
        assert!(!Role::Operator.grants(Permission::LedgerRead));
        assert!(Role::Regulator.grants(Permission::LedgerRead));
    }

    /// The authorization lifecycle follows the actors the domain names for
    /// each step (`PlanAction::actors`, `AgreementAction::actors`, …).
    #[test]
    fn authorization_rights_follow_the_domain_actors() {
        use crate::authorization::{AgreementAction, PlanAction, ScenarioAction, SelectionAction};
        let holders = |perm: Permission| -> Vec<Role> {
            Role::ALL.into_iter().filter(|r| r.grants(perm)).collect()
        };
        for a in PlanAction::ALL {
            let perm = match a {
                PlanAction::Submit | PlanAction::Withdraw => Permission::PlanDraft,
                _ => Permission::PlanDecide,
            };
            assert_eq!(holders(perm), a.actors(), "{a:?}");
        }
        for a in SelectionAction::ALL {
            assert_eq!(holders(Permission::SelectionManage), a.actors(), "{a:?}");
        }
        for a in AgreementAction::ALL {
            let mut want = a.actors().to_vec();
            let perm = match a {
                AgreementAction::Suspend => Permission::AgreementSuspend,
                AgreementAction::Reinstate | AgreementAction::Terminate => {
                    Permission::AgreementEnforce
                }
                // The platform records expiry by itself (a sweep).
                AgreementAction::Expire => continue,
                _ => Permission::AgreementManage,
            };
            let mut got = holders(perm);
            got.sort_by_key(|r| r.as_str());
            want.sort_by_key(|r| r.as_str());
            assert_eq!(got, want, "{a:?}");
        }
        for a in ScenarioAction::ALL {
            let perm = match a {
                ScenarioAction::Withdraw => Permission::ScenarioSubmit,
                _ => Permission::ScenarioReview,
            };
            assert_eq!(holders(perm), a.actors(), "{a:?}");
        }
        assert_eq!(holders(Permission::WorkspaceUse), vec![Role::Operator]);
        assert_eq!(holders(Permission::SelectionApply), vec![Role::Operator]);
        assert!(!Role::Operator.grants(Permission::AuthorizationRead));
        assert!(!Role::Buyer.grants(Permission::AuthorizationRead));
    }

    #[test]
    fn token_scope_narrows() {
        assert!(token_allows(Role::Regulator, &[], Permission::LedgerRead));
        assert!(token_allows(
            Role::Regulator,
            &[Permission::LedgerRead],
            Permission::LedgerRead
        ));
        assert!(!token_allows(
            Role::Regulator,
            &[Permission::OrgRead],
            Permission::LedgerRead
        ));
        assert!(token_allows(
            Role::Regulator,
            &[Permission::OrgRead],
            Permission::Authenticated
        ));
        // A scope cannot widen a role.
        assert!(!token_allows(
            Role::Buyer,
            &[Permission::LedgerRead],
            Permission::LedgerRead
        ));
    }
}
