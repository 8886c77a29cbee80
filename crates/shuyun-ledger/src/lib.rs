//! Tamper-evident ledger primitives (placeholder, being written).
