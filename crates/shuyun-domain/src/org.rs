//! Organisations (组织机构) and their kinds: who takes part in the platform.

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::error::DomainError;

/// The kind of an organisation, which fixes the role of its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 数据主管部门: approves plans, keeps the negative list, supervises.
    DataAuthority,
    /// 实施机构: runs the authorization and the platform day to day.
    ImplementingInstitution,
    /// 数源部门: supplies data resources.
    SourceDepartment,
    /// 运营机构: develops and sells data products.
    Operator,
    /// 需求方/数据商: buys products.
    Buyer,
    /// 监管部门: reads audit trails and orders suspensions.
    Regulator,
    /// The organisation running the platform software itself.
    Platform,
}

impl OrgKind {
    pub const ALL: [OrgKind; 7] = [
        OrgKind::DataAuthority,
        OrgKind::ImplementingInstitution,
        OrgKind::SourceDepartment,
        OrgKind::Operator,
        OrgKind::Buyer,
        OrgKind::Regulator,
        OrgKind::Platform,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::DataAuthority => "data_authority",
            OrgKind::ImplementingInstitution => "implementing_institution",
            OrgKind::SourceDepartment => "source_department",
            OrgKind::Operator => "operator",
            OrgKind::Buyer => "buyer",
            OrgKind::Regulator => "regulator",
            OrgKind::Platform => "platform",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid("kind", format!("unknown organisation kind '{s}'")))
    }

    /// The role users of this organisation hold.
    pub fn role(self) -> Role {
        match self {
            OrgKind::DataAuthority => Role::DataAuthority,
            OrgKind::ImplementingInstitution => Role::ImplementingInstitution,
            OrgKind::SourceDepartment => Role::SourceDepartment,
            OrgKind::Operator => Role::Operator,
            OrgKind::Buyer => Role::Buyer,
            OrgKind::Regulator => Role::Regulator,
            OrgKind::Platform => Role::PlatformAdmin,
        }
    }
}
