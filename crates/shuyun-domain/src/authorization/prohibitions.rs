//! The prohibitions of the Jiangxi measures §15 (B6) as pure checks, so the
//! system enforces them rather than trusting the operator: no providing or
//! sub-licensing authorized data to a third party (第三方), no use beyond
//! the authorized scope (超授权范围), and no direct or indirect
//! re-development by the operator of a product it itself delivered
//! (已交付产品再开发) — which other market players are encouraged to do.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::scope::{AgreementView, Scope};
use crate::error::{DomainError, DomainResult};

/// A grant made under an agreement (a scenario's data, a workspace, a
/// delivery) must lie within the agreement's scope (`Forbidden` naming
/// what exceeds it).
pub fn check_grant_within(agreement_scope: &Scope, granted: &Scope) -> DomainResult<()> {
    granted.check_within(agreement_scope)
}

/// Authorized data goes to the agreement's operator and to no one else:
/// any grant, share or sub-licence of it to another organisation is
/// refused. ([`super::decide`] denies the access itself with
/// `not_operator`.)
pub fn check_no_sublicence(agreement: &AgreementView, recipient_org_id: i64) -> DomainResult<()> {
    if recipient_org_id == agreement.operator_org_id {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!(
            "data authorized under agreement {} is not provided or sub-licensed to another \
             organisation",
            agreement.agreement_id
        )))
    }
}

/// A product or service as delivered by an operator (已交付).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveredProduct {
    pub product_id: i64,
    /// The operator that developed and delivered it.
    pub operator_org_id: i64,
    pub agreement_id: i64,
}

/// What an organisation wants to do with a delivered product.
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
pub enum ProductDealing {
    /// Buy it (the first step of re-developing it).
    Buy,
    /// Develop a new product from it (再开发).
    Redevelop,
}

impl ProductDealing {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductDealing::Buy => "buy",
            ProductDealing::Redevelop => "redevelop",
        }
    }
}

/// The operator that delivered a product may not buy or re-develop it,
/// directly or through an organisation related to it (`related_org_ids`:
/// its affiliates, as the registry of participants knows them). Anyone
/// else may.
pub fn check_no_redevelopment(
    product: &DeliveredProduct,
    org_id: i64,
    related_org_ids: &BTreeSet<i64>,
    dealing: ProductDealing,
) -> DomainResult<()> {
    let direct = org_id == product.operator_org_id;
    let indirect = related_org_ids.contains(&product.operator_org_id);
    if direct || indirect {
        Err(DomainError::forbidden(format!(
            "the operator that delivered product {} may not {} it{}",
            product.product_id,
            dealing.as_str(),
            if direct {
                ""
            } else {
                " through a related organisation"
            }
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn no_redevelopment_of_own_products() {
        let p = DeliveredProduct {
            product_id: 7,
            operator_org_id: 5,
            agreement_id: 1,
        };
        let none = BTreeSet::new();
        for d in [ProductDealing::Buy, ProductDealing::Redevelop] {
            assert_eq!(
                check_no_redevelopment(&p, 5, &none, d).map_err(|e| e.code),
                Err(ErrorCode::Forbidden)
            );
            // A buyer related to the operator.
            assert_eq!(
                check_no_redevelopment(&p, 9, &[5].into(), d).map_err(|e| e.code),
                Err(ErrorCode::Forbidden)
            );
            // Others are encouraged to.
            assert!(check_no_redevelopment(&p, 9, &none, d).is_ok());
            assert!(check_no_redevelopment(&p, 9, &[8].into(), d).is_ok());
        }
    }
}
