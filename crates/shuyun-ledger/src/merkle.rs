//! In-memory RFC 9162 Merkle tree with stored interior nodes, for proofs.

use crate::{Frontier, Hash, LedgerError, empty_root, node_hash, split_point};

/// A whole Merkle tree kept in memory.
///
/// `levels[h][i]` is the root of the perfect subtree of height `h` covering
/// leaves `i * 2^h .. (i + 1) * 2^h`; only complete subtrees are stored, so the
/// tree takes about two hashes (64 bytes) per leaf. Nodes of the incomplete
/// right edge are recomputed on demand with O(log n) hashing.
#[derive(Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

impl Default for MerkleTree {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MerkleTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerkleTree")
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new()],
        }
    }

    /// The empty tree, with room for `n` leaves without reallocating.
    pub fn with_capacity(n: usize) -> Self {
        let mut levels = vec![Vec::with_capacity(n)];
        let mut cap = n / 2;
        while cap > 0 {
            levels.push(Vec::with_capacity(cap));
            cap /= 2;
        }
        Self { levels }
    }

    /// Appends a leaf hash (see [`crate::leaf_hash`]). Amortised O(1) hashing.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut height = 0;
        loop {
            if self.levels.len() == height {
                self.levels.push(Vec::new());
            }
            let level = &mut self.levels[height];
            level.push(carry);
            let n = level.len();
            if n % 2 == 1 {
                break;
            }
            carry = node_hash(&level[n - 2], &level[n - 1]);
            height += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels[0].get(usize::try_from(index).ok()?).copied()
    }

    /// Root hash at the current size.
    pub fn root(&self) -> Hash {
        self.range_root(0, self.size())
    }

    /// Root hash of the tree made of the first `size` leaves. O(log n).
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size > self.size() {
            return Err(LedgerError::SizeOutOfRange);
        }
        Ok(self.range_root(0, size))
    }

    /// RFC 9162 §2.1.3.1 inclusion proof `PATH(index, D[0:size])`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        if size > self.size() {
            return Err(LedgerError::SizeOutOfRange);
        }
        if index >= size {
            return Err(LedgerError::IndexOutOfRange);
        }
        let mut out = Vec::with_capacity(64);
        self.path(index, 0, size, &mut out);
        Ok(out)
    }

    /// RFC 9162 §2.1.4.1 consistency proof `PROOF(old_size, D[0:new_size])`.
    ///
    /// The proof is empty when `old_size` is 0 or equal to `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, LedgerError> {
        if new_size > self.size() || old_size > new_size {
            return Err(LedgerError::SizeOutOfRange);
        }
        let mut out = Vec::with_capacity(64);
        if old_size != 0 && old_size != new_size {
            self.subproof(old_size, 0, new_size, true, &mut out);
        }
        Ok(out)
    }

    /// The compact range of the current tree.
    pub fn frontier(&self) -> Frontier {
        let size = self.size();
        let mut hashes = Vec::with_capacity(64);
        let mut start = 0u64;
        for height in (0..64).rev() {
            if size >> height & 1 == 1 {
                hashes.push(self.levels[height][(start >> height) as usize]);
                start += 1 << height;
            }
        }
        Frontier::from_parts(size, hashes)
    }

    /// `MTH(D[start:end])` for `start <= end <= size`, where the range is
    /// either an aligned perfect subtree (a stored node) or reached from one by
    /// RFC 9162 splits. Only ranges ending on the right edge need hashing.
    fn range_root(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let height = n.trailing_zeros();
            return self.levels[height as usize][(start >> height) as usize];
        }
        let k = split_point(n);
        node_hash(
            &self.range_root(start, start + k),
            &self.range_root(start + k, end),
        )
    }

    /// `PATH(m, D[start:end])`, appended to `out` deepest sibling first.
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.range_root(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.range_root(start, start + k));
        }
    }

    /// `SUBPROOF(m, D[start:end], complete)`, appended to `out`.
    fn subproof(&self, m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !complete {
                out.push(self.range_root(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, start + k, complete, out);
            out.push(self.range_root(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range_root(start, start + k));
        }
    }
}

impl Extend<Hash> for MerkleTree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for leaf in iter {
            self.push(leaf);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Exhaustive comparison against a naive implementation written straight
    //! from the recursive definitions of RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1.

    use super::*;
    use crate::{leaf_hash, verify_consistency, verify_inclusion};

    const MAX: u64 = 70;

    /// Largest power of two smaller than n, computed the slow way.
    fn k_of(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => crate::sm3(b""),
            1 => leaf_hash(&d[0]),
            n => {
                let k = k_of(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn ref_path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        let n = d.len();
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            let mut p = ref_path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn ref_subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = ref_subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn ref_proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        ref_subproof(m, d, true)
    }

    fn data() -> Vec<Vec<u8>> {
        (0..MAX)
            .map(|i| format!("entry {i}").into_bytes())
            .collect()
    }

    fn flip(h: &mut Hash, bit: usize) {
        h[bit / 8 % 32] ^= 1 << (bit % 8);
    }

    /// Checks `proof` for leaf `index` in the `size`-leaf tree and every tampering of it.
    fn check_inclusion(roots: &[Hash], leaves: &[Hash], index: u64, size: u64, proof: &[Hash]) {
        let (leaf, root) = (&leaves[index as usize], &roots[size as usize]);
        assert_eq!(verify_inclusion(leaf, index, size, proof, root), Ok(()));
        for i in 0..proof.len() {
            let mut bad = proof.to_vec();
            flip(&mut bad[i], i * 37 + index as usize);
            assert!(verify_inclusion(leaf, index, size, &bad, root).is_err());
        }
        for other in (0..=size).filter(|&j| j != index) {
            assert!(verify_inclusion(leaf, other, size, proof, root).is_err());
        }
        for other in (index + 1..=MAX).filter(|&s| s != size) {
            assert!(verify_inclusion(leaf, index, other, proof, &roots[other as usize]).is_err());
        }
        assert!(verify_inclusion(leaf, index, 0, proof, root).is_err());
        if !proof.is_empty() {
            assert!(verify_inclusion(leaf, index, size, &proof[1..], root).is_err());
            assert!(verify_inclusion(leaf, index, size, &proof[..proof.len() - 1], root).is_err());
        }
        let mut longer = proof.to_vec();
        longer.push(*root);
        assert!(verify_inclusion(leaf, index, size, &longer, root).is_err());
        longer.insert(0, *leaf);
        longer.pop();
        assert!(verify_inclusion(leaf, index, size, &longer, root).is_err());
        let other_leaf = leaves[(index as usize + 1) % leaves.len()];
        assert!(verify_inclusion(&other_leaf, index, size, proof, root).is_err());
        let mut bad_root = *root;
        flip(&mut bad_root, 3);
        assert!(verify_inclusion(leaf, index, size, proof, &bad_root).is_err());
    }

    /// Checks `proof` from `old` to `new` leaves and every tampering of it.
    fn check_consistency(roots: &[Hash], old: u64, new: u64, proof: &[Hash]) {
        let (r1, r2) = (&roots[old as usize], &roots[new as usize]);
        assert_eq!(verify_consistency(old, new, r1, r2, proof), Ok(()));
        for i in 0..proof.len() {
            let mut bad = proof.to_vec();
            flip(&mut bad[i], i * 53 + old as usize);
            assert!(verify_consistency(old, new, r1, r2, &bad).is_err());
        }
        // The empty proof legitimately shows (0, new) and (new, new) consistency.
        let trivial = |m: u64| proof.is_empty() && (m == 0 || m == new);
        for other in (0..=new).filter(|&m| m != old && !trivial(m)) {
            let r = &roots[other as usize];
            assert!(
                verify_consistency(other, new, r, r2, proof).is_err(),
                "{old} {new}: {other}"
            );
        }
        // Every tree is consistent with the empty tree, whatever its size.
        for other in (old..=MAX).filter(|&n| n != new && old != 0) {
            let r = &roots[other as usize];
            assert!(
                verify_consistency(old, other, r1, r, proof).is_err(),
                "{old} {new} -> {other}"
            );
        }
        if old != new {
            assert!(verify_consistency(new, old, r2, r1, proof).is_err());
            assert!(verify_consistency(old, new, r2, r1, proof).is_err());
        }
        if !proof.is_empty() {
            assert!(verify_consistency(old, new, r1, r2, &proof[1..]).is_err());
            assert!(verify_consistency(old, new, r1, r2, &proof[..proof.len() - 1]).is_err());
        }
        let mut longer = proof.to_vec();
        longer.push(*r1);
        assert!(verify_consistency(old, new, r1, r2, &longer).is_err());
        longer.pop();
        longer.insert(0, *r1);
        assert!(verify_consistency(old, new, r1, r2, &longer).is_err());
        let (mut bad1, mut bad2) = (*r1, *r2);
        flip(&mut bad1, 100);
        flip(&mut bad2, 200);
        assert!(verify_consistency(old, new, &bad1, r2, proof).is_err());
        // Nothing about a non-empty new tree can be checked against the empty tree.
        if old != 0 || new == 0 {
            assert!(verify_consistency(old, new, r1, &bad2, proof).is_err());
        }
    }

    #[test]
    fn exhaustive_against_reference() {
        let data = data();
        let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let roots: Vec<Hash> = (0..=MAX as usize).map(|n| mth(&data[..n])).collect();

        let mut tree = MerkleTree::new();
        let mut frontier = Frontier::new();
        for n in 0..=MAX {
            if n > 0 {
                tree.push(leaves[n as usize - 1]);
                frontier.push(leaves[n as usize - 1]);
            }
            // Roots and frontiers at every size.
            assert_eq!(tree.size(), n);
            assert_eq!(tree.root(), roots[n as usize]);
            assert_eq!(frontier.root(), roots[n as usize]);
            assert_eq!(tree.frontier(), frontier);
            assert_eq!(
                Frontier::from_bytes(&frontier.to_bytes()),
                Ok(frontier.clone())
            );
            // Proofs on a tree whose current size is exactly the proof size.
            for i in 0..n {
                let proof = tree.inclusion_proof(i, n).expect("in range");
                assert_eq!(proof, ref_path(i as usize, &data[..n as usize]));
            }
            for m in 1..n {
                let proof = tree.consistency_proof(m, n).expect("in range");
                assert_eq!(proof, ref_proof(m as usize, &data[..n as usize]));
            }
        }

        // Every (index, size) and (old, new) pair on the full tree.
        for n in 0..=MAX {
            assert_eq!(tree.root_at(n), Ok(roots[n as usize]));
            for i in 0..n {
                let proof = tree.inclusion_proof(i, n).expect("in range");
                assert_eq!(proof, ref_path(i as usize, &data[..n as usize]));
                check_inclusion(&roots, &leaves, i, n, &proof);
            }
            for m in 0..=n {
                let proof = tree.consistency_proof(m, n).expect("in range");
                if m == 0 || m == n {
                    assert!(proof.is_empty());
                } else {
                    assert_eq!(proof, ref_proof(m as usize, &data[..n as usize]));
                }
                check_consistency(&roots, m, n, &proof);
            }
        }
    }

    #[test]
    fn range_errors() {
        let mut tree = MerkleTree::with_capacity(10);
        tree.extend((0..10u8).map(|i| leaf_hash(&[i])));
        assert_eq!(tree.size(), 10);
        assert_eq!(tree.leaf(9), Some(leaf_hash(&[9])));
        assert_eq!(tree.leaf(10), None);
        assert_eq!(tree.leaf(u64::MAX), None);
        assert_eq!(tree.root_at(11), Err(LedgerError::SizeOutOfRange));
        assert_eq!(
            tree.inclusion_proof(0, 11),
            Err(LedgerError::SizeOutOfRange)
        );
        assert_eq!(
            tree.inclusion_proof(5, 5),
            Err(LedgerError::IndexOutOfRange)
        );
        assert_eq!(
            tree.inclusion_proof(0, 0),
            Err(LedgerError::IndexOutOfRange)
        );
        assert_eq!(
            tree.consistency_proof(3, 11),
            Err(LedgerError::SizeOutOfRange)
        );
        assert_eq!(
            tree.consistency_proof(5, 4),
            Err(LedgerError::SizeOutOfRange)
        );
        assert_eq!(tree.consistency_proof(0, 0), Ok(vec![]));
        assert_eq!(
            verify_consistency(5, 4, &EMPTY, &EMPTY, &[]),
            Err(LedgerError::SizeOutOfRange)
        );
        assert_eq!(
            verify_inclusion(&EMPTY, 3, 3, &[], &EMPTY),
            Err(LedgerError::IndexOutOfRange)
        );
        assert_eq!(verify_consistency(0, 0, &EMPTY, &EMPTY, &[]), Ok(()));
        assert!(verify_consistency(0, 0, &EMPTY, &[0; 32], &[]).is_err());
        assert_eq!(format!("{tree:?}"), "MerkleTree { size: 10, .. }");
    }

    const EMPTY: Hash = crate::EMPTY_ROOT;

    #[test]
    fn larger_tree_spot_checks() {
        // Spot checks on a tree with several levels of incomplete right edge.
        let n = 5_000u64;
        let mut tree = MerkleTree::new();
        let mut frontier = Frontier::new();
        for i in 0..n {
            let leaf = leaf_hash(&i.to_le_bytes());
            tree.push(leaf);
            frontier.push(leaf);
        }
        assert_eq!(tree.root(), frontier.root());
        for (index, size) in [(0, n), (n - 1, n), (1234, 4097), (4096, 4097), (2047, 3000)] {
            let proof = tree.inclusion_proof(index, size).expect("in range");
            let root = tree.root_at(size).expect("in range");
            let leaf = tree.leaf(index).expect("present");
            assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        }
        for (old, new) in [(1, n), (4096, n), (4095, 4097), (3333, 4999), (2048, 4096)] {
            let proof = tree.consistency_proof(old, new).expect("in range");
            let (r1, r2) = (
                tree.root_at(old).expect("ok"),
                tree.root_at(new).expect("ok"),
            );
            assert_eq!(verify_consistency(old, new, &r1, &r2, &proof), Ok(()));
        }
    }
}
