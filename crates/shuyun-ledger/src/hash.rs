//! SM3 hashing and the RFC 9162 leaf/node hash domain separation.

use sm3::{Digest, Sm3};

/// A 32-byte SM3 digest.
pub type Hash = [u8; 32];

/// SM3 of the empty string: the root hash of the empty tree (RFC 9162 `MTH({})`).
pub const EMPTY_ROOT: Hash = [
    0x1a, 0xb2, 0x1d, 0x83, 0x55, 0xcf, 0xa1, 0x7f, 0x8e, 0x61, 0x19, 0x48, 0x31, 0xe8, 0x1a, 0x8f,
    0x22, 0xbe, 0xc8, 0xc7, 0x28, 0xfe, 0xfb, 0x74, 0x7e, 0xd0, 0x35, 0xeb, 0x50, 0x82, 0xaa, 0x2b,
];

/// GM/T 0004 SM3 digest of `data`.
pub fn sm3(data: &[u8]) -> Hash {
    Sm3::digest(data).into()
}

/// Leaf hash: `SM3(0x00 || data)` (RFC 9162 §2.1.1 with SM3).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sm3::new()
        .chain_update([0x00])
        .chain_update(data)
        .finalize()
        .into()
}

/// Interior node hash: `SM3(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sm3::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Root hash of the empty tree, [`EMPTY_ROOT`].
pub fn empty_root() -> Hash {
    EMPTY_ROOT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(h: &Hash) -> String {
        hex::encode(h)
    }

    #[test]
    fn sm3_known_answers() {
        assert_eq!(
            hx(&sm3(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hx(&sm3(b"")),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
        // GM/T 0004 example 2: "abcd" repeated 16 times.
        assert_eq!(
            hx(&sm3(&b"abcd".repeat(16))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
        assert_eq!(EMPTY_ROOT, sm3(b""));
        assert_eq!(empty_root(), EMPTY_ROOT);
    }

    #[test]
    fn domain_separation() {
        assert_eq!(leaf_hash(b"x"), sm3(b"\x00x"));
        let (a, b) = (sm3(b"a"), sm3(b"b"));
        let mut buf = vec![1u8];
        buf.extend_from_slice(&a);
        buf.extend_from_slice(&b);
        assert_eq!(node_hash(&a, &b), sm3(&buf));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }
}
