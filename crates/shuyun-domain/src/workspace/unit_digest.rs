//! Unit digests: the 64-bit identity by which the output checks follow a
//! person or enterprise (a unit) through queries, without its value.
//!
//! A unit's *stored digest* is SipHash-1-3 of its raw identifier under the
//! platform's unit digest key. Ingest writes it into every version of a
//! resource keyed by its unit, as a hidden column ([`COLUMN`], never in an
//! operator's schema, never in a download) with the key's fingerprint in
//! the file's metadata ([`METADATA_KEY`]), so queries read eight bytes per
//! row instead of reading and hashing the identifier. Where a file has no
//! stored digests (older versions, synthetic previews, a key that
//! changed), the engine computes the same digest from the raw value.
//!
//! Under an agreement, a unit is known by [`for_agreement`] of its stored
//! digest: a keyed bijection, so the digests of one agreement mean nothing
//! under another, and the same unit has the same digest in every table and
//! query of the agreement.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

/// The hidden column of stored unit digests (UInt64, one per row).
pub const COLUMN: &str = "__shuyun_unit_digest";
/// The Parquet key-value metadata entry holding the fingerprint of the key
/// the stored digests were made with.
pub const METADATA_KEY: &str = "shuyun.unit_digest_key";

/// The platform's unit digest key. Its `Debug` shows only the fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitDigestKey(u64, u64);

impl std::fmt::Debug for UnitDigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnitDigestKey({})", self.fingerprint())
    }
}

impl UnitDigestKey {
    pub fn from_bytes(b: [u8; 16]) -> Self {
        let (mut lo, mut hi) = ([0u8; 8], [0u8; 8]);
        lo.copy_from_slice(&b[..8]);
        hi.copy_from_slice(&b[8..]);
        Self(u64::from_le_bytes(lo), u64::from_le_bytes(hi))
    }

    /// What files record to say which key made their digests: a digest of
    /// a constant, which reveals nothing of the key.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.bytes(b"shuyun unit digest key fingerprint"))
    }

    /// The stored digest of a text identifier (its UTF-8 bytes).
    pub fn bytes(&self, v: &[u8]) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.0, self.1);
        h.write(v);
        h.finish()
    }

    /// The stored digest of an integer identifier (its little-endian
    /// 64-bit form, whatever the width it is stored in).
    pub fn int(&self, v: i64) -> u64 {
        self.bytes(&v.to_le_bytes())
    }
}

/// SplitMix64's finaliser: a bijective mix of a 64-bit value.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A unit's digest under an agreement (`keys`, derived from the
/// agreement's pseudonym key) from its stored digest.
#[inline]
pub fn for_agreement(stored: u64, keys: (u64, u64)) -> u64 {
    mix(stored ^ keys.0) ^ keys.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_keyed_and_agreements_differ() {
        let a = UnitDigestKey::from_bytes(*b"0123456789abcdef");
        let b = UnitDigestKey::from_bytes(*b"0123456789abcdeg");
        let id = "36020219800101001X".as_bytes();
        assert_eq!(a.bytes(id), a.bytes(id));
        assert_ne!(a.bytes(id), b.bytes(id));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.int(7), a.bytes(&7i64.to_le_bytes()));
        let s = a.bytes(id);
        assert_ne!(for_agreement(s, (1, 2)), for_agreement(s, (3, 2)));
        // A bijection: distinct stored digests stay distinct.
        let mut seen: Vec<u64> = (0..10_000u64).map(|i| for_agreement(i, (9, 4))).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 10_000);
        assert!(!format!("{a:?}").contains("3031"));
    }
}
