//! Pure domain rules of shuyun (数运): identifiers that cannot hold invalid
//! values, organisations and roles, the permission model, and the coded error
//! every layer speaks. Nothing here does IO; time is passed in as a parameter.

pub mod access;
pub mod error;
pub mod ids;
pub mod org;
pub mod policy;

pub use access::{Permission, Role};
pub use error::{DomainError, ErrorCode};
pub use ids::{CreditCode, DivisionCode, ResidentId, Username};
pub use org::OrgKind;
