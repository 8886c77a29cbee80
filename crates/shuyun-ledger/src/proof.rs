//! RFC 9162 inclusion and consistency proof verification (§2.1.3.2, §2.1.4.2).

use crate::{EMPTY_ROOT, Hash, LedgerError, node_hash};

/// Longest possible proof: two hashes per level of a 2^64-leaf tree.
const MAX_PROOF_LEN: usize = 128;

/// Shifts `fn_` and `sn` right together until the low bit of `fn_` is set or `fn_` is 0.
fn shift_while_even(fn_: &mut u64, sn: &mut u64) {
    while *fn_ != 0 && *fn_ & 1 == 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size`
/// leaves whose root is `root`, using the RFC 9162 §2.1.3.2 algorithm.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LedgerError> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange);
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(LedgerError::BadProof);
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(LedgerError::BadProof);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            shift_while_even(&mut fn_, &mut sn);
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root {
        Ok(())
    } else {
        Err(LedgerError::BadProof)
    }
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root`, using the RFC 9162 §2.1.4.2
/// algorithm.
///
/// Edge cases the RFC leaves open (it assumes `0 < old_size < new_size`):
/// equal sizes need an empty proof and equal roots; `old_size == 0` needs an
/// empty proof and `old_root` equal to [`EMPTY_ROOT`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LedgerError> {
    if old_size > new_size {
        return Err(LedgerError::SizeOutOfRange);
    }
    let trivial_ok = match (old_size, new_size) {
        (0, 0) => Some(*old_root == EMPTY_ROOT && *new_root == EMPTY_ROOT),
        (0, _) => Some(*old_root == EMPTY_ROOT),
        (m, n) if m == n => Some(old_root == new_root),
        _ => None,
    };
    if let Some(ok) = trivial_ok {
        return if ok && proof.is_empty() {
            Ok(())
        } else {
            Err(LedgerError::BadProof)
        };
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(LedgerError::BadProof);
    }
    let mut path = proof.iter();
    // Step 2: a power-of-two old tree is itself a node of the new tree, so the
    // proof omits it and the old root is used as the starting point.
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        *path.next().ok_or(LedgerError::BadProof)?
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in path {
        if sn == 0 {
            return Err(LedgerError::BadProof);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            shift_while_even(&mut fn_, &mut sn);
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(LedgerError::BadProof)
    }
}
