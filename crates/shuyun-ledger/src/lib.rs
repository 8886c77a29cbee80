//! Tamper-evident ledger primitives for shuyun.
//!
//! This crate is pure computation (no IO, no async, no database). It provides:
//!
//! * [`sm3()`], [`leaf_hash`], [`node_hash`]: the RFC 9162 Merkle tree hashing
//!   scheme with SM3 (GM/T 0004) in place of SHA-256;
//! * [`Frontier`]: the compact right edge of a growing tree, enough to append
//!   leaves and compute the root, small enough to store in one database row;
//! * [`MerkleTree`]: the whole tree in memory, for roots at any past size and
//!   RFC 9162 inclusion and consistency proofs;
//! * [`verify_inclusion`], [`verify_consistency`]: RFC 9162 proof verification;
//! * [`Checkpoint`]: C2SP tlog-checkpoint note text;
//! * [`NoteSigner`], [`NoteVerifier`]: C2SP signed notes with SM2DSA (GM/T 0003)
//!   signatures.
//!
//! Leaves are always handled as leaf hashes: callers hash their entry with
//! [`leaf_hash`] before pushing it into a [`MerkleTree`] or [`Frontier`].

mod checkpoint;
mod error;
mod frontier;
mod hash;
mod merkle;
mod note;
mod proof;

pub use checkpoint::Checkpoint;
pub use error::LedgerError;
pub use frontier::Frontier;
pub use hash::{EMPTY_ROOT, Hash, empty_root, leaf_hash, node_hash, sm3};
pub use merkle::MerkleTree;
pub use note::{
    NoteSigner, NoteVerifier, SM2_DIST_ID, SM2_SIGNATURE_TYPE, SM2_WITH_SM3_OID_DER, Zeroizing,
};
pub use proof::{verify_consistency, verify_inclusion};

/// Largest power of two strictly smaller than `n` (the RFC 9162 split point `k`).
/// Requires `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}
