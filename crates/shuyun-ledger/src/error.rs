//! Error type shared by every module of the crate.

use thiserror::Error;

/// Everything that can go wrong in the ledger primitives.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LedgerError {
    /// An inclusion or consistency proof does not verify.
    #[error("Merkle proof does not verify")]
    BadProof,
    /// A leaf index is not smaller than the tree size it refers to.
    #[error("leaf index is out of range for the tree size")]
    IndexOutOfRange,
    /// A tree size is larger than the tree, or sizes are in the wrong order.
    #[error("tree size is out of range")]
    SizeOutOfRange,
    /// Serialized frontier bytes are malformed.
    #[error("malformed frontier bytes")]
    BadFrontier,
    /// Checkpoint text violates the C2SP tlog-checkpoint format.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(String),
    /// Note text violates the C2SP signed-note format.
    #[error("malformed note: {0}")]
    BadNote(String),
    /// A key, key name or verifier key string is invalid.
    #[error("invalid key: {0}")]
    BadKey(String),
    /// A signature line from the expected key does not verify.
    #[error("note signature does not verify")]
    SignatureMismatch,
    /// The note carries no signature line with the verifier's name and key ID.
    #[error("note has no signature from the expected key")]
    NoSignatureForKey,
    /// The signing operation itself failed.
    #[error("signing failed: {0}")]
    Signing(String),
}
