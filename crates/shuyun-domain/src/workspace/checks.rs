//! Output checks (输出审查, C3) of one result cell — a row of an
//! aggregate derived from person- or enterprise-level data — under the
//! agreement's [`OutputPolicy`]: at least `k` distinct units, no dominance
//! by the largest contributors, the p% rule; counts rounded; and totals
//! recomputed without the cells that were suppressed, so subtracting the
//! published cells from a total reveals nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

/// The statistics of one output cell, computed by the engine over the
/// units (persons or enterprises) behind it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellStats {
    /// Distinct units contributing to the cell.
    pub units: u64,
    /// For a cell that is a sum (or mean) of a magnitude: the total of the
    /// absolute contributions, and the two largest contributions of single
    /// units (absolute, largest first). `None` for counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magnitude: Option<Magnitude>,
}

/// The contributions behind a magnitude cell.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Magnitude {
    /// Sum of the absolute contributions of all units.
    pub total: f64,
    /// Largest absolute contribution of one unit.
    pub top1: f64,
    /// Second largest absolute contribution of one unit (0 if one unit).
    pub top2: f64,
}

/// Why a cell was withheld. Shown to the operator, with the numbers that
/// explain it but never the cell's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Suppression {
    /// Fewer distinct units than the minimum (最小单元数).
    TooFewUnits { units: u64, min: u32 },
    /// The largest `top` contributors make up more than `max_pct` percent of
    /// the total (支配性规则).
    Dominance { top: u8, max_pct: u8 },
    /// The second largest contributor could estimate the largest within
    /// `p_pct` percent (p% 规则).
    PRule { p_pct: u8 },
    /// Differs from an earlier result of the scenario by too small a group
    /// (差分攻击).
    Differencing { units: u64, min: u32 },
}

impl Suppression {
    pub fn code(&self) -> &'static str {
        match self {
            Suppression::TooFewUnits { .. } => "too_few_units",
            Suppression::Dominance { .. } => "dominance",
            Suppression::PRule { .. } => "p_rule",
            Suppression::Differencing { .. } => "differencing",
        }
    }
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Suppression::TooFewUnits { units, min } => {
                write!(f, "{units} distinct units, fewer than the minimum of {min}")
            }
            Suppression::Dominance { top, max_pct } => write!(
                f,
                "the largest {top} contributors make up more than {max_pct}% of the total"
            ),
            Suppression::PRule { p_pct } => write!(
                f,
                "the second largest contributor could estimate the largest within {p_pct}%"
            ),
            Suppression::Differencing { units, min } => write!(
                f,
                "differs from an earlier result by {units} units, fewer than {min}"
            ),
        }
    }
}

/// An agreement's output-checking policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputPolicy {
    /// Minimum distinct units per cell (k), 2 to 1000; default 10.
    #[serde(default = "default_k")]
    pub min_units: u32,
    /// Dominance: the largest `dominance_top` contributors (1 or 2)…
    #[serde(default = "default_top")]
    pub dominance_top: u8,
    /// …may make up at most this percent of the total (50 to 99; default
    /// 90).
    #[serde(default = "default_dominance")]
    pub dominance_pct: u8,
    /// p% rule: the rest of the cell after the two largest contributors
    /// must be at least this percent of the largest (0 disables; at most
    /// 50; default 10).
    #[serde(default = "default_p")]
    pub p_pct: u8,
    /// Counts are rounded to a multiple of this (1: exact; at most 100;
    /// default 1).
    #[serde(default = "default_rounding")]
    pub round_counts_to: u32,
}

fn default_k() -> u32 {
    10
}
fn default_top() -> u8 {
    2
}
fn default_dominance() -> u8 {
    90
}
fn default_p() -> u8 {
    10
}
fn default_rounding() -> u32 {
    1
}

impl Default for OutputPolicy {
    fn default() -> Self {
        Self {
            min_units: default_k(),
            dominance_top: default_top(),
            dominance_pct: default_dominance(),
            p_pct: default_p(),
            round_counts_to: default_rounding(),
        }
    }
}

impl OutputPolicy {
    /// Checks the bounds of every setting.
    pub fn check(self) -> DomainResult<Self> {
        let bad = |field: &str, msg: &str| Err(DomainError::invalid(field, msg.to_string()));
        if !(2..=1000).contains(&self.min_units) {
            return bad("min_units", "the minimum number of units is 2 to 1000");
        }
        if !(1..=2).contains(&self.dominance_top) {
            return bad(
                "dominance_top",
                "dominance counts the largest 1 or 2 contributors",
            );
        }
        if !(50..=99).contains(&self.dominance_pct) {
            return bad("dominance_pct", "the dominance limit is 50 to 99 percent");
        }
        if self.p_pct > 50 {
            return bad("p_pct", "the p% rule takes 0 (off) to 50 percent");
        }
        if !(1..=100).contains(&self.round_counts_to) {
            return bad(
                "round_counts_to",
                "counts are rounded to a multiple of 1 to 100",
            );
        }
        Ok(self)
    }

    /// Whether a cell may be shown; the first rule it breaks otherwise.
    pub fn check_cell(&self, cell: &CellStats) -> Result<(), Suppression> {
        if cell.units < u64::from(self.min_units) {
            return Err(Suppression::TooFewUnits {
                units: cell.units,
                min: self.min_units,
            });
        }
        let Some(m) = cell.magnitude else {
            return Ok(());
        };
        if m.total <= 0.0 {
            return Ok(());
        }
        let top = if self.dominance_top == 1 {
            m.top1
        } else {
            m.top1 + m.top2
        };
        if top * 100.0 > m.total * f64::from(self.dominance_pct) {
            return Err(Suppression::Dominance {
                top: self.dominance_top,
                max_pct: self.dominance_pct,
            });
        }
        if self.p_pct > 0 {
            let rest = m.total - m.top1 - m.top2;
            if rest * 100.0 < m.top1 * f64::from(self.p_pct) {
                return Err(Suppression::PRule { p_pct: self.p_pct });
            }
        }
        Ok(())
    }

    /// A count as published: rounded to the nearest multiple of
    /// `round_counts_to` (halves up).
    pub fn round_count(&self, n: u64) -> u64 {
        let b = u64::from(self.round_counts_to.max(1));
        (n + b / 2) / b * b
    }
}

/// The total to publish over cells of which some were suppressed: the sum
/// of the published cells only, so that no suppressed cell can be
/// recovered by subtraction. `None` when every cell was suppressed.
pub fn published_total<T: Copy + std::iter::Sum<T>>(cells: &[(T, bool)]) -> Option<T> {
    let shown: Vec<T> = cells
        .iter()
        .filter(|(_, suppressed)| !suppressed)
        .map(|(v, _)| *v)
        .collect();
    (!shown.is_empty()).then(|| shown.into_iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(units: u64) -> CellStats {
        CellStats {
            units,
            magnitude: None,
        }
    }

    fn sum(units: u64, total: f64, top1: f64, top2: f64) -> CellStats {
        CellStats {
            units,
            magnitude: Some(Magnitude { total, top1, top2 }),
        }
    }

    #[test]
    fn minimum_units() {
        let p = OutputPolicy::default();
        assert_eq!(
            p.check_cell(&count(9)),
            Err(Suppression::TooFewUnits { units: 9, min: 10 })
        );
        assert_eq!(p.check_cell(&count(10)), Ok(()));
        assert_eq!(
            p.check_cell(&count(0)).map_err(|s| s.code()),
            Err("too_few_units")
        );
    }

    #[test]
    fn dominance_and_p_rule() {
        let p = OutputPolicy::default();
        // Two firms hold 95% of the turnover of twelve.
        assert_eq!(
            p.check_cell(&sum(12, 1000.0, 900.0, 50.0)),
            Err(Suppression::Dominance {
                top: 2,
                max_pct: 90
            })
        );
        // Exactly 90%: allowed by dominance; the rest (100) is 14% of the
        // largest (700): allowed by p = 10%.
        assert_eq!(p.check_cell(&sum(12, 1000.0, 700.0, 200.0)), Ok(()));
        assert_eq!(p.check_cell(&sum(12, 1000.0, 600.0, 300.0)), Ok(()));
        // Under the default (2, 90%) dominance the 10% p rule is implied;
        // with a looser dominance limit it catches a runner-up who could
        // estimate the largest contributor: the rest (60) is under 10% of
        // the largest (900).
        let loose = OutputPolicy {
            dominance_pct: 95,
            ..OutputPolicy::default()
        };
        assert_eq!(
            loose.check_cell(&sum(12, 1000.0, 900.0, 40.0)),
            Err(Suppression::PRule { p_pct: 10 })
        );
        let off = OutputPolicy { p_pct: 0, ..loose };
        assert_eq!(off.check_cell(&sum(12, 1000.0, 900.0, 40.0)), Ok(()));
        let one = OutputPolicy {
            dominance_top: 1,
            dominance_pct: 60,
            p_pct: 0,
            ..OutputPolicy::default()
        };
        assert_eq!(
            one.check_cell(&sum(12, 1000.0, 610.0, 10.0)),
            Err(Suppression::Dominance {
                top: 1,
                max_pct: 60
            })
        );
        // Nothing to dominate in an empty sum.
        assert_eq!(p.check_cell(&sum(12, 0.0, 0.0, 0.0)), Ok(()));
    }

    #[test]
    fn rounding_and_totals() {
        let p = OutputPolicy {
            round_counts_to: 5,
            ..OutputPolicy::default()
        };
        assert_eq!(
            [0, 2, 3, 7, 8, 12, 13].map(|n| p.round_count(n)),
            [0, 0, 5, 5, 10, 10, 15]
        );
        assert_eq!(OutputPolicy::default().round_count(13), 13);
        assert_eq!(
            published_total(&[(10, false), (3, true), (20, false)]),
            Some(30)
        );
        assert_eq!(published_total(&[(3, true)]), None::<i64>);
    }

    #[test]
    fn policy_bounds() {
        assert!(OutputPolicy::default().check().is_ok());
        for bad in [
            OutputPolicy {
                min_units: 1,
                ..OutputPolicy::default()
            },
            OutputPolicy {
                min_units: 1001,
                ..OutputPolicy::default()
            },
            OutputPolicy {
                dominance_top: 3,
                ..OutputPolicy::default()
            },
            OutputPolicy {
                dominance_pct: 100,
                ..OutputPolicy::default()
            },
            OutputPolicy {
                dominance_pct: 49,
                ..OutputPolicy::default()
            },
            OutputPolicy {
                p_pct: 51,
                ..OutputPolicy::default()
            },
            OutputPolicy {
                round_counts_to: 0,
                ..OutputPolicy::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let parsed: OutputPolicy = serde_json::from_str(r#"{"min_units": 20}"#).expect("json");
        assert_eq!(parsed.min_units, 20);
        assert_eq!(parsed.dominance_pct, 90);
        assert!(serde_json::from_str::<OutputPolicy>(r#"{"k": 20}"#).is_err());
    }

    #[test]
    fn explanations_name_the_rule_not_the_value() {
        let s = Suppression::TooFewUnits { units: 3, min: 10 };
        assert_eq!(
            s.to_string(),
            "3 distinct units, fewer than the minimum of 10"
        );
        let json = serde_json::to_value(s).expect("json");
        assert_eq!(json["rule"], "too_few_units");
    }
}
