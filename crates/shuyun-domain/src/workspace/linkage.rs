//! Linkage risk (关联风险, C5): a query that fuses personal information of
//! several departments can re-identify people even when each source alone
//! is harmless — a birth date from one, a district and an occupation from
//! another. The engine reports which resources a query joined, whose they
//! are, which of their fields it used and how its output is keyed; this
//! decides whether to stop it and report it to the implementing
//! institution.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::catalogue::PiTag;

/// One resource a query read, as the engine saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceUse {
    /// Catalogue code.
    pub resource: String,
    /// The providing department.
    pub owner_org_id: i64,
    /// The personal-information tags of the fields the query used from it
    /// (in filters, joins, grouping or output).
    pub pi_used: BTreeSet<PiTag>,
}

/// How the output of a query is keyed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutputShape {
    /// The output has one row per unit (person or enterprise), not
    /// aggregates.
    pub unit_level: bool,
    /// Personal-information tags of the fields the output is grouped by or
    /// shows (quasi-identifiers such as birth date or district of a person
    /// are tagged PI in the catalogue).
    pub keyed_by_pi: BTreeSet<PiTag>,
}

/// Why a query was stopped as a linkage risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinkageRisk {
    /// The departments whose personal information was fused.
    pub departments: BTreeSet<i64>,
    /// The resources concerned.
    pub resources: BTreeSet<String>,
    pub reason: String,
}

fn bears_pi(s: &SourceUse) -> bool {
    s.pi_used.iter().any(|t| *t != PiTag::None)
}

/// Stop a query that joins personal information of two or more
/// departments when its output is per person, or keyed by personal
/// information (quasi-identifiers): both can single people out across
/// sources. Aggregates keyed only by non-personal fields pass (they are
/// then subject to the output checks).
pub fn assess(sources: &[SourceUse], output: &OutputShape) -> Option<LinkageRisk> {
    let pi_sources: Vec<&SourceUse> = sources.iter().filter(|s| bears_pi(s)).collect();
    let departments: BTreeSet<i64> = pi_sources.iter().map(|s| s.owner_org_id).collect();
    if departments.len() < 2 {
        return None;
    }
    let keyed = output.keyed_by_pi.iter().any(|t| *t != PiTag::None);
    if !(output.unit_level || keyed) {
        return None;
    }
    let reason = if output.unit_level {
        "fuses personal information of several departments into per-person output"
    } else {
        "fuses personal information of several departments into output keyed by personal information"
    };
    Some(LinkageRisk {
        departments,
        resources: pi_sources.iter().map(|s| s.resource.clone()).collect(),
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(code: &str, org: i64, pi: &[PiTag]) -> SourceUse {
        SourceUse {
            resource: code.into(),
            owner_org_id: org,
            pi_used: pi.iter().copied().collect(),
        }
    }

    fn out(unit_level: bool, pi: &[PiTag]) -> OutputShape {
        OutputShape {
            unit_level,
            keyed_by_pi: pi.iter().copied().collect(),
        }
    }

    #[test]
    fn fusing_two_departments_personal_data() {
        let health = src("360200-WS-000001", 8, &[PiTag::SensitivePi]);
        let social = src("360200-SH-000001", 3, &[PiTag::Pi]);
        // Per person: stopped.
        let r = assess(&[health.clone(), social.clone()], &out(true, &[])).expect("risk");
        assert_eq!(r.departments, BTreeSet::from([3, 8]));
        assert_eq!(r.resources.len(), 2);
        // Keyed by a quasi-identifier (birth date is PI): stopped.
        assert!(assess(&[health.clone(), social.clone()], &out(false, &[PiTag::Pi])).is_some());
        // Counts by a non-personal field: passes to the output checks.
        assert!(
            assess(
                &[health.clone(), social.clone()],
                &out(false, &[PiTag::None])
            )
            .is_none()
        );
        assert!(assess(&[health.clone(), social], &out(false, &[])).is_none());
        // One department, even two of its resources: not a linkage.
        let other_health = src("360200-WS-000002", 8, &[PiTag::Pi]);
        assert!(assess(&[health.clone(), other_health], &out(true, &[PiTag::Pi])).is_none());
        // Two departments, one without personal information: not a linkage.
        let enterprises = src("360200-XY-000001", 2, &[PiTag::None]);
        assert!(assess(&[health, enterprises], &out(true, &[])).is_none());
    }
}
