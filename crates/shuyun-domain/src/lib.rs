//! Pure domain rules of shuyun (数运): identifiers that cannot hold invalid
//! values, organisations and roles, the permission model, and the coded error
//! every layer speaks. Nothing here does IO; time is passed in as a parameter.

/// Serde, JSON Schema, Display and TryFrom<String> for a string newtype
/// whose `FromStr` validates.
macro_rules! string_newtype {
    ($ty:ident, $pattern:literal, $desc:literal) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|e: $crate::DomainError| <D::Error as ::serde::de::Error>::custom(e.message))
            }
        }
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "pattern": $pattern, "description": $desc })
            }
            fn inline_schema() -> bool {
                true
            }
        }
        impl TryFrom<String> for $ty {
            type Error = $crate::DomainError;
            fn try_from(s: String) -> Result<Self, $crate::DomainError> {
                s.parse()
            }
        }
    };
}

pub mod access;
pub mod authorization;
pub mod calendar;
pub mod catalogue;
pub mod error;
pub mod ids;
pub mod org;
pub mod policy;
pub mod quality;
pub mod tickets;
pub mod workflow;
pub mod workspace;

pub use access::{Permission, Role};
pub use calendar::{Date, Deadline, WorkCalendar};
pub use error::{DomainError, ErrorCode};
pub use ids::{CreditCode, DivisionCode, ResidentId, Username};
pub use org::OrgKind;
