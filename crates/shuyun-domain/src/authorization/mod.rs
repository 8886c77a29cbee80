//! The authorization lifecycle (公共数据资源授权运营, B1–B6, G9) as pure
//! rules: implementation plans ([`plan`]), operator selection
//! ([`selection`]), operating agreements ([`agreement`]), the scope policy
//! and its one decision function ([`scope`]), scenario applications
//! ([`scenario`]), the prohibitions of §15 of the Jiangxi measures
//! ([`prohibitions`]) and exit with log retention ([`exit`]).
//!
//! Every lifecycle is an enum of states with one transition function,
//! `apply`, returning the new state or a [`DomainError`] (`Conflict` for an
//! illegal step, `Forbidden` for a prohibited one, `Validation` for bad
//! input). Time is always a parameter (`now_ms`, milliseconds since the Unix
//! epoch); working-day deadlines take a [`WorkCalendar`].
//!
//! # Validated content
//!
//! Content that crosses the API comes in two types: `XInput`, a plain
//! struct with public fields that (de)serialises as JSON, and `X`, which
//! wraps an input that passed `X::new` and dereferences to it. `X`
//! deserialises through `X::new`, so an invalid plan, scope or scenario
//! cannot be parsed, stored or read back; its JSON form and JSON Schema are
//! those of `XInput`. To change content, take `into_input()`, edit it, and
//! parse it again.

use serde::{Deserialize, Serialize};

use crate::calendar::{Date, WorkCalendar};
use crate::error::{DomainError, DomainResult, ErrorCode};

/// Serde, JSON Schema, `Deref`, `TryFrom` and accessors for a validated
/// wrapper `$ty($input)` whose `new($input) -> DomainResult<Self>` checks.
macro_rules! validated {
    ($ty:ident, $input:ty) => {
        impl ::std::ops::Deref for $ty {
            type Target = $input;
            fn deref(&self) -> &$input {
                &self.0
            }
        }
        impl $ty {
            /// The validated input.
            pub fn input(&self) -> &$input {
                &self.0
            }
            /// The input, to edit and parse again.
            pub fn into_input(self) -> $input {
                self.0
            }
        }
        impl TryFrom<$input> for $ty {
            type Error = $crate::DomainError;
            fn try_from(input: $input) -> Result<Self, $crate::DomainError> {
                Self::new(input)
            }
        }
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.0, s)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let input = <$input as ::serde::Deserialize>::deserialize(d)?;
                Self::new(input).map_err(|e| {
                    let msg = match &e.field {
                        Some(f) => format!("{f}: {}", e.message),
                        None => e.message,
                    };
                    <D::Error as ::serde::de::Error>::custom(msg)
                })
            }
        }
        impl ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                <$input as ::schemars::JsonSchema>::schema_name()
            }
            fn schema_id() -> ::std::borrow::Cow<'static, str> {
                <$input as ::schemars::JsonSchema>::schema_id()
            }
            fn json_schema(g: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                <$input as ::schemars::JsonSchema>::json_schema(g)
            }
            fn inline_schema() -> bool {
                <$input as ::schemars::JsonSchema>::inline_schema()
            }
        }
    };
}

pub mod agreement;
pub mod exit;
pub mod plan;
pub mod prohibitions;
pub mod scenario;
pub mod scope;
pub mod selection;

pub use agreement::{AgreementAction, AgreementContent, AgreementState, RevenueSharing, Term};
pub use exit::{ExitCause, HandoverChecklist};
pub use plan::{PlanAction, PlanContent, PlanState, Revision};
pub use scenario::{ScenarioAction, ScenarioPlan, ScenarioState};
pub use scope::{AccessRequest, AgreementView, Decision, DenyReason, RowFilter, Scope, decide};
pub use selection::{SelectionAction, SelectionMethod, SelectionSpec, SelectionState};

/// Statutory filing period (备案): a plan approved, or an agreement signed,
/// is filed with the provincial data authority within 20 working days
/// (Jiangxi measures §9, §11).
pub const FILING_WORKING_DAYS: u32 = 20;

/// The longest term of an operating agreement and of a plan's authorization
/// (授权运营期限), in months: five years (seed 002 §3(8); 发改数据规〔2025〕27号).
pub const MAX_TERM_MONTHS: u32 = 60;

/// When a filing is due: the end (23:59:59.999 Beijing time) of the 20th
/// working day after the day of `from_ms` (approval or signing).
pub fn filing_due_ms(calendar: &WorkCalendar, from_ms: i64) -> i64 {
    calendar.deadline_ms(from_ms, FILING_WORKING_DAYS)
}

/// The date `months` months after `date`, on the same day of the month; where
/// that month has no such day (31 January + 1 month, 29 February + 12
/// months) it is the first day of the month after. So `[date,
/// add_months(date, m))` is exactly `m` months long, and the last day of an
/// `m`-month term starting on `date` is the day before.
pub fn add_months(date: Date, months: u32) -> Date {
    let total = i64::from(date.year()) * 12 + i64::from(date.month() - 1) + i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(i32::MAX);
    // `rem_euclid(12)` is 0..=11.
    let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
    Date::from_ymd(year, month, date.day())
        .or_else(|_| {
            let (ny, nm) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            Date::from_ymd(ny, nm, 1)
        })
        // Only beyond year 9999; saturate at the input's distance in days.
        .unwrap_or_else(|_| date.add_days(i64::from(months) * 31))
}

/// How a plan authorizes operation (授权模式, Jiangxi measures §7).
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
pub enum AuthorizationMode {
    /// 整体授权: all resources of the plan's data scope to one operator.
    Whole,
    /// 分领域授权: resources of named domains.
    ByDomain,
    /// 依场景授权: for named application scenarios.
    ByScenario,
}

impl AuthorizationMode {
    pub const ALL: [AuthorizationMode; 3] = [
        AuthorizationMode::Whole,
        AuthorizationMode::ByDomain,
        AuthorizationMode::ByScenario,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationMode::Whole => "whole",
            AuthorizationMode::ByDomain => "by_domain",
            AuthorizationMode::ByScenario => "by_scenario",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "mode",
                    format!("unknown authorization mode '{s}': whole, by_domain or by_scenario"),
                )
            })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            AuthorizationMode::Whole => "整体授权",
            AuthorizationMode::ByDomain => "分领域授权",
            AuthorizationMode::ByScenario => "依场景授权",
        }
    }
}

/// Whom a product serves, which fixes its pricing (E2): free for public
/// governance and public welfare, a fee under the government-guided cap for
/// industry use (seed 002 §3(6)).
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
pub enum ProductUse {
    /// 公共治理、公益事业: provided free of charge.
    PublicGood,
    /// 产业发展、行业发展: charged (公共数据运营服务费).
    Industry,
}

impl ProductUse {
    pub const ALL: [ProductUse; 2] = [ProductUse::PublicGood, ProductUse::Industry];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductUse::PublicGood => "public_good",
            ProductUse::Industry => "industry",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "use",
                    format!("unknown product use '{s}': public_good or industry"),
                )
            })
    }

    /// Whether products of this use are provided free of charge.
    pub fn is_free(self) -> bool {
        self == ProductUse::PublicGood
    }
}

/// The purpose data is used for (使用目的), as an agreement allows it and an
/// access request states it. The four purposes of the national opinions;
/// each belongs to one [`ProductUse`].
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
pub enum Purpose {
    /// 公共治理
    PublicGovernance,
    /// 公益事业
    PublicWelfare,
    /// 产业发展
    IndustryDevelopment,
    /// 行业发展
    SectorDevelopment,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [
        Purpose::PublicGovernance,
        Purpose::PublicWelfare,
        Purpose::IndustryDevelopment,
        Purpose::SectorDevelopment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PublicGovernance => "public_governance",
            Purpose::PublicWelfare => "public_welfare",
            Purpose::IndustryDevelopment => "industry_development",
            Purpose::SectorDevelopment => "sector_development",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::invalid("purpose", format!("unknown purpose '{s}'")))
    }

    pub fn product_use(self) -> ProductUse {
        match self {
            Purpose::PublicGovernance | Purpose::PublicWelfare => ProductUse::PublicGood,
            Purpose::IndustryDevelopment | Purpose::SectorDevelopment => ProductUse::Industry,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Purpose::PublicGovernance => "公共治理",
            Purpose::PublicWelfare => "公益事业",
            Purpose::IndustryDevelopment => "产业发展",
            Purpose::SectorDevelopment => "行业发展",
        }
    }
}

/// The form of a data product or service (数据产品和服务, D1; Jiangxi
/// measures §3).
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
pub enum ProductKind {
    /// 数据集
    Dataset,
    /// 数据模型
    Model,
    /// 数据报告
    Report,
    /// 解决方案
    Solution,
    /// 数据接口服务
    ApiService,
}

impl ProductKind {
    pub const ALL: [ProductKind; 5] = [
        ProductKind::Dataset,
        ProductKind::Model,
        ProductKind::Report,
        ProductKind::Solution,
        ProductKind::ApiService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductKind::Dataset => "dataset",
            ProductKind::Model => "model",
            ProductKind::Report => "report",
            ProductKind::Solution => "solution",
            ProductKind::ApiService => "api_service",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::invalid("kind", format!("unknown product kind '{s}'")))
    }
}

/// The name of an application scenario (应用场景), e.g. 个人信用画像: 1–100
/// printable characters, trimmed. Scenarios are compared by exact name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScenarioName(String);
string_newtype!(
    ScenarioName,
    "^\\S(.{0,98}\\S)?$",
    "Application scenario (应用场景) name, 1-100 characters"
);

impl std::str::FromStr for ScenarioName {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        let t = text("scenario", s, 1, 100)?;
        if t.contains(['\n', '\t']) {
            return Err(DomainError::invalid(
                "scenario",
                "a scenario name is one line",
            ));
        }
        Ok(Self(t))
    }
}

/// A text field: trimmed, `min..=max` characters, no control characters
/// other than line breaks and tabs. Returns the trimmed text.
pub(crate) fn text(field: &str, s: &str, min: usize, max: usize) -> DomainResult<String> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(DomainError::invalid(
            field,
            if min == 0 {
                format!("at most {max} characters")
            } else {
                format!("{min} to {max} characters")
            },
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(field, "no control characters"));
    }
    Ok(t.to_string())
}

/// A reason for a refusal, rejection or termination: 1–500 characters.
pub fn reason(s: &str) -> DomainResult<String> {
    text("reason", s, 1, 500)
}

/// The error of a step that the state does not allow.
pub(crate) fn illegal(what: &str, action: &str, state: &str) -> DomainError {
    DomainError::new(
        ErrorCode::Conflict,
        format!("cannot {action} {what} in state '{state}'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn months_roll_forward_past_missing_days() {
        assert_eq!(add_months(d("2026-03-15"), 60), d("2031-03-15"));
        assert_eq!(add_months(d("2026-01-31"), 1), d("2026-03-01"));
        assert_eq!(add_months(d("2028-02-29"), 12), d("2029-03-01"));
        assert_eq!(add_months(d("2028-02-29"), 48), d("2032-02-29"));
        assert_eq!(add_months(d("2026-12-31"), 0), d("2026-12-31"));
        assert_eq!(add_months(d("2026-11-30"), 3), d("2027-03-01"));
        assert_eq!(add_months(d("2026-12-15"), 1), d("2027-01-15"));
    }

    #[test]
    fn filing_due_across_national_day() {
        // Approved on Monday 2026-09-28: 29, 30 September; 1–7 October off;
        // 8, 9 and Saturday 10 October worked; then 12–30 October.
        let cal = WorkCalendar::builtin();
        let approved = d("2026-09-28").start_epoch_ms_beijing() + 15 * 3_600_000;
        assert_eq!(
            filing_due_ms(&cal, approved),
            d("2026-10-30").end_epoch_ms_beijing()
        );
        // Without the holiday schedule it would be Monday 26 October.
        assert_eq!(
            filing_due_ms(&WorkCalendar::weekends_only(), approved),
            d("2026-10-26").end_epoch_ms_beijing()
        );
    }

    #[test]
    fn enum_names_round_trip() {
        for m in AuthorizationMode::ALL {
            assert_eq!(AuthorizationMode::parse(m.as_str()), Ok(m));
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
        }
        for u in ProductUse::ALL {
            assert_eq!(ProductUse::parse(u.as_str()), Ok(u));
            assert_eq!(
                serde_json::to_string(&u).unwrap(),
                format!("\"{}\"", u.as_str())
            );
        }
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        for k in ProductKind::ALL {
            assert_eq!(ProductKind::parse(k.as_str()), Ok(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert!(Purpose::PublicWelfare.product_use().is_free());
        assert!(!Purpose::SectorDevelopment.product_use().is_free());
        assert!(AuthorizationMode::parse("partial").is_err());
    }

    #[test]
    fn json_schemas_are_those_of_the_inputs() {
        use schemars::schema_for;
        let plan = serde_json::to_value(schema_for!(PlanContent)).unwrap();
        assert_eq!(plan["title"], "PlanContent");
        assert!(plan["properties"]["term_months"].is_object());
        let scope = serde_json::to_value(schema_for!(Scope)).unwrap();
        assert_eq!(scope["title"], "Scope");
        assert!(scope["properties"]["resources"].is_object());
        for schema in [
            serde_json::to_value(schema_for!(AgreementContent)).unwrap(),
            serde_json::to_value(schema_for!(SelectionSpec)).unwrap(),
            serde_json::to_value(schema_for!(ScenarioPlan)).unwrap(),
            serde_json::to_value(schema_for!(Decision)).unwrap(),
            serde_json::to_value(schema_for!(AgreementView)).unwrap(),
            serde_json::to_value(schema_for!(HandoverChecklist)).unwrap(),
        ] {
            assert!(schema.is_object());
        }
        let fields = serde_json::to_string(&schema_for!(scope::FieldSet)).unwrap();
        assert!(fields.contains("\"all\""), "{fields}");
    }

    #[test]
    fn texts_and_scenario_names() {
        assert_eq!(text("x", "  a  ", 1, 5).as_deref(), Ok("a"));
        assert!(text("x", "   ", 1, 5).is_err());
        assert!(text("x", "abcdef", 1, 5).is_err());
        assert!(text("x", "a\u{7}b", 1, 5).is_err());
        assert!(text("x", "a\nb", 1, 5).is_ok());
        let n: ScenarioName = " 个人信用画像 ".parse().unwrap();
        assert_eq!(n.as_str(), "个人信用画像");
        assert!("".parse::<ScenarioName>().is_err());
        assert!("a\nb".parse::<ScenarioName>().is_err());
        assert!("长".repeat(101).parse::<ScenarioName>().is_err());
        assert!(reason("").is_err());
    }
}
