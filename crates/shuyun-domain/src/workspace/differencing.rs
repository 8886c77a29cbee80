//! Differencing protection (差分攻击防护, C3): two results of a scenario
//! whose populations differ by a small group reveal that group by
//! subtraction (a count of all firms in a district, then of all but one).
//!
//! Each released cell keeps a [`UnitSketch`] of its units: a count sketch
//! of the keyed 64-bit unit digests, of constant size whatever the cell's
//! population (4 KB for k = 10, where a set of 3.5 million digests would
//! take 28 MB), updated with two additions per row. Sketches add and
//! subtract; comparing two cells' sketches bounds from below the units by
//! which their populations differ on each side, so a difference of fewer
//! than k units on each side is always caught, and one of many units never
//! is. A new cell is checked against the cells before it.
//!
//! [`UnitSet`] (the sorted digests themselves) remains for what needs the
//! units one by one (under noise, each unit in one cell only).

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
}

#[cfg(test)]
mod tests {
    use super::super::unit_digest::mix;
    use super::*;

    /// A sketch for k of the given units.
    fn sketch_for(k: u32, units: impl IntoIterator<Item = u64>) -> UnitSketch {
        let mut s = UnitSketch::for_min_units(k);
        for u in units {
            s.add(mix(u));
        }
        s
    }

    fn sketch(units: impl IntoIterator<Item = u64>) -> UnitSketch {
        sketch_for(10, units)
    }

    #[test]
    fn sketches_catch_a_small_difference_and_pass_a_large_one() {
        let all = sketch(0..500);
        let but_one = sketch(1..500);
        assert_eq!(but_one.differs_by_small_group(&all, 10), Some(1));
        assert_eq!(all.differs_by_small_group(&but_one, 10), Some(1));
        assert_eq!(
            all.difference(&but_one, 10),
            Difference {
                more: 1,
                fewer: 0,
                units: 1
            }
        );
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
        // Ten in, none out: a group of k may be published.
        assert_eq!(
            sketch(0..510).differs_by_small_group(&sketch(0..500), 10),
            None
        );
        // Three and a half million units take the same 1,024 buckets.
        let big = sketch(0..3_500_000);
        assert_eq!(big.buckets().len(), 1024);
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
        assert_eq!(twice.differs_by_small_group(&once, 10), Some(1));
        // Multiplicities count whatever their sign and size.
        let thrice = sketch((0..100).chain([7, 7, 7]).chain([9, 9]));
        let d = thrice.difference(&once, 10);
        assert_eq!((d.more, d.fewer, d.units), (2, 0, 2));
        let d = once.difference(&thrice, 10);
        assert_eq!((d.more, d.fewer, d.units), (0, 2, 2));
        // Counts past 2¹⁶ in a bucket (a unit of 70,000 rows) wrap into
        // the fingerprint half; differences still read exactly.
        let heavy = || (0..100u64).chain(std::iter::repeat_n(5, 70_000));
        let all = sketch(heavy());
        assert_eq!(
            sketch(heavy().filter(|u| *u != 9)).differs_by_small_group(&all, 10),
            Some(1)
        );
        let d = sketch(heavy().chain([5, 5])).difference(&all, 10);
        assert_eq!((d.more, d.fewer), (1, 0));
        // One unit out and another in, in the same bucket, still shows.
        let mut a = UnitSketch::new(4);
        let mut b = UnitSketch::new(4);
        a.add(0x0000_0001_0000_0001);
        b.add(0x0000_0001_0000_0002);
        let d = a.difference(&b, 10);
        assert_eq!((d.more, d.fewer, d.units), (1, 1, 1));
        assert_eq!(a.differs_by_small_group(&b, 10), Some(1));
    }

    #[test]
    fn sketches_add_up_over_disjoint_parts() {
        let mut a = sketch(0..300);
        assert!(a.merge(&sketch(300..700)));
        assert_eq!(a, sketch(0..700));
        assert!(!a.merge(&UnitSketch::new(90)));
        assert_eq!(a, sketch(0..700), "a refused merge changes nothing");
        assert!(UnitSketch::new(0).buckets().len() == 4 && UnitSketch::new(0).is_empty());
        assert_eq!(UnitSketch::new(90).buckets().len(), 128);
        assert_eq!(UnitSketch::new(1 << 20).buckets().len(), 4096);
        let json = serde_json::to_string(&a).expect("json");
        assert_eq!(serde_json::from_str::<UnitSketch>(&json).expect("back"), a);
    }

    #[test]
    fn sketches_survive_their_bytes() {
        let s = sketch([1u64, 99, u64::MAX, 7]);
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), 8 + 4 * s.buckets().len());
        assert_eq!(UnitSketch::from_bytes(&bytes), Some(s));
        assert_eq!(UnitSketch::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(
            UnitSketch::from_bytes(&bytes[..bytes.len() - 4]),
            None,
            "odd buckets"
        );
        assert_eq!(
            UnitSketch::from_bytes(&bytes[..bytes.len() - 8]),
            None,
            "not a power of two"
        );
        assert_eq!(UnitSketch::from_bytes(&bytes[..8]), None, "no buckets");
        assert_eq!(UnitSketch::from_bytes(&[]), None);
        let mut unknown = bytes.clone();
        unknown[7] = 2;
        assert_eq!(UnitSketch::from_bytes(&unknown), None, "an unknown format");
    }

    /// Sketches kept before buckets were narrowed (a 32-bit count and a
    /// 32-bit sum of the digests' low 32 bits, 8 bytes a bucket, as the
    /// history of a running platform holds them) read back as exactly
    /// the sketch of the same units today.
    #[test]
    fn sketches_of_the_wide_format_still_read() {
        let units: Vec<u64> = (0..5_000u64).chain([7, 7, 42]).collect();
        let now = sketch(units.iter().copied());
        let per = now.buckets().len() / TABLES;
        let shift = 16 - per.trailing_zeros();
        let mut wide = vec![0u64; per * TABLES];
        for d in units.iter().map(|u| mix(*u)) {
            let add = 1u64.wrapping_add(d << 32);
            for p in [
                (d >> 48 >> shift) as usize,
                per + ((d >> 32 & 0xFFFF) >> shift) as usize,
            ] {
                wide[p] = wide[p].wrapping_add(add);
            }
        }
        let mut bytes = (units.len() as u64).to_le_bytes().to_vec();
        for b in &wide {
            bytes.extend_from_slice(&b.to_le_bytes());
        }
        let read = UnitSketch::from_bytes(&bytes).expect("a wide sketch");
        assert_eq!(read, now);
        // And it compares with new cells as the new one would.
        let but_two = sketch(units[2..].iter().copied());
        assert_eq!(but_two.differs_by_small_group(&read, 10), Some(2));
    }

    /// Many cells in one flat bank make the same sketches as one by one.
    #[test]
    fn a_bank_makes_the_same_sketches() {
        let mut bank = SketchBank::new(UnitSketch::buckets_for(10));
        bank.grow(3);
        let cells: Vec<usize> = (0..3_000).map(|i| i % 3).collect();
        bank.add_all(&cells, (0..3_000u64).map(mix));
        let one = |c: usize| sketch((0..3_000u64).filter(|u| *u as usize % 3 == c));
        let bytes = |bank: &SketchBank, c| {
            let mut out = Vec::new();
            bank.write_bytes(c, &mut out);
            UnitSketch::from_bytes(&out).expect("bank bytes")
        };
        for c in 0..3 {
            assert_eq!(bytes(&bank, c), one(c));
        }
        assert!(bank.merge(1, &one(2)));
        assert!(!bank.merge(1, &UnitSketch::new(8)), "another size");
        let mut both = one(1);
        assert!(both.merge(&one(2)));
        assert_eq!(bytes(&bank, 1), both);
        bank.drop_first(1);
        assert_eq!(bank.len(), 2);
        assert_eq!(bytes(&bank, 0), both);
        assert_eq!(bytes(&bank, 1), one(2));
        assert!(bank.size() >= 2 * 4 * 1024);
        // One cell's rows at once make the same sketch, at every size.
        for k in [2, 10, 23] {
            let mut bank = SketchBank::new(UnitSketch::buckets_for(k));
            bank.grow(2);
            bank.add_to(1, (0..5_000u64).map(mix));
            bank.add_to(1, (5_000..7_000u64).map(mix));
            assert_eq!(bytes(&bank, 1), sketch_for(k, 0..7_000), "k = {k}");
            assert_eq!(bytes(&bank, 0), sketch_for(k, []), "k = {k}");
        }
    }

    /// Two cells over `base` (200 units) and `extra` more on each side.
    fn pair(k: u32, trial: u64, more: u64, fewer: u64) -> (UnitSketch, UnitSketch) {
        let base = trial * 1_000_000;
        let (a, b) = (base + 500_000, base + 700_000);
        (
            sketch_for(k, (base..base + 200).chain(a..a + more)),
            sketch_for(k, (base..base + 200).chain(b..b + fewer)),
        )
    }

    /// The promise: a difference of fewer than k units on each side is
    /// never missed, whatever the collisions. Deterministic trials (the
    /// same every run), for several k.
    #[test]
    fn small_differences_are_never_missed() {
        for k in [2u32, 5, 10, 20, 50] {
            let k64 = u64::from(k);
            for t in 0..2_000u64 {
                // Sizes from (1, 0) to (k − 1, k − 1), in turn.
                let more = t % k64;
                let fewer = (t / k64) % k64;
                if more + fewer == 0 {
                    continue;
                }
                let (a, b) = pair(k, t, more, fewer);
                let seen = a.differs_by_small_group(&b, k);
                assert!(
                    seen.is_some_and(|n| n >= 1 && n <= more + fewer),
                    "k = {k}, trial {t}: {more} + {fewer} units gave {seen:?}"
                );
            }
        }
    }

    /// The price: a pair differing by exactly k units on one side is
    /// sometimes withheld (both sub-tables lost a unit to a collision);
    /// by k + 1, almost never (up to k = 22, where sub-tables stop
    /// growing).
    #[test]
    fn pairs_at_the_limit_are_rarely_withheld() {
        for k in [2u32, 5, 10, 20, 22] {
            let k64 = u64::from(k);
            let trials = 2_000u64;
            let withheld = |extra: u64| {
                (0..trials)
                    .filter(|t| {
                        let (a, b) = pair(k, *t, k64 + extra, 0);
                        a.differs_by_small_group(&b, k).is_some()
                    })
                    .count() as u64
            };
            let (at, above) = (withheld(0), withheld(1));
            println!("k = {k}: withheld {at} of {trials} pairs differing by k, {above} by k + 1");
            assert!(at * 100 <= trials * 3, "k = {k}: {at} of {trials} at k");
            assert!(
                above * 1000 <= trials,
                "k = {k}: {above} of {trials} at k + 1"
            );
        }
    }

    /// A history made under one k is still checked after k changes: the
    /// larger sketch folds into the size of the smaller.
    #[test]
    fn sketches_made_under_different_k_compare() {
        let (small, large) = (sketch_for(5, 0..500), sketch_for(20, 0..500));
        assert_ne!(small.buckets().len(), large.buckets().len());
        assert_eq!(
            small.differs_by_small_group(&large, 10),
            None,
            "the same units"
        );
        assert_eq!(
            sketch_for(20, 0..497).differs_by_small_group(&small, 10),
            Some(3)
        );
        assert_eq!(
            small.differs_by_small_group(&sketch_for(20, 3..500), 10),
            Some(3)
        );
        assert_eq!(
            sketch_for(20, 0..300).differs_by_small_group(&small, 10),
            None
        );
        assert_eq!(large.folded(small.buckets().len() / 2), small.buckets());
    }

    #[test]
    fn large_differences_are_never_small() {
        for t in 0..200u64 {
            let base = t * 1_000_000;
            let a = sketch(base..base + 1000);
            let b = sketch(base + 40..base + 1000);
            assert_eq!(b.differs_by_small_group(&a, 10), None);
            assert_eq!(a.differs_by_small_group(&b, 10), None);
        }
    }

    #[test]
    fn unit_sets_are_sorted_and_distinct() {
        assert_eq!(UnitSet::new(vec![3, 1, 3, 2]).digests(), &[1, 2, 3]);
        assert!(UnitSet::default().is_empty());
    }
}

// ---- Sketches -------------------------------------------------------------------

/// The sub-tables of a sketch: each occurrence of a unit adds to one
/// bucket of each.
const TABLES: usize = 2;
/// The most buckets of one sub-table: 2¹¹ (a cell's sketch is then at
/// most 16 KB, reached at k = 23).
const MAX_PER_TABLE: usize = 1 << 11;
/// The top byte of a sketch's first word in bytes says how wide its
/// buckets are: this format's 4 bytes. Sketches written before (8-byte
/// buckets, the top byte 0) are still read.
const FORMAT_NARROW: u64 = 1 << 56;
/// The bits of the first word that count rows.
const ROWS_MASK: u64 = FORMAT_NARROW - 1;

/// Where `digest` goes in each sub-table of `per` (a power of two)
/// buckets, and what it adds there. The top bits of two 16-bit fields of
/// the (uniform, keyed) digest, bits 48–63 and 32–47, place it, so that a
/// sketch folds exactly into a smaller one (bucket `i` into `i >> s`). A
/// bucket is one `u32` holding `count + (fingerprints << 16)` (mod 2³²),
/// where `count` counts occurrences and `fingerprints` sums the low 16
/// bits of their digests, so that one wrapping addition of
/// `1 + (digest << 16)` updates both. Counts carry into the fingerprint
/// half; that is harmless, because only differences of buckets are read,
/// and the low half of a difference is the change of count exactly while
/// that change is below 2¹⁵ (k is at most 1,000).
#[inline]
fn placed(per: usize, digest: u64) -> ([usize; TABLES], u32) {
    let shift = 16 - per.trailing_zeros();
    let first = ((digest >> 48) >> shift) as usize;
    let second = per + (((digest >> 32) & 0xFFFF) >> shift) as usize;
    ([first, second], 1u32.wrapping_add((digest as u32) << 16))
}

/// The sub-table size of a sketch of about `buckets` buckets.
fn per_table(buckets: usize) -> usize {
    buckets
        .div_ceil(TABLES)
        .next_power_of_two()
        .clamp(2, MAX_PER_TABLE)
}

/// A cell's units as a count sketch over keyed unit digests: two
/// sub-tables, each occurrence of a unit adding to one bucket of each
/// (its count and the sum of a 16-bit fingerprint). The table is a
/// multiset: a unit that occurs in three rows of a cell counts three
/// times, so two cells over the same units but different rows of one of
/// them differ by that unit (subtracting them would reveal that unit's
/// rows).
///
/// Comparing two sketches bucket by bucket bounds from below the units by
/// which the cells differ, on each side: a bucket whose count went up
/// holds at least one unit more often in the first cell, one whose count
/// went down one more often in the second, and one whose count is the same
/// but whose fingerprints differ one of each. Units never hide: a
/// difference of fewer than k units on each side is always seen as such
/// (a differencing check never misses). Units colliding in a bucket can
/// only make a difference look smaller, so a pair differing by exactly k
/// units on one side is sometimes withheld as well; [`UnitSketch::buckets_for`]
/// keeps that rare (both sub-tables must lose a unit), and the rate is
/// tested. Sketches of different sizes (made under different k) compare
/// after folding the larger into the size of the smaller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnitSketch {
    /// Occurrences added (rows of the cell with a unit).
    rows: u64,
    buckets: Vec<u32>,
}

/// What comparing two sketches shows: lower bounds of the units occurring
/// more often in the first (`more`) and in the second (`fewer`), and
/// whether they differ at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Difference {
    pub more: u64,
    pub fewer: u64,
    /// Buckets that differ in the sub-table that differs most: at least
    /// one unit each.
    pub units: u64,
}

impl UnitSketch {
    /// An empty sketch of about `buckets` buckets: two sub-tables of a
    /// power of two from 2 to 2,048 buckets each.
    pub fn new(buckets: usize) -> Self {
        Self {
            rows: 0,
            buckets: vec![0; per_table(buckets) * TABLES],
        }
    }

    /// The buckets a sketch needs for the minimum-count rule `min` (k):
    /// sub-tables of at least 4·k² buckets (a power of two, at least 64),
    /// where k units share a bucket with probability below 1/8, so both
    /// sub-tables undercount a difference of exactly k units under 1.5% of
    /// the time, and a difference of k + 1 units almost never. 1,024
    /// buckets (4 KB) at k = 10. Beyond k = 22 the sub-tables stay at
    /// 2,048 buckets: pairs differing by somewhat more than k units are
    /// then withheld too (stricter, never weaker): at k = 100, up to about
    /// 103 units; at k = 1,000, up to about 1,400.
    pub fn buckets_for(min: u32) -> usize {
        let k = min.max(2) as usize;
        (4 * k * k).next_power_of_two().clamp(64, MAX_PER_TABLE) * TABLES
    }

    /// An empty sketch sized for the minimum-count rule `min` (k).
    pub fn for_min_units(min: u32) -> Self {
        Self::new(Self::buckets_for(min))
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The buckets (both sub-tables, one after the other).
    pub fn buckets(&self) -> &[u32] {
        &self.buckets
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0 && self.buckets.iter().all(|b| *b == 0)
    }

    /// Add one occurrence of a unit.
    #[inline]
    pub fn add(&mut self, digest: u64) {
        let (at, add) = placed(self.buckets.len() / TABLES, digest);
        for p in at {
            self.buckets[p] = self.buckets[p].wrapping_add(add);
        }
        self.rows += 1;
    }

    /// The sketch as bytes (to keep it in a store or pass it between
    /// partial aggregates): rows (with the format in the top byte), then
    /// each bucket, little endian; 8 + 4 bytes per bucket.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 * self.buckets.len());
        self.write_bytes(&mut out);
        out
    }

    /// Append [`UnitSketch::to_bytes`] to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        write_sketch(self.rows, &self.buckets, out);
    }

    /// The sketch of [`UnitSketch::to_bytes`] (or of the earlier format
    /// of 8-byte buckets, converted exactly); `None` when `bytes` are not
    /// one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (first, rest) = bytes.split_first_chunk::<8>()?;
        let first = u64::from_le_bytes(*first);
        let width = match first & !ROWS_MASK {
            FORMAT_NARROW => 4,
            0 => 8,
            _ => return None,
        };
        let per = rest.len() / width / TABLES;
        if rest.len() != per * width * TABLES
            || !per.is_power_of_two()
            || !(2..=MAX_PER_TABLE).contains(&per)
        {
            return None;
        }
        let buckets = if width == 4 {
            rest.chunks_exact(4)
                .map(|c| c.try_into().map(u32::from_le_bytes))
                .collect::<Result<Vec<_>, _>>()
                .ok()?
        } else {
            // A 32-bit count and a 32-bit sum of 32-bit fingerprints: the
            // count's low bits and the sum's low 16 bits (the sum of the
            // low 16 bits of the same digests) make this format's bucket.
            rest.chunks_exact(8)
                .map(|c| {
                    c.try_into()
                        .map(u64::from_le_bytes)
                        .map(|b| (b as u32).wrapping_add(((b >> 32) as u32) << 16))
                })
                .collect::<Result<Vec<_>, _>>()
                .ok()?
        };
        Some(Self {
            rows: first & ROWS_MASK,
            buckets,
        })
    }

    /// Add another sketch of the same size (the union of disjoint rows).
    /// `false` (and nothing changed) when the sizes differ.
    pub fn merge(&mut self, other: &UnitSketch) -> bool {
        if other.buckets.len() != self.buckets.len() {
            return false;
        }
        self.rows += other.rows;
        add_buckets(&mut self.buckets, &other.buckets);
        true
    }

    /// This sketch folded into sub-tables of `per` buckets (a smaller
    /// power of two): what it would be had it been made that size.
    fn folded(&self, per: usize) -> Vec<u32> {
        let mine = self.buckets.len() / TABLES;
        let shift = (mine / per).trailing_zeros();
        let mut out = vec![0u32; per * TABLES];
        for (i, b) in self.buckets.iter().enumerate() {
            let (t, j) = (i / mine, i % mine);
            let o = &mut out[t * per + (j >> shift)];
            *o = o.wrapping_add(*b);
        }
        out
    }

    /// How `self` and `other` differ (see [`Difference`]), each bound
    /// counted up to `cap` at least (the walk stops once one side reaches
    /// it). Sketches of different sizes compare at the smaller size.
    pub fn difference(&self, other: &UnitSketch, cap: u64) -> Difference {
        let folded;
        let (a, b): (&[u32], &[u32]) = match self.buckets.len().cmp(&other.buckets.len()) {
            std::cmp::Ordering::Equal => (&self.buckets, &other.buckets),
            std::cmp::Ordering::Greater => {
                folded = self.folded(other.buckets.len() / TABLES);
                (&folded, &other.buckets)
            }
            std::cmp::Ordering::Less => {
                folded = other.folded(self.buckets.len() / TABLES);
                (&self.buckets, &folded)
            }
        };
        let per = a.len() / TABLES;
        let mut d = Difference::default();
        for t in 0..TABLES {
            let (mut more, mut fewer, mut both) = (0u64, 0u64, 0u64);
            let range = t * per..(t + 1) * per;
            for (a, b) in a[range.clone()].iter().zip(&b[range]) {
                let x = a.wrapping_sub(*b);
                if x == 0 {
                    continue;
                }
                // The low half is the count's change (mod 2¹⁶).
                match (x as u16 as i16).signum() {
                    1 => more += 1,
                    -1 => fewer += 1,
                    _ => both += 1,
                }
                if more + both >= cap || fewer + both >= cap {
                    break;
                }
            }
            d.more = d.more.max(more + both);
            d.fewer = d.fewer.max(fewer + both);
            d.units = d.units.max(more + fewer + both);
        }
        d
    }

    /// Whether publishing `self` after `earlier` reveals a group of fewer
    /// than `min` units: the populations differ, and on each side by fewer
    /// than `min`. Returns (a lower bound of) the size of the revealed
    /// difference. Never `None` for such a pair; rarely `Some` for a pair
    /// differing by exactly `min` units on a side (see [`UnitSketch`]).
    pub fn differs_by_small_group(&self, earlier: &UnitSketch, min: u32) -> Option<u64> {
        let min = u64::from(min);
        let d = self.difference(earlier, min);
        (d.units > 0 && d.more < min && d.fewer < min).then_some(d.units)
    }
}

fn add_buckets(to: &mut [u32], from: &[u32]) {
    for (a, b) in to.iter_mut().zip(from) {
        *a = a.wrapping_add(*b);
    }
}

fn write_sketch(rows: u64, buckets: &[u32], out: &mut Vec<u8>) {
    out.reserve(8 + 4 * buckets.len());
    out.extend_from_slice(&((rows & ROWS_MASK) | FORMAT_NARROW).to_le_bytes());
    for b in buckets {
        out.extend_from_slice(&b.to_le_bytes());
    }
}

/// The sketches of many cells of one size in one flat table (group `g`'s
/// buckets at `g · buckets`), as an aggregate builds them: no allocation
/// or indirection per cell, half the memory of separate sketches' headers
/// and padding aside, and one tight loop per batch of rows.
#[derive(Debug, Clone)]
pub struct SketchBank {
    per: usize,
    rows: Vec<u64>,
    buckets: Vec<u32>,
}

impl SketchBank {
    /// An empty bank of sketches of about `buckets` buckets each (as
    /// [`UnitSketch::new`]).
    pub fn new(buckets: usize) -> Self {
        Self {
            per: per_table(buckets),
            rows: Vec::new(),
            buckets: Vec::new(),
        }
    }

    fn width(&self) -> usize {
        self.per * TABLES
    }

    /// Buckets of each cell's sketch.
    pub fn buckets(&self) -> usize {
        self.width()
    }

    /// Cells held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes held (for memory accounting).
    pub fn size(&self) -> usize {
        self.rows.capacity() * 8 + self.buckets.capacity() * 4
    }

    /// Hold at least `cells` cells (new ones empty).
    pub fn grow(&mut self, cells: usize) {
        if cells > self.rows.len() {
            self.rows.resize(cells, 0);
            self.buckets.resize(cells * self.width(), 0);
        }
    }

    /// Add one occurrence of unit `digest` to cell `cell` (which must be
    /// held: see [`SketchBank::grow`]).
    #[inline]
    pub fn add(&mut self, cell: usize, digest: u64) {
        let (at, add) = placed(self.per, digest);
        let w = self.width();
        let b = &mut self.buckets[cell * w..(cell + 1) * w];
        for p in at {
            b[p] = b[p].wrapping_add(add);
        }
        self.rows[cell] += 1;
    }

    /// Add `digests` to the cells `cells` (pairwise; each held).
    pub fn add_all(&mut self, cells: &[usize], digests: impl IntoIterator<Item = u64>) {
        for (&c, d) in cells.iter().zip(digests) {
            self.add(c, d);
        }
    }

    /// Add `digests`, all to cell `cell` (held). The same sketch as
    /// [`SketchBank::add`] of each, in a tighter loop: the rows are added
    /// once, and positions are masked into the two sub-tables, so the
    /// loop has no bounds check.
    pub fn add_to(&mut self, cell: usize, digests: impl IntoIterator<Item = u64>) {
        let (per, w) = (self.per, self.width());
        let (first, second) = self.buckets[cell * w..(cell + 1) * w].split_at_mut(per);
        let mask = per - 1;
        let mut rows = 0u64;
        for d in digests {
            let ([a, b], add) = placed(per, d);
            first[a & mask] = first[a & mask].wrapping_add(add);
            second[(b - per) & mask] = second[(b - per) & mask].wrapping_add(add);
            rows += 1;
        }
        self.rows[cell] += rows;
    }

    /// Add `sketch` to cell `cell`; `false` (and nothing changed) when its
    /// size is not the bank's.
    pub fn merge(&mut self, cell: usize, sketch: &UnitSketch) -> bool {
        let w = self.width();
        if sketch.buckets.len() != w {
            return false;
        }
        self.rows[cell] += sketch.rows;
        add_buckets(&mut self.buckets[cell * w..(cell + 1) * w], &sketch.buckets);
        true
    }

    /// Cell `cell` as [`UnitSketch::to_bytes`] would write it, appended
    /// to `out`.
    pub fn write_bytes(&self, cell: usize, out: &mut Vec<u8>) {
        let w = self.width();
        write_sketch(
            self.rows[cell],
            &self.buckets[cell * w..(cell + 1) * w],
            out,
        );
    }

    /// Forget the first `cells` cells; the rest move to the front.
    pub fn drop_first(&mut self, cells: usize) {
        let cells = cells.min(self.rows.len());
        self.rows.drain(..cells);
        self.buckets.drain(..cells * self.width());
    }
}

/// The cells a scenario's differencing history keeps: the newest 5,000
/// (about 20 MB at k = 10); older ones are forgotten first.
pub const HISTORY_CELLS: usize = 5_000;

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
