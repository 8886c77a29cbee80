//! Differencing protection (差分攻击防护, C3): two results of a scenario
//! whose populations differ by a small group reveal that group by
//! subtraction (a count of all firms in a district, then of all but one).
//! Each released cell keeps the set of its units as keyed 64-bit digests
//! ([`UnitSet`]); a new cell is checked against the cells before it.

use serde::{Deserialize, Serialize};

/// The units behind a cell, as sorted, distinct 64-bit digests (keyed per
/// agreement by the engine, so they identify nobody outside it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitSet(Vec<u64>);

impl UnitSet {
    pub fn new(mut digests: Vec<u64>) -> Self {
        digests.sort_unstable();
        digests.dedup();
        Self(digests)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn digests(&self) -> &[u64] {
        &self.0
    }

    /// The sizes of `self \ other` and `other \ self`, each counted only up
    /// to `cap` (the walk stops once both exceed it).
    pub fn differences(&self, other: &UnitSet, cap: u64) -> (u64, u64) {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j, mut only_a, mut only_b) = (0, 0, 0u64, 0u64);
        while i < a.len() && j < b.len() {
            if only_a > cap && only_b > cap {
                return (only_a, only_b);
            }
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => {
                    only_a += 1;
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    only_b += 1;
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
            }
        }
        only_a += (a.len() - i) as u64;
        only_b += (b.len() - j) as u64;
        (only_a, only_b)
    }

    /// Whether publishing `self` after `earlier` reveals a group of fewer
    /// than `min` units: the populations differ, and on each side by fewer
    /// than `min` (one side may be empty, as with a subset). Returns the
    /// size of the revealed difference.
    pub fn differs_by_small_group(&self, earlier: &UnitSet, min: u32) -> Option<u64> {
        let min = u64::from(min);
        let (a, b) = self.differences(earlier, min);
        (a + b > 0 && a < min && b < min).then_some(a + b)
    }
}

/// The first earlier cell that `cell` differs from by a small group, with
/// the size of that group.
pub fn check_history<'a>(
    cell: &UnitSet,
    earlier: impl IntoIterator<Item = &'a UnitSet>,
    min: u32,
) -> Option<u64> {
    earlier
        .into_iter()
        .find_map(|e| cell.differs_by_small_group(e, min))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(range: std::ops::Range<u64>) -> UnitSet {
        UnitSet::new(
            range
                .map(|n| n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect(),
        )
    }

    #[test]
    fn all_but_one_is_caught() {
        let all = set(0..500);
        let all_but_one = set(1..500);
        assert_eq!(all_but_one.differs_by_small_group(&all, 10), Some(1));
        assert_eq!(all.differs_by_small_group(&all_but_one, 10), Some(1));
        // The same population again reveals nothing new.
        assert_eq!(all.differs_by_small_group(&all.clone(), 10), None);
        // Two large, different groups are fine.
        assert_eq!(set(0..500).differs_by_small_group(&set(100..600), 10), None);
        // A small group swapped on both sides is caught (sum(A) − sum(B)
        // mixes two small groups).
        assert_eq!(
            set(3..503).differs_by_small_group(&set(0..500), 10),
            Some(6)
        );
        // Nine in, 200 out: the 200 unknowns hide the nine.
        assert_eq!(set(0..509).differs_by_small_group(&set(200..500), 10), None);
    }

    #[test]
    fn history_and_bounds() {
        let history = [set(0..100), set(0..1000)];
        assert_eq!(check_history(&set(0..995), &history, 10), Some(5));
        assert_eq!(check_history(&set(0..50), &history, 10), None);
        let (a, b) = set(0..100_000).differences(&set(50_000..150_000), 10);
        assert!(
            a > 10 && b > 10,
            "the walk may stop early but never undercounts past the cap"
        );
        assert_eq!(UnitSet::new(vec![3, 1, 3, 2]).digests(), &[1, 2, 3]);
        assert!(UnitSet::default().is_empty());
    }
}
