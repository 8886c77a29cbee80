//! Differential privacy (差分隐私, C3): a scenario may publish noisy
//! aggregates instead of exact ones. Each unit's contribution is bounded
//! (clamped), noise is calibrated to that bound and to the ε spent, and an
//! agreement's budget of ε is spent query by query until it is gone; then
//! queries stop. Randomness is a parameter (uniform samples in (0, 1) from
//! the caller's CSPRNG), so the arithmetic is testable.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult, ErrorCode};

/// Privacy loss in millionths of ε (integers, so budgets add up exactly).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct Epsilon(pub u64);

impl Epsilon {
    pub const MICROS: u64 = 1_000_000;

    /// ε from a decimal, e.g. `0.5`; 0.0001 to 100.
    pub fn from_f64(eps: f64) -> DomainResult<Self> {
        if !(eps.is_finite() && (0.0001..=100.0).contains(&eps)) {
            return Err(DomainError::invalid("epsilon", "ε is 0.0001 to 100"));
        }
        Ok(Self((eps * Self::MICROS as f64).round() as u64))
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::MICROS as f64
    }
}

/// An agreement's privacy budget: how much ε it may spend, how much it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Budget {
    pub total: Epsilon,
    pub spent: Epsilon,
}

impl Budget {
    pub fn remaining(&self) -> Epsilon {
        Epsilon(self.total.0.saturating_sub(self.spent.0))
    }

    /// Spend `eps`, or refuse (the budget is left as it was) when it would
    /// exceed the total.
    pub fn spend(self, eps: Epsilon) -> DomainResult<Budget> {
        let spent = self.spent.0.saturating_add(eps.0);
        if spent > self.total.0 {
            return Err(DomainError::new(
                ErrorCode::Conflict,
                format!(
                    "the privacy budget is spent: {:.4} of ε {:.4} remains, the query needs {:.4}",
                    self.remaining().as_f64(),
                    self.total.as_f64(),
                    eps.as_f64()
                ),
            ));
        }
        Ok(Budget {
            total: self.total,
            spent: Epsilon(spent),
        })
    }
}

/// The noise of a scenario's releases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "mechanism", rename_all = "snake_case")]
pub enum Mechanism {
    /// ε-DP: Laplace noise of scale sensitivity / ε.
    Laplace,
    /// (ε, δ)-DP with the classic calibration σ = Δ·√(2 ln(1.25/δ)) / ε
    /// (valid for ε ≤ 1); δ in millionths.
    Gaussian { delta_micros: u32 },
}

impl Mechanism {
    /// The noise to add to a statistic of the given L1 (Laplace) or L2
    /// (Gaussian) sensitivity, from two uniform samples in (0, 1).
    pub fn noise(self, sensitivity: f64, eps: Epsilon, u1: f64, u2: f64) -> DomainResult<f64> {
        let e = eps.as_f64();
        if !(sensitivity.is_finite() && sensitivity >= 0.0) || e <= 0.0 {
            return Err(DomainError::invalid(
                "sensitivity",
                "sensitivity and ε must be positive",
            ));
        }
        let u1 = u1.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
        let u2 = u2.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
        Ok(match self {
            Mechanism::Laplace => {
                let b = sensitivity / e;
                let centred = u1 - 0.5;
                -b * centred.signum() * (1.0 - 2.0 * centred.abs()).max(f64::MIN_POSITIVE).ln()
            }
            Mechanism::Gaussian { delta_micros } => {
                if e > 1.0 {
                    return Err(DomainError::invalid(
                        "epsilon",
                        "the Gaussian mechanism's calibration holds for ε ≤ 1",
                    ));
                }
                let delta = f64::from(delta_micros) / 1e6;
                if !(delta > 0.0 && delta < 0.01) {
                    return Err(DomainError::invalid("delta", "δ is above 0 and below 0.01"));
                }
                let sigma = sensitivity * (2.0 * (1.25 / delta).ln()).sqrt() / e;
                // Box–Muller.
                sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            }
        })
    }
}

/// The sensitivity of a sum when each unit contributes at most
/// `rows_per_unit` rows, each clamped to `[lo, hi]`.
pub fn sum_sensitivity(lo: f64, hi: f64, rows_per_unit: u32) -> f64 {
    lo.abs().max(hi.abs()) * f64::from(rows_per_unit)
}

/// A value clamped into the contribution bounds.
pub fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() { lo } else { v.clamp(lo, hi) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(e: f64) -> Epsilon {
        Epsilon::from_f64(e).expect("eps")
    }

    #[test]
    fn budget_is_spent_then_refused() {
        let b = Budget {
            total: eps(1.0),
            spent: Epsilon(0),
        };
        let b = b.spend(eps(0.4)).expect("first");
        let b = b.spend(eps(0.6)).expect("second, exactly to the total");
        assert_eq!(b.remaining(), Epsilon(0));
        let e = b.spend(eps(0.0001)).expect_err("spent");
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.contains("budget"), "{}", e.message);
        assert!(Epsilon::from_f64(0.0).is_err());
        assert!(Epsilon::from_f64(f64::NAN).is_err());
        assert_eq!(eps(0.25), Epsilon(250_000));
    }

    #[test]
    fn laplace_quantiles() {
        // The Laplace(b) quantile at u is −b·sgn(u−½)·ln(1−2|u−½|).
        let n = Mechanism::Laplace
            .noise(1.0, eps(0.5), 0.5, 0.5)
            .expect("n");
        assert_eq!(n, 0.0);
        let q = Mechanism::Laplace
            .noise(1.0, eps(0.5), 0.75, 0.5)
            .expect("q");
        assert!((q - 2.0 * 2f64.ln()).abs() < 1e-12, "{q}");
        let lo = Mechanism::Laplace
            .noise(1.0, eps(0.5), 0.25, 0.5)
            .expect("lo");
        assert!((lo + q).abs() < 1e-12, "symmetric");
        // More ε, less noise.
        let tight = Mechanism::Laplace
            .noise(1.0, eps(2.0), 0.75, 0.5)
            .expect("t");
        assert!(tight.abs() < q.abs());
        // Extreme samples stay finite.
        assert!(
            Mechanism::Laplace
                .noise(1.0, eps(1.0), 0.0, 0.5)
                .expect("0")
                .is_finite()
        );
        assert!(
            Mechanism::Laplace
                .noise(1.0, eps(1.0), 1.0, 0.5)
                .expect("1")
                .is_finite()
        );
    }

    #[test]
    fn gaussian_calibration() {
        let g = Mechanism::Gaussian { delta_micros: 1 };
        // u1 = e^{-1/2}, u2 = 0: the sample is exactly σ.
        let sigma = (2.0 * (1.25e6f64).ln()).sqrt() / 0.5;
        let n = g.noise(1.0, eps(0.5), (-0.5f64).exp(), 0.0).expect("n");
        assert!((n - sigma).abs() < 1e-6 * sigma, "{n} vs {sigma}");
        assert!(g.noise(1.0, eps(2.0), 0.3, 0.3).is_err(), "ε > 1");
        assert!(
            Mechanism::Gaussian { delta_micros: 0 }
                .noise(1.0, eps(0.5), 0.3, 0.3)
                .is_err()
        );
    }

    #[test]
    fn contribution_bounds() {
        assert_eq!(sum_sensitivity(-5.0, 100.0, 3), 300.0);
        assert_eq!(clamp(1e12, 0.0, 100.0), 100.0);
        assert_eq!(clamp(f64::NAN, 0.0, 100.0), 0.0);
    }
}
