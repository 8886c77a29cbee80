//! Differencing protection (差分攻击防护, C3): two results of a scenario
//! whose populations differ by a small group reveal that group by
//! subtraction (a count of all firms in a district, then of all but one).
//!
//! Each released cell keeps a [`UnitSketch`] of its units: an invertible
//! Bloom lookup table of the keyed 64-bit unit digests, of constant size
//! whatever the cell's population (a few kilobytes for k = 10, where a
//! set of 3.5 million digests would take 28 MB). Sketches add and
//! subtract; the difference of two cells' sketches can be decoded
//! ("peeled") exactly when the populations differ by a few units, which is
//! precisely the case the rule must catch, and fails to decode when they
//! differ by many. A new cell is checked against the cells before it.
//!
//! [`UnitSet`] (the sorted digests themselves) remains for what needs the
//! units one by one (under noise, each unit in one cell only).

use serde::{Deserialize, Serialize};

use super::unit_digest::mix;

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

    fn sketch(units: impl IntoIterator<Item = u64>) -> UnitSketch {
        let mut s = UnitSketch::for_min_units(10);
        for u in units {
            s.add(mix(u));
        }
        s
    }

    #[test]
    fn sketches_catch_a_small_difference_and_pass_a_large_one() {
        let all = sketch(0..500);
        let but_one = sketch(1..500);
        assert_eq!(but_one.differs_by_small_group(&all, 10), Some(1));
        assert_eq!(all.differs_by_small_group(&but_one, 10), Some(1));
        assert_eq!(all.difference(&but_one), Some((1, 0)));
        assert_eq!(all.differs_by_small_group(&all.clone(), 10), None);
        assert_eq!(
            sketch(0..500).differs_by_small_group(&sketch(100..600), 10),
            None
        );
        assert_eq!(
            sketch(3..503).differs_by_small_group(&sketch(0..500), 10),
            Some(6)
        );
        // Nine in, 200 out: the 200 unknowns hide the nine.
        assert_eq!(
            sketch(0..509).differs_by_small_group(&sketch(200..500), 10),
            None
        );
        // Three and a half million units take the same 165 buckets.
        let big = sketch(0..3_500_000);
        assert_eq!(big.buckets().len(), 165);
        assert_eq!(big.rows(), 3_500_000);
        assert_eq!(
            sketch(0..3_499_996).differs_by_small_group(&big, 10),
            Some(4)
        );
    }

    #[test]
    fn sketches_count_rows_of_a_unit() {
        // The same units, but one unit has an extra row in the second cell:
        // subtracting the two would reveal that row.
        let once = sketch(0..100);
        let twice = sketch((0..100).chain([42]));
        assert_eq!(twice.difference(&once), Some((1, 0)));
        assert_eq!(twice.differs_by_small_group(&once, 10), Some(1));
        // Multiplicities decode whatever their sign and size.
        let thrice = sketch((0..100).chain([7, 7, 7]).chain([9, 9]));
        assert_eq!(thrice.difference(&once), Some((2, 0)));
        assert_eq!(once.difference(&thrice), Some((0, 2)));
    }

    #[test]
    fn sketches_add_up_over_disjoint_parts() {
        let mut a = sketch(0..300);
        assert!(a.merge(&sketch(300..700)));
        assert_eq!(a, sketch(0..700));
        assert!(!a.merge(&UnitSketch::new(90)));
        assert_eq!(a, sketch(0..700), "a refused merge changes nothing");
        assert_eq!(
            UnitSketch::for_min_units(10).difference(&UnitSketch::new(90)),
            None
        );
        assert!(UnitSketch::new(0).buckets().len() == 3 && UnitSketch::new(0).is_empty());
        let json = serde_json::to_string(&a).expect("json");
        assert_eq!(serde_json::from_str::<UnitSketch>(&json).expect("back"), a);
    }

    /// The sizing promise: differences of up to 2(k − 1) units decode.
    /// Deterministic trials (the same every run), for several k.
    #[test]
    fn the_largest_small_difference_decodes() {
        for k in [2u32, 5, 10, 20, 50] {
            let d = 2 * (u64::from(k) - 1);
            let trials = 2_000u64;
            let mut decoded = 0;
            for t in 0..trials {
                let base = t * 1_000_000;
                let mut a = UnitSketch::for_min_units(k);
                let mut b = UnitSketch::for_min_units(k);
                for u in base..base + 200 {
                    a.add(mix(u));
                    b.add(mix(u));
                }
                // Half of the difference on each side.
                for u in 0..d {
                    let digest = mix(base + 500_000 + u);
                    if u % 2 == 0 {
                        a.add(digest)
                    } else {
                        b.add(digest)
                    }
                }
                if a.difference(&b) == Some((d.div_ceil(2), d / 2)) {
                    decoded += 1;
                }
            }
            println!("k = {k}: {decoded} of {trials} differences of {d} units decoded");
            // Worst case: decoding fails; the pair is then taken as
            // differing by many units (a missed check), so it must be rare.
            assert!(
                decoded * 1000 >= trials * 997,
                "k = {k}: {decoded} of {trials} differences of {d} units decoded"
            );
        }
    }

    #[test]
    fn large_differences_never_decode_as_small() {
        for t in 0..200u64 {
            let base = t * 1_000_000;
            let a = sketch(base..base + 1000);
            let b = sketch(base + 40..base + 1000);
            assert_eq!(b.differs_by_small_group(&a, 10), None);
        }
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

// ---- Sketches -------------------------------------------------------------------

/// One bucket of a [`UnitSketch`]: occurrences, the sum of their digests
/// and the sum of a second hash of each digest (to tell a bucket holding
/// one unit from one holding several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bucket {
    pub count: i64,
    pub keys: i128,
    pub check: u64,
}

/// The number of hash functions (buckets per unit).
const HASHES: usize = 3;

/// Where `digest` goes in a table of `len` buckets (its bucket in each of
/// the three sub-tables) and its purity check: both from one mix of the
/// digest, whose low 63 bits place it (21 per sub-table) and whose whole
/// tells a bucket holding one unit from one holding several.
#[inline]
fn placed(len: usize, digest: u64) -> ([usize; HASHES], u64) {
    let per = (len / HASHES) as u64;
    let h = mix(digest);
    let mut out = [0; HASHES];
    for (j, o) in out.iter_mut().enumerate() {
        let part = (h >> (21 * j)) & 0x1F_FFFF;
        *o = j * per as usize + ((part * per) >> 21) as usize;
    }
    (out, h)
}

/// Add `times` occurrences of `digest` (negative: remove).
#[inline]
fn apply(buckets: &mut [Bucket], digest: u64, times: i64) {
    let (at, h) = placed(buckets.len(), digest);
    let check = h.wrapping_mul(times as u64);
    let keys = i128::from(digest) * i128::from(times);
    for p in at {
        let b = &mut buckets[p];
        b.count += times;
        b.keys += keys;
        b.check = b.check.wrapping_add(check);
    }
}

/// A cell's units as an invertible Bloom lookup table (Eppstein et al.,
/// "What's the difference?", 2011) over keyed unit digests: each
/// occurrence of a unit adds to one bucket in each of three equal
/// sub-tables. The table is a multiset: a unit that occurs in three rows
/// of a cell counts three times, so two cells over the same units but
/// different rows of one of them differ by that unit (subtracting them
/// would reveal that unit's rows).
///
/// Sized by [`UnitSketch::for_min_units`] so that a difference of up to
/// 2(k − 1) units decodes (the most a differencing check must see); the
/// decoding rate is tested.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnitSketch {
    /// Occurrences added (rows of the cell with a unit).
    rows: u64,
    buckets: Vec<Bucket>,
}

impl UnitSketch {
    /// An empty sketch of `buckets` buckets (rounded up to a multiple of
    /// three, at least three).
    pub fn new(buckets: usize) -> Self {
        let per = buckets.div_ceil(HASHES).max(1);
        Self {
            rows: 0,
            buckets: vec![Bucket::default(); per * HASHES],
        }
    }

    /// The buckets a sketch needs so that differences of fewer than `min`
    /// units on each side (at most d = 2·(min − 1) units) decode. Decoding
    /// fails mostly when two of the d units share all three buckets, with
    /// probability about d²/2 per sub-table size cubed: sub-tables of
    /// ∛(500·d²) buckets keep that near 0.1% (165 buckets in all for
    /// k = 10, 5 KB).
    pub fn buckets_for(min: u32) -> usize {
        let d = (2 * u64::from(min.max(2)) - 2) as f64;
        let per = (500.0 * d * d).cbrt().ceil() as usize;
        per.max(10) * HASHES
    }

    /// An empty sketch sized for the minimum-count rule `min` (k).
    pub fn for_min_units(min: u32) -> Self {
        Self::new(Self::buckets_for(min))
    }

    /// Rebuild from parts (the engine's aggregate state).
    pub fn from_parts(rows: u64, buckets: Vec<Bucket>) -> Option<Self> {
        (!buckets.is_empty() && buckets.len().is_multiple_of(HASHES))
            .then_some(Self { rows, buckets })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0 && self.buckets.iter().all(|b| *b == Bucket::default())
    }

    /// Add one occurrence of a unit.
    #[inline]
    pub fn add(&mut self, digest: u64) {
        apply(&mut self.buckets, digest, 1);
        self.rows += 1;
    }

    /// Add another sketch of the same size (the union of disjoint rows).
    /// `false` (and nothing changed) when the sizes differ.
    pub fn merge(&mut self, other: &UnitSketch) -> bool {
        if other.buckets.len() != self.buckets.len() {
            return false;
        }
        self.rows += other.rows;
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            a.count += b.count;
            a.keys += b.keys;
            a.check = a.check.wrapping_add(b.check);
        }
        true
    }

    /// The units by which `self` and `other` differ: `(a, b)` = units
    /// occurring more often in `self`, units occurring more often in
    /// `other`. `None` when the difference does not decode: the sketches
    /// differ in size, or the populations differ by more units than the
    /// sketch can list (about a third of its buckets).
    pub fn difference(&self, other: &UnitSketch) -> Option<(u64, u64)> {
        if other.buckets.len() != self.buckets.len() {
            return None;
        }
        let mut d: Vec<Bucket> = self
            .buckets
            .iter()
            .zip(&other.buckets)
            .map(|(a, b)| Bucket {
                count: a.count - b.count,
                keys: a.keys - b.keys,
                check: a.check.wrapping_sub(b.check),
            })
            .collect();
        let (mut more, mut fewer) = (0u64, 0u64);
        let mut queue: Vec<usize> = (0..d.len()).collect();
        // Each unit peeled empties a bucket; more peels than buckets would
        // mean a forged bucket.
        let mut budget = d.len();
        while let Some(i) = queue.pop() {
            let b = d[i];
            if b.count == 0 {
                continue;
            }
            // A pure bucket holds one unit, `count` times.
            let c = i128::from(b.count);
            if b.keys % c != 0 {
                continue;
            }
            let Ok(digest) = u64::try_from(b.keys / c) else {
                continue;
            };
            let (at, check) = placed(d.len(), digest);
            if !at.contains(&i) || check.wrapping_mul(b.count as u64) != b.check {
                continue;
            }
            if budget == 0 {
                return None;
            }
            budget -= 1;
            apply(&mut d, digest, -b.count);
            if b.count > 0 {
                more += 1;
            } else {
                fewer += 1;
            }
            queue.extend(at);
        }
        d.iter()
            .all(|b| *b == Bucket::default())
            .then_some((more, fewer))
    }

    /// Whether publishing `self` after `earlier` reveals a group of fewer
    /// than `min` units: the populations differ, and on each side by fewer
    /// than `min`. Returns the size of the revealed difference. A
    /// difference too large to decode is not small.
    pub fn differs_by_small_group(&self, earlier: &UnitSketch, min: u32) -> Option<u64> {
        let min = u64::from(min);
        let (a, b) = self.difference(earlier)?;
        (a + b > 0 && a < min && b < min).then_some(a + b)
    }
}

/// A released cell as a scenario's history keeps it: its sketch, and
/// whether each of its units occurs in one row of it (then its rows are
/// its units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedCell {
    pub sketch: UnitSketch,
    pub distinct: bool,
}

/// The size of the small group by which a new cell (`sketch`, `distinct`
/// as in [`ReleasedCell`]) differs from the first earlier cell it differs
/// from by fewer than `min` units on each side.
pub fn check_sketch_history<'a>(
    sketch: &UnitSketch,
    distinct: bool,
    earlier: impl IntoIterator<Item = &'a ReleasedCell>,
    min: u32,
) -> Option<u64> {
    let rows = sketch.rows();
    earlier
        .into_iter()
        // When both cells have one row per unit, cells whose sizes differ
        // by `min` or more cannot differ by fewer than `min` units on each
        // side.
        .filter(|e| !(e.distinct && distinct) || e.sketch.rows().abs_diff(rows) < u64::from(min))
        .find_map(|e| sketch.differs_by_small_group(&e.sketch, min))
}
