//! The prohibitions of §15 of the Jiangxi measures (B6), enforced by the
//! store for the layers that grant, deliver and trade: nothing granted
//! beyond an agreement's scope, no providing or sub-licensing authorized
//! data to another organisation, and no operator buying or re-developing a
//! product it itself delivered. The access itself is decided by
//! [`Store::authorize`], which denies another organisation `not_operator`.
//! Each check returns `Forbidden` naming what it refuses.

use std::collections::BTreeSet;

use shuyun_domain::DomainError;
use shuyun_domain::authorization::Scope;
use shuyun_domain::authorization::prohibitions::{
    DeliveredProduct, ProductDealing, check_grant_within, check_no_redevelopment,
    check_no_sublicence,
};

use super::agreements::AgreementScope;
use crate::{Store, StoreResult};

impl Store {
    /// A grant made under an agreement (a workspace, a delivery) lies
    /// within the agreement's scope, and the agreement is in operation at
    /// `now_ms` (`Conflict` when it is not).
    pub async fn check_grant(
        &self,
        agreement_id: i64,
        granted: &Scope,
        now_ms: i64,
    ) -> StoreResult<()> {
        let a = self
            .agreement(AgreementScope::All, agreement_id, now_ms)
            .await?;
        if a.state != shuyun_domain::authorization::AgreementState::Active {
            return Err(DomainError::conflict(format!(
                "agreement {agreement_id} is {}: nothing is granted under it",
                a.state.as_str()
            ))
            .into());
        }
        check_grant_within(&a.content.scope, granted)?;
        Ok(())
    }

    /// Authorized data of an agreement goes to its operator only: refuses
    /// any provision, share or sub-licence to `recipient_org_id`.
    pub async fn check_sublicence(
        &self,
        agreement_id: i64,
        recipient_org_id: i64,
    ) -> StoreResult<()> {
        let view = self.agreement_view(agreement_id).await?;
        check_no_sublicence(&view, recipient_org_id)?;
        Ok(())
    }

    /// An organisation may not buy or re-develop a product that it — or
    /// an organisation related to it — delivered as operator. The registry
    /// of related organisations (关联方) arrives with the participants'
    /// register; until then only the operator itself is refused.
    pub fn check_product_dealing(
        &self,
        product: &DeliveredProduct,
        org_id: i64,
        dealing: ProductDealing,
    ) -> StoreResult<()> {
        check_no_redevelopment(product, org_id, &BTreeSet::new(), dealing)?;
        Ok(())
    }
}
