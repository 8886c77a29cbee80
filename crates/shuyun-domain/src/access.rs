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
}

impl Permission {
    pub const ALL: [Permission; 12] = [
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
