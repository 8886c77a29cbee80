//! Compact range ("frontier") of a growing Merkle tree.

use crate::{Hash, LedgerError, empty_root, node_hash};

/// The right edge of a growing RFC 9162 tree: the roots of the perfect subtrees
/// that make up the first `size` leaves, largest (leftmost) first.
///
/// There is one hash per set bit of `size` (so at most 64), which is enough to
/// append leaves and compute the current root without the rest of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `hashes[i]` is the root of the subtree for the i-th highest set bit of `size`.
    hashes: Vec<Hash>,
}

impl Default for Frontier {
    fn default() -> Self {
        Self::new()
    }
}

impl Frontier {
    /// Frontier of the empty tree.
    pub fn new() -> Self {
        Self {
            size: 0,
            hashes: Vec::with_capacity(64),
        }
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree roots, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash (see [`crate::leaf_hash`]).
    ///
    /// # Panics
    /// Panics if the tree already holds `u64::MAX` leaves (unreachable in practice).
    pub fn push(&mut self, leaf: Hash) {
        assert!(self.size < u64::MAX, "Merkle tree size overflow");
        let mut carry = leaf;
        // Every trailing one bit of `size` is a subtree of the same height as
        // `carry`: merge them like a binary counter.
        let mut bits = self.size;
        while bits & 1 == 1 {
            if let Some(left) = self.hashes.pop() {
                carry = node_hash(&left, &carry);
            }
            bits >>= 1;
        }
        self.hashes.push(carry);
        self.size += 1;
    }

    /// RFC 9162 Merkle tree hash of the current tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(mut acc) = iter.next().copied() else {
            return empty_root();
        };
        for left in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// Serialization: 8-byte big-endian size followed by the 32-byte hashes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Parses [`Frontier::to_bytes`] output, checking that the number of hashes
    /// equals the number of set bits of the size.
    pub fn from_bytes(b: &[u8]) -> Result<Self, LedgerError> {
        let (size_bytes, rest) = b.split_first_chunk::<8>().ok_or(LedgerError::BadFrontier)?;
        let size = u64::from_be_bytes(*size_bytes);
        let (chunks, remainder) = rest.as_chunks::<32>();
        if !remainder.is_empty() || chunks.len() != size.count_ones() as usize {
            return Err(LedgerError::BadFrontier);
        }
        let mut hashes = Vec::with_capacity(64);
        hashes.extend_from_slice(chunks);
        Ok(Self { size, hashes })
    }

    /// Builds a frontier directly from its parts (used by [`crate::MerkleTree`]).
    pub(crate) fn from_parts(size: u64, hashes: Vec<Hash>) -> Self {
        debug_assert_eq!(hashes.len(), size.count_ones() as usize);
        Self { size, hashes }
    }
}

impl Extend<Hash> for Frontier {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for leaf in iter {
            self.push(leaf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;

    fn frontier_of(n: u64) -> Frontier {
        let mut f = Frontier::new();
        f.extend((0..n).map(|i| leaf_hash(&i.to_be_bytes())));
        f
    }

    #[test]
    fn empty() {
        let f = Frontier::new();
        assert_eq!(f.size(), 0);
        assert_eq!(f.root(), empty_root());
        assert_eq!(f.to_bytes(), vec![0; 8]);
        assert_eq!(Frontier::from_bytes(&[0; 8]), Ok(Frontier::new()));
    }

    #[test]
    fn small_roots() {
        let l: Vec<Hash> = (0..3u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        assert_eq!(frontier_of(1).root(), l[0]);
        assert_eq!(frontier_of(2).root(), node_hash(&l[0], &l[1]));
        assert_eq!(
            frontier_of(3).root(),
            node_hash(&node_hash(&l[0], &l[1]), &l[2])
        );
    }

    #[test]
    fn bytes_round_trip() {
        for n in 0..200 {
            let f = frontier_of(n);
            assert_eq!(f.hashes().len(), n.count_ones() as usize);
            let b = f.to_bytes();
            assert_eq!(b.len(), 8 + 32 * n.count_ones() as usize);
            let g = Frontier::from_bytes(&b).expect("round trip");
            assert_eq!(g, f);
            assert_eq!(g.root(), f.root());
        }
    }

    #[test]
    fn parsed_frontier_keeps_growing() {
        let mut f = Frontier::from_bytes(&frontier_of(37).to_bytes()).expect("parse");
        f.extend((37..100u64).map(|i| leaf_hash(&i.to_be_bytes())));
        assert_eq!(f, frontier_of(100));
    }

    #[test]
    fn rejects_bad_bytes() {
        let b = frontier_of(5).to_bytes(); // two hashes
        assert_eq!(Frontier::from_bytes(&[]), Err(LedgerError::BadFrontier));
        assert_eq!(Frontier::from_bytes(&b[..7]), Err(LedgerError::BadFrontier));
        assert_eq!(
            Frontier::from_bytes(&b[..b.len() - 1]),
            Err(LedgerError::BadFrontier)
        );
        assert_eq!(
            Frontier::from_bytes(&b[..b.len() - 32]),
            Err(LedgerError::BadFrontier)
        );
        let mut longer = b.clone();
        longer.extend_from_slice(&[0; 32]);
        assert_eq!(Frontier::from_bytes(&longer), Err(LedgerError::BadFrontier));
        let mut wrong_size = b.clone();
        wrong_size[7] = 6; // still two set bits: accepted
        assert!(Frontier::from_bytes(&wrong_size).is_ok());
        wrong_size[7] = 7; // three set bits, two hashes
        assert_eq!(
            Frontier::from_bytes(&wrong_size),
            Err(LedgerError::BadFrontier)
        );
        let mut huge = vec![0xff; 8];
        huge.extend(std::iter::repeat_n(0u8, 32 * 63));
        assert_eq!(Frontier::from_bytes(&huge), Err(LedgerError::BadFrontier));
        huge.extend_from_slice(&[0; 32]);
        assert_eq!(Frontier::from_bytes(&huge).map(|f| f.size()), Ok(u64::MAX));
    }
}
