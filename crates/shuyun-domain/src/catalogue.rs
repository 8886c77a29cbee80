//! The resource catalogue (公共数据资源目录, "一本账"): grades (分级,
//! GB/T 43697-2024), personal-information tags, field schemas, update
//! frequencies and the unified resource identifier (统一资源标识).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::DivisionCode;

/// Data grade per GB/T 43697-2024: core (核心), important (重要), and general
/// (一般) with sub-levels 4 (highest) to 1. Ordered from least to most
/// protected, so `max` gives the grade a resource must carry.
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
pub enum Grade {
    General1,
    General2,
    General3,
    General4,
    Important,
    Core,
}

impl Grade {
    pub const ALL: [Grade; 6] = [
        Grade::General1,
        Grade::General2,
        Grade::General3,
        Grade::General4,
        Grade::Important,
        Grade::Core,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::General1 => "general1",
            Grade::General2 => "general2",
            Grade::General3 => "general3",
            Grade::General4 => "general4",
            Grade::Important => "important",
            Grade::Core => "core",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| DomainError::invalid("grade", format!("unknown grade '{s}'")))
    }

    /// Important and core grades need the data authority's confirmation.
    pub fn needs_confirmation(self) -> bool {
        self >= Grade::Important
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Grade::General1 => "一般数据（1级）",
            Grade::General2 => "一般数据（2级）",
            Grade::General3 => "一般数据（3级）",
            Grade::General4 => "一般数据（4级）",
            Grade::Important => "重要数据",
            Grade::Core => "核心数据",
        }
    }
}

/// Personal-information tag of a field (个人信息标识).
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
pub enum PiTag {
    /// Not personal information.
    None,
    /// Personal information (个人信息).
    Pi,
    /// Sensitive personal information (敏感个人信息), e.g. ID numbers, health.
    SensitivePi,
}

impl PiTag {
    pub fn as_str(self) -> &'static str {
        match self {
            PiTag::None => "none",
            PiTag::Pi => "pi",
            PiTag::SensitivePi => "sensitive_pi",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        [PiTag::None, PiTag::Pi, PiTag::SensitivePi]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid("pi", format!("unknown personal-information tag '{s}'"))
            })
    }
}

/// The value type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// UTF-8 text.
    String,
    /// 64-bit integer.
    Int64,
    /// 64-bit floating point (measurements; never money).
    Float64,
    /// Money or exact quantities in integer fen (分).
    Fen,
    Bool,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// Date and time, `YYYY-MM-DD HH:MM:SS` (Beijing time) or RFC 3339.
    Timestamp,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int64 => "int64",
            FieldType::Float64 => "float64",
            FieldType::Fen => "fen",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
        }
    }
}

/// Why a field or resource carries its grade (GB/T 43697 影响对象、影响程度).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeBasis {
    /// Impact object: national security, public interest, or the rights of
    /// individuals or organisations (影响对象).
    pub impact_object: ImpactObject,
    /// Degree of impact if leaked or tampered with (影响程度).
    pub impact_degree: ImpactDegree,
    /// Free-text reasoning.
    #[schemars(length(max = 500))]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImpactObject {
    NationalSecurity,
    EconomicOperation,
    SocialOrder,
    PublicInterest,
    OrganisationRights,
    PersonalRights,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImpactDegree {
    Severe,
    Serious,
    Moderate,
    Minor,
}

/// A field name: 1-64 characters of a-z, 0-9 and '_', starting with a letter
/// (so SQL can name it without quoting).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldName(String);
string_newtype!(
    FieldName,
    "^[a-z][a-z0-9_]{0,63}$",
    "Field name: a-z, 0-9 and '_', starting with a letter"
);

impl FromStr for FieldName {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let ok = (1..=64).contains(&s.len())
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(DomainError::invalid(
                "name",
                format!(
                    "'{s}': a field name has 1-64 characters of a-z, 0-9 and '_' and starts with a letter"
                ),
            ))
        }
    }
}

/// One field of a resource's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: FieldName,
    /// Chinese label, e.g. 统一社会信用代码.
    #[schemars(length(min = 1, max = 100))]
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Unit of measure, e.g. 万元, μg/m³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Whether empty values are allowed.
    #[serde(default)]
    pub nullable: bool,
    /// Part of the resource's unique key.
    #[serde(default)]
    pub key: bool,
    pub grade: Grade,
    pub pi: PiTag,
}

/// A resource schema: 1 to 500 uniquely named fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "Vec<FieldSpec>", into = "Vec<FieldSpec>")]
#[schemars(with = "Vec<FieldSpec>")]
pub struct Schema(Vec<FieldSpec>);

impl Schema {
    pub fn new(fields: Vec<FieldSpec>) -> Result<Self, DomainError> {
        if fields.is_empty() || fields.len() > 500 {
            return Err(DomainError::invalid(
                "schema",
                "a schema has 1 to 500 fields",
            ));
        }
        let mut names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(DomainError::invalid(
                "schema",
                format!("field '{}' appears twice", w[0]),
            ));
        }
        for f in &fields {
            if f.label.trim().is_empty() || f.label.chars().count() > 100 {
                return Err(DomainError::invalid(
                    "schema",
                    format!("field '{}': a label has 1-100 characters", f.name),
                ));
            }
            if f.key && f.nullable {
                return Err(DomainError::invalid(
                    "schema",
                    format!("field '{}': a key field cannot be empty", f.name),
                ));
            }
            if f.pi == PiTag::SensitivePi && f.grade < Grade::General4 {
                return Err(DomainError::invalid(
                    "schema",
                    format!(
                        "field '{}': sensitive personal information is graded general4 or higher",
                        f.name
                    ),
                ));
            }
        }
        Ok(Self(fields))
    }

    pub fn fields(&self) -> &[FieldSpec] {
        &self.0
    }

    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.0.iter().find(|f| f.name.as_str() == name)
    }

    /// The lowest grade the resource may carry: its highest field's.
    pub fn min_resource_grade(&self) -> Grade {
        self.0
            .iter()
            .map(|f| f.grade)
            .max()
            .unwrap_or(Grade::General1)
    }

    /// Whether any field holds personal information.
    pub fn has_pi(&self) -> bool {
        self.0.iter().any(|f| f.pi != PiTag::None)
    }

    pub fn key_fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.0.iter().filter(|f| f.key)
    }

    /// The field that identifies the person or enterprise a row is about
    /// (the unit of the output checks): the single key field, when the
    /// resource holds personal information or the key is a personal or
    /// enterprise identifier. `None` otherwise. A schema with a unit has
    /// personal information (the key's tag counts), so it is never open
    /// data: the hidden column of stored unit digests that ingest writes
    /// for it never reaches an open-data download, which serves the stored
    /// file as it is.
    pub fn unit_field(&self) -> Option<&FieldSpec> {
        let mut keys = self.key_fields();
        match (keys.next(), keys.next()) {
            (Some(k), None) if self.has_pi() || k.pi != PiTag::None => Some(k),
            _ => None,
        }
    }

    /// Fields present in `self` but missing from `next` (a schema change
    /// that drops a field in use must be refused while data depends on it).
    pub fn dropped_in<'a>(&'a self, next: &Schema) -> Vec<&'a FieldName> {
        self.0
            .iter()
            .filter(|f| {
                next.field(f.name.as_str())
                    .is_none_or(|n| n.field_type != f.field_type)
            })
            .map(|f| &f.name)
            .collect()
    }
}

impl TryFrom<Vec<FieldSpec>> for Schema {
    type Error = DomainError;
    fn try_from(v: Vec<FieldSpec>) -> Result<Self, DomainError> {
        Schema::new(v)
    }
}

impl From<Schema> for Vec<FieldSpec> {
    fn from(s: Schema) -> Self {
        s.0
    }
}

/// How often a resource is updated (更新频率); timeliness is judged against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateFrequency {
    Realtime,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
    Irregular,
}

impl UpdateFrequency {
    /// The longest a version may age before the resource is stale, in days.
    pub fn max_age_days(self) -> Option<i64> {
        match self {
            UpdateFrequency::Realtime | UpdateFrequency::Daily => Some(2),
            UpdateFrequency::Weekly => Some(8),
            UpdateFrequency::Monthly => Some(35),
            UpdateFrequency::Quarterly => Some(100),
            UpdateFrequency::Yearly => Some(380),
            UpdateFrequency::Irregular => None,
        }
    }
}

/// The domain a resource belongs to, with its two-letter code in the
/// unified identifier.
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
pub enum DataDomain {
    /// 信用
    Credit,
    /// 城乡建设
    Construction,
    /// 统计
    Statistics,
    /// 交通运输
    Transport,
    /// 文化旅游
    CultureTourism,
    /// 医疗健康
    Health,
    /// 城市管理
    UrbanManagement,
    /// 政务服务
    GovernmentService,
    /// 生态环境
    Environment,
    /// 产业经济
    Industry,
}

impl DataDomain {
    pub const ALL: [DataDomain; 10] = [
        DataDomain::Credit,
        DataDomain::Construction,
        DataDomain::Statistics,
        DataDomain::Transport,
        DataDomain::CultureTourism,
        DataDomain::Health,
        DataDomain::UrbanManagement,
        DataDomain::GovernmentService,
        DataDomain::Environment,
        DataDomain::Industry,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DataDomain::Credit => "XY",
            DataDomain::Construction => "JS",
            DataDomain::Statistics => "TJ",
            DataDomain::Transport => "JT",
            DataDomain::CultureTourism => "WL",
            DataDomain::Health => "WS",
            DataDomain::UrbanManagement => "CG",
            DataDomain::GovernmentService => "ZW",
            DataDomain::Environment => "HJ",
            DataDomain::Industry => "GY",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DataDomain::Credit => "credit",
            DataDomain::Construction => "construction",
            DataDomain::Statistics => "statistics",
            DataDomain::Transport => "transport",
            DataDomain::CultureTourism => "culture_tourism",
            DataDomain::Health => "health",
            DataDomain::UrbanManagement => "urban_management",
            DataDomain::GovernmentService => "government_service",
            DataDomain::Environment => "environment",
            DataDomain::Industry => "industry",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| DomainError::invalid("domain", format!("unknown domain '{s}'")))
    }
}

/// Unified resource identifier (统一资源标识): `{division}-{domain}-{seq:06}`,
/// e.g. `360200-XY-000001`. The division code keeps identifiers unique when
/// city platforms join a provincial one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceCode(String);
string_newtype!(
    ResourceCode,
    "^[1-8][0-9]{5}-[A-Z]{2}-[0-9]{6}$",
    "Unified resource identifier (统一资源标识), e.g. 360200-XY-000001"
);

impl ResourceCode {
    pub fn new(division: &DivisionCode, domain: DataDomain, seq: u32) -> Result<Self, DomainError> {
        if seq == 0 || seq > 999_999 {
            return Err(DomainError::invalid(
                "code",
                "a resource sequence number is 1 to 999999",
            ));
        }
        Ok(Self(format!(
            "{}-{}-{seq:06}",
            division.as_str(),
            domain.code()
        )))
    }
}

impl ResourceCode {
    /// The domain named by the identifier's two-letter code.
    pub fn domain(&self) -> DataDomain {
        let code = self.0.get(7..9).unwrap_or_default();
        DataDomain::ALL
            .into_iter()
            .find(|d| d.code() == code)
            // Parsing guarantees a known domain code; never reached.
            .unwrap_or(DataDomain::Industry)
    }
}

impl FromStr for ResourceCode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() == 3
            && parts[0].parse::<DivisionCode>().is_ok()
            && DataDomain::ALL.iter().any(|d| d.code() == parts[1])
            && parts[2].len() == 6
            && parts[2].bytes().all(|b| b.is_ascii_digit())
            && parts[2] != "000000";
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(DomainError::invalid(
                "code",
                format!("'{s}' is not a resource identifier like 360200-XY-000001"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, grade: Grade, pi: PiTag) -> FieldSpec {
        FieldSpec {
            name: name.parse().unwrap(),
            label: "字段".into(),
            field_type: FieldType::String,
            unit: None,
            nullable: false,
            key: false,
            grade,
            pi,
        }
    }

    #[test]
    fn grades_order_and_resource_grade() {
        assert!(Grade::Core > Grade::Important);
        assert!(Grade::Important > Grade::General4);
        assert!(Grade::General4 > Grade::General1);
        let s = Schema::new(vec![
            field("a", Grade::General2, PiTag::None),
            field("b", Grade::Important, PiTag::Pi),
        ])
        .unwrap();
        assert_eq!(s.min_resource_grade(), Grade::Important);
        assert!(s.has_pi());
        for g in Grade::ALL {
            assert_eq!(Grade::parse(g.as_str()), Ok(g));
        }
    }

    #[test]
    fn schemas_refuse_bad_shapes() {
        assert!(Schema::new(vec![]).is_err());
        assert!(
            Schema::new(vec![
                field("a", Grade::General1, PiTag::None),
                field("a", Grade::General1, PiTag::None)
            ])
            .is_err()
        );
        assert!(Schema::new(vec![field("id_no", Grade::General1, PiTag::SensitivePi)]).is_err());
        let mut k = field("k", Grade::General1, PiTag::None);
        k.key = true;
        k.nullable = true;
        assert!(Schema::new(vec![k]).is_err());
        assert!("Bad".parse::<FieldName>().is_err());
        assert!("1a".parse::<FieldName>().is_err());
        assert!("credit_code".parse::<FieldName>().is_ok());
        let json =
            r#"[{"name":"x","label":"X","type":"int64","grade":"general1","pi":"none","extra":1}]"#;
        assert!(serde_json::from_str::<Schema>(json).is_err());
    }

    #[test]
    fn dropped_fields() {
        let a = Schema::new(vec![
            field("a", Grade::General1, PiTag::None),
            field("b", Grade::General1, PiTag::None),
        ])
        .unwrap();
        let b = Schema::new(vec![field("a", Grade::General1, PiTag::None)]).unwrap();
        assert_eq!(a.dropped_in(&b).len(), 1);
        assert!(b.dropped_in(&a).is_empty());
    }

    #[test]
    fn resource_codes() {
        let d: DivisionCode = "360200".parse().unwrap();
        let c = ResourceCode::new(&d, DataDomain::Credit, 1).unwrap();
        assert_eq!(c.as_str(), "360200-XY-000001");
        assert_eq!(c.as_str().parse::<ResourceCode>().unwrap(), c);
        assert!("360200-QQ-000001".parse::<ResourceCode>().is_err());
        assert!("360200-XY-000000".parse::<ResourceCode>().is_err());
        assert!(ResourceCode::new(&d, DataDomain::Credit, 0).is_err());
        for domain in DataDomain::ALL {
            let c = ResourceCode::new(&d, domain, 7).unwrap();
            assert_eq!(c.domain(), domain);
        }
    }
}
