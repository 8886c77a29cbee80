//! Key uniqueness in 128 bits per row: an open-addressing table whose slots
//! each pack an 88-bit hash of a row's key values with the row's 40-bit
//! number, so a duplicate can name the row it repeats without storing keys.
//!
//! Two different keys share an 88-bit hash with probability about n²/2⁸⁹
//! (10⁻¹¹ for 100 million rows); such a collision would be reported as a
//! duplicate. Memory is 16 bytes per slot at a load of at most 3/4.

/// Bits of the row number in a slot (rows up to ~1.1 × 10¹²).
const ROW_BITS: u32 = 40;
const ROW_MASK: u128 = (1 << ROW_BITS) - 1;

pub(crate) struct KeySet {
    /// 0 marks an empty slot (row numbers start at 1, so no entry is 0).
    slots: Vec<u128>,
    len: usize,
}

impl KeySet {
    pub(crate) fn new() -> Self {
        Self {
            slots: vec![0; 1024],
            len: 0,
        }
    }

    /// Records `hash` (any 128-bit hash; its top 88 bits are used) for
    /// `row`; returns the earlier row with the same hash, if any.
    pub(crate) fn insert(&mut self, hash: u128, row: u64) -> Option<u64> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let tag = hash & !ROW_MASK;
        let entry = tag | (u128::from(row) & ROW_MASK);
        let mask = self.slots.len() - 1;
        let mut i = (hash >> 64) as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.slots[i] = entry;
                self.len += 1;
                return None;
            }
            if s & !ROW_MASK == tag {
                return Some((s & ROW_MASK) as u64);
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|&s| s != 0) {
            let mut i = (s >> 64) as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

/// A fast seeded 128-bit hash of a row's key values (not adversarially
/// robust: a crafted collision could only get the uploader's own file
/// rejected).
pub(crate) struct KeyHasher {
    a: u64,
    b: u64,
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

fn fmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl KeyHasher {
    pub(crate) fn new(seed: (u64, u64)) -> Self {
        Self {
            a: seed.0,
            b: seed.1,
        }
    }

    pub(crate) fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(K1).rotate_left(29);
        self.b = (self.b ^ w.rotate_left(17))
            .wrapping_mul(K2)
            .rotate_left(31);
    }

    pub(crate) fn bytes(&mut self, s: &[u8]) {
        let mut chunks = s.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(w));
        self.word(s.len() as u64);
    }

    pub(crate) fn finish(&self) -> u128 {
        let a = fmix(self.a ^ self.b.rotate_left(23));
        let b = fmix(self.b ^ a);
        (u128::from(a) << 64) | u128::from(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_across_growth() {
        let mut k = KeySet::new();
        let h = |i: u64| {
            let mut x = KeyHasher::new((1, 2));
            x.bytes(format!("key-{i}").as_bytes());
            x.finish()
        };
        for i in 1..=100_000u64 {
            assert_eq!(k.insert(h(i), i), None);
        }
        assert_eq!(k.insert(h(77), 100_001), Some(77));
        assert_eq!(k.insert(h(100_000), 100_002), Some(100_000));
    }
}
